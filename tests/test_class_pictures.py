"""Class pictures (input-agnostic saliency): known answers on matched-filter models, Keras and
PyTorch; determinism; the pattern correlation; the result API, saving and the payload."""

import numpy as np
import pytest
from conftest import quick_compare

import imacs_widget as imacs
from imacs_widget.engine.class_pictures import (
    class_picture,
    decode_png,
    mosaic,
    pattern_correlation,
)
from imacs_widget.errors import ImacsInputError
from imacs_widget.models.adapter import ModelAdapter

# a 6 x 6 pattern: a bright vertical bar on a dark ground (zero mean)
BAR = np.full((6, 6), -1.0)
BAR[:, 2:4] = 2.0
RING = np.full((6, 6), 1.0)
RING[1:5, 1:5] = -1.0
RING[2:4, 2:4] = 1.0


def keras_matched_filter(pattern, size=32):
    """Class 1's log-odds = 2 * (the best match of ``pattern`` anywhere in the image): its
    picture, on any input, is the pattern (bright where it is positive, dark where negative)."""
    import keras

    inp = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    conv = keras.layers.Conv2D(1, pattern.shape[0], use_bias=False)
    x = keras.layers.GlobalMaxPooling2D()(conv(x))
    dense = keras.layers.Dense(2)
    model = keras.Model(inp, dense(x))
    conv.set_weights([np.repeat(pattern[:, :, None, None], 3, axis=2).astype(np.float32) / 3])
    dense.set_weights([np.array([[-1.0, 1.0]], np.float32), np.zeros(2, np.float32)])
    return model


def torch_matched_filter(pattern):
    import torch

    conv = torch.nn.Conv2d(3, 1, pattern.shape[0], bias=False)
    lin = torch.nn.Linear(1, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(np.repeat(pattern[None, None], 3, axis=1) / 3 / 255.0))
        lin.weight.copy_(torch.tensor([[-1.0], [1.0]]))
        lin.bias.zero_()
    return torch.nn.Sequential(conv, torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), lin)


FAST = dict(n_starts=4, n_inputs=2, steps=100)


@pytest.mark.parametrize("kind", ["keras", "torch"])
def test_the_picture_of_a_matched_filter_is_its_pattern(kind):
    make = keras_matched_filter if kind == "keras" else torch_matched_filter
    for pattern, other in ((BAR, RING), (RING, BAR)):
        ad = ModelAdapter(make(pattern), preprocess="none" if kind == "torch" else None)
        pic = class_picture(ad, 1, (32, 32), **FAST)
        assert pic.picture.shape == (16, 16, 3) and pic.picture.dtype == np.uint8
        assert pic.tiles.shape == (4, 8, 8, 3) and pic.tile == 8
        # (measured: bar 0.93, ring 0.82; the other pattern 0.11-0.16)
        assert pattern_correlation(pic.picture, pattern, tile=8) > 0.75
        assert pattern_correlation(pic.picture, other, tile=8) < 0.4
        # best first, and far above the blank inputs' log-odds
        assert np.all(np.diff(pic.log_odds) <= 1e-9)
        assert pic.log_odds[0] > pic.blank_log_odds + 3
        assert pic.n_evals == 4 * 2 * 100 + 4 * 4 + 16


def test_class_0_of_the_matched_filter_is_its_negative():
    ad = ModelAdapter(keras_matched_filter(BAR))
    pic = class_picture(ad, 0, (32, 32), **FAST)
    # class 0's log-odds is minus the best match anywhere: a tile can at best hide a matching
    # background window, so none gets far above the blank inputs (absence has no picture),
    # and none is a bar (measured: best tile -2.95, blank inputs -2.00)
    assert pattern_correlation(pic.picture, BAR, tile=8) < 0.5
    assert pic.log_odds[0] < pic.blank_log_odds + 0.5


def test_same_seed_same_picture_colour_and_errors():
    ad = ModelAdapter(keras_matched_filter(BAR))
    a = class_picture(ad, 1, (32, 32), seed=3, **FAST)
    b = class_picture(ad, 1, (32, 32), seed=3, **FAST)
    c = class_picture(ad, 1, (32, 32), seed=4, **FAST)
    assert np.array_equal(a.picture, b.picture) and not np.array_equal(a.picture, c.picture)
    grey = a.tiles
    assert np.allclose(grey[..., 0], grey[..., 2])
    col = class_picture(ad, 1, (32, 32), colour=True, tile=10, **FAST)
    assert col.tiles.shape == (4, 10, 10, 3) and not np.allclose(col.tiles[..., 0], col.tiles[..., 2])
    ticks = []
    class_picture(ad, 1, (32, 32), n_starts=2, n_inputs=3, steps=5, progress=ticks.append)
    assert ticks == [6] * 5
    for kw, name in ((dict(n_starts=0), "n_starts"), (dict(steps=-1), "steps"),
                     (dict(tile=40), "tile"), (dict(pixel_range=(1, 1)), "pixel_range"),
                     (dict(learning_rate=0), "learning_rate")):
        with pytest.raises(ImacsInputError) as err:
            class_picture(ad, 1, (32, 32), **kw)
        assert err.value.argument == name
    for target in (5, -1):
        with pytest.raises(ImacsInputError, match="target"):
            class_picture(ad, target, (32, 32), **FAST)
    with pytest.raises(ImacsInputError) as err:
        class_picture(ad, 1, (32, 32), seed=-1, **FAST)
    assert err.value.argument == "seed"
    numpy_only = ModelAdapter(lambda x: np.tile(x.mean(axis=(1, 2, 3))[:, None], (1, 2)))
    with pytest.raises(ImacsInputError, match="not differentiable") as err:
        class_picture(numpy_only, 1, (32, 32), **FAST)
    assert err.value.argument == "models"


