"""Image sources: every kind of evaluation data behind one small reading interface.

An :class:`ImageSource` has a length, a common image size, optional labels and class names,
and reads any images by index, in chunks, as ``[k, H, W, 3]`` arrays (``uint8`` or ``float32``
in the data's own pixel scale) plus a mask of which reads succeeded. The engine reads the whole
set once, a chunk at a time, for the predictions, then only the sampled images: peak memory does
not grow with the size of the evaluation set beyond the predictions and the sampled images.

Kinds (:func:`as_image_source` picks one):

* a NumPy array ``[N, H, W, 3]`` (:class:`ArraySource`, no copy);
* a list of arrays or PIL images, of any sizes (:class:`ListSource`);
* a list of file paths (:class:`FileSource`; unreadable files are skipped with a warning naming
  them) or a folder in the ImageFolder layout, one sub-folder per class
  (:func:`folder_source`: labels and class names from the folder names);
* a PyTorch ``Dataset`` or ``DataLoader`` (map-style; items ``(image, label)``, dicts or
  images; ``dataset.classes`` gives class names), a Hugging Face ``datasets.Dataset`` (image and
  label columns detected or named), a ``tf.data.Dataset`` (read in order; elements
  ``(image, label)`` or dicts).

Images of different sizes are resized (bilinear) to one working size: ``image_size`` when
given, else the most common size in the data. Each image keeps a reference (:meth:`ref`): its
file path, or ``"<kind>[index]"``.
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

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


def _common_size(sizes, image_size) -> tuple[int, int]:
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
# sources
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
                img = self._read_one(i)
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


class ArraySource(ImageSource):
    """A NumPy array ``[N, H, W, 3]`` (or grayscale / RGBA), validated, never copied."""

    kind = "images"

    def __init__(self, images, name: str = "images"):
        from ..engine.validation import as_image_batch

        self.array = as_image_batch(images, name)
        self.n = len(self.array)
        self.image_shape = tuple(int(v) for v in self.array.shape[1:3])

    def read(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        return self.array[idx], np.ones(len(idx), bool)

    def chunks(self, size: int = CHUNK):
        for s in range(0, self.n, size):
            idx = np.arange(s, min(s + size, self.n))
            yield idx, self.array[s:s + size], np.ones(len(idx), bool)


class ListSource(ImageSource):
    """A list of arrays, tensors or PIL images, of any sizes (resized to one size)."""

    def __init__(self, items: Sequence, image_size=None, name: str = "images"):
        self.items = list(items)
        self.n = len(self.items)
        self.name = name
        sizes = []
        for it in self.items:
            if hasattr(it, "size") and hasattr(it, "mode"):  # PIL: (w, h)
                sizes.append((it.size[1], it.size[0]))
            else:
                sizes.append(to_rgb(it, name=name).shape[:2])
        self.image_shape = _common_size(sizes, image_size)

    def _read_one(self, i):
        return to_rgb(self.items[i], self.image_shape, self.name)


class FileSource(ImageSource):
    """Image files read with PIL as RGB. Unreadable files are skipped with a warning."""

    kind = "file"

    def __init__(self, paths: Sequence, labels=None, class_names=None, image_size=None,
                 name: str = "images"):
        from PIL import Image

        self.paths = [Path(p) for p in paths]
        self.n = len(self.paths)
        if not self.n:
            raise ImacsInputError(name, "lists no image files")
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise ImacsInputError(name, f"{len(missing)} file(s) do not exist, e.g. {missing[:3]}")
        self.labels = labels
        self.class_names = class_names
        if image_size is None:
            sizes = []
            for p in self.paths:  # headers only (no decoding)
                try:
                    with Image.open(p) as im:
                        sizes.append((im.size[1], im.size[0]))
                except Exception:
                    pass  # reported when the file is read
        else:
            sizes = []
        self.image_shape = _common_size(sizes, image_size)

    def ref(self, i):
        return str(self.paths[int(i)])

    def _read_one(self, i):
        from PIL import Image

        with Image.open(self.paths[i]) as im:
            im.load()
            return to_rgb(im, self.image_shape)


def folder_source(root, image_size=None, name: str = "images") -> FileSource:
    """A folder in the ImageFolder layout: ``root/<class>/<image>``; labels from the folders.

    Class names are the sub-folder names in sorted order (the convention of torchvision's
    ``ImageFolder`` and Keras' ``image_dataset_from_directory``). A folder with image files and
    no sub-folders is read as unlabelled images (labels must then be given).
    """
    root = Path(root)
    if not root.is_dir():
        raise ImacsInputError(name, f"{root} is not a folder")

    def images_in(d: Path):
        return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)

    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        files = images_in(root)
        if not files:
            raise ImacsInputError(name, f"{root} has no class sub-folders and no image files "
                                  f"({', '.join(IMAGE_EXTENSIONS)})")
        return FileSource(files, image_size=image_size, name=name)
    paths, labels = [], []
    for c in classes:
        files = images_in(root / c)
        if not files:
            raise ImacsInputError(name, f"class folder {root / c} has no image files "
                                  f"({', '.join(IMAGE_EXTENSIONS)}); remove it or add images")
        paths += files
        labels += [c] * len(files)
    return FileSource(paths, labels=labels, class_names=classes, image_size=image_size, name=name)


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
        self.image_shape = _common_size([to_rgb(first).shape[:2]], image_size)
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
        self.image_shape = _common_size([to_rgb(dataset[0][self.image_column]).shape[:2]],
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
        self.image_shape = _common_size([first.shape[:2]], image_size)
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
        h, w = self.image_shape
        out = np.zeros((len(want), h, w, 3), np.float32)
        ok = np.zeros(len(want), bool)
        for i, (img, _) in enumerate(self._items()):
            if i in want:
                out[want[i]], ok[want[i]] = to_rgb(img, self.image_shape), True
        if ok.all() and out.size and out.max() > 1 and np.all(out == np.round(out)) and out.max() <= 255:
            out = out.astype(np.uint8)
        return out, ok

    def chunks(self, size: int = CHUNK):
        buf, start = [], 0
        for img, _ in self._items():
            buf.append(to_rgb(img, self.image_shape))
            if len(buf) == size:
                yield np.arange(start, start + size), _stack(buf), np.ones(size, bool)
                start, buf = start + size, []
        if buf:
            yield np.arange(start, start + len(buf)), _stack(buf), np.ones(len(buf), bool)


def _stack(arrays):
    if any(a.dtype != np.uint8 for a in arrays):
        return np.stack([a.astype(np.float32) for a in arrays])
    return np.stack(arrays)


# ---------------------------------------------------------------------------------------------
# dispatch, and the sampled images
# ---------------------------------------------------------------------------------------------


def as_image_source(data, image_size=None, image_column=None, label_column=None,
                    name: str = "images") -> ImageSource:
    """The :class:`ImageSource` for ``data`` (see the module docstring for the kinds)."""
    if isinstance(data, ImageSource):
        return data
    if isinstance(data, (str, Path)):
        p = Path(data)
        if p.is_dir():
            return folder_source(p, image_size, name)
        raise ImacsInputError(name, f"{p} is not a folder of images (pass a folder, a list of "
                              "file paths, an array or a dataset)")
    if isinstance(data, np.ndarray):
        return ArraySource(data, name) if image_size is None else ListSource(list(data), image_size, name)
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(data, torch.utils.data.DataLoader):
            data = data.dataset
        if isinstance(data, torch.utils.data.Dataset):
            if not hasattr(data, "__len__"):
                raise ImacsInputError(name, "an iterable-style torch Dataset has no length; pass "
                                      "a map-style Dataset")
            return TorchDatasetSource(data, image_size)
    hf = sys.modules.get("datasets")
    if hf is not None and isinstance(data, hf.Dataset):
        return HFDatasetSource(data, image_column, label_column, image_size)
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(data, tf.data.Dataset):
        return TFDataSource(data, image_size)
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(v, (str, Path)) for v in data):
            return FileSource(data, image_size=image_size, name=name)
        if data and all(isinstance(v, np.ndarray) for v in data) and image_size is None \
                and len({v.shape for v in data}) == 1:
            return ArraySource(np.stack(data), name)
        if not data:
            raise ImacsInputError(name, "is empty")
        return ListSource(data, image_size, name)
    return ArraySource(data, name)


class SampledImages:
    """The images the engine works on after sampling, by their index in the source.

    ``images[i]`` (an ``int``) is one image, ``images[idx]`` (an index array) a batch; only the
    indices given to :meth:`load` are held in memory.
    """

    def __init__(self, source: ImageSource):
        self.source = source
        self._rows: dict[int, int] = {}
        self._parts: list[np.ndarray] = []
        self._arr: np.ndarray | None = None

    def load(self, indices) -> None:
        """Read the images of ``indices`` not held yet (one pass over the source)."""
        new = [int(i) for i in dict.fromkeys(int(i) for i in indices) if int(i) not in self._rows]
        if not new:
            return
        images, ok = self.source.read(new)
        if not ok.all():
            bad = [self.source.ref(i) for i, g in zip(new, ok, strict=True) if not g]
            raise ImacsInputError("images", f"could not re-read {bad[:3]} (read fine before); "
                                  "did the files change during the run?")
        base = len(self._rows)
        for j, i in enumerate(new):
            self._rows[i] = base + j
        self._parts.append(images)
        self._arr = None

    def _array(self) -> np.ndarray:
        if self._arr is None:
            parts = self._parts
            if len({p.dtype for p in parts}) > 1:
                parts = [p.astype(np.float32) for p in parts]
            self._arr = np.concatenate(parts) if len(parts) > 1 else parts[0]
            self._parts = [self._arr]
        return self._arr

    def __getitem__(self, idx):
        arr = self._array()
        if np.ndim(idx) == 0:
            return arr[self._rows[int(idx)]]
        return arr[np.array([self._rows[int(i)] for i in idx], dtype=np.int64)]
