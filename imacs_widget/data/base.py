"""The reading interface every image source implements, and one image as an RGB array.

:class:`ImageSource` (length, one working image size, optional labels / class names,
``read(indices) -> (images, ok)``) and :func:`to_rgb` are shared by the in-memory and file
sources (:mod:`imacs_widget.data.sources`) and the framework datasets
(:mod:`imacs_widget.data.dataset_sources`); this module imports neither.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..errors import ImacsInputError, ImacsWarning

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
CHUNK = 64
"""Images read per chunk by :meth:`ImageSource.chunks`."""


# ---------------------------------------------------------------------------------------------
# one image → an RGB array
# ---------------------------------------------------------------------------------------------


def to_rgb(item, size: tuple[int, int] | None = None, name: str = "images") -> np.ndarray:
    """One image (PIL image, NumPy array ``HWC``/``HW``, or a tensor ``CHW``/``HWC``) as an
    ``[H, W, 3]`` ``uint8`` or ``float32`` array, resized to ``size`` (``(h, w)``) if given."""
    from PIL import Image

    if isinstance(item, Image.Image):
        arr = np.asarray(item.convert("RGB"))
    else:
        if hasattr(item, "detach"):  # torch tensor
            item = item.detach().cpu().numpy()
        elif hasattr(item, "numpy") and not isinstance(item, np.ndarray):  # tf tensor
            item = item.numpy()
        arr = np.asarray(item)
        if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3, 4):
            arr = arr.transpose(1, 2, 0)  # channels-first (ToTensor) → channels-last
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
            raise ImacsInputError(name, f"an image has shape {arr.shape}; expected [H, W, 3] "
                                  "(or [3, H, W], grayscale, RGBA)")
        if arr.shape[-1] == 1:
            arr = np.repeat(arr, 3, axis=-1)
        arr = arr[..., :3]
        if arr.dtype != np.uint8:
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                raise ImacsInputError(name, f"an image has dtype {arr.dtype}; expected numbers")
            arr = arr.astype(np.float32)
    if size is not None and tuple(arr.shape[:2]) != tuple(size):
        h, w = size
        if arr.dtype == np.uint8:
            arr = np.asarray(Image.fromarray(arr).resize((w, h), Image.BILINEAR))
        else:
            from ..models.resize import resize_bilinear

            arr = resize_bilinear(arr[None], (h, w))[0]
    return arr


def check_finite(image: np.ndarray, ref: str, name: str = "images") -> np.ndarray:
    """``image``, refused when it has NaN or infinite pixels (float images only; what every
    source reads goes through this, not only arrays).

    Raises
    ------
    ImacsInputError
        Naming ``name`` and the image (``ref``).
    """
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ImacsInputError(name, f"{ref} contains NaN or inf pixels")
    return image


def common_size(sizes, image_size) -> tuple[int, int]:
    """The working ``(h, w)``: ``image_size`` when given (checked), else the most common of
    ``sizes`` (ties: the largest)."""
    if image_size is not None:
        h, w = (int(v) for v in image_size)
        if min(h, w) < 4:
            raise ImacsInputError("image_size", f"must be at least 4x4 pixels, got {image_size!r}")
        return h, w
    counts = Counter(tuple(int(v) for v in s) for s in sizes)
    if not counts:
        raise ImacsInputError("images", "is empty")
    return max(counts, key=lambda s: (counts[s], s[0] * s[1]))  # most common, then largest


# ---------------------------------------------------------------------------------------------
# the reading interface
# ---------------------------------------------------------------------------------------------


class ImageSource:
    """Base class: subclasses set ``n``, ``image_shape`` and implement :meth:`_read_one`."""

    kind = "images"
    labels: Sequence | None = None
    """Labels the data carries (class indices or names), or ``None``."""
    class_names: list[str] | None = None
    """Class names the data carries (folder names, ``ClassLabel`` names), or ``None``."""
    image_shape: tuple[int, int] = (0, 0)
    """``(H, W)`` every image is read at."""
    n = 0

    def __len__(self) -> int:
        return self.n

    def ref(self, i: int) -> str:
        """Where image ``i`` comes from: a file path, or ``"<kind>[i]"``."""
        return f"{self.kind}[{int(i)}]"

    def _read_one(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def read(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """Images ``indices`` as ``[k, H, W, 3]`` and a ``bool [k]`` mask of successful reads
        (failed reads are zeros, with a warning naming the image)."""
        indices = [int(i) for i in indices]
        h, w = self.image_shape
        out, ok = None, np.ones(len(indices), bool)
        for j, i in enumerate(indices):
            try:
                img = check_finite(np.asarray(self._read_one(i)), self.ref(i),
                                   getattr(self, "name", "images"))
            except ImacsInputError:
                raise
            except Exception as exc:  # unreadable / corrupt: skip it, keep going
                warnings.warn(f"data: skipped {self.ref(i)}: {type(exc).__name__}: {exc}",
                              ImacsWarning, stacklevel=2)
                ok[j] = False
                continue
            if out is None:
                out = np.zeros((len(indices), h, w, 3), img.dtype)
            elif img.dtype != out.dtype:
                out = out.astype(np.float32)
            out[j] = img
        if out is None:
            out = np.zeros((len(indices), h, w, 3), np.uint8)
        return out, ok

    def chunks(self, size: int = CHUNK):
        """Yield ``(indices, images, ok)`` over the whole source, ``size`` images at a time."""
        for s in range(0, self.n, size):
            idx = np.arange(s, min(s + size, self.n))
            images, ok = self.read(idx)
            yield idx, images, ok