def test_a_softmax_model_with_unsettled_outputs_gets_the_same_picture():
    """A loaded result's adapter starts with returns="auto": the outputs are settled first, so
    a PyTorch model ending in softmax is not softmaxed twice."""
    import torch

    net = torch.nn.Sequential(torch_matched_filter(BAR), torch.nn.Softmax(dim=1))
    auto = ModelAdapter(net, preprocess="none")
    told = ModelAdapter(net, preprocess="none", returns="probabilities")
    a = class_picture(auto, 1, (32, 32), n_starts=2, n_inputs=2, steps=20)
    b = class_picture(told, 1, (32, 32), n_starts=2, n_inputs=2, steps=20)
    assert np.array_equal(a.picture, b.picture)
    assert np.allclose(a.log_odds, b.log_odds) and auto.returns == "auto"


def test_pattern_correlation_and_mosaic():
    rng = np.random.default_rng(0)
    tiles = rng.uniform(0, 255, (4, 8, 8, 3))
    tiles[2, 1:7, 2:8] = np.where(BAR > 0, 255.0, 0.0)[..., None]
    pic = mosaic(tiles)
    assert pic.shape == (16, 16, 3)
    assert pattern_correlation(pic, BAR) == pytest.approx(1.0)  # the best position, whole picture
    per_tile = pattern_correlation(pic, BAR, tile=8)  # one exact tile of four
    assert 0.25 < per_tile < 0.75
    assert pattern_correlation(255 - pic, BAR) < 0.9
    alpha = np.zeros((6, 6), bool)
    alpha[:, 1:5] = True
    assert pattern_correlation(pic, BAR, alpha) == pytest.approx(1.0)
    three = mosaic(tiles[:3], 0, 255)
    assert three.shape == (16, 16, 3) and (three[8:, 8:] == 128).all()  # the empty cell
    assert pattern_correlation(pic, BAR, tile=8, n_tiles=3) == pytest.approx(
        4 / 3 * pattern_correlation(pic, BAR, tile=8) - pattern_correlation(pic[8:, 8:], BAR) / 3)
    with pytest.raises(ImacsInputError) as err:
        pattern_correlation(pic, np.ones((4, 4)))
    assert err.value.argument == "pattern"
    with pytest.raises(ImacsInputError):
        pattern_correlation(pic, BAR, tile=4)
    with pytest.raises(ImacsInputError) as err:
        pattern_correlation(pic, BAR, np.ones((3, 3), bool))
    assert err.value.argument == "alpha"


def test_result_class_pictures_saved_shown_and_reloaded(tiny_models, tiny_images, tmp_path):
    from imacs_widget.widget.payload import build_payload

    x, y = tiny_images
    result = quick_compare(*tiny_models, x, y)
    table = result.class_pictures(n_starts=4, steps=10, progress=False)
    assert list(table["model"]) == ["A", "B"]
    assert {"picture", "best_log_odds", "blank_log_odds", "mean_log_odds", "tile",
            "n_evals"} <= set(table.columns)
    assert table["picture"][0].shape == (16, 16, 3)  # 4 tiles of a quarter of 32 px
    assert np.array_equal(result.class_picture_images["B"], table["picture"][1])
    assert "class pictures" in result.summary_text()
    payload, _ = build_payload(result)
    got = payload["class_pictures"]
    assert np.array_equal(decode_png(got["A"]["png"]), table["picture"][0])
    assert got["B"]["best_log_odds"] == pytest.approx(table["best_log_odds"][1])
    result.save(tmp_path / "r.imacs")
    loaded = imacs.load(tmp_path / "r.imacs")
    assert np.array_equal(loaded.class_picture_images["A"], table["picture"][0])
    with pytest.raises(ImacsInputError) as err:
        loaded.class_pictures(progress=False)
    assert err.value.argument == "models"
    again = loaded.class_pictures(models=dict(zip(("A", "B"), tiny_models, strict=True)),
                                  n_starts=4, steps=10, progress=False)
    assert np.array_equal(np.stack(again["picture"]), np.stack(table["picture"]))
    # a result without pictures (an older file) shows none
    del result.params["class_pictures"]
    assert result.class_picture_images is None
    assert build_payload(result)[0]["class_pictures"] == {"A": None, "B": None}
