"""Named preprocessings: affine maps from 0-255 RGB to a model's input range (NumPy; the
backends build the same maps from :meth:`~imacs_widget.models.adapter.ModelAdapter._affine` in
their own framework)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_MEAN = np.array([0.485, 0.456, 0.406])
_STD = np.array([0.229, 0.224, 0.225])
_AFFINE: dict[str, tuple] = {  # name -> (channel flip, scale, offset): y = flip(x) * scale + offset
    "none": (False, 1.0, 0.0),
    "unit": (False, 1 / 255.0, 0.0),  # 0..255 -> 0..1
    "symmetric": (False, 1 / 127.5, -1.0),  # 0..255 -> -1..1 (Inception, MobileNet)
    "imagenet": (False, 1 / (255.0 * _STD), -_MEAN / _STD),  # torchvision convention
    "caffe": (True, 1.0, -np.array([103.939, 116.779, 123.68])),  # BGR, mean-centred (ResNet50)
}


def _affine_np(flip, scale, offset):
    scale, offset = np.asarray(scale, np.float32), np.asarray(offset, np.float32)
    return lambda x: (x[..., ::-1] if flip else x) * scale + offset


PREPROCESSORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    name: _affine_np(*spec) for name, spec in _AFFINE.items()}
"""Named preprocessing functions from 0–255 RGB to a model's input range. One more name,
``"unit_range"``, maps the images' *detected* pixel range (``adapter.pixel_range``) to 0..1: the
default of PyTorch, Hugging Face and channels-first ONNX models."""

PREPROCESS_NAMES = (*PREPROCESSORS, "unit_range")
