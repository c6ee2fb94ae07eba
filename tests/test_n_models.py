"""compare() of more than two models: compare({"v1": m1, "v2": m2, "v3": m3}, images, labels).

Tiny real Keras CNNs for the API, the saved file and the widget's payload; the demo's trained
watermark scenario (shared with test_scenario.py / test_demo.py) for the cross-model consensus:
of a clean model, the watermark-trained model and an untrained copy, only the watermark-trained
one attributes the watermark cluster positively ("1 of 3").
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_cnn, tiny_embedder, trained_scenario
from test_compare import NAMES, run  # compare() with the small, quiet settings of test_compare

import imacs_widget as imacs
from imacs_widget.errors import ImacsInputError


@pytest.fixture(scope="module")
def three(tiny_models):
    return {"v1": tiny_models[0], "v2": tiny_models[1], "v3": tiny_cnn(seed=3)}


@pytest.fixture(scope="module")
def result3(three, tiny_images):
    return run(three, tiny_images)


def test_three_models_sample_their_own_images(result3, three, tiny_images):
    r = result3
    assert r.models == ("A", "B", "C")
    assert r.model_names == {"A": "v1", "B": "v2", "C": "v3"}
    assert set(r.accuracy) == {"A", "B", "C"}
    seg = r.segments
    assert set(seg["model"]) == {"A", "B", "C"}
    for m in "abc":
        assert f"pred_{m}" in seg.columns and f"score_{m}" in seg.columns
    # every model has its own balanced sample (16 images, 4 per outcome where available)
    for m in "ABC":
        taken = sum(v["taken"] for v in r.sampling["counts"][m].values())
        assert taken == seg[seg["model"] == m]["image_index"].nunique() <= 16
    # C's predictions are the third model's own
    x, _ = tiny_images
    rows = seg.drop_duplicates("image_index")
    probs = three["v3"].predict(x[rows["image_index"].to_numpy()], verbose=0)
    np.testing.assert_array_equal(rows["pred_c"], probs.argmax(1))
    np.testing.assert_allclose(rows["score_c"], probs[:, 0], rtol=1e-5)


def test_three_model_summaries(result3):
    cl = result3.clusters
    assert sum(c["size"] for c in cl) == len(result3.segments)
    for c in cl:
        assert set(c["count"]) == set(c["mean_attribution"]) == {"A", "B", "C"}
        present = [v for v in c["mean_attribution"].values() if v is not None]
        if len(present) >= 2:
            assert c["imbalance"] == pytest.approx(max(present) - min(present))
        con = c["consensus"]
        assert con["of"] == 3 and con["n"] == len(con["models"])
        ref = result3.max_mean_attribution
        assert con["models"] == [m for m, v in c["mean_attribution"].items()
                                 if v is not None and v > 0.25 * ref]
    # one-sided clusters first, then by spread of the means
    sided = [c["one_sided"] is not None for c in cl if c["size"]]
    assert sided == sorted(sided, reverse=True)
    spread = [c["imbalance"] for c in cl if c["size"] and c["one_sided"] is None]
    assert spread == sorted(spread, reverse=True)
    text = result3.summary_text()
    assert "C = v3" in text and "positive for" in text


def test_two_models_as_a_dict_equal_the_pair_call(tiny_models, tiny_images):
    pair = run(tiny_models, tiny_images, name_a="v1", name_b="v2")
    as_dict = run({"v1": tiny_models[0], "v2": tiny_models[1]}, tiny_images)
    pd.testing.assert_frame_equal(pair.segments, as_dict.segments)
    assert pair.model_names == as_dict.model_names == {"A": "v1", "B": "v2"}
    assert pair.clusters == as_dict.clusters


def test_images_and_labels_by_keyword(three, tiny_images, result3):
    x, y = tiny_images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        r = imacs.compare(three, images=x, labels=y, class_names=NAMES, target_class="a",
                          n_clusters=4, n_per_model=16, embedder=tiny_embedder(),
                          progress=False)
    pd.testing.assert_frame_equal(r.segments, result3.segments)


def test_three_models_save_load_and_payload(result3, tmp_path):
    from imacs_widget.widget.payload import build_payload

    path = result3.save(tmp_path / "three.imacs")
    back = imacs.load(path)
    assert back.models == ("A", "B", "C") and back.model_names == result3.model_names
    pd.testing.assert_frame_equal(back.segments, result3.segments)
    assert back.clusters == result3.clusters
    payload, _ = build_payload(back, encoding="base64")
    assert payload["models"] == ["A", "B", "C"]
    assert set(payload["model_names"]) == {"A", "B", "C"}
    assert {"pred_c", "score_c"} <= set(payload["images"])
    assert set(payload["segments"]["model"]) == {0, 1, 2}
    w = back.widget()
    assert w.models == ["A", "B", "C"]
    w.models = ["C", "A"]
    assert w.models == ["A", "C"]  # canonical order


def test_model_set_errors(three, tiny_images):
    x, y = tiny_images
    with pytest.raises(ImacsInputError, match="models.*2 to 8"):
        run({"only": three["v1"]}, tiny_images)
    with pytest.raises(ImacsInputError, match="models.*2 to 8"):
        run({f"m{k}": three["v1"] for k in range(9)}, tiny_images)
    with pytest.raises(ImacsInputError, match="name_a.*keys are the names"):
        run(three, tiny_images, name_a="first")
    with pytest.raises(ImacsInputError, match="preprocess.*not among the models"):
        run(three, tiny_images, preprocess={"v9": "unit_range"})
    with pytest.raises(ImacsInputError, match="preprocess.*dict of models"):
        run((three["v1"], three["v2"]), tiny_images, preprocess={"v1": None})
    with pytest.raises(ImacsInputError, match="model_b.*is required"):
        imacs.compare(three["v1"], images=x, labels=y, target_class="a")
    four = tiny_cnn(n_classes=4, seed=4)
    with pytest.raises(ImacsInputError, match=r"models\['v4'\].*outputs 4 classes"):
        run({**three, "v4": four}, tiny_images)


# ------------------------------------------------------------------------- cross-model consensus


@pytest.mark.slow
def test_consensus_only_the_shortcut_model_uses_the_watermark():
    """Clean, watermark-trained and untrained models: the top cluster is the watermark, and of
    the three only the watermark-trained model attributes it positively."""
    from imacs_widget.demo.run import cluster_watermark_fractions

    s = trained_scenario(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        r = imacs.compare({"clean": s.model_a, "watermarked": s.model_b,
                           "untrained": s.model_untrained}, s.eval_images, s.eval_labels,
                          class_names=s.class_names, target_class=s.target_class, n_clusters=8,
                          n_per_model=100, seed=0, progress=False)
    fractions = cluster_watermark_fractions(r, s.eval_watermark_masks)
    top = r.clusters[0]
    print("top", top["id"], top["size"], top["count"], top["mean_attribution"],
          top["consensus"], f"watermark {fractions[top['id']]:.2f}")
    assert fractions[top["id"]] >= 0.6
    assert top["consensus"]["models"] == ["B"]
    assert (top["consensus"]["n"], top["consensus"]["of"]) == (1, 3)
    # the clean model relies on something else: some cluster is positive for it
    assert any("A" in c["consensus"]["models"] for c in r.clusters)
    # the untrained model attributes nothing anywhere
    assert not any("C" in c["consensus"]["models"] for c in r.clusters)
    assert max(abs(c["mean_attribution"]["C"] or 0.0) for c in r.clusters) < 0.01
