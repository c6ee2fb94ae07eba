"""Two evaluation sets read as one: the image source of :func:`imacs_widget.compare_datasets`.

Images ``0 .. len(a) - 1`` are dataset A's, the rest dataset B's, both read at one working size
(dataset A's, or ``image_size``). Each image keeps its own dataset's reference: a file path, or
``"data_a[i]"`` / ``"data_b[j]"`` with ``i`` / ``j`` indices into that dataset.
"""

from __future__ import annotations

import numpy as np

from .base import ImageSource, to_rgb
from .sources import as_image_source


class _Resized(ImageSource):
    """An :class:`ImageSource` read at another size (bilinear), its labels and names kept."""

    def __init__(self, src: ImageSource, size):
        self.src, self.n, self.kind = src, len(src), src.kind
        self.labels, self.class_names = src.labels, src.class_names
        self.image_shape = tuple(int(v) for v in size)

    def ref(self, i: int) -> str:
        return self.src.ref(i)

    def read(self, indices):
        images, ok = self.src.read(indices)
        h, w = self.image_shape
        out = np.zeros((len(images), h, w, 3), images.dtype)
        for j, im in enumerate(images):
            out[j] = to_rgb(im, self.image_shape)
        return out, ok


def _at(data, size, name: str) -> ImageSource:
    """``data`` as a source read at ``size`` (``None``: its own working size)."""
    src = as_image_source(data, image_size=size, name=name)
    if size is not None and tuple(src.image_shape) != tuple(size):  # an ImageSource given
        src = _Resized(src, size)
    return src


class DatasetPair(ImageSource):
    """Datasets ``a`` and ``b`` (any kinds :func:`~imacs_widget.data.as_image_source` takes)
    behind one :class:`ImageSource`."""

    kind = "datasets"

    def __init__(self, data_a, data_b, image_size=None):
        self.a = _at(data_a, image_size, "data_a")
        size = tuple(int(v) for v in self.a.image_shape)
        self.b = as_image_source(data_b, name="data_b")
        if tuple(self.b.image_shape) != size:  # read B at A's working size
            self.b = _at(data_b, size, "data_b")
        self.image_shape = size
        self.n_a, self.n = len(self.a), len(self.a) + len(self.b)
        self.class_names = self.a.class_names or self.b.class_names

    @property
    def sides(self) -> dict[str, tuple[int, int]]:
        """``{"A": (0, len(a)), "B": (len(a), len(a) + len(b))}``: which images are whose."""
        return {"A": (0, self.n_a), "B": (self.n_a, self.n)}

    def _split(self, i: int) -> tuple[ImageSource, int, str]:
        i = int(i)
        return (self.a, i, "data_a") if i < self.n_a else (self.b, i - self.n_a, "data_b")

    def local_index(self, indices) -> np.ndarray:
        """Each image's index in its own dataset."""
        idx = np.asarray(indices, np.int64)
        return np.where(idx < self.n_a, idx, idx - self.n_a)

    def ref(self, i: int) -> str:
        src, j, name = self._split(i)
        ref = src.ref(j)
        return f"{name}[{j}]" if ref == f"{src.kind}[{j}]" else ref

    def read(self, indices) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(indices, np.int64)
        in_a = idx < self.n_a
        h, w = self.image_shape
        parts = [(in_a, *self.a.read(idx[in_a])), (~in_a, *self.b.read(idx[~in_a] - self.n_a))]
        dtype = np.result_type(*(p[1].dtype for p in parts if len(p[1])), np.uint8)
        out = np.zeros((len(idx), h, w, 3), dtype)
        ok = np.zeros(len(idx), bool)
        for where, images, good in parts:
            out[where], ok[where] = images, good
        return out, ok

    def chunks(self, size: int = 64):
        for idx, images, ok in self.a.chunks(size):
            yield idx, images, ok
        for idx, images, ok in self.b.chunks(size):
            yield idx + self.n_a, images, ok
