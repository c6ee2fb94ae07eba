"""Model adapters: one documented callback contract for Keras models and plain callables.

Every stage that evaluates a model goes through :class:`ModelAdapter`:

``adapter.scores(batch) -> float64 [n, C]``
    ``batch`` is ``float32 [n, H, W, 3]`` in the *user's* pixel scale (e.g. 0–255). The adapter
    resizes to the model's input size, applies the model's own preprocessing, runs the model in
    batches of ``batch_size``, checks the output for NaN/inf and converts it to the requested score
    (softmax probability by default, or logits).

This lets each model have its own input size and preprocessing while the engine works on one set
of images.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ImacsInputError

PREPROCESSORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: x,
    "unit": lambda x: x / 255.0,  # 0..255 -> 0..1
    "symmetric": lambda x: x / 127.5 - 1.0,  # 0..255 -> -1..1 (Inception, MobileNet)
    "imagenet": lambda x: (x / 255.0 - np.array([0.485, 0.456, 0.406], np.float32))
    / np.array([0.229, 0.224, 0.225], np.float32),  # torchvision convention
    "caffe": lambda x: x[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32),  # ResNet50
}
"""Named preprocessing functions from 0–255 RGB to a model's input range."""

SCORES = ("probability", "logit")

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Keras model -> {input shape: compiled forward or None (eager fallback)}."""


def _is_keras_model(model: Any) -> bool:
    try:
        import keras
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, keras.Model)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ModelAdapter:
    """Wrap a Keras model or a callable so every stage can score pixel-scale image batches.

    Parameters
    ----------
    model : keras.Model or callable
        A Keras model, or any callable mapping ``float32 [N, H, W, 3]`` (after ``preprocess``)
        to ``[N, C]`` class probabilities or logits (NumPy array or tensor).
    name : str
        Display name (shown in the widget).
    preprocess : str, callable or None
        Maps pixel-scale images to the model's input range. A key of :data:`PREPROCESSORS`
        (``"none"``, ``"unit"``, ``"symmetric"``, ``"imagenet"``, ``"caffe"``) or a callable on
        NumPy arrays. ``None`` means ``"none"`` (the model gets the pixels as given, e.g. a Keras
        model with its own ``Rescaling`` layer).
    input_size : (int, int) or None
        ``(height, width)`` the model expects. ``None``: read from a Keras model's input shape,
        otherwise images are passed at their own size.
    returns : {"auto", "probabilities", "logits"}
        What the model outputs. ``"auto"`` checks a Keras model's final activation, or whether the
        first outputs are non-negative rows summing to one.
    score : {"probability", "logit"}
        What the engine attributes: softmax probabilities (default) or logits. Asking for logits of
        a model that returns probabilities uses ``log(p)`` (logits up to a per-image constant).
    batch_size : int
        Images per model call.
    fingerprint : str or None
        Identifies the model for caches; computed from the weights for Keras models.
    """

    def __init__(self, model, name: str = "model", preprocess=None, input_size=None,
                 returns: str = "auto", score: str = "probability", batch_size: int = 64,
                 fingerprint: str | None = None):
        if isinstance(model, ModelAdapter):
            raise TypeError("model is already a ModelAdapter")
        if not callable(model):
            raise ImacsInputError(name, f"expected a Keras model or a callable, got "
                                  f"{type(model).__name__}")
        if returns not in ("auto", "probabilities", "logits"):
            raise ImacsInputError("returns", f"must be 'auto', 'probabilities' or 'logits', got {returns!r}")
        if score not in SCORES:
            raise ImacsInputError("score", f"must be 'probability' or 'logit', got {score!r}")
        if int(batch_size) < 1:
            raise ImacsInputError("batch_size", "must be a positive integer")
        self.model = model
        self.name = str(name)
        self.is_keras = _is_keras_model(model)
        if preprocess is None:
            preprocess = "none"
        if isinstance(preprocess, str):
            if preprocess not in PREPROCESSORS:
                raise ImacsInputError("preprocess", f"unknown preprocessing {preprocess!r}; "
                                      f"choose one of {sorted(PREPROCESSORS)} or pass a callable")
            self.preprocess_name = preprocess
            preprocess = PREPROCESSORS[preprocess]
        else:
            if not callable(preprocess):
                raise ImacsInputError("preprocess", "must be a name or a callable")
            self.preprocess_name = getattr(preprocess, "__name__", "custom")
        self.preprocess = preprocess
        if input_size is None and self.is_keras:
            shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else tuple(model.input_shape[0])
            if len(shape) == 4 and shape[1] and shape[2]:
                input_size = (int(shape[1]), int(shape[2]))
        self.input_size = tuple(int(s) for s in input_size) if input_size is not None else None
        self.returns = returns
        self.score = score
        self.batch_size = int(batch_size)
        self._fingerprint = fingerprint
        self._compiled: dict = {}  # input shape -> compiled forward (None: eager fallback)
        self.n_evals = 0
        """Number of images passed through the model so far (for benchmarks)."""

    # -- model-space helpers -------------------------------------------------------------------
    def to_model_input(self, batch: np.ndarray) -> np.ndarray:
        """Resize (bilinear) and preprocess a pixel-scale batch for this model."""
        x = np.asarray(batch, dtype=np.float32)
        if self.input_size is not None and tuple(x.shape[1:3]) != self.input_size:
            x = resize_batch(x, self.input_size)
        return np.asarray(self.preprocess(x), dtype=np.float32)

    def _forward(self, x: np.ndarray):
        """Keras models run through a compiled ``tf.function`` (one trace per input shape).

        Eager ``model(x)`` pays Python dispatch per layer on every call (~1.5x slower on a small
        CNN); the compiled graph runs the same kernels, so outputs are bit-identical. If tracing
        fails (a model that only works eagerly), the adapter falls back to eager calls.
        """
        shape = tuple(x.shape[1:])
        fn = self._compiled.get(shape, False)
        if fn is False:
            try:  # shared by every adapter of the same model (compare() makes new adapters)
                per_model = _COMPILED.setdefault(self.model, {})
            except TypeError:  # pragma: no cover - not weak-referenceable
                per_model = {}
            fn = per_model.get(shape, False)
            if fn is False:
                fn = None
                try:
                    import tensorflow as tf

                    ref = weakref.ref(self.model)  # the cache must not keep the model alive
                    fn = tf.function(lambda t: ref()(t, training=False), input_signature=[
                        tf.TensorSpec((None, *shape), tf.float32)])
                    out = fn(x)
                    per_model[shape] = self._compiled[shape] = fn
                    return out
                except Exception:
                    fn = None
                per_model[shape] = fn
            self._compiled[shape] = fn
        if fn is None:
            return self.model(x, training=False)
        return fn(x)

    def _raw(self, x: np.ndarray) -> np.ndarray:
        if self.is_keras:
            out = self._forward(x)
        else:
            out = self.model(x)
        if isinstance(out, (list, tuple)):
            out = out[0]
        out = np.asarray(out, dtype=np.float64)
        return out

    def _detect_returns(self, out: np.ndarray) -> str:
        if self.returns != "auto":
            return self.returns
        if self.is_keras:
            act = getattr(self.model.layers[-1], "activation", None)
            act_name = getattr(act, "__name__", "")
            if act_name == "softmax" or type(self.model.layers[-1]).__name__ == "Softmax":
                return "probabilities"
        looks_prob = bool(np.all(out >= -1e-6) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))
        return "probabilities" if looks_prob else "logits"

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """Score a pixel-scale batch ``[n, H, W, 3]`` → ``float64 [n, C]`` (see class docs)."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[-1] != 3:
            raise ImacsInputError("batch", f"expected [n, H, W, 3], got shape {batch.shape}")
        outs = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start:start + self.batch_size]
            try:
                raw = self._raw(self.to_model_input(chunk))
            except ImacsInputError:
                raise
            except Exception as exc:
                raise ImacsInputError(
                    f"model {self.name!r}",
                    f"failed on a batch of shape {tuple(chunk.shape)} (input size "
                    f"{self.input_size}, preprocess {self.preprocess_name!r}): "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
            if raw.ndim != 2 or raw.shape[0] != len(chunk):
                raise ImacsInputError(f"model {self.name!r}", f"returned shape {raw.shape} for "
                                      f"{len(chunk)} images; expected [N, n_classes]")
            if not np.isfinite(raw).all():
                bad = np.flatnonzero(~np.isfinite(raw).all(axis=1))
                raise ImacsInputError(f"model {self.name!r}", f"returned NaN/inf scores for "
                                      f"{len(bad)} of {len(chunk)} images in a batch; check the "
                                      "model and its preprocessing")
            outs.append(raw)
            self.n_evals += len(chunk)
        raw = np.concatenate(outs, axis=0) if outs else np.zeros((0, 0))
        if raw.size == 0:
            return raw
        kind = self._detect_returns(raw)
        self.returns = kind  # fix after first detection so every batch is converted alike
        if self.score == "probability":
            return raw if kind == "probabilities" else _softmax(raw)
        return np.log(np.clip(raw, 1e-12, None)) if kind == "probabilities" else raw

    __call__ = scores

    def n_classes(self, sample: np.ndarray) -> int:
        """Number of classes, from one forward pass on ``sample[:1]``."""
        return int(self.scores(sample[:1]).shape[1])

    # -- gradients (for XRAI / Guided IG ranking) ----------------------------------------------
    def differentiable(self):
        """Return a TensorFlow function ``pixels [n,H,W,3] -> scores [n,C]`` for gradients.

        Only Keras models (or callables accepting and returning tensors) support this; the
        preprocessing must be a :data:`PREPROCESSORS` name or a TensorFlow-compatible callable.
        """
        import tensorflow as tf

        pre = self.preprocess
        size = self.input_size
        model = self.model
        score = self.score
        returns = self.returns

        def fn(x):
            x = tf.convert_to_tensor(x, tf.float32)
            if size is not None and tuple(x.shape[1:3]) != size:
                x = tf.image.resize(x, size, method="bilinear")
            x = pre(x)
            out = model(x, training=False) if self.is_keras else model(x)
            kind = returns if returns != "auto" else ("probabilities" if self.is_keras and getattr(
                getattr(model.layers[-1], "activation", None), "__name__", "") == "softmax" else "logits")
            if score == "probability":
                return out if kind == "probabilities" else tf.nn.softmax(out, axis=-1)
            return tf.math.log(tf.maximum(out, 1e-12)) if kind == "probabilities" else out

        return fn

    # -- identity --------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A stable hash of the model (weights and architecture for Keras models) and its options."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            if self.is_keras:
                h.update(self.model.to_json().encode())
                for w in self.model.get_weights():
                    h.update(np.ascontiguousarray(w).tobytes())
            else:
                h.update(repr(self.model).encode())
            h.update(f"{self.preprocess_name}|{self.input_size}|{self.score}".encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def __repr__(self) -> str:
        return (f"ModelAdapter(name={self.name!r}, input_size={self.input_size}, "
                f"preprocess={self.preprocess_name!r}, score={self.score!r})")


def resize_batch(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``[n, H, W, C]`` float images to ``size`` = (height, width)."""
    import tensorflow as tf

    return tf.image.resize(x, size, method="bilinear").numpy().astype(np.float32)


def as_adapter(model, name: str, **options) -> ModelAdapter:
    """Return ``model`` as a :class:`ModelAdapter` (an adapter passes through, renamed if asked).

    ``options`` are :class:`ModelAdapter` keyword arguments; they are rejected for an adapter.
    """
    if isinstance(model, ModelAdapter):
        if options.get("score") and options["score"] != model.score:
            model.score = options["score"]
        return model
    return ModelAdapter(model, name=name, **options)
