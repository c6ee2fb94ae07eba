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
from .backends import NotDifferentiable
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

    def forward(self, x: np.ndarray) -> np.ndarray:
        import torch

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
