"""Compact JSON + image sprite sheets that the front end (``js/``) renders.

No TensorFlow here: this module imports NumPy and Pillow only (pandas comes in through the
result object it is given).

``build_payload(result)`` returns ``(payload, buffers)``. The payload is plain JSON; images are
packed into a few sprite sheets (one cell per thumbnail / source image) that are either binary
``buffers`` (referenced from the payload by index, sent as widget binary buffers) or inline
``data:`` URLs (``encoding="base64"``, then ``buffers`` is empty). The JSDoc mirror of this shape
is ``js/src/types.js``; bump ``PAYLOAD_VERSION`` on any incompatible change to either.

Typed shape (version 1)::

    Payload = {
        "version": 1,
        "class_names": list[str],          # every class, index = class id (labels, predictions)
        "target_class": str,               # class of interest of this payload
        "classes": list[str],              # classes of interest the result holds (>= 1); the
                                           # class selector lists these
        "model_names": {"A": str, "B": str},
        "accuracy": {"A": float | None, "B": float | None},
        "warnings": list[str],
        "sampling": dict,                  # result.sampling made JSON-safe (may be {})
        "order": "imbalance" | "importance" | "size",   # the result's default cluster order
        "inner_order": "attribution" | "centroid",      # the result's default within-cluster order
        "n_clusters": int,
        "n_clusters_range": [int, int],    # inclusive range the n-clusters slider offers
        "clusters": list[{"id": int}],     # cluster ids in the result's order
        "bin_edges": list[float],          # attribution bins shared by all clusters (§5.1)
        "n_segments": int,
        "segments": {                      # columnar, every list has n_segments entries;
                                           # entry i = row i of result.segments
            "model": list[int],            #   0 = A, 1 = B (model whose sampling chose the image)
            "image": list[int],            #   row into "images"
            "segment": list[int],          #   segment id in that image's label map
            "rank": list[int],             #   0 = most important by the ranking
            "cluster": list[int],
            "outcome": list[int],          #   index into OUTCOMES = ["TP", "TN", "FP", "FN"]
            "attribution": list[float | None],        # Shapley value, class of interest
            "centroid_distance": list[float | None],
            "box": list[int],              #   flat, 4 per segment: x0, y0, x1, y1 in thousandths
                                           #   of the image width / height (x1, y1 exclusive)
        },
        "images": {                        # columnar, one entry per distinct source image
            "index": list[int],            #   image_index into the user's images
            "label": list[int],            #   true class id
            "pred_a": list[int], "pred_b": list[int],        # predicted class id of each model
            "score_a": list[float | None], "score_b": list[float | None],  # score, class of interest
            "width": list[int], "height": list[int],         # original size in pixels
        },
        "thumbs": Atlas,                   # cell i = segment i (pixels outside the segment dimmed)
        "sources": Atlas,                  # cell j = image j, downscaled (hover preview)
    }

    Atlas = {
        "mime": "image/webp" | "image/jpeg" | "image/png",
        "cell": int,                       # cell edge in pixels
        "cols": int,                       # cells per sheet row (row-major)
        "per_sheet": int,                  # cells per sheet (cols * cols)
        "count": int,                      # number of cells
        "sizes": list[[int, int]],         # (w, h) of the picture in each cell, top-left aligned
        "sheets": list[int | str],         # binary: index into the buffers (the widget's
                                           # ``_images`` trait); base64: a data: URL
    }

A 1,000-segment result (200 images) takes about 1.2 MB with the defaults (WebP, 48 px thumbnails,
96 px sources); see tests/test_payload.py.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from PIL import Image

PAYLOAD_VERSION = 1
OUTCOMES = ("TP", "TN", "FP", "FN")
MODELS = ("A", "B")
ORDERS = ("imbalance", "importance", "size")
INNER_ORDERS = ("attribution", "centroid")
_MIME = {"webp": "image/webp", "jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png"}


# ---------------------------------------------------------------------------------------------
# small accessors shared with widget.py (tolerant of the result object's exact type)
# ---------------------------------------------------------------------------------------------

def available_classes(result) -> list[str]:
    """Classes of interest the result holds (``result.classes_of_interest``), as strings."""
    classes = getattr(result, "classes_of_interest", None)
    if classes is None:
        classes = [result.target_class]
    out = [str(c) for c in classes]
    if str(result.target_class) not in out:
        out.insert(0, str(result.target_class))
    return out


def cluster_ids(result) -> list[int]:
    """Cluster ids in the result's order (``result.clusters``), falling back to the segments."""
    ids: list[int] = []
    for i, c in enumerate(getattr(result, "clusters", None) or []):
        if isinstance(c, Mapping):
            cid = next((c[k] for k in ("cluster", "id", "cluster_id") if k in c), i)
        else:
            cid = c
        ids.append(int(cid))
    present = sorted({int(c) for c in result.segments["cluster"].tolist()})
    if not ids:
        return present
    seen = set(ids)
    return ids + [c for c in present if c not in seen]


