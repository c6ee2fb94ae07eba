"""Segment crops cut from the source images, and the pixel range that maps them to ``uint8``.

Images travel through the engine in the user's own pixel scale, which may be 0–255, 0–1, −1–1
or a normalised range with negative values. :func:`detect_pixel_range` finds which, and
:func:`to_uint8` maps it to 0–255 for anything shown or embedded, so a normalised image never
turns into a black crop.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """Pixel-scale images → ``uint8`` 0–255, mapping ``pixel_range = (black, white)`` to 0..255."""
    lo, hi = (float(v) for v in pixel_range)
    x = (np.asarray(images, dtype=np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def detect_pixel_range(images: np.ndarray) -> tuple[float, float]:
    """``(black, white)`` of the images' pixel scale, from their values.

    ``(0, 1)`` when every value lies in [0, 1]; ``(0, 255)`` for non-negative values up to 255;
    ``(-1, 1)`` for values in [−1, 1] with negatives (Inception-style); otherwise (e.g.
    ImageNet-normalised images, or 16-bit values) the images' own minimum and maximum.
    """
    lo, hi = float(np.min(images)), float(np.max(images))
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    if lo >= 0.0 and hi <= 255.0:
        return 0.0, 255.0
    if lo >= -1.0 and hi <= 1.0:
        return -1.0, 1.0
    return lo, hi if hi > lo else lo + 1.0


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
