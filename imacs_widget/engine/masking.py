"""Exclusion of segments and streamed, batched evaluation of masked images.

An excluded segment takes the Gaussian-blurred pixels of its image (paper §4), or another
baseline (:func:`baseline_images`: the image's mean colour, a constant colour, a callable): the
baseline is computed once per image and masked images are composed on the fly, a batch at a
time, so memory stays bounded however many masked variants are evaluated. (Arguments are named
``blurred`` throughout the engine: they hold whichever baseline the run uses.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..models.masked import MaskedJobs


def default_sigma(height: int, width: int) -> float:
    """Default blur sigma in pixels: 1/16 of the shorter side, at least 2."""
    return max(2.0, min(height, width) / 16.0)


def blur_images(images: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Gaussian-blur each ``[H, W, 3]`` image spatially (channels are not mixed)."""
    from scipy.ndimage import gaussian_filter

    images = np.asarray(images, dtype=np.float32)
    if sigma is None:
        sigma = default_sigma(*images.shape[1:3])
    return gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="reflect").astype(np.float32)


BASELINES = ("blur", "mean")
"""Named exclusion baselines: ``"blur"`` (the paper's, default), ``"mean"`` (each image's mean
colour). A colour (one number or three, in the images' pixel scale) or a callable work too."""


def baseline_images(images: np.ndarray, baseline="blur", sigma: float | None = None,
                    blur: Callable[[np.ndarray, float], np.ndarray] | None = None) -> np.ndarray:
    """What an excluded segment shows: ``float32 [N, H, W, 3]``, one per image.

    Parameters
    ----------
    images : numpy.ndarray
        ``[N, H, W, 3]`` pixel-scale images.
    baseline : str, number, sequence of 3 numbers or callable
        ``"blur"`` (Gaussian blur of ``sigma`` pixels), ``"mean"`` (the image's mean colour),
        a constant colour in the images' pixel scale (``0`` = black for 0–255 images,
        ``(124, 116, 104)`` = the ImageNet mean), or ``fn(images) -> [N, H, W, 3]``.
    sigma : float, optional
        Blur sigma (``"blur"`` only; default :func:`default_sigma`).
    blur : callable, optional
        ``blur(images, sigma)``: the same Gaussian filter run elsewhere (a PyTorch model's
        device: ``backend.device_blur()``); default SciPy's.
    """
    from ..errors import ImacsInputError

    images = np.asarray(images, dtype=np.float32)
    if isinstance(baseline, str):
        if baseline == "blur":
            if blur is not None:
                return np.asarray(blur(images, sigma if sigma is not None
                                       else default_sigma(*images.shape[1:3])), np.float32)
            return blur_images(images, sigma)
        if baseline == "mean":
            return np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape).copy()
        raise ImacsInputError("baseline", f"unknown baseline {baseline!r}; choose one of "
                              f"{BASELINES}, a colour or a callable")
    if callable(baseline):
        out = np.asarray(baseline(images.copy()), dtype=np.float32)
        if out.shape != images.shape:
            raise ImacsInputError("baseline", f"the callable returned shape {out.shape} for "
                                  f"images of shape {images.shape}; it must keep the shape")
        if not np.isfinite(out).all():
            raise ImacsInputError("baseline", "the callable returned NaN or inf pixels")
        return out
    colour = np.asarray(baseline, dtype=np.float64).ravel()
    if colour.size not in (1, 3) or not np.isfinite(colour).all():
        raise ImacsInputError("baseline", f"a colour is one number or three (R, G, B) in the "
                              f"images' pixel scale, got {baseline!r}")
    return np.broadcast_to(colour.astype(np.float32), images.shape).copy()


def baseline_name(baseline) -> str:
    """A stable, JSON-ready description of a baseline (for params and cache keys)."""
    if isinstance(baseline, str):
        return baseline
    if callable(baseline):
        from .values import callable_fingerprint

        return "callable:" + callable_fingerprint(baseline)
    return "colour:" + ",".join(f"{float(v):g}" for v in np.asarray(baseline, float).ravel())


