"""Gradient rankers: Integrated Gradients and Grad-CAM, summed over each segment.

Both follow the ranker contract of :mod:`~imacs_widget.engine.ranking` and are registered there
(``ranking="ig"``, ``ranking="gradcam"``). They need a differentiable model (a Keras model on the
TensorFlow backend, a PyTorch module, or a callable on TensorFlow tensors); a model without
gradients raises an error naming ``ranking``.

``"ig"`` — :func:`rank_integrated_gradients`
    Integrated Gradients (Sundararajan et al., 2017) of the class score from the run's exclusion
    baseline (the blurred image by default, so the attribution measures what excluding a segment
    removes) to the image, by the midpoint rule with ``steps`` gradient evaluations per image; a
    segment's importance is the sum of its pixels' attributions.
``"gradcam"`` — :func:`rank_gradcam`
    Grad-CAM (Selvaraju et al., 2017) of the last convolutional feature map (the last layer or
    sub-module whose output is ``[n, h, w, c]`` / ``[n, c, h, w]`` with more than one spatial
    position), upsampled bilinearly to the
    image and summed over each segment: one gradient evaluation per image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ImacsInputError

# the shared helpers live in .ranking, which registers these rankers at its end: imported inside
# the functions, so either module can be imported first


def rank_integrated_gradients(adapter, images, label_maps, blurred, target: int, k: int = 5, *,
                              full_scores=None, batch_size: int = 64,
                              progress: Callable[[int], None] | None = None, seed: int = 0,
                              steps: int = 32) -> list[np.ndarray]:
    """Rank segments by the sum of their Integrated Gradients from the baseline (see the
    module docstring). ``steps`` gradient evaluations per image (``progress`` gets 1 each);
    ``seed`` breaks exact ties."""
    from .ranking import _check_inputs, _check_target, _Gradients, _segment_scores, _top_k

    images, label_maps, blurred, k = _check_inputs(images, label_maps, blurred, k)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ImacsInputError("steps", f"must be a positive integer, got {steps!r}")
    grads = _Gradients(adapter, images[:1])
    target = _check_target(target, grads.n_classes)
    w = np.zeros(grads.n_classes, np.float32)
    w[target] = 1.0
    alphas = ((np.arange(int(steps)) + 0.5) / int(steps)).astype(np.float32)[:, None, None, None]
    per_call = max(1, int(batch_size) // int(steps))
    out = []
    for s in range(0, len(images), per_call):
        x, base = images[s:s + per_call], blurred[s:s + per_call]
        path = (base[:, None] + alphas[None] * (x - base)[:, None]).reshape(-1, *x.shape[1:])
        g, _ = grads(path, w)
        g = np.asarray(g, np.float64).reshape(len(x), int(steps), *x.shape[1:]).mean(axis=1)
        attr = ((x - base) * g).sum(axis=-1)
        for j in range(len(x)):
            lm = label_maps[s + j]
            ids = np.unique(lm)
            out.append(_top_k(_segment_scores(attr[j], lm, ids, "sum"), ids, k, x[j], seed))
        if progress is not None:
            progress(len(path))
    return out


def rank_gradcam(adapter, images, label_maps, blurred, target: int, k: int = 5, *,
                 full_scores=None, batch_size: int = 64,
                 progress: Callable[[int], None] | None = None, seed: int = 0,
                 layer: str | None = None) -> list[np.ndarray]:
    """Rank segments by the sum of the Grad-CAM map over them (see the module docstring).

    ``layer``: the name of the Keras layer or PyTorch sub-module whose feature map is used
    (default: the last one with a 4-D output). One gradient evaluation per image (``progress``
    gets 1 each); ``seed`` breaks exact ties.
    """
    from .ranking import _check_inputs, _check_target, _segment_scores, _top_k

    images, label_maps, blurred, k = _check_inputs(images, label_maps, blurred, k)
    cam_fn = gradcam_function(adapter, images[:1], layer)
    out = []
    h, w = images.shape[1:3]
    for s in range(0, len(images), int(batch_size)):
        x = images[s:s + int(batch_size)]
        cams = cam_fn(x, _check_target(target, cam_fn.n_classes))
        for j in range(len(x)):
            cam = _upsample(cams[j], h, w)
            lm = label_maps[s + j]
            ids = np.unique(lm)
            out.append(_top_k(_segment_scores(cam, lm, ids, "sum"), ids, k, x[j], seed))
        if progress is not None:
            progress(len(x))
    return out


def _upsample(cam: np.ndarray, h: int, w: int) -> np.ndarray:
    from ..models.resize import resize_bilinear

    return resize_bilinear(cam[None, :, :, None].astype(np.float32), (h, w))[0, :, :, 0]


def gradcam_function(adapter, example: np.ndarray, layer: str | None = None):
    """``fn(x, target) -> float [n, h', w']`` Grad-CAM maps (ReLU of the gradient-weighted sum
    of the feature map's channels) of the adapter's score for ``target``, with
    ``fn.n_classes``; the adapter's resize and preprocessing are applied as for its scores."""
    from ..models.adapter import ModelAdapter

    if not isinstance(adapter, ModelAdapter):
        raise _no_gradcam(adapter, "it is not a ModelAdapter")
    kind = adapter.kind
    if kind == "keras":
        return _keras_gradcam(adapter, example, layer)
    if kind == "torch":
        return _torch_gradcam(adapter, example, layer)
    raise _no_gradcam(adapter, f"Grad-CAM needs a Keras or PyTorch module, got a {kind} model")


def _no_gradcam(adapter, why: str) -> ImacsInputError:
    name = getattr(adapter, "name", type(adapter).__name__)
    return ImacsInputError("ranking", f"ranking='gradcam' can't run on model {name!r} ({why}); "
                           "use ranking='loo', which needs no gradients")


def _keras_gradcam(adapter, example, layer):
    import keras
    import tensorflow as tf

    model = adapter.backend.model
    if layer is None:
        conv = [lyr for lyr in model.layers if len(lyr.output.shape) == 4
                and (lyr.output.shape[1] or 2) * (lyr.output.shape[2] or 2) > 1]
        if not conv:
            raise _no_gradcam(adapter, "it has no layer with a 4-D output")
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
    returns = adapter.returns if adapter.returns != "auto" else (adapter.backend.output_hint() or "logits")

    def fn(x, target):
        x = tf.convert_to_tensor(np.asarray(x, np.float32))
        if size is not None and tuple(x.shape[1:3]) != tuple(size):
            x = tf.image.resize(x, size, method="bilinear")
        with tf.GradientTape() as tape:
            tape.watch(x)  # records the graph even when no weight is trainable
            feats, out = sub(pre(x), training=False)
            tape.watch(feats)
            if score == "probability" and returns != "probabilities":
                out = tf.nn.softmax(out, axis=-1)
            elif score == "logit" and returns == "probabilities":
                out = tf.math.log(tf.maximum(out, 1e-12))
            obj = tf.reduce_sum(out[:, int(target)])
        g = tape.gradient(obj, feats)
        weights = tf.reduce_mean(g, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1))
        adapter.n_evals += int(x.shape[0])
        return cam.numpy().astype(np.float64)

    fn.n_classes = int(model.outputs[0].shape[-1])
    return fn


