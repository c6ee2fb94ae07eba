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


def _logsumexp_others(z: np.ndarray) -> np.ndarray:
    """``[n, C]``: for each class c, ``log(sum_{j != c} exp(z_j))``, computed stably."""
    n, c = z.shape
    if c == 1:
        return np.full_like(z, -np.inf)
    order = np.argsort(z, axis=1)
    top, second = order[:, -1], order[:, -2]
    rows = np.arange(n)
    m = z[rows, top][:, None]  # the largest logit
    e = np.exp(z - m)
    total = e.sum(axis=1, keepdims=True)
    others = np.log(np.maximum(total - e, 0.0)) + m
    # for the top class, subtracting its own term loses precision: recompute from the rest
    m2 = z[rows, second]
    e2 = np.exp(z - m2[:, None])
    e2[rows, top] = 0.0
    others[rows, top] = np.log(e2.sum(axis=1)) + m2
    return others


def convert_outputs(raw: np.ndarray, returns: str, kind: str) -> np.ndarray:
    """Convert model outputs ``raw [n, C]`` (``returns``: ``"probabilities"`` or ``"logits"``).

    ``kind``:

    ``"probability"``
        softmax of logits, or the probabilities as given;
    ``"logit"``
        the logits, or ``log p`` for probabilities (logits up to a per-image constant);
    ``"log_odds"``
        ``log p_c - log(sum_{j != c} p_j)`` per class. From logits it is
        ``z_c - logsumexp_{j != c} z_j``, exact even when the softmax rounds to 1.0; from
        probabilities the other classes' sum is used (not ``1 - p_c``, which is 0 once ``p_c``
        rounds to 1.0), clipped at the smallest positive float so it stays finite.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if kind == "probability":
        return raw if returns == "probabilities" else _softmax(raw)
    if kind == "logit":
        return np.log(np.clip(raw, 1e-12, None)) if returns == "probabilities" else raw
    if kind == "log_odds":
        if returns == "logits":
            return raw - _logsumexp_others(raw)
        tiny = np.finfo(np.float64).tiny
        p = np.clip(raw, 0.0, None)
        others = p.sum(axis=1, keepdims=True) - p
        # the top class's "others" is better summed directly than by subtraction
        top = p.argmax(axis=1)
        rows = np.arange(len(p))
        q = p.copy()
        q[rows, top] = 0.0
        others[rows, top] = q.sum(axis=1)
        return np.log(np.maximum(p, tiny)) - np.log(np.maximum(others, tiny))
    raise ImacsInputError("kind", f"must be 'probability', 'logit' or 'log_odds', got {kind!r}")


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a function, of a callable object's class, or of a partial's function."""
    import functools

    if isinstance(obj, functools.partial):
        return "partial:" + qualified_name(obj.func)
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(obj).__name__)}"


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
        self.n_calls = 0
        """Number of model calls (batches) so far."""

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

    def raw(self, batch: np.ndarray) -> np.ndarray:
        """The model's own outputs on a pixel-scale batch: ``float64 [n, C]``, checked.

        Runs the model in batches of ``batch_size`` after resizing and preprocessing; raises
        :class:`~imacs_widget.errors.ImacsInputError` naming the model on a failing call, a
        wrong output shape or NaN/inf outputs. What the outputs are (probabilities or logits) is
        detected on the first call (see ``returns``) and fixed from then on.
        """
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
            self.n_calls += 1
        raw = np.concatenate(outs, axis=0) if outs else np.zeros((0, 0))
        if raw.size:
            self.returns = self._detect_returns(raw)  # fixed: every batch is converted alike
        return raw

    def convert(self, raw: np.ndarray, kind: str | None = None) -> np.ndarray:
        """Raw outputs (from :meth:`raw`) → ``kind``: ``"probability"``, ``"logit"`` or
        ``"log_odds"`` (default: the attributed :attr:`score`). See :func:`convert_outputs`."""
        if raw.size == 0:
            return raw
        return convert_outputs(raw, self.returns, kind or self.score)

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """Score a pixel-scale batch ``[n, H, W, 3]`` → ``float64 [n, C]`` (see class docs)."""
        return self.convert(self.raw(batch))

    def log_odds(self, batch: np.ndarray) -> np.ndarray:
        """Per-class log-odds ``log p_c - log(1 - p_c)`` of a pixel-scale batch, ``[n, C]``.

        What rankings compare: unlike probabilities they do not saturate at 1.0 for a confident
        model (see :func:`convert_outputs`).
        """
        return self.convert(self.raw(batch), "log_odds")

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
    def fingerprint(self, probe_shape: tuple[int, int] | None = None,
                    pixel_range: tuple[float, float] = (0.0, 255.0)) -> str:
        """A hash of what the model computes, for caches (cached after the first call).

        * an explicit ``fingerprint=`` given to the adapter is used as it is;
        * Keras models: architecture (``to_json``) and every weight;
        * anything else: the code's qualified name plus a hash of the model's outputs on a
          fixed, seeded probe batch of two ``probe_shape`` images in ``pixel_range`` (so two
          callables with the same ``repr`` but different weights differ, and a plain function
          gets the same key in a new process). Outputs are rounded to 6 significant digits so
          that floating-point noise between runs does not change the key.

        The preprocessing, input size and attributed score are part of every fingerprint.
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            if self.is_keras:
                h.update(self.model.to_json().encode())
                for w in self.model.get_weights():
                    h.update(np.ascontiguousarray(w).tobytes())
            else:
                h.update(qualified_name(self.model).encode())
                shape = tuple(self.input_size or probe_shape or (32, 32))
                rng = np.random.default_rng(20240607)
                lo, hi = (float(v) for v in pixel_range)
                probe = (lo + rng.random((2, *shape, 3)) * (hi - lo)).astype(np.float32)
                saved = (self.n_evals, self.n_calls)
                out = self.raw(probe)
                self.n_evals, self.n_calls = saved  # the probe is not part of the run's work
                h.update(np.asarray([float(f"{v:.6g}") for v in out.ravel()]).tobytes())
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
