"""Unit tests of validation, segmentation, sampling, clustering and summary."""

import numpy as np
import pandas as pd
import pytest

from imacs_widget.engine.clustering import kmeans
from imacs_widget.engine.predictions import Predictions, outcomes
from imacs_widget.engine.sampling import sample
from imacs_widget.engine.segmentation import grid_segments, segment_bboxes, slic_segments
from imacs_widget.engine.summary import order_clusters, shared_bin_edges, summarize_clusters
from imacs_widget.engine.validation import as_image_batch, as_labels, resolve_class
from imacs_widget.errors import ImacsInputError


def test_image_conversion_and_errors():
    assert as_image_batch(np.zeros((2, 8, 8), np.uint8)).shape == (2, 8, 8, 3)
    assert as_image_batch(np.zeros((2, 8, 8, 4), np.uint8)).shape == (2, 8, 8, 3)
    with pytest.raises(ImacsInputError, match="images.*rank 4"):
        as_image_batch(np.zeros((8, 8, 3, 1, 1)))
    with pytest.raises(ImacsInputError, match="images.*channels"):
        as_image_batch(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ImacsInputError, match="images.*NaN"):
        as_image_batch(np.full((2, 8, 8, 3), np.nan))
    with pytest.raises(ImacsInputError, match="images.*numeric"):
        as_image_batch(np.array([["a"] * 8] * 8))


def test_labels_errors():
    names = ["a", "b", "c"]
    np.testing.assert_array_equal(as_labels(["a", "c"], 2, names), [0, 2])
    with pytest.raises(ImacsInputError, match="labels.*same length"):
        as_labels([0, 1, 2], 2, names)
    with pytest.raises(ImacsInputError, match="labels.*outside the class range"):
        as_labels([0, 3], 2, names)
    with pytest.raises(ImacsInputError, match="labels.*unknown class"):
        as_labels(["a", "zebra"], 2, names)
    with pytest.raises(ImacsInputError, match="target_class.*unknown class 'zebra'"):
        resolve_class("zebra", names)


def test_grid_and_bboxes():
    g = grid_segments(10, 10, 4, 4)
    assert set(np.unique(g)) == set(range(16))
    b = segment_bboxes(g)
    assert tuple(b[0]) == (0, 0, 3, 3) and tuple(b[15]) == (8, 8, 10, 10)
    assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()


def test_slic_labels_consecutive():
    from skimage.data import astronaut

    lm = slic_segments(astronaut()[::4, ::4], n_segments=20)
    ids = np.unique(lm)
    np.testing.assert_array_equal(ids, np.arange(len(ids)))


def _preds(pred, n_classes=3):
    s = np.eye(n_classes)[pred]
    return Predictions(scores=s, predicted=np.asarray(pred))


def test_balanced_sampling_shortfall_warns_and_never_duplicates():
    labels = np.array([0] * 10 + [1] * 30)
    pa = _preds(np.array([0] * 8 + [1] * 2 + [0] * 1 + [1] * 29))  # TP 8, FN 2, FP 1, TN 29
    pb = _preds(labels)
    with pytest.warns(UserWarning, match="only 2 FN"):
        s = sample({"A": pa, "B": pb}, labels, 0, "balanced", 40, seed=0)
    assert len(np.unique(s.indices["A"])) == len(s.indices["A"])
    assert s.counts["A"]["TP"]["taken"] == 8 and s.counts["A"]["FN"]["taken"] == 2
    assert s.counts["A"]["FP"]["taken"] == 1 and s.counts["A"]["TN"]["taken"] == 10
    np.testing.assert_array_equal(s.outcomes["A"], outcomes(pa.predicted, labels, 0)[s.indices["A"]])
    assert any("FN" in w for w in s.warnings)
    s2 = sample({"A": pa, "B": pb}, labels, 0, "balanced", 40, seed=0)
    np.testing.assert_array_equal(s.indices["A"], s2.indices["A"])


