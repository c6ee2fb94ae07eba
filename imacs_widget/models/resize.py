"""Bilinear resizing of image batches in NumPy, with the convention TensorFlow and PyTorch share.

``tf.image.resize(method="bilinear")`` and ``torch.nn.functional.interpolate(mode="bilinear",
align_corners=False, antialias=False)`` both sample the source at half-pixel centres
(``src = (dst + 0.5) * in / out - 0.5``, clamped at the borders). :func:`resize_bilinear` does the
same without either framework, so every model kind sees identically resized pixels.
"""

from __future__ import annotations

import numpy as np


def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, (src - lo).astype(np.float32)


def resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``[n, H, W, C]`` images to ``size = (height, width)``; returns ``float32``."""
    x = np.asarray(x, dtype=np.float32)
    h, w = int(size[0]), int(size[1])
    if x.shape[1:3] == (h, w):
        return x
    y0, y1, fy = _axis(x.shape[1], h)
    x0, x1, fx = _axis(x.shape[2], w)
    top = x[:, y0]
    bottom = x[:, y1]
    rows = top + (bottom - top) * fy[None, :, None, None]
    left = rows[:, :, x0]
    right = rows[:, :, x1]
    return left + (right - left) * fx[None, None, :, None]
