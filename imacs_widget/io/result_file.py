"""Result files: :func:`load` (and :func:`save`, from :mod:`imacs_widget.io.result_write`) of a
:class:`~imacs_widget.result.ComparisonResult`.

A result file (conventionally ``.imacs``) is a folder (format 2, :mod:`imacs_widget.io.store`):
``meta.json``, one Parquet segments table per class of interest, and chunked Zarr arrays
(float16 embeddings, Shapley values, thumbnails, masks, previews) read on demand. Nothing in it
is pickled, so opening one never runs code. ``compare()`` writes its result's folder as it goes
(``store=``); :func:`save` writes another one through a temporary folder that replaces ``path``
at the end, so an interrupted save leaves the previous result as it was. Format 1 files (a zip of JSON and
``.npy``, written before version 0.4) still load (:mod:`imacs_widget.io.result_zip`).

:func:`load` trusts nothing it reads: links leading outside the folder are refused;
``meta.json`` is checked field by field (types, bounds: no size read from a file is allocated
before it is checked); each segments table against it (model keys, outcomes, index ranges, ranks
below ``k``, cluster ids below ``n_clusters``, finite attributions, boxes inside the image); each
array's dtype, shape and row count against its table, and its chunks' presence (Zarr would read
a deleted chunk as zeros). A damaged required part raises
:class:`~imacs_widget.errors.ImacsInputError` naming the file and the field; a damaged optional
part (source previews, Shapley games, reduced embeddings) is dropped with an
:class:`~imacs_widget.errors.ImacsWarning` (lost previews show as grey placeholders). Shapley
values and embeddings are checked for NaN as they are read. :func:`save` replaces only an imacs
result (never a folder or file of the user's), through a folder of its own beside ``path``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..comparison import ClassComparison
from ..errors import ImacsInputError, ImacsWarning
from ..result import ComparisonResult
from .result_write import STRING_COLUMNS, save, write_segments, write_tables
from .result_zip import read_zip
from .store import (
    FORMAT_VERSION,
    ROW_ARRAYS,
    StoredArray,
    StoredPreviews,
    bad_file,
    check_array,
    check_contained,
    check_meta,
    check_segments,
    missing_chunks,
    open_store,
)

__all__ = ["STRING_COLUMNS", "load", "read_segments", "result_from_meta", "save",
           "write_segments", "write_tables"]

ARRAY_SPECS = {"embeddings": (np.float16, 2, "nan"), "shapley_all": (np.float64, 2, "finite"),
               "thumbnails": (np.uint8, 4, None), "segment_masks": (np.bool_, 3, None),
               "games": (np.float32, 2, None), "reduced_embeddings": (None, 2, "nan")}
"""Per-segment arrays: ``(dtype, rank, what each read is checked for)``."""
OPTIONAL_ARRAYS = ("games", "reduced_embeddings")
"""Per-segment arrays a result can do without (dropped with a warning when damaged)."""


def read_segments(path: Path, columns: list[str]) -> pd.DataFrame:
    """A segments table written by :func:`write_segments` (columns in ``columns`` order).

    Raises
    ------
    ImacsInputError
        The file is missing, not Parquet, or lacks one of ``columns`` (naming the file and the
        column).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, memory_map=True)
    except FileNotFoundError as exc:
        raise bad_file(path, None, "is missing") from exc
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise bad_file(path, None, f"is not a readable Parquet table ({exc})") from exc
    out = {}
    for col in columns:
        names = [f"bbox.{j}" for j in range(4)] if col == "bbox" else [col]
        lost = [n for n in names if n not in table.column_names]
        if lost:
            raise bad_file(path, col, "is missing from the table")
        if col == "bbox":
            b = [table.column(f"bbox.{j}").to_numpy() for j in range(4)]
            out[col] = list(zip(*(v.tolist() for v in b), strict=True))
            continue
        arr = table.column(col).combine_chunks()
        if pa.types.is_dictionary(arr.type) or pa.types.is_string(arr.type):
            out[col] = pc.cast(arr, pa.string()).to_pandas()  # pandas' own string column
        else:
            out[col] = arr.to_numpy(zero_copy_only=False)
    return pd.DataFrame(out)


def _zarr_array(rs, group: str, name: str, file: Path):
    """The raw Zarr array ``group/name`` (``None`` when absent); unreadable metadata raises."""
    try:
        g = rs.root.get(group)
        return None if g is None or name not in g else g[name]
    except Exception as exc:  # zarr's own errors for a damaged zarr.json
        raise bad_file(file, None, f"cannot be read ({type(exc).__name__}: {exc})") from exc


