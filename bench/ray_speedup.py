"""compare() on a local Ray cluster with 1 and with 2 workers, against the local executor.

    python bench/ray_speedup.py [--images 400] [--workers 1,2]

Two small real Keras CNNs (64x64 input, random weights), ``N`` generated images,
``sampling="all"`` (every image explained by both models), a cheap embedder that takes
224x224 crops (see ``bench/memory.py``). Ray is started here with ``num_cpus`` = the machine's
cores; each worker reserves one CPU and its TensorFlow uses one thread. Prints wall time per
run, the speed-up of each worker count over one worker, and checks the results equal the local
run (max |difference| of the Shapley values).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import ROOT  # noqa: E402, F401  (puts the repository on sys.path)
from memory import _cheap_embedder, _smooth_images, _tiny_cnn  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import ray

    from imacs_widget import compare
    from imacs_widget.engine.ray_executor import RayExecutor

    rng = np.random.default_rng(0)
    x = _smooth_images(rng, args.images)
    y = rng.integers(0, 4, args.images)
    ma, mb = _tiny_cnn(1), _tiny_cnn(2)
    kw = dict(target_class=0, sampling="all", n_clusters=8, embedder=_cheap_embedder(),
              progress=False)
    compare(ma, mb, x[:16], y[:16], **{**kw, "n_clusters": 2})  # warm-up (traces, imports)
    t0 = time.perf_counter()
    ref = compare(ma, mb, x, y, **kw)
    rows = [{"executor": "local", "workers": 1, "seconds": time.perf_counter() - t0,
             "max_abs_diff": 0.0}]
    cores = os.cpu_count() or 2
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    for w in (int(v) for v in args.workers.split(",")):
        ex = RayExecutor(num_workers=w)
        t0 = time.perf_counter()
        res = compare(ma, mb, x, y, executor=ex, **kw)
        dt = time.perf_counter() - t0
        diff = float(np.abs(np.asarray(res.shapley_all) - np.asarray(ref.shapley_all)).max())
        rows.append({"executor": "ray", "workers": w, "seconds": dt, "max_abs_diff": diff})
    ray.shutdown()
    one = next(r["seconds"] for r in rows if r["executor"] == "ray" and r["workers"] == 1)
    print(f"\n{args.images} images x 2 models, sampling='all' "
          f"({len(ref.segments)} segments), {cores} cores")
    print(f"{'executor':>9}{'workers':>9}{'seconds':>10}{'speed-up vs 1 worker':>22}"
          f"{'max |diff|':>12}")
    for r in rows:
        r["speedup_vs_1_worker"] = one / r["seconds"]
        print(f"{r['executor']:>9}{r['workers']:>9}{r['seconds']:>10.1f}"
              f"{r['speedup_vs_1_worker']:>22.2f}{r['max_abs_diff']:>12.1e}")
    print(json.dumps({"ray": rows}))


if __name__ == "__main__":
    main()
