"""Exclusion of segments and streamed, batched evaluation of masked images.

An excluded segment takes the Gaussian-blurred pixels of its image (paper §4), or another
baseline (:func:`baseline_images`: the image's mean colour, a constant colour, a callable): the
baseline is computed once per image and masked images are composed on the fly, a batch at a
time, so memory stays bounded however many masked variants are evaluated. (Arguments are named
``blurred`` throughout the engine: they hold whichever baseline the run uses.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np


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


def baseline_images(images: np.ndarray, baseline="blur", sigma: float | None = None
                    ) -> np.ndarray:
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
    """
    from ..errors import ImacsInputError

    images = np.asarray(images, dtype=np.float32)
    if isinstance(baseline, str):
        if baseline == "blur":
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
        from .settings import callable_fingerprint

        return "callable:" + callable_fingerprint(baseline)
    return "colour:" + ",".join(f"{float(v):g}" for v in np.asarray(baseline, float).ravel())


def compose(image: np.ndarray, blurred: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Pixels of ``image`` where ``keep`` (``bool [H, W]``) is true, of ``blurred`` elsewhere."""
    return np.where(keep[..., None], image, blurred)


def evaluate_masked(score_fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray,
                    blurred: np.ndarray, jobs: Iterable[tuple[int, np.ndarray]], n_jobs: int,
                    batch_size: int = 64, progress: Callable[[int], None] | None = None
                    ) -> np.ndarray:
    """Score masked variants of images, filling each model batch across images.

    Parameters
    ----------
    score_fn : callable
        ``float32 [n, H, W, 3] -> [n, C]`` (e.g. :meth:`ModelAdapter.scores`).
    images, blurred : numpy.ndarray
        ``[N, H, W, 3]`` originals and their blurred copies.
    jobs : iterable of (int, numpy.ndarray)
        ``(image_index, keep_mask)`` pairs, consumed lazily.
    n_jobs : int
        Number of jobs (to size the output).
    batch_size : int
        Masked images per model call; only this many are held in memory at once.
    progress : callable, optional
        Called with the number of jobs finished after each batch.

    Returns
    -------
    numpy.ndarray
        ``float64 [n_jobs, C]`` scores in job order.
    """
    out: np.ndarray | None = None
    h, w = images.shape[1:3]
    buf = np.empty((batch_size, h, w, 3), dtype=np.float32)
    keeps = np.empty((batch_size, h, w), dtype=bool)
    idx = np.empty(batch_size, dtype=np.int64)
    pos = 0
    fill = 0
    it: Iterator = iter(jobs)
    while True:
        job = next(it, None)
        if job is not None:
            idx[fill], keeps[fill] = job
            fill += 1
        if fill and (fill == batch_size or job is None):
            _compose_batch(buf[:fill], images, blurred, idx[:fill], keeps[:fill])
            s = np.asarray(score_fn(buf[:fill]), dtype=np.float64)
            if out is None:
                out = np.empty((n_jobs, s.shape[1]), dtype=np.float64)
            out[pos:pos + fill] = s
            pos += fill
            if progress is not None:
                progress(fill)
            fill = 0
        if job is None:
            break
    if pos != n_jobs:
        raise RuntimeError(f"evaluate_masked: {pos} jobs evaluated, expected {n_jobs}")
    return out if out is not None else np.zeros((0, 0))


def _compose_batch(out: np.ndarray, images: np.ndarray, blurred: np.ndarray, idx: np.ndarray,
                   keeps: np.ndarray) -> None:
    """``out[j] = compose(images[idx[j]], blurred[idx[j]], keeps[j])`` for a whole batch.

    Jobs of one image are consecutive, so each run of equal ``idx`` is composed with one
    ``np.where`` per colour channel on ``[n, H, W]`` masks: ~2-3x faster than broadcasting a
    ``[H, W, 1]`` mask over the channels, with the same pixels.
    """
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], len(idx)]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        i = int(idx[a])
        img, blr = images[i], blurred[i]
        for c in range(out.shape[-1]):
            out[a:b, ..., c] = np.where(keeps[a:b], img[..., c], blr[..., c])
