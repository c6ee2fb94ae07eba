"""Keras 3 models, on any Keras backend (TensorFlow, JAX, PyTorch).

With the TensorFlow backend a batch runs through a compiled ``tf.function`` (one trace per input
shape; bit-identical to eager calls and ~1.5x faster on a small CNN); on other backends through
``model(x, training=False)``. Gradients (for the XRAI ranking) use ``tf.GradientTape`` and need
the TensorFlow backend.
"""

from __future__ import annotations

import hashlib
import weakref

import numpy as np

from .contract import NotDifferentiable, tensor_scores

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Keras model -> {input shape: compiled forward or None (eager fallback)}, shared by adapters."""


def keras_backend_name() -> str:
    import keras

    return keras.backend.backend()


class KerasBackend:
    """A ``keras.Model``; the input size is read from its input shape."""

    kind = "keras"
    default_preprocess = "none"
    class_names = None

    def __init__(self, model):
        self.model = model
        shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
        shape = tuple(shape)
        self.input_size = (int(shape[1]), int(shape[2])) if len(shape) == 4 and shape[1] and shape[2] else None
        self._compiled: dict = {}

    def __getstate__(self):  # compiled functions stay in the process that traced them
        state = dict(self.__dict__)
        state["_compiled"] = {}
        state.pop("_masked", None)
        return state

    def _tf_forward(self, x: np.ndarray):
        shape = tuple(x.shape[1:])
        fn = self._compiled.get(shape, False)
        if fn is False:
            try:
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
        return self.model(x, training=False) if fn is None else fn(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if keras_backend_name() == "tensorflow":
            out = self._tf_forward(x)
        else:
            import keras

            out = self.model(x, training=False)
            out = keras.ops.convert_to_numpy(out[0] if isinstance(out, (list, tuple)) else out)
        if isinstance(out, (list, tuple)):
            out = out[0]
        return np.asarray(out, dtype=np.float64)

    # -- masked scoring with Keras ops ------------------------------------------------------------
    def supports_masked(self, adapter) -> bool:
        """Masked images are composed with Keras ops when the preprocessing is a named one."""
        return adapter._affine() is not None

    def prefers_masked(self) -> bool:
        """Whether masked images are best composed with Keras ops: on an accelerator (on a
        CPU, NumPy's threaded composition, overlapped with the model, measured faster)."""
        backend = keras_backend_name()
        try:
            if backend == "tensorflow":
                import tensorflow as tf

                return bool(tf.config.list_logical_devices("GPU"))
            if backend == "jax":
                import jax

                return jax.default_backend() != "cpu"
            if backend == "torch":
                import torch

                return torch.cuda.is_available()
        except Exception:  # noqa: BLE001 - no accelerator to find
            return False
        return False

    def _masked_step(self, adapter, h: int, w: int):
        """``step(images, baselines, maps, idx, excluded) -> outputs`` of one batch in Keras ops
        (compose, resize, preprocess, model), compiled with ``tf.function`` on TensorFlow."""
        import keras

        flip, scale, offset = adapter._affine()
        scale = np.broadcast_to(np.asarray(scale, np.float32), (3,)).copy()
        offset = np.broadcast_to(np.asarray(offset, np.float32), (3,)).copy()
        size = tuple(adapter.input_size) if adapter.input_size is not None else None
        key = (h, w, size, bool(flip), scale.tobytes(), offset.tobytes())
        fns = self.__dict__.setdefault("_masked", {})
        if key in fns:
            return fns[key]
        ops, model = keras.ops, self.model

        def step(img, base, maps, idx, excl):
            n = ops.shape(idx)[0]
            lm = ops.reshape(ops.take(maps, idx, axis=0), (n, h * w))
            drop = ops.reshape(ops.take_along_axis(excl, lm, axis=1), (n, h, w, 1))
            x = ops.where(drop, ops.take(base, idx, axis=0), ops.take(img, idx, axis=0))
            if size is not None and size != (h, w):
                x = ops.image.resize(x, size, interpolation="bilinear")
            if flip:
                x = ops.flip(x, axis=-1)
            y = model(x * scale + offset, training=False)
            return y[0] if isinstance(y, (list, tuple)) else y

        if keras_backend_name() == "tensorflow":
            import tensorflow as tf

            step = tf.function(step, input_signature=[
                tf.TensorSpec((None, h, w, 3), tf.float32), tf.TensorSpec((None, h, w, 3), tf.float32),
                tf.TensorSpec((None, h, w), tf.int64), tf.TensorSpec((None,), tf.int64),
                tf.TensorSpec((None, None), tf.bool)])
        fns[key] = step
        return step

    def masked_forward(self, adapter, images, baselines, label_maps, jobs, batch_size,
                       progress=None):
        """Raw outputs ``float64 [n_jobs, C]`` of masked images composed, resized and
        preprocessed with Keras ops on the backend's device (one compiled step per batch on
        TensorFlow); the chunk's arrays are converted to tensors once."""
        import keras

        h, w = images.shape[1:3]
        step = self._masked_step(adapter, h, w)
        ops = keras.ops
        img, base = ops.convert_to_tensor(images), ops.convert_to_tensor(baselines)
        maps = ops.convert_to_tensor(label_maps.astype(np.int64))
        idx, excl = ops.convert_to_tensor(jobs.image), ops.convert_to_tensor(jobs.excluded)
        outs = []
        for a in range(0, len(jobs), int(batch_size)):
            b = min(len(jobs), a + int(batch_size))
            outs.append(step(img, base, maps, idx[a:b], excl[a:b]))
            if progress is not None:
                progress(b - a)
        return np.concatenate([np.asarray(ops.convert_to_numpy(o), np.float64) for o in outs])

    def output_hint(self) -> str | None:
        last = self.model.layers[-1]
        act = getattr(getattr(last, "activation", None), "__name__", "")
        if act == "softmax" or type(last).__name__ == "Softmax":
            return "probabilities"
        return None

    def weights_digest(self) -> bytes:
        h = hashlib.sha256(self.model.to_json().encode())
        for w in self.model.get_weights():
            h.update(np.ascontiguousarray(w).tobytes())
        return h.digest()

    def gradient_function(self, adapter, example):
        if keras_backend_name() != "tensorflow":
            raise NotDifferentiable(f"gradients of a Keras model need the TensorFlow backend "
                                    f"(this one runs on {keras_backend_name()!r})")
        return tf_gradient_function(adapter, example, lambda x: self.model(x, training=False))

    # -- Grad-CAM ----------------------------------------------------------------------------------
    def gradcam_function(self, adapter, example, layer=None):
        """``fn(x, target) -> float64 [n, h', w']``: Grad-CAM maps of the last layer with a 4-D
        output (or of ``layer``) for the adapter's score of ``target`` (TensorFlow backend);
        ``fn.n_classes``."""
        import keras
        import tensorflow as tf

        from ..errors import ImacsInputError

        model = self.model
        if layer is None:
            conv = [lyr for lyr in model.layers if len(lyr.output.shape) == 4
                    and (lyr.output.shape[1] or 2) * (lyr.output.shape[2] or 2) > 1]
            if not conv:
                raise NotDifferentiable("it has no layer with a 4-D output")
            chosen = conv[-1]
        else:
            try:
                chosen = model.get_layer(layer)
            except ValueError as exc:
                raise ImacsInputError("layer", f"model {adapter.name!r} has no layer {layer!r}") from exc
        if isinstance(model, keras.Sequential):  # run the layers in turn (a nested model is one)
            upto = model.layers.index(chosen) + 1

            def sub(x, training=False):
                h = x
                for lyr in model.layers[:upto]:
                    h = lyr(h, training=training)
                feats = h
                for lyr in model.layers[upto:]:
                    h = lyr(h, training=training)
                return feats, h
        else:
            try:
                sub = keras.Model(model.inputs, [chosen.output, model.outputs[0]])
            except ValueError as exc:
                raise ImacsInputError("layer", f"can't read the feature map of layer "
                                      f"{chosen.name!r} of model {adapter.name!r} ({exc}); pass "
                                      "layer= the name of a top-level layer") from exc
        pre, size, score = adapter.tensor_preprocess(), adapter.input_size, adapter.score
        returns = adapter.returns if adapter.returns != "auto" else (self.output_hint() or "logits")

        def fn(x, target):
            x = tf.convert_to_tensor(np.asarray(x, np.float32))
            if size is not None and tuple(x.shape[1:3]) != tuple(size):
                x = tf.image.resize(x, size, method="bilinear")
            with tf.GradientTape() as tape:
                tape.watch(x)  # records the graph even when no weight is trainable
                feats, out = sub(pre(x), training=False)
                tape.watch(feats)
                out = tensor_scores(out, returns, score, **_tf_ops())
                obj = tf.reduce_sum(out[:, int(target)])
            g = tape.gradient(obj, feats)
            weights = tf.reduce_mean(g, axis=(1, 2), keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1))
            adapter.n_evals += int(x.shape[0])
            return cam.numpy().astype(np.float64)

        fn.n_classes = int(model.outputs[0].shape[-1])
        return fn

    # -- weight randomisation (the sanity check) -------------------------------------------------
    def weighted_layers(self) -> list[str]:
        """Names of the layers with learned weights (nested models' layers included), output
        first."""
        return [layer.name for layer in reversed(_keras_layers(self.model)) if _learned(layer)]

    def randomized_copy(self, names, noise):
        """A clone of the model whose layers ``names`` have every learned weight ``w`` replaced
        by ``noise(j)(w)`` (``j``: the position in ``names``; batch-norm moving statistics
        kept)."""
        import keras

        new = keras.models.clone_model(self.model)
        new.set_weights(self.model.get_weights())
        layers = {layer.name: layer for layer in _keras_layers(new)}
        for j, name in enumerate(names):
            draw = noise(j)
            for v in _learned(layers[name]):
                v.assign(draw(np.asarray(v.numpy())))
        return new


