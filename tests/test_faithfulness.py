"""Faithfulness: deletion / insertion curves read from the Shapley game, checked against games
with known answers, against brute force, against Quantus on a real PyTorch model, and through
compare() / save / load / re-cluster."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import quick_compare, torch_cnn

from imacs_widget.engine.faithfulness import (
    CURVE_COLUMNS,
    cluster_removal,
    curve_area,
    deletion_curve,
    image_faithfulness,
    insertion_curve,
    random_curves,
)
from imacs_widget.engine.shapley import shapley_weights

SIZE = 32


def additive_game(weights, base=0.0):
    """v(S) = base + sum of the weights of S: every player's Shapley value is its weight."""
    k = len(weights)
    return np.array([base + sum(w for j, w in enumerate(weights) if m >> j & 1)
                     for m in range(1 << k)])


def test_additive_game_curves_by_hand():
    w = [0.1, 0.4, -0.2]  # attribution order: player 1, 0, 2
    g = additive_game(w, base=0.3)
    phi = shapley_weights(3) @ g
    np.testing.assert_allclose(phi, w, atol=1e-12)
    np.testing.assert_allclose(deletion_curve(g, [1, 0, 2]), [0.6, 0.2, 0.1, 0.3])
    np.testing.assert_allclose(insertion_curve(g, [1, 0, 2]), [0.3, 0.7, 0.8, 0.6])
    f = image_faithfulness(g, phi)
    assert f["deletion_auc"] == pytest.approx((0.6 / 2 + 0.2 + 0.1 + 0.3 / 2) / 3)
    assert f["insertion_auc"] == pytest.approx((0.3 / 2 + 0.7 + 0.8 + 0.6 / 2) / 3)
    # an additive game's random-order curve is the straight line from v(all) to v(none)
    assert f["random_auc"] == pytest.approx((0.6 + 0.3) / 2)
    assert f["faithfulness"] == pytest.approx((f["insertion_auc"] - f["deletion_auc"]) / 2)
    assert f["faithfulness"] > 0
    # the reversed order is worse than chance by as much
    rev = image_faithfulness(g, -phi)
    assert rev["faithfulness"] == pytest.approx(-f["faithfulness"])


def test_random_curves_are_the_mean_over_every_order():
    rng = np.random.default_rng(3)
    for k in (1, 2, 4, 5):
        g = rng.normal(size=1 << k)
        orders = list(itertools.permutations(range(k)))
        rd, ri = random_curves(g, k)
        np.testing.assert_allclose(rd, np.mean([deletion_curve(g, o) for o in orders], 0))
        np.testing.assert_allclose(ri, np.mean([insertion_curve(g, o) for o in orders], 0))


def test_curve_area_and_empty_image():
    assert curve_area([1.0, 0.0]) == 0.5
    assert curve_area([0.2, 0.2, 0.2]) == pytest.approx(0.2)
    f = image_faithfulness(np.array([0.5]), np.zeros(0))
    assert all(np.isnan(v) for v in f.values())


def test_cluster_removal_blurs_every_segment_of_the_cluster_in_the_image():
    g1 = additive_game([0.5, 0.2, 0.1], base=0.1)  # image 7 of A: players 0, 1, 2
    g2 = additive_game([0.3, -0.1])                 # image 8 of A
    seg = pd.DataFrame({"model": ["A"] * 5, "image_index": [7, 7, 7, 8, 8],
                        "rank": [0, 1, 2, 0, 1], "cluster": [4, 2, 4, 4, 2]})
    games = np.full((5, 8), np.nan, np.float32)
    games[:3], games[3:, :4] = g1, g2
    out = cluster_removal(seg, games)
    # image 7, cluster 4 = players 0 and 2 removed together: 0.5 + 0.1
    np.testing.assert_allclose(out, [0.6, 0.2, 0.6, 0.3, -0.1], atol=1e-6)
    assert np.isnan(cluster_removal(seg, np.full((5, 2), np.nan))).all()


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = (rng.random((24, SIZE, SIZE, 3)) * 255).astype(np.uint8)
    y = rng.integers(0, 3, len(x))
    ma, mb = torch_cnn(1), torch_cnn(2)
    r = quick_compare(ma, mb, x, y, k=4)
    return r, x, (ma, mb)


