"""Peak memory of compare() on many images, and how fast a large result opens.

    python bench/memory.py [--sizes 1000,10000] [--sampling all]
    python bench/memory.py --folder-sizes 2000,20000     # images read from a folder of files
    python bench/memory.py --load-segments 1000000       # load() of a 1,000,000-segment result

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

What streaming bounds: masked images exist ``batch_size`` at a time, attribution, embedding
and thumbnails work on ``CHUNK_IMAGES`` images at a time, and each chunk's embeddings, Shapley
values, thumbnails, masks and previews are appended to the result's store on disk as they are
produced (``compare(store=...)``; a temporary folder here). What still grows with N: the
predictions (N x classes floats), the segments table (one row per segment) and, above 20,000
segments, the 32-d reduced embeddings k-means runs on. "growth" = peak RSS - RSS before
``compare`` (the engine's own costs; the input array is the caller's).

``--load-segments N``: writes a result of N segments through the store's own writer (two
models, 64x64 images, 5 segments per image, 1280-d embeddings, 64x64 thumbnails; synthetic
content, clustered by the real code), then times ``imacs_widget.load`` in a fresh process,
then the first thumbnail read and a re-cluster.
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
    """What the result's arrays take on disk (its store folder), in MB."""
    folder = getattr(res, "store_path", None)
    if folder is None:
        return float("nan")
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20


def write_large_store(n: int, path: Path, seed: int = 0) -> float:
    """A real result of ``n`` segments written through the store (see module docstring)."""
    import pandas as pd

    from imacs_widget.engine.summary import shared_bin_edges
    from imacs_widget.io.result_file import write_tables
    from imacs_widget.io.store import BLOCK_ROWS, ResultStore
    from imacs_widget.result import ClassComparison, ComparisonResult

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    per_image, d, t = 5, 1280, 64
    n_img = n // per_image
    centers = rng.normal(0, 1, (12, d)).astype(np.float32)
    concept = rng.integers(0, 12, n)
    rs = ResultStore.create(path)
    w = rs.class_writer(0)
    colours = rng.integers(0, 256, (12, 3))
    yy = np.linspace(0, 1, t, dtype=np.float32)[None, :, None, None]
    for s in range(0, n, BLOCK_ROWS):
        c = concept[s:s + BLOCK_ROWS]
        m = len(c)
        emb = centers[c] + rng.normal(0, 0.3, (m, d)).astype(np.float32)
        thumbs = np.clip(colours[c][:, None, None, :] * (0.6 + 0.4 * yy), 0, 255).astype(np.uint8)
        thumbs = np.broadcast_to(thumbs, (m, t, t, 3))
        masks = np.ones((m, t, t), bool)
        masks[:, : t // 4] = False
        w.add(embeddings=emb, shapley_all=rng.normal(0, 0.05, (m, 4)), thumbnails=thumbs,
              segment_masks=masks)
    arrays = w.close()
    pw = rs.preview_writer()
    for s in range(0, n_img, 1024):
        idx = np.arange(s, min(n_img, s + 1024))
        pw.append(idx, np.full((len(idx), 64, 64, 3), 128, np.uint8))
    previews = pw.close()
    img = np.arange(n) // per_image
    model = np.where(img % 2 == 0, "A", "B").astype(object)
    attribution = np.asarray(arrays["shapley_all"][:, 0])
    attribution[(concept == 3) & (model == "B")] += 0.3
    seg = pd.DataFrame({
        "model": model, "image_index": img, "segment_index": np.arange(n) % 16,
        "rank": np.arange(n) % per_image,
        "bbox": list(zip(*(np.full(n, v).tolist() for v in (0, 0, 16, 16)), strict=True)),
        "outcome": np.array(["TP", "TN", "FP", "FN"], object)[img % 4],
        "attribution": attribution,
        "source": np.array([f"images/{i:07d}.png" for i in range(n_img)], object)[img],
        "label": img % 4, "pred_a": img % 4, "score_a": rng.random(n),
        "pred_b": (img + 1) % 4, "score_b": rng.random(n)})
    cc = ClassComparison(target="c0", segments=seg, sampling={}, warnings=[],
                         bin_edges=shared_bin_edges(attribution), **arrays)
    cc.cluster(8, seed)
    res = ComparisonResult(per_class={"c0": cc}, class_names=["c0", "c1", "c2", "c3"],
                           model_names={"A": "A", "B": "B"}, accuracy={"A": 0.9, "B": 0.8},
                           source_images=previews, image_shape=(64, 64),
                           params={"n_clusters": 8, "sampling": "all"}, seed=seed)
    write_tables(res, rs)
    return time.perf_counter() - t0


def child_load(path: str) -> dict:
    """Open a stored result, read one thumbnail, re-cluster (in a fresh process)."""
    t0 = time.perf_counter()
    import imacs_widget

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = imacs_widget.load(path)
    t_load = time.perf_counter() - t0
    rss_open = _rss_mb()
    t0 = time.perf_counter()
    _ = res.thumbnails[len(res.segments) // 2]
    t_thumb = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.recluster(12)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.recluster(8)
    t_again = time.perf_counter() - t0
    return dict(segments=int(len(res.segments)), import_s=t_import, load_s=t_load,
                rss_after_load_mb=rss_open, thumbnail_ms=t_thumb * 1000,
                first_recluster_s=t_first, recluster_s=t_again,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


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
    ap.add_argument("--load-segments", type=int, default=None,
                    help="instead: time load() of a stored result of this many segments")
    ap.add_argument("--keep", default=None, help="with --load-segments: write the store here")
    ap.add_argument("--child-load", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-folder", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_load is not None:
        print("RESULT " + json.dumps(child_load(args.child_load)), flush=True)
        return
    if args.load_segments is not None:
        import tempfile

        tmp = tempfile.TemporaryDirectory() if args.keep is None else None
        path = Path(args.keep or tmp.name) / "large.imacs"
        if not (path / "meta.json").exists():
            print(f"writing a {args.load_segments:,}-segment result ...", file=sys.stderr,
                  flush=True)
            dt = write_large_store(args.load_segments, path)
            print(f"written in {dt:.0f} s", file=sys.stderr)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**30
        r = subprocess.run([sys.executable, __file__, "--child-load", str(path)],
                           capture_output=True, text=True)
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
        if r.returncode != 0 or not line:
            print(r.stderr[-3000:], file=sys.stderr)
            raise SystemExit("load child failed")
        out = json.loads(line[0][7:]) | {"store_gb": size}
        print(f"\n{out['segments']:,} segments, store {size:.2f} GB on disk")
        print(f"load() {out['load_s']:.2f} s (import {out['import_s']:.2f} s), RSS after load "
              f"{out['rss_after_load_mb']:.0f} MB; one thumbnail {out['thumbnail_ms']:.1f} ms; "
              f"first re-cluster {out['first_recluster_s']:.2f} s, next "
              f"{out['recluster_s']:.2f} s; peak RSS {out['peak_rss_mb']:.0f} MB")
        print(json.dumps({"load": out}))
        return
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
