"""compare_datasets(model, data_a, data_b): one real Keras model, two evaluation sets.

Arrays of two sizes and two ImageFolder trees of real PNG files for the API; the demo's
watermark scenario (model B on the clean test images against the same images with the
watermark on half of them) for the method: the watermark cluster is the watermarked split's.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_cnn, tiny_embedder, trained_scenario

import imacs_widget as imacs
from imacs_widget.errors import ImacsInputError

NAMES = ["a", "b", "c"]


def run(model, data_a, data_b, *args, **kw):
    opts = dict(class_names=NAMES, target_class="a", n_clusters=3, k=3, n_per_model=12,
                embedder=tiny_embedder(), progress=False, seed=0)
    opts.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        return imacs.compare_datasets(model, data_a, data_b, *args, **opts)


@pytest.fixture(scope="module")
def two_sets():
    rng = np.random.default_rng(3)
    xa = (rng.random((40, 32, 32, 3)) * 255).astype(np.uint8)
    xb = (rng.random((30, 40, 40, 3)) * 255).astype(np.uint8)  # read at A's 32x32
    return xa, rng.integers(0, 3, 40), xb, rng.integers(0, 3, 30)


@pytest.fixture(scope="module")
def model():
    return imacs.ModelAdapter(tiny_cnn(seed=1), "tiny")


@pytest.fixture(scope="module")
def result(model, two_sets):
    xa, ya, xb, yb = two_sets
    return run(model, xa, xb, ya, yb, name_a="day", name_b="night")


def test_each_side_samples_its_own_dataset(result, model, two_sets):
    xa, ya, xb, yb = two_sets
    seg = result.segments
    assert result.model_names == {"A": "day", "B": "night"}
    a, b = seg[seg["model"] == "A"], seg[seg["model"] == "B"]
    assert len(a) and len(b)
    assert (a["image_index"] < 40).all() and (b["image_index"] >= 40).all()
    np.testing.assert_array_equal(a["dataset_index"], a["image_index"])
    np.testing.assert_array_equal(b["dataset_index"], b["image_index"] - 40)
    assert b["source"].str.fullmatch(r"data_b\[\d+\]").all()
    assert result.params["datasets"] == {"A": 40, "B": 30}
    # each side's labels, predictions and accuracy are the model's on its own dataset
    np.testing.assert_array_equal(b["label"], yb[b["dataset_index"]])
    from PIL import Image

    small = np.stack([np.asarray(Image.fromarray(im).resize((32, 32), Image.BILINEAR))
                      for im in xb])
    pred_b = model.raw(small).argmax(1)
    assert result.accuracy["B"] == pytest.approx((pred_b == yb).mean())
    assert result.accuracy["A"] == pytest.approx((model.raw(xa).argmax(1) == ya).mean())
    np.testing.assert_array_equal(b["pred_b"], pred_b[b["dataset_index"]])
    # every side has its own balanced sample
    counts = result.sampling["counts"]
    assert sum(v["taken"] for v in counts["B"].values()) == b["image_index"].nunique()


def test_settings_object_equals_keywords(result, model, two_sets):
    """compare_datasets(..., settings=Settings(...)) is the keyword call; the result keeps them."""
    xa, ya, xb, yb = two_sets
    emb = tiny_embedder()
    settings = imacs.Settings(n_clusters=3, k=3, n_per_model=12, seed=0, embedder=emb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        r = imacs.compare_datasets(model, xa, xb, ya, yb, target_class="a", class_names=NAMES,
                                   settings=settings.replace(k=4), k=3, name_a="day",
                                   name_b="night", progress=False)
    pd.testing.assert_frame_equal(r.segments, result.segments)
    assert imacs.Settings.from_params(r.params, embedder=emb) == settings
    with pytest.raises(ImacsInputError, match="^n_cluster: .*did you mean 'n_clusters'"):
        run(model, xa, xb, ya, yb, n_cluster=3)


def test_saved_and_loaded(result, tmp_path):
    back = imacs.load(result.save(tmp_path / "ds.imacs"))
    pd.testing.assert_frame_equal(back.segments, result.segments)
    assert back.params["datasets"] == {"A": 40, "B": 30}
    assert back.clusters == result.clusters
    emb = tiny_embedder()
    assert back.params["settings"] == result.params["settings"]
    assert imacs.Settings.from_params(back.params, embedder=emb) == imacs.Settings(
        n_clusters=3, k=3, n_per_model=12, seed=0, embedder=emb)


def test_image_folders(model, tmp_path):
    """Two ImageFolder trees of PNG files: labels from each tree's folder names."""
    from PIL import Image

    rng = np.random.default_rng(9)
    for split in ("train", "test"):
        for c in NAMES:
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(6):
                im = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
                Image.fromarray(im).save(tmp_path / split / c / f"{i}.png")
    r = run(model, tmp_path / "train", tmp_path / "test", class_names=None)
    seg = r.segments
    b = seg[seg["model"] == "B"]
    assert b["source"].str.contains("/test/").all()
    assert seg[seg["model"] == "A"]["source"].str.contains("/train/").all()
    assert r.class_names == NAMES
    np.testing.assert_array_equal(b["label"], [NAMES.index(p.split("/")[-2]) for p in b["source"]])