def _torch_gradcam(adapter, example, layer):
    import torch

    module = adapter.backend.model
    mods = dict(module.named_modules())
    if layer is not None and layer not in mods:
        raise ImacsInputError("layer", f"model {adapter.name!r} has no sub-module {layer!r}")
    feats = {}

    def hook(name):
        def save(_m, _inp, out):
            if torch.is_tensor(out) and out.dim() == 4 and out.shape[2] * out.shape[3] > 1:
                feats.pop(name, None)
                feats[name] = out  # insertion order = order of the forward
        return save

    scores = adapter.backend.score_tensor_function(adapter)
    device = adapter.backend.device

    def run(x, target):
        feats.clear()
        names = [layer] if layer is not None else [n for n in mods if n]
        handles = [mods[n].register_forward_hook(hook(n)) for n in names]
        try:
            with torch.enable_grad():
                xt = torch.tensor(np.asarray(x, np.float32), device=device,
                                  requires_grad=True)  # a graph even with frozen weights
                out = scores(xt)
                if not feats:
                    raise _no_gradcam(adapter, "no sub-module has a 4-D output")
                f = feats[next(reversed(feats))]  # the last 4-D feature map of the forward
                g, = torch.autograd.grad(out[:, int(target)].sum(), f)
        finally:
            for hd in handles:
                hd.remove()
        weights = g.mean(dim=(2, 3), keepdim=True)
        cam = torch.relu((weights * f).sum(dim=1))
        adapter.n_evals += len(x)
        return cam.detach().cpu().double().numpy()

    with torch.no_grad():
        run.n_classes = int(scores(torch.tensor(np.asarray(example, np.float32)[:1],
                                                device=device)).shape[1])
    return run
