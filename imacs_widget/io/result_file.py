"""Result files: :func:`save` / :func:`load` of a :class:`~imacs_widget.result.ComparisonResult`.

A result file (conventionally ``.imacs``) is a folder (format 2, :mod:`imacs_widget.io.store`):
``meta.json``, one Parquet segments table per class of interest, and chunked Zarr arrays
(float16 embeddings, Shapley values, thumbnails, masks, previews) read on demand. Nothing in it
is pickled, so opening one never runs code. ``compare()`` writes its result's folder as it goes
(``store=``); :func:`save` writes another one through a temporary folder that replaces ``path``
at the end, so an interrupted save leaves no half result. Format 1 files (a zip of JSON and
``.npy``, written before version 0.4) still load (:mod:`imacs_widget.io.result_zip`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ImacsInputError
from .store import (
    BLOCK_ROWS,
    FORMAT_VERSION,
    OPTIONAL_ROW_ARRAYS,
    ROW_ARRAYS,
    ResultStore,
    StoredPreviews,
    disk_error,
    open_store,
    write_json,
)

STRING_COLUMNS = ("model", "outcome", "source")
"""Segments columns stored dictionary-encoded (few distinct values)."""


def save(result, path) -> Path:
    """Write ``result`` to the folder ``path`` (replacing what is there); returns the path.

    Saving to the folder the result lives in (``compare(store=path)`` or a loaded result)
    rewrites only its tables (clusters, order, active class).
    """
    path = Path(path)
    own = getattr(result, "store_path", None)
    if own is not None and path.exists() and Path(own).resolve() == path.resolve():
        write_tables(result, open_store(path))
        return path
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    rs = ResultStore.create(tmp)
    for ci, cc in enumerate(result._per_class.values()):
        w = rs.class_writer(ci)
        names = ROW_ARRAYS + tuple(n for n in OPTIONAL_ROW_ARRAYS if getattr(cc, n) is not None)
        for s in range(0, len(cc.segments), BLOCK_ROWS):
            w.add(**{name: getattr(cc, name)[s:s + BLOCK_ROWS] for name in names})
        w.close()
    pw = rs.preview_writer()
    for i, img in result.source_images.items():
        pw.append(np.asarray([int(i)]), np.asarray(img)[None])
    pw.close()
    write_tables(result, rs)
    try:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        tmp.replace(path)
    except OSError as exc:
        raise disk_error(exc, path) from exc
    return path


def write_tables(result, rs: ResultStore) -> None:
    """Write what changes after a run: each class's segments table, bin edges and reduced
    embeddings, and ``meta.json`` (last, so a folder with one is complete)."""
    meta = {"format": "imacs-result", "version": FORMAT_VERSION,
            "class_names": result.class_names, "model_names": result.model_names,
            "accuracy": result.accuracy, "image_shape": list(result.image_shape),
            "params": result.params, "seed": result.seed, "order": result._order,
            "inner_order": result._inner_order, "active": result._target, "classes": []}
    try:
        for ci, (name, cc) in enumerate(result._per_class.items()):
            (rs.path / f"class{ci}").mkdir(exist_ok=True)
            write_segments(rs.path / f"class{ci}" / "segments.parquet", cc.segments)
            rs.write_array(f"class{ci}", "bin_edges", np.asarray(cc.bin_edges, np.float64))
            if cc.reduced_embeddings is not None and rs.array(
                    f"class{ci}", "reduced_embeddings") is None:
                rs.write_array(f"class{ci}", "reduced_embeddings", cc.reduced_embeddings)
            meta["classes"].append({"target": name, "sampling": cc.sampling,
                                    "warnings": cc.warnings, "columns": list(cc.segments.columns),
                                    "n_clusters": int(cc.n_clusters),
                                    "map_method": cc.map_method})
        write_json(rs.path / "meta.json", meta)
    except OSError as exc:
        raise disk_error(exc, rs.path) from exc


def write_segments(path: Path, seg: pd.DataFrame) -> None:
    """One class's segments table as Parquet (``bbox`` as four int columns, strings
    dictionary-encoded); written through a temporary file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {}
    for col in seg.columns:
        if col == "bbox":
            b = np.asarray(seg["bbox"].tolist(), np.int64).reshape(-1, 4)
            for j in range(4):
                cols[f"bbox.{j}"] = pa.array(b[:, j])
        elif seg[col].dtype == object or pd.api.types.is_string_dtype(seg[col].dtype):
            cols[col] = pa.array(seg[col].astype(str).to_numpy(dtype=object)).dictionary_encode()
        else:
            cols[col] = pa.array(seg[col].to_numpy())
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.table(cols), tmp)
    tmp.replace(path)


def read_segments(path: Path, columns: list[str]) -> pd.DataFrame:
    """A segments table written by :func:`write_segments` (columns in ``columns`` order)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, memory_map=True)
    out = {}
    for col in columns:
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


def load(path):
    """Load a result written by :meth:`ComparisonResult.save` or ``compare(store=...)``.

    Pictures and embeddings stay on disk until used; format 1 files (zip) still load. Nothing
    is unpickled, so a result file is safe to open.
    """
    from ..result import ClassComparison

    path = Path(path)
    if not path.exists():
        raise ImacsInputError("path", f"{path} does not exist")
    if path.is_file():
        from .result_zip import load_zip

        return load_zip(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        raise ImacsInputError("path", f"{path} is not an imacs result (no readable "
                              "meta.json)") from exc
    if meta.get("format") != "imacs-result" or meta.get("version", 0) > FORMAT_VERSION:
        raise ImacsInputError("path", f"{path}: unsupported format {meta.get('format')} "
                              f"v{meta.get('version')}")
    rs = open_store(path)
    per_class = {}
    for ci, info in enumerate(meta["classes"]):
        seg = read_segments(path / f"class{ci}" / "segments.parquet", info["columns"])
        arrays = {name: rs.array(f"class{ci}", name)
                  for name in ROW_ARRAYS + OPTIONAL_ROW_ARRAYS}
        reduced = rs.array(f"class{ci}", "reduced_embeddings")
        cc = ClassComparison(target=info["target"], segments=seg, sampling=info["sampling"],
                             models=tuple(meta["model_names"]),
                             warnings=info["warnings"], n_clusters=int(info["n_clusters"]),
                             bin_edges=np.asarray(rs.array(f"class{ci}", "bin_edges")),
                             reduced_embeddings=reduced, map_method=info.get("map_method"),
                             **arrays)
        cc.summarize()
        per_class[info["target"]] = cc
    sources = StoredPreviews(np.asarray(rs.array("sources", "index")),
                             rs.array("sources", "previews"))
    res = result_from_meta(meta, per_class, sources)
    res.store_path = path
    return res


def result_from_meta(meta: dict, per_class: dict, sources):
    """The :class:`~imacs_widget.result.ComparisonResult` a file's ``meta.json`` describes,
    with its classes and source previews read (every format)."""
    from ..result import ComparisonResult

    res = ComparisonResult(per_class=per_class, class_names=meta["class_names"],
                           model_names=meta["model_names"], accuracy=meta["accuracy"],
                           source_images=sources, image_shape=tuple(meta["image_shape"]),
                           params=meta["params"], seed=meta["seed"], order=meta["order"],
                           inner_order=meta["inner_order"])
    res.target_class = meta["active"]
    return res
