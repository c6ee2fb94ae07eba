"""Compact JSON + typed-array columns + image sprite sheets that the front end (``js/``) renders.

No TensorFlow here: this module imports NumPy, pandas and Pillow only. It reads a
:class:`~imacs_widget.result.ComparisonResult` through its public API only.

``build_payload(result)`` returns ``(payload, buffers)``. The payload is plain JSON. With
``encoding="binary"`` (the widget) every per-segment and per-image column is a little-endian
typed array in ``buffers`` (a :data:`Column` reference: ``{"dtype", "buffer", "length"}``) and
the sprite sheets are ``buffers`` too (referenced by index; the widget's ``_images`` trait);
with ``encoding="base64"`` columns are JSON lists and sheets inline ``data:`` URLs (then
``buffers`` is empty; the cross-language fixture uses it). The JSDoc mirror of this shape is
``js/src/types.js``; bump ``PAYLOAD_VERSION`` on any incompatible change to either.

**Pictures are not all sent.** ``tiles="first"`` (the live widget) carries the thumbnails of
the first screen only: per cluster and model the first ``per_row`` segments in the result's
within-cluster order (:func:`tile_selection`), and no source preview; the front end fetches
any other picture (a "+N more" row, a confusion drill-down, the histogram's bins, scrolling, a
hover preview) from the kernel a page at a time with the ``_tiles`` command
(:mod:`imacs_widget.widget.widget`), whose answer is an :data:`Atlas` built by
:func:`tile_page` plus its binary sheets. ``tiles="report"`` (the static report, no kernel)
carries a bounded set — ``per_row`` per row in both orders, 5 per histogram bin, 24 per
confusion cell, and their images' source previews; the front end says how many tiles each row
left out. ``tiles="all"`` carries every picture. Each atlas lists the ids its cells hold.

The payload carries what the front end cannot recompute and nothing it recomputes: cluster
statistics and the order of clusters are recomputed in the browser under the outcome / model
filters with the definitions of :mod:`imacs_widget.engine.summary` (ported to
``js/src/data.js``), which is why attributions are exact float64 (not rounded) and the bin edges
are the result's. The order of segments inside a cluster needs no port: the payload carries each
segment's position in :func:`~imacs_widget.engine.summary.order_within` of all segments, and
the order of any subset (a cluster, one model, a filter) is that order restricted to it.

Typed shape (version 4)::

    Payload = {
        "version": 4,
        "class_names": list[str],          # every class, index = class id (labels, predictions)
        "target_class": str,               # class of interest of this payload
        "classes": list[str],              # result.classes_of_interest (>= 1); the class
                                           # selector lists these
        "models": list[str],               # the model keys: ["A", "B"], or up to "H"
        "model_names": {key: str},         # display name of every model
        "accuracy": {key: float | None},
        "warnings": list[str],
        "sampling": dict,                  # result.sampling made JSON-safe (may be {})
        "order": "imbalance" | "importance" | "size",   # the result's default cluster order
        "inner_order": "attribution" | "centroid",      # the result's default within-cluster order
        "n_clusters": int,                 # result.n_clusters
        "n_clusters_range": [int, int],    # inclusive range the n-clusters slider offers: inside
                                           # result.n_clusters_range (what recluster accepts),
                                           # capped at max(max_clusters, n_clusters)
        "clusters": list[{"id": int}],     # every cluster id 0..n_clusters-1, in result.clusters order
        "bin_edges": list[float],          # result.bin_edges, shared by all clusters (§5.1)
        "n_segments": int,
        "n_images": int,                   # distinct source images (rows of "images")
        "static_buffers": int,             # buffers 0..k-1 (images table, segment columns but
                                           # cluster / by_*): what re-clustering leaves as is
        "segments": {                      # columnar, every Column has n_segments entries;
                                           # entry i = row i of result.segments
            "model": Column[uint8],        #   index into "models" (model whose sampling chose
                                           #   the image): 0 = A, 1 = B, ...
            "image": Column[uint],         #   row into "images"
            "segment": Column[uint],       #   segment id in that image's label map
            "rank": Column[uint],          #   0 = most important by the ranking
            "cluster": Column[uint],
            "outcome": Column[uint8],      #   index into OUTCOMES = ["TP", "TN", "FP", "FN"]
            "attribution": Column[float64],  # exact Shapley value, class of interest
                                             # (NaN in a buffer / None in a list: not finite)
            "by_attribution": Column[uint32],  # position in order_within(all, "attribution")
            "by_centroid": Column[uint32],     # position in order_within(all, "centroid")
            "box": Column[uint16],         #   flat, 4 per segment: x0, y0, x1, y1 in thousandths
                                           #   of the image width / height (x1, y1 exclusive)
            "removal": Column[float64],    #   only in results with faithfulness: the score drop
                                           #   of the row's model when its cluster is blurred
                                           #   in its image (segments["cluster_removal"])
            "map": Column[uint16],         #   only once the segment map is computed
                                           #   (result.segment_map()): flat, 2 per segment,
                                           #   x, y in 0..65535 (= 0..1)
        },
        "images": {                        # columnar, one entry per distinct source image, in
                                           # order of first appearance (image_order)
            "index": Column[uint32],       #   image_index into the user's images
            "label": Column[uint],         #   true class id
            "pred_a": Column[uint], "pred_b": Column[uint],        # predicted class id of each
            "score_a": Column[float64], "score_b": Column[float64],  # model, its score for the
                                           # class of interest (pred_c / score_c ... with more
                                           # models: "pred_" + key.lower())
            "width": Column[uint], "height": Column[uint],         # original size in pixels
            "dataset_index": Column[uint], # only with compare_datasets: the image's index in
                                           # its own dataset (the side of its segments)
        },
        "faithfulness": {key: Faith | None},  # result.faithfulness per model (None: not computed)
        "sanity": {key: Sanity | None},    # result.sanity (None: sanity_check() not run)
        "class_pictures": {key: Picture | None},  # result.class_pictures() of the class
        "thumbs": Atlas,                   # thumbnails (pixels outside the segment dimmed) of
                                           # the segment rows atlas["ids"]
        "sources": Atlas,                  # downscaled source images (hover preview) of the
                                           # image rows atlas["ids"]
    }

    Faith = {"deletion_auc": float, "insertion_auc": float, "random_auc": float,
             "faithfulness": float, "n_images": int}

    Sanity = {"spearman": float | None,  # rank correlation with every layer randomised
              "layers": int,             # layers randomised
              "passed": bool}            # False: the attributions survive randomisation

    Picture = {"png": str,               # the model's picture of the class, base64 PNG
               "tile": int,              # its tiles' side in pixels
               "best_log_odds": float,   # the class's log-odds, best tile on blank inputs
               "mean_log_odds": float,   #   mean over the tiles
               "blank_log_odds": float}  #   blank inputs alone

    Column[T] = {"dtype": "uint8" | "uint16" | "uint32" | "int32" | "float64",
                 "buffer": int,            # index into the buffers (little-endian T)
                 "length": int}            # ... or, with encoding="base64", a JSON list
                                           # ("uint" columns take the smallest unsigned dtype)

    Atlas = {
        "mime": "image/webp" | "image/jpeg" | "image/png",
        "cell": int,                       # cell edge in pixels
        "cols": int,                       # cells per sheet row (row-major)
        "per_sheet": int,                  # cells per sheet (cols * cols)
        "count": int,                      # number of cells
        "ids": list[int],                  # cell k holds picture ids[k] (segment / image row)
        "sizes": list[[int, int]],         # (w, h) of the picture in each cell, top-left aligned
        "sheets": list[int | str],         # binary: index into the buffers (the widget's
                                           # ``_images`` trait, or a _tiles answer's buffers);
                                           # base64: a data: URL
    }

A 100,000-segment result takes about 3.7 MB on display (typed columns ~3.3 MB + 480 first-screen
tiles); see bench/bench_widget_scale.py, tests/test_payload.py and tests/test_widget_paging.py.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ..engine.summary import CLUSTER_ORDERS as ORDERS
from ..engine.summary import INNER_ORDERS, MODELS, OUTCOMES, order_within

__all__ = ["PAYLOAD_VERSION", "OUTCOMES", "MODELS", "ORDERS", "INNER_ORDERS", "build_payload",
           "payload_nbytes", "slider_range", "tile_page", "tile_selection", "image_order",
           "bin_index"]

PAYLOAD_VERSION = 4
_MIME = {"webp": "image/webp", "jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png"}


def slider_range(result, max_clusters: int = 40) -> tuple[int, int]:
    """Inclusive range of cluster counts the slider offers: ``result.n_clusters_range`` (what
    :meth:`~imacs_widget.result.ComparisonResult.recluster` accepts), its upper end capped at
    ``max(max_clusters, result.n_clusters)`` so that the slider stays usable and always holds
    the current count. Every value offered is accepted by ``recluster``."""
    lo, hi = result.n_clusters_range
    return lo, min(hi, max(int(max_clusters), result.n_clusters))


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
        img.save(buf, "WEBP", quality=quality, method=2)  # 2.5x faster than 4, ~7% larger
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
    for j, entry in enumerate(cache):
        if entry[0] == key and all(a is b for a, b in zip(entry[1], objects, strict=True)):
            cache.append(cache.pop(j))  # most recently used last: evicted last
            return entry[2]
    value = make()
    cache.append((key, objects, value))
    del cache[:-6]
    return value


def _thumbnails(thumbs: np.ndarray, masks: np.ndarray, size: int, dim: float,
                ids: Iterable[int] | None = None, memo: dict | None = None) -> list[np.ndarray]:
    """``uint8 [T, T, 3]`` thumbnails ``ids`` (default: all) resized to ``size``, pixels
    outside the mask dimmed; ``memo`` keeps them by id between calls."""
    ids = range(len(thumbs)) if ids is None else ids
    if memo is not None:
        missing = [i for i in ids if i not in memo]
        if missing:
            memo.update(zip(missing, _thumbnails(thumbs, masks, size, dim, missing), strict=True))
        return [memo[i] for i in ids]
    out = []
    for i in ids:
        t, m = thumbs[i], masks[i]
        if t.shape[0] != size or t.shape[1] != size:
            t = np.asarray(Image.fromarray(t).resize((size, size), Image.LANCZOS))
            m = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize(
                (size, size), Image.NEAREST)) > 127
        if dim > 0 and not m.all():
            f = t.astype(np.float32)
            f[~m] = f[~m] * (1 - dim) + 128.0 * dim
            t = np.clip(f + 0.5, 0, 255).astype(np.uint8)
        out.append(t)
    return out


def _source(img: np.ndarray, size: int) -> np.ndarray:
    """A ``uint8 [h, w, 3]`` source preview scaled so that its longest edge is ``size``."""
    h, w = img.shape[:2]
    if max(h, w) != size:
        s = size / max(h, w)
        img = np.asarray(Image.fromarray(img).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                    Image.LANCZOS))
    return img


def _exact(x: Any) -> float | None:
    """A finite float unchanged (JSON keeps every bit); NaN / inf -> None."""
    v = float(x)
    return v if math.isfinite(v) else None


def _ints(values: Iterable) -> list[int]:
    return [int(v) for v in values]


def _order_rows(seg, inner_order: str) -> np.ndarray:
    """Rows of ``seg`` (0..n-1) in ``order_within(seg, inner_order)``."""
    return order_within(seg.reset_index(drop=True), inner_order).index.to_numpy()


def _positions(rows: np.ndarray) -> np.ndarray:
    """Position of every row in the order ``rows``."""
    pos = np.empty(len(rows), np.int64)
    pos[rows] = np.arange(len(rows))
    return pos


def image_order(seg) -> list[int]:
    """Distinct ``image_index`` values of ``seg`` in order of first appearance: row j of the
    payload's ``images`` table (and cell id j of the ``sources`` atlas)."""
    return [int(v) for v in pd.unique(seg["image_index"].to_numpy())]