def _row_array(rs, path: Path, ci: int, name: str, rows: int, n_classes: int):
    """Class ``ci``'s array ``name``, checked (``None`` when an optional one is absent)."""
    file = path / "arrays.zarr" / f"class{ci}" / name
    z = _zarr_array(rs, f"class{ci}", name, file)
    if z is None:
        if name in OPTIONAL_ARRAYS:
            return None
        raise bad_file(file, name, "is missing")
    dtype, ndim, check = ARRAY_SPECS[name]
    check_array(z, file, name, rows, dtype, ndim)
    shape = tuple(z.shape)
    if rows and name == "shapley_all" and shape[1] != n_classes:
        raise bad_file(file, name, f"has {shape[1]} columns for {n_classes} classes")
    if rows and name in ("thumbnails", "segment_masks") and (
            shape[1] != shape[2] or (name == "thumbnails" and shape[3] != 3)):
        raise bad_file(file, name, f"has shape {shape}; expected [n, T, T{', 3' * (ndim == 4)}]")
    if rows and name == "games" and (shape[1] & (shape[1] - 1) or shape[1] > 1 << 12):
        raise bad_file(file, name, f"has {shape[1]} columns; expected 2^k")
    lost = missing_chunks(z, path / "arrays.zarr", never_empty=name == "segment_masks")
    if lost:
        raise bad_file(file, name, f"lost {len(lost)} of its chunks ({', '.join(lost[:3])}"
                       f"{', ...' if len(lost) > 3 else ''}); they would read as zeros")
    return StoredArray(z, where=str(file), check=check)


def _optional(fn, *args):
    """``fn(*args)``, or ``None`` with an :class:`ImacsWarning` when what it reads is damaged."""
    try:
        return fn(*args)
    except ImacsInputError as exc:
        warnings.warn(f"load: {exc}; loading the result without it", ImacsWarning, stacklevel=3)
        return None


def _bin_edges(rs, path: Path, ci: int) -> np.ndarray:
    file = path / "arrays.zarr" / f"class{ci}" / "bin_edges"
    z = _zarr_array(rs, f"class{ci}", "bin_edges", file)
    if z is None:
        raise bad_file(file, "bin_edges", "is missing")
    check_array(z, file, "bin_edges", None, None, 1)
    if not 2 <= z.shape[0] <= 100_000 or missing_chunks(z, path / "arrays.zarr"):
        raise bad_file(file, "bin_edges", f"has {z.shape[0]} values or lost chunks")
    edges = np.asarray(z[...], np.float64)
    if not np.isfinite(edges).all() or (np.diff(edges) < 0).any():
        raise bad_file(file, "bin_edges", "are not finite and increasing")
    return edges


