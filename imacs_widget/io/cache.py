"""On-disk cache of per-image attribution work, so an interrupted run resumes.

One entry per (model fingerprint, image content, segmentation, parameters): the ranked segment
ids and their Shapley values for every class. Entries are written atomically (temporary file in
the same folder, fsync, ``os.replace``), so a run killed mid-write never leaves a half entry that
could be read. An entry is checked when it is read, against what its key was computed from: the
image's segmentation (segment ids in range, ``min(k, segments)`` of them, each once), the
parameters (``k``, the class of interest) and its own arrays (finite values, one row per segment,
a game of ``2^n`` coalitions). An entry that can't be read or does not fit is recomputed (and
rewritten), with one :class:`~imacs_widget.errors.ImacsWarning` per cache naming the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import ImacsWarning


class AttributionCache:
    """A folder of ``.npz`` entries keyed by content hashes.

    Parameters
    ----------
    path : str or os.PathLike
        Folder (created if missing).
    """

    MAX_EXPECTED = 100_000
    """Most keys whose settings are remembered until their :meth:`get`."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.repaired = 0
        """Entries found unreadable or not fitting their key, recomputed."""
        self._expect: dict[str, dict] = {}

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_expect"} | {"_expect": {}}

    def key(self, model_fp: str, image: np.ndarray, label_map: np.ndarray, params: str) -> str:
        """Hash of the model fingerprint, the image pixels, its segmentation and the parameters.

        What :meth:`get` checks the entry against is remembered with the key: the segmentation's
        number of segments and, when ``params`` is the JSON of
        :meth:`~imacs_widget.engine.settings.Settings.attribution_key`, ``k`` and the class of
        interest.
        """
        lm = np.ascontiguousarray(label_map, dtype=np.int32)
        h = hashlib.sha256()
        h.update(model_fp.encode())
        h.update(np.ascontiguousarray(image).tobytes())
        h.update(str(image.shape).encode())
        h.update(lm.tobytes())
        h.update(params.encode())
        digest = h.hexdigest()[:32]
        expect = {"n_segments": int(lm.max()) + 1 if lm.size else 0}
        try:
            p = json.loads(params)
        except ValueError:
            p = None
        if isinstance(p, dict):
            for name in ("k", "target"):
                if isinstance(p.get(name), int) and not isinstance(p.get(name), bool):
                    expect[name] = p[name]
        self._expect[digest] = expect
        while len(self._expect) > self.MAX_EXPECTED:  # keys never looked up
            self._expect.pop(next(iter(self._expect)))
        return digest

    def get(self, key: str, *, k: int | None = None, n_segments: int | None = None,
            target: int | None = None) -> dict | None:
        """The stored arrays for ``key``, or ``None`` when missing, unreadable or not fitting.

        Parameters
        ----------
        key : str
            A key from :meth:`key`.
        k, n_segments, target : int, optional
            What the entry must fit (default: what :meth:`key` was given for ``key``; the first
            :meth:`get` after :meth:`key` uses them).

        Returns
        -------
        dict or None
            ``segments``, ``values`` (and ``game``) of the entry; ``None`` when it has to be
            computed (a damaged or mismatched entry also warns, once per cache).
        """
        expect = self._expect.pop(key, {})
        for name, v in (("k", k), ("n_segments", n_segments), ("target", target)):
            if v is not None:
                expect[name] = int(v)
        f = self.path / f"{key}.npz"
        if not f.exists():
            self.misses += 1
            return None
        try:
            with np.load(f, allow_pickle=False) as z:
                out = {name: z[name] for name in z.files}
        except Exception as exc:  # truncated / not a .npz: recomputed and rewritten
            return self._repair(f, f"unreadable ({type(exc).__name__})")
        why = entry_problem(out, **expect)
        if why is not None:
            return self._repair(f, why)
        self.hits += 1
        return out

    def _repair(self, f: Path, why: str) -> None:
        self.misses += 1
        self.repaired += 1
        if self.repaired == 1:
            warnings.warn(f"attribution cache {self.path}: entry {f.name} is {why}; recomputing "
                          "it (further damaged entries of this cache are recomputed without "
                          "another warning)", ImacsWarning, stacklevel=3)
        return None

    def put(self, key: str, **arrays: np.ndarray) -> None:
        """Store ``arrays`` under ``key`` atomically."""
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / f"{key}.npz")
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def entry_problem(entry: dict, k: int | None = None, n_segments: int | None = None,
                  target: int | None = None) -> str | None:
    """What is wrong with a cache entry, or ``None`` when it fits.

    Parameters
    ----------
    entry : dict
        ``segments`` (ranked ids), ``values`` (``[n, C]`` Shapley values), optionally ``game``
        (``[2^n]`` or ``[2^n, C]``).
    k, n_segments, target : int, optional
        The key's settings: the entry must have ``min(k, n_segments)`` segments, ids below
        ``n_segments``, and values for class ``target``.

    Returns
    -------
    str or None
    """
    seg, vals = entry.get("segments"), entry.get("values")
    if seg is None or vals is None:
        return "missing its segments or values"
    seg, vals = np.asarray(seg), np.asarray(vals)
    if seg.ndim != 1 or seg.dtype.kind not in "iu":
        return f"holding segment ids of shape {seg.shape} ({seg.dtype})"
    n = len(seg)
    if vals.ndim != 2 or len(vals) != n or vals.dtype.kind != "f":
        return f"holding values of shape {vals.shape} for {n} segments"
    if n and (seg.min() < 0 or len(np.unique(seg)) != n):
        return "holding negative or repeated segment ids"
    if n_segments is not None and n and seg.max() >= n_segments:
        return f"holding segment id {int(seg.max())} of an image with {n_segments} segments"
    if k is not None and n_segments is not None and n != min(k, n_segments):
        return f"holding {n} segments where k={k} needs {min(k, n_segments)}"
    if target is not None and not 0 <= target < vals.shape[1]:
        return f"holding values for {vals.shape[1]} classes (class {target} needed)"
    if not np.isfinite(vals).all():
        return "holding NaN or infinite values"
    game = entry.get("game")
    if game is not None:
        game = np.asarray(game)
        if game.ndim not in (1, 2) or len(game) != 1 << n or game.dtype.kind != "f" or (
                game.ndim == 2 and game.shape[1] != vals.shape[1]):
            return f"holding a game of shape {game.shape} for {n} segments"
        if not np.isfinite(game).all():
            return "holding a game with NaN or infinite values"
    return None
