"""A synthetic stand-in for :class:`imacs_widget.result.ComparisonResult` (no TensorFlow).

It carries exactly the documented fields the payload and the widget consume (see
docs/ARCHITECTURE.md, "ComparisonResult fields"), filled with natural-looking pixels (crops of
scikit-image sample photos) so that payload sizes measured on it are realistic. ``recluster(n)``
re-runs a tiny seeded k-means on fake embeddings and returns a new object, like the real one.

Used by tests/test_payload.py, tests/test_widget.py and the widget screenshot harness
(docs/widget_harness.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from imacs_widget.engine.summary import order_clusters, shared_bin_edges, summarize_clusters

OUTCOMES = ("TP", "TN", "FP", "FN")


@functools.lru_cache(maxsize=4)
def _photos(size: int) -> tuple[np.ndarray, ...]:
    """A few RGB photos from scikit-image's offline sample data, resized to ``size``."""
    from PIL import Image
    from skimage import data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina",
                 "colorwheel"):
        img = np.asarray(getattr(data, name)())[..., :3]
        out.append(img)
    # crops at several offsets give many distinct images
    crops = []
    for img in out:
        h, w = img.shape[:2]
        side = min(h, w)
        for f in (1.0, 0.6, 0.45):
            s = int(side * f)
            for oy, ox in ((0, 0), (h - s, w - s), ((h - s) // 2, (w - s) // 2)):
                c = img[oy:oy + s, ox:ox + s]
                crops.append(np.asarray(Image.fromarray(c).resize((size, size), Image.BILINEAR)))
    return tuple(crops)


def _kmeans(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = x[rng.choice(len(x), k, replace=False)]
    for _ in range(15):
        d = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
        lab = d.argmin(1)
        for j in range(k):
            if (lab == j).any():
                centres[j] = x[lab == j].mean(0)
    d = np.sqrt(((x[:, None, :] - centres[None]) ** 2).sum(-1))
    lab = d.argmin(1)
    return lab, d[np.arange(len(x)), lab]


@dataclass
class SyntheticResult:
    segments: pd.DataFrame
    clusters: list[dict]
    thumbnails: np.ndarray
    segment_masks: np.ndarray
    source_images: dict[int, np.ndarray]
    class_names: list[str]
    target_class: str
    model_names: dict[str, str]
    accuracy: dict[str, float]
    warnings: list[str]
    sampling: dict[str, Any]
    params: dict[str, Any]
    image_shape: tuple[int, int]
    order: str = "imbalance"
    inner_order: str = "attribution"
    embeddings: np.ndarray | None = field(default=None, repr=False)
    per_class_attribution: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    n_reclusters: int = 0

    @property
    def n_clusters(self) -> int:
        return len(self.clusters)

    @property
    def classes_of_interest(self) -> list[str]:
        return list(self.per_class_attribution) or [self.target_class]

    def select_class(self, name: str) -> SyntheticResult:
        """Like ComparisonResult.select_class: switch the active class in place."""
        if name not in self.classes_of_interest:
            raise ValueError(f"target_class: {name!r} is not in {self.classes_of_interest}")
        self.target_class = name
        self.segments = self.segments.copy()
        self.segments["attribution"] = self.per_class_attribution[name]
        self.clusters = _summarize(self.segments, self.n_clusters)
        return self

    def recluster(self, n_clusters: int, seed: int = 0) -> SyntheticResult:
        """Like ComparisonResult.recluster: re-cluster in place (no model call), return self."""
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
            raise ValueError(f"n_clusters: must be an integer, got {n_clusters!r}")
        if not 1 <= n_clusters <= len(self.segments):
            raise ValueError(f"n_clusters: expected 1..{len(self.segments)}, got {n_clusters}")
        lab, dist = _kmeans(self.embeddings, int(n_clusters), seed)
        self.segments = self.segments.copy()
        self.segments["cluster"] = lab
        self.segments["centroid_distance"] = dist
        self.clusters = _summarize(self.segments, int(n_clusters))
        self.params = {**self.params, "n_clusters": int(n_clusters)}
        self.n_reclusters += 1
        return self


def _summarize(seg: pd.DataFrame, k: int) -> list[dict]:
    """Cluster summaries in the result's default order, via the real summary module."""
    edges = shared_bin_edges(seg["attribution"].to_numpy())
    return order_clusters(summarize_clusters(seg, k, edges), "imbalance")


def make_synthetic_result(n_segments: int = 1000, n_clusters: int = 8, *, segments_per_image: int = 5,
                          image_size: int = 224, source_size: int = 128, thumb_size: int = 64,
                          class_names: list[str] | None = None, target_class: int = 2,
                          extra_classes: tuple[int, ...] = (),
                          model_names: dict[str, str] | None = None,
                          seed: int = 0) -> SyntheticResult:
    """A result with ``n_segments`` segments over ``n_segments / segments_per_image`` images.

    Segments are cells of a 4x4 grid; half of the images are "sampled" by each model with a
    balanced split of outcomes; attributions get a per-cluster offset so that clusters differ.
    """
    rng = np.random.default_rng(seed)
    class_names = class_names or ["tulip", "daisy", "sunflower", "rose", "dandelion"]
    model_names = model_names or {"A": "baseline", "B": "watermarked"}
    n_images = int(np.ceil(n_segments / segments_per_image))
    photos = _photos(image_size)
    grid = 4
    cell = image_size // grid
    rows = []
    thumbs = np.zeros((n_segments, thumb_size, thumb_size, 3), np.uint8)
    masks = np.ones((n_segments, thumb_size, thumb_size), bool)
    sources: dict[int, np.ndarray] = {}
    from PIL import Image

    i = 0
    for img_idx in range(n_images):
        photo = photos[img_idx % len(photos)].copy()
        # make images distinct: a flip / a tint, deterministic
        if (img_idx // len(photos)) % 2:
            photo = photo[:, ::-1]
        tint = rng.integers(-25, 25, 3)
        photo = np.clip(photo.astype(int) + tint, 0, 255).astype(np.uint8)
        image_index = img_idx * 3 + 1  # not 0..n-1 on purpose: indices into the user's images
        sources[image_index] = np.asarray(
            Image.fromarray(photo).resize((source_size, source_size), Image.BILINEAR))
        model = "A" if img_idx % 2 == 0 else "B"
        outcome = OUTCOMES[(img_idx // 2) % 4]
        positive_label = outcome in ("TP", "FN")
        label = target_class if positive_label else int((target_class + 1 + img_idx) % len(class_names))
        if label == target_class and not positive_label:
            label = (target_class + 1) % len(class_names)
        pred_pos = outcome in ("TP", "FP")
        other = (target_class + 2) % len(class_names)
        pred_model = target_class if pred_pos else other
        pred_other = target_class if rng.random() < 0.5 else other
        pred_a, pred_b = (pred_model, pred_other) if model == "A" else (pred_other, pred_model)
        score_a = float(rng.uniform(0.55, 0.99) if pred_a == target_class else rng.uniform(0.01, 0.4))
        score_b = float(rng.uniform(0.55, 0.99) if pred_b == target_class else rng.uniform(0.01, 0.4))
        cells = rng.choice(grid * grid, segments_per_image, replace=False)
        for rank, cid in enumerate(cells):
            if i >= n_segments:
                break
            r, c = divmod(int(cid), grid)
            x0, y0 = c * cell, r * cell
            crop = photo[y0:y0 + cell, x0:x0 + cell]
            thumbs[i] = np.asarray(Image.fromarray(crop).resize((thumb_size, thumb_size), Image.BILINEAR))
            if i % 7 == 3:  # some irregular (SLIC-like) masks
                yy, xx = np.mgrid[:thumb_size, :thumb_size]
                masks[i] = (yy - thumb_size / 2) ** 2 + (xx - thumb_size / 2) ** 2 < (thumb_size / 2.3) ** 2
            rows.append({
                "model": model, "image_index": image_index, "segment_index": int(cid), "rank": rank,
                "bbox": (x0, y0, x0 + cell, y0 + cell), "outcome": outcome,
                "attribution": 0.0, "cluster": 0, "centroid_distance": 0.0, "label": int(label),
                "pred_a": int(pred_a), "pred_b": int(pred_b), "score_a": score_a, "score_b": score_b,
            })
            i += 1
    seg = pd.DataFrame(rows)
    emb = np.concatenate([thumbs.reshape(n_segments, -1, 3).mean(1) / 255.0,
                          thumbs.reshape(n_segments, -1, 3).std(1) / 128.0,
                          rng.normal(0, 0.05, (n_segments, 2))], axis=1)
    lab, dist = _kmeans(emb, n_clusters, seed)
    offset_a = rng.normal(0.02, 0.05, n_clusters)
    offset_b = offset_a + rng.normal(0, 0.08, n_clusters)
    is_a = (seg.model == "A").to_numpy()
    base = np.where(is_a, offset_a[lab], offset_b[lab])
    seg["attribution"] = base + rng.normal(0, 0.04, n_segments) / (1 + seg["rank"].to_numpy())
    seg["cluster"] = lab
    seg["centroid_distance"] = dist
    target = class_names[target_class]
    per_class = {target: seg["attribution"].to_numpy()}
    for k in extra_classes:
        per_class[class_names[k]] = rng.normal(0, 0.05, n_segments)
    return SyntheticResult(
        segments=seg, clusters=_summarize(seg, n_clusters), thumbnails=thumbs, segment_masks=masks,
        source_images=sources, class_names=list(class_names), target_class=target,
        per_class_attribution=per_class,
        model_names=dict(model_names), accuracy={"A": 0.949, "B": 0.796}, warnings=[],
        sampling={"A": {o: {"requested": 25, "taken": 25} for o in OUTCOMES},
                  "B": {o: {"requested": 25, "taken": 25} for o in OUTCOMES}},
        params={"n_clusters": n_clusters, "segmentation": "grid"},
        image_shape=(image_size, image_size), embeddings=emb)


def to_comparison_result(synth: SyntheticResult):
    """The same data as a real :class:`imacs_widget.result.ComparisonResult` (no TensorFlow)."""
    from imacs_widget.result import ClassComparison, ComparisonResult

    per_class = {}
    n = len(synth.segments)
    for name in synth.classes_of_interest:
        seg = synth.segments.copy()
        seg["attribution"] = synth.per_class_attribution.get(name, seg["attribution"].to_numpy())
        cc = ClassComparison(
            target=name, segments=seg, embeddings=np.asarray(synth.embeddings, np.float32),
            shapley_all=np.zeros((n, len(synth.class_names))), thumbnails=synth.thumbnails,
            segment_masks=synth.segment_masks, sampling=synth.sampling, warnings=list(synth.warnings))
        cc.cluster(synth.n_clusters, 0)
        per_class[name] = cc
    res = ComparisonResult(per_class=per_class, class_names=synth.class_names,
                           model_names=synth.model_names, accuracy=synth.accuracy,
                           source_images=synth.source_images, image_shape=synth.image_shape,
                           params=dict(synth.params), seed=0)
    res.target_class = synth.target_class
    return res
