"""Shared pieces of the rankers: input checks, the seeded top-k, per-segment sums, gradients."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from ...errors import ImacsInputError
from ...models.adapter import ModelAdapter

Ranker = Callable[..., list]
"""A ranker: see the ranker contract in :mod:`imacs_widget.engine.ranking`."""


def _check_inputs(images, label_maps, blurred, k):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ImacsInputError("images", f"expected [N, H, W, 3], got shape {images.shape}")
    blurred = np.asarray(blurred, dtype=np.float32)
    if blurred.shape != images.shape:
        raise ImacsInputError("blurred", f"shape {blurred.shape} differs from images "
                              f"{images.shape}")
    label_maps = list(label_maps)
    if len(label_maps) != len(images):
        raise ImacsInputError("label_maps", f"has {len(label_maps)} maps for {len(images)} images")
    h, w = images.shape[1:3]
    for i, lm in enumerate(label_maps):
        lm = np.asarray(lm)
        if lm.shape != (h, w) or lm.dtype.kind not in "iu":
            raise ImacsInputError("label_maps", f"map {i} must be an integer array of shape "
                                  f"{(h, w)}, got {lm.dtype} {lm.shape}")
        if lm.size and lm.min() < 0:
            raise ImacsInputError("label_maps", f"map {i} has negative segment ids")
        label_maps[i] = lm
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ImacsInputError("k", f"must be a positive integer, got {k!r}")
    return images, label_maps, blurred, int(k)


def _check_full_scores(full_scores, n):
    fs = np.asarray(full_scores, dtype=np.float64)
    if fs.ndim != 2 or fs.shape[0] != n:
        raise ImacsInputError("full_scores", f"expected [{n}, n_classes], got shape {fs.shape}")
    return fs


def _check_target(target, n_classes):
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise ImacsInputError("target", f"expected a class index (int), got {type(target).__name__}")
    if not 0 <= int(target) < n_classes:
        raise ImacsInputError("target", f"class index {target} is outside 0..{n_classes - 1}")
    return int(target)


def _top_k(importance: np.ndarray, ids: np.ndarray, k: int, image: np.ndarray | None = None,
           seed: int = 0) -> np.ndarray:
    """Ids sorted by importance (descending); the first ``k``.

    Exact ties are broken by a permutation drawn from ``seed`` and a hash of ``image`` (so the
    same image gets the same order in any batch, chunk or process); without ``image``, by id.
    """
    ids = np.asarray(ids)
    if image is None:
        tie = ids
    else:
        digest = zlib.crc32(np.ascontiguousarray(image).tobytes())
        tie = np.random.default_rng([int(seed) & 0xFFFFFFFF, digest]).permutation(len(ids))
    order = np.lexsort((tie, -np.asarray(importance, dtype=np.float64)))
    return ids[order[:k]].astype(np.int64)


def _as_adapter(adapter) -> ModelAdapter:
    """A bare callable wrapped in a :class:`~imacs_widget.models.ModelAdapter` (outputs
    auto-detected); an adapter as it is."""
    if not isinstance(adapter, ModelAdapter):
        adapter = ModelAdapter(adapter, name=getattr(adapter, "__name__", "model"))
    return adapter


def ranking_scorer(adapter) -> Callable[[np.ndarray], np.ndarray]:
    """The function rankings compare: ``adapter.log_odds`` (see :func:`_as_adapter`)."""
    return _as_adapter(adapter).log_odds


class RankedSegments(list):
    """Per image, the ranked segment ids (a list, as the ranker contract says), plus
    ``masked_scores``: per image, ``{segment id: [C] attributed scores of the image with that
    segment alone blurred}`` for the ranked segments, or ``None``."""

    masked_scores: list | None = None


def _segment_scores(attr_map: np.ndarray, label_map: np.ndarray, ids: np.ndarray,
                    aggregate: str) -> np.ndarray:
    flat = label_map.ravel()
    n = int(flat.max()) + 1
    sums = np.bincount(flat, weights=attr_map.ravel().astype(np.float64), minlength=n)
    if aggregate == "sum":
        return sums[ids]
    counts = np.bincount(flat, minlength=n)
    return sums[ids] / np.maximum(counts[ids], 1)


def _not_differentiable(adapter, why: str) -> ImacsInputError:
    name = getattr(adapter, "name", type(adapter).__name__)
    return ImacsInputError(
        "ranking", f"ranking='xrai' needs gradients, but model {name!r} is not differentiable "
        f"({why}). Pass a Keras or PyTorch model (or a callable mapping TensorFlow tensors to "
        "tensors, with a tensor-compatible preprocess), or use ranking='loo', which needs no "
        "gradients.")


class _Gradients:
    """Gradients of a class-weighted sum of the adapter's scores w.r.t. pixel-scale inputs
    (:meth:`~imacs_widget.models.ModelAdapter.gradient_function`: TensorFlow for Keras models
    and TensorFlow callables, autograd for PyTorch modules)."""

    def __init__(self, adapter, example: np.ndarray):
        from ...models.contract import NotDifferentiable

        if not isinstance(adapter, ModelAdapter):
            raise _not_differentiable(adapter, "it is not a ModelAdapter")
        try:
            self._call, self.n_classes, self.scores0 = adapter.gradient_function(
                np.asarray(example, np.float32))
        except NotDifferentiable as exc:
            raise _not_differentiable(adapter, str(exc)) from exc
        self.adapter = adapter

    def __call__(self, x: np.ndarray, weights: np.ndarray):
        return self._call(x, weights)
