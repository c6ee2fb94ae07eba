"""Blur-based exclusion of segments and streamed, batched evaluation of masked images.

An excluded segment takes the Gaussian-blurred pixels of its image (paper §4): the blur is computed
once per image and masked images are composed on the fly, a batch at a time, so memory stays
bounded however many masked variants are evaluated.
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