def test_compare_keeps_curves_games_and_cluster_removal(torch_run, tmp_path):
    import imacs_widget as imacs

    r, _, _ = torch_run
    seg = r.segments
    for c in (*CURVE_COLUMNS, "cluster_removal"):
        assert c in seg and np.isfinite(seg[c]).all(), c
    games = np.asarray(r._active.games)
    assert games.shape == (len(seg), 16) and games.dtype == np.float32
    # per image: the curve columns are what its game and Shapley values give
    first = seg.drop_duplicates(["model", "image_index"]).index[:5]
    for row in first:
        rows = seg[(seg["model"] == seg.at[row, "model"])
                   & (seg["image_index"] == seg.at[row, "image_index"])].sort_values("rank")
        f = image_faithfulness(games[row].astype(np.float64), rows["attribution"].to_numpy())
        for c in CURVE_COLUMNS:
            assert seg.at[row, c] == pytest.approx(f[c], abs=1e-6), c
        # Shapley efficiency on the stored game: values sum to v(all) - v(none)
        assert rows["attribution"].sum() == pytest.approx(games[row, 15] - games[row, 0], abs=1e-5)
    table = r.faithfulness
    assert list(table.index) == ["A", "B"]
    assert (table["n_images"] == seg.groupby("model")["image_index"].nunique()).all()
    assert all(c["removal"]["A"] is not None for c in r.clusters if c["count"]["A"])
    # re-clustering recomputes the removal column from the stored games; saved and loaded
    before = seg["cluster_removal"].to_numpy().copy()
    r.recluster(2)
    assert not np.allclose(before, r.segments["cluster_removal"].to_numpy())
    r.save(tmp_path / "r.imacs")
    back = imacs.load(tmp_path / "r.imacs")
    np.testing.assert_array_equal(np.asarray(back._active.games), games)
    pd.testing.assert_frame_equal(back.faithfulness, r.faithfulness)
    back.recluster(3)
    r.recluster(3)
    np.testing.assert_allclose(back.segments["cluster_removal"], r.segments["cluster_removal"])


def test_result_without_games_has_no_faithfulness():
    from synthetic_result import make_result

    r = make_result(200)
    assert r._active.games is None
    assert r.faithfulness.empty
    assert all(v is None for c in r.clusters for v in c["removal"].values())


@pytest.mark.slow
def test_curves_agree_with_quantus_pixel_flipping(torch_run):
    """Deletion and insertion curves of the ranked segments equal Quantus's PixelFlipping on
    the same model, inputs, attribution order and blurred baseline (to 1e-5)."""
    quantus = pytest.importorskip("quantus")
    import torch

    from imacs_widget.engine.masking import blur_images

    r, x, (ma, _) = torch_run
    seg = r.segments[r.segments["model"] == "A"]
    images = sorted(seg["image_index"].unique())[:6]
    sigma = r.params["blur_sigma"]
    cell = SIZE // 4
    xs, blurred, start, attr, ours_del, ours_ins, ranked = [], [], [], [], [], [], []
    games = np.asarray(r._active.games)
    for i in images:
        rows = seg[seg["image_index"] == i].sort_values("rank")
        img = x[i].astype(np.float32)
        blr = blur_images(img[None], sigma)[0]
        a = np.full((SIZE, SIZE), -10.0)  # segments that are not ranked come last
        keep_start = np.ones((SIZE, SIZE), bool)
        order = np.lexsort((rows["rank"].to_numpy(), -rows["attribution"].to_numpy()))
        for pos, j in enumerate(order):  # attribution order made strict (ties by player)
            sid = int(rows["segment_index"].iloc[j])
            r0, c0 = divmod(sid, 4)
            a[r0 * cell:(r0 + 1) * cell, c0 * cell:(c0 + 1) * cell] = 10.0 - pos
            keep_start[r0 * cell:(r0 + 1) * cell, c0 * cell:(c0 + 1) * cell] = False
        g = games[rows.index[0]].astype(np.float64)
        ours_del.append(deletion_curve(g, order))
        ours_ins.append(insertion_curve(g, order))
        xs.append(img / 255)
        blurred.append(blr / 255)
        start.append(np.where(keep_start[..., None], img, blr) / 255)
        attr.append(a)
        ranked.append(len(rows))
    chw = lambda v: np.ascontiguousarray(np.stack(v).transpose(0, 3, 1, 2), np.float32)  # noqa: E731
    a_batch = np.stack(attr)[:, None].astype(np.float32)
    y = np.full(len(images), 0)

    def replace_with(arr, indices, source, **_):
        out = arr.copy()
        rows_ = np.arange(len(arr))[:, None]
        out[rows_, indices] = source.reshape(len(arr), -1)[rows_, indices]
        return out

    def run(x_batch, source):
        metric = quantus.PixelFlipping(features_in_step=cell * cell, normalise=False,
                                       perturb_func=replace_with,
                                       perturb_func_kwargs={"source": source},
                                       disable_warnings=True)
        return np.asarray(metric(model=ma.eval(), x_batch=x_batch, y_batch=y, a_batch=a_batch,
                                 channel_first=True, softmax=True, device="cpu",
                                 batch_size=len(images)))

    with torch.no_grad():
        q_del = run(chw(xs), chw(blurred))       # blur the ranked segments, best first
        q_ins = run(chw(start), chw(xs))         # un-blur them from the all-blurred start
    for j in range(len(images)):
        k = ranked[j]
        steps = [3 * (t + 1) - 1 for t in range(k)]  # 3 steps (one per channel) per segment
        np.testing.assert_allclose(q_del[j, steps], ours_del[j][1:], atol=1e-5)
        np.testing.assert_allclose(q_ins[j, steps], ours_ins[j][1:], atol=1e-5)


def test_games_above_max_stored_k_are_not_kept(tiny_models, tiny_images):
    from imacs_widget.engine.faithfulness import MAX_STORED_K

    x, y = tiny_images
    r = quick_compare(*tiny_models, x[:4], y[:4], k=MAX_STORED_K + 1, n_clusters=2)
    assert r._active.games is None and "cluster_removal" not in r.segments
    assert np.isfinite(r.segments["faithfulness"]).all()  # the curves are still computed
    assert all(v is None for c in r.clusters for v in c["removal"].values())
