"""Evaluation data as users have it: arrays, lists of images, files, folders, datasets.

:func:`as_image_source` turns what ``compare()`` is given into an :class:`ImageSource` that reads
images of one common size in chunks, with labels and class names when the data carries them,
and a reference per image (its file path or dataset index) that every segment keeps.
"""

from .sources import (
    ArraySource,
    FileSource,
    ImageSource,
    ListSource,
    as_image_source,
    folder_source,
)

__all__ = ["ArraySource", "FileSource", "ImageSource", "ListSource", "as_image_source", "folder_source"]
