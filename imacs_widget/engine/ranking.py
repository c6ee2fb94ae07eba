"""Segment ranking: pick, per image, the k segments most likely to matter for the class of interest.

Exact Shapley values cost ``2^k`` model evaluations per image, so IMACS (paper §4) first ranks the
segments of each image and keeps the top ``k`` (default 5) as the Shapley players. Ranking is
pluggable; four rankers ship with the package (:data:`RANKERS`; ``"ig"`` and ``"gradcam"`` in
:mod:`~imacs_widget.engine.gradient_rankers`):

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
    (:func:`~imacs_widget.masking.blur_images`); an excluded segment takes the blurred pixels.
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

import zlib
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import ImacsInputError
from ..models.adapter import ModelAdapter
from .masking import evaluate_masked, leave_one_out_jobs

Ranker = Callable[..., list]

# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# leave-one-out (default)
# ---------------------------------------------------------------------------------------------


def rank_leave_one_out(adapter, images, label_maps, blurred, target: int, k: int = 5, *,
                       full_scores=None, batch_size: int = 64,
                       progress: Callable[[int], None] | None = None, seed: int = 0
                       ) -> list[np.ndarray]:
    """Rank segments by the drop of the target's log-odds when each one alone is blurred.

    ``importance(s) = L(image)[target] - L(image with segment s blurred)[target]`` with ``L``
    the per-class log-odds (:meth:`~imacs_widget.models.ModelAdapter.log_odds`, exact from
    logits, stable from saturated probabilities); the ``k`` segments with the largest importance
    are returned, exact ties broken by a permutation seeded by ``seed`` and the image. A segment
    whose blurring *raises* the target score gets a negative importance and ranks last.

    Cost: one forward pass per segment (``sum_i S_i`` in total), plus ``N`` when ``full_scores``
    is not given. Returns a :class:`RankedSegments` whose ``masked_scores`` keep the attributed
    scores of the ranked segments' masked images (Shapley coalition values, reused). Masked
    images are composed on the fly by the model's adapter (on its device where it can) and
    batched *across* images (:func:`~imacs_widget.engine.masking.evaluate_masked`), so only
    ``batch_size`` of them exist at once.
    ``progress`` receives the number of masked images scored after each batch; ``seed`` is
    only breaks exact ties. See the module docstring for the ranker contract.
    """
    images, label_maps, blurred, k = _check_inputs(images, label_maps, blurred, k)
    adapter = _as_adapter(adapter)
    if full_scores is None:
        full_scores = adapter.log_odds(images)
    full_scores = _check_full_scores(full_scores, len(images))
    target = _check_target(target, full_scores.shape[1])
    jobs, seg_ids = leave_one_out_jobs(label_maps)
    raw = evaluate_masked(adapter, images, blurred, label_maps, jobs, int(batch_size), progress)
    log_odds, scores = adapter.convert(raw, "log_odds"), adapter.convert(raw)
    out, masked, pos = RankedSegments(), [], 0
    for i, ids in enumerate(seg_ids):
        drop = full_scores[i, target] - log_odds[pos:pos + len(ids), target]
        top = _top_k(drop, ids, k, images[i], seed)
        row = {int(s): j for j, s in enumerate(ids)}
        masked.append({int(s): scores[pos + row[int(s)]] for s in top})
        pos += len(ids)
        out.append(top)
    out.masked_scores = masked
    return out


# ---------------------------------------------------------------------------------------------
# XRAI + Guided IG (the paper's ranking)
# ---------------------------------------------------------------------------------------------

BASELINES = ("blurred", "black")
REGIONS = ("felzenszwalb", "label_map")
AGGREGATES = ("mean", "sum")


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
        from ..models.backends import NotDifferentiable

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


def _segment_scores(attr_map: np.ndarray, label_map: np.ndarray, ids: np.ndarray,
                    aggregate: str) -> np.ndarray:
    flat = label_map.ravel()
    n = int(flat.max()) + 1
    sums = np.bincount(flat, weights=attr_map.ravel().astype(np.float64), minlength=n)
    if aggregate == "sum":
        return sums[ids]
    counts = np.bincount(flat, minlength=n)
    return sums[ids] / np.maximum(counts[ids], 1)


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

    from .saliency_compat import ensure_guided_ig_compat

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


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------

from .gradient_rankers import rank_gradcam, rank_integrated_gradients  # noqa: E402

RANKERS: dict[str, Ranker] = {"loo": rank_leave_one_out, "xrai": rank_xrai_guided_ig,
                              "ig": rank_integrated_gradients, "gradcam": rank_gradcam}
"""Built-in rankers by name; ``"loo"`` is the default (``"ig"`` and ``"gradcam"``: see
:mod:`~imacs_widget.engine.gradient_rankers`)."""

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
