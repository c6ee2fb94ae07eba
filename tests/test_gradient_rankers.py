"""Integrated Gradients and Grad-CAM rankers on real Keras and PyTorch models with known
answers (the brightest cells matter most), and through compare()."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import quick_compare, tiny_cnn

from imacs_widget.engine.ranking import RANKERS, progress_total
from imacs_widget.engine.segmentation import segment_images
from imacs_widget.errors import ImacsInputError
from imacs_widget.models import ModelAdapter

SIZE = 32


def keras_brightness(n_classes=2):
    """logit_0 = mean over pixels of ReLU(R + G + B) / 255, logit_1 = its negative."""
    import keras

    m = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(1, 1, use_bias=False, activation="relu", name="feat"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(n_classes, use_bias=False)])
    m.layers[1].set_weights([np.ones((1, 1, 3, 1), np.float32)])
    m.layers[3].set_weights([np.array([[1.0, -1.0]], np.float32)])
    return m


def torch_brightness():
    import torch

    conv = torch.nn.Conv2d(3, 1, 1, bias=False)
    lin = torch.nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        lin.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    return torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), lin)


def cells_image(bright):
    """A dark image whose 4x4-grid cells ``bright`` (id -> level) are lit."""
    x = np.full((SIZE, SIZE, 3), 10.0, np.float32)
    c = SIZE // 4
    for sid, level in bright.items():
        r, q = divmod(sid, 4)
        x[r * c:(r + 1) * c, q * c:(q + 1) * c] = level
    return x


@pytest.mark.parametrize("ranker", ["ig", "gradcam"])
@pytest.mark.parametrize("kind", ["keras", "torch"])
def test_brightest_cells_rank_first(ranker, kind):
    model = keras_brightness() if kind == "keras" else torch_brightness()
    ad = ModelAdapter(model, preprocess="none" if kind == "torch" else None, score="logit")
    ad.settle_returns(np.zeros((1, 2)))
    x = np.stack([cells_image({5: 250, 10: 180, 3: 120}), cells_image({0: 200, 15: 240})])
    lmaps = segment_images(x)
    base = np.zeros_like(x)  # black baseline: attribution = brightness
    got = RANKERS[ranker](ad, x, lmaps, base, 0, 3)
    assert list(got[0]) == [5, 10, 3]
    assert list(got[1][:2]) == [15, 0]
    # the other class sees the opposite: Grad-CAM's ReLU leaves no positive evidence, IG ranks
    # the darkest cells first
    other = RANKERS[ranker](ad, x, lmaps, base, 1, 3)
    if ranker == "ig":
        assert 5 not in list(other[0])


def test_gradcam_on_nested_and_frozen_models():
    import keras

    inner = keras_brightness()
    base = keras.Sequential([keras.Input((SIZE, SIZE, 3)), *inner.layers[:2]], name="base")
    nested = keras.Sequential([keras.Input((SIZE, SIZE, 3)), base, *inner.layers[2:]])
    nested.trainable = False
    frozen = torch_brightness().requires_grad_(False)
    x = np.stack([cells_image({5: 250, 10: 180, 3: 120})])
    lmaps = segment_images(x)
    for model, kw in ((nested, {}), (frozen, {"preprocess": "none"})):
        ad = ModelAdapter(model, score="logit", **kw)
        ad.settle_returns(np.zeros((1, 2)))
        assert list(RANKERS["gradcam"](ad, x, lmaps, np.zeros_like(x), 0, 3)[0]) == [5, 10, 3]


def test_progress_and_errors():
    x = np.stack([cells_image({5: 250})] * 3)
    lm = segment_images(x)
    assert progress_total("ig", lm, steps=8) == 24 and progress_total("gradcam", lm) == 3
    ad = ModelAdapter(lambda b: np.ones((len(b), 2)) / 2)
    for r in ("ig", "gradcam"):
        with pytest.raises(ImacsInputError, match="ranking"):
            RANKERS[r](ad, x, lm, np.zeros_like(x), 0, 2)
    with pytest.raises(ImacsInputError, match="steps"):
        RANKERS["ig"](ModelAdapter(keras_brightness()), x, lm, x, 0, 2, steps=0)
    with pytest.raises(ImacsInputError, match="layer"):
        RANKERS["gradcam"](ModelAdapter(keras_brightness()), x, lm, x, 0, 2, layer="nope")


@pytest.mark.parametrize("ranker", ["ig", "gradcam"])
def test_compare_with_gradient_rankers(ranker, tiny_images):
    x, y = tiny_images
    r = quick_compare(tiny_cnn(seed=1), tiny_cnn(seed=2), x[:24], y[:24], ranking=ranker)
    assert r.params["ranking"] == ranker and len(r.segments) == 24 * 2 * 3
    again = quick_compare(tiny_cnn(seed=1), tiny_cnn(seed=2), x[:24], y[:24], ranking=ranker)
    assert r.segments["segment_index"].tolist() == again.segments["segment_index"].tolist()
