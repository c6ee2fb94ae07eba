"""Checks and conversions of user input, with errors that name the argument."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.validation import as_image_batch  # noqa: F401 - the one definition, re-exported
from ..errors import ImacsInputError


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
