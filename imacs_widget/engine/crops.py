"""Segment crops: embedding inputs and thumbnails, cut from the source images."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray, pixel_max: float) -> np.ndarray:
    """Pixel-scale float images → ``uint8`` 0–255 (``pixel_max`` is the scale's white: 1 or 255)."""
    scale = 255.0 / float(pixel_max)
    return np.clip(np.rint(np.asarray(images, dtype=np.float32) * scale), 0, 255).astype(np.uint8)


def detect_pixel_max(images: np.ndarray) -> float:
    """255 for 0–255 images, 1 for images whose values all lie in [0, 1]."""
    return 1.0 if float(np.max(images)) <= 1.0 and float(np.min(images)) >= 0.0 else 255.0


def segment_crop(image: np.ndarray, label_map: np.ndarray, segment_id: int, bbox,
                 size: int, letterbox: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One segment cut to its bbox and resized to ``size × size``.

    Pixels of the bbox outside the segment are set to the segment's mean colour (so irregular
    SLIC segments embed as themselves). With ``letterbox`` the aspect ratio is kept and the
    margin is filled with mid-grey.

    Returns
    -------
    crop : numpy.ndarray
        ``uint8 [size, size, 3]``.
    mask : numpy.ndarray
        ``bool [size, size]``: which crop pixels belong to the segment.
    """
    x0, y0, x1, y1 = (int(v) for v in bbox)
    patch = np.asarray(image[y0:y1, x0:x1], dtype=np.uint8).copy()
    inside = label_map[y0:y1, x0:x1] == segment_id
    if not inside.all():
        patch[~inside] = patch[inside].mean(axis=0).astype(np.uint8)
    h, w = patch.shape[:2]
    if letterbox:
        s = size / max(h, w)
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
    else:
        nh = nw = size
    pim = Image.fromarray(patch).resize((nw, nh), Image.BILINEAR)
    mim = Image.fromarray(inside.astype(np.uint8) * 255).resize((nw, nh), Image.NEAREST)
    crop = np.full((size, size, 3), 128, dtype=np.uint8)
    mask = np.zeros((size, size), dtype=bool)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    crop[oy:oy + nh, ox:ox + nw] = np.asarray(pim)
    mask[oy:oy + nh, ox:ox + nw] = np.asarray(mim) > 127
    return crop, mask


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """``uint8`` image shrunk (never enlarged) so its longer side is at most ``max_side``."""
    h, w = image.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return np.asarray(image, dtype=np.uint8)
    return np.asarray(Image.fromarray(image).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                    Image.BILINEAR))
