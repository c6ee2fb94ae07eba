"""Framework datasets as image sources: PyTorch ``Dataset`` / ``DataLoader``, Hugging Face
``datasets.Dataset`` and ``tf.data.Dataset`` (see :mod:`imacs_widget.data.sources`).

Nothing here imports a framework: each class only touches the dataset object it is given.
"""

from __future__ import annotations

import numpy as np

from ..errors import ImacsInputError
from .base import CHUNK, ImageSource, check_finite, common_size, to_rgb


def _split_item(item):
    """``(image, label or None)`` from a dataset item: a tuple, a dict or a bare image."""
    if isinstance(item, dict):
        img = next((item[k] for k in ("image", "img", "pixel_values", "x") if k in item), None)
        lab = next((item[k] for k in ("label", "labels", "target", "y") if k in item), None)
        if img is None:
            raise ImacsInputError("images", f"a dataset item has keys {sorted(item)}; expected "
                                  "an 'image' (or 'img') key")
        return img, lab
    if isinstance(item, (tuple, list)) and len(item) >= 2:
        return item[0], item[1]
    return item, None


def _scalar(v):
    if hasattr(v, "item"):
        v = v.item()
    return v


class TorchDatasetSource(ImageSource):
    """A map-style ``torch.utils.data.Dataset`` (or a ``DataLoader``'s dataset).

    Items are ``(image, label)``, dicts with ``image`` / ``label`` keys, or bare images; images
    are PIL images, ``[C, H, W]`` tensors (e.g. ``ToTensor``: float 0..1) or arrays. Labels come
    from ``dataset.targets`` when present, else from the items as they are read.
    """

    kind = "dataset"

    def __init__(self, dataset, image_size=None):
        self.dataset = dataset
        self.n = len(dataset)
        targets = getattr(dataset, "targets", None)
        self._labels = list(np.asarray(targets).tolist()) if targets is not None else [None] * self.n
        classes = getattr(dataset, "classes", None)
        self.class_names = [str(c) for c in classes] if classes is not None else None
        first, lab = _split_item(dataset[0])
        self.image_shape = common_size([to_rgb(first).shape[:2]], image_size)
        self._seen_label = lab is not None or targets is not None

    @property
    def labels(self):
        return self._labels if self._seen_label else None

    def _read_one(self, i):
        img, lab = _split_item(self.dataset[i])
        if lab is not None:
            self._labels[i] = _scalar(lab)
            self._seen_label = True
        return to_rgb(img, self.image_shape)


class HFDatasetSource(ImageSource):
    """A Hugging Face ``datasets.Dataset``: image and label columns named or detected.

    The image column is the one with an ``Image`` feature (else ``image`` / ``img``); the label
    column the ``ClassLabel`` one (else ``label`` / ``labels``), whose names become the class
    names. Labels are read without decoding any image.
    """

    kind = "dataset"

    def __init__(self, dataset, image_column=None, label_column=None, image_size=None):
        feats = dataset.features
        names = list(feats)
        kinds = {c: type(feats[c]).__name__ for c in names}
        self.image_column = image_column or next(
            (c for c in names if kinds[c] == "Image"),
            next((c for c in ("image", "img", "pixel_values") if c in names), None))
        if self.image_column not in names:
            raise ImacsInputError("images", f"no image column found in the dataset's columns "
                                  f"{names}; name it: imacs.data.as_image_source(ds, "
                                  "image_column=...)")
        self.label_column = label_column or next(
            (c for c in names if kinds[c] == "ClassLabel"),
            next((c for c in ("label", "labels") if c in names), None))
        if label_column is not None and label_column not in names:
            raise ImacsInputError("labels", f"column {label_column!r} is not in {names}")
        self.dataset = dataset
        self.n = len(dataset)
        if self.label_column is not None:
            self.labels = list(dataset[self.label_column])
            feat = feats[self.label_column]
            if kinds[self.label_column] == "ClassLabel":
                self.class_names = list(feat.names)
        self.image_shape = common_size([to_rgb(dataset[0][self.image_column]).shape[:2]],
                                        image_size)

    def _read_one(self, i):
        return to_rgb(self.dataset[int(i)][self.image_column], self.image_shape)


class TFDataSource(ImageSource):
    """A ``tf.data.Dataset`` of ``(image, label)`` pairs, dicts or images, unbatched or batched.

    It has no random access: it is read in order, once for the predictions and once more for
    the sampled images (so its order must be deterministic: no unseeded shuffle).
    """

    kind = "dataset"

    def __init__(self, dataset, image_size=None):
        self.dataset = dataset
        self._labels: list = []
        self.n = 0
        first = None
        for img, lab in self._items():  # one pass: the length and the labels
            if first is None:
                first = to_rgb(img)
            self._labels.append(lab)
            self.n += 1
        if first is None:
            raise ImacsInputError("images", "the tf.data.Dataset is empty")
        self.image_shape = common_size([first.shape[:2]], image_size)
        self.labels = self._labels if any(v is not None for v in self._labels) else None

    def _items(self):
        for el in self.dataset.as_numpy_iterator():
            img, lab = _split_item(el)
            img = np.asarray(img)
            batched = img.ndim == 4
            if not batched:
                yield img, _scalar(lab) if lab is not None else None
                continue
            labs = np.asarray(lab) if lab is not None else [None] * len(img)
            for im, lb in zip(img, labs, strict=True):
                yield im, _scalar(lb) if lb is not None else None

    def read(self, indices):
        want = {int(i): j for j, i in enumerate(indices)}
        found: dict[int, np.ndarray] = {}
        for i, (img, _) in enumerate(self._items()):
            if i in want:
                found[want[i]] = check_finite(to_rgb(img, self.image_shape), self.ref(i))
        ok = np.array([j in found for j in range(len(want))], bool)
        h, w = self.image_shape
        blank = np.zeros((h, w, 3), next(iter(found.values())).dtype if found else np.uint8)
        return _stack([found.get(j, blank) for j in range(len(want))]), ok

    def chunks(self, size: int = CHUNK):
        buf, start = [], 0
        for img, _ in self._items():
            buf.append(check_finite(to_rgb(img, self.image_shape), self.ref(start + len(buf))))
            if len(buf) == size:
                yield np.arange(start, start + size), _stack(buf), np.ones(size, bool)
                start, buf = start + size, []
        if buf:
            yield np.arange(start, start + len(buf)), _stack(buf), np.ones(len(buf), bool)


def _stack(arrays):
    if any(a.dtype != np.uint8 for a in arrays):
        return np.stack([a.astype(np.float32) for a in arrays])
    return np.stack(arrays)
