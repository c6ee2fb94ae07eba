"""Checks and conversions of user input, with errors that name the argument."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ImacsInputError


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


def resolve_class_names(class_names: Sequence[str] | None, n_classes: int) -> list[str]:
    """Return class names, defaulting to ``"0".."C-1"``; check the count matches the models."""
    if class_names is None:
        return [str(i) for i in range(n_classes)]
    names = [str(c) for c in class_names]
    if len(names) != n_classes:
        raise ImacsInputError("class_names", f"has {len(names)} names but the models output "
                              f"{n_classes} classes")
    if len(set(names)) != len(names):
        raise ImacsInputError("class_names", "contains duplicate names")
    return names


def resolve_class(cls, class_names: list[str], name: str = "target_class") -> int:
    """Map a class name or index to its index, with a clear error if unknown."""
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool):
        if not 0 <= int(cls) < len(class_names):
            raise ImacsInputError(name, f"index {cls} is out of range 0..{len(class_names) - 1}")
        return int(cls)
    if isinstance(cls, str):
        if cls in class_names:
            return class_names.index(cls)
        raise ImacsInputError(name, f"unknown class {cls!r}; known classes: "
                              f"{', '.join(map(repr, class_names[:20]))}"
                              + (" ..." if len(class_names) > 20 else ""))
    raise ImacsInputError(name, f"expected a class name (str) or index (int), got {type(cls).__name__}")


def as_labels(labels, n_images: int, class_names: list[str], name: str = "labels") -> np.ndarray:
    """Return labels as ``int64 [N]`` class indices.

    Accepts integer indices, class-name strings, or one-hot ``[N, C]`` arrays.
    """
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == len(class_names) and arr.shape[0] == n_images:
        arr = arr.argmax(axis=1)
    if arr.ndim != 1:
        raise ImacsInputError(name, f"expected a 1-D array of class indices or names, got shape "
                              f"{arr.shape}")
    if arr.shape[0] != n_images:
        raise ImacsInputError(name, f"has {arr.shape[0]} entries but images has {n_images}; "
                              "they must have the same length")
    if arr.dtype.kind in "USO":
        out = np.empty(n_images, dtype=np.int64)
        lookup = {c: i for i, c in enumerate(class_names)}
        for i, v in enumerate(arr):
            if str(v) not in lookup:
                raise ImacsInputError(name, f"entry {i} is the unknown class {v!r}")
            out[i] = lookup[str(v)]
        return out
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ImacsInputError(name, "must be integer class indices (found non-integer values)")
    elif arr.dtype.kind not in "iu":
        raise ImacsInputError(name, f"dtype {arr.dtype} is not a class index type")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= len(class_names))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ImacsInputError(name, f"entry {i} is {arr[i]}, outside the class range "
                              f"0..{len(class_names) - 1}")
    return arr
