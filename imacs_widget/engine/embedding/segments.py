"""The embedding stage: each segment's crop through the independent embedding model (paper §4).

Crops are cut at the embedder's input size (pixels of the bbox outside an irregular segment
take the segment's mean colour) and embedded about :data:`EMBED_CHUNK` at a time, a multiple of
the embedder's batch size, so memory does not grow with segments × input size.
"""

from __future__ import annotations

import numpy as np

from ..crops import segment_crop, to_uint8
from ..progress import stage
from ..segmentation import segment_bboxes

EMBED_CHUNK = 256
"""Crops cut and embedded per step (rounded to a multiple of the embedder's batch size)."""


def embed_segments(images: np.ndarray, keys, label_maps: dict, pixel_range, embedder,
                   progress: bool = True) -> np.ndarray:
    """``float32 [n, D]`` embedding of each ``(image_index, segment_id)`` in ``keys``.

    Each distinct key is embedded once; rows follow ``keys``. ``label_maps`` maps an image
    index to its label map; ``pixel_range`` is the images' ``(black, white)``. An embedder with
    an ``embed_regions`` method (the PyTorch EfficientNet-Lite0) cuts the crops itself, on its
    device; otherwise crops are cut here (:func:`~imacs_widget.engine.crops.segment_crop`).
    """
    keys = [(int(i), int(s)) for i, s in keys]
    uniq = list(dict.fromkeys(keys))
    if hasattr(embedder, "embed_regions"):  # crops cut where the embedder runs (its device)
        boxes = {i: segment_bboxes(label_maps[i]) for i in dict.fromkeys(i for i, _ in uniq)}
        with stage("embed segments", len(uniq), progress, unit="seg") as tick:
            e = embedder.embed_regions(images, uniq, label_maps, boxes, pixel_range, tick)
        pos = {key: j for j, key in enumerate(uniq)}
        return np.asarray(e, np.float32)[np.array([pos[key] for key in keys], dtype=np.int64)]
    size = int(embedder.input_size)
    bs = int(getattr(embedder, "batch_size", 1) or 1)
    step = bs * max(1, EMBED_CHUNK // bs)
    parts = []
    with stage("embed segments", len(uniq), progress, unit="seg") as tick:
        cur, img8, boxes = None, None, None
        for s in range(0, len(uniq), step):
            chunk = uniq[s:s + step]
            crops = np.empty((len(chunk), size, size, 3), np.uint8)
            for j, (i, sid) in enumerate(chunk):
                if i != cur:
                    cur, img8 = i, to_uint8(images[i], pixel_range)
                    boxes = segment_bboxes(label_maps[i])
                crops[j] = segment_crop(img8, label_maps[i], sid, boxes[sid], size)[0]
            parts.append(embedder(crops, tick))
    e = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    pos = {key: j for j, key in enumerate(uniq)}
    return e[np.array([pos[key] for key in keys], dtype=np.int64)]
