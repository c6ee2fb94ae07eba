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

from ...errors import ImacsInputError
from .common import _check_inputs, _check_target, _Gradients, _segment_scores, _top_k


def rank_integrated_gradients(adapter, images, label_maps, blurred, target: int, k: int = 5, *,
                              full_scores=None, batch_size: int = 64,
                              progress: Callable[[int], None] | None = None, seed: int = 0,
                              steps: int = 32) -> list[np.ndarray]:
    """Rank segments by the sum of their Integrated Gradients from the baseline (see the
    module docstring). ``steps`` gradient evaluations per image (``progress`` gets 1 each);
    ``seed`` breaks exact ties."""
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
    from ...models.resize import resize_bilinear

    return resize_bilinear(cam[None, :, :, None].astype(np.float32), (h, w))[0, :, :, 0]


def gradcam_function(adapter, example: np.ndarray, layer: str | None = None):
    """``fn(x, target) -> float [n, h', w']`` Grad-CAM maps (ReLU of the gradient-weighted sum
    of the feature map's channels) of the adapter's score for ``target``, with
    ``fn.n_classes``; the adapter's resize and preprocessing are applied as for its scores.
    The framework code is the backend's (``backend.gradcam_function``: Keras and PyTorch)."""
    from ...models.adapter import ModelAdapter
    from ...models.contract import NotDifferentiable

    if not isinstance(adapter, ModelAdapter):
        raise _no_gradcam(adapter, "it is not a ModelAdapter")
    make = getattr(adapter.backend, "gradcam_function", None)
    if make is None or adapter.kind not in ("keras", "torch"):
        raise _no_gradcam(adapter, f"Grad-CAM needs a Keras or PyTorch module, got a "
                          f"{adapter.kind} model")
    try:
        fn = make(adapter, example, layer)
    except NotDifferentiable as exc:
        raise _no_gradcam(adapter, str(exc)) from exc

    def cams(x, target):
        try:
            return fn(x, target)
        except NotDifferentiable as exc:
            raise _no_gradcam(adapter, str(exc)) from exc

    cams.n_classes = fn.n_classes
    return cams


def _no_gradcam(adapter, why: str) -> ImacsInputError:
    name = getattr(adapter, "name", type(adapter).__name__)
    return ImacsInputError("ranking", f"ranking='gradcam' can't run on model {name!r} ({why}); "
                           "use ranking='loo', which needs no gradients")
