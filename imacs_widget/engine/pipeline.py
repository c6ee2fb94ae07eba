"""``compare()``: the IMACS pipeline, orchestration only (each stage lives in its own module).

models → predictions → sampling → segmentation → ranking → Shapley → embedding → clustering →
summary → :class:`~imacs_widget.result.ComparisonResult`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ImacsInputError
from ..io.cache import AttributionCache
from ..models.adapter import as_adapter
from ..result import ClassComparison, ComparisonResult
from . import crops as crops_mod
from .masking import blur_images, default_sigma
from .predictions import Predictions
from .progress import stage
from .ranking import get_ranker
from .sampling import sample
from .segmentation import segment_bboxes, segment_images
from .shapley import segment_shapley
from .validation import as_image_batch, as_labels, resolve_class, resolve_class_names

THUMB_SIZE = 64
SOURCE_SIZE = 128
CHUNK_IMAGES = 8  # images per attribution chunk: progress tick + cache write (batches stay full)
EMBED_CHUNK = 256


def compare(model_a, model_b, images, labels, *, class_names: Sequence[str] | None = None,
            target_class=None, n_clusters: int = 8, seed: int = 0,
            sampling: str = "balanced", n_per_model: int = 100, outcome: str | None = None,
            min_confidence: float = 0.0, segmentation: str = "grid", grid=(4, 4),
            n_segments: int = 16, k: int = 5, ranking="loo", blur_sigma: float | None = None,
            embedder="efficientnet_lite0", score: str = "probability",
            preprocess_a=None, preprocess_b=None, name_a: str = "A", name_b: str = "B",
            batch_size: int = 64, cache_dir=None, progress: bool = True) -> ComparisonResult:
    """Compare what two image classifiers rely on for a class of interest (IMACS).

    Parameters
    ----------
    model_a, model_b : keras.Model, callable or ModelAdapter
        The two models. A callable maps ``float32 [N, H, W, 3]`` (after its preprocessing) to
        ``[N, C]`` probabilities or logits. Both must have the same number of classes.
    images : array-like
        ``[N, H, W, 3]`` evaluation images (uint8 0–255 or float; grayscale and RGBA converted).
    labels : array-like
        ``[N]`` true class indices or names (or one-hot ``[N, C]``).
    class_names : sequence of str, optional
        Names of the ``C`` classes (default ``"0".."C-1"``).
    target_class : str, int or sequence
        Class(es) of interest. Several classes are each sampled and clustered on their own; the
        result shows one at a time (``result.select_class``).
    n_clusters : int
        k-means clusters (re-cluster later with ``result.recluster``).
    seed : int
        Seed of sampling and k-means: same inputs and seed → identical results.
    sampling : {"balanced", "all", "disagreements", "outcome"}
        Which images each model explains (see :mod:`imacs_widget.sampling`).
    n_per_model : int
        Images per model (balanced: a quarter per TP/TN/FP/FN cell).
    outcome : {"TP", "TN", "FP", "FN"}, optional
        With ``sampling="outcome"``.
    min_confidence : float
        With ``sampling="disagreements"``: minimum ``|score_A - score_B|`` for the class.
    segmentation : {"grid", "slic"}
        ``grid`` rows × cols cells (paper), or SLIC superpixels (``n_segments``).
    k : int
        Segments kept per image (top-k of the ranking), the Shapley players.
    ranking : str or callable
        ``"loo"`` (default; blur one segment at a time, O(segments) passes), ``"xrai"`` (the
        paper's XRAI + Guided IG), or a ranker callable (see :mod:`imacs_widget.ranking`).
    blur_sigma : float, optional
        Gaussian blur of excluded segments, in pixels (default: 1/16 of the shorter side).
    embedder : str or callable
        ``"efficientnet_lite0"`` (offline default), ``"inception_v3"`` or a callable.
    score : {"probability", "logit"}
        What is attributed: softmax probability (default) or logit.
    preprocess_a, preprocess_b : str or callable, optional
        Per-model preprocessing from the images' pixel scale (see :class:`ModelAdapter`).
    name_a, name_b : str
        Display names of the models.
    batch_size : int
        Images per model call (masked images of several images share a batch).
    cache_dir : str or path, optional
        Folder for a per-image attribution cache; an interrupted run resumes from it.
    progress : bool
        Show progress bars (tqdm) for each stage.

    Returns
    -------
    ComparisonResult
    """
    imgs = as_image_batch(images)
    n = len(imgs)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ImacsInputError("n_clusters", f"must be a positive integer, got {n_clusters!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 16:
        raise ImacsInputError("k", f"must be an integer in 1..16, got {k!r}")
    ranker = get_ranker(ranking)
    ad_a = as_adapter(model_a, name_a, preprocess=preprocess_a, score=score, batch_size=batch_size)
    ad_b = as_adapter(model_b, name_b, preprocess=preprocess_b, score=score, batch_size=batch_size)
    adapters = {"A": ad_a, "B": ad_b}

    with stage("predict A+B", 2 * n, progress) as tick:
        preds = {m: Predictions.compute(adapters[m], imgs, tick) for m in ("A", "B")}
    c_a, c_b = preds["A"].scores.shape[1], preds["B"].scores.shape[1]
    if c_a != c_b:
        raise ImacsInputError("model_b", f"outputs {c_b} classes but model_a outputs {c_a}; both "
                              "models must score the same classes")
    names = resolve_class_names(class_names, c_a)
    y = as_labels(labels, n, names)
    if target_class is None:
        raise ImacsInputError("target_class", f"is required: the class of interest, one of {names[:20]}")
    targets = [target_class] if isinstance(target_class, (str, int, np.integer)) else list(target_class)
    if not targets:
        raise ImacsInputError("target_class", "is an empty list")
    target_ids = list(dict.fromkeys(resolve_class(t, names) for t in targets))

    pixel_max = crops_mod.detect_pixel_max(imgs[: min(n, 256)])
    sigma = blur_sigma if blur_sigma is not None else default_sigma(*imgs.shape[1:3])
    emb = None
    cache = AttributionCache(cache_dir) if cache_dir is not None else None
    seg_opts = dict(method=segmentation, grid=tuple(grid), n_segments=n_segments)
    params = dict(sampling=sampling, n_per_model=n_per_model, outcome=outcome,
                  min_confidence=min_confidence, segmentation=segmentation, grid=list(grid),
                  n_segments=n_segments, k=int(k), ranking=getattr(ranker, "ranker_name", str(ranking)),
                  blur_sigma=float(sigma), score=score, seed=int(seed), n_clusters=int(n_clusters),
                  pixel_max=pixel_max)

    per_class, sources, label_maps = {}, {}, {}
    for t in target_ids:
        smp = sample(preds["A"], preds["B"], y, t, sampling, n_per_model, seed, outcome,
                     min_confidence, target_name=names[t])
        n_imgs = len(smp.indices["A"]) + len(smp.indices["B"])
        if segmentation == "grid" and n_clusters > n_imgs * min(int(k), grid[0] * grid[1]):
            raise ImacsInputError("n_clusters", f"is {n_clusters} but class {names[t]!r} will have "
                                  f"only {n_imgs * min(int(k), grid[0] * grid[1])} segments "
                                  f"({n_imgs} sampled images x k={k}); choose fewer clusters")
        rows, shap_all = _attribute(adapters, imgs, smp, t, ranker, int(k), sigma, seg_opts,
                                    preds, batch_size, cache, params, progress, seed, label_maps)
        if not rows:
            raise ImacsInputError("images", f"no segment could be attributed for class {names[t]!r}")
        seg = pd.DataFrame(rows)
        seg["label"] = y[seg["image_index"].to_numpy()]
        for m, col in (("A", "a"), ("B", "b")):
            ii = seg["image_index"].to_numpy()
            seg[f"pred_{col}"] = preds[m].predicted[ii]
            seg[f"score_{col}"] = preds[m].scores[ii, t]
        if emb is None:
            from .embedding.embedders import get_embedder

            emb = get_embedder(embedder)
        embeddings, thumbs, masks = _embed_and_thumb(seg, imgs, pixel_max, label_maps, emb, progress)
        for i in np.unique(seg["image_index"]):
            if int(i) not in sources:
                sources[int(i)] = crops_mod.downscale(crops_mod.to_uint8(imgs[i], pixel_max), SOURCE_SIZE)
        n_cl = int(n_clusters)
        if n_cl > len(seg):  # only possible with SLIC; keep the finished work, say so
            n_cl = len(seg)
            smp.warnings.append(f"n_clusters={n_clusters} exceeds the {len(seg)} segments of class "
                                f"{names[t]!r}; clustered into {n_cl}")
        cc = ClassComparison(target=names[t], segments=seg, embeddings=embeddings,
                             shapley_all=shap_all, thumbnails=thumbs, segment_masks=masks,
                             sampling={"counts": smp.counts}, warnings=list(smp.warnings))
        cc.cluster(n_cl, int(seed))
        per_class[names[t]] = cc

    if cache is not None:  # how much a resumed run reused (images: hits skipped recomputation)
        params["cache_hits"], params["cache_misses"] = int(cache.hits), int(cache.misses)
    accuracy = {m: preds[m].accuracy(y) for m in ("A", "B")}
    return ComparisonResult(per_class=per_class, class_names=names,
                            model_names={"A": ad_a.name, "B": ad_b.name}, accuracy=accuracy,
                            source_images=sources, image_shape=tuple(imgs.shape[1:3]),
                            params=params, seed=int(seed))


def _attribute(adapters, imgs, smp, target, ranker, k, sigma, seg_opts, preds, batch_size,
               cache, params, progress, seed, label_maps):
    """Rank and attribute the sampled images of both models, a chunk of images at a time.

    ``label_maps`` (image index → label map) is filled in for later stages.
    """
    rows, shap_all = [], []
    pkey = (f"{params['ranking']}|k={k}|sigma={sigma}|target={target}|score={params['score']}|"
            f"{seg_opts}")
    total = sum(len(smp.indices[m]) for m in ("A", "B"))
    with stage("attribute (rank + Shapley)", total, progress) as tick:
        for m in ("A", "B"):
            ad = adapters[m]
            idx_all = smp.indices[m]
            out_all = smp.outcomes[m]
            for s in range(0, len(idx_all), CHUNK_IMAGES):
                idx = idx_all[s:s + CHUNK_IMAGES]
                x = np.asarray(imgs[idx], dtype=np.float32)
                lmaps = segment_images(x, **seg_opts)
                label_maps.update(zip((int(i) for i in idx), lmaps, strict=True))
                keys = [cache.key(ad.fingerprint(), imgs[i], lm, pkey) if cache else None
                        for i, lm in zip(idx, lmaps, strict=True)]
                hits = [cache.get(key) if cache else None for key in keys]
                todo = [j for j, h in enumerate(hits) if h is None]
                if todo:
                    xt = x[todo]
                    blurred = blur_images(xt, sigma)
                    lt = [lmaps[j] for j in todo]
                    ranked = ranker(ad, xt, lt, blurred, target, k,
                                    full_scores=preds[m].scores[idx[todo]],
                                    batch_size=batch_size, seed=seed)
                    vals = segment_shapley(ad.scores, xt, lt, blurred, ranked, batch_size)
                    for j, r, v in zip(todo, ranked, vals, strict=True):
                        hits[j] = {"segments": np.asarray(r, np.int64), "values": v}
                        if cache:
                            cache.put(keys[j], segments=hits[j]["segments"], values=v)
                for j, (i, lm, h) in enumerate(zip(idx, lmaps, hits, strict=True)):
                    boxes = segment_bboxes(lm)
                    for rank, (sid, v) in enumerate(zip(h["segments"], h["values"], strict=True)):
                        rows.append({"model": m, "image_index": int(i), "segment_index": int(sid),
                                     "rank": rank, "bbox": tuple(int(b) for b in boxes[sid]),
                                     "outcome": str(out_all[s + j]),
                                     "attribution": float(v[target])})
                        shap_all.append(np.asarray(v, np.float64))
                tick(len(idx))
    shap = np.stack(shap_all) if shap_all else np.zeros((0, 0))
    return rows, shap


def _embed_and_thumb(seg, imgs, pixel_max, label_maps, emb, progress):
    """Embed each distinct (image, segment) once; make a letterboxed thumbnail per row.

    Embedder-sized crops are built and embedded about ``EMBED_CHUNK`` at a time (a multiple of
    the embedder's batch size, so its batches are unchanged), so memory does not grow with the
    number of segments times the embedder's input size.
    """
    keys = list(zip(seg["image_index"], seg["segment_index"], strict=True))
    uniq = list(dict.fromkeys(keys))
    pos = {key: i for i, key in enumerate(uniq)}
    thumbs = np.empty((len(uniq), THUMB_SIZE, THUMB_SIZE, 3), np.uint8)
    masks = np.empty((len(uniq), THUMB_SIZE, THUMB_SIZE), bool)
    bs = int(getattr(emb, "batch_size", 1) or 1)
    step = bs * max(1, EMBED_CHUNK // bs)
    parts = []
    with stage("embed segments", len(uniq), progress, unit="seg") as tick:
        cur, img8, lm, boxes = None, None, None, None
        for s in range(0, len(uniq), step):
            chunk = uniq[s:s + step]
            crops_in = np.empty((len(chunk), emb.input_size, emb.input_size, 3), np.uint8)
            for j, key in enumerate(chunk):
                i, sid = int(key[0]), int(key[1])
                if i != cur:
                    cur, img8, lm = i, crops_mod.to_uint8(imgs[i], pixel_max), label_maps[i]
                    boxes = segment_bboxes(lm)
                crops_in[j] = crops_mod.segment_crop(img8, lm, sid, boxes[sid], emb.input_size)[0]
                thumbs[s + j], masks[s + j] = crops_mod.segment_crop(
                    img8, lm, sid, boxes[sid], THUMB_SIZE, letterbox=True)
            parts.append(emb(crops_in, tick))
    e = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    take = np.array([pos[key] for key in keys], dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return e[take], thumbs[take], masks[take]
