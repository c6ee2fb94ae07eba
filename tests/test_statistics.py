"""imacs_widget.engine.statistics: known-answer tests of the intervals, tests and q-values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imacs_widget.engine.statistics import (
    benjamini_hochberg,
    bootstrap_ratio,
    chi2_sf,
    permutation_test,
)
from imacs_widget.errors import ImacsInputError

N_SIM = 200
# p < 0.05 in 200 independent null clusters: Binomial(200, 0.05), mean 10, sd 3.1; [2, 20]
# holds 99.8 % of it (so a correct test fails this about once in 500 seeds, and the seeds are
# fixed).
NULL_RANGE = (2, 20)


def two_models(n_a, n_b, k, rng, shift=0.0, shared=0):
    """Values of two models (one row per observation, one column per simulated cluster),
    the first ``shared`` images sampled by both."""
    a = rng.normal(0, 1, (n_a, k))
    b = rng.normal(0, 1, (n_b, k)) + shift
    group = np.r_[np.arange(n_a), np.r_[np.arange(shared), n_a + np.arange(n_b - shared)]]
    return np.concatenate([a, b]), np.r_[np.zeros(n_a), np.ones(n_b)], group


@pytest.mark.parametrize("shared", [0, 60, 80], ids=["unpaired", "mixed", "paired"])
def test_null_clusters_are_flagged_at_the_nominal_rate(shared):
    rng = np.random.default_rng(11)
    v, m, g = two_models(80, 80, N_SIM, rng, shared=shared)
    p = permutation_test(v, m, g, seed=3)
    assert NULL_RANGE[0] <= (p < 0.05).sum() <= NULL_RANGE[1]
    assert (p > 0).all() and (p <= 1).all()
    # the p-values of null clusters are about uniform: each decile holds some
    assert np.histogram(p, bins=10, range=(0, 1))[0].min() >= 5


def test_null_rate_with_three_models_and_skewed_zero_heavy_values():
    # per-image masses are mostly 0 (the image has no segment in the cluster) and skewed
    rng = np.random.default_rng(5)
    n = 60
    vals = rng.exponential(0.1, (3 * n, N_SIM)) * (rng.random((3 * n, N_SIM)) < 0.3)
    model = np.repeat([0, 1, 2], n)
    group = np.r_[np.arange(n), np.arange(n // 2), 1000 + np.arange(n // 2), 2000 + np.arange(n)]
    p = permutation_test(vals, model, group, seed=1)
    assert NULL_RANGE[0] <= (p < 0.05).sum() <= NULL_RANGE[1]


def test_a_planted_shift_is_found_after_benjamini_hochberg():
    rng = np.random.default_rng(2)
    v, m, g = two_models(100, 100, 8, rng)
    v[m == 1, 3] += 0.8  # cluster 3: model B's values are higher
    p = permutation_test(v, m, g, seed=0)
    q = benjamini_hochberg(p)
    assert q[3] < 0.05
    assert p[3] == pytest.approx(1 / 1001)  # no permutation beats it
    assert (np.delete(q, 3) > 0.05).sum() >= 6


def test_pairing_is_used_when_both_models_saw_the_same_images():
    # a large image effect shared by both models hides a small shift unless the test pairs
    rng = np.random.default_rng(4)
    n = 60
    image = rng.normal(0, 3, (n, 1))
    a = image + rng.normal(0, 0.2, (n, 1))
    b = image + rng.normal(0, 0.2, (n, 1)) + 0.25
    v, m = np.concatenate([a, b]), np.r_[np.zeros(n), np.ones(n)]
    paired = permutation_test(v, m, np.r_[np.arange(n), np.arange(n)], seed=0)[0]
    unpaired = permutation_test(v, m, np.arange(2 * n), seed=0)[0]
    assert paired < 0.01 < 0.5 < unpaired


def test_identical_values_give_p_one_and_seeds_repeat_exactly():
    v = np.zeros((40, 2))
    m = np.r_[np.zeros(20), np.ones(20)]
    assert permutation_test(v, m, np.arange(40)).tolist() == [1.0, 1.0]
    rng = np.random.default_rng(0)
    v, m, g = two_models(30, 40, 5, rng, shift=0.3, shared=10)
    assert permutation_test(v, m, g, seed=7).tobytes() == permutation_test(v, m, g, seed=7
                                                                          ).tobytes()
    assert not np.array_equal(permutation_test(v, m, g, seed=7), permutation_test(v, m, g, seed=8))
    lo1, hi1 = bootstrap_ratio(v[:30], seed=2)
    lo2, hi2 = bootstrap_ratio(v[:30], seed=2)
    assert lo1.tobytes() == lo2.tobytes() and hi1.tobytes() == hi2.tobytes()


def test_large_samples_use_the_normal_approximation_of_the_same_test():
    rng = np.random.default_rng(9)
    v, m, g = two_models(1500, 1500, 6, rng, shared=1000)
    v[m == 1, 0] += 0.1
    v[m == 1, 1] += 0.2
    exact = permutation_test(v, m, g, seed=0, n_permutations=2000)
    approx = permutation_test(v, m, g, exact_up_to=100)
    # agreement to the Monte Carlo error of the exact version (sd of p at most 0.011)
    assert np.abs(exact - approx).max() < 0.04
    assert approx[1] < 1e-6
    lo, hi = bootstrap_ratio(v[:1500], seed=0)
    lo_n, hi_n = bootstrap_ratio(v[:1500], exact_up_to=100)
    np.testing.assert_allclose(lo, lo_n, atol=0.01)
    np.testing.assert_allclose(hi, hi_n, atol=0.01)


def test_three_models_spread():
    rng = np.random.default_rng(6)
    n = 50
    v = rng.normal(0, 1, (3 * n, 2))
    model = np.repeat(["A", "B", "C"], n)
    v[model == "C", 1] += 1.0
    group = np.tile(np.arange(n), 3)  # every model saw every image
    p = permutation_test(v, model, group, seed=0)
    assert p[1] < 0.01 and p[0] > 0.01
    p_n = permutation_test(v, model, group, exact_up_to=10)  # chi-square on 2 df
    assert p_n[1] < 1e-4


def test_bootstrap_interval_covers_the_true_mean_at_about_95_percent():
    rng = np.random.default_rng(1)
    x = rng.exponential(1.0, (100, N_SIM))  # skewed, true mean 1
    lo, hi = bootstrap_ratio(x, seed=0)
    covered = ((lo <= 1.0) & (1.0 <= hi)).sum()
    # Binomial(200, 0.95): sd 3.1; the percentile bootstrap undercovers a little for skewed
    # data at n = 100 (about 93 %)
    assert 170 <= covered <= 199
    assert (lo < x.mean(0)).all() and (x.mean(0) < hi).all()


def test_bootstrap_of_a_ratio_and_undefined_columns():
    rng = np.random.default_rng(3)
    den = rng.integers(0, 4, (80, 3)).astype(float)
    num = den * 0.5 + rng.normal(0, 0.1, (80, 3)) * (den > 0)
    den[:, 2] = 0
    num[:, 2] = 0
    lo, hi = bootstrap_ratio(num, den, seed=0)
    assert (lo[:2] < 0.5).all() and (hi[:2] > 0.5).all() and (hi[:2] - lo[:2] < 0.1).all()
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    lo, hi = bootstrap_ratio(np.empty((0, 2)))
    assert np.isnan(lo).all()


def test_benjamini_hochberg_matches_a_hand_computed_example():
    p = [0.01, 0.04, 0.03, 0.005, float("nan"), 0.5]
    # sorted: 0.005 0.01 0.03 0.04 0.5 (m = 5) -> 0.025 0.025 0.05 0.05 0.5, then monotone
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q[[0, 1, 2, 3, 5]], [0.025, 0.05, 0.05, 0.025, 0.5])
    assert math.isnan(q[4])
    assert benjamini_hochberg([0.9, 0.95]).tolist() == [0.95, 0.95]
    with pytest.raises(ImacsInputError, match="p"):
        benjamini_hochberg([1.5])


def test_chi2_tail_known_values():
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-10)
    assert chi2_sf(5.991464547107979, 2) == pytest.approx(0.05, rel=1e-10)
    assert chi2_sf(7.814727903251178, 3) == pytest.approx(0.05, rel=1e-10)
    assert chi2_sf(14.067140449340169, 7) == pytest.approx(0.05, rel=1e-10)
    assert chi2_sf(0.0, 4) == 1.0


def test_errors_name_the_argument():
    with pytest.raises(ImacsInputError, match="model"):
        permutation_test(np.zeros(4), np.zeros(4), np.arange(4))
    with pytest.raises(ImacsInputError, match="values"):
        permutation_test([0.0, np.nan], [0, 1], [0, 1])
    with pytest.raises(ImacsInputError, match="model"):
        permutation_test(np.zeros(4), np.zeros(3), np.arange(4))
    with pytest.raises(ImacsInputError, match="den"):
        bootstrap_ratio(np.zeros((4, 2)), np.zeros((3, 2)))
