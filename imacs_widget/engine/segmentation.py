"""Split images into segments: an N×M grid (the paper's default) or SLIC superpixels.

A segmentation of one image is an ``int32 [H, W]`` label map with ids ``0..S-1``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ImacsInputError

METHODS = ("grid", "slic")


def grid_segments(height: int, width: int, rows: int = 4, cols: int = 4) -> np.ndarray:
    """Label map of a ``rows × cols`` grid; ids increase row-major from the top-left cell.

    Cell edges are ``round(i * height / rows)`` so cells differ by at most one pixel.
    """
    if rows < 1 or cols < 1:
        raise ImacsInputError("grid", f"rows and cols must be >= 1, got {rows}x{cols}")
    if rows > height or cols > width:
        raise ImacsInputError("grid", f"a {rows}x{cols} grid does not fit {height}x{width} images")
    r = (np.arange(height) * rows) // height
    c = (np.arange(width) * cols) // width
    return (r[:, None] * cols + c[None, :]).astype(np.int32)


def slic_segments(image: np.ndarray, n_segments: int = 16, compactness: float = 10.0,
                  seed: int = 0) -> np.ndarray:
    """SLIC superpixels (scikit-image) of one ``[H, W, 3]`` image, relabelled ``0..S-1``.

    Parameters
    ----------
    image : numpy.ndarray
        Pixel-scale image; it is min-max normalised before SLIC so any scale works.
    n_segments : int
        Approximate number of superpixels.
    compactness : float
        SLIC compactness (higher: more square segments).
    seed : int
        Unused by SLIC itself (deterministic); kept for a uniform segmenter signature.
    """
    from skimage.segmentation import slic

    img = np.asarray(image, dtype=np.float64)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    labels = slic(img, n_segments=int(n_segments), compactness=float(compactness), start_label=0,
                  channel_axis=-1)
    _, inv = np.unique(labels, return_inverse=True)
    return inv.reshape(labels.shape).astype(np.int32)


def segment_images(images: np.ndarray, method: str = "grid", grid=(4, 4), n_segments: int = 16,
                   compactness: float = 10.0) -> list[np.ndarray]:
    """Label maps for a batch of pixel-scale images (a grid is shared, not copied)."""
    if method not in METHODS:
        raise ImacsInputError("segmentation", f"unknown method {method!r}; choose 'grid' or 'slic'")
    n, h, w = images.shape[:3]
    if method == "grid":
        rows, cols = grid
        g = grid_segments(h, w, int(rows), int(cols))
        return [g] * n
    return [slic_segments(im, n_segments, compactness) for im in images]


def segment_bboxes(label_map: np.ndarray) -> np.ndarray:
    """Bounding boxes ``int [S, 4]`` as ``(x0, y0, x1, y1)`` (x1, y1 exclusive) per segment id."""
    n_seg = int(label_map.max()) + 1
    out = np.zeros((n_seg, 4), dtype=np.int64)
    ys, xs = np.indices(label_map.shape)
    flat = label_map.ravel()
    for arr, col, fn in ((xs, 0, np.minimum), (ys, 1, np.minimum)):
        init = np.full(n_seg, np.iinfo(np.int64).max)
        fn.at(init, flat, arr.ravel())
        out[:, col] = init
    for arr, col in ((xs, 2), (ys, 3)):
        init = np.full(n_seg, -1)
        np.maximum.at(init, flat, arr.ravel())
        out[:, col] = init + 1
    return out
