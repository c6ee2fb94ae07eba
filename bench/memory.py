"""Peak memory of compare() on many images (issue 4 §4): is it bounded by streaming?

    python bench/memory.py [--sizes 1000,10000] [--sampling all]

Each size runs in a fresh subprocess: N generated 64x64 uint8 images, two small real Keras CNNs
(random weights, 64x64 input), ``compare(sampling="all")`` (every image explained by both
models: 2N attributions of 16 LOO + 32 coalition evaluations each), a cheap embedder that takes
224x224 crops like EfficientNet-Lite0 (so the crop buffers have the default embedder's size,
without its minutes of compute). The child reports ``ru_maxrss`` (peak resident set), its RSS
just before ``compare`` (Python + TensorFlow + models + the input images), the size of the input
and of the result's arrays, and the wall time.

What streaming bounds: masked images exist ``batch_size`` at a time, attribution works on
``CHUNK_IMAGES`` images at a time, embedder crops ``EMBED_CHUNK`` at a time. What grows with N by
design: the input images, the predictions, and the result itself (one thumbnail 64x64x3 + mask +
embedding + Shapley row per segment row, a downscaled source image per image).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import ROOT  # noqa: E402, F401  (puts the repository on sys.path)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _tiny_cnn(seed):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((64, 64, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(4, activation="softmax"),
    ])


def child(n: int, sampling: str) -> dict:
    from imacs_widget import compare
    from imacs_widget.engine.embedding.embedders import Embedder

    def fn(crops):  # cheap features of 224x224 crops (colour statistics + a coarse thumbnail)
        c = np.asarray(crops, np.float32) / 255.0
        return np.concatenate([c.mean(axis=(1, 2)), c.std(axis=(1, 2)),
                               c[:, ::28, ::28].reshape(len(c), -1)], axis=1)

    emb = Embedder(fn, 224, "cheap-224", 64)
    rng = np.random.default_rng(0)
    images = np.empty((n, 64, 64, 3), np.uint8)
    for s in range(0, n, 1000):  # smooth random images, generated in chunks
        m = min(1000, n - s)
        low = rng.integers(0, 256, (m, 8, 8, 3)).astype(np.uint8)
        images[s:s + m] = np.repeat(np.repeat(low, 8, 1), 8, 2)
    labels = rng.integers(0, 4, n)
    ma, mb = _tiny_cnn(1), _tiny_cnn(2)
    ma(images[:1].astype(np.float32))
    mb(images[:1].astype(np.float32))
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    res = compare(ma, mb, images, labels, target_class=0, sampling=sampling, n_per_model=100,
                  n_clusters=8, embedder=emb, progress=False)
    dt = time.perf_counter() - t0
    arrays = sum(getattr(res, a).nbytes for a in ("thumbnails", "segment_masks", "embeddings",
                                                   "shapley_all"))
    arrays += sum(v.nbytes for v in res.source_images.values())
    return dict(n_images=n, sampling=sampling, seconds=dt, segments=int(len(res.segments)),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                rss_before_compare_mb=rss_before, input_mb=images.nbytes / 2**20,
                result_arrays_mb=arrays / 2**20,
                segments_df_mb=float(res.segments.memory_usage(deep=True).sum()) / 2**20)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--sampling", default="all")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        print("RESULT " + json.dumps(child(args.child, args.sampling)), flush=True)
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"running compare on {n} images in a subprocess ...", file=sys.stderr, flush=True)
        r = subprocess.run([sys.executable, __file__, "--child", str(n), "--sampling",
                            args.sampling], capture_output=True, text=True)
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
        if r.returncode != 0 or not line:
            print(r.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"child for {n} images failed ({r.returncode})")
        rows.append(json.loads(line[0][7:]))
    print(f"\n{'images':>8}{'segments':>10}{'time s':>9}{'RSS before':>12}{'peak RSS':>10}"
          f"{'growth':>9}{'input':>8}{'result arrays':>15}{'segments df':>13}   (MB)")
    for r in rows:
        print(f"{r['n_images']:>8}{r['segments']:>10}{r['seconds']:>9.0f}"
              f"{r['rss_before_compare_mb']:>12.0f}{r['peak_rss_mb']:>10.0f}"
              f"{r['peak_rss_mb'] - r['rss_before_compare_mb']:>9.0f}{r['input_mb']:>8.0f}"
              f"{r['result_arrays_mb']:>15.0f}{r['segments_df_mb']:>13.0f}")
    print(json.dumps({"memory": rows}))


if __name__ == "__main__":
    main()
