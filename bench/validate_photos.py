"""The photos scenario's validation over seeds (issue 8): real pretrained networks, a planted
shortcut, an untrained copy.

    python bench/validate_photos.py [--seeds 0,1,2] [--n-per-model 100]

For each seed: :func:`imacs_widget.demo.photos.make_photo_scenario` (two EfficientNet-Lite0 at
224 px from the offline ImageNet weights, heads trained on crops of real photos; B's with the
watermark backdoor), then ``run_demo`` twice — A vs B, and A vs an untrained copy — with the
defaults (balanced sampling, 4x4 grid, k=5, LOO ranking, EfficientNet-Lite0 embedding, 8
clusters). Prints one table row per seed in the README's validation format and a JSON line.
Takes about 5 minutes per seed on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import ROOT  # noqa: E402, F401  (puts the repository on sys.path)


def one_seed(seed: int, n_per_model: int) -> dict:
    from imacs_widget.demo.photos import make_photo_scenario
    from imacs_widget.demo.run import run_demo

    t0 = time.perf_counter()
    sc = make_photo_scenario(seed=seed, untrained=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = run_demo(None, seed=seed, scenario=sc, n_per_model=n_per_model, progress=False,
                     verbose=False, report=False)
        u = run_demo(None, seed=seed, scenario=sc, untrained=True, n_per_model=n_per_model,
                     progress=False, verbose=False, report=False)
    top = s["top_cluster"]
    return {"seed": seed, "top_size": top["size"], "watermark_share": top["watermark_fraction"],
            "mean_a": top["mean_attribution"]["A"], "mean_b": top["mean_attribution"]["B"],
            "untrained_max_abs_mean": u["max_abs_mean_attribution"]["B"],
            "trained_a_max_abs_mean": s["max_abs_mean_attribution"]["A"],
            "accuracy": sc.accuracy, "shortcut_rate": sc.shortcut_rate,
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n-per-model", type=int, default=100)
    args = ap.parse_args(argv)
    rows = []
    for seed in (int(v) for v in args.seeds.split(",")):
        print(f"seed {seed} ...", file=sys.stderr, flush=True)
        rows.append(one_seed(seed, args.n_per_model))
        r = rows[-1]
        print(f"  done in {r['seconds']} s", file=sys.stderr, flush=True)
    f = lambda v: "n/a" if v is None else f"{v:+.3f}"  # noqa: E731
    print("| seed | top cluster by imbalance: segments | watermark share | mean attribution A | "
          "mean attribution B | untrained B: max \\|mean\\| over clusters | trained A: max \\|mean\\| "
          "| B shortcut rate |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['top_size']} | {r['watermark_share']:.2f} | {f(r['mean_a'])} | "
              f"**{f(r['mean_b'])}** | {r['untrained_max_abs_mean']:.4f} | "
              f"{r['trained_a_max_abs_mean']:.3f} | {r['shortcut_rate']['B']:.2f} |")
    print(json.dumps({"photos_validation": rows}, default=lambda o: float(np.asarray(o))))


if __name__ == "__main__":
    main()