def n_clusters_range(result, max_clusters: int = 40) -> tuple[int, int]:
    """Inclusive range of cluster counts offered by the slider."""
    n = len(result.segments)
    return (min(2, max(n, 1)), max(min(max_clusters, n), 1))


def current_n_clusters(result) -> int:
    n = getattr(result, "n_clusters", None)
    if n is None:
        n = len(cluster_ids(result))
    return int(n)


def bin_edges(result, n_bins: int = 12) -> list[float]:
    """Attribution bin edges shared by all clusters (``result.bin_edges`` when present).

    Fallback mirrors :func:`imacs_widget.summary.shared_bin_edges`: ``n_bins`` equal bins over
    all attributions, the range always including 0.
    """
    edges = getattr(result, "bin_edges", None)
    if edges is None:
        a = np.asarray(result.segments["attribution"], dtype=np.float64)
        a = a[np.isfinite(a)]
        lo = float(min(a.min(initial=0.0), 0.0))
        hi = float(max(a.max(initial=0.0), 0.0))
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1)
    return [float(e) for e in np.asarray(edges, dtype=np.float64)]


def image_size(result, image_index: int) -> tuple[int, int]:
    """Original ``(height, width)`` of an image, in the pixels the bboxes are expressed in."""
    sizes = getattr(result, "image_sizes", None)
    if sizes is not None and image_index in sizes:
        h, w = sizes[image_index][:2]
        return int(h), int(w)
    for shape in (getattr(result, "image_shape", None),
                  (getattr(result, "params", None) or {}).get("image_shape")):
        if shape is not None:
            return int(shape[0]), int(shape[1])
    src = result.source_images[image_index]
    return int(src.shape[0]), int(src.shape[1])


# ---------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------

