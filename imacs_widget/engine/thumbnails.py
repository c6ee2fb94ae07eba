"""Pictures the views show, cut at comparison time: segment thumbnails and source previews.

Cut by the engine's worker with each chunk: from the images, the segments' label maps and the
pixel range, this module letterboxes each segment into a small square (pixels outside the
segment set to its mean colour, plus a mask of which pixels belong to it) and shrinks each
sampled source image for the hover preview. Results store both, so a saved result can be viewed
without the evaluation images.
"""

from __future__ import annotations

import numpy as np

from .crops import downscale, segment_crop, to_uint8
from .segmentation import segment_bboxes

THUMB_SIZE = 64
"""Edge of a stored segment thumbnail, in pixels."""
SOURCE_SIZE = 128
"""Longest edge of a stored source preview, in pixels."""


def segment_thumbnails(images: np.ndarray, keys, label_maps: dict, pixel_range,
                       size: int = THUMB_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Letterboxed thumbnails of ``keys`` = ``[(image_index, segment_id), ...]``.

    Returns ``uint8 [n, size, size, 3]`` pictures and ``bool [n, size, size]`` masks, in the
    order of ``keys``. Each distinct key is cut once.
    """
    keys = [(int(i), int(s)) for i, s in keys]
    uniq = list(dict.fromkeys(keys))
    thumbs = np.empty((len(uniq), size, size, 3), np.uint8)
    masks = np.empty((len(uniq), size, size), bool)
    cur, img8, boxes = None, None, None
    for j, (i, sid) in enumerate(uniq):
        if i != cur:
            cur, img8 = i, to_uint8(images[i], pixel_range)
            boxes = segment_bboxes(label_maps[i])
        thumbs[j], masks[j] = segment_crop(img8, label_maps[i], sid, boxes[sid], size,
                                           letterbox=True)
    pos = {key: j for j, key in enumerate(uniq)}
    take = np.array([pos[key] for key in keys], dtype=np.int64)
    return thumbs[take], masks[take]


def source_previews(images: np.ndarray, indices, pixel_range,
                    size: int = SOURCE_SIZE) -> dict[int, np.ndarray]:
    """``{image_index: uint8 [h, w, 3]}`` previews, the longer side at most ``size``."""
    return {int(i): downscale(to_uint8(images[int(i)], pixel_range), size)
            for i in dict.fromkeys(int(i) for i in indices)}
