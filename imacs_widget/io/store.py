"""The result store: a folder, columnar and read lazily (format 2 of a result file).

``compare()`` writes each chunk's embeddings, Shapley values, thumbnails and previews here as it
produces them, so a run's memory does not grow with its segments; :func:`imacs_widget.load`
opens one without reading its pictures. Layout::

    result.imacs/
        meta.json                     names, accuracy, parameters, per-class info
        class0/segments.parquet       one row per segment (pyarrow; strings dictionary-encoded)
        arrays.zarr/                  chunked, compressed arrays (Zarr v3)
            class0/embeddings         float16 [n, D]
            class0/shapley_all        float64 [n, C]
            class0/thumbnails         uint8   [n, T, T, 3]  (256 rows a chunk)
            class0/segment_masks      bool    [n, T, T]
            class0/games              float32 [n, 2^k]       each row's image's Shapley game
            class0/bin_edges          float64 [bins + 1]
            class0/reduced_embeddings float32 [n, d]        (large results only)
            sources/previews          uint8   [p, h, w, 3]
            sources/index             int64   [p]           image index of each preview

Arrays come back as :class:`StoredArray` (rows read on demand, recently used chunks kept), so a
million-segment result opens in about a second and a thumbnail is read when it is shown.
"""

from __future__ import annotations

import errno
import json
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from ..errors import ImacsInputError

FORMAT_VERSION = 2
BLOCK_ROWS = 2048
"""Rows buffered before a write (a multiple of every array's chunk rows)."""
CHUNK_ROWS = {"embeddings": 2048, "shapley_all": 2048, "thumbnails": 256, "segment_masks": 256,
              "reduced_embeddings": 8192, "previews": 64, "games": 2048}
"""Rows per stored chunk: small for pictures (read a few at a time), larger for features."""
DTYPES = {"embeddings": np.float16, "shapley_all": np.float64, "thumbnails": np.uint8,
          "segment_masks": bool, "reduced_embeddings": np.float32, "previews": np.uint8,
          "games": np.float32}
ROW_ARRAYS = ("embeddings", "shapley_all", "thumbnails", "segment_masks")
"""The per-segment arrays every class has (row order = its segments table)."""
OPTIONAL_ROW_ARRAYS = ("games",)
"""Per-segment arrays results written before they existed lack (``None`` when missing)."""
_FULL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
ALL_CHUNKS = "imacs_all_chunks"
"""Attribute of an array written with every chunk stored (even all-zero ones), so that a chunk
missing on disk is damage, not zeros (arrays written before it lack the attribute)."""
MAX_CHUNKS = 10_000_000
"""Most chunks an array may list (a bound on what a tampered ``zarr.json`` can ask for)."""


def _zarr():
    import zarr

    return zarr


def disk_error(exc: OSError, path) -> ImacsInputError:
    """A clear error for a store that can't be written (full disk, quota, file size limit)."""
    why = "the disk is full" if exc.errno in _FULL_DISK else str(exc)
    return ImacsInputError("store", f"could not write the result to {path}: {why}. Attributions "
                           "finished so far are kept in cache_dir (when given): free space or "
                           "choose another store=, then run again to resume")


def create_array(group, name: str, shape: tuple, dtype, chunks: tuple):
    """A new array in ``group`` that stores every chunk, all-zero ones too (marked
    :data:`ALL_CHUNKS`), so that :func:`missing_chunks` can tell damage from zeros."""
    return group.create_array(name, shape=shape, dtype=dtype, chunks=chunks,
                              attributes={ALL_CHUNKS: True},
                              config={"write_empty_chunks": True})


