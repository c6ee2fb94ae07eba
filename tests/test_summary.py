"""imacs_widget.engine.summary: cluster statistics and orders (the one definition)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from imacs_widget.engine.summary import (
    filter_segments,
    histogram,
    max_mean_attribution,
    mean_attribution,
    order_clusters,
    order_within,
    summarize_clusters,
)
from imacs_widget.errors import ImacsInputError

EDGES = np.linspace(-0.5, 0.5, 11)


def table(rows):
    """rows: (cluster, model, attribution[, outcome])."""
    out = [{"cluster": r[0], "model": r[1], "attribution": r[2],
            "outcome": r[3] if len(r) > 3 else "TP"} for r in rows]
    return pd.DataFrame(out, columns=["cluster", "model", "attribution", "outcome"])


def ids(clusters, order):
    return [c["id"] for c in order_clusters(clusters, order)]


# ---- one-sided clusters ----------------------------------------------------------------------

def test_one_sided_cluster_has_no_imbalance_and_ranks_first():
    seg = table([
        (0, "A", 0.0), (0, "B", 0.4),          # two-sided, imbalance 0.4
        (1, "B", 0.05), (1, "B", 0.05),        # only B: the strongest difference there is
        (2, "A", 0.1), (2, "B", 0.1),          # two-sided, imbalance 0
    ])
    cl = summarize_clusters(seg, 4, EDGES)     # cluster 3 is empty
    one = cl[1]
    assert one["one_sided"] == "B"
    assert one["mean_attribution"] == {"A": None, "B": pytest.approx(0.05)}
    assert one["imbalance"] is None            # undefined, not |0 - 0.05|
    assert one["importance"] == pytest.approx(0.05)
    assert cl[0]["one_sided"] is None and cl[0]["imbalance"] == pytest.approx(0.4)
    assert ids(cl, "imbalance") == [1, 0, 2, 3]


def test_negative_one_sided_mean_is_not_hidden_behind_an_empty_mean():
    seg = table([(0, "A", -0.3), (0, "A", -0.3), (1, "A", 0.01), (1, "B", 0.02)])
    cl = summarize_clusters(seg, 3, EDGES)
    assert cl[0]["one_sided"] == "A"
    assert cl[0]["importance"] == pytest.approx(-0.3)   # not max(-0.3, 0) = 0
    assert cl[2]["importance"] is None and cl[2]["one_sided"] is None
    assert cl[2]["imbalance"] is None and cl[2]["mean_attribution"] == {"A": None, "B": None}
    # |mean| of the present model ranks one-sided clusters; empty clusters go last everywhere
    assert ids(cl, "imbalance") == [0, 1, 2]
    assert ids(cl, "importance") == [1, 0, 2]
    assert ids(cl, "size") == [0, 1, 2]


def test_one_sided_clusters_among_themselves():
    seg = table([
        (0, "A", 0.1), (1, "B", -0.2), (2, "A", 0.2), (3, "B", 0.1),  # one-sided
        (4, "A", 0.0), (4, "B", 0.9),                                 # two-sided
    ])
    cl = summarize_clusters(seg, 6, EDGES)
    # |mean| largest first (1 and 2 tie at 0.2, 0 and 3 tie at 0.1: by id), two-sided, empty
    assert ids(cl, "imbalance") == [1, 2, 0, 3, 4, 5]
    assert [c["one_sided"] for c in cl] == ["A", "B", "A", "B", None, None]


def test_empty_clusters_go_last_in_every_order():
    seg = table([(1, "A", -0.4), (1, "B", -0.1), (2, "B", -0.2)])
    cl = summarize_clusters(seg, 4, EDGES)
    for order in ("imbalance", "importance", "size"):
        assert ids(cl, order)[-2:] == [0, 3], order
    assert ids(cl, "importance") == [1, 2, 0, 3]  # -0.1 > -0.2, both above the empty ones


def test_ties_by_id():
    seg = table([(0, "A", 0.25), (0, "B", 0.5), (1, "A", 0.5), (1, "B", 0.75),
                 (2, "A", 0.75), (2, "B", 0.5)])
    cl = summarize_clusters(seg, 3, EDGES)
    assert {c["imbalance"] for c in cl} == {0.25}
    assert ids(cl, "imbalance") == [0, 1, 2]
    assert ids(cl, "size") == [0, 1, 2]
    assert ids(cl, "importance") == [1, 2, 0]    # 0.75 twice (by id), then 0.5


def test_order_names_are_checked():
    with pytest.raises(ImacsInputError, match="order"):
        order_clusters([], "largest")
    with pytest.raises(ImacsInputError, match="inner_order"):
        order_within(pd.DataFrame(), "random")


# ---- means and histograms --------------------------------------------------------------------

def test_mean_is_exact_and_independent_of_row_order():
    # a naive left-to-right sum gives 0.6000000000000001 one way and 0.6 the other
    assert mean_attribution([0.1, 0.2, 0.3]) == mean_attribution([0.3, 0.2, 0.1])
    seg = table([(0, "A", 0.1), (0, "A", 0.2), (0, "A", 0.3),
                 (1, "A", 0.3), (1, "A", 0.2), (1, "A", 0.1)])
    cl = summarize_clusters(seg, 2, EDGES)
    assert cl[0]["mean_attribution"]["A"] == cl[1]["mean_attribution"]["A"]
    assert mean_attribution([]) is None


def test_missing_attributions_count_but_have_no_mean():
    seg = table([(0, "A", np.nan), (0, "A", 0.2), (0, "B", np.nan), (0, "B", np.inf)])
    c = summarize_clusters(seg, 1, EDGES)[0]
    assert c["size"] == 4 and c["count"] == {"A": 2, "B": 2}
    assert c["mean_attribution"] == {"A": pytest.approx(0.2), "B": None}
    assert c["one_sided"] == "A" and c["imbalance"] is None
    assert sum(c["histogram"]["A"]) == 1 and sum(c["histogram"]["B"]) == 0


def test_histogram_bins_like_numpy_after_clipping():
    edges = [0.0, 1.0, 2.0, 3.0]
    assert histogram([0.0, 0.99, 1.0, 2.5, 3.0, -7.0, 50.0, np.nan], edges) == [3, 1, 3]
    a = np.random.default_rng(0).normal(0, 0.3, 500)
    np.testing.assert_array_equal(histogram(a, EDGES),
                                  np.histogram(np.clip(a, EDGES[0], EDGES[-1]), EDGES)[0])


def test_outcomes_and_reference_bar():
    seg = table([(0, "A", 0.1, "FP"), (0, "A", 0.3, "FP"), (0, "B", 0.5, "TN"), (1, "B", 0.7, "FN")])
    cl = summarize_clusters(seg, 2, EDGES)
    assert cl[0]["outcomes"]["A"] == {"TP": 0, "TN": 0, "FP": 2, "FN": 0}
    assert cl[1]["outcomes"]["B"]["FN"] == 1
    assert max_mean_attribution(cl) == pytest.approx(0.7)
    assert max_mean_attribution(summarize_clusters(seg.iloc[:0], 2, EDGES)) == 0.0


# ---- filters and within-cluster order ------------------------------------------------------------

def test_filter_segments_keeps_rows_in_order():
    seg = table([(0, "A", 0.1, "TP"), (0, "B", 0.2, "FP"), (1, "A", 0.3, "FN"), (1, "B", 0.4, "TP")])
    assert filter_segments(seg).index.tolist() == [0, 1, 2, 3]
    assert filter_segments(seg, ["TP", "FN"], ["A"]).index.tolist() == [0, 2]
    assert filter_segments(seg, [], ["A", "B"]).empty
    # hiding model B makes every cluster with A segments one-sided
    cl = summarize_clusters(filter_segments(seg, models=["A"]), 2, EDGES)
    assert [c["one_sided"] for c in cl] == ["A", "A"]


def test_order_within_ties_and_missing_values():
    seg = pd.DataFrame({
        "attribution": [0.2, np.nan, 0.5, 0.2, 0.2],
        "centroid_distance": [0.3, 0.1, np.nan, 0.3, 0.3],
        "image_index": [7, 1, 2, 3, 7],
        "segment_index": [4, 0, 0, 9, 1],
    })
    assert order_within(seg, "attribution").index.tolist() == [2, 3, 4, 0, 1]
    assert order_within(seg, "centroid").index.tolist() == [1, 3, 4, 0, 2]


# ---- more than two models --------------------------------------------------------------------

def test_three_models_spread_one_sided_and_consensus():
    seg = table([
        (0, "A", 0.1), (0, "B", 0.4), (0, "C", 0.2),    # spread 0.3; A is 1/4 of 0.4 exactly
        (1, "C", 0.3),                                  # only C: first by imbalance
        (2, "A", 0.2), (2, "B", 0.2),                   # C absent: spread of the two means
        (3, "A", -0.1), (3, "B", -0.2), (3, "C", -0.3),  # nobody positive
    ])
    cl = summarize_clusters(seg, 5, EDGES, models=("A", "B", "C"))
    assert cl[0]["imbalance"] == pytest.approx(0.3) and cl[0]["one_sided"] is None
    assert cl[1]["one_sided"] == "C" and cl[1]["imbalance"] is None
    assert cl[2]["imbalance"] == 0 and cl[2]["count"]["C"] == 0
    assert ids(cl, "imbalance") == [1, 0, 3, 2, 4]
    # positive: mean > 0.25 x the reference bar (0.4), strictly
    assert cl[0]["consensus"] == {"models": ["B", "C"], "n": 2, "of": 3,
                                  "strength": pytest.approx(0.3)}
    assert cl[1]["consensus"]["models"] == ["C"] and cl[1]["consensus"]["of"] == 3
    assert cl[3]["consensus"] == {"models": [], "n": 0, "of": 3, "strength": None}
    assert cl[4]["size"] == 0 and cl[4]["consensus"]["n"] == 0
    # rows of a model not in the comparison are ignored; no positive mean: nobody positive
    assert summarize_clusters(seg, 5, EDGES, models=("A", "B"))[1]["size"] == 0
    neg = summarize_clusters(table([(0, "A", -0.1), (0, "B", 0.0)]), 1, EDGES)
    assert neg[0]["consensus"]["n"] == 0


def test_model_keys():
    from imacs_widget.engine.summary import model_keys

    assert model_keys(2) == ("A", "B") and model_keys(8)[-1] == "H"
    for bad in (1, 9):
        with pytest.raises(ImacsInputError, match="models"):
            model_keys(bad)


# ---- how sure the numbers are (cluster_statistics) --------------------------------------------

def images_table(seed=0, n_images=60, k=5, shared=True, shift=None, one_sided=None):
    """Each model samples ``n_images`` images (the same ones when ``shared``) with 5 segments
    each, clusters drawn at random; ``shift={cluster: (model, +attribution)}``;
    ``one_sided=(cluster, model)``: only that model's segments fall there, with high
    attribution, in a third of its images."""
    rng = np.random.default_rng(seed)
    rows = []
    for j, m in enumerate(("A", "B")):
        for i in range(n_images):
            image = i if shared else i + 1000 * j
            for s in range(5):
                c = int(rng.integers(0, k - (one_sided is not None)))
                a = float(rng.normal(0.02, 0.05))
                if shift and c in shift and shift[c][0] == m:
                    a += shift[c][1]
                if one_sided and m == one_sided[1] and s == 0 and i % 3 == 0:
                    c, a = one_sided[0], 0.3 + float(rng.normal(0, 0.02))
                rows.append({"cluster": c, "model": m, "attribution": a, "image_index": image,
                             "outcome": "FP" if i % 2 else "TP",
                             "cluster_removal": float(rng.normal(0.1, 0.05))})
    seg = pd.DataFrame(rows)
    # cluster_removal is one value per (model, image, cluster)
    seg["cluster_removal"] = seg.groupby(["model", "image_index", "cluster"])[
        "cluster_removal"].transform("first")
    return seg


def test_statistics_fields_intervals_bracket_the_estimates():
    from imacs_widget.engine.summary import STAT_FIELDS

    seg = images_table(shift={2: ("B", 0.15)})
    cl = summarize_clusters(seg, 6, EDGES)
    for c in cl[:5]:
        assert set(STAT_FIELDS) <= set(c)
        for m in ("A", "B"):
            assert c["n_images"][m] == 60
            lo, hi = c["ci"][m]
            assert lo <= c["mean_attribution"][m] <= hi
            lo, hi = c["removal_ci"][m]
            assert lo <= c["removal"][m] <= hi
            lo, hi = c["share_ci"][m]
            assert lo <= c["share"][m] <= hi
            assert c["share"][m] == pytest.approx(c["count"][m] / 300)
            lo, hi = c["mass_ci"][m]
            assert lo <= c["mass"][m] <= hi
            rows = seg[(seg["model"] == m) & (seg["cluster"] == c["id"])]
            assert c["mass"][m] == pytest.approx(rows["attribution"].sum() / 60)
    # the planted cluster is found, the others are not
    assert [c["significant"] for c in cl[:5]] == [False, False, True, False, False]
    assert cl[2]["q_value"] < 0.05 and cl[2]["effect"] == pytest.approx(
        cl[2]["mass"]["B"] - cl[2]["mass"]["A"])
    # the empty cluster: no test, no interval of a mean that does not exist
    assert cl[5]["size"] == 0 and cl[5]["p_value"] is None and cl[5]["q_value"] is None
    assert cl[5]["significant"] is False and cl[5]["ci"] == {"A": None, "B": None}
    assert cl[5]["mass"] == {"A": 0.0, "B": 0.0}
    json.dumps(cl, allow_nan=False)  # JSON-ready


def test_a_one_sided_cluster_is_a_significant_difference():
    seg = images_table(one_sided=(4, "B"), shared=False)
    cl = summarize_clusters(seg, 5, EDGES)
    assert cl[4]["one_sided"] == "B" and cl[4]["ci"]["A"] is None
    assert cl[4]["mass"]["A"] == 0.0 and cl[4]["mass_ci"]["A"] == [0.0, 0.0]
    assert cl[4]["significant"] and cl[4]["q_value"] < 0.01
    assert sum(c["significant"] for c in cl) == 1


def test_statistics_repeat_with_the_seed_and_alpha_sets_the_level():
    seg = images_table(seed=3, shift={1: ("A", 0.05)})
    one = summarize_clusters(seg, 5, EDGES, seed=4)
    assert one == summarize_clusters(seg, 5, EDGES, seed=4)
    other = summarize_clusters(seg, 5, EDGES, seed=5)
    assert [c["p_value"] for c in one] != [c["p_value"] for c in other]
    loose = summarize_clusters(seg, 5, EDGES, seed=4, alpha=0.99)
    assert sum(c["significant"] for c in loose) > sum(c["significant"] for c in one)
    for bad in (0, 1, 1.5):
        with pytest.raises(ImacsInputError, match="alpha"):
            summarize_clusters(seg, 5, EDGES, alpha=bad)


def test_statistics_leave_the_other_fields_unchanged():
    from imacs_widget.engine.summary import STAT_FIELDS

    seg = images_table(seed=1)
    with_stats = summarize_clusters(seg, 5, EDGES)
    without = summarize_clusters(seg, 5, EDGES, statistics=False)
    for a, b in zip(with_stats, without, strict=True):
        assert {f: b[f] for f in STAT_FIELDS} == {**dict.fromkeys(STAT_FIELDS),
                                                   "significant": False}
        assert {k: v for k, v in a.items() if k not in STAT_FIELDS} == \
            {k: v for k, v in b.items() if k not in STAT_FIELDS}
    assert ids(with_stats, "imbalance") == ids(without, "imbalance")
    no_images = summarize_clusters(seg.drop(columns=["image_index", "cluster_removal"]), 5,
                                   EDGES)
    assert all(c["p_value"] is None and c["ci"] is None for c in no_images)


def test_statistics_with_three_models_and_a_filter_to_one_model():
    seg = images_table(seed=2, shift={0: ("B", 0.2)})
    c_rows = seg[seg["model"] == "A"].assign(model="C")
    seg3 = pd.concat([seg, c_rows], ignore_index=True)
    cl = summarize_clusters(seg3, 5, EDGES, models=("A", "B", "C"))
    assert cl[0]["significant"] and cl[0]["n_images"] == {"A": 60, "B": 60, "C": 60}
    assert cl[0]["effect"] == pytest.approx(cl[0]["mass"]["B"] - cl[0]["mass"]["A"])
    only_a = summarize_clusters(filter_segments(seg3, models=["A"]), 5, EDGES,
                                models=("A", "B", "C"))
    assert all(c["p_value"] is None and not c["significant"] for c in only_a)
    assert only_a[0]["ci"]["B"] is None and only_a[0]["n_images"]["B"] == 0


def test_null_clusters_are_flagged_at_the_nominal_rate_through_the_segments_table():
    # 200 clusters (5 tables of 40) whose attributions come from one distribution for both
    # models, half the tables with shared images (paired), half without: p < 0.05 in about
    # 5 % (Binomial(200, 0.05): [2, 20] holds 99.8 %)
    p = []
    for seed in range(5):
        seg = images_table(seed=100 + seed, n_images=80, k=40, shared=seed % 2 == 0)
        p += [c["p_value"] for c in summarize_clusters(seg, 40, EDGES, seed=seed)]
    p = np.array(p)
    assert len(p) == 200 and 2 <= (p < 0.05).sum() <= 20
