"""Compact JSON + typed-array columns + image sprite sheets that the front end (``js/``) renders.

No TensorFlow here: this module imports NumPy, pandas and Pillow only. It reads a
:class:`~imacs_widget.result.ComparisonResult` through its public API only.

``build_payload(result)`` returns ``(payload, buffers)``. The payload is plain JSON. With
``encoding="binary"`` (the widget) every per-segment and per-image column is a little-endian
typed array in ``buffers`` (a :data:`Column` reference ``{"dtype", "buffer", "length"}``, built
by :mod:`.columns`) and the sprite sheets (:mod:`.atlas`) are ``buffers`` too (referenced by
index; the widget's ``_images`` trait); with ``encoding="base64"`` columns are JSON lists and
sheets inline ``data:`` URLs (then ``buffers`` is empty; the cross-language fixture uses it).
The JSDoc mirror of this shape is ``js/src/types.js``; bump ``payload_version`` in
``protocol.json`` (:mod:`.protocol`, read by both sides) on any incompatible change to either.

**Pictures are not all sent.** ``tiles="first"`` (the live widget) carries the thumbnails of
the first screen only: per cluster and model the first ``per_row`` segments in the result's
within-cluster order (:func:`~.atlas.tile_selection`), and no source preview; the front end fetches
any other picture (a "+N more" row, a confusion drill-down, the histogram's bins, scrolling, a
hover preview) from the kernel a page at a time with the ``_tiles`` command
(:mod:`imacs_widget.widget.widget`), whose answer is an :data:`Atlas` built by
:func:`~.atlas.tile_page` plus its binary sheets. ``tiles="report"`` (the static report, no kernel)
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
        "version": 4,                      # protocol.PAYLOAD_VERSION
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
        "clusters": list[Cluster],         # every cluster 0..n_clusters-1, in
                                           # result.clusters order
        "findings": list[Finding],         # result.findings() records of this class, ranked
                                           # (empty: no significant difference)
        "significance_level": float,       # the level a cluster's q-value must be below to be
                                           # significant: result.params["significance_level"]
                                           # (the Settings field; 0.05 for results saved
                                           # before it)
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
        "sanity": {key: Sanity | None},    # result.sanity_verdicts (None: sanity_check() not run)
        "class_pictures": {key: Picture | None},  # result.class_pictures() of the class
        "thumbs": Atlas,                   # thumbnails (pixels outside the segment dimmed) of
                                           # the segment rows atlas["ids"]
        "sources": Atlas,                  # downscaled source images (hover preview) of the
                                           # image rows atlas["ids"]
    }

    Cluster = {"id": int,                # how sure the unfiltered view is (engine.statistics;
               "significant": bool | None,  # None / absent: computed without statistics)
               "p_value": float | None, "q_value": float | None, "effect": float | None,
               "ci": {key: [float, float] | None},       # 95 % interval of mean_attribution
               "mass": {key: float | None},              # attribution per image
               "mass_ci": {key: [float, float] | None},  # its interval
               # names and notes (absent from summaries without them):
               "name": str | None,         # the user's name (result.rename_cluster)
               "note": str,                # the user's note, "" when none
               "suggested_name": str | None,  # e.g. "honeycomb 41 %, chain mail 22 %"
               "suggested_labels": list[[str, float]],  # label, share in 0..1 (<= 3)
               "suggested_by": str | None,    # what suggested them
               "intervention": Intervention | None}  # its what-if test, when one was run

    Intervention = {"cluster": int, "key": str, "n_images": int, "seed": int,
                    "rows": [{"model": key, "name": str,     # result.interventions[id]:
                              "flip_to_target": float | None, "flip_to_target_ci":
                              [float, float] | None, "n_paste": int,
                              "paste_score_change": float | None,
                              "flip_from_target": float | None, "flip_from_target_ci":
                              [float, float] | None, "n_remove": int,
                              "remove_score_change": float | None}, ...], ...}

    Finding = {"rank": int, "cluster": int, "model": key, "versus": list[key],
               "effect": float, "q_value": float, "p_value": float, "size": int,
               "count": {key: int}, "outcome": str, "mean_attribution": {key: float | None},
               "ci": ..., "mass": ..., "mass_ci": ..., "removal": ..., "one_sided": key | None,
               "sentence": str}           # engine.findings.findings(), JSON-safe

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

    Column[T] = ...                    # see imacs_widget.widget.columns
    Atlas = ...                        # see imacs_widget.widget.atlas

A 100,000-segment result takes about 3.7 MB on display (typed columns ~3.3 MB + 480 first-screen
tiles); see bench/bench_widget_scale.py, tests/test_payload.py and tests/test_widget_paging.py.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engine.findings import findings
from ..engine.summary import ALPHA, INNER_ORDERS, MODELS, OUTCOMES
from ..engine.summary import CLUSTER_ORDERS as ORDERS
from .atlas import IMAGE_FORMATS, attach, bin_index, sheets_of, tile_page, tile_selection
from .columns import ENCODINGS, cluster_columns, image_order, map_column, order_rows, static_columns
from .protocol import PAYLOAD_VERSION

__all__ = ["PAYLOAD_VERSION", "OUTCOMES", "MODELS", "ORDERS", "INNER_ORDERS", "TILES",
           "build_payload", "payload_nbytes", "significance_level", "slider_range", "tile_page",
           "tile_selection", "image_order", "bin_index", "map_column"]

TILES = ("first", "report", "all")
"""Which thumbnails a payload carries (see :func:`build_payload`)."""


def slider_range(result, max_clusters: int = 40) -> tuple[int, int]:
    """Inclusive range of cluster counts the slider offers.

    ``result.n_clusters_range`` (what :meth:`~imacs_widget.result.ComparisonResult.recluster`
    accepts), its upper end capped at ``max(max_clusters, result.n_clusters)`` so that the
    slider stays usable and always holds the current count. Every value offered is accepted by
    ``recluster``.

    Returns
    -------
    (int, int)
        The lowest and highest count offered.
    """
    lo, hi = result.n_clusters_range
    return lo, min(hi, max(int(max_clusters), result.n_clusters))


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


def _map_key(seg):
    """What the cached static columns depend on of the segment map (a recomputed map differs)."""
    if "map_x" not in seg:
        return None
    xy = np.ascontiguousarray(seg[["map_x", "map_y"]].to_numpy(np.float32))
    return hashlib.blake2b(xy.tobytes(), digest_size=16).hexdigest()


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
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"image_format: expected one of webp, jpeg, png, got {image_format!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding: expected 'binary' or 'base64', got {encoding!r}")
    if thumb_size < 4 or source_size < 4:
        raise ValueError("thumb_size / source_size: expected at least 4 pixels")
    if tiles not in TILES:
        raise ValueError(f"tiles: expected 'first', 'report' or 'all', got {tiles!r}")

    seg = result.segments
    n = len(seg)
    if len(result.thumbnails) != n:
        raise ValueError(f"result.thumbnails: {len(result.thumbnails)} thumbnails for {n} segments")
    static = _cached(cache, ("static", encoding, _map_key(seg)), (seg, result.image_shape),
                     lambda: static_columns(seg, result.image_shape, encoding, result.models))
    images, segments_static, buffers, image_rows, order = static
    buffers = list(buffers)  # the cached prefix; this payload's own buffers follow
    static_buffers = len(buffers)
    orders = {name: order_rows(seg, name) for name in INNER_ORDERS}
    # what re-clustering changes (and the first screen's tiles, below)
    segments = {**segments_static, **cluster_columns(seg, orders, encoding, buffers)}

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
        if encoding == "base64" else sheets_of(result, "thumbs", chosen, options, memo=memo))
    sources = _cached(
        cache, ("sources", tuple(options.items()), tuple(order), tuple(chosen_images)),
        (result.source_images,),
        lambda: tile_page(result, "sources", chosen_images, images=order, encoding="base64",
                          **options)[0]
        if encoding == "base64" else sheets_of(result, "sources", chosen_images, options, order))
    if encoding == "binary":  # cached as (meta, sheet bytes): attach to this payload's buffers
        thumbs = attach(*thumbs, encoding, buffers)
        sources = attach(*sources, encoding, buffers)

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
        "clusters": [_cluster(c, tests) for tests in [_interventions(result)]
                     for c in result.clusters],
        "findings": _findings(result),
        "significance_level": significance_level(result),
        "bin_edges": [float(e) for e in np.asarray(result.bin_edges, dtype=np.float64)],
        "n_segments": n,
        "n_images": len(order),
        "static_buffers": static_buffers,
        "segments": segments,
        "images": images,
        "faithfulness": _faithfulness(result),
        "sanity": {m: _json_safe((result.sanity_verdicts or {}).get(m)) for m in result.models},
        "class_pictures": _class_pictures(result),
        "thumbs": thumbs,
        "sources": sources,
    }
    return payload, buffers


CLUSTER_STATISTICS = ("significant", "p_value", "q_value", "effect", "ci", "mass", "mass_ci")
"""Fields of a cluster summary the payload carries besides ``id`` (when the summary has them)."""
CLUSTER_NAMES = ("name", "note", "suggested_name", "suggested_labels", "suggested_by")
"""A cluster summary's name fields the payload carries (when the summary has them)."""


