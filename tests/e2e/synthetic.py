"""A synthetic :class:`~imacs_widget.result.ComparisonResult` of any size, without models.

Used by the static-report test and ``bench/bench_widget.py`` (1,000 segments) where running the
pipeline would only cost time: the result has the documented fields and shapes and random but
plausible values (seeded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_result(n_segments: int = 1000, n_clusters: int = 8, seed: int = 0,
                     image_size: int = 64, thumb: int = 64, source: int = 128, k: int = 5,
                     class_names=("circle", "square", "stripes", "cross")):
    from imacs_widget.result import ClassComparison, ComparisonResult

    rng = np.random.default_rng(seed)
    n_images = max(1, -(-n_segments // k))
    grid = 4
    cell = image_size // grid
    rows = []
    n_classes = len(class_names)
    target = 0
    labels = rng.integers(0, n_classes, n_images)
    pred_a = np.where(rng.random(n_images) < 0.8, labels, rng.integers(0, n_classes, n_images))
    pred_b = np.where(rng.random(n_images) < 0.7, labels, rng.integers(0, n_classes, n_images))
    score_a = rng.random(n_images)
    score_b = rng.random(n_images)
    for s in range(n_segments):
        img = s // k
        model = "A" if img % 2 == 0 else "B"
        pred = pred_a[img] if model == "A" else pred_b[img]
        pos, true = pred == target, labels[img] == target
        outcome = ("T" if pos == true else "F") + ("P" if pos else "N")
        sid = int(rng.integers(0, grid * grid))
        r, c = divmod(sid, grid)
        rows.append({"model": model, "image_index": int(img), "segment_index": sid,
                     "rank": s % k, "bbox": (c * cell, r * cell, (c + 1) * cell, (r + 1) * cell),
                     "outcome": outcome, "attribution": float(rng.normal(0.02, 0.05)),
                     "label": int(labels[img]), "pred_a": int(pred_a[img]),
                     "pred_b": int(pred_b[img]), "score_a": float(score_a[img]),
                     "score_b": float(score_b[img])})
    seg = pd.DataFrame(rows)
    centers = rng.normal(size=(n_clusters, 16))
    emb = (centers[rng.integers(0, n_clusters, n_segments)]
           + 0.3 * rng.normal(size=(n_segments, 16))).astype(np.float32)
    shap_all = rng.normal(0, 0.05, size=(n_segments, n_classes))
    shap_all[:, target] = seg["attribution"].to_numpy()
    # colourful thumbnails: a base colour per embedding cluster plus noise
    base = (emb[:, :3] - emb[:, :3].min()) / (np.ptp(emb[:, :3]) + 1e-9) * 200 + 30
    thumbs = np.clip(base[:, None, None, :] + rng.normal(0, 20, (n_segments, thumb, thumb, 3)),
                     0, 255).astype(np.uint8)
    masks = np.zeros((n_segments, thumb, thumb), bool)
    masks[:, thumb // 8: -thumb // 8, thumb // 8: -thumb // 8] = True
    sources = {int(i): rng.integers(0, 256, (source, source, 3), dtype=np.uint8)
               for i in range(n_images)}
    cc = ClassComparison(target=class_names[target], segments=seg, embeddings=emb,
                         shapley_all=shap_all, thumbnails=thumbs, segment_masks=masks,
                         sampling={"counts": {}}, warnings=[])
    cc.cluster(int(n_clusters), int(seed))
    params = dict(sampling="balanced", n_per_model=n_images // 2, segmentation="grid",
                  grid=[grid, grid], k=k, ranking="loo", seed=seed, n_clusters=n_clusters,
                  score="probability", pixel_max=255)
    return ComparisonResult(per_class={class_names[target]: cc}, class_names=list(class_names),
                            model_names={"A": "baseline", "B": "perturbed"},
                            accuracy={"A": 0.8, "B": 0.7}, source_images=sources,
                            image_shape=(image_size, image_size), params=params, seed=seed)
