"""Result files: :func:`load` (and :func:`save`, from :mod:`imacs_widget.io.result_write`) of a
:class:`~imacs_widget.result.ComparisonResult`.

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
from pathlib import Path

import numpy as np
import pandas as pd

from ..comparison import ClassComparison
from ..errors import ImacsInputError
from ..result import ComparisonResult
from .result_write import STRING_COLUMNS, save, write_segments, write_tables
from .result_zip import read_zip
from .store import FORMAT_VERSION, OPTIONAL_ROW_ARRAYS, ROW_ARRAYS, StoredPreviews, open_store

__all__ = ["STRING_COLUMNS", "load", "read_segments", "result_from_meta", "save",
           "write_segments", "write_tables"]

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
    """Load a result written by :meth:`ComparisonResult.save
    <imacs_widget.result.ComparisonResult.save>` or ``compare(store=...)``.

    Pictures and embeddings stay on disk until used; format 1 files (zip) still load. Nothing
    is unpickled, so a result file is safe to open.

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
        ``path`` does not exist, is not an imacs result, or has a newer format.
    """
    path = Path(path)
    if not path.exists():
        raise ImacsInputError("path", f"{path} does not exist")
    if path.is_file():
        return result_from_meta(*read_zip(path))
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
    res = ComparisonResult(per_class=per_class, class_names=meta["class_names"],
                           model_names=meta["model_names"], accuracy=meta["accuracy"],
                           source_images=sources, image_shape=tuple(meta["image_shape"]),
                           params=meta["params"], seed=meta["seed"], order=meta["order"],
                           inner_order=meta["inner_order"])
    res.target_class = meta["active"]
    return res
