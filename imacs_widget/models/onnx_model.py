"""ONNX Runtime models: an ``onnxruntime.InferenceSession`` or the path of an ``.onnx`` file.

The layout is read from the first input's shape: ``[N, 3, H, W]`` (e.g. exported from PyTorch)
gets channels-first 0..1 input like a PyTorch module (``preprocess="unit_range"``), ``[N, H, W,
3]`` gets the pixels as they are (``"none"``); a static ``H, W`` is the input size, a fixed batch
size is honoured by splitting batches. Sessions from a path use the CUDA provider when the
installed onnxruntime has it. No gradients: use ``ranking="loo"``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import ImacsInputError
from .contract import NotDifferentiable


class OnnxBackend:
    """An ONNX model run by onnxruntime."""

    kind = "onnx"
    class_names = None

    def __init__(self, model, name: str = "model"):
        import onnxruntime as ort

        self._path = None
        if isinstance(model, (str, Path)):
            self._path = Path(model)
            if not self._path.is_file():
                raise ImacsInputError(name, f"{self._path} does not exist")
            try:
                model = ort.InferenceSession(str(self._path), providers=ort.get_available_providers())
            except Exception as exc:
                raise ImacsInputError(name, f"{self._path} is not a loadable ONNX model: "
                                      f"{type(exc).__name__}: {exc}") from exc
        self.model = model
        inp = model.get_inputs()[0]
        self._input = inp.name
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ImacsInputError(name, f"ONNX input {inp.name!r} has shape {shape}; expected an "
                                  "image batch [N, 3, H, W] or [N, H, W, 3]")
        self.channels_first = shape[1] == 3 or (shape[3] != 3 and not isinstance(shape[1], str))
        hw = shape[2:4] if self.channels_first else shape[1:3]
        self.input_size = tuple(hw) if all(isinstance(v, int) for v in hw) else None
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.dtype = np.float16 if "float16" in inp.type else np.float32
        self.default_preprocess = "unit_range" if self.channels_first else "none"

    def __getstate__(self):  # for Ray workers: a session is rebuilt from its file
        if self._path is None:
            raise ImacsInputError("executor", "an onnxruntime.InferenceSession can't be sent to "
                                  "other processes; pass the .onnx file's path instead")
        state = dict(self.__dict__)
        state["model"] = None
        return state

    def __setstate__(self, state):
        import onnxruntime as ort

        self.__dict__.update(state)
        self.model = ort.InferenceSession(str(self._path), providers=ort.get_available_providers())

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if self.channels_first:
            x = x.transpose(0, 3, 1, 2)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if self.fixed_batch is None:
            out = self.model.run(None, {self._input: x})[0]
            return np.asarray(out, dtype=np.float64)
        parts, b = [], self.fixed_batch
        for s in range(0, len(x), b):
            chunk = x[s:s + b]
            pad = b - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
            parts.append(np.asarray(self.model.run(None, {self._input: chunk})[0])[:b - pad])
        return np.concatenate(parts).astype(np.float64)

    def output_hint(self) -> str | None:
        return None

    def weights_digest(self) -> bytes | None:
        if self._path is None:
            return None  # a session does not expose its bytes: the adapter probes the outputs
        return hashlib.sha256(self._path.read_bytes()).digest()

    def gradient_function(self, adapter, example):
        raise NotDifferentiable("ONNX Runtime computes no gradients")