def _num(x: Any, digits: int = 5) -> float | None:
    """Finite float rounded to ``digits`` significant digits; NaN/inf -> None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def _json_safe(obj: Any) -> Any:
    """Convert NumPy scalars/arrays and tuples into plain JSON values; drop what cannot be."""
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _num(obj, 8)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "webp":
        img.save(buf, "WEBP", quality=quality, method=4)
    elif fmt in ("jpeg", "jpg"):
        img.save(buf, "JPEG", quality=quality, optimize=True, progressive=False)
    elif fmt == "png":
        img.save(buf, "PNG", optimize=True)
    else:  # pragma: no cover - checked by build_payload
        raise ValueError(fmt)
    return buf.getvalue()


def _pack(pictures: list[np.ndarray], cell: int, cols: int, fmt: str, quality: int,
          background: int = 0) -> tuple[dict, list[bytes]]:
    """Pack ``uint8 [h<=cell, w<=cell, 3]`` pictures into encoded sprite sheets (row-major)."""
    count = len(pictures)
    cols = max(1, min(cols, count))
    per_sheet = cols * cols
    sheets: list[bytes] = []
    for start in range(0, count, per_sheet):
        chunk = pictures[start:start + per_sheet]
        rows = math.ceil(len(chunk) / cols)
        sheet = np.full((rows * cell, cols * cell, 3), background, np.uint8)
        for k, p in enumerate(chunk):
            r, c = divmod(k, cols)
            sheet[r * cell:r * cell + p.shape[0], c * cell:c * cell + p.shape[1]] = p
        sheets.append(_encode(Image.fromarray(sheet), fmt, quality))
    meta = {"mime": _MIME[fmt], "cell": int(cell), "cols": int(cols), "per_sheet": int(per_sheet),
            "count": int(count), "sizes": [[int(p.shape[1]), int(p.shape[0])] for p in pictures]}
    return meta, sheets


def _attach(meta: dict, sheets: list[bytes], encoding: str, buffers: list[bytes]) -> dict:
    out = dict(meta)
    if encoding == "binary":
        out["sheets"] = list(range(len(buffers), len(buffers) + len(sheets)))
        buffers.extend(sheets)
    else:
        out["sheets"] = [f"data:{meta['mime']};base64," + base64.b64encode(b).decode("ascii")
                         for b in sheets]
    return out


def _cached(cache: list | None, key: tuple, objects: tuple, make):
    """Look ``key`` up in ``cache`` (entries hold the source objects, so ids are not reused)."""
    if cache is None:
        return make()
    for entry in cache:
        if entry[0] == key and all(a is b for a, b in zip(entry[1], objects, strict=True)):
            return entry[2]
    value = make()
    cache.append((key, objects, value))
    del cache[:-4]
    return value


def _thumbnails(result, size: int, dim: float) -> list[np.ndarray]:
    thumbs = np.asarray(result.thumbnails)
    masks = getattr(result, "segment_masks", None)
    masks = None if masks is None else np.asarray(masks, bool)
    out = []
    for i in range(len(thumbs)):
        t = thumbs[i]
        if t.dtype != np.uint8:
            t = np.clip(t, 0, 255).astype(np.uint8)
        if t.ndim == 2:
            t = np.repeat(t[..., None], 3, axis=-1)
        t = t[..., :3]
        m = None if masks is None else masks[i]
        if t.shape[0] != size or t.shape[1] != size:
            t = np.asarray(Image.fromarray(t).resize((size, size), Image.LANCZOS))
            if m is not None:
                m = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize(
                    (size, size), Image.NEAREST)) > 127
        if m is not None and dim > 0 and not m.all():
            f = t.astype(np.float32)
            f[~m] = f[~m] * (1 - dim) + 128.0 * dim
            t = np.clip(f + 0.5, 0, 255).astype(np.uint8)
        out.append(t)
    return out


def _source(img: np.ndarray, size: int) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    img = img[..., :3]
    h, w = img.shape[:2]
    s = size / max(h, w)
    if s < 1 or max(h, w) != size:
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.LANCZOS))
    return img


def _ints(values: Iterable) -> list[int]:
    return [int(v) for v in values]


def build_payload(result, *, thumb_size: int = 48, source_size: int = 96,
                  image_format: str = "webp", quality: int = 80, encoding: str = "binary",
                  sheet_cols: int = 32, dim_outside: float = 0.6,
                  max_clusters: int = 40, cache: list | None = None) -> tuple[dict, list[bytes]]:
    """Build the front-end payload of a ComparisonResult.

    Parameters
    ----------
    result : ComparisonResult
        Anything with the fields listed in docs/ARCHITECTURE.md ("ComparisonResult fields").
    thumb_size : int
        Edge of each segment thumbnail in the sprite sheet, pixels.
    source_size : int
        Longest edge of each downscaled source image (hover preview), pixels.
    image_format : {"webp", "jpeg", "png"}
        Encoding of the sprite sheets.
    quality : int
        Lossy quality (1-100) for WebP / JPEG.
    encoding : {"binary", "base64"}
        ``"binary"``: sheets are returned as ``buffers`` and referenced by index;
        ``"base64"``: sheets are inline ``data:`` URLs and ``buffers`` is empty.
    sheet_cols : int
        Cells per sheet row (a sheet holds at most ``sheet_cols**2`` cells).
    dim_outside : float
        0..1, how far thumbnail pixels outside the segment mask are blended towards grey.
    max_clusters : int
        Upper end of ``n_clusters_range``.
    cache : list, optional
        A list the caller keeps between calls: encoded sprite sheets are reused while the
        result's ``thumbnails`` / ``source_images`` objects are the same (re-clustering does not
        re-encode pictures).

    Returns
    -------
    (dict, list[bytes])
        The payload (shape in the module docstring) and the binary buffers it references.
    """
    fmt = image_format.lower()
    if fmt not in _MIME:
        raise ValueError(f"image_format: expected one of webp, jpeg, png, got {image_format!r}")
    if encoding not in ("binary", "base64"):
        raise ValueError(f"encoding: expected 'binary' or 'base64', got {encoding!r}")
    if thumb_size < 4 or source_size < 4:
        raise ValueError("thumb_size / source_size: expected at least 4 pixels")

    seg = result.segments
    n = len(seg)
    if len(result.thumbnails) != n:
        raise ValueError(f"result.thumbnails: {len(result.thumbnails)} thumbnails for {n} segments")

    # ---- images table (distinct source images in order of first appearance)
    image_index = _ints(seg["image_index"])
    order: dict[int, int] = {}
    for idx in image_index:
        order.setdefault(idx, len(order))
    first_row = {}
    for r, idx in enumerate(image_index):
        first_row.setdefault(idx, r)
    rows = [first_row[idx] for idx in order]

    def col(name, conv, default=None):
        if name not in seg:
            return [default] * len(rows)
        values = seg[name].tolist()
        return [conv(values[r]) for r in rows]

    sizes = {idx: image_size(result, idx) for idx in order}
    images = {
        "index": list(order),
        "label": col("label", int, -1),
        "pred_a": col("pred_a", int, -1),
        "pred_b": col("pred_b", int, -1),
        "score_a": col("score_a", _num),
        "score_b": col("score_b", _num),
        "width": [sizes[idx][1] for idx in order],
        "height": [sizes[idx][0] for idx in order],
    }

    # ---- segments table
    box: list[int] = []
    for idx, bb in zip(image_index, seg["bbox"].tolist(), strict=True):
        h, w = sizes[idx]
        x0, y0, x1, y1 = (float(v) for v in bb)
        box += [round(1000 * x0 / w), round(1000 * y0 / h), round(1000 * x1 / w),
                round(1000 * y1 / h)]
    box = [min(1000, max(0, v)) for v in box]
    outcome_code = {o: i for i, o in enumerate(OUTCOMES)}
    model_code = {m: i for i, m in enumerate(MODELS)}
    segments = {
        "model": [model_code[str(m)] for m in seg["model"].tolist()],
        "image": [order[idx] for idx in image_index],
        "segment": _ints(seg["segment_index"]) if "segment_index" in seg else list(range(n)),
        "rank": _ints(seg["rank"]) if "rank" in seg else [0] * n,
        "cluster": _ints(seg["cluster"]),
        "outcome": [outcome_code[str(o)] for o in seg["outcome"].tolist()],
        "attribution": [_num(v) for v in seg["attribution"].tolist()],
        "centroid_distance": ([_num(v, 4) for v in seg["centroid_distance"].tolist()]
                              if "centroid_distance" in seg else [None] * n),
        "box": box,
    }

    # ---- pictures
    buffers: list[bytes] = []
    settings = (fmt, quality, sheet_cols, thumb_size, source_size, dim_outside)
    masks = getattr(result, "segment_masks", None)
    thumbs = _cached(
        cache, ("thumbs", settings), (result.thumbnails, masks),
        lambda: _pack(_thumbnails(result, thumb_size, dim_outside), thumb_size, sheet_cols, fmt,
                      quality, background=128))
    sources = _cached(
        cache, ("sources", settings, tuple(order)), (result.source_images,),
        lambda: _pack([_source(result.source_images[idx], source_size) for idx in order],
                      source_size, max(1, sheet_cols // 2), fmt, quality))
    thumbs = _attach(*thumbs, encoding, buffers)
    sources = _attach(*sources, encoding, buffers)

    model_names = getattr(result, "model_names", None) or {}
    accuracy = getattr(result, "accuracy", None) or {}
    default_order = getattr(result, "order", "imbalance")
    default_inner = getattr(result, "inner_order", "attribution")
    payload = {
        "version": PAYLOAD_VERSION,
        "class_names": [str(c) for c in result.class_names],
        "target_class": str(result.target_class),
        "classes": available_classes(result),
        "model_names": {m: str(model_names.get(m, f"model {m}")) for m in MODELS},
        "accuracy": {m: _num(accuracy.get(m), 4) if isinstance(accuracy, Mapping) else None
                     for m in MODELS},
        "warnings": [str(w) for w in (getattr(result, "warnings", None) or [])],
        "sampling": _json_safe(getattr(result, "sampling", None) or {}),
        "order": default_order if default_order in ORDERS else "imbalance",
        "inner_order": default_inner if default_inner in INNER_ORDERS else "attribution",
        "n_clusters": current_n_clusters(result),
        "n_clusters_range": list(n_clusters_range(result, max_clusters)),
        "clusters": [{"id": c} for c in cluster_ids(result)],
        "bin_edges": bin_edges(result),
        "n_segments": n,
        "segments": segments,
        "images": images,
        "thumbs": thumbs,
        "sources": sources,
    }
    return payload, buffers


def payload_nbytes(payload: dict, buffers: list[bytes]) -> int:
    """Bytes on the wire: compact JSON (without buffers) + raw buffers."""
    body = {k: v for k, v in payload.items() if k != "buffers"}
    return len(json.dumps(body, separators=(",", ":"))) + sum(len(b) for b in buffers)
