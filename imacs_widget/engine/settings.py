"""A run's settings: one frozen object that validates ``compare()``'s options once.

:class:`RunSettings` holds every option that shapes a comparison (sampling, segmentation,
ranking, blur, score, clustering, seed, batching). It validates them when it is built (each error
names the argument), and it is the one place that produces

* the **cache key** of the per-image attribution work (:meth:`RunSettings.attribution_key`:
  only the options that change ranked segments or their Shapley values), and
* the **params** stored with a result (:meth:`RunSettings.params`).

Callables (a custom ranker) are keyed by what they are, not by ``repr`` (which holds a memory
address): see :func:`callable_fingerprint`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..errors import ImacsInputError
from ..models.adapter import SCORES, qualified_name

SAMPLING = ("balanced", "all", "disagreements", "outcome")
SEGMENTATIONS = ("grid", "slic")
OUTCOMES = ("TP", "TN", "FP", "FN")
MAX_K = 16
"""Exact Shapley over ``k`` players costs ``2**k`` masked images per image."""


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``low..high`` (inclusive), else an error naming ``name``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            want = f"an integer in {low}..{high}"
        elif low == 1:
            want = "a positive integer"
        elif low is not None:
            want = f"an integer >= {low}"
        else:
            want = "an integer"
        raise ImacsInputError(name, f"must be {want}, got {value!r}")
    return int(value)


def callable_fingerprint(fn: Callable) -> str:
    """A stable identity of a callable: what it is, not where it lives in memory.

    A ``fingerprint`` string attribute wins. Otherwise: the qualified name, the function's
    bytecode, constants and defaults (so editing the function changes the key), and for a
    :func:`functools.partial` its bound arguments.
    """
    fp = getattr(fn, "fingerprint", None)
    if isinstance(fp, str):
        return fp
    h = hashlib.sha256(qualified_name(fn).encode())
    if isinstance(fn, functools.partial):
        h.update(callable_fingerprint(fn.func).encode())
        h.update(repr(fn.args).encode())
        h.update(repr(sorted(fn.keywords.items())).encode())
        return h.hexdigest()[:16]
    target = fn if hasattr(fn, "__code__") else type(fn).__call__
    code = getattr(target, "__code__", None)
    if code is not None:
        h.update(code.co_code)
        h.update(repr(code.co_consts).encode())
        h.update(repr(getattr(target, "__defaults__", None)).encode())
        h.update(repr(getattr(target, "__kwdefaults__", None)).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class RunSettings:
    """Validated options of one comparison (see :func:`~imacs_widget.compare` for each).

    Build it with keyword arguments; an invalid value raises
    :class:`~imacs_widget.errors.ImacsInputError` naming the argument. ``ranking`` may be a
    built-in name (``"loo"``, ``"xrai"``) or a ranker callable.
    """

    sampling: str = "balanced"
    n_per_model: int = 100
    outcome: str | None = None
    min_confidence: float = 0.0
    segmentation: str = "grid"
    grid: tuple[int, int] = (4, 4)
    n_segments: int = 16
    k: int = 5
    ranking: Any = "loo"
    blur_sigma: float | None = None
    baseline: Any = "blur"
    score: str = "probability"
    n_clusters: int = 8
    seed: int = 0
    batch_size: int = 64
    _ranker: Callable = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        from .ranking import get_ranker

        def put(name, value):
            object.__setattr__(self, name, value)

        if self.sampling not in SAMPLING:
            raise ImacsInputError("sampling", f"unknown strategy {self.sampling!r}; choose one of "
                                  f"{SAMPLING}")
        put("n_per_model", check_int(self.n_per_model, "n_per_model", 1))
        if self.sampling == "outcome" and self.outcome not in OUTCOMES:
            raise ImacsInputError("outcome", f"must be one of {OUTCOMES} with sampling='outcome', "
                                  f"got {self.outcome!r}")
        try:
            put("min_confidence", float(self.min_confidence))
        except (TypeError, ValueError):
            raise ImacsInputError("min_confidence", f"must be a number, got "
                                  f"{self.min_confidence!r}") from None
        if self.segmentation not in SEGMENTATIONS:
            raise ImacsInputError("segmentation", f"unknown method {self.segmentation!r}; choose "
                                  "'grid' or 'slic'")
        try:
            rows, cols = self.grid
        except (TypeError, ValueError):
            raise ImacsInputError("grid", f"must be (rows, cols), got {self.grid!r}") from None
        put("grid", (check_int(rows, "grid", 1), check_int(cols, "grid", 1)))
        put("n_segments", check_int(self.n_segments, "n_segments", 1))
        put("k", check_int(self.k, "k", 1, MAX_K))
        put("_ranker", get_ranker(self.ranking))
        if self.blur_sigma is not None:
            try:
                sigma = float(self.blur_sigma)
            except (TypeError, ValueError):
                sigma = -1.0
            if not sigma > 0:
                raise ImacsInputError("blur_sigma", f"must be a positive number of pixels, got "
                                      f"{self.blur_sigma!r}")
            put("blur_sigma", sigma)
        from .masking import baseline_images

        if not callable(self.baseline):  # a callable is checked on the run's images
            baseline_images(np.zeros((1, 2, 2, 3), np.float32), self.baseline, 1.0)
        if self.score not in SCORES:
            raise ImacsInputError("score", f"must be 'probability' or 'logit', got {self.score!r}")
        put("n_clusters", check_int(self.n_clusters, "n_clusters", 1))
        put("seed", check_int(self.seed, "seed"))
        put("batch_size", check_int(self.batch_size, "batch_size", 1))

    # -- derived -------------------------------------------------------------------------------
    @property
    def ranker(self) -> Callable:
        """The ranker callable (:func:`~imacs_widget.engine.ranking.get_ranker`)."""
        return self._ranker

    @property
    def ranking_name(self) -> str:
        """``"loo"`` / ``"xrai"``, or a custom ranker's ``ranker_name`` / qualified name."""
        if isinstance(self.ranking, str):
            return self.ranking
        return str(getattr(self.ranking, "ranker_name", None) or qualified_name(self.ranking))

    @property
    def segmentation_options(self) -> dict:
        """Keyword arguments of :func:`~imacs_widget.engine.segmentation.segment_images`."""
        return {"method": self.segmentation, "grid": self.grid, "n_segments": self.n_segments}

    def max_segments_per_image(self) -> int | None:
        """Upper bound of the segments one image contributes (``None`` for SLIC: unknown)."""
        if self.segmentation == "grid":
            return min(self.k, self.grid[0] * self.grid[1])
        return None

    def sigma(self, height: int, width: int) -> float:
        """The blur sigma in pixels: ``blur_sigma``, or the default for this image size."""
        from .masking import default_sigma

        return float(self.blur_sigma) if self.blur_sigma is not None else default_sigma(height, width)

    # -- keys and records --------------------------------------------------------------------------
    def attribution_key(self, target: int, sigma: float) -> str:
        """Cache key part of everything that changes one image's ranked segments and values.

        The ranker (built-in name, or :func:`callable_fingerprint` of a callable), ``k``, the
        blur, the class of interest, the attributed score, the segmentation and the seed (it
        breaks ranking ties). Sampling, clustering and batching do not change a cached image.
        """
        rk = self.ranking if isinstance(self.ranking, str) else callable_fingerprint(self.ranking)
        from .masking import baseline_name

        parts = {"ranking": rk, "k": self.k, "sigma": round(float(sigma), 9), "target": int(target),
                 "score": self.score, "segmentation": self.segmentation,
                 "grid": list(self.grid) if self.segmentation == "grid" else None,
                 "n_segments": self.n_segments if self.segmentation == "slic" else None,
                 "seed": self.seed}
        if not (isinstance(self.baseline, str) and self.baseline == "blur"):  # blur: keys as before
            parts["baseline"] = baseline_name(self.baseline)
        return json.dumps(parts, sort_keys=True)

    def params(self, **extra) -> dict:
        """The JSON-ready record stored as ``result.params`` (plus ``extra`` entries)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        d["grid"] = list(self.grid)
        d["ranking"] = self.ranking_name
        from .masking import baseline_name

        d["baseline"] = baseline_name(self.baseline)
        d.pop("batch_size")
        d.update(extra)
        return d
