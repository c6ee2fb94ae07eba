"""The check of an image batch that data sources and the engine share (errors name the
argument). A leaf module: it imports only NumPy and :mod:`imacs_widget.errors`."""

from __future__ import annotations

import numpy as np

from ..errors import ImacsInputError

__all__ = ["as_image_batch"]


def as_image_batch(images, name: str = "images") -> np.ndarray:
    """Return ``images`` as a ``[N, H, W, 3]`` uint8/float32 array in the caller's pixel scale.

    Parameters
    ----------
    images : array-like
        ``[N, H, W, 3]`` RGB, ``[N, H, W, 4]`` RGBA (alpha is dropped), ``[N, H, W, 1]`` or
        ``[N, H, W]`` grayscale (replicated to 3 channels). Integer or float dtype.
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        ``uint8`` or ``float32`` array ``[N, H, W, 3]`` (the input itself when it already is one,
        so large sets are not copied); values are not rescaled.

    Raises
    ------
    ImacsInputError
        On a wrong rank, channel count, dtype, an empty batch or non-finite pixels.
    """
    try:
        arr = np.asarray(images)
    except Exception as exc:  # ragged lists
        raise ImacsInputError(name, f"could not be converted to an array ({exc}); pass an array "
                              "[N, H, W, 3] of same-sized images") from exc
    if arr.dtype == object:
        raise ImacsInputError(name, "images have different sizes or are not numeric; resize them to "
                              "one size and pass an array [N, H, W, 3]")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            or arr.dtype == bool):
        raise ImacsInputError(name, f"dtype {arr.dtype} is not numeric; expected uint8 or float")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ImacsInputError(name, f"expected a batch [N, H, W, C] (rank 4), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ImacsInputError(name, "is empty")
    c = arr.shape[-1]
    if c == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif c == 4:
        arr = arr[..., :3]
    elif c != 3:
        raise ImacsInputError(name, f"expected 1 (grayscale), 3 (RGB) or 4 (RGBA) channels in the "
                              f"last axis, got {c} (shape {arr.shape}); channels-first input must "
                              "be transposed to [N, H, W, C]")
    if min(arr.shape[1:3]) < 4:
        raise ImacsInputError(name, f"images of {arr.shape[1]}x{arr.shape[2]} pixels are too small")
    if arr.dtype not in (np.uint8, np.float32):
        arr = arr.astype(np.float32)
    if arr.dtype == np.float32:
        for s in range(0, len(arr), 256):  # chunked: no full-size temporary
            if not np.isfinite(arr[s:s + 256]).all():
                raise ImacsInputError(name, "contains NaN or inf pixels")
    return arr