def _learned(layer) -> list:
    """A Keras layer's learned weights, trainable or frozen (not batch-norm moving statistics)."""
    return [v for v in layer.weights
            if "moving_" not in str(getattr(v, "path", None) or getattr(v, "name", ""))]


def _keras_layers(model) -> list:
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # a nested model: its own layers
            out.extend(_keras_layers(layer))
        else:
            out.append(layer)
    return out


def _tf_ops() -> dict:
    import tensorflow as tf

    return {"softmax": lambda x: tf.nn.softmax(x, axis=-1), "log": tf.math.log,
            "clip_min": tf.maximum}


def load_inception_v3():
    """``keras.applications.InceptionV3`` with ImageNet weights, pooled (Keras downloads the
    weights on first use; raises when it cannot)."""
    import keras

    return keras.applications.InceptionV3(weights="imagenet", include_top=False, pooling="avg")


def tf_gradient_function(adapter, example: np.ndarray, call):
    """Gradients of ``sum_c w_c * score_c`` w.r.t. pixel-scale input through TensorFlow.

    ``call`` maps the preprocessed input tensor to outputs; resizing, preprocessing (a named
    preprocessor or a TensorFlow-compatible callable) and the score conversion happen in the
    graph. Returns ``(fn, n_classes, scores0)`` with ``fn(x, w) -> (grad, scores)`` in NumPy.
    """
    import tensorflow as tf

    pre, size, score = adapter.tensor_preprocess(), adapter.input_size, adapter.score
    returns = adapter.returns if adapter.returns != "auto" else (adapter.backend.output_hint() or "logits")

    def scores(x):
        x = tf.convert_to_tensor(x, tf.float32)
        if size is not None and tuple(x.shape[1:3]) != tuple(size):
            x = tf.image.resize(x, size, method="bilinear")
        return tensor_scores(call(pre(x)), returns, score, **_tf_ops())

    def eager(x, w):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = scores(x)
            obj = tf.reduce_sum(tf.cast(out, tf.float32) * w[None, :])
        return tape.gradient(obj, x), out

    x0 = tf.convert_to_tensor(np.asarray(example, np.float32)[:1])
    try:
        with tf.GradientTape() as tape:
            tape.watch(x0)
            out0 = scores(x0)
            if not tf.is_tensor(out0):
                raise NotDifferentiable("it returned a NumPy array, not a tensor")
            if out0.shape.rank != 2:
                raise NotDifferentiable(f"its output has shape {out0.shape}")
            obj0 = tf.reduce_sum(out0[:, 0])
        g0 = tape.gradient(obj0, x0)
    except NotDifferentiable:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise NotDifferentiable(f"calling it on a tensor failed: {type(exc).__name__}: {first}") from exc
    if g0 is None:
        raise NotDifferentiable("its output is not connected to its input in the TensorFlow graph "
                                "(e.g. it converts to NumPy)")
    n_classes = int(out0.shape[1])
    h, w = example.shape[1:3]
    spec = [tf.TensorSpec([None, h, w, 3], tf.float32), tf.TensorSpec([n_classes], tf.float32)]
    graph = tf.function(eager, input_signature=spec, reduce_retracing=True)
    try:  # compiled gradients are ~10x faster per call; fall back to eager if tracing fails
        g, _ = graph(x0, tf.one_hot(0, n_classes, dtype=tf.float32))
        if g is None:
            raise ValueError("no gradient")
        run = graph
    except Exception:
        run = eager

    def fn(x, weights):
        g, out = run(tf.convert_to_tensor(np.asarray(x, np.float32)),
                     tf.convert_to_tensor(np.asarray(weights, np.float32)))
        return np.asarray(g, dtype=np.float64), np.asarray(out, dtype=np.float64)

    return fn, n_classes, np.asarray(out0, dtype=np.float64)