def test_names_on_one_side_indices_on_the_other(model, two_sets, result):
    xa, ya, xb, yb = two_sets
    mixed = run(model, xa, xb, ya, [NAMES[v] for v in yb], name_a="day", name_b="night")
    pd.testing.assert_frame_equal(mixed.segments, result.segments)
    with pytest.raises(ImacsInputError, match="labels_b.*not in class_names"):
        run(model, xa, xb, ya, ["zebra"] * len(yb))


def test_each_dataset_s_indices_mean_its_own_class_names(model, tmp_path):
    """Two file sets whose class indices follow different class-name orders."""
    from PIL import Image

    from imacs_widget.data.sources import FileSource

    rng = np.random.default_rng(4)
    paths, y = [], rng.integers(0, 3, 18)
    for i in range(18):
        Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    a = FileSource(paths, labels=list(y), class_names=NAMES)
    reordered = NAMES[::-1]  # the same images, labelled in another order
    b = FileSource(paths, labels=[reordered.index(NAMES[v]) for v in y], class_names=reordered)
    r = run(model, a, b, class_names=None, n_per_model=8)
    seg = r.segments
    np.testing.assert_array_equal(seg["label"], np.concatenate([y, y])[seg["image_index"]])
    # one-hot labels on one side, indices on the other
    onehot = np.eye(3)[y]
    r2 = run(model, a, b, list(y), onehot, n_per_model=8)
    np.testing.assert_array_equal(r2.segments["label"],
                                  np.concatenate([y, y])[r2.segments["image_index"]])


def test_the_same_model_twice_keeps_both_names(tiny_images):
    m = tiny_cnn(seed=1)
    x, y = tiny_images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        r = imacs.compare(m, m, x, y, name_a="first", name_b="second", target_class=0,
                          n_per_model=8, n_clusters=2, k=3, embedder=tiny_embedder(),
                          progress=False)
    assert r.model_names == {"A": "first", "B": "second"}


def test_errors(model, two_sets):
    xa, ya, xb, yb = two_sets
    with pytest.raises(ImacsInputError, match="labels_b.*is required"):
        run(model, xa, xb, ya)
    with pytest.raises(ImacsInputError, match="labels_a.*has 39 entries"):
        run(model, xa, xb, ya[:39], yb)
    with pytest.raises(ImacsInputError, match="data_b.*pixels in the range"):
        run(model, xa, xb.astype(np.float32) / 255, ya, yb)
    with pytest.raises(ImacsInputError, match="sampling.*disagreements"):
        run(model, xa, xb, ya, yb, sampling="disagreements")
    with pytest.raises(ImacsInputError, match="name_b"):
        run(model, xa, xb, ya, yb, name_a="x", name_b="x")
    with pytest.raises(ImacsInputError, match="^model_b: is not an option of compare_datasets"):
        run(model, xa, xb, ya, yb, model_b=model)


@pytest.mark.slow
def test_watermarked_split_owns_the_watermark_cluster(tmp_path):
    """Model B on clean test images (A) against the same images, half watermarked (B)."""
    from imacs_widget.demo.run import run_demo

    s = run_demo(tmp_path, seed=0, scenario=trained_scenario(0), progress=False,
                 verbose=False, report=False, datasets=True)
    top = s["top_cluster"]
    print(f"top cluster {top['id']}: {top['size']} segments {top['count']}, watermark "
          f"{top['watermark_fraction']:.2f}, mean {top['mean_attribution']}, accuracy "
          f"{s['dataset_accuracy']}")
    assert top["watermark_fraction"] >= 0.6
    a, b = top["mean_attribution"]["A"], top["mean_attribution"]["B"]
    assert b is not None and b > 0.05
    assert top["count"]["B"] >= 4 * max(top["count"]["A"], 1)  # the watermarked split's own
    assert a is None or b > a  # one model on both sides: clean look-alikes may score too
    acc = s["dataset_accuracy"]
    assert acc["clean images"] > acc["watermarked images"]  # the shortcut costs accuracy
    loaded = imacs.load(tmp_path / "result.imacs")
    assert loaded.model_names == {"A": "clean images", "B": "watermarked images"}