def compose(image: np.ndarray, blurred: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Pixels of ``image`` where ``keep`` (``bool [H, W]``) is true, of ``blurred`` elsewhere."""
    return np.where(keep[..., None], image, blurred)


def n_segments(label_maps: Sequence[np.ndarray]) -> int:
    """Columns a :class:`~imacs_widget.models.masked.MaskedJobs` needs: the largest id + 1."""
    return max((int(np.max(lm)) + 1 for lm in label_maps if np.size(lm)), default=1)


def leave_one_out_jobs(label_maps: Sequence[np.ndarray]) -> tuple[MaskedJobs, list[np.ndarray]]:
    """One job per segment of every image, that segment alone excluded; and each image's
    segment ids (the jobs' order)."""
    seg_ids = [np.unique(lm) for lm in label_maps]
    n = sum(len(ids) for ids in seg_ids)
    image = np.repeat(np.arange(len(seg_ids)), [len(ids) for ids in seg_ids])
    excluded = np.zeros((n, n_segments(label_maps)), bool)
    excluded[np.arange(n), np.concatenate(seg_ids) if n else np.zeros(0, int)] = True
    return MaskedJobs(image, excluded), seg_ids


def scoring_adapter(model) -> tuple:
    """``(adapter, kind)`` to score masked images with: a
    :class:`~imacs_widget.models.ModelAdapter` converts its raw outputs to its attributed score
    (``kind=None``); a plain callable ``float32 [n, H, W, 3] -> [n, C]`` is wrapped so that its
    outputs are used as they are (``kind="raw"``)."""
    from ..models.adapter import ModelAdapter

    if isinstance(model, ModelAdapter):
        return model, None
    if hasattr(model, "__self__") and isinstance(model.__self__, ModelAdapter) \
            and getattr(model, "__name__", "") in ("scores", "raw", "log_odds"):
        kind = {"scores": None, "raw": "raw", "log_odds": "log_odds"}[model.__name__]
        return model.__self__, kind
    wrapped = ModelAdapter(model, name=getattr(model, "__name__", "score_fn"), returns="logits",
                           score="logit")
    return wrapped, "raw"


def evaluate_masked(model, images: np.ndarray, blurred: np.ndarray,
                    label_maps: Sequence[np.ndarray], jobs: MaskedJobs, batch_size: int = 64,
                    progress: Callable[[int], None] | None = None, kind: str | None = "raw"
                    ) -> np.ndarray:
    """Score masked variants of images (the model's adapter composes them; see
    :meth:`~imacs_widget.models.ModelAdapter.masked_raw`).

    Parameters
    ----------
    model : ModelAdapter or callable
        The model: an adapter (or one of its bound ``scores`` / ``raw`` / ``log_odds``
        methods), or a plain callable ``float32 [n, H, W, 3] -> [n, C]`` whose outputs are used
        as they are.
    images, blurred : numpy.ndarray
        ``[N, H, W, 3]`` originals and what their excluded segments show.
    label_maps : sequence of numpy.ndarray
        ``int [H, W]`` segment ids per image.
    jobs : MaskedJobs
        Per job, an image index and its excluded segments.
    batch_size : int
        Masked images per model call; only this many are composed at once.
    progress : callable, optional
        Called with the number of jobs finished after each batch.
    kind : str or None
        For an adapter: ``"raw"`` (its own outputs), ``None`` (its attributed score) or a
        :meth:`~imacs_widget.models.ModelAdapter.convert` kind. A bound method or a plain
        callable decides it itself.

    Returns
    -------
    numpy.ndarray
        ``float64 [n_jobs, C]`` in job order.
    """
    from ..models.adapter import ModelAdapter

    adapter, own = scoring_adapter(model)
    if not isinstance(model, ModelAdapter):
        kind = own
    raw = adapter.masked_raw(images, blurred, label_maps, jobs, int(batch_size), progress)
    if kind == "raw" or raw.size == 0:
        return raw
    return adapter.convert(raw, kind)