def _codes(values, names) -> np.ndarray:
    """Index of every value in ``names`` (values outside: ValueError)."""
    codes = pd.Categorical(values, categories=list(names)).codes.astype(np.int64)
    if (codes < 0).any():
        raise ValueError(f"values outside {list(names)}")
    return codes


def _uint_dtype(values: np.ndarray) -> str:
    top = int(values.max()) if len(values) else 0
    low = int(values.min()) if len(values) else 0
    if low < 0:
        return "int32"
    return "uint8" if top < 256 else "uint16" if top < 65536 else "uint32"


def _column(values: np.ndarray, encoding: str, buffers: list[bytes], dtype: str | None = None):
    """One column: a JSON list (``encoding="base64"``) or a typed-array buffer reference."""
    values = np.asarray(values)
    if dtype is None:
        dtype = "float64" if values.dtype.kind == "f" else _uint_dtype(values)
    if encoding == "base64":
        if dtype == "float64":
            return [v if math.isfinite(v) else None for v in values.astype(np.float64).tolist()]
        return values.astype(np.int64).tolist()
    buffers.append(values.astype(np.dtype(dtype).newbyteorder("<")).tobytes())
    return {"dtype": dtype, "buffer": len(buffers) - 1, "length": int(values.size)}


def bin_index(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Bin of each value on ``edges`` (summary.histogram's rule, the last bin closed, values
    outside in the first / last bin); -1 for missing values."""
    nb = len(edges) - 1
    b = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, nb - 1)
    return np.where(np.isfinite(values), b, -1)


def tile_selection(result, *, per_row: int = 30, per_bin: int = 0, per_cell: int = 0,
                   inner_orders: Iterable[str] | None = None,
                   orders: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Rows of ``result.segments`` whose thumbnails a payload carries (sorted, distinct).

    Per cluster and model the first ``per_row`` segments in each of ``inner_orders`` (default:
    the result's own; ``orders`` may hold their rows already sorted), and with ``per_bin`` / ``per_cell`` the first so many per histogram bin
    (cluster, model, bin) and per confusion-matrix cell (cluster, model, outcome) as well. A
    live widget sends the first screen (rows in the current order) and fetches the rest a page
    at a time; the static report sends a bounded number of tiles per row, bin and cell.
    """
    seg = result.segments
    if not len(seg):
        return np.zeros(0, np.int64)
    cluster = seg["cluster"].to_numpy()
    model = seg["model"].to_numpy()
    keys = [pd.Series(cluster), pd.Series(model)]
    groups = [(keys, per_row)]
    if per_bin:
        bins = bin_index(np.asarray(result.bin_edges, np.float64),
                         seg["attribution"].to_numpy(np.float64))
        groups.append((keys + [pd.Series(bins)], per_bin))
    if per_cell:
        groups.append((keys + [pd.Series(seg["outcome"].to_numpy())], per_cell))
    chosen: list[np.ndarray] = []
    for name in (inner_orders or [result.inner_order]):
        rows = orders[name] if orders and name in orders else _order_rows(seg, name)
        for k, limit in groups:
            frame = pd.DataFrame({f"k{j}": s.to_numpy()[rows] for j, s in enumerate(k)})
            frame["row"] = rows
            chosen.append(frame.groupby([f"k{j}" for j in range(len(k))], sort=False)
                          .head(int(limit))["row"].to_numpy())
    return np.unique(np.concatenate(chosen)).astype(np.int64)


def tile_page(result, atlas: str, ids, *, thumb_size: int = 48, source_size: int = 96,
              image_format: str = "webp", quality: int = 80, encoding: str = "binary",
              sheet_cols: int = 32, dim_outside: float = 0.6, images: list[int] | None = None,
              buffers: list[bytes] | None = None, memo: dict | None = None
              ) -> tuple[dict, list[bytes]]:
    """An :data:`Atlas` of the pictures ``ids`` (``atlas="thumbs"``: rows of
    ``result.segments``; ``"sources"``: rows of the payload's ``images`` table, ``images``
    being :func:`image_order` of the segments), cell k holding ``ids[k]``. Sheets are appended
    to ``buffers`` (returned) or inline ``data:`` URLs (``encoding="base64"``); ``memo`` keeps
    resized thumbnails between calls (the caller drops it when the thumbnails change)."""
    fmt = image_format.lower()
    buffers = [] if buffers is None else buffers
    ids = [int(i) for i in ids]
    if atlas == "thumbs":
        t, m = result.thumbnails, result.segment_masks
        pictures = _thumbnails(t, m, thumb_size, dim_outside, ids, memo)
        meta, sheets = _pack(pictures, thumb_size, sheet_cols, fmt, quality, background=128)
    elif atlas == "sources":
        order = image_order(result.segments) if images is None else images
        pictures = [_source(result.source_images[order[j]], source_size) for j in ids]
        meta, sheets = _pack(pictures, source_size, max(1, sheet_cols // 2), fmt, quality)
    else:
        raise ValueError(f"atlas: expected 'thumbs' or 'sources', got {atlas!r}")
    meta["ids"] = ids
    return _attach(meta, sheets, encoding, buffers), buffers


def build_payload(result, *, thumb_size: int = 48, source_size: int = 96,
                  image_format: str = "webp", quality: int = 80, encoding: str = "binary",
                  sheet_cols: int = 32, dim_outside: float = 0.6,
                  max_clusters: int = 40, cache: list | None = None, tiles: str = "first",
                  per_row: int = 30) -> tuple[dict, list[bytes]]:
    """Build the front-end payload of a ComparisonResult (its active class of interest).

    Parameters
    ----------
    result : ComparisonResult
        The comparison (see docs/ARCHITECTURE.md, "ComparisonResult fields").
    thumb_size : int
        Edge of each segment thumbnail in the sprite sheet, pixels.
    source_size : int
        Longest edge of each downscaled source image (hover preview), pixels.
    image_format : {"webp", "jpeg", "png"}
        Encoding of the sprite sheets.
    quality : int
        Lossy quality (1-100) for WebP / JPEG.
    encoding : {"binary", "base64"}
        ``"binary"``: segment / image columns are little-endian typed arrays and sheets are
        returned as ``buffers``, both referenced by index; ``"base64"``: columns are JSON lists,
        sheets inline ``data:`` URLs and ``buffers`` is empty.
    sheet_cols : int
        Cells per sheet row (a sheet holds at most ``sheet_cols**2`` cells).
    dim_outside : float
        0..1, how far thumbnail pixels outside the segment mask are blended towards grey.
    max_clusters : int
        Cap of the slider's ``n_clusters_range`` (see :func:`slider_range`).
    cache : list, optional
        A list the caller keeps between calls: encoded sprite sheets are reused while the
        result's ``thumbnails`` / ``source_images`` objects and the tiles chosen are the same.
    tiles : {"first", "report", "all"}
        Which thumbnails the payload carries: ``"first"`` the first screen (``per_row`` per
        cluster and model in the result's within-cluster order; no source previews: a live
        widget fetches the rest with the ``_tiles`` command), ``"report"`` a bounded set for
        the static report (``per_row`` per row in both orders, 5 per histogram bin, 24 per
        confusion cell, and the source previews of their images), ``"all"`` every one.
    per_row : int
        Tiles per cluster row (see ``tiles``).

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
    if tiles not in ("first", "report", "all"):
        raise ValueError(f"tiles: expected 'first', 'report' or 'all', got {tiles!r}")

    seg = result.segments
    n = len(seg)
    if len(result.thumbnails) != n:
        raise ValueError(f"result.thumbnails: {len(result.thumbnails)} thumbnails for {n} segments")
    static = _cached(cache, ("static", encoding, _map_key(seg)), (seg, result.image_shape),
                     lambda: _static_columns(seg, result.image_shape, encoding, result.models))
    images, segments_static, buffers, image_rows, order = static
    buffers = list(buffers)  # the cached prefix; this payload's own buffers follow
    segments = dict(segments_static)
    orders = {name: _order_rows(seg, name) for name in INNER_ORDERS}
    static_buffers = len(buffers)
    segments.update({  # what re-clustering changes (and the first screen's tiles, below)
        "cluster": _column(seg["cluster"].to_numpy(np.int64), encoding, buffers),
        "by_attribution": _column(_positions(orders["attribution"]), encoding, buffers, "uint32"),
        "by_centroid": _column(_positions(orders["centroid"]), encoding, buffers, "uint32"),
    })
    if "cluster_removal" in seg:
        rem = seg["cluster_removal"].to_numpy(np.float64)
        segments["removal"] = _column(np.where(np.isfinite(rem), rem, np.nan), encoding, buffers,
                                      "float64")

    # ---- pictures: only the chosen tiles
    if tiles == "all":
        chosen = np.arange(n)
    elif tiles == "report":
        chosen = tile_selection(result, per_row=per_row, per_bin=5, per_cell=24,
                                inner_orders=INNER_ORDERS, orders=orders)
    else:
        chosen = tile_selection(result, per_row=per_row, orders=orders)
    chosen_images = sorted({int(image_rows[i]) for i in chosen}) if tiles != "first" else []
    options = {"thumb_size": thumb_size, "source_size": source_size, "image_format": fmt,
               "quality": quality, "sheet_cols": sheet_cols, "dim_outside": dim_outside}
    memo = _cached(cache, ("memo", thumb_size, dim_outside),
                   (result.thumbnails, result.segment_masks), dict)
    thumbs = _cached(
        cache, ("thumbs", tuple(options.items()), chosen.tobytes()),
        (result.thumbnails, result.segment_masks),
        lambda: tile_page(result, "thumbs", chosen, encoding="base64", memo=memo, **options)[0]
        if encoding == "base64" else _pictures(result, "thumbs", chosen, options, memo=memo))
    sources = _cached(
        cache, ("sources", tuple(options.items()), tuple(order), tuple(chosen_images)),
        (result.source_images,),
        lambda: tile_page(result, "sources", chosen_images, images=order, encoding="base64",
                          **options)[0]
        if encoding == "base64" else _pictures(result, "sources", chosen_images, options, order))
    if encoding == "binary":  # cached as (meta, sheet bytes): attach to this payload's buffers
        thumbs = _attach(*thumbs, encoding, buffers)
        sources = _attach(*sources, encoding, buffers)

    payload = {
        "version": PAYLOAD_VERSION,
        "class_names": [str(c) for c in result.class_names],
        "target_class": str(result.target_class),
        "classes": [str(c) for c in result.classes_of_interest],
        "models": list(result.models),
        "model_names": {m: str(result.model_names[m]) for m in result.models},
        "accuracy": {m: _num(result.accuracy.get(m), 4) for m in result.models},
        "warnings": [str(x) for x in result.warnings],
        "sampling": _json_safe(result.sampling),
        "order": result.order,
        "inner_order": result.inner_order,
        "n_clusters": int(result.n_clusters),
        "n_clusters_range": list(slider_range(result, max_clusters)),
        "clusters": [{"id": int(c["id"])} for c in result.clusters],
        "bin_edges": [float(e) for e in np.asarray(result.bin_edges, dtype=np.float64)],
        "n_segments": n,
        "n_images": len(order),
        "static_buffers": static_buffers,
        "segments": segments,
        "images": images,
        "faithfulness": _faithfulness(result),
        "sanity": {m: _json_safe((result.sanity or {}).get(m)) for m in result.models},
        "class_pictures": _class_pictures(result),
        "thumbs": thumbs,
        "sources": sources,
    }
    return payload, buffers


def _class_pictures(result) -> dict:
    """Each model's class picture (PNG, base64) and its log-odds figures, or ``None``."""
    saved = result.class_picture_records or {}
    keys = ("png", "tile", "best_log_odds", "mean_log_odds", "blank_log_odds")
    return {m: ({k: _json_safe(saved[m][k]) for k in keys} if m in saved else None)
            for m in result.models}


def _faithfulness(result) -> dict:
    """``{model: {column: value} | None}`` of :attr:`ComparisonResult.faithfulness`."""
    table = result.faithfulness
    out = {}
    for m in result.models:
        if m not in table.index:
            out[m] = None
            continue
        row = table.loc[m]
        out[m] = {c: (int(row[c]) if c == "n_images" else _num(row[c], 6)) for c in table.columns}
    return out


def _static_columns(seg, image_shape, encoding: str, models=MODELS):
    """What re-clustering leaves as it is: the images table and the segment columns but the
    clusters, with their buffers (cached by the widget between re-clusters)."""
    n = len(seg)
    buffers: list[bytes] = []

    # ---- images table (distinct source images in order of first appearance)
    codes, uniques = pd.factorize(seg["image_index"].to_numpy(np.int64), sort=False)
    image_rows = codes.astype(np.int64)
    order = [int(v) for v in uniques]  # image_order(seg)
    first = np.full(len(order), n, np.int64)
    np.minimum.at(first, image_rows, np.arange(n))

    def col(name, dtype=None):
        values = seg[name].to_numpy()[first]
        if dtype == "float64":  # exact; NaN / inf -> null
            values = values.astype(np.float64)
            return _column(np.where(np.isfinite(values), values, np.nan), encoding, buffers, dtype)
        return _column(values.astype(np.int64), encoding, buffers, dtype)

    h, w = (int(v) for v in image_shape[:2])  # bboxes are in these pixels
    images = {
        "index": _column(np.asarray(order, np.int64), encoding, buffers, "uint32"),
        "label": col("label"),
        **{f"pred_{m.lower()}": col(f"pred_{m.lower()}") for m in models},
        **{f"score_{m.lower()}": col(f"score_{m.lower()}", "float64") for m in models},
        "width": _column(np.full(len(order), w, np.int64), encoding, buffers),
        "height": _column(np.full(len(order), h, np.int64), encoding, buffers),
    }
    if "dataset_index" in seg:  # compare_datasets: each image's index in its own dataset
        images["dataset_index"] = col("dataset_index")

    # ---- segments table
    bb = np.asarray(seg["bbox"].tolist(), np.float64).reshape(n, 4)
    scale = np.array([w, h, w, h], np.float64)
    box = np.clip(np.round(1000 * bb / scale), 0, 1000).astype(np.int64).reshape(-1)
    attribution = seg["attribution"].to_numpy(np.float64)
    segments = {  # what re-clustering leaves as it is: these buffers come first
        "model": _column(_codes(seg["model"], models), encoding, buffers, "uint8"),
        "image": _column(image_rows, encoding, buffers),
        "segment": _column(seg["segment_index"].to_numpy(np.int64), encoding, buffers),
        "rank": _column(seg["rank"].to_numpy(np.int64), encoding, buffers),
        "outcome": _column(_codes(seg["outcome"], OUTCOMES), encoding, buffers, "uint8"),
        "attribution": _column(np.where(np.isfinite(attribution), attribution, np.nan),
                               encoding, buffers, "float64"),
        "box": _column(box, encoding, buffers, "uint16"),
    }
    if "map_x" in seg:
        segments["map"] = _column(map_column(seg), encoding, buffers, "uint16")
    return images, segments, buffers, image_rows, order


def _map_key(seg: pd.DataFrame):
    """What the cached static columns depend on of the segment map (a recomputed map differs)."""
    if "map_x" not in seg:
        return None
    import hashlib

    xy = np.ascontiguousarray(seg[["map_x", "map_y"]].to_numpy(np.float32))
    return hashlib.blake2b(xy.tobytes(), digest_size=16).hexdigest()


def map_column(seg: pd.DataFrame) -> np.ndarray:
    """The segment map as the payload carries it: ``int64 [2 n]`` flat x, y in 0..65535."""
    xy = np.stack([seg["map_x"].to_numpy(np.float64), seg["map_y"].to_numpy(np.float64)], 1)
    return np.clip(np.round(np.nan_to_num(xy, nan=0.5) * 65535), 0, 65535).astype(np.int64).reshape(-1)


def _pictures(result, atlas, ids, options, images=None, memo=None) -> tuple[dict, list[bytes]]:
    """(meta without sheets, encoded sheets) of :func:`tile_page`, for the cache."""
    page, sheets = tile_page(result, atlas, ids, images=images, memo=memo, **options)
    meta = {k: v for k, v in page.items() if k != "sheets"}
    return meta, sheets


def payload_nbytes(payload: dict, buffers: list[bytes]) -> int:
    """Bytes on the wire: compact JSON (without buffers) + raw buffers."""
    body = {k: v for k, v in payload.items() if k != "buffers"}
    return len(json.dumps(body, separators=(",", ":"))) + sum(len(b) for b in buffers)
