"""The payload's column codec: ``result.segments`` as the typed-array columns the front end reads.

A column is a little-endian typed array appended to the payload's binary buffers and referenced
as ``{"dtype", "buffer", "length"}`` (``encoding="binary"``, the widget), or a JSON list
(``encoding="base64"``, the static fixture); ``js/src/data.js`` ``column`` decodes both. This
module builds the two columnar tables of the payload (shape: :mod:`imacs_widget.widget.payload`):
the images table and the segment columns re-clustering leaves as they are
(:func:`static_columns`), and the columns it changes (:func:`cluster_columns`). NumPy and pandas
only.

Typed shape::

    Column[T] = {"dtype": "uint8" | "uint16" | "uint32" | "int32" | "float64",
                 "buffer": int,            # index into the buffers (little-endian T)
                 "length": int}            # ... or, with encoding="base64", a JSON list
                                           # ("uint" columns take the smallest unsigned dtype)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..engine.summary import MODELS, OUTCOMES, order_within
from .protocol import BOX_SCALE, COLUMN_DTYPES, MAP_SCALE

__all__ = ["ENCODINGS", "encode_column", "uint_dtype", "codes", "image_order", "order_rows",
           "positions", "map_column", "static_columns", "cluster_columns"]

ENCODINGS = ("binary", "base64")
"""How columns travel: typed-array buffers, or JSON lists."""


def uint_dtype(values: np.ndarray) -> str:
    """The smallest unsigned dtype that holds ``values`` (``"int32"`` if any is negative)."""
    top = int(values.max()) if len(values) else 0
    low = int(values.min()) if len(values) else 0
    if low < 0:
        return "int32"
    return "uint8" if top < 256 else "uint16" if top < 65536 else "uint32"


def encode_column(values, encoding: str, buffers: list[bytes], dtype: str | None = None):
    """One column of the payload.

    Parameters
    ----------
    values : array-like
        The column's values (floats: NaN / inf travel as NaN in a buffer, ``None`` in a list).
    encoding : {"binary", "base64"}
        ``"binary"``: append the values to ``buffers`` as a little-endian typed array;
        ``"base64"``: return them as a JSON list.
    buffers : list of bytes
        The payload's buffers (appended to with ``encoding="binary"``).
    dtype : str, optional
        One of ``protocol.COLUMN_DTYPES``; default ``"float64"`` for floats, else the smallest
        unsigned dtype that holds the values (:func:`uint_dtype`).

    Returns
    -------
    dict or list
        ``{"dtype", "buffer", "length"}`` (the buffer's index) or the JSON list.
    """
    values = np.asarray(values)
    if dtype is None:
        dtype = "float64" if values.dtype.kind == "f" else uint_dtype(values)
    if dtype not in COLUMN_DTYPES:
        raise ValueError(f"dtype: expected one of {list(COLUMN_DTYPES)}, got {dtype!r}")
    if encoding == "base64":
        if dtype == "float64":
            return [v if math.isfinite(v) else None for v in values.astype(np.float64).tolist()]
        return values.astype(np.int64).tolist()
    buffers.append(values.astype(np.dtype(dtype).newbyteorder("<")).tobytes())
    return {"dtype": dtype, "buffer": len(buffers) - 1, "length": int(values.size)}


def codes(values, names: Sequence[str]) -> np.ndarray:
    """Index of every value in ``names`` (``int64``; a value outside raises ValueError)."""
    out = pd.Categorical(values, categories=list(names)).codes.astype(np.int64)
    if (out < 0).any():
        raise ValueError(f"values outside {list(names)}")
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    """``float64`` values with NaN in place of anything not finite."""
    values = np.asarray(values, np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def image_order(seg: pd.DataFrame) -> list[int]:
    """Distinct ``image_index`` values of ``seg`` in order of first appearance: row j of the
    payload's ``images`` table (and cell id j of the ``sources`` atlas)."""
    return [int(v) for v in pd.unique(seg["image_index"].to_numpy())]


def order_rows(seg: pd.DataFrame, inner_order: str) -> np.ndarray:
    """Rows of ``seg`` (0..n-1) in ``order_within(seg, inner_order)``."""
    return order_within(seg.reset_index(drop=True), inner_order).index.to_numpy()


def positions(rows: np.ndarray) -> np.ndarray:
    """Position of every row in the order ``rows`` (the inverse permutation)."""
    pos = np.empty(len(rows), np.int64)
    pos[rows] = np.arange(len(rows))
    return pos


def map_column(seg: pd.DataFrame) -> np.ndarray:
    """The segment map as the payload carries it: ``int64 [2 n]`` flat x, y in
    ``0..protocol.MAP_SCALE`` (a missing point at the centre)."""
    xy = np.stack([seg["map_x"].to_numpy(np.float64), seg["map_y"].to_numpy(np.float64)], 1)
    scaled = np.round(np.nan_to_num(xy, nan=0.5) * MAP_SCALE)
    return np.clip(scaled, 0, MAP_SCALE).astype(np.int64).reshape(-1)


def static_columns(seg: pd.DataFrame, image_shape, encoding: str, models=MODELS):
    """What re-clustering leaves as it is: the images table and the segment columns but the
    clusters, with their buffers (cached by the widget between re-clusters).

    Parameters
    ----------
    seg : pandas.DataFrame
        ``result.segments``.
    image_shape : tuple
        ``result.image_shape``: the (height, width) the boxes are in.
    encoding : {"binary", "base64"}
        See :func:`encode_column`.
    models : sequence of str
        The result's model keys.

    Returns
    -------
    (dict, dict, list of bytes, numpy.ndarray, list of int)
        The images table, the static segment columns, their buffers, each segment's row in the
        images table, and :func:`image_order`.
    """
    n = len(seg)
    buffers: list[bytes] = []

    # ---- images table (distinct source images in order of first appearance)
    image_codes, uniques = pd.factorize(seg["image_index"].to_numpy(np.int64), sort=False)
    image_rows = image_codes.astype(np.int64)
    order = [int(v) for v in uniques]  # image_order(seg)
    first = np.full(len(order), n, np.int64)
    np.minimum.at(first, image_rows, np.arange(n))

    def col(name, dtype=None):
        values = seg[name].to_numpy()[first]
        if dtype == "float64":  # exact; NaN / inf -> null
            return encode_column(_finite(values), encoding, buffers, dtype)
        return encode_column(values.astype(np.int64), encoding, buffers, dtype)

    h, w = (int(v) for v in image_shape[:2])  # bboxes are in these pixels
    images = {
        "index": encode_column(np.asarray(order, np.int64), encoding, buffers, "uint32"),
        "label": col("label"),
        **{f"pred_{m.lower()}": col(f"pred_{m.lower()}") for m in models},
        **{f"score_{m.lower()}": col(f"score_{m.lower()}", "float64") for m in models},
        "width": encode_column(np.full(len(order), w, np.int64), encoding, buffers),
        "height": encode_column(np.full(len(order), h, np.int64), encoding, buffers),
    }
    if "dataset_index" in seg:  # compare_datasets: each image's index in its own dataset
        images["dataset_index"] = col("dataset_index")

    # ---- segments table
    bb = np.asarray(seg["bbox"].tolist(), np.float64).reshape(n, 4)
    scale = np.array([w, h, w, h], np.float64)
    box = np.clip(np.round(BOX_SCALE * bb / scale), 0, BOX_SCALE).astype(np.int64).reshape(-1)
    segments = {  # what re-clustering leaves as it is: these buffers come first
        "model": encode_column(codes(seg["model"], models), encoding, buffers, "uint8"),
        "image": encode_column(image_rows, encoding, buffers),
        "segment": encode_column(seg["segment_index"].to_numpy(np.int64), encoding, buffers),
        "rank": encode_column(seg["rank"].to_numpy(np.int64), encoding, buffers),
        "outcome": encode_column(codes(seg["outcome"], OUTCOMES), encoding, buffers, "uint8"),
        "attribution": encode_column(_finite(seg["attribution"].to_numpy(np.float64)), encoding,
                                     buffers, "float64"),
        "box": encode_column(box, encoding, buffers, "uint16"),
    }
    if "map_x" in seg:
        segments["map"] = encode_column(map_column(seg), encoding, buffers, "uint16")
    return images, segments, buffers, image_rows, order


def cluster_columns(seg: pd.DataFrame, orders: Mapping[str, np.ndarray], encoding: str,
                    buffers: list[bytes]) -> dict:
    """The segment columns re-clustering changes: ``cluster``, ``by_attribution`` and
    ``by_centroid`` (each row's position in ``orders``, :func:`order_rows` per inner order),
    and ``removal`` when the result has faithfulness. Appended to ``buffers``."""
    out = {
        "cluster": encode_column(seg["cluster"].to_numpy(np.int64), encoding, buffers),
        "by_attribution": encode_column(positions(orders["attribution"]), encoding, buffers,
                                        "uint32"),
        "by_centroid": encode_column(positions(orders["centroid"]), encoding, buffers, "uint32"),
    }
    if "cluster_removal" in seg:
        out["removal"] = encode_column(_finite(seg["cluster_removal"].to_numpy(np.float64)),
                                       encoding, buffers, "float64")
    return out
