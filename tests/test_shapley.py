"""Segment Shapley values: axioms, brute-force agreement, batching across images."""

from itertools import permutations
from math import factorial

import numpy as np
import pytest
from conftest import tiny_cnn

from imacs_widget.engine.masking import blur_images, compose, evaluate_masked
from imacs_widget.engine.segmentation import grid_segments
from imacs_widget.engine.shapley import (
    coalition_keep_mask,
    coalition_values,
    segment_shapley,
    shapley_weights,
)
from imacs_widget.models import ModelAdapter
from imacs_widget.models.masked import MaskedJobs


def brute_force_shapley(score_fn, image, label_map, blurred, segs):
    """Shapley by its permutation definition, one model call per coalition."""
    k = len(segs)
    cache = {}

    def v(mask):
        if mask not in cache:
            keep = coalition_keep_mask(label_map, segs, mask)
            cache[mask] = np.asarray(score_fn(compose(image, blurred, keep)[None]), float)[0]
        return cache[mask]

    phi = np.zeros((k, len(v(0))))
    for perm in permutations(range(k)):
        m = 0
        for p in perm:
            phi[p] += v(m | (1 << p)) - v(m)
            m |= 1 << p
    return phi / factorial(k)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(3)
    images = (rng.random((5, 32, 32, 3)) * 255).astype(np.float32)
    lm = grid_segments(32, 32, 4, 4)
    blurred = blur_images(images, 2.0)
    segs = [list(rng.choice(16, size=4, replace=False)) for _ in range(5)]
    return images, lm, blurred, segs


def test_weights_rows_sum_to_efficiency():
    for k in (1, 2, 5, 8):
        W = shapley_weights(k)
        # sum_i phi_i = v(all) - v(none)  <=>  column sums are +1 at full, -1 at empty, 0 elsewhere
        col = W.sum(axis=0)
        expect = np.zeros(1 << k)
        expect[-1], expect[0] = 1.0, -1.0
        np.testing.assert_allclose(col, expect, atol=1e-12)


def test_additive_game_gives_exact_contributions():
    k = 5
    contrib = np.array([0.3, -0.1, 2.0, 0.0, 0.7])
    v = np.array([[sum(contrib[j] for j in range(k) if m >> j & 1)] for m in range(1 << k)])
    np.testing.assert_allclose(shapley_weights(k) @ v, contrib[:, None], atol=1e-12)


def test_efficiency_and_brute_force_on_keras_model(setup):
    images, lm, blurred, segs = setup
    model = ModelAdapter(tiny_cnn(4, 32, seed=5), batch_size=7)  # odd batch: coalitions straddle images
    vals = segment_shapley(model.scores, images, [lm] * 5, blurred, segs, batch_size=7)
    for i in range(5):
        v = coalition_values(model.scores, images[i], lm, blurred[i], segs[i])
        np.testing.assert_allclose(vals[i].sum(axis=0), v[-1] - v[0], atol=1e-6)
        brute = brute_force_shapley(model.scores, images[i], lm, blurred[i], segs[i])
        np.testing.assert_allclose(vals[i], brute, atol=1e-6)
        assert vals[i].shape == (4, 4)  # every class from the same passes


def test_batched_calls_fill_batches(setup):
    images, lm, blurred, segs = setup
    calls = []

    def score(x):
        calls.append(len(x))
        return np.stack([x.mean(axis=(1, 2, 3)), x[:, :8].mean(axis=(1, 2, 3))], axis=1)

    segment_shapley(score, images, [lm] * 5, blurred, segs, batch_size=32)
    assert sum(calls) == 5 * 16
    assert calls[:-1] == [32] * (len(calls) - 1)  # all but the last call are full


def test_analytic_region_model_attributes_to_region():
    """f = mean of the top-left 8x8 cell: only that segment gets value; null segments get 0."""
    img = np.full((1, 32, 32, 3), 200.0, np.float32)
    img[0, :8, :8] = 255.0
    blurred = np.zeros_like(img)
    lm = grid_segments(32, 32, 4, 4)

    def f(x):
        return x[:, :8, :8].mean(axis=(1, 2, 3))[:, None]

    vals = segment_shapley(f, img, [lm], blurred, [[5, 0, 10]])[0][:, 0]
    np.testing.assert_allclose(vals, [0.0, 255.0, 0.0], atol=1e-9)


def test_evaluate_masked_matches_direct(setup):
    images, lm, blurred, _ = setup
    sets = [(i % 5, {i % 16, (3 * i) % 16}) for i in range(13)]
    jobs = MaskedJobs.from_sets([i for i, _ in sets], [s for _, s in sets], 16)
    f = lambda x: x.reshape(len(x), -1)[:, :3].astype(np.float64)  # noqa: E731
    out = evaluate_masked(f, images, blurred, [lm] * 5, jobs, batch_size=4)
    direct = np.stack([f(compose(images[i], blurred[i], ~np.isin(lm, list(s)))[None])[0]
                       for i, s in sets])
    np.testing.assert_array_equal(out, direct)


def test_leave_one_out_values_are_reused_as_coalitions():
    """The unmasked image and the images with one ranked segment blurred are coalition values:
    a LOO-ranked Shapley run evaluates 2^k - 1 - k of the 2^k coalitions, with equal values."""
    from conftest import tiny_cnn

    from imacs_widget.engine.ranking import rank_leave_one_out
    from imacs_widget.engine.shapley import known_coalitions

    rng = np.random.default_rng(4)
    x = (rng.random((6, 32, 32, 3)) * 255).astype(np.float32)
    lm = [grid_segments(32, 32, 4, 4)] * len(x)
    bl = blur_images(x, 2.0)
    ad = ModelAdapter(tiny_cnn(seed=3))
    full = ad.scores(x)
    ranked = rank_leave_one_out(ad, x, lm, bl, 0, 5, full_scores=ad.log_odds(x))
    assert len(ranked.masked_scores) == len(x)
    plain = segment_shapley(ad.scores, x, lm, bl, ranked, 64)
    known = known_coalitions(ranked, full, ranked.masked_scores)
    assert all(len(d) == 6 for d in known)  # the full image + 5 single-blurred images
    ad.n_evals = 0
    reused = segment_shapley(ad.scores, x, lm, bl, ranked, 64, known=known)
    assert ad.n_evals == len(x) * (32 - 6)  # 42 forwards per image with LOO's 16
    for a, b in zip(plain, reused, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_compare_needs_42_forwards_per_image():
    import warnings

    from conftest import tiny_cnn, tiny_embedder

    import imacs_widget as imacs

    rng = np.random.default_rng(0)
    x = (rng.random((20, 32, 32, 3)) * 255).astype(np.uint8)
    y = rng.integers(0, 3, 20)
    ads = [ModelAdapter(tiny_cnn(seed=s), n) for s, n in ((1, "A"), (2, "B"))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imacs.compare(*ads, x, y, target_class=0, sampling="all", n_clusters=3,
                      embedder=tiny_embedder(), progress=False)
    # per model: 20 predictions, then 16 LOO + 32 - 1 - 5 coalitions for each of its 20 images
    assert [a.n_evals for a in ads] == [20 + 20 * 42] * 2
