"""Write js/tests/fixtures/summary_cases.json: cluster statistics computed by Python for the JS port.

    python scripts/make_js_fixture.py          # (re)write the fixture
    python scripts/make_js_fixture.py --check  # exit 1 if the committed fixture is stale

The fixture holds the payload (``imacs_widget.widget.payload.build_payload``) of a small real
:class:`~imacs_widget.result.ComparisonResult` and, for several outcome / model filter
settings, what :mod:`imacs_widget.engine.summary` (the one definition) computes from it: per
cluster the counts, means, histograms, outcome counts, imbalance, importance, one-sided
flag, consensus and removal effect, the reference bar, the order of clusters for every order key and the order of segments
inside every cluster (per model) for every inner order. ``js/tests/summary.test.js`` checks
that ``js/src/data.js`` reproduces every number and order; ``tests/test_cross_language.py``
checks that the committed fixture is what this script writes now, so Python and JavaScript
cannot drift apart silently.

The segments are made by hand to hold the cases that pin the definitions: ties (equal
attributions and distances inside a cluster, equal means and equal imbalances across
clusters, equal |mean| of one-sided clusters, equal sizes), means that are equal only with an
exact sum (ten times 0.1), a missing (NaN) attribution and centroid distance, clusters that
are one-sided, empty (always, or under a filter) and plain two-sided ones with random values.
The sprite sheets are left out of the payload (``"sheets": []``): image bytes depend on the
Pillow / libwebp version and are not what this fixture is about.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "js" / "tests" / "fixtures" / "summary_cases.json"

# (cluster, model, outcome, attribution, centroid distance); image / segment ids added below
_ROWS = [
    # 0: two-sided, means 0.375 and 0.375 (imbalance exactly 0); B holds a missing attribution,
    #    A a missing distance
    (0, "A", "FN", 0.75, 0.4), (0, "A", "TP", 0.0, float("nan")), (0, "B", "FP", 0.375, 0.6),
    (0, "B", "TP", float("nan"), 0.6),
    # 1: two-sided; A's three equal attributions and distances are ordered by image, segment;
    #    with outcomes TP+TN it is one-sided (A)
    (1, "A", "TP", 0.25, 0.5), (1, "A", "TP", 0.25, 0.5), (1, "A", "TN", 0.25, 0.5),
    (1, "B", "FP", -0.25, 0.1), (1, "B", "FN", 0.5, 0.9),
    # 2: one-sided B, mean 0.25; 3: one-sided A, mean -0.25: equal |mean|, ordered by id
    (2, "B", "TN", 0.125, 0.2), (2, "B", "TP", 0.375, 0.3),
    (3, "A", "FP", -0.25, 0.3), (3, "A", "TP", -0.25, 0.2),
    # 4: two-sided, TN only: empty under FP+FN
    (4, "A", "TN", 0.5, 0.1), (4, "B", "TN", 0.0, 0.2), (4, "B", "TN", 0.25, 0.3),
    # 5: empty (k-means may leave a cluster empty)
    # 6: two-sided, imbalance 0 like cluster 0 only with an exact sum: ten times 0.1 sums to
    #    0.9999999999999999 left to right, fsum gives 1.0, so A's mean is B's 0.1
    *[(6, "A", ("TP", "TN", "FP", "FN")[k % 4], 0.1, 0.1 * (k % 3)) for k in range(10)],
    (6, "B", "TN", 0.1, 0.25),
]
_IMAGE_SEGMENT = {4: (5, 3), 5: (2, 7), 6: (2, 1)}  # row -> (image, segment) for cluster 1's ties
# a third model's rows (the three-model fixture): cluster 1 gains a strong C, cluster 2 (B only
# in the pair) becomes two-sided, cluster 5 stays empty, cluster 3 keeps A alone (one-sided)
_ROWS_C = [
    (1, "C", "TP", 0.5, 0.2), (1, "C", "FN", 0.625, 0.3),
    (2, "C", "FN", 0.0, 0.4), (2, "C", "TN", -0.125, 0.5),
    (4, "C", "TN", 0.25, 0.1),
    (6, "C", "FP", float("nan"), 0.2),
    (0, "C", "TP", 0.375, float("nan")),
]

CASES = [  # (name, outcomes shown, models shown)
    ("all", ["TP", "TN", "FP", "FN"], ["A", "B"]),
    ("only A", ["TP", "TN", "FP", "FN"], ["A"]),
    ("only B", ["TP", "TN", "FP", "FN"], ["B"]),
    ("FP+FN", ["FP", "FN"], ["A", "B"]),
    ("TP+TN: cluster 1 one-sided", ["TP", "TN"], ["A", "B"]),
    ("TN: cluster 3 empty", ["TN"], ["A", "B"]),
    ("FN, only B", ["FN"], ["B"]),
    ("nothing shown", [], ["A", "B"]),
]
CASES_3 = [  # the three-model fixture
    ("all", ["TP", "TN", "FP", "FN"], ["A", "B", "C"]),
    ("only C", ["TP", "TN", "FP", "FN"], ["C"]),
    ("A+C", ["TP", "TN", "FP", "FN"], ["A", "C"]),
    ("TP+FN", ["TP", "FN"], ["A", "B", "C"]),
    ("nothing shown", [], ["A", "B", "C"]),
]


def fixture_result(models=("A", "B")):
    """The small real ComparisonResult of the fixture (8 clusters, one of them empty); with
    ``models=("A", "B", "C")`` a third model's rows are added."""
    from imacs_widget.engine.summary import shared_bin_edges
    from imacs_widget.result import ClassComparison, ComparisonResult

    rng = np.random.default_rng(7)
    rows = list(_ROWS)
    for _ in range(10):  # 7: two-sided with random values
        rows.append((7, str(rng.choice(["A", "B"])), str(rng.choice(["TP", "TN", "FP", "FN"])),
                     float(rng.normal(0.05, 0.2)), float(rng.uniform(0, 1))))
    if len(models) == 3:
        rows += _ROWS_C
    records = []
    for r, (cluster, model, outcome, attribution, distance) in enumerate(rows):
        image, segment = _IMAGE_SEGMENT.get(r, (10 + (r * 7) % 13, r % 16))
        x0, y0 = 16 * (segment % 4), 16 * (segment // 4)
        records.append({
            "model": model, "image_index": image, "segment_index": segment, "rank": r % 5,
            "bbox": (x0, y0, x0 + 16, y0 + 16), "outcome": outcome, "attribution": attribution,
            "cluster": cluster, "centroid_distance": distance, "label": image % 3,
            "pred_a": (image + 1) % 3, "pred_b": image % 3, "score_a": 0.25, "score_b": 0.75,
            **({"pred_c": (image + 2) % 3, "score_c": 0.5} if len(models) == 3 else {}),
            # one value per (model, image, cluster), as the engine makes it; cluster 1 holds
            # two rows of one image of A (counted once), cluster 0's B has no value (NaN)
            "cluster_removal": (float("nan") if (cluster, model) == (0, "B")
                                else ((image * 3 + cluster + ord(model)) % 7) / 8 - 0.25),
            # the image's deletion / insertion areas (one value per model and image)
            "deletion_auc": ((image + ord(model)) % 5) / 10, "insertion_auc": 0.5,
            "random_auc": 0.35, "faithfulness": (0.5 - ((image + ord(model)) % 5) / 10) / 2,
        })
    order = rng.permutation(len(records))  # rows not grouped by cluster
    seg = pd.DataFrame([records[i] for i in order]).reset_index(drop=True)
    n = len(seg)
    cc = ClassComparison(
        target="circle", segments=seg, embeddings=rng.normal(size=(n, 4)).astype(np.float32),
        shapley_all=np.zeros((n, 3)), thumbnails=np.full((n, 8, 8, 3), 128, np.uint8),
        segment_masks=np.ones((n, 8, 8), bool), sampling={}, warnings=[],
        bin_edges=shared_bin_edges(seg["attribution"].to_numpy(), 8), n_clusters=8,
        models=tuple(models))
    cc.summarize()
    sources = {int(i): np.full((16, 16, 3), 100, np.uint8) for i in seg["image_index"].unique()}
    return ComparisonResult(per_class={"circle": cc}, class_names=["circle", "square", "cross"],
                            model_names=dict(zip(models, ("clean", "watermarked", "third"),
                                                 strict=False)),
                            accuracy=dict(zip(models, (0.9, 0.8, 0.7), strict=False)),
                            source_images=sources,
                            image_shape=(64, 64), seed=0,
                            params={"n_clusters": 8, "sanity": {"circle": {  # one flagged
                                "A": {"spearman": 0.04, "layers": 5, "passed": True},
                                "B": {"spearman": 0.91, "layers": 0, "passed": False}}}})


def _case(result, name, outcomes, models) -> dict:
    from imacs_widget.engine.summary import (
        CLUSTER_ORDERS,
        INNER_ORDERS,
        filter_segments,
        max_mean_attribution,
        order_clusters,
        order_within,
        summarize_clusters,
    )

    shown = filter_segments(result.segments, outcomes, models)
    clusters = summarize_clusters(shown, result.n_clusters, result.bin_edges, result.models)
    within = {}
    for inner in INNER_ORDERS:
        within[inner] = {}
        for c in range(result.n_clusters):
            rows = shown[shown["cluster"] == c]
            within[inner][str(c)] = {m: order_within(rows[rows["model"] == m], inner).index.tolist()
                                     for m in result.models}
    return {
        "name": name, "outcomes": list(outcomes), "models": list(models),
        "clusters": clusters,
        "max_mean_attribution": max_mean_attribution(clusters),
        "order": {o: [c["id"] for c in order_clusters(clusters, o)] for o in CLUSTER_ORDERS},
        "within": within,
    }


def _payload(result) -> dict:
    from imacs_widget.widget.payload import build_payload

    payload, _ = build_payload(result, encoding="base64", image_format="png", thumb_size=4,
                               source_size=4)
    for atlas in ("thumbs", "sources"):
        payload[atlas]["sheets"] = []
    return payload


def build_fixture() -> dict:
    from imacs_widget.engine.findings import FINDING_COLUMNS

    result, three = fixture_result(), fixture_result(("A", "B", "C"))
    return {
        "about": "Generated by scripts/make_js_fixture.py from imacs_widget.engine.summary; "
                 "do not edit (tests/test_cross_language.py checks it is current).",
        "payload": _payload(result),
        "finding_columns": list(FINDING_COLUMNS),  # keys of a payload's findings records
        "cases": [_case(result, *c) for c in CASES],
        "three_models": {"payload": _payload(three),
                         "cases": [_case(three, *c) for c in CASES_3]},
    }


def render(fixture: dict) -> str:
    return json.dumps(fixture, indent=1, sort_keys=True, allow_nan=False) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the fixture is current")
    args = ap.parse_args(argv)
    text = render(build_fixture())
    if args.check:
        current = FIXTURE.read_text(encoding="utf-8") if FIXTURE.exists() else ""
        if current != text:
            print(f"{FIXTURE} is stale: run python scripts/make_js_fixture.py", file=sys.stderr)
            return 1
        return 0
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(text, encoding="utf-8")
    print(f"wrote {FIXTURE.relative_to(ROOT)} ({len(text) / 1e3:.1f} kB)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
