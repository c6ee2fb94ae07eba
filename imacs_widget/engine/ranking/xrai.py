"""The paper's ranker: XRAI over Guided Integrated Gradients (``ranking="xrai"``), through the
``saliency`` library."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import ImacsInputError
from .common import (
    _check_full_scores,
    _check_inputs,
    _check_target,
    _Gradients,
    _segment_scores,
    _top_k,
    ranking_scorer,
)

BASELINES = ("blurred", "black")
REGIONS = ("felzenszwalb", "label_map")
AGGREGATES = ("mean", "sum")


def saliency_call_model_function(adapter, example: np.ndarray | None = None,
                                 progress: Callable[[int], None] | None = None):
    """A ``call_model_function`` for ``saliency.core`` methods, backed by ``adapter``.

    Follows the saliency library's contract ``call_model_function(x_value_batch,
    call_model_args=None, expected_keys=None) -> dict``. ``x_value_batch`` is pixel-scale
    ``[n, H, W, 3]``; ``call_model_args`` is ``{"class": c}`` or ``{"class_weights": w [C]}``
    (the explained output is ``sum_c w_c * score_c``). Supported keys: ``INPUT_OUTPUT_GRADIENTS``
    (gradients w.r.t. the input, as Guided IG / IG / XRAI need) and ``OUTPUT_LAYER_VALUES``.
    ``CONVOLUTION_*`` keys (Grad-CAM) are not supported: they need a layer handle that the
    adapter contract does not expose.

    Raises :class:`~imacs_widget.errors.ImacsInputError` if the adapter is not differentiable.
    ``example`` (``[1+, H, W, 3]``) fixes the input size; ``progress`` gets 1 per image.
    """
    from saliency.core.base import INPUT_OUTPUT_GRADIENTS, OUTPUT_LAYER_VALUES

    if example is None:
        raise ImacsInputError("example", "pass one example image batch [1, H, W, 3]")
    grads = _Gradients(adapter, np.asarray(example, np.float32))
    n_classes = grads.n_classes

    def call_model_function(x_value_batch, call_model_args=None, expected_keys=None):
        keys = list(expected_keys or [INPUT_OUTPUT_GRADIENTS])
        bad = [k for k in keys if k not in (INPUT_OUTPUT_GRADIENTS, OUTPUT_LAYER_VALUES)]
        if bad:
            raise ValueError(f"unsupported saliency keys {bad}; only INPUT_OUTPUT_GRADIENTS and "
                             "OUTPUT_LAYER_VALUES are available")
        args = call_model_args or {}
        if "class_weights" in args:
            w = np.asarray(args["class_weights"], np.float32)
        else:
            w = np.zeros(n_classes, np.float32)
            w[int(args.get("class", 0))] = 1.0
        x = np.asarray(x_value_batch, np.float32)
        g, out = grads(x, w)
        if progress is not None:
            progress(len(x))
        res = {}
        if INPUT_OUTPUT_GRADIENTS in keys:
            res[INPUT_OUTPUT_GRADIENTS] = g
        if OUTPUT_LAYER_VALUES in keys:
            res[OUTPUT_LAYER_VALUES] = out @ w.astype(np.float64)
        return res

    call_model_function.n_classes = n_classes
    call_model_function.scores0 = grads.scores0
    return call_model_function


def rank_xrai_guided_ig(adapter, images, label_maps, blurred, target: int, k: int = 5, *,
                        full_scores=None, batch_size: int = 64,
                        progress: Callable[[int], None] | None = None, seed: int = 0,
                        steps: int = 200, baseline: str = "blurred", classes="target",
                        n_top: int = 5, fraction: float = 0.25, max_dist: float = 0.02,
                        regions: str = "felzenszwalb", algorithm: str = "full",
                        aggregate: str = "mean") -> list[np.ndarray]:
    """Rank segments by XRAI over Guided IG attributions (the paper's ranking, §4).

    Per image: Guided IG (``saliency.core.GuidedIG``) attributes the class score to pixels along
    an adaptive path from the baseline to the image; XRAI (``saliency.core.XRAI`` with that map as
    ``base_attribution``) grows regions greedily by attribution density and returns a pixel map
    whose value at each pixel is the density of the XRAI region that covers it. We average that
    map over each of *our* segments (``label_maps``) and return the ``k`` segments with the
    highest values (ties by segment id).

    Parameters
    ----------
    adapter : ModelAdapter
        Must be differentiable (a Keras or PyTorch model, or a callable on TensorFlow tensors);
        gradients come from ``adapter.gradient_function()`` (``tf.GradientTape`` or autograd),
        w.r.t. pixel-scale input
        (the adapter's resize and preprocessing are inside the gradient). The explained output is
        the adapter's score (probability or logit, ``adapter.score``). A non-differentiable
        adapter raises :class:`~imacs_widget.errors.ImacsInputError` naming ``"ranking"``.
    steps : int
        Guided IG steps = gradient evaluations per image and class. The paper/library default is
        200; 25–50 give nearly the same top-k on small models at 4–8× less cost.
    baseline : {"blurred", "black"}
        Path start. ``"blurred"`` (default) is the image's Gaussian-blurred copy — the same
        exclusion the Shapley game uses, so attributions measure what blurring removes (pixels the
        blur does not change get no attribution). ``"black"`` is all-zero pixels (in pixel scale,
        before the adapter's preprocessing), the usual IG baseline.
    classes : "target", "top" or sequence of int
        Which class scores are explained. ``"target"`` (default): the class of interest.
        ``"top"``: as in the paper, the ``n_top`` highest-scoring classes of each image (from
        ``full_scores``, computed if not given); one Guided IG run per class (cost × ``n_top``)
        and the per-class attribution maps are *summed* before XRAI. A sequence of class indices
        explains those classes the same way. With ``score="probability"`` attributions of
        competing classes partly cancel in the sum; prefer logits for ``"top"``.
    n_top : int
        Number of top classes for ``classes="top"``.
    fraction, max_dist : float
        Guided IG parameters (library defaults 0.25 and 0.02).
    regions : {"felzenszwalb", "label_map"}
        Regions XRAI grows: its own multi-scale Felzenszwalb segmentation (default, as in the
        paper), or our segments (then XRAI's greedy order equals sorting our segments by mean
        attribution). XRAI's minimum region gain ``min_pixel_diff`` (50 pixels at 224×224) is
        scaled to the image area, and is 1 for ``"label_map"``.
    algorithm : {"full", "fast"}
        XRAI variant (``"fast"`` ignores region overlaps).
    aggregate : {"mean", "sum"}
        How the XRAI map is reduced over each segment. ``"mean"`` (default): the map is already
        a *density* (mean attribution per pixel of the covering region), so the segment mean is an
        area-weighted average density, comparable across segments of different sizes (SLIC) and
        consistent with XRAI's own density criterion. ``"sum"`` favours large segments; on a grid
        (equal cells up to one pixel) both give the same order.

    Other parameters follow the ranker contract (module docstring). ``batch_size`` only batches
    the ``full_scores`` pass for ``classes="top"`` (Guided IG's path is sequential, one gradient
    per step). ``progress`` gets 1 per gradient evaluation; ``adapter.n_evals`` also counts them.
    ``seed`` only breaks exact ties between segment scores.

    Cost per image: ``steps × n_classes`` gradient evaluations (each ≈ 2–3 forward passes) plus
    the XRAI region search (CPU, independent of the model).
    """
    images, label_maps, blurred, k = _check_inputs(images, label_maps, blurred, k)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ImacsInputError("steps", f"must be a positive integer, got {steps!r}")
    if baseline not in BASELINES:
        raise ImacsInputError("baseline", f"must be one of {BASELINES}, got {baseline!r}")
    if regions not in REGIONS:
        raise ImacsInputError("regions", f"must be one of {REGIONS}, got {regions!r}")
    if algorithm not in ("full", "fast"):
        raise ImacsInputError("algorithm", f"must be 'full' or 'fast', got {algorithm!r}")
    if aggregate not in AGGREGATES:
        raise ImacsInputError("aggregate", f"must be one of {AGGREGATES}, got {aggregate!r}")
    if not 0.0 < float(fraction) <= 1.0:
        raise ImacsInputError("fraction", f"must be in (0, 1], got {fraction!r}")
    if not 0.0 <= float(max_dist) <= 1.0:
        raise ImacsInputError("max_dist", f"must be in [0, 1], got {max_dist!r}")

    import saliency.core as sc

    from ..saliency_compat import ensure_guided_ig_compat

    ensure_guided_ig_compat()
    n, h, w = images.shape[:3]
    cmf = saliency_call_model_function(adapter, images[:1], progress)  # raises if not differentiable
    n_classes = cmf.n_classes
    target = _check_target(target, n_classes)

    if isinstance(classes, str) and classes == "target":
        class_lists = [[target]] * n
    elif isinstance(classes, str) and classes == "top":
        if isinstance(n_top, bool) or not isinstance(n_top, (int, np.integer)) or n_top < 1:
            raise ImacsInputError("n_top", f"must be a positive integer, got {n_top!r}")
        if full_scores is None:
            score_fn = ranking_scorer(adapter)
            full_scores = np.concatenate([score_fn(images[s:s + int(batch_size)])
                                          for s in range(0, n, int(batch_size))])
        full_scores = _check_full_scores(full_scores, n)
        top = np.argsort(-full_scores, axis=1, kind="stable")[:, :min(int(n_top), n_classes)]
        class_lists = [list(map(int, row)) for row in top]
    elif isinstance(classes, str):
        raise ImacsInputError("classes", f"must be 'target', 'top' or class indices, got {classes!r}")
    else:
        cl = [int(_check_target(c, n_classes)) for c in classes]
        if not cl:
            raise ImacsInputError("classes", "is empty")
        class_lists = [cl] * n

    gig = sc.GuidedIG()
    xrai = sc.XRAI()
    params = sc.XRAIParameters(algorithm=algorithm)
    params.experimental_params["min_pixel_diff"] = (
        1 if regions == "label_map" else max(1, round(50 * h * w / 224 ** 2)))

    out = []
    for i in range(n):
        x = images[i].astype(np.float64)
        base = blurred[i].astype(np.float64) if baseline == "blurred" else np.zeros_like(x)
        attr = np.zeros_like(x)
        for c in class_lists[i]:
            if np.array_equal(x, base):  # Guided IG returns zeros without any gradient call
                if progress is not None:
                    progress(int(steps))
                continue
            attr += gig.GetMask(x, cmf, call_model_args={"class": c}, x_baseline=base,
                                x_steps=int(steps), fraction=float(fraction),
                                max_dist=float(max_dist))
        lm = label_maps[i]
        ids = np.unique(lm)
        segs = [lm == s for s in ids] if regions == "label_map" else None
        xmap = np.asarray(xrai.GetMask(x, cmf, base_attribution=attr, segments=segs,
                                       extra_parameters=params), dtype=np.float64)
        xmap = np.where(np.isfinite(xmap), xmap, 0.0).reshape(h, w)
        out.append(_top_k(_segment_scores(xmap, lm, ids, aggregate), ids, k, images[i], seed))
    return out
