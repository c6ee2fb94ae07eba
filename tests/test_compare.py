"""compare() end to end on tiny real Keras models: API, determinism, options, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_cnn, tiny_embedder

import imacs_widget as imacs
from imacs_widget.errors import ImacsInputError

NAMES = ["a", "b", "c"]


def run(models, data, **kw):
    x, y = data
    opts = dict(class_names=NAMES, target_class="a", n_clusters=4, n_per_model=16,
                embedder=tiny_embedder(), progress=False, seed=0)
    opts.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        if isinstance(models, dict):  # compare({name: model, ...}, images, labels)
            return imacs.compare(models, x, y, **opts)
        return imacs.compare(*models, x, y, **opts)


@pytest.fixture(scope="module")
def adapters(tiny_models):
    """The models wrapped in adapters, so tests can count the model calls compare() makes."""
    return imacs.ModelAdapter(tiny_models[0], "A"), imacs.ModelAdapter(tiny_models[1], "B")


@pytest.fixture(scope="module")
def result(adapters, tiny_images):
    return run(adapters, tiny_images)


def test_segments_table(result, tiny_images):
    seg = result.segments
    for col in ("model", "image_index", "segment_index", "bbox", "outcome", "attribution",
                "cluster"):
        assert col in seg.columns
    assert set(seg["model"]) <= {"A", "B"}
    assert set(seg["outcome"]) <= {"TP", "TN", "FP", "FN"}
    assert seg["image_index"].between(0, len(tiny_images[0]) - 1).all()
    assert all(0 <= x0 < x1 <= 32 and 0 <= y0 < y1 <= 32 for x0, y0, x1, y1 in seg["bbox"])
    assert (seg.groupby(["model", "image_index"]).size() <= 5).all()
    assert len(result.thumbnails) == len(seg) and result.thumbnails.dtype == np.uint8
    assert set(result.source_images) == set(seg["image_index"])
    # attribution is the Shapley value for the class of interest
    np.testing.assert_allclose(seg["attribution"], result.shapley_all[:, 0])


def test_clusters_summary(result):
    cl = result.clusters
    assert len(cl) == 4 and sum(c["size"] for c in cl) == len(result.segments)
    # one-sided clusters first (the strongest difference), then two-sided by |mean A - mean B|
    sided = [c["one_sided"] is not None for c in cl if c["size"]]
    assert sided == sorted(sided, reverse=True)
    imb = [c["imbalance"] for c in cl if c["size"] and c["one_sided"] is None]
    assert imb == sorted(imb, reverse=True)
    result.order = "size"
    assert [c["size"] for c in result.clusters] == sorted((c["size"] for c in cl), reverse=True)
    result.order = "imbalance"
    edges = result.bin_edges
    assert all(len(c["histogram"]["A"]) == len(edges) - 1 for c in cl)
    assert result.max_mean_attribution == max(
        v for c in cl for v in c["mean_attribution"].values() if v is not None)


def test_same_seed_identical(tiny_models, tiny_images, result):
    again = run(tiny_models, tiny_images)
    pd.testing.assert_frame_equal(result.segments, again.segments)


def test_recluster_reuses_attributions(result, adapters):
    before = result.segments["attribution"].copy()
    assert all(ad.n_calls > 0 for ad in adapters)  # the counter sees compare()'s model calls
    calls = [ad.n_calls for ad in adapters]
    result.recluster(6)
    assert result.n_clusters == 6
    assert [ad.n_calls for ad in adapters] == calls  # no model call
    pd.testing.assert_series_equal(before, result.segments["attribution"])
    with pytest.raises(ImacsInputError, match="n_clusters"):
        result.recluster(10_000)
    result.recluster(4)


def test_save_load_roundtrip(result, tmp_path):
    p = result.save(tmp_path / "r.imacs")
    back = imacs.load(p)
    pd.testing.assert_frame_equal(result.segments, back.segments)
    assert back.clusters == result.clusters
    np.testing.assert_array_equal(back.thumbnails, result.thumbnails)
    assert back.model_names == result.model_names
    with pytest.raises(ImacsInputError, match="path"):
        imacs.load(tmp_path / "missing.imacs")
    (tmp_path / "bad.imacs").write_text("not a zip")
    with pytest.raises(ImacsInputError, match="not an imacs result"):
        imacs.load(tmp_path / "bad.imacs")


def test_options_slic_logits_multiclass_float_images(tiny_models, tiny_images):
    x, y = tiny_images
    r = run(tiny_models, (x.astype(np.float32) / 255.0, y), segmentation="slic", n_segments=9,
            score="logit", target_class=["a", "c"], preprocess_a=lambda v: v * 255.0,
            preprocess_b=lambda v: v * 255.0, sampling="all", n_clusters=3)
    assert r.classes_of_interest == ["a", "c"]
    assert r.target_class == "a"
    n_a = len(r.segments)
    r.select_class("c")
    assert len(r.segments) > 0 and r.n_clusters == 3
    assert n_a > 0
    assert np.asarray(r.thumbnails).max() > 1  # float 0-1 images are shown as 0-255 thumbnails


def test_grayscale_and_rgba_inputs(tiny_models, tiny_images):
    x, y = tiny_images
    gray = x[..., 0]
    r = run(tiny_models, (gray, y))
    assert len(r.segments)
    rgba = np.concatenate([x, np.full(x.shape[:3] + (1,), 255, np.uint8)], axis=-1)
    assert len(run(tiny_models, (rgba, y)).segments)


@pytest.mark.parametrize("kw, match", [
    (dict(labels=np.zeros(5, int)), "labels.*same length"),
    (dict(labels=np.full(96, 7)), "labels.*outside the class range"),
    (dict(target_class="zebra"), "target_class.*unknown class"),
    (dict(images=np.zeros((96, 3, 32, 32))), "images.*channels"),
    (dict(images=np.zeros((96, 32, 32, 3), dtype=complex)), "images.*not numeric"),
    (dict(n_clusters=10_000), "n_clusters"),
    (dict(class_names=["a", "b"]), "class_names.*3 classes"),
    (dict(sampling="outcome", outcome="XX"), "outcome"),
])
def test_bad_input_names_argument(tiny_models, tiny_images, kw, match):
    x, y = tiny_images
    data = (kw.pop("images", x), kw.pop("labels", y))
    with pytest.raises(ImacsInputError, match=match):
        run(tiny_models, data, **kw)


def test_class_count_mismatch_and_nan_outputs(tiny_images):
    x, y = tiny_images
    with pytest.raises(ImacsInputError, match="model_b.*4 classes"):
        run((tiny_cnn(3), tiny_cnn(4)), (x, y))

    def nan_model(batch):
        out = np.full((len(batch), 3), 1 / 3)
        out[0, 0] = np.nan
        return out

    with pytest.raises(ImacsInputError, match="model 'B'.*NaN"):
        run((tiny_cnn(3), nan_model), (x, y))


def test_too_few_images_for_any_sampling(tiny_images):
    x, y = tiny_images

    def never_a(batch):  # never predicts class a and no label is a: nothing to sample
        return np.tile([0.0, 0.5, 0.5], (len(batch), 1))

    with pytest.raises(ImacsInputError, match="no image could be sampled"):
        run((never_a, never_a), (x, np.where(y == 0, 1, y)), sampling="outcome", outcome="TP")


def test_load_restores_n_clusters_with_an_empty_cluster(result, tmp_path):
    """load() takes the cluster count from the file, not from the largest cluster id."""
    result.recluster(5)
    cc = result._active
    seg = cc.segments
    seg.loc[seg["cluster"] == 4, "cluster"] = 3  # cluster 4 (the last id) is now empty
    cc.summarize()
    assert result.n_clusters == 5 and result.clusters[-1]["size"] == 0
    back = imacs.load(result.save(tmp_path / "empty.imacs"))
    assert back.n_clusters == 5  # before the fix: 4 (max id + 1)
    assert back.clusters == result.clusters
    result.recluster(4)


@pytest.mark.parametrize("scale", ["minus1_1", "imagenet"])
def test_negative_pixel_values_give_real_thumbnails(tiny_images, scale):
    """Images in -1..1 or ImageNet-normalised scale are shown as themselves, not black."""
    x, y = tiny_images
    u = x.astype(np.float32) / 255.0
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    if scale == "minus1_1":
        xs, back = u * 2 - 1, (lambda v: (v + 1) * 127.5)
    else:
        xs, back = ((u - mean) / std).astype(np.float32), (lambda v: (v * std + mean) * 255.0)
    assert xs.min() < 0
    r = run((tiny_cnn(seed=1), tiny_cnn(seed=2)), (xs, y), preprocess_a=back, preprocess_b=back)
    ref = run((tiny_cnn(seed=1), tiny_cnn(seed=2)), (x, y))
    assert np.asarray(r.thumbnails).mean() > 60  # uniform-noise images: mid-grey on average, not black
    # the same pictures as from the 0-255 images, up to the range mapping's rounding
    diff = np.abs(np.asarray(r.thumbnails, int) - np.asarray(ref.thumbnails, int))
    assert diff.mean() < 8, diff.mean()


def test_large_result_keeps_its_reduced_embeddings(result, tmp_path, monkeypatch):
    import imacs_widget.engine.clustering as cl

    monkeypatch.setattr(cl, "EXACT_UP_TO", 10)
    result.recluster(5)
    red = result._active.reduced_embeddings
    assert red is not None and red.shape[0] == len(result.segments)
    back = imacs.load(result.save(tmp_path / "big.imacs"))
    np.testing.assert_array_equal(back._active.reduced_embeddings, red)
    back.recluster(5)
    assert back.segments["cluster"].tolist() == result.segments["cluster"].tolist()
    result._active.reduced_embeddings = None
    monkeypatch.undo()
    result.recluster(4)
