"""Model kinds behind the one adapter contract: how each framework runs a batch.

A *backend* turns a preprocessed ``float32 [n, H, W, 3]`` NumPy batch into the model's raw
``[n, C]`` outputs. :func:`backend_for` picks one by the model's type, looking only at frameworks
that are already imported (a PyTorch module cannot exist unless ``torch`` is), so passing a
Keras model never imports PyTorch and vice versa:

* Keras 3 models on any backend (:mod:`.keras_model`);
* Hugging Face ``transformers`` image classifiers with their image processor (:mod:`.hf_model`);
* PyTorch ``nn.Module`` (also TorchScript and ``torch.export`` modules; :mod:`.torch_model`);
* ONNX Runtime sessions or ``.onnx`` paths (:mod:`.onnx_model`);
* any other callable on NumPy arrays (:class:`CallableBackend`).

Backend attributes: ``kind``; ``input_size`` (``(h, w)`` or ``None``); ``default_preprocess`` (a
:data:`~imacs_widget.models.adapter.PREPROCESSORS` name); ``class_names`` (from the model, or
``None``); methods ``forward(x)``, ``output_hint()`` (``"probabilities"``, ``"logits"`` or
``None``), ``weights_digest()`` (bytes identifying the weights, or ``None`` when the adapter must
probe the outputs) and ``gradient_function(adapter, example)`` (for gradient rankings).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImacsInputError
from .contract import NotDifferentiable

__all__ = ["CallableBackend", "NotDifferentiable", "backend_for", "limit_threads",
           "weights_backend"]


class CallableBackend:
    """Any callable mapping ``float32 [n, H, W, 3]`` to ``[n, C]`` (NumPy or a tensor)."""

    kind = "callable"
    input_size = None
    default_preprocess = "none"
    class_names = None

    def __init__(self, fn):
        self.model = fn

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.model(x)
        if isinstance(out, (list, tuple)):
            out = out[0]
        if hasattr(out, "detach"):  # a torch tensor from a user callable
            out = out.detach().float().cpu().numpy()
        return np.asarray(out, dtype=np.float64)

    def output_hint(self) -> str | None:
        return None

    def weights_digest(self) -> bytes | None:
        return None

    def gradient_function(self, adapter, example):
        from .keras_model import tf_gradient_function

        return tf_gradient_function(adapter, example, lambda x: self.model(x))


def _loaded(module: str):
    return sys.modules.get(module)


def limit_threads(n: int) -> None:
    """Keep the frameworks this process has already imported (TensorFlow, PyTorch) to ``n``
    threads (a Ray actor's share of its node); nothing is imported."""
    tf = _loaded("tensorflow")
    if tf is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(max(1, n))
        except Exception:  # noqa: BLE001 - its runtime already started
            pass
    torch = _loaded("torch")
    if torch is not None:
        torch.set_num_threads(n)


def backend_for(model: Any, name: str = "model", processor=None, device=None):
    """The backend for ``model``; an :class:`~imacs_widget.errors.ImacsInputError` naming
    ``name`` if it is no model this package can run."""
    if hasattr(model, "forward") and hasattr(model, "weights_digest") and hasattr(model, "kind"):
        return model  # already a backend
    if isinstance(model, (str, Path)):
        p = Path(model)
        if p.suffix.lower() == ".onnx":
            from .onnx_model import OnnxBackend

            return OnnxBackend(p, name)
        raise ImacsInputError(name, f"{p}: a model path must be an .onnx file here (load .keras, "
                              "TorchScript and Hugging Face files with imacs_widget.io.loaders."
                              "load_model)")
    keras = _loaded("keras")
    if keras is not None and isinstance(model, keras.Model):
        from .keras_model import KerasBackend

        return KerasBackend(model)
    transformers = _loaded("transformers")
    if transformers is not None and isinstance(model, transformers.PreTrainedModel):
        from .hf_model import HuggingFaceBackend

        return HuggingFaceBackend(model, processor, device, name)
    torch = _loaded("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        from .torch_model import TorchBackend

        return TorchBackend(model, device)
    ort = _loaded("onnxruntime")
    if ort is not None and isinstance(model, ort.InferenceSession):
        from .onnx_model import OnnxBackend

        return OnnxBackend(model, name)
    if callable(model):
        return CallableBackend(model)
    raise ImacsInputError(name, f"expected a Keras model, a PyTorch module, a Hugging Face image "
                          f"classifier, an ONNX Runtime session or .onnx path, or a callable; got "
                          f"{type(model).__name__}")


def weights_backend(model):
    """The backend of a model whose weights can be listed and randomised (``weighted_layers``,
    ``randomized_copy``: Keras models and PyTorch modules, Hugging Face classifiers included),
    from a model, an adapter or a backend; ``None`` for any other model."""
    if hasattr(model, "randomized_copy") and hasattr(model, "weighted_layers"):
        return model
    if hasattr(model, "backend") and hasattr(model, "kind"):  # a ModelAdapter
        return weights_backend(model.backend)
    if hasattr(model, "forward") and hasattr(model, "weights_digest") and hasattr(model, "kind"):
        return None  # a backend that can't
    keras = _loaded("keras")
    if keras is not None and isinstance(model, keras.Model):
        from .keras_model import KerasBackend

        return KerasBackend(model)
    torch = _loaded("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        from .torch_model import TorchBackend

        return TorchBackend(model)
    return None
