"""Re-clustering a large result in the kernel (issue 9): PCA once, mini-batch k-means.

    python bench/recluster.py [--segments 100000] [--dim 1280] [--counts 8,12,40]

Builds a real :class:`~imacs_widget.result.ComparisonResult` of ``--segments`` segments with
``--dim``-d embeddings drawn around 40 hidden centres (the default embedder's width), then
times: the one-off reduction (PCA to 32 dimensions, done at ``compare`` time and saved), and
``result.recluster(k)`` for each count (k-means + cluster summaries), three runs each (median).
Target: ≤ 500 ms per re-cluster at 100,000 segments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import ROOT, load_avg  # noqa: E402, F401  (puts the repository on sys.path)


def build(n: int, dim: int, seed: int = 0):
    import pandas as pd

    from imacs_widget.result import ClassComparison, ComparisonResult

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim)).astype(np.float32)
    hidden = rng.integers(0, 40, n)
    emb = centres[hidden] + rng.normal(0, 1.0, (n, dim)).astype(np.float32)
    seg = pd.DataFrame({
        "model": np.where(rng.random(n) < 0.5, "A", "B"), "image_index": np.arange(n) // 5,
        "segment_index": np.arange(n) % 16, "rank": np.arange(n) % 5,
        "bbox": [(0, 0, 16, 16)] * n, "outcome": rng.choice(["TP", "TN", "FP", "FN"], n),
        "attribution": rng.normal(0.02, 0.05, n) + 0.1 * (hidden % 3 == 0),
        "label": np.zeros(n, int), "pred_a": np.zeros(n, int), "pred_b": np.zeros(n, int),
        "score_a": np.zeros(n), "score_b": np.zeros(n)})
    cc = ClassComparison(target="t", segments=seg, embeddings=emb,
                         shapley_all=np.zeros((n, 1)), thumbnails=np.zeros((n, 1, 1, 3), np.uint8),
                         segment_masks=np.ones((n, 1, 1), bool))
    t0 = time.perf_counter()
    cc.cluster(8, seed)
    first = time.perf_counter() - t0
    res = ComparisonResult(per_class={"t": cc}, class_names=["t"], model_names={"A": "a", "B": "b"},
                           accuracy={"A": 1.0, "B": 1.0}, source_images={}, image_shape=(64, 64),
                           params={"n_clusters": 8}, seed=seed)
    return res, first


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--counts", default="8,12,40")
    args = ap.parse_args(argv)
    la0 = load_avg()
    res, first = build(args.segments, args.dim)
    rows = []
    for k in (int(v) for v in args.counts.split(",")):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            res.recluster(k)
            times.append(time.perf_counter() - t)
        rows.append({"n_clusters": k, "median_s": float(np.median(times)),
                     "runs_s": [round(v, 3) for v in times]})
        print(f"recluster({k}) at {args.segments:,} segments: median {np.median(times) * 1000:.0f} "
              f"ms (runs {[round(v * 1000) for v in times]} ms)")
    print(f"first clustering (PCA to 32-d once + k-means + summaries): {first:.2f} s; "
          f"load average {la0:.1f} -> {load_avg():.1f}")
    print(json.dumps({"segments": args.segments, "dim": args.dim, "first_cluster_s": first,
                      "recluster": rows}))


if __name__ == "__main__":
    main()
