"""On-disk cache of per-image attribution work, so an interrupted run resumes.

One entry per (model fingerprint, image content, segmentation, parameters): the ranked segment
ids and their Shapley values for every class. Entries are written atomically (temporary file in
the same folder, fsync, ``os.replace``), so a run killed mid-write never leaves a half entry that
could be read; unreadable entries are treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np


class AttributionCache:
    """A folder of ``.npz`` entries keyed by content hashes.

    Parameters
    ----------
    path : str or os.PathLike
        Folder (created if missing).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model_fp: str, image: np.ndarray, label_map: np.ndarray, params: str) -> str:
        """Hash of the model fingerprint, the image pixels, its segmentation and the parameters."""
        h = hashlib.sha256()
        h.update(model_fp.encode())
        h.update(np.ascontiguousarray(image).tobytes())
        h.update(str(image.shape).encode())
        h.update(np.ascontiguousarray(label_map, dtype=np.int32).tobytes())
        h.update(params.encode())
        return h.hexdigest()[:32]

    def get(self, key: str) -> dict | None:
        """The stored arrays for ``key``, or ``None`` when missing or unreadable."""
        f = self.path / f"{key}.npz"
        if not f.exists():
            self.misses += 1
            return None
        try:
            with np.load(f, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
            self.hits += 1
            return out
        except Exception:
            self.misses += 1
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