def test_other_strategies():
    labels = np.array([0, 0, 1, 1, 2, 2])
    pa = _preds(np.array([0, 1, 0, 1, 2, 2]))
    pb = _preds(labels)
    fp = sample({"A": pa, "B": pb}, labels, 0, "outcome", 5, outcome="FP")
    np.testing.assert_array_equal(fp.indices["A"], [2])
    d = sample({"A": pa, "B": pb}, labels, 0, "disagreements", 10)
    np.testing.assert_array_equal(d.indices["A"], [1, 2])
    np.testing.assert_array_equal(d.indices["A"], d.indices["B"])
    assert len(sample({"A": pa, "B": pb}, labels, 0, "all").indices["B"]) == 6
    with pytest.raises(ImacsInputError, match="images.*no image could be sampled"):
        sample({"A": _preds(np.array([1, 1])), "B": _preds(np.array([1, 1]))}, np.array([1, 1]),
               0, "outcome", 5, outcome="TP")


def test_sampling_three_models():
    """Every model samples its own cells; disagreements: some models predict the class, some
    do not, the same images for all."""
    labels = np.array([0, 0, 1, 1, 2, 2])
    preds = {"A": _preds(np.array([0, 1, 0, 1, 2, 2])), "B": _preds(labels),
             "C": _preds(np.array([0, 0, 0, 1, 2, 0]))}
    fp = sample(preds, labels, 0, "outcome", 5, outcome="FP")
    np.testing.assert_array_equal(fp.indices["A"], [2])
    np.testing.assert_array_equal(fp.indices["B"], [])
    np.testing.assert_array_equal(fp.indices["C"], [2, 5])
    d = sample(preds, labels, 0, "disagreements", 10)
    np.testing.assert_array_equal(d.indices["C"], [1, 2, 5])  # all three agree on 0, 3 and 4
    assert set(d.indices) == {"A", "B", "C"}


def test_kmeans_deterministic_and_errors():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (20, 4)) + [5, 0, 0, 0], rng.normal(0, 0.1, (10, 4)) + [0, 5, 0, 0]])
    l1, d1 = kmeans(x, 2, seed=1)
    l2, d2 = kmeans(x, 2, seed=1)
    np.testing.assert_array_equal(l1, l2)
    assert (l1[:20] == 0).all() and (l1[20:] == 1).all()  # ids by decreasing size
    with pytest.raises(ImacsInputError, match=r"n_clusters: must be an integer in 1\.\."):
        kmeans(x, 31)


def test_summary_stats():
    seg = pd.DataFrame({"model": ["A", "A", "B", "B", "B"], "cluster": [0, 1, 0, 0, 1],
                        "attribution": [0.1, 0.0, 0.5, 0.3, -0.2],
                        "outcome": ["TP", "TN", "FP", "FP", "TN"]})
    edges = shared_bin_edges(seg["attribution"].to_numpy(), 4)
    cl = summarize_clusters(seg, 2, edges)
    assert cl[0]["count"] == {"A": 1, "B": 2}
    assert cl[0]["mean_attribution"]["B"] == pytest.approx(0.4)
    assert cl[0]["imbalance"] == pytest.approx(0.3)
    assert cl[0]["outcomes"]["B"]["FP"] == 2
    assert sum(cl[0]["histogram"]["B"]) == 2
    assert [c["id"] for c in order_clusters(cl, "imbalance")] == [0, 1]


def test_large_results_cluster_on_reduced_embeddings(monkeypatch):
    """Above EXACT_UP_TO segments: PCA once, mini-batch k-means; seeded, ids by size."""
    from imacs_widget.engine import clustering

    monkeypatch.setattr(clustering, "EXACT_UP_TO", 500)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 64)) * 3
    truth = rng.integers(0, 4, 2000)
    x = (centres[truth] + rng.normal(size=(2000, 64))).astype(np.float32)
    red = clustering.reduce_embeddings(x, seed=0)
    assert red.shape == (2000, clustering.REDUCED_DIM) and red.dtype == np.float32
    l1, d1 = kmeans(x, 4, seed=0, reduced=red)
    l2, _ = kmeans(x, 4, seed=0)
    np.testing.assert_array_equal(l1, l2)  # same seed, same clusters (reduced or not given)
    sizes = np.bincount(l1)
    assert (np.diff(sizes) <= 0).all() and d1.shape == (2000,)
    # the planted groups are recovered (up to renumbering)
    agree = max(np.mean(l1[truth == g] == np.bincount(l1[truth == g]).argmax()) for g in range(4))
    assert agree > 0.95
