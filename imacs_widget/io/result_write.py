"""Writing a result file: :func:`save` and the tables :func:`write_tables` rewrites.

The format is described in :mod:`imacs_widget.io.result_file` (which reads it back). This
module reads a :class:`~imacs_widget.result.ComparisonResult` through its public attributes
only (``per_class``, ``class_names``, ``order``, ...) and does not import
:mod:`imacs_widget.result`, so the result's :meth:`~imacs_widget.result.ComparisonResult.save`
delegates here without an import cycle.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.naming import name_columns
from ..errors import ImacsInputError
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

__all__ = ["STRING_COLUMNS", "check_replaceable", "is_imacs_result", "save", "stored_columns",
           "write_segments", "write_tables"]

STRING_COLUMNS = ("model", "outcome", "source")
"""Segments columns stored dictionary-encoded (few distinct values)."""


def save(result, path) -> Path:
    """Write ``result`` to the folder ``path``; never deletes anything but an imacs result.

    ``path`` may be new, an empty folder, or an imacs result (a folder holding only a result's
    files, or a format 1 file), which is replaced; anything else (a folder of other files, a
    file) is refused. The result is written to a new temporary folder beside ``path`` that
    replaces it at the end (the old result is renamed aside, the new one renamed in, then the
    old one removed), so a save that fails or is interrupted leaves the previous result as it
    was. Saving to the folder the result lives in (``compare(store=path)`` or a loaded result)
    rewrites only its tables (clusters, order, active class).

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
        ``path`` holds something that is not an imacs result (naming ``path``), or the disk is
        full or not writable.
    """
    path = Path(path)
    own = getattr(result, "store_path", None)
    if own is not None and path.exists() and Path(own).resolve() == path.resolve():
        write_tables(result, open_store(path))
        return path
    check_replaceable(path)
    parent = path.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.imacs-save-"))
    except OSError as exc:
        raise disk_error(exc, path) from exc
    try:
        rs = ResultStore.create(tmp)
        for ci, cc in enumerate(result.per_class.values()):
            w = rs.class_writer(ci)
            names = ROW_ARRAYS + tuple(n for n in OPTIONAL_ROW_ARRAYS
                                       if getattr(cc, n) is not None)
            for s in range(0, len(cc.segments), BLOCK_ROWS):
                w.add(**{name: getattr(cc, name)[s:s + BLOCK_ROWS] for name in names})
            w.close()
        pw = rs.preview_writer()
        for i, img in result.source_images.items():
            pw.append(np.asarray([int(i)]), np.asarray(img)[None])
        pw.close()
        write_tables(result, rs)
        _swap_in(tmp, path)
    except ImacsInputError as exc:  # a full disk: name the folder asked for, not the temporary
        shutil.rmtree(tmp, ignore_errors=True)
        raise ImacsInputError(exc.argument, str(exc).split(": ", 1)[-1].replace(
            str(tmp), str(path))) from exc.__cause__
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


IMACS_ENTRIES = re.compile(r"meta\.json(\.tmp)?|arrays\.zarr|class\d+")
"""Names of the entries of a result folder (anything else in a folder is the user's)."""


def is_imacs_result(path) -> bool:
    """Whether ``path`` is a result written by imacs: a folder whose ``meta.json`` says so
    (format 2), or a zip file holding one (format 1)."""
    path = Path(path)
    try:
        if path.is_dir():
            meta = json.loads((path / "meta.json").read_text())
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                meta = json.loads(z.read("meta.json"))
        else:
            return False
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False
    return isinstance(meta, dict) and meta.get("format") == "imacs-result"


def check_replaceable(path) -> None:
    """Refuse to save over anything but nothing, an empty folder or an imacs result.

    Raises
    ------
    ImacsInputError
        Naming ``path`` and what is there.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    hint = "; save() replaces only an imacs result: choose another path, or move it away yourself"
    if path.is_dir() and not path.is_symlink():
        entries = sorted(p.name for p in path.iterdir())
        if not entries:
            return
        if not is_imacs_result(path):
            raise ImacsInputError("path", f"{path} is a folder that is not an imacs result "
                                  f"(it holds {entries[:5]}{' ...' if len(entries) > 5 else ''})"
                                  + hint)
        other = [e for e in entries if not IMACS_ENTRIES.fullmatch(e)]
        if other:
            raise ImacsInputError("path", f"{path} is an imacs result that also holds files of "
                                  f"yours ({other[:5]}){hint}")
        return
    if path.is_file() and not path.is_symlink() and is_imacs_result(path):
        return  # a format 1 result file
    what = "a link" if path.is_symlink() else "a file" if path.is_file() else "not a folder"
    raise ImacsInputError("path", f"{path} exists and is {what}, not an imacs result{hint}")


def _swap_in(tmp: Path, path: Path) -> None:
    """Put the folder ``tmp`` at ``path``: the old result (if any) is renamed aside first and
    removed only once the new one is in place (a crash in between leaves one of them whole)."""
    try:
        if not path.exists():
            tmp.rename(path)
            return
        aside = Path(tempfile.mkdtemp(dir=tmp.parent, prefix=f".{path.name}.imacs-old-"))
        aside.rmdir()
        path.rename(aside)
        try:
            tmp.rename(path)
        except OSError:
            aside.rename(path)
            raise
    except OSError as exc:
        raise disk_error(exc, path) from exc
    if aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)


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
            seg = stored_columns(cc.segments)
            write_segments(rs.path / f"class{ci}" / "segments.parquet", seg)
            rs.write_array(f"class{ci}", "bin_edges", np.asarray(cc.bin_edges, np.float64))
            if cc.reduced_embeddings is not None and rs.array(
                    f"class{ci}", "reduced_embeddings") is None:
                rs.write_array(f"class{ci}", "reduced_embeddings", cc.reduced_embeddings)
            meta["classes"].append({"target": name, "sampling": cc.sampling,
                                    "warnings": cc.warnings, "columns": list(seg.columns),
                                    "n_clusters": int(cc.n_clusters),
                                    "map_method": cc.map_method})
        write_json(rs.path / "meta.json", meta)
    except OSError as exc:
        raise disk_error(exc, rs.path) from exc


def stored_columns(seg: pd.DataFrame) -> pd.DataFrame:
    """The columns of a segments table that are written: all but the class-name columns
    (``label_name``, ``pred_<model>_name``), which the result derives again from its class
    names when it is loaded (:func:`~imacs_widget.engine.naming.add_name_columns`)."""
    derived = [name for _, name in name_columns(seg) if name in seg]
    return seg.drop(columns=derived) if derived else seg


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
