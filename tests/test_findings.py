"""Findings first: imacs_widget.engine.findings, result.findings(), summary_text and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_result import make_result

from imacs_widget.engine.findings import (
    FINDING_COLUMNS,
    findings,
    findings_frame,
    findings_lines,
)


def cluster(cid, mass, *, q=0.001, p=0.0005, significant=True, count=None, mean=None,
            ci=None, removal=None, outcomes=None, one_sided=None):
    """A cluster summary with the fields findings read."""
    models = list(mass)
    count = count or dict.fromkeys(models, 10)
    return {
        "id": cid, "size": sum(count.values()), "count": count,
        "mean_attribution": mean or dict(mass), "ci": ci or {m: None for m in models},
        "mass": mass, "mass_ci": {m: None for m in models},
        "removal": removal or {m: None for m in models},
        "outcomes": outcomes or {m: {"TP": count[m], "TN": 0, "FP": 0, "FN": 0}
                                 for m in models},
        "one_sided": one_sided, "effect": max(mass.values()) - min(mass.values()),
        "p_value": p, "q_value": q, "significant": significant,
    }


def test_the_sentence_of_a_pair_reads_as_the_issue_asks():
    c = cluster(7, {"A": 0.012, "B": 0.09}, q=0.0004, count={"A": 13, "B": 38},
                mean={"A": 0.06, "B": 0.24}, ci={"A": [0.03, 0.09], "B": [0.19, 0.29]},
                removal={"A": 0.08, "B": 0.33},
                outcomes={"A": {"TP": 5, "TN": 5, "FP": 3, "FN": 0},
                          "B": {"TP": 10, "TN": 2, "FP": 26, "FN": 0}})
    (r,) = findings([c], ("A", "B"), "triangle", names={"A": "clean", "B": "B"})
    assert r["sentence"] == (
        "B relies on cluster 7 (51 segments, 38 of them B's, mostly its false positives): "
        "mean attribution +0.24 [0.19, 0.29] vs A +0.06 [0.03, 0.09] "
        "(per image +0.090 vs +0.012), q < 0.001; blurring it lowers B's 'triangle' score by "
        "0.33, A's by 0.08.")
    assert (r["rank"], r["cluster"], r["model"], r["versus"], r["outcome"]) == \
        (1, 7, "B", ["A"], "FP")
    # a display name that differs from the key is given once; a score that rises is said so
    c["removal"] = {"A": -0.05, "B": 0.33}
    c["mass"] = {"A": 0.3, "B": 0.09}
    (r,) = findings([c], ("A", "B"), "triangle", names={"A": "clean", "B": "B"})
    assert r["sentence"].startswith("A (clean) relies on cluster 7 (51 segments, 13 of them "
                                    "A's): mean attribution +0.06 [0.03, 0.09] vs B +0.24")
    assert r["sentence"].endswith("blurring it raises A's 'triangle' score by 0.05, "
                                  "lowers B's by 0.33.")
    (r,) = findings([c], ("A", "B"), names={"A": "A (clean)"})
    assert r["sentence"].startswith("A (clean) relies on cluster 7")


def test_one_sided_three_models_and_negative_attribution():
    one = cluster(2, {"A": 0.0, "B": 0.05}, count={"A": 0, "B": 12}, q=0.02,
                  mean={"A": None, "B": 0.2}, ci={"A": None, "B": [0.15, 0.25]},
                  one_sided="B")
    (r,) = findings([one], ("A", "B"))
    assert "12 segments, 12 of them B's" in r["sentence"]
    assert "vs A none (no segment of A's there)" in r["sentence"]
    assert "q = 0.020." in r["sentence"] and "blurring" not in r["sentence"]
    three = cluster(4, {"A": 0.01, "B": 0.02, "C": 0.11})
    (r,) = findings([three], ("A", "B", "C"))
    assert r["sentence"].startswith("C relies on cluster 4 most (30 segments, 10 of them C's")
    assert "mean attribution C +0.11, A +0.01, B +0.02 (per image C +0.11," in r["sentence"]
    assert r["versus"] == ["A", "B"]
    neg = cluster(1, {"A": -0.2, "B": -0.01})
    (r,) = findings([neg], ("A", "B"))
    assert r["sentence"].startswith("A's attribution in cluster 1 counts against the class "
                                    "(20 segments, 10 of them A's")
    assert r["model"] == "A" and "mean attribution -0.20 vs B -0.01" in r["sentence"]


def test_ranked_by_effect_then_q_and_only_significant_ones():
    cl = [cluster(0, {"A": 0.0, "B": 0.1}, q=0.01),
          cluster(1, {"A": 0.0, "B": 0.3}, q=0.04),
          cluster(2, {"A": 0.0, "B": 0.1}, q=0.001),
          cluster(3, {"A": 0.0, "B": 0.9}, q=0.2, significant=False)]
    recs = findings(cl, ("A", "B"))
    assert [r["cluster"] for r in recs] == [1, 2, 0]
    assert [r["rank"] for r in recs] == [1, 2, 3]
    frame = findings_frame(cl, ("A", "B"))
    assert list(frame.columns) == list(FINDING_COLUMNS) and frame["cluster"].tolist() == [1, 2, 0]
    empty = findings_frame(cl[3:], ("A", "B"))
    assert empty.empty and list(empty.columns) == list(FINDING_COLUMNS)
    lines = findings_lines(cl, ("A", "B"), top=2)
    assert lines[0] == ("findings: 3 significant differences in 4 clusters tested, largest "
                        "first (1 more in result.findings()):")
    assert lines[1].startswith("  1. B relies on cluster 1") and len(lines) == 3
    assert findings_lines(cl[3:], ("A", "B"))[0].startswith(
        "findings: no significant difference between the models (none of the 1 clusters")
    untested = cluster(0, {"A": 0.0, "B": 0.1}, q=None, p=None, significant=False)
    assert findings_lines([untested], ("A", "B"))[0].startswith("findings: no test")


@pytest.fixture(scope="module")
def result():
    return make_result(1000, 8, extra_classes=(0,))


def test_result_findings_are_the_significant_clusters_ranked(result):
    f = result.findings()
    assert isinstance(f, pd.DataFrame) and list(f.columns) == list(FINDING_COLUMNS)
    by_id = {c["id"]: c for c in result.clusters}
    sig = sorted(i for i, c in by_id.items() if c["significant"])
    assert sig and sorted(f["cluster"]) == sig
    assert f["effect"].tolist() == sorted(f["effect"], reverse=True)
    for _, row in f.iterrows():
        c = by_id[row["cluster"]]
        assert row["q_value"] == c["q_value"] < 0.05
        name = result.model_names[row["model"]]
        if max(c["mass"].values()) > 0:
            assert row["model"] == max(c["mass"], key=c["mass"].get)
            assert row["sentence"].startswith(f"{row['model']} ({name}) relies on cluster "
                                              f"{row['cluster']} (")
        else:
            assert row["model"] == min(c["mass"], key=c["mass"].get)
            assert row["sentence"].startswith(f"{row['model']} ({name})'s attribution in "
                                              f"cluster {row['cluster']} counts against")
        assert f"{row['count']} of them {row['model']}'s" in row["sentence"]
    text = result.summary_text()
    assert f"findings: {len(f)} significant difference" in text
    assert text.index("findings:") < text.index("segments in 8 clusters")
    assert "; difference q = " in text and "(significant)" in text


def test_no_significant_difference_is_said_plainly(result, capsys):
    from imacs_widget.cli.commands import _print_findings

    # class 'tulip': both models' attributions drawn from one distribution, 20 times afresh.
    # Benjamini-Hochberg keeps the chance of any finding under this null at most 5 %:
    # Binomial(20, 0.05) exceeds 4 with probability 0.3 %.
    cc = result.per_class["tulip"]
    rng = np.random.default_rng(0)
    with_findings, plain = 0, None
    result.select_class("tulip")
    try:
        for _ in range(20):
            cc.segments["attribution"] = rng.normal(0, 0.05, len(cc.segments))
            cc.summarize()
            if result.findings().empty:
                plain = plain or result.summary_text()
            else:
                with_findings += 1
        assert with_findings <= 4
        assert "findings: no significant difference between the models" in plain
        _print_findings(result)
        out = capsys.readouterr().out
        assert "class 'sunflower':\n  findings: " in out and "1. " in out
        assert "class 'tulip':\n  findings: " in out
        assert result.target_class == "tulip"  # the active class is kept
    finally:
        result.select_class("sunflower")