class StoredArray:
    """A stored array read on demand: ``a[i]``, ``a[start:stop]``, ``a[index_array]``,
    ``len(a)``, ``a.shape`` / ``dtype``; ``numpy.asarray(a)`` reads it whole.

    The last :attr:`KEEP_CHUNKS` chunks read are kept decoded, so pictures of neighbouring rows
    (a page of tiles) cost one read.
    """

    KEEP_CHUNKS = 32

    def __init__(self, array, where: str | None = None, check: str | None = None):
        self._z = array
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self._rows = int(array.chunks[0]) if self.shape else 1
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()
        self.where = where
        """The array's file (named in errors), when it was opened by ``load()``."""
        self.check = check
        """``"finite"`` / ``"nan"``: every read is checked for non-finite / NaN values (an
        ``ImacsInputError`` naming :attr:`where`); ``None``: not checked."""

    def _read(self, sel) -> np.ndarray:
        got = np.asarray(self._z[sel])
        if self.check is not None and got.dtype.kind == "f" and got.size:
            bad = np.isnan(got) if self.check == "nan" else ~np.isfinite(got)
            if bad.any():
                what = "NaN" if self.check == "nan" else "NaN or infinite"
                raise ImacsInputError("path", f"{self.where}: holds {what} values (the file is "
                                      "damaged); recompute the result")
        return got

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the array takes when read whole (not what it takes on disk)."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def _chunk(self, c: int) -> np.ndarray:
        got = self._chunks.get(c)
        if got is None:
            got = self._read(slice(c * self._rows, (c + 1) * self._rows))
            self._chunks[c] = got
            while len(self._chunks) > self.KEEP_CHUNKS:
                self._chunks.popitem(last=False)
        else:
            self._chunks.move_to_end(c)
        return got

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            i = int(idx)
            if i < 0:
                i += len(self)
            if not 0 <= i < len(self):
                raise IndexError(f"row {idx} out of range for {len(self)} rows")
            return self._chunk(i // self._rows)[i % self._rows]
        if isinstance(idx, slice):
            return self._read(idx)
        if isinstance(idx, tuple):
            return np.asarray(self[idx[0]])[(slice(None),) + idx[1:]]
        rows = np.asarray(idx)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64).ravel()
        out = np.empty((len(rows),) + self.shape[1:], self.dtype)
        for c in np.unique(rows // self._rows):
            sel = np.flatnonzero(rows // self._rows == c)
            out[sel] = self._chunk(int(c))[rows[sel] % self._rows]
        return out

    def __array__(self, dtype=None, copy=None):
        a = self._read(...)
        return a if dtype is None else a.astype(dtype)

    def blocks(self, rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
        """The array ``rows`` rows at a time (what reads a large array without holding it)."""
        for s in range(0, len(self), rows):
            yield self._read(slice(s, s + rows))

    def __repr__(self) -> str:
        return f"<StoredArray {self.dtype}{list(self.shape)}>"


class StoredPreviews(Mapping):
    """``{image_index: uint8 [h, w, 3]}`` source previews read on demand.

    ``lost`` lists images whose preview was lost (a damaged file, reported when it was
    loaded): they read as a flat grey :data:`PLACEHOLDER` picture, never as black pixels.
    """

    PLACEHOLDER = 128
    """Grey level of a lost preview's placeholder."""

    def __init__(self, index: np.ndarray, previews: StoredArray | None, lost=(),
                 shape: tuple = (32, 32, 3)):
        self._pos = {int(i): j for j, i in enumerate(np.asarray(index))}
        self._previews = previews
        self.lost = {int(i) for i in lost}
        """Images whose preview was lost (read as :data:`PLACEHOLDER` grey)."""
        for i in self.lost:
            self._pos.setdefault(i, -1)
        self._shape = tuple(previews.shape[1:]) if previews is not None and \
            getattr(previews, "ndim", 0) == 4 else tuple(shape)

    def __getitem__(self, i):
        j = self._pos[int(i)]
        if int(i) in self.lost or self._previews is None:
            return np.full(self._shape, self.PLACEHOLDER, np.uint8)
        return self._previews[j]

    def __iter__(self):
        return iter(self._pos)

    def __len__(self) -> int:
        return len(self._pos)


class _Appender:
    """Buffers rows of one array and writes them a block at a time."""

    def __init__(self, group, name: str):
        self.group, self.name = group, name
        self.array = None
        self.parts: list[np.ndarray] = []
        self.buffered = 0
        self.written = 0

    def add(self, rows: np.ndarray) -> None:
        if rows is None or not len(rows):
            return
        self.parts.append(np.asarray(rows, DTYPES[self.name]))
        self.buffered += len(rows)
        if self.buffered >= BLOCK_ROWS:
            self.flush(whole_blocks=True)

    def flush(self, whole_blocks: bool = False) -> None:
        if not self.buffered:
            return
        data = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        n = (len(data) // BLOCK_ROWS) * BLOCK_ROWS if whole_blocks else len(data)
        if self.array is None:
            self.array = create_array(self.group, self.name, (0,) + data.shape[1:], data.dtype,
                                      (CHUNK_ROWS[self.name],) + data.shape[1:])
        if n:
            self.array.append(data[:n], axis=0)
            self.written += n
        rest = data[n:]
        self.parts = [rest] if len(rest) else []
        self.buffered = len(rest)

    def close(self, empty_shape=(0,)) -> StoredArray:
        self.flush()
        if self.array is None:
            self.array = create_array(self.group, self.name, empty_shape, DTYPES[self.name],
                                      (CHUNK_ROWS[self.name],) + empty_shape[1:])
        return StoredArray(self.array)


class ResultStore:
    """A result folder being written (``compare(store=...)``) or opened (:func:`open_store`)."""

    def __init__(self, path, root):
        self.path = Path(path)
        self.root = root

    @classmethod
    def create(cls, path) -> ResultStore:
        """A new, empty store at ``path`` (a folder that must not exist or be empty)."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ImacsInputError("store", f"{path} already exists; give a new folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
            root = _zarr().open_group(str(path / "arrays.zarr"), mode="w")
        except OSError as exc:
            raise disk_error(exc, path) from exc
        return cls(path, root)

    def class_writer(self, ci: int) -> ClassWriter:
        """Appends one class's per-segment arrays as chunks arrive."""
        return ClassWriter(self, self.root.require_group(f"class{ci}"))

    def preview_writer(self) -> PreviewWriter:
        """Appends source previews (each image once)."""
        return PreviewWriter(self, self.root.require_group("sources"))

    def write_array(self, group: str, name: str, data: np.ndarray) -> StoredArray:
        """Write a whole array at once (bin edges, reduced embeddings)."""
        g = self.root.require_group(group)
        data = np.asarray(data)
        if name in g:
            del g[name]
        try:
            arr = create_array(g, name, data.shape, data.dtype,
                               (CHUNK_ROWS.get(name, max(1, len(data))),) + data.shape[1:]
                               if data.ndim else ())
            arr[...] = data
        except OSError as exc:
            raise disk_error(exc, self.path) from exc
        return StoredArray(arr)

    def array(self, group: str, name: str) -> StoredArray | None:
        """A stored array, or ``None`` when it is not there."""
        g = self.root.get(group)
        return None if g is None or name not in g else StoredArray(g[name])


class ClassWriter:
    """Per-segment arrays of one class, written as :class:`~imacs_widget.engine.work.ChunkOutput`
    s arrive (in order)."""

    def __init__(self, store: ResultStore, group):
        self.store = store
        self._parts = {name: _Appender(group, name) for name in ROW_ARRAYS + OPTIONAL_ROW_ARRAYS}

    def append(self, out) -> None:
        """Buffer (and write whole blocks of) one chunk's rows."""
        if len(out):
            self.add(embeddings=out.embeddings, shapley_all=out.shapley,
                     thumbnails=out.thumbnails, segment_masks=out.masks, games=out.games)

    def add(self, **rows: np.ndarray) -> None:
        """Buffer rows of each of :data:`ROW_ARRAYS` (same number of rows each) and of those
        :data:`OPTIONAL_ROW_ARRAYS` given (all of a class's rows or none)."""
        try:
            for name in ROW_ARRAYS:
                self._parts[name].add(rows[name])
            for name in OPTIONAL_ROW_ARRAYS:
                if rows.get(name) is not None:
                    self._parts[name].add(rows[name])
        except OSError as exc:
            raise disk_error(exc, self.store.path) from exc

    def close(self) -> dict[str, StoredArray]:
        """Write what is buffered; the class's arrays, read on demand."""
        try:
            return {name: p.close() for name, p in self._parts.items()
                    if name in ROW_ARRAYS or p.array is not None or p.buffered}
        except OSError as exc:
            raise disk_error(exc, self.store.path) from exc


class PreviewWriter:
    """Source previews, each image once, in the order first seen."""

    def __init__(self, store: ResultStore, group):
        self.store = store
        self._seen: set[int] = set()
        self._index: list[int] = []
        self._previews = _Appender(group, "previews")
        self._group = group

    def append(self, index: np.ndarray, previews: np.ndarray | None) -> None:
        """Add the previews of images not seen yet."""
        if previews is None:
            return
        new = [j for j, i in enumerate(np.asarray(index).tolist()) if i not in self._seen]
        if not new:
            return
        self._seen.update(int(index[j]) for j in new)
        self._index.extend(int(index[j]) for j in new)
        try:
            self._previews.add(np.asarray(previews)[new])
        except OSError as exc:
            raise disk_error(exc, self.store.path) from exc

    def close(self) -> StoredPreviews:
        """The previews, read on demand."""
        arr = self._previews.close((0, 1, 1, 3))
        idx = self.store.write_array("sources", "index", np.asarray(self._index, np.int64))
        return StoredPreviews(np.asarray(idx), arr)


def open_store(path) -> ResultStore:
    """Open an existing store read-write (arrays are read on demand)."""
    path = Path(path)
    try:
        root = _zarr().open_group(str(path / "arrays.zarr"), mode="r+")
    except Exception as exc:  # zarr raises its own errors for a missing / foreign folder
        raise ImacsInputError("path", f"{path} is not an imacs result folder ({exc})") from exc
    return ResultStore(path, root)


# ---------------------------------------------------------------------------------------------
# checks of what is read (load() and the format 1 reader use them; errors name file and field)
# ---------------------------------------------------------------------------------------------

MAX_SIDE = 65_536
"""Largest image / picture side accepted from a file (pixels)."""
OUTCOMES = ("TP", "TN", "FP", "FN")
REQUIRED_COLUMNS = ("model", "image_index", "segment_index", "rank", "bbox", "outcome",
                    "attribution", "cluster")
"""Columns every segments table has (results of every format)."""


def bad_file(file, field: str | None, problem: str) -> ImacsInputError:
    """The error for a damaged or foreign result file: names ``file`` and ``field``."""
    where = f"{file}: field {field!r}" if field else f"{file}:"
    return ImacsInputError("path", f"{where} {problem}; the result file is damaged or was not "
                           "written by imacs (recompute it, or restore it from a copy)")


def check_contained(path) -> None:
    """Refuse a result folder with a link that leads outside it (its arrays, tables or
    ``meta.json`` would be read from elsewhere).

    Raises
    ------
    ImacsInputError
        Naming the link and where it leads.
    """
    root = Path(path).resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                target = p.resolve()
                if target != root and root not in target.parents:
                    raise ImacsInputError("path", f"{p} is a link to {target}, outside the result "
                                          f"folder {root}; a result folder must hold its own "
                                          "files (copy them in)")


def missing_chunks(array, root: Path, never_empty: bool = False) -> list[str]:
    """Keys of the chunks of ``array`` that are not on disk.

    Zarr reads a missing chunk as zeros. Arrays written with every chunk stored
    (:data:`ALL_CHUNKS`) are checked, and so are arrays that can't hold an all-zero chunk
    (``never_empty``: segment masks, every one of which has pixels); for other arrays written
    before the attribute, Zarr left all-zero chunks out, so they give ``[]``.

    Parameters
    ----------
    array : zarr.Array
        An array of the store opened at ``root`` (the ``arrays.zarr`` folder).
    root : pathlib.Path
    never_empty : bool
        Check even without :data:`ALL_CHUNKS`.

    Returns
    -------
    list of str
    """
    if not (never_empty or array.attrs.get(ALL_CHUNKS)):
        return []
    grid = tuple(int(v) for v in array.cdata_shape)
    if int(np.prod(grid, dtype=np.float64)) > MAX_CHUNKS:
        raise bad_file(root / array.path / "zarr.json", "chunks", f"lists {grid} chunks")
    base = root / array.path
    return [key for key in (array.metadata.encode_chunk_key(c) for c in np.ndindex(*grid))
            if not (base / key).is_file()]


def _is(value, types) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in (
        types if isinstance(types, tuple) else (types,)))


def check_meta(meta, file, max_version: int) -> None:
    """Check a result's ``meta.json`` (schema, types, bounds) before anything is built from it.

    Parameters
    ----------
    meta : object
        What ``meta.json`` parsed to.
    file : path
        ``meta.json`` (named in errors).
    max_version : int
        The newest format version this reader knows.

    Raises
    ------
    ImacsInputError
        Naming ``file`` and the field that is missing, of the wrong type or out of range.
    """
    if not isinstance(meta, dict):
        raise bad_file(file, None, f"is a JSON {type(meta).__name__}, not an object")
    if meta.get("format") != "imacs-result":
        raise ImacsInputError("path", f"{file}: not an imacs result (format "
                              f"{meta.get('format')!r})")
    version = meta.get("version", 0)
    if not _is(version, int) or version > max_version:
        raise ImacsInputError("path", f"{file}: unsupported format imacs-result v{version!r} "
                              f"(this imacs-widget reads up to v{max_version}; update it)")

    def need(d, key, types, where=None):
        where = where or key
        if key not in d:
            raise bad_file(file, where, "is missing")
        if not _is(d[key], types):
            raise bad_file(file, where, f"is {type(d[key]).__name__}; expected "
                           + " or ".join(t.__name__ for t in (
                               types if isinstance(types, tuple) else (types,))))
        return d[key]

    names = need(meta, "class_names", list)
    if not names or not all(isinstance(n, str) for n in names):
        raise bad_file(file, "class_names", "must be a non-empty list of strings")
    models = need(meta, "model_names", dict)
    if not 1 <= len(models) <= 26 or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in models.items()):
        raise bad_file(file, "model_names", "must map 1 to 26 model keys to names (strings)")
    need(meta, "accuracy", dict)
    shape = need(meta, "image_shape", list)
    if len(shape) not in (2, 3) or not all(_is(v, int) and 1 <= v <= MAX_SIDE for v in shape):
        raise bad_file(file, "image_shape", f"is {shape!r}; expected [H, W] of 1..{MAX_SIDE}")
    need(meta, "params", dict)
    need(meta, "seed", int)
    need(meta, "order", str)
    need(meta, "inner_order", str)
    classes = need(meta, "classes", list)
    if not classes:
        raise bad_file(file, "classes", "is empty")
    targets = []
    for ci, info in enumerate(classes):
        where = f"classes[{ci}]"
        if not isinstance(info, dict):
            raise bad_file(file, where, "is not an object")
        targets.append(need(info, "target", str, f"{where}.target"))
        need(info, "sampling", dict, f"{where}.sampling")
        need(info, "warnings", list, f"{where}.warnings")
        cols = need(info, "columns", list, f"{where}.columns")
        if not all(isinstance(c, str) for c in cols):
            raise bad_file(file, f"{where}.columns", "must be a list of strings")
        lost = [c for c in REQUIRED_COLUMNS if c not in cols]
        if lost:
            raise bad_file(file, f"{where}.columns", f"lacks {lost}")
        if "n_clusters" in info:  # format 1.0 files lack it
            n = need(info, "n_clusters", int, f"{where}.n_clusters")
            if n < 0:
                raise bad_file(file, f"{where}.n_clusters", f"is {n}")
        if info.get("map_method") is not None and not isinstance(info["map_method"], str):
            raise bad_file(file, f"{where}.map_method", "must be a string or null")
    if len(set(targets)) != len(targets):
        raise bad_file(file, "classes", f"repeat a class of interest ({targets})")
    active = meta.get("active")
    if active not in targets:
        raise bad_file(file, "active", f"is {active!r}, not one of the classes held {targets}")


def _ints(seg, col: str, file, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """Column ``col`` as int64, checked to be integers in ``lo..hi - 1``."""
    v = np.asarray(seg[col])
    if v.dtype.kind not in "iu":
        if v.dtype.kind == "f" and len(v) and np.isfinite(v).all() and (v == np.round(v)).all():
            v = v.astype(np.int64)
        elif len(v):
            raise bad_file(file, col, f"has {v.dtype} values; expected integers")
        else:
            v = v.astype(np.int64)
    if len(v) and lo is not None and v.min() < lo:
        raise bad_file(file, col, f"has {int(v.min())}, below {lo}")
    if len(v) and hi is not None and v.max() >= hi:
        raise bad_file(file, col, f"has {int(v.max())}; expected below {hi}")
    return v


def check_segments(seg, file, meta: dict, ci: int, meta_file) -> None:
    """Check one class's segments table against ``meta.json``: value ranges and codes.

    Model keys and outcomes from the known sets; image and segment indices non-negative,
    segment indices within the segmentation's range (grid cells, or the image's pixels); ranks
    below ``k``; cluster ids below ``n_clusters``; attributions finite; bounding boxes inside the
    image; predicted classes and labels valid class indices.

    Parameters
    ----------
    seg : pandas.DataFrame
        The table as read.
    file : path
        The table's file (named in errors).
    meta : dict
        The result's ``meta.json`` (checked by :func:`check_meta`).
    ci : int
        The class's position in ``meta["classes"]``.
    meta_file : path
        Where ``meta`` was read (named when its ``n_clusters`` does not fit the table).

    Raises
    ------
    ImacsInputError
        Naming ``file`` and the column.
    """
    info = meta["classes"][ci]
    models = list(meta["model_names"])
    n_classes = len(meta["class_names"])
    params = meta["params"]
    h, w = meta["image_shape"][:2]
    bad = sorted(set(seg["model"].astype(str).unique()) - set(models))
    if bad:
        raise bad_file(file, "model", f"has {bad[:5]}; the result's models are {models}")
    bad = sorted(set(seg["outcome"].astype(str).unique()) - set(OUTCOMES))
    if bad:
        raise bad_file(file, "outcome", f"has {bad[:5]}; expected {list(OUTCOMES)}")
    _ints(seg, "image_index", file, 0)
    cells = h * w
    grid = params.get("grid")
    if params.get("segmentation") == "grid" and isinstance(grid, list) and len(grid) == 2 \
            and all(_is(v, int) and v > 0 for v in grid):
        cells = grid[0] * grid[1]
    _ints(seg, "segment_index", file, 0, cells)
    k = params.get("k")
    _ints(seg, "rank", file, 0, k if _is(k, int) and k > 0 else None)
    n_clusters = info.get("n_clusters")
    if n_clusters is not None:
        if n_clusters > max(len(seg), 100):
            raise bad_file(meta_file, f"classes[{ci}].n_clusters",
                           f"is {n_clusters} for {len(seg)} segments")
        _ints(seg, "cluster", file, 0, max(n_clusters, 1))
    att = np.asarray(seg["attribution"])
    if att.dtype.kind != "f" or (len(att) and not np.isfinite(att).all()):
        raise bad_file(file, "attribution", "has NaN, infinite or non-numeric values")
    boxes = np.asarray(seg["bbox"].tolist(), dtype=object).reshape(len(seg), -1) if len(seg) \
        else np.zeros((0, 4), np.int64)
    try:
        boxes = boxes.astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise bad_file(file, "bbox", "has non-integer values") from exc
    if boxes.shape[1] != 4 or (len(boxes) and (
            (boxes[:, :2] < 0).any() or (boxes[:, 2] > w).any() or (boxes[:, 3] > h).any()
            or (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any())):
        raise bad_file(file, "bbox", f"has boxes outside the {w}x{h} image")
    for col in seg.columns:
        if col == "label" or (col.startswith("pred_") and len(col) == 6):
            _ints(seg, col, file, -1, n_classes)
    preds = [c for c in seg.columns if c.startswith("pred_") and len(c) == 6]
    if preds:
        lost = [f"{p}_{m.lower()}" for m in models for p in ("pred", "score")
                if f"{p}_{m.lower()}" not in seg.columns]
        if lost:
            raise bad_file(file, "columns", f"lack {lost} for the result's models {models}")


def check_array(array, file, name: str, rows: int | None, dtype, ndim: int) -> None:
    """Check a stored array's metadata before reading it: dtype, rank, row count, sides and
    chunk shape (bounded, so nothing from a tampered file is allocated).

    Parameters
    ----------
    array : zarr.Array
    file : path
        The array's folder (named in errors).
    name : str
        The array's name (the field named in errors).
    rows : int or None
        The rows it must have (``None``: not checked).
    dtype : numpy dtype or None
        The dtype it must have (``None``: any number).
    ndim : int
        Its rank.

    Raises
    ------
    ImacsInputError
        Naming ``file`` and ``name``.
    """
    shape = tuple(int(v) for v in array.shape)
    dt = np.dtype(array.dtype)
    if dtype is not None and dt != np.dtype(dtype):
        raise bad_file(file, name, f"is {dt}; expected {np.dtype(dtype)}")
    if dt.kind not in "biuf":
        raise bad_file(file, name, f"is {dt}; expected numbers")
    if rows == 0 and shape == (0,):
        return  # an empty class's arrays are written without their row shape
    if len(shape) != ndim:
        raise bad_file(file, name, f"has shape {shape}; expected {ndim} dimensions")
    if rows is not None and ndim and shape[0] != rows:
        raise bad_file(file, name, f"has {shape[0]} rows but the segments table has {rows}")
    if any(v > MAX_SIDE for v in shape[1:]):
        raise bad_file(file, name, f"has shape {shape}")
    chunks = tuple(int(v) for v in array.chunks)
    if ndim and (chunks[0] < 1 or chunks[0] > 1 << 20 or chunks[1:] != shape[1:]):
        raise bad_file(file, name, f"has chunks {chunks} for shape {shape}")


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as JSON through a temporary file (no half-written meta.json)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, default=json_default))
    tmp.replace(path)


def json_default(o):
    """JSON for NumPy scalars and arrays."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)
