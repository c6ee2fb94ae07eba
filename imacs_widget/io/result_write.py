"""Writing a result file: :func:`save` and the tables :func:`write_tables` rewrites.

The format is described in :mod:`imacs_widget.io.result_file` (which reads it back). This
module reads a :class:`~imacs_widget.result.ComparisonResult` through its public attributes
only (``per_class``, ``class_names``, ``order``, ...) and does not import
:mod:`imacs_widget.result`, so the result's :meth:`~imacs_widget.result.ComparisonResult.save`
delegates here without an import cycle.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from .store import (
    BLOCK_ROWS,
    FORMAT_VERSION,
    OPTIONAL_ROW_ARRAYS,
    ROW_ARRAYS,
    ResultStore,
    disk_error,
    open_store,
    write_json,
)

__all__ = ["STRING_COLUMNS", "save", "write_segments", "write_tables"]

STRING_COLUMNS = ("model", "outcome", "source")
"""Segments columns stored dictionary-encoded (few distinct values)."""


def save(result, path) -> Path:
    """Write ``result`` to the folder ``path``, replacing what is there.

    The arrays go to a temporary folder that replaces ``path`` at the end, so an interrupted
    save leaves no half result. Saving to the folder the result lives in
    (``compare(store=path)`` or a loaded result) rewrites only its tables (clusters, order,
    active class).

    Parameters
    ----------
    result : ComparisonResult
        The result to write.
    path : str or path
        The folder to write (conventionally ``.imacs``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ImacsInputError
        The disk is full or not writable (naming ``path``).
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
    for ci, cc in enumerate(result.per_class.values()):
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
    embeddings, and ``meta.json`` (last, so a folder with one is complete).

    Parameters
    ----------
    result : ComparisonResult
        The result whose tables are written.
    rs : ResultStore
        The result's folder (its arrays already written).
    """
    meta = {"format": "imacs-result", "version": FORMAT_VERSION,
            "class_names": result.class_names, "model_names": result.model_names,
            "accuracy": result.accuracy, "image_shape": list(result.image_shape),
            "params": result.params, "seed": result.seed, "order": result.order,
            "inner_order": result.inner_order, "active": result.target_class, "classes": []}
    try:
        for ci, (name, cc) in enumerate(result.per_class.items()):
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
