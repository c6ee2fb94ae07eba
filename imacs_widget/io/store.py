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


def _zarr():
    import zarr

    return zarr


def disk_error(exc: OSError, path) -> ImacsInputError:
    """A clear error for a store that can't be written (full disk, quota, file size limit)."""
    why = "the disk is full" if exc.errno in _FULL_DISK else str(exc)
    return ImacsInputError("store", f"could not write the result to {path}: {why}. Attributions "
                           "finished so far are kept in cache_dir (when given): free space or "
                           "choose another store=, then run again to resume")


class StoredArray:
    """A stored array read on demand: ``a[i]``, ``a[start:stop]``, ``a[index_array]``,
    ``len(a)``, ``a.shape`` / ``dtype``; ``numpy.asarray(a)`` reads it whole.

    The last :attr:`KEEP_CHUNKS` chunks read are kept decoded, so pictures of neighbouring rows
    (a page of tiles) cost one read.
    """

    KEEP_CHUNKS = 32

    def __init__(self, array):
        self._z = array
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self._rows = int(array.chunks[0]) if self.shape else 1
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()

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
            got = self._z[c * self._rows:(c + 1) * self._rows]
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
            return np.asarray(self._z[idx])
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
        a = np.asarray(self._z[...])
        return a if dtype is None else a.astype(dtype)

    def blocks(self, rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
        """The array ``rows`` rows at a time (what reads a large array without holding it)."""
        for s in range(0, len(self), rows):
            yield np.asarray(self._z[s:s + rows])

    def __repr__(self) -> str:
        return f"<StoredArray {self.dtype}{list(self.shape)}>"


class StoredPreviews(Mapping):
    """``{image_index: uint8 [h, w, 3]}`` source previews read on demand."""

    def __init__(self, index: np.ndarray, previews: StoredArray):
        self._pos = {int(i): j for j, i in enumerate(np.asarray(index))}
        self._previews = previews

    def __getitem__(self, i):
        return self._previews[self._pos[int(i)]]

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
            self.array = self.group.create_array(
                self.name, shape=(0,) + data.shape[1:], dtype=data.dtype,
                chunks=(CHUNK_ROWS[self.name],) + data.shape[1:])
        if n:
            self.array.append(data[:n], axis=0)
            self.written += n
        rest = data[n:]
        self.parts = [rest] if len(rest) else []
        self.buffered = len(rest)

    def close(self, empty_shape=(0,)) -> StoredArray:
        self.flush()
        if self.array is None:
            self.array = self.group.create_array(self.name, shape=empty_shape,
                                                 dtype=DTYPES[self.name],
                                                 chunks=(CHUNK_ROWS[self.name],) + empty_shape[1:])
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
            arr = g.create_array(name, shape=data.shape, dtype=data.dtype,
                                 chunks=(CHUNK_ROWS.get(name, max(1, len(data))),) + data.shape[1:]
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
