"""Segment ranking: pick, per image, the k segments most likely to matter for the class of interest.

Exact Shapley values cost ``2^k`` model evaluations per image, so IMACS (paper §4) first ranks the
segments of each image and keeps the top ``k`` (default 5) as the Shapley players. Ranking is
pluggable; four rankers ship with the package (:data:`RANKERS`; ``"ig"`` and ``"gradcam"`` in
:mod:`~imacs_widget.engine.ranking.gradients`):

``"loo"`` — :func:`rank_leave_one_out` (the default)
    Blur one segment at a time (everything else original) and measure the drop of the target
    score. ``S`` forward passes per image, batched across images; no gradients, so it works with
    any model, including plain NumPy callables.
``"xrai"`` — :func:`rank_xrai_guided_ig`
    The paper's method: XRAI (Kapishnikov et al., 2019) over Guided Integrated Gradients
    (Kapishnikov et al., 2021) from the ``saliency`` library, aggregated over our segments. Needs a
    differentiable model (a Keras or PyTorch model, or a callable on TensorFlow tensors).

Ranker contract
---------------
A ranker is any callable with this signature::

    ranker(adapter, images, label_maps, blurred, target: int, k: int, *,
           full_scores=None, batch_size=64, progress=None, seed=0) -> list[np.ndarray]

``adapter``
    A :class:`~imacs_widget.models.ModelAdapter` (the model callback contract:
    ``adapter.scores(batch) -> float64 [n, C]``; ``adapter.gradient_function()`` for gradients).
``images``, ``blurred``
    ``float32 [N, H, W, 3]`` pixel-scale images and their Gaussian-blurred copies
    (:func:`~imacs_widget.engine.masking.blur_images`); an excluded segment takes the blurred pixels.
``label_maps``
    Sequence of ``N`` ``int [H, W]`` segment label maps (ids ``0..S_i-1``).
``target``
    Index of the class of interest.
``k``
    Number of segments to return per image (``>= 1``).
``full_scores``
    Optional ``float [N, C]`` *ranking scores* of the unmasked images, already computed by the
    pipeline: per-class log-odds (:meth:`~imacs_widget.models.ModelAdapter.log_odds`), whatever
    score is attributed. A ranker uses them instead of recomputing them.
``batch_size``
    Masked images per model call, for rankers that batch.
``progress``
    Optional callable receiving increments of work done. Both built-in rankers count *model
    evaluations* (images through the model, forward or forward+backward); the total is given by
    :func:`progress_total`.
``seed``
    Breaks exact ties between segments (both built-in rankers), and seeds randomised rankers.

Rankings compare log-odds, not probabilities: a confident model's float32 softmax is exactly
``1.0`` whichever segment is blurred, so probability drops all tie, while log-odds still order
the segments. Remaining exact ties are broken by a permutation seeded by ``seed`` and the
image's pixels, never by segment id (which would always pick the top-left cells).

It returns, per image, an integer array of up to ``k`` distinct segment ids of that image's
label map, ordered most-important-first (fewer than ``k`` when the image has fewer segments).
A ranker that scored images with one segment blurred may return a :class:`RankedSegments`
(a list) whose ``masked_scores`` carry those scores: they are coalition values of the Shapley
game, which then does not evaluate them again (``"loo"`` does: 42 instead of 48 forward passes
per image with 16 cells and ``k=5``).
Extra options of a ranker are keyword arguments with defaults; bind them with
:func:`functools.partial` to pass a configured ranker to the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import ImacsInputError
from .common import (
    RankedSegments,
    Ranker,
    _as_adapter,
    _check_full_scores,
    _check_inputs,
    _check_target,
    _Gradients,
    _segment_scores,
    _top_k,
    ranking_scorer,
)
from .gradients import gradcam_function, rank_gradcam, rank_integrated_gradients
from .loo import rank_leave_one_out
from .xrai import AGGREGATES, BASELINES, REGIONS, rank_xrai_guided_ig, saliency_call_model_function

__all__ = ["AGGREGATES", "BASELINES", "DEFAULT_RANKER", "RANKERS", "REGIONS", "RankedSegments",
           "Ranker", "get_ranker", "gradcam_function", "progress_total", "rank_gradcam",
           "rank_integrated_gradients", "rank_leave_one_out", "rank_xrai_guided_ig",
           "ranking_scorer", "saliency_call_model_function", "_as_adapter", "_check_full_scores",
           "_check_inputs", "_check_target", "_Gradients", "_segment_scores", "_top_k"]

RANKERS: dict[str, Ranker] = {"loo": rank_leave_one_out, "xrai": rank_xrai_guided_ig,
                              "ig": rank_integrated_gradients, "gradcam": rank_gradcam}
"""Built-in rankers by name; ``"loo"`` is the default (``"ig"`` and ``"gradcam"``: see
:mod:`~imacs_widget.engine.ranking.gradients`)."""

DEFAULT_RANKER = "loo"


def get_ranker(name_or_callable: str | Ranker = DEFAULT_RANKER) -> Ranker:
    """Return a ranker from :data:`RANKERS` by name, or a callable unchanged."""
    if callable(name_or_callable):
        return name_or_callable
    if isinstance(name_or_callable, str) and name_or_callable in RANKERS:
        return RANKERS[name_or_callable]
    raise ImacsInputError("ranking", f"unknown ranker {name_or_callable!r}; choose one of "
                          f"{sorted(RANKERS)} or pass a callable following the ranker contract "
                          "(see imacs_widget.ranking)")


def progress_total(name_or_callable: str | Ranker, label_maps: Sequence[np.ndarray],
                   **options) -> int | None:
    """Total of the ``progress`` increments a built-in ranker will report (``None`` if unknown).

    ``"loo"``: one per segment of every image. ``"xrai"``: ``steps`` per image and explained
    class (``classes="top"`` counts ``n_top``, an upper bound when there are fewer classes).
    """
    r = get_ranker(name_or_callable)
    if r is rank_leave_one_out:
        return int(sum(len(np.unique(lm)) for lm in label_maps))
    if r is rank_xrai_guided_ig:
        steps = int(options.get("steps", 200))
        classes = options.get("classes", "target")
        if isinstance(classes, str):
            n_cls = int(options.get("n_top", 5)) if classes == "top" else 1
        else:
            n_cls = len(list(classes))
        return len(label_maps) * steps * n_cls
    if r is rank_integrated_gradients:
        return len(label_maps) * int(options.get("steps", 32))
    if r is rank_gradcam:
        return len(label_maps)
    return None
