"""The what-if test on the demo scenario (issue 22, item 3): does B use the watermark, and A not?

    python bench/intervention_demo.py [--seeds 0 1 2] [--n-images 100]

For each seed: train the §5 watermark scenario (:func:`imacs_widget.demo.scenario.make_scenario`,
model A on clean images, model B with the "IM" watermark on half of the triangles), compare the
two as ``imacs demo`` does (100 images per model, 8 clusters, the seed), then run
``result.intervene`` on two clusters:

* the **watermark cluster**: the cluster whose segments most often overlap a watermark
  (:func:`imacs_widget.demo.run.cluster_watermark_fractions`, the demo's own measure);
* a **background cluster**: among the clusters with at most 5 % of their segments on a
  watermark, those whose segments are mostly background (on average at most 25 % of a
  segment's box covers the image's shape; the shape masks are regenerated from the scenario's
  seed and checked against its clean evaluation images), the largest; when none is that clean,
  the one with the least shape.

Printed per seed and model: ``flip_to_target`` (pasting the cluster's 8 most representative
segments onto images of the other classes, ``--n-images`` of them) and ``flip_from_target``
(blurring the cluster's segments away from up to ``--n-images`` images that hold them), each
with its 95 % Wilson interval and denominator, and the mean change of the triangle probability;
the scenario's own shortcut rates (watermarked non-triangle images predicted as triangles) for
reference. The last line is JSON. Expected (issue 22): the watermark cluster makes B switch far
more often than A; the background cluster makes neither switch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

N_CLUSTERS = 8
WATERMARK_AT_MOST = 0.05
SHAPE_AT_MOST = 0.25


def object_masks(sc) -> np.ndarray:
    """``bool [N, H, W]`` shape pixels of the scenario's evaluation images (regenerated from its
    seed exactly as :func:`~imacs_widget.demo.scenario.make_scenario` draws them)."""
    from imacs_widget.demo.shapes import make_dataset

    p = sc.params
    streams = np.random.SeedSequence(int(p["seed"])).spawn(4)
    x, y, _, obj = make_dataset(p["n_eval_per_class"], p["image_size"], p["n_classes"],
                                seed=np.random.default_rng(streams[1]), clutter=p["clutter"],
                                return_object_masks=True)
    if not (np.array_equal(x, sc.eval_images_clean) and np.array_equal(y, sc.eval_labels)):
        raise RuntimeError("the regenerated evaluation images differ from the scenario's")
    return obj


def box_share(result, masks: np.ndarray) -> np.ndarray:
    """Per segment, the share of its box's pixels that are ``masks`` pixels of its image."""
    seg = result.segments
    out = np.zeros(len(seg))
    for r, (i, (x0, y0, x1, y1)) in enumerate(zip(seg["image_index"], seg["bbox"], strict=True)):
        out[r] = masks[i, y0:y1, x0:x1].mean()
    return out


def pick_clusters(result, sc) -> tuple[int, int, dict]:
    """The watermark cluster, the background cluster and every cluster's shares."""
    from imacs_widget.demo.run import cluster_watermark_fractions

    wm = cluster_watermark_fractions(result, sc.eval_watermark_masks)
    shape = box_share(result, object_masks(sc))
    cl = result.segments["cluster"].to_numpy()
    info = {int(c): {"size": int((cl == c).sum()), "watermark": round(wm[c], 3),
                     "shape": round(float(shape[cl == c].mean()), 3)} for c in wm}
    wm_cluster = max(wm, key=lambda c: (wm[c], info[c]["size"]))
    quiet = [c for c in info if info[c]["watermark"] <= WATERMARK_AT_MOST]
    clean = [c for c in quiet if info[c]["shape"] <= SHAPE_AT_MOST]
    bg = (max(clean, key=lambda c: info[c]["size"]) if clean
          else min(quiet or info, key=lambda c: info[c]["shape"]))
    return int(wm_cluster), int(bg), info


def fmt_rate(row, kind: str) -> str:
    v, ci = row[f"flip_{kind}_target"], row[f"flip_{kind}_target_ci"]
    n = row["n_paste" if kind == "to" else "n_remove"]
    if ci is None:
        return "   n/a (0 could flip)     "
    return f"{v:5.1%} [{ci[0]:5.1%}, {ci[1]:5.1%}] of {n:>3}"


def run_seed(seed: int, n_images: int) -> dict:
    import imacs_widget as imacs
    from imacs_widget.demo.scenario import make_scenario

    t0 = time.perf_counter()
    sc = make_scenario(seed=seed)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        result = imacs.compare(sc.model_a, sc.model_b, sc.eval_images, sc.eval_labels,
                               class_names=sc.class_names, target_class=sc.target_class,
                               n_clusters=N_CLUSTERS, n_per_model=100, seed=seed,
                               name_a="A (clean)", name_b="B (watermark-trained)",
                               progress=False)
    t_compare = time.perf_counter() - t0
    wm_c, bg_c, info = pick_clusters(result, sc)
    out = {"seed": seed, "shortcut_rate": {m: round(sc.shortcut_rate[m], 3) for m in ("A", "B")},
           "clusters": info, "watermark_cluster": wm_c, "background_cluster": bg_c,
           "tests": {}, "seconds": {"train": round(t_train, 1), "compare": round(t_compare, 1)}}
    print(f"\nseed {seed}: shortcut rate A {sc.shortcut_rate['A']:.1%}, "
          f"B {sc.shortcut_rate['B']:.1%}; clusters (size, watermark share, shape share): "
          + "; ".join(f"{c}: {v['size']}, {v['watermark']:.2f}, {v['shape']:.2f}"
                      for c, v in sorted(info.items())))
    for label, c in (("watermark", wm_c), ("background", bg_c)):
        t0 = time.perf_counter()
        table = result.intervene(c, n_images=n_images, progress=False)
        secs = time.perf_counter() - t0
        print(f"  {label} cluster {c} ({info[c]['size']} segments, watermark "
              f"{info[c]['watermark']:.0%}, shape {info[c]['shape']:.0%}; {secs:.1f} s):")
        print("    model  flip_to_target (paste)          score   "
              "flip_from_target (remove)       score")
        for row in table.to_dict("records"):
            print(f"    {row['model']:<5}  {fmt_rate(row, 'to')}  "
                  f"{row['paste_score_change']:+.3f}   {fmt_rate(row, 'from')}  "
                  f"{row['remove_score_change']:+.3f}")
        out["tests"][label] = {"cluster": c, "seconds": round(secs, 1),
                               "rows": result.interventions[c]["rows"]}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-images", type=int, default=100)
    args = ap.parse_args(argv)
    runs = [run_seed(s, args.n_images) for s in args.seeds]
    print(json.dumps({"n_images": args.n_images, "runs": runs}))


if __name__ == "__main__":
    main()
