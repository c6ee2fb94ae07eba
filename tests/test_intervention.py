"""The what-if test of a cluster (``result.intervene``) on real PyTorch models built so that the
answer is known: model A decides the class of interest by a red checkerboard patch, model B by
the red background only. Pasting the checkerboard cluster's segments onto other classes' images
must switch A and not B; blurring them away must lose the class for A and not for B. Plus the
Wilson intervals against hand values, determinism, storage under the cluster's key (hidden after
re-clustering to another k, back at the same k and seed), save / load, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import quick_compare, tiny_embedder

import imacs_widget as imacs
from imacs_widget.engine import intervention as iv
from imacs_widget.errors import ImacsInputError

SIZE, CELL, PER_CLASS = 32, 8, 12
COLUMNS = ["model", "name", "flip_to_target", "flip_to_target_ci", "n_paste",
           "paste_score_change", "flip_from_target", "flip_from_target_ci", "n_remove",
           "remove_score_change"]


def checker_model(detect: bool):
    """A real PyTorch model (logits, ``[N, 3, H, W]`` 0..1 input, no trained weight).

    Classes 1 and 2: green vs blue mean. Class 0: ``detect`` — a red 1-pixel checkerboard
    anywhere (a fixed 2x2 high-pass filter on the red channel, pooled 3x3, its maximum over the
    image; a blur removes it); otherwise the mean red above the other channels (the background).
    """
    import torch

    class Checker(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("k", torch.tensor([[[[1.0, -1.0], [-1.0, 1.0]]]]))

        def forward(self, x):
            r, g, b = x[:, 0], x[:, 1], x[:, 2]
            gm, bm = g.mean((1, 2)), b.mean((1, 2))
            if detect:
                f = torch.relu(torch.nn.functional.conv2d(r[:, None], self.k))
                f = torch.nn.functional.avg_pool2d(f, 3, stride=1).amax((1, 2, 3))
                l0 = 20 * (f - 0.5)
            else:
                l0 = 10 * (r.mean((1, 2)) - torch.maximum(gm, bm))
            return torch.stack([l0, 5 * (gm - bm), 5 * (bm - gm)], 1)

    return Checker().eval()


def checker_data(seed: int = 0):
    """Images of 3 classes (red, green, blue backgrounds with noise); every class-0 image holds
    a red checkerboard in one grid cell. Returns images, labels, and the checker's cell."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), PER_CLASS)
    bg = np.array([[0.6, 0.3, 0.3], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]]) * 255
    x = bg[y][:, None, None, :] + rng.uniform(-5, 5, (len(y), SIZE, SIZE, 3))
    cells = np.full(len(y), -1)
    yy, xx = np.mgrid[:CELL, :CELL]
    for i in np.flatnonzero(y == 0):
        cells[i] = int(rng.integers(0, 16))
        r0, c0 = (cells[i] // 4) * CELL, (cells[i] % 4) * CELL
        x[i, r0:r0 + CELL, c0:c0 + CELL, 0] = ((yy + xx) % 2) * 255
    return np.clip(x, 0, 255).astype(np.uint8), y, cells


@pytest.fixture(scope="module")
def case():
    """One comparison of the two checker models, and the checkerboard's cluster."""
    x, y, cells = checker_data()
    models = {"A": checker_model(True), "B": checker_model(False)}
    result = quick_compare(models, x, y, n_clusters=4)
    seg = result.segments
    is_checker = (seg["segment_index"].to_numpy() == cells[seg["image_index"].to_numpy()])
    c = int(pd.Series(seg["cluster"][is_checker]).mode()[0])
    return {"x": x, "y": y, "models": models, "result": result, "cluster": c,
            "checker": is_checker, "table": result.intervene(c, progress=False)}


def test_wilson_interval_known_answers():
    # hand values (Wilson 1927; Newcombe 1998, table I): 5/10 and 0/10 at 95 %
    np.testing.assert_allclose(iv.wilson_interval(5, 10), [0.236593, 0.763407], atol=1e-6)
    np.testing.assert_allclose(iv.wilson_interval(0, 10), [0.0, 0.277533], atol=1e-6)
    np.testing.assert_allclose(iv.wilson_interval(10, 10), [0.722467, 1.0], atol=1e-6)
    assert iv.wilson_interval(0, 0) is None
    with pytest.raises(ImacsInputError, match="successes"):
        iv.wilson_interval(3, 2)


def test_effects_count_only_images_that_could_flip():
    out = iv.paste_effect(np.array([0, 1, 2, 1]), np.array([0, 0, 2, 0]),
                          np.array([0.9, 0.1, 0.2, 0.3]), np.array([0.9, 0.8, 0.2, 0.6]), 0)
    assert out["n_paste"] == 3 and out["flip_to_target"] == pytest.approx(2 / 3)
    assert out["paste_score_change"] == pytest.approx((0.7 + 0.3) / 4)
    out = iv.remove_effect(np.array([1, 2]), np.array([1, 0]), np.array([0.2, 0.1]),
                           np.array([0.1, 0.5]), 0)
    assert out["n_remove"] == 0 and np.isnan(out["flip_from_target"])
    assert out["flip_from_target_ci"] is None
    assert iv.json_row({"flip_from_target": out["flip_from_target"]}) == {
        "flip_from_target": None}


def test_cut_and_paste_keep_only_the_segments_pixels():
    img = np.arange(6 * 6 * 3, dtype=np.float32).reshape(6, 6, 3)
    lm = np.zeros((6, 6), np.int32)
    lm[1:3, 2:5] = 1
    lm[2, 4] = 0  # not a rectangle: one pixel of the box is another segment's
    patch, mask = iv.cut_segment(img, lm, 1)
    assert patch.shape == (2, 3, 3) and mask.sum() == 5 and not mask[1, 2]
    np.testing.assert_array_equal(patch[0, 0], img[1, 2])
    plan = iv.paste_plan(3, [mask.shape], (6, 6), np.random.default_rng(0))
    out = iv.paste(np.zeros((3, 6, 6, 3), np.float32), [(patch, mask)], plan)
    for i, (_, t, left) in enumerate(zip(*plan, strict=True)):
        region = out[i, t:t + 2, left:left + 3]
        np.testing.assert_array_equal(region[mask], patch[mask])
        assert (region[~mask] == 0).all() and out[i].sum() == patch[mask].sum()
    with pytest.raises(ImacsInputError, match="segment"):
        iv.cut_segment(img, lm, 7)


def test_checkerboard_cluster_switches_the_model_that_uses_it(case):
    result, c, t = case["result"], case["cluster"], case["table"]
    seg = result.segments
    rows = seg["cluster"].to_numpy() == c
    assert case["checker"][rows].all()  # the cluster is the checkerboard, nothing else
    assert list(t.columns) == COLUMNS and list(t["model"]) == ["A", "B"]
    a, b = t.iloc[0], t.iloc[1]
    n_other = 2 * PER_CLASS  # every image of classes 1 and 2, none predicted 0 before
    assert a["n_paste"] == b["n_paste"] == n_other
    assert a["flip_to_target"] == 1.0 and b["flip_to_target"] == 0.0
    assert a["paste_score_change"] > 0.9 and abs(b["paste_score_change"]) < 0.05
    held = seg.loc[rows, "image_index"].nunique()
    assert a["n_remove"] == b["n_remove"] == held == PER_CLASS
    assert a["flip_from_target"] == 1.0 and b["flip_from_target"] == 0.0
    assert a["remove_score_change"] < -0.9 and abs(b["remove_score_change"]) < 0.05
    lo, hi = a["flip_to_target_ci"]
    np.testing.assert_allclose([lo, hi], iv.wilson_interval(n_other, n_other))
    assert b["flip_from_target_ci"] == pytest.approx(iv.wilson_interval(0, PER_CLASS))


def test_background_cluster_switches_neither_by_paste(case):
    """A cluster of plain red background: pasting one cell onto a green image moves neither
    model (B reads the mean colour of the whole image)."""
    result, seg = case["result"], case["result"].segments
    counts = pd.Series(seg["cluster"][~case["checker"]]).value_counts()
    red = seg["label"].to_numpy() == 0
    bg = [k for k in counts.index if red[(seg["cluster"] == k).to_numpy()].all()
          and not case["checker"][(seg["cluster"] == k).to_numpy()].any()]
    assert bg, "no red-background cluster"
    t = result.intervene(int(bg[0]), progress=False)
    assert (t["flip_to_target"] == 0.0).all()


def test_seeded_stored_and_keyed_to_the_cluster(case):
    result, c = case["result"], case["cluster"]
    again = result.intervene(c, progress=False)
    pd.testing.assert_frame_equal(again, case["table"])
    rec = result.interventions[c]
    assert set(rec) >= {"cluster", "key", "rows", "n_images", "seed"}
    assert rec["cluster"] == c and rec["n_images"] == 32 and rec["seed"] == result.seed
    assert [r["model"] for r in rec["rows"]] == ["A", "B"]
    assert rec["rows"][0]["flip_to_target"] == 1.0
    json.dumps(result.params["interventions"], allow_nan=False)  # JSON-able, no NaN
    stored = result.params["interventions"][result.target_class]
    assert rec["key"] in stored
    # every cluster tested: after re-clustering to another k exactly the clusters that hold
    # the same segments keep their record (under their new ids), and all come back at k
    def members():
        cl = result.segments["cluster"].to_numpy()
        return {int(j): frozenset(np.flatnonzero(cl == j)) for j in np.unique(cl)}

    old = members()
    for j in old:
        result.intervene(j, n_images=3, n_crops=2, progress=False)
    result.intervene(c, progress=False)
    k = result.n_clusters
    result.recluster(k + 2)
    new = members()
    kept = {j for j, rows in new.items() if rows in set(old.values())}
    assert set(result.interventions) == kept and len(kept) < len(old)
    result.recluster(k)
    assert set(result.interventions) == set(old)
    assert result.interventions[c]["key"] == rec["key"]
    pd.testing.assert_frame_equal(pd.DataFrame(result.interventions[c]["rows"])[
        ["n_paste", "n_remove", "flip_to_target"]], case["table"][
        ["n_paste", "n_remove", "flip_to_target"]])
    # another seed draws other images / positions, and replaces the record
    other = result.intervene(c, n_images=5, seed=7, progress=False)
    assert other["n_paste"].tolist() == [5, 5]
    assert result.interventions[c]["seed"] == 7
    result.intervene(c, progress=False)  # back to the module's record


def test_save_load_keeps_records_and_reruns_identically(case, tmp_path):
    result, c = case["result"], case["cluster"]
    result.intervene(c, progress=False)
    before = result.interventions
    result.save(tmp_path / "r.imacs")
    loaded = imacs.load(tmp_path / "r.imacs")
    assert loaded.interventions == before
    with pytest.raises(ImacsInputError, match="models"):
        loaded.intervene(c, progress=False)
    with pytest.raises(ImacsInputError, match="images"):
        loaded.intervene(c, models=case["models"], progress=False)
    t = loaded.intervene(c, models=case["models"], images=case["x"], labels=case["y"],
                         progress=False)
    pd.testing.assert_frame_equal(t, case["table"])
    # without labels: the sampled images' labels (here every image was sampled)
    t2 = loaded.intervene(c, models=case["models"], images=case["x"], progress=False)
    pd.testing.assert_frame_equal(t2, case["table"])


def test_errors_name_the_argument(case):
    result, c = case["result"], case["cluster"]
    with pytest.raises(ImacsInputError, match="cluster"):
        result.intervene(result.n_clusters, progress=False)
    with pytest.raises(ImacsInputError, match="n_images"):
        result.intervene(c, n_images=0, progress=False)
    with pytest.raises(ImacsInputError, match="labels"):  # every image of the class itself
        result.intervene(c, images=case["x"], labels=np.zeros(len(case["y"]), int),
                         progress=False)
    seg = result.segments
    empty = seg.assign(cluster=np.where(seg["cluster"] == c, (c + 1) % 4, seg["cluster"]))
    with pytest.raises(ImacsInputError, match="cluster .* is empty"):
        iv.representative_rows(empty, c)
    assert "what-if" in result.summary_text()


@pytest.mark.parametrize("bad, field", [
    ([1, 2], "must be a mapping"),
    ({"nope": {}}, "not a class of interest"),
    ("rows", "'rows' must be a non-empty list"),
    ("rate", "'flip_to_target' must be a rate"),
    ("ci", "'flip_from_target_ci' must be"),
    ("n", "'n_paste' must be an int"),
])
def test_a_damaged_record_in_a_file_is_named_on_load(case, tmp_path, bad, field):
    """A record of a what-if test read from meta.json is checked when the result is loaded
    (the error names the file and the field), never left to crash the summary later."""
    result, c = case["result"], case["cluster"]
    result.intervene(c, progress=False)
    path = tmp_path / "r.imacs"
    result.save(path)
    meta = json.loads((path / "meta.json").read_text())
    stored = meta["params"]["interventions"]
    cls = next(iter(stored))
    rec = next(iter(stored[cls].values()))
    if bad == "rows":
        rec["rows"] = 5
    elif bad == "rate":
        rec["rows"][0]["flip_to_target"] = 1.5
    elif bad == "ci":
        rec["rows"][0]["flip_from_target_ci"] = [0.2]
    elif bad == "n":
        rec["rows"][0]["n_paste"] = -1
    else:
        meta["params"]["interventions"] = bad
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ImacsInputError, match=f"meta.json.*params.interventions.*{field}"):
        imacs.load(path)


def test_interventions_are_copies_and_dataset_pairs_are_refused(case):
    result, c = case["result"], case["cluster"]
    result.intervene(c, progress=False)
    result.interventions[c]["rows"][0]["model"] = "changed"  # a copy: params stay as stored
    assert result.interventions[c]["rows"][0]["model"] == "A"
    x, y = case["x"], case["y"]
    pair = imacs.compare_datasets(case["models"]["A"], x[::2], x[1::2], y[::2], y[1::2],
                                  target_class=0, sampling="all", k=3, n_clusters=2,
                                  embedder=tiny_embedder(),
                                  progress=False)
    with pytest.raises(ImacsInputError, match="result: compares one model on two datasets"):
        pair.intervene(0, progress=False)
