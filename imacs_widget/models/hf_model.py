"""Hugging Face ``transformers`` image classifiers (``AutoModelForImageClassification``).

The checkpoint's own image processor (``AutoImageProcessor``) does the resizing and
normalisation: pass it as ``preprocess=`` (``compare(..., preprocess_a=processor)``), or it is
loaded from the model's folder (``model.name_or_path``, local files only: nothing is
downloaded). The adapter hands the processor 0..1 RGB images (``do_rescale=False``). Class names
come from ``config.id2label``. The processor runs in PIL / NumPy, so there are no gradients
through it: use the default ``ranking="loo"``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ImacsInputError
from .contract import NotDifferentiable
from .torch_model import TorchBackend


def is_image_processor(obj) -> bool:
    """Whether ``obj`` is a ``transformers`` image processor (without importing transformers)."""
    import sys

    tr = sys.modules.get("transformers")
    return tr is not None and isinstance(obj, tr.ImageProcessingMixin)


def _auto_processor(model, name: str):
    path = getattr(model, "name_or_path", "") or getattr(model.config, "_name_or_path", "")
    if path:
        from transformers import AutoImageProcessor

        try:
            return AutoImageProcessor.from_pretrained(path, local_files_only=True)
        except Exception as exc:
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        else:  # pragma: no cover
            why = ""
    else:
        why = "the model has no name_or_path"
    raise ImacsInputError(name, f"needs its image processor and none was found locally ({why}); "
                          "pass it: compare(..., preprocess_a=AutoImageProcessor."
                          "from_pretrained(checkpoint))")


class HuggingFaceBackend(TorchBackend):
    """A ``transformers.PreTrainedModel`` image classifier with its image processor."""

    kind = "huggingface"
    default_preprocess = "unit_range"

    def __init__(self, model, processor=None, device=None, name: str = "model"):
        super().__init__(model, device)
        self.processor = processor if processor is not None else _auto_processor(model, name)
        labels = getattr(model.config, "id2label", None) or {}
        names = [str(labels.get(i, labels.get(str(i), ""))) for i in range(len(labels))]
        default = all(n == f"LABEL_{i}" for i, n in enumerate(names))
        self.class_names = names if names and not default and all(names) else None

    def _run(self, t):
        return self.model(pixel_values=t).logits

    # -- the processor as tensor ops ---------------------------------------------------------------
    def tensor_processor(self):
        """The image processor's resize / rescale / normalise as torch ops on ``float32
        [n, 3, H, W]`` 0..1 tensors, or ``None`` when the processor does more (centre crops,
        shortest-edge resizes, padding): then it runs as it is, in PIL / NumPy.

        Resizing uses the processor's filter (bilinear or bicubic) with antialiasing, as PIL
        does; unlike the processor it does not round the pixels to 8 bits first, so scores
        differ from the processor's by that rounding at most (none when no resize is needed).
        """
        cfg = self.processor.to_dict()
        if cfg.get("do_center_crop") or cfg.get("do_pad") or cfg.get("crop_pct"):
            return None
        size = cfg.get("size") or {}
        if cfg.get("do_resize", False) and not ("height" in size and "width" in size):
            return None
        mode = {2: "bilinear", 3: "bicubic"}.get(int(cfg.get("resample", 2) or 2))
        if mode is None:
            return None
        import torch

        target = (int(size["height"]), int(size["width"])) if cfg.get("do_resize") else None
        norm = bool(cfg.get("do_normalize", False))
        mean = torch.as_tensor(np.asarray(cfg.get("image_mean") or [0.0] * 3, np.float32),
                               device=self.device).view(1, -1, 1, 1)
        std = torch.as_tensor(np.asarray(cfg.get("image_std") or [1.0] * 3, np.float32),
                              device=self.device).view(1, -1, 1, 1)

        def pre(x):
            if target is not None and tuple(x.shape[2:4]) != target:
                x = torch.nn.functional.interpolate(x, size=target, mode=mode,
                                                    align_corners=False, antialias=True)
                if mode == "bicubic":
                    x = x.clamp(0.0, 1.0)
            if norm:
                x = (x - mean) / std
            return x.to(self.dtype)

        return pre

    def _processor_ops(self):
        if "_ops" not in self.__dict__:
            self._ops = self.tensor_processor()
        return self._ops

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_ops", None)
        return state

    def supports_masked(self, adapter) -> bool:
        return adapter._affine() is not None and self._processor_ops() is not None

    def device_preprocess(self, adapter):
        """The adapter's resize and 0..1 mapping, then the processor's ops (see
        :meth:`tensor_processor`)."""
        affine, ops = self.device_affine(adapter), self._processor_ops()
        return lambda x: ops(affine(x))

    def forward(self, x: np.ndarray) -> np.ndarray:
        import torch

        ops = self._processor_ops()
        if ops is not None:  # the same ops as the masked path (no 8-bit rounding)
            with torch.inference_mode():
                t = self._upload(np.asarray(x, np.float32)).permute(0, 3, 1, 2).contiguous()
                return self._run(ops(t)).float().cpu().numpy().astype(np.float64)
        pv = self.processor(images=list(np.asarray(x, np.float32)), do_rescale=False,
                            input_data_format="channels_last", return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            out = self._run(pv.to(self.device, self.dtype))
        return out.float().cpu().numpy().astype(np.float64)

    def weights_digest(self) -> bytes:
        import hashlib

        h = hashlib.sha256(super().weights_digest())
        h.update(repr(self.processor.to_dict()).encode())
        return h.digest()

    def gradient_function(self, adapter, example):
        raise NotDifferentiable("a Hugging Face image processor resizes and normalises in PIL / "
                                "NumPy, outside the autograd graph")
