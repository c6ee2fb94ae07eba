"""The one builder of test results: a real :class:`imacs_widget.result.ComparisonResult`, no model.

``make_result`` fills every documented field (docs/ARCHITECTURE.md, "ComparisonResult
fields") with plausible, seeded values: natural-looking pixels (crops of scikit-image's
offline sample photos, so payload sizes measured on it are realistic), grid-cell segments of
``segments_per_image`` per image, half of the images sampled by each model with a balanced
split of outcomes, embeddings from the thumbnails' colour statistics, clusters from the real
k-means (``ClassComparison.cluster``) and attributions with a per-cluster offset so that
clusters differ. ``recluster`` and ``select_class`` are the real ones.

Used by the widget / payload / report tests, the browser harness (tests/widget_harness.py), the
JupyterLab benchmark notebook (tests/e2e/notebooks.py) and bench/bench_widget.py.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

OUTCOMES = ("TP", "TN", "FP", "FN")
CLASS_NAMES = ("tulip", "daisy", "sunflower", "rose", "dandelion")


@functools.lru_cache(maxsize=4)
def _photos(size: int) -> tuple[np.ndarray, ...]:
    """Crops of scikit-image's offline sample photos at several offsets, resized to ``size``."""
    from PIL import Image
    from skimage import data

    crops = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina",
                 "colorwheel"):
        img = np.asarray(getattr(data, name)())[..., :3]
        h, w = img.shape[:2]
        side = min(h, w)
        for f in (1.0, 0.6, 0.45):
            s = int(side * f)
            for oy, ox in ((0, 0), (h - s, w - s), ((h - s) // 2, (w - s) // 2)):
                c = img[oy:oy + s, ox:ox + s]
                crops.append(np.asarray(Image.fromarray(c).resize((size, size), Image.BILINEAR)))
    return tuple(crops)


def _images_and_segments(n_segments, segments_per_image, image_size, source_size, thumb_size,
                         n_classes, target, rng):
    """Segments table (attribution / cluster still 0), thumbnails, masks, source previews."""
    from PIL import Image

    n_images = int(np.ceil(n_segments / segments_per_image))
    photos = _photos(image_size)
    grid = 4
    cell = image_size // grid
    rows = []
    thumbs = np.zeros((n_segments, thumb_size, thumb_size, 3), np.uint8)
    masks = np.ones((n_segments, thumb_size, thumb_size), bool)
    sources: dict[int, np.ndarray] = {}
    i = 0
    for img_idx in range(n_images):
        photo = photos[img_idx % len(photos)].copy()
        if (img_idx // len(photos)) % 2:  # make images distinct: a flip / a tint
            photo = photo[:, ::-1]
        tint = rng.integers(-25, 25, 3)
        photo = np.clip(photo.astype(int) + tint, 0, 255).astype(np.uint8)
        image_index = img_idx * 3 + 1  # not 0..n-1 on purpose: indices into the user's images
        sources[image_index] = np.asarray(
            Image.fromarray(photo).resize((source_size, source_size), Image.BILINEAR))
        model = "A" if img_idx % 2 == 0 else "B"
        outcome = OUTCOMES[(img_idx // 2) % 4]
        positive_label = outcome in ("TP", "FN")
        label = target if positive_label else int((target + 1 + img_idx) % n_classes)
        if label == target and not positive_label:
            label = (target + 1) % n_classes
        other = (target + 2) % n_classes
        pred_model = target if outcome in ("TP", "FP") else other
        pred_other = target if rng.random() < 0.5 else other
        pred_a, pred_b = (pred_model, pred_other) if model == "A" else (pred_other, pred_model)
        score_a = float(rng.uniform(0.55, 0.99) if pred_a == target else rng.uniform(0.01, 0.4))
        score_b = float(rng.uniform(0.55, 0.99) if pred_b == target else rng.uniform(0.01, 0.4))
        cells = rng.choice(grid * grid, segments_per_image, replace=False)
        for rank, cid in enumerate(cells):
            if i >= n_segments:
                break
            r, c = divmod(int(cid), grid)
            x0, y0 = c * cell, r * cell
            crop = photo[y0:y0 + cell, x0:x0 + cell]
            thumbs[i] = np.asarray(
                Image.fromarray(crop).resize((thumb_size, thumb_size), Image.BILINEAR))
            if i % 7 == 3:  # some irregular (SLIC-like) masks
                yy, xx = np.mgrid[:thumb_size, :thumb_size]
                masks[i] = ((yy - thumb_size / 2) ** 2 + (xx - thumb_size / 2) ** 2
                            < (thumb_size / 2.3) ** 2)
            rows.append({
                "model": model, "image_index": image_index, "segment_index": int(cid),
                "rank": rank, "bbox": (x0, y0, x0 + cell, y0 + cell), "outcome": outcome,
                "attribution": 0.0, "cluster": 0, "centroid_distance": 0.0, "label": int(label),
                "pred_a": int(pred_a), "pred_b": int(pred_b), "score_a": score_a,
                "score_b": score_b,
            })
            i += 1
    return pd.DataFrame(rows), thumbs, masks, sources


def _class(name, seg, thumbs, masks, emb, n_clusters, n_classes, class_id, seed, rng,
           clustered_attributions: bool):
    """A clustered ClassComparison whose attributions depend on the cluster (or are noise)."""
    from imacs_widget.result import ClassComparison

    n = len(seg)
    cc = ClassComparison(
        target=name, segments=seg.copy(), embeddings=emb, shapley_all=np.zeros((n, n_classes)),
        thumbnails=thumbs, segment_masks=masks,
        sampling={m: {o: {"requested": 25, "available": 25, "taken": 25} for o in OUTCOMES}
                  for m in ("A", "B")})
    cc.cluster(int(n_clusters), seed)
    s = cc.segments
    if clustered_attributions:
        lab = s["cluster"].to_numpy()
        offset_a = rng.normal(0.02, 0.05, n_clusters)
        offset_b = offset_a + rng.normal(0, 0.08, n_clusters)
        base = np.where((s["model"] == "A").to_numpy(), offset_a[lab], offset_b[lab])
        attribution = base + rng.normal(0, 0.04, n) / (1 + s["rank"].to_numpy())
    else:
        attribution = rng.normal(0, 0.05, n)
    s["attribution"] = attribution
    cc.shapley_all[:, class_id] = attribution
    cc.bin_edges = None  # computed from the attributions just set
    cc.summarize()
    return cc


def make_result(n_segments: int = 1000, n_clusters: int = 8, *, segments_per_image: int = 5,
                image_size: int = 224, source_size: int = 128, thumb_size: int = 64,
                class_names: list[str] | None = None, target_class: int = 2,
                extra_classes: tuple[int, ...] = (), extra_segments: int | None = None,
                model_names: dict[str, str] | None = None, seed: int = 0):
    """A real ComparisonResult of ``n_segments`` segments (the active class ``target_class``).

    ``extra_classes`` are further classes of interest (class ids); each holds the first
    ``extra_segments`` (default: all) of the same segments with other attributions, so a
    two-class result may have classes with different segment counts.
    """
    from imacs_widget.result import ComparisonResult

    rng = np.random.default_rng(seed)
    class_names = list(class_names or CLASS_NAMES)
    model_names = dict(model_names or {"A": "baseline", "B": "watermarked"})
    seg, thumbs, masks, sources = _images_and_segments(
        n_segments, segments_per_image, image_size, source_size, thumb_size, len(class_names),
        target_class, rng)
    flat = thumbs.reshape(n_segments, -1, 3)
    emb = np.concatenate([flat.mean(1) / 255.0, flat.std(1) / 128.0,
                          rng.normal(0, 0.05, (n_segments, 2))], axis=1).astype(np.float32)
    per_class = {class_names[target_class]: _class(
        class_names[target_class], seg, thumbs, masks, emb, n_clusters, len(class_names),
        target_class, seed, rng, clustered_attributions=True)}
    for k in extra_classes:
        m = n_segments if extra_segments is None else int(extra_segments)
        per_class[class_names[k]] = _class(
            class_names[k], seg.iloc[:m].reset_index(drop=True), thumbs[:m], masks[:m], emb[:m],
            n_clusters, len(class_names), k, seed, rng, clustered_attributions=False)
    params = {"sampling": "balanced", "n_per_model": int(np.ceil(n_segments / segments_per_image / 2)),
              "segmentation": "grid", "grid": [4, 4], "k": segments_per_image, "ranking": "loo",
              "seed": seed, "n_clusters": n_clusters, "score": "probability"}
    return ComparisonResult(per_class=per_class, class_names=class_names, model_names=model_names,
                            accuracy={"A": 0.949, "B": 0.796}, source_images=sources,
                            image_shape=(image_size, image_size), params=params, seed=seed)


def make_large_result(n_segments: int = 100_000, n_clusters: int = 8, *,
                      segments_per_image: int = 5, image_size: int = 224, source_size: int = 96,
                      thumb_size: int = 32, class_names: list[str] | None = None,
                      target_class: int = 2, seed: int = 0):
    """A real ComparisonResult of many segments, built fast (vectorised; bench/bench_widget_scale.py).

    The same scenario as :func:`make_result` (crops of the sample photos, a flipped copy of
    every other round of them, half of the images per model, balanced outcomes, real k-means),
    but every thumbnail is one of the grid cells of those photos (tiled photo crops, cut once),
    the source previews are shared arrays, the masks one broadcast array and the embeddings
    the cells' colour statistics plus noise: 100,000 segments take a few seconds and about
    ``n_segments * thumb_size**2 * 3`` bytes of thumbnails.
    """
    from PIL import Image

    from imacs_widget.result import ComparisonResult

    rng = np.random.default_rng(seed)
    class_names = list(class_names or CLASS_NAMES)
    n_classes = len(class_names)
    photos = _photos(image_size)
    grid, cell = 4, image_size // 4
    n_photo = len(photos)
    variants = [(p, f) for f in (0, 1) for p in range(n_photo)]  # variant v = f * n_photo + p
    base = np.zeros((len(variants), grid * grid, thumb_size, thumb_size, 3), np.uint8)
    previews = []
    for v, (p, f) in enumerate(variants):
        photo = photos[p][:, ::-1] if f else photos[p]
        previews.append(np.asarray(Image.fromarray(np.ascontiguousarray(photo)).resize(
            (source_size, source_size), Image.BILINEAR)))
        for cid in range(grid * grid):
            r, c = divmod(cid, grid)
            crop = np.ascontiguousarray(photo[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell])
            base[v, cid] = np.asarray(Image.fromarray(crop).resize((thumb_size, thumb_size),
                                                                   Image.BILINEAR))
    flat = base.reshape(len(variants), grid * grid, -1, 3).astype(np.float32)
    base_emb = np.concatenate([flat.mean(2) / 255.0, flat.std(2) / 128.0], axis=2)

    n_images = int(np.ceil(n_segments / segments_per_image))
    img = np.arange(n_images)
    variant = ((img // n_photo) % 2) * n_photo + img % n_photo
    cells = np.argsort(rng.random((n_images, grid * grid)), axis=1)[:, :segments_per_image]
    si = np.repeat(img, segments_per_image)[:n_segments]
    cid = cells.reshape(-1)[:n_segments]
    rank = np.tile(np.arange(segments_per_image), n_images)[:n_segments]
    thumbs = base[variant[si], cid]
    masks = np.broadcast_to(np.ones((1, thumb_size, thumb_size), bool),
                            (n_segments, thumb_size, thumb_size))
    emb = np.concatenate([base_emb[variant[si], cid], rng.normal(0, 0.05, (n_segments, 2))],
                         axis=1).astype(np.float32)

    model_img = np.where(img % 2 == 0, "A", "B")
    outcome_code = (img // 2) % 4
    outcome_img = np.asarray(OUTCOMES)[outcome_code]
    positive = np.isin(outcome_code, (0, 3))  # TP, FN
    label = np.where(positive, target_class, (target_class + 1 + img) % n_classes)
    label = np.where(~positive & (label == target_class), (target_class + 1) % n_classes, label)
    other = (target_class + 2) % n_classes
    pred_model = np.where(np.isin(outcome_code, (0, 2)), target_class, other)  # TP, FP
    pred_other = np.where(rng.random(n_images) < 0.5, target_class, other)
    is_a = model_img == "A"
    pred_a = np.where(is_a, pred_model, pred_other)
    pred_b = np.where(is_a, pred_other, pred_model)

    def score(pred):
        return np.where(pred == target_class, rng.uniform(0.55, 0.99, n_images),
                        rng.uniform(0.01, 0.4, n_images))

    score_a, score_b = score(pred_a), score(pred_b)
    x0, y0 = (cid % grid) * cell, (cid // grid) * cell
    seg = pd.DataFrame({
        "model": model_img[si], "image_index": si * 3 + 1, "segment_index": cid, "rank": rank,
        "bbox": list(zip(x0.tolist(), y0.tolist(), (x0 + cell).tolist(), (y0 + cell).tolist(),
                         strict=True)),
        "outcome": outcome_img[si], "attribution": 0.0, "cluster": 0, "centroid_distance": 0.0,
        "label": label[si], "pred_a": pred_a[si], "pred_b": pred_b[si],
        "score_a": score_a[si], "score_b": score_b[si],
    })
    sources = {int(i) * 3 + 1: previews[variant[i]] for i in img}
    per_class = {class_names[target_class]: _class(
        class_names[target_class], seg, thumbs, masks, emb, n_clusters, n_classes,
        target_class, seed, rng, clustered_attributions=True)}
    params = {"sampling": "balanced", "n_per_model": int(np.ceil(n_images / 2)),
              "segmentation": "grid", "grid": [4, 4], "k": segments_per_image, "ranking": "loo",
              "seed": seed, "n_clusters": n_clusters, "score": "probability"}
    return ComparisonResult(per_class=per_class, class_names=class_names,
                            model_names={"A": "baseline", "B": "watermarked"},
                            accuracy={"A": 0.949, "B": 0.796}, source_images=sources,
                            image_shape=(image_size, image_size), params=params, seed=seed)
