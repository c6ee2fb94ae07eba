"""Peak memory of compare() on many images (issue 4 §4): is it bounded by streaming?

    python bench/memory.py [--sizes 1000,10000] [--sampling all]
    python bench/memory.py --folder-sizes 2000,20000     # images read from a folder of files

Each size runs in a fresh subprocess: N generated 64x64 uint8 images, two small real Keras CNNs
(random weights, 64x64 input), ``compare(sampling="all")`` (every image explained by both
models: 2N attributions of 16 LOO + 32 coalition evaluations each), a cheap embedder that takes
224x224 crops like EfficientNet-Lite0 (so the crop buffers have the default embedder's size,
without its minutes of compute). The child reports ``ru_maxrss`` (peak resident set), its RSS
just before ``compare`` (Python + TensorFlow + models + the input images), the size of the input
and of the result's arrays, and the wall time.

``--folder-sizes``: the child first writes N 64x64 PNG files in the ImageFolder layout (4 class
sub-folders, 1,000 images generated at a time), then runs ``compare(folder)`` with the default
balanced sampling (100 images per model). The folder is read a chunk at a time for the
predictions and only the sampled images are held afterwards, so peak memory should not grow
with N beyond the predictions (N x classes floats).

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


def _smooth_images(rng, m):
    low = rng.integers(0, 256, (m, 8, 8, 3)).astype(np.uint8)
    return np.repeat(np.repeat(low, 8, 1), 8, 2)


def child_folder(n: int, sampling: str) -> dict:
    """compare() on a folder of ``n`` PNG files (see the module docstring)."""
    import tempfile

    from PIL import Image

    from imacs_widget import compare

    rng = np.random.default_rng(0)
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    names = ["c0", "c1", "c2", "c3"]
    for c in names:
        (root / c).mkdir()
    t0 = time.perf_counter()
    for s in range(0, n, 1000):
        m = min(1000, n - s)
        for j, im in enumerate(_smooth_images(rng, m)):
            Image.fromarray(im).save(root / names[(s + j) % 4] / f"{s + j:06d}.png",
                                     compress_level=1)
    t_write = time.perf_counter() - t0
    ma, mb = _tiny_cnn(1), _tiny_cnn(2)
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    res = compare(ma, mb, root, target_class="c0", sampling=sampling, n_per_model=100,
                  n_clusters=8, embedder=_cheap_embedder(), progress=False)
    dt = time.perf_counter() - t0
    out = dict(n_images=n, source="folder", sampling=sampling, seconds=dt, write_s=t_write,
               segments=int(len(res.segments)),
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               rss_before_compare_mb=rss_before, input_mb=n * 64 * 64 * 3 / 2**20,
               result_arrays_mb=_result_mb(res),
               segments_df_mb=float(res.segments.memory_usage(deep=True).sum()) / 2**20)
    tmp.cleanup()
    return out


def _cheap_embedder():
    from imacs_widget.engine.embedding.embedders import Embedder

    def fn(crops):  # cheap features of 224x224 crops (colour statistics + a coarse thumbnail)
        c = np.asarray(crops, np.float32) / 255.0
        return np.concatenate([c.mean(axis=(1, 2)), c.std(axis=(1, 2)),
                               c[:, ::28, ::28].reshape(len(c), -1)], axis=1)

    return Embedder(fn, 224, "cheap-224", 64)


def _result_mb(res) -> float:
    arrays = sum(getattr(res, a).nbytes for a in ("thumbnails", "segment_masks", "embeddings",
                                                   "shapley_all"))
    return (arrays + sum(v.nbytes for v in res.source_images.values())) / 2**20


def child(n: int, sampling: str) -> dict:
    from imacs_widget import compare

    emb = _cheap_embedder()
    rng = np.random.default_rng(0)
    images = np.empty((n, 64, 64, 3), np.uint8)
    for s in range(0, n, 1000):  # smooth random images, generated in chunks
        m = min(1000, n - s)
        images[s:s + m] = _smooth_images(rng, m)
    labels = rng.integers(0, 4, n)
    ma, mb = _tiny_cnn(1), _tiny_cnn(2)
    ma(images[:1].astype(np.float32))
    mb(images[:1].astype(np.float32))
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    res = compare(ma, mb, images, labels, target_class=0, sampling=sampling, n_per_model=100,
                  n_clusters=8, embedder=emb, progress=False)
    dt = time.perf_counter() - t0
    return dict(n_images=n, source="array", sampling=sampling, seconds=dt,
                segments=int(len(res.segments)),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                rss_before_compare_mb=rss_before, input_mb=images.nbytes / 2**20,
                result_arrays_mb=_result_mb(res),
                segments_df_mb=float(res.segments.memory_usage(deep=True).sum()) / 2**20)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--sampling", default="all")
    ap.add_argument("--folder-sizes", default=None,
                    help="instead: compare() on folders of this many PNG files (balanced sampling)")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-folder", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        run = child_folder if args.child_folder else child
        print("RESULT " + json.dumps(run(args.child, args.sampling)), flush=True)
        return
    folder = args.folder_sizes is not None
    sampling = "balanced" if folder and args.sampling == "all" else args.sampling
    rows = []
    for n in (int(s) for s in (args.folder_sizes if folder else args.sizes).split(",")):
        print(f"running compare on {n} images{' (folder)' if folder else ''} in a subprocess ...",
              file=sys.stderr, flush=True)
        r = subprocess.run([sys.executable, __file__, "--child", str(n), "--sampling", sampling,
                            *(["--child-folder"] if folder else [])], capture_output=True, text=True)
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
        if r.returncode != 0 or not line:
            print(r.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"child for {n} images failed ({r.returncode})")
        rows.append(json.loads(line[0][7:]))
    print(f"\nsource: {'folder of PNG files' if folder else 'array'}, sampling={sampling}")
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