def _cluster(c: Mapping, tests: Mapping | None = None) -> dict:
    """A cluster summary's id, its statistics (:data:`CLUSTER_STATISTICS`), names and notes
    (:data:`CLUSTER_NAMES`) and its what-if test (``tests``: :func:`_interventions`), JSON-safe."""
    out = {"id": int(c["id"])}
    for k in CLUSTER_STATISTICS + CLUSTER_NAMES:
        if k in c:
            out[k] = _json_safe(c[k])
    if tests and out["id"] in tests:
        out["intervention"] = tests[out["id"]]
    return out


def _interventions(result) -> dict:
    """``{cluster id: record}`` of ``result.interventions`` (the what-if tests of the current
    clustering), JSON-safe; ``{}`` for a result without them."""
    try:
        tests = getattr(result, "interventions", None) or {}
        return {int(c): _json_safe(rec) for c, rec in tests.items()}
    except Exception as exc:  # a damaged record must not keep the widget from showing the result
        import logging

        logging.getLogger(__name__).warning("imacs widget: what-if tests left out: %s", exc)
        return {}


def significance_level(result) -> float:
    """The level the result's clusters are judged at.

    Parameters
    ----------
    result : ComparisonResult
        Any result; one saved before the ``significance_level`` setting has none in its
        ``params``.

    Returns
    -------
    float
        ``result.params["significance_level"]`` (the
        :class:`~imacs_widget.engine.settings.Settings` field), else
        :data:`~imacs_widget.engine.summary.ALPHA` (0.05), the level such a result was judged at.
    """
    return float((getattr(result, "params", None) or {}).get("significance_level", ALPHA))


def _findings(result) -> list[dict]:
    """:func:`~imacs_widget.engine.findings.findings` of the active class, JSON-safe."""
    if not all("significant" in c for c in result.clusters):
        return []  # summaries without statistics
    return [_json_safe(r) for r in findings(result.clusters, result.models,
                                            result.target_class, result.model_names)]


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


def payload_nbytes(payload: dict, buffers: list[bytes]) -> int:
    """Bytes on the wire: compact JSON (without buffers) + raw buffers.

    Returns
    -------
    int
        ``len`` of the payload's compact JSON plus the bytes of every buffer.
    """
    body = {k: v for k, v in payload.items() if k != "buffers"}
    return len(json.dumps(body, separators=(",", ":"))) + sum(len(b) for b in buffers)
