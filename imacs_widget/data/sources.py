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
  ``(image, label)`` or dicts) — in :mod:`imacs_widget.data.dataset_sources`.

Images of different sizes are resized (bilinear) to one working size: ``image_size`` when
given, else the most common size in the data. Each image keeps a reference (:meth:`ref`): its
file path, or ``"<kind>[index]"``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ImacsInputError
from .base import CHUNK, IMAGE_EXTENSIONS, ImageSource, common_size, to_rgb
from .dataset_sources import HFDatasetSource, TFDataSource, TorchDatasetSource
from .validation import as_image_batch

__all__ = ["CHUNK", "IMAGE_EXTENSIONS", "ArraySource", "FileSource", "ImageSource", "ListSource",
           "as_image_source", "folder_source", "to_rgb"]


class ArraySource(ImageSource):
    """A NumPy array ``[N, H, W, 3]`` (or grayscale / RGBA), validated, never copied."""

    kind = "images"

    def __init__(self, images, name: str = "images"):
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
        self.image_shape = common_size(sizes, image_size)

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
        self.image_shape = common_size(sizes, image_size)

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
