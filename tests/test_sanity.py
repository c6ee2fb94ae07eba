"""The model-randomisation sanity check on real Keras and PyTorch models: layers randomised from
the output down, the real attributions recomputed at step 0, weight-free models flagged, a
loaded result checked with its models given again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import quick_compare, tiny_cnn, torch_cnn

from imacs_widget.engine import sanity
from imacs_widget.errors import ImacsInputError

SIZE = 32


def weight_free_model():
    """A real Keras model without a single weight: softmax of the mean colour (R, G, B)."""
    import keras

    class MeanColour(keras.layers.Layer):
        def call(self, x):
            return keras.ops.softmax(keras.ops.mean(x, axis=(1, 2)) / 20.0)

    return keras.Sequential([keras.Input((SIZE, SIZE, 3)), MeanColour()])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = (rng.random((24, SIZE, SIZE, 3)) * 255).astype(np.uint8)
    return x, rng.integers(0, 3, len(x))


def test_randomized_copies_torch_and_keras():
    import torch

    m = torch_cnn(1)
    assert sanity.weighted_layers(m) == ["7", "3", "0"]  # output first
    before = [p.detach().clone() for p in m.parameters()]
    r1, r2 = sanity.randomized_copy(m, 2, seed=5), sanity.randomized_copy(m, 2, seed=5)
    for p, q in zip(m.parameters(), before, strict=True):  # the model itself is untouched
        assert torch.equal(p, q)
    assert not torch.equal(r1[7].weight, m[7].weight) and not torch.equal(r1[3].weight, m[3].weight)
    assert torch.equal(r1[0].weight, m[0].weight)  # only the top two layers
    assert torch.equal(r1[7].weight, r2[7].weight)  # same seed, same noise
    k = tiny_cnn(seed=1, size=SIZE)
    names = sanity.weighted_layers(k)
    assert len(names) == 3 and names[0] == k.layers[-1].name
    rk = sanity.randomized_copy(k, 1, seed=0)
    assert not np.allclose(rk.layers[-1].get_weights()[0], k.layers[-1].get_weights()[0])
    np.testing.assert_array_equal(rk.layers[1].get_weights()[0], k.layers[1].get_weights()[0])
    # frozen weights are randomised too (only running statistics are kept)
    m.requires_grad_(False)
    assert sanity.weighted_layers(m) == ["7", "3", "0"]
    k.trainable = False
    assert sanity.weighted_layers(k) == names
    assert sanity.cascade_steps(3) == [0, 1, 2, 3]
    assert sanity.cascade_steps(100, 4) == [0, 1, 34, 67, 100]
    with pytest.raises(ImacsInputError, match="models"):
        sanity.weighted_layers(lambda x: x)
    assert sanity.verdict(pd.DataFrame({"layers": [3], "spearman": [-0.9]}))["passed"] is False


def test_batch_norm_moving_statistics_are_kept():
    from imacs_widget.demo.scenario import build_cnn

    m = build_cnn((32, 32, 3), 3, seed=0)
    bn = m.get_layer("bn0")
    names = sanity.weighted_layers(m)
    assert "bn0" in names and "probs" == names[0]
    r = sanity.randomized_copy(m, len(names), seed=1)
    rb = r.get_layer("bn0")
    for v, w in zip(bn.weights, rb.weights, strict=True):
        same = np.array_equal(np.asarray(v.numpy()), np.asarray(w.numpy()))
        assert same == ("moving_" in v.path), v.path


def test_sanity_check_after_compare(data, tmp_path):
    import imacs_widget as imacs

    x, y = data
    r = quick_compare(torch_cnn(1), weight_free_model(), x, y, k=4)
    t = r.sanity_check(n_images=6, progress=False)
    a, b = t[t["model"] == "A"], t[t["model"] == "B"]
    assert list(a["layers"]) == [0, 1, 2, 3] and list(a["layer"]) == ["", "7", "3", "0"]
    # step 0 recomputes the real attributions: the same ranks exactly
    assert a["spearman"].iloc[0] == pytest.approx(1.0) and b["spearman"].iloc[0] == pytest.approx(1.0)
    assert a["spearman"].iloc[-1] < sanity.PASS_BELOW and bool(a["passed"].iloc[0])
    # a model without weights: nothing to randomise, its attributions survive: flagged
    assert list(b["layers"]) == [0] and not bool(b["passed"].iloc[0])
    assert r.sanity_verdicts == {"A": sanity.verdict(a), "B": sanity.verdict(b)}
    assert r.sanity_verdicts["B"]["passed"] is False
    text = r.summary_text()
    assert "sanity check (every layer randomised): A passed, B FAILED" in text
    assert "faithfulness (gain over random order" in text and "; removal A " in text
    again = r.sanity_check(n_images=6, progress=False)
    np.testing.assert_array_equal(again["spearman"], t["spearman"])  # same seed, same numbers
    # the verdicts are saved; a loaded result needs the models and images again
    r.save(tmp_path / "r.imacs")
    back = imacs.load(tmp_path / "r.imacs")
    assert back.sanity_verdicts == r.sanity_verdicts
    with pytest.raises(ImacsInputError, match="models"):
        back.sanity_check(progress=False)
    with pytest.raises(ImacsInputError, match="models"):
        back.sanity_check(models={"nope": torch_cnn(1)}, images=x, progress=False)
    t2 = back.sanity_check(models={"A": torch_cnn(1), "B": weight_free_model()}, images=x,
                           n_images=6, progress=False)
    np.testing.assert_allclose(t2["spearman"], t["spearman"], atol=1e-9)


def test_sanity_badge_in_payload(data):
    from imacs_widget.widget.payload import build_payload

    x, y = data
    r = quick_compare(tiny_cnn(seed=1, size=SIZE), weight_free_model(), x, y, k=3)
    p, _ = build_payload(r, encoding="base64")
    assert p["sanity"] == {"A": None, "B": None}
    r.sanity_check(n_images=4, progress=False)
    p, _ = build_payload(r, encoding="base64")
    assert p["sanity"]["B"] == {"spearman": 1.0, "layers": 0, "passed": False}
    assert p["sanity"]["A"]["passed"] is True