def _previews(rs, path: Path, shown: set[int]):
    """The source previews, checked: damaged ones are reported and read as grey placeholders."""
    where = path / "arrays.zarr" / "sources"

    def read():
        idx_z = _zarr_array(rs, "sources", "index", where / "index")
        pv_z = _zarr_array(rs, "sources", "previews", where / "previews")
        if idx_z is None or pv_z is None:
            raise bad_file(where, None, "lacks its previews or their index")
        check_array(idx_z, where / "index", "index", None, np.int64, 1)
        check_array(pv_z, where / "previews", "previews", int(idx_z.shape[0]), np.uint8, 4)
        if idx_z.shape[0] > max(len(shown), 1) * 4 + 1_000_000 or missing_chunks(
                idx_z, path / "arrays.zarr"):
            raise bad_file(where / "index", "index", "is damaged")
        index = np.asarray(idx_z[...])
        if len(index) != len(set(index.tolist())) or (len(index) and index.min() < 0):
            raise bad_file(where / "index", "index", "has negative or repeated image indices")
        if pv_z.shape[0] and pv_z.shape[3] != 3:
            raise bad_file(where / "previews", "previews", f"has shape {pv_z.shape}")
        rows = int(pv_z.chunks[0])
        lost_chunks = missing_chunks(pv_z, path / "arrays.zarr")
        gone = set(lost_chunks)
        lost_rows = {c[0] for c in np.ndindex(*pv_z.cdata_shape)
                     if pv_z.metadata.encode_chunk_key(c) in gone}
        lost = {int(i) for j, i in enumerate(index) if j // rows in lost_rows}
        return index, StoredArray(pv_z, where=str(where / "previews")), lost_chunks, lost

    got = _optional(read)
    if got is None:
        return StoredPreviews(np.zeros(0, np.int64), None, lost=shown)
    index, previews, lost_chunks, lost = got
    absent = shown - set(index.tolist())
    if lost_chunks or absent:
        warnings.warn(f"load: {where / 'previews'}: {len(lost | absent)} source previews are lost"
                      f" ({len(lost_chunks)} chunks missing, {len(absent)} images without "
                      "one); they show as grey placeholders", ImacsWarning, stacklevel=2)
    return StoredPreviews(index, previews, lost=lost | absent)


def load(path):
    """Load a result written by :meth:`ComparisonResult.save
    <imacs_widget.result.ComparisonResult.save>` or ``compare(store=...)``.

    Pictures and embeddings stay on disk until used; format 1 files (zip) still load. Nothing
    is unpickled, so a result file is safe to open. What is read is checked (see the module
    docstring): a damaged file raises an error naming the file and the field, or loses only
    its damaged optional part, with a warning — never zeros shown as data.

    Parameters
    ----------
    path : str or path
        The result folder (format 2, conventionally ``.imacs``) or a format 1 zip file.

    Returns
    -------
    ComparisonResult
        The result, its active class and orders as saved; its arrays are read from ``path`` on
        demand (``store_path``), so keep the folder while using it. The models are not saved:
        pass them to the trust checks (``sanity_check(models=..., images=...)``).

    Raises
    ------
    ImacsInputError
        ``path`` does not exist, is not an imacs result, has a newer format, or is damaged
        (the message names the file and the field).

    Warns
    -----
    ImacsWarning
        An optional part (previews, Shapley games, reduced embeddings) is damaged and left out.
    """
    path = Path(path)
    if not path.exists():
        raise ImacsInputError("path", f"{path} does not exist")
    if path.is_file():
        return result_from_meta(*read_zip(path), file=path)
    check_contained(path)
    meta_file = path / "meta.json"
    try:
        text = meta_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImacsInputError("path", f"{path} is not an imacs result (no readable "
                              "meta.json)") from exc
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise bad_file(meta_file, None, f"is not valid JSON ({exc})") from exc
    check_meta(meta, meta_file, FORMAT_VERSION)
    rs = open_store(path)
    n_classes = len(meta["class_names"])
    per_class, shown = {}, set()
    for ci, info in enumerate(meta["classes"]):
        seg_file = path / f"class{ci}" / "segments.parquet"
        seg = read_segments(seg_file, info["columns"])
        check_segments(seg, seg_file, meta, ci, meta_file)
        n = len(seg)
        arrays = {name: _row_array(rs, path, ci, name, n, n_classes) for name in ROW_ARRAYS}
        for name in OPTIONAL_ARRAYS:
            arrays[name] = _optional(_row_array, rs, path, ci, name, n, n_classes)
        reduced = arrays.pop("reduced_embeddings")
        cc = _built(meta_file, lambda seg=seg, info=info, arrays=arrays, reduced=reduced,
                    ci=ci: ClassComparison(
            target=info["target"], segments=seg, sampling=info["sampling"],
            models=tuple(meta["model_names"]), warnings=info["warnings"],
            n_clusters=int(info.get("n_clusters", meta["params"].get("n_clusters", 0))),
            bin_edges=_bin_edges(rs, path, ci), reduced_embeddings=reduced,
            map_method=info.get("map_method"), **arrays))
        _built(seg_file, cc.summarize)
        per_class[info["target"]] = cc
        shown.update(int(i) for i in seg["image_index"].unique())
    sources = _previews(rs, path, shown)
    res = result_from_meta(meta, per_class, sources, file=meta_file)
    res.store_path = path
    return res


def _built(file, build):
    """``build()``, with what a malformed file makes it raise turned into one clear error."""
    try:
        return build()
    except ImacsInputError as exc:
        if str(exc).startswith("path: "):
            raise
        raise bad_file(file, exc.argument, str(exc).split(": ", 1)[-1]) from exc
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise bad_file(file, None, f"is malformed ({type(exc).__name__}: {exc})") from exc


def result_from_meta(meta: dict, per_class: dict, sources, file=None):
    """The :class:`~imacs_widget.result.ComparisonResult` a file's ``meta.json`` describes,
    with its classes and source previews read (every format; ``file``: where ``meta`` was read,
    named when a field does not fit)."""

    def build():
        res = ComparisonResult(per_class=per_class, class_names=meta["class_names"],
                               model_names=meta["model_names"], accuracy=meta["accuracy"],
                               source_images=sources, image_shape=tuple(meta["image_shape"]),
                               params=meta["params"], seed=meta["seed"], order=meta["order"],
                               inner_order=meta["inner_order"])
        res.target_class = meta["active"]
        return res

    return _built(file if file is not None else "meta.json", build)
