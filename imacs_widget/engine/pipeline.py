"""``compare()``: the IMACS pipeline, orchestration only (each stage lives in its own module).

validation → models → predictions → sampling → segmentation → ranking → Shapley → embedding →
clustering → summary → :class:`~imacs_widget.result.ComparisonResult` (with the thumbnails the
views show, cut by :mod:`imacs_widget.widget.thumbnails`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.sources import SampledImages, as_image_source
from ..errors import ImacsInputError
from ..io.cache import AttributionCache
from ..models.adapter import as_adapter
from ..result import ClassComparison, ComparisonResult
from ..widget.thumbnails import segment_thumbnails, source_previews
from .crops import detect_pixel_range
from .embedding.segments import embed_segments
from .masking import blur_images
from .predictions import Predictions
from .progress import stage
from .sampling import Sample, sample
from .segmentation import segment_bboxes, segment_images
from .settings import RunSettings
from .shapley import known_coalitions, segment_shapley
from .validation import as_labels, resolve_class, resolve_class_names

CHUNK_IMAGES = 8
"""Images per attribution step: a progress tick and a cache write (model batches stay full,
since masked images of several images share a batch)."""
PIXEL_PROBE = 256
"""Images read per chunk of the prediction stage; the first chunk also gives the pixel range."""


def compare(model_a, model_b, images, labels=None, *, class_names: Sequence[str] | None = None,
            target_class=None, n_clusters: int = 8, seed: int = 0,
            sampling: str = "balanced", n_per_model: int = 100, outcome: str | None = None,
            min_confidence: float = 0.0, segmentation: str = "grid", grid=(4, 4),
            n_segments: int = 16, k: int = 5, ranking="loo", blur_sigma: float | None = None,
            embedder="efficientnet_lite0", score: str = "probability",
            preprocess_a=None, preprocess_b=None, name_a: str = "A", name_b: str = "B",
            batch_size: int = 64, cache_dir=None, progress: bool = True,
            image_size=None) -> ComparisonResult:
    """Compare what two image classifiers rely on for a class of interest (IMACS).

    Parameters
    ----------
    model_a, model_b : model or ModelAdapter
        The two models, each as it is: a Keras 3 model, a PyTorch ``nn.Module`` (channels-first
        0..1 input by default), a Hugging Face image classifier (pass its image processor as
        ``preprocess_a`` / ``_b``, or it is loaded from the model's folder), an ONNX Runtime
        session or ``.onnx`` path, or a callable mapping ``float32 [N, H, W, 3]`` (after its
        preprocessing) to ``[N, C]`` probabilities or logits (see
        :class:`~imacs_widget.models.ModelAdapter`). Both must score the same classes.
    images : array, list, folder, files or dataset
        The evaluation images as they are (see :mod:`imacs_widget.data`): an array
        ``[N, H, W, 3]`` (uint8 0–255 or float in any scale, e.g. 0–1, −1–1 or normalised;
        grayscale and RGBA converted), a list of arrays or PIL images of any sizes, a list of
        file paths, a folder with one sub-folder per class, a PyTorch ``Dataset`` /
        ``DataLoader``, a Hugging Face ``datasets.Dataset`` or a ``tf.data.Dataset``. Read in
        chunks; unreadable files are skipped with a warning. Models get the pixels as given
        (then their own ``preprocess``); thumbnails map the detected range to 0–255.
    labels : array-like, optional
        ``[N]`` true class indices or names (or one-hot ``[N, C]``); default: the data's own
        (folder names, a dataset's label column).
    class_names : sequence of str, optional
        Names of the ``C`` classes (default: a Hugging Face model's ``id2label``, else
        ``"0".."C-1"``).
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
        paper's XRAI + Guided IG), or a ranker callable (see
        :mod:`imacs_widget.engine.ranking`). Rankings compare log-odds whatever ``score`` is
        attributed, and ``seed`` breaks exact ties.
    blur_sigma : float, optional
        Gaussian blur of excluded segments, in pixels (default: 1/16 of the shorter side).
    embedder : str or callable
        ``"efficientnet_lite0"`` (offline default), ``"inception_v3"`` or a callable.
    score : {"probability", "logit"}
        What is attributed: softmax probability (default) or logit.
    preprocess_a, preprocess_b : str, callable or image processor, optional
        Per-model preprocessing from the images' pixel scale (see
        :class:`~imacs_widget.models.ModelAdapter`; default: the model kind's own).
    name_a, name_b : str
        Display names of the models.
    batch_size : int
        Images per model call (masked images of several images share a batch).
    cache_dir : str or path, optional
        Folder for a per-image attribution cache; an interrupted run resumes from it. Entries
        are keyed by what each model computes (Keras: its weights; other models: their code's
        name and outputs on a fixed probe batch; or ``ModelAdapter(model, fingerprint=...)``),
        the image, its segmentation and the attribution settings.
    progress : bool
        Show progress bars (tqdm) for each stage.
    image_size : (int, int), optional
        ``(height, width)`` every image is read at; default: the most common size in the data
        (images of other sizes are resized).

    Returns
    -------
    ComparisonResult
    """
    settings = RunSettings(sampling=sampling, n_per_model=n_per_model, outcome=outcome,
                           min_confidence=min_confidence, segmentation=segmentation, grid=grid,
                           n_segments=n_segments, k=k, ranking=ranking, blur_sigma=blur_sigma,
                           score=score, n_clusters=n_clusters, seed=seed, batch_size=batch_size)
    source = as_image_source(images, image_size=image_size)
    n = len(source)
    chunks = source.chunks(PIXEL_PROBE)  # read once: the first chunk also sets the pixel range
    first_chunk = next(chunks)
    _, first, first_ok = first_chunk
    if not first_ok.any():
        raise ImacsInputError("images", f"none of the first {len(first_ok)} images could be read")
    pixel_range = detect_pixel_range(first[first_ok])
    adapters = {"A": as_adapter(model_a, name_a, preprocess=preprocess_a, score=score,
                                batch_size=batch_size),
                "B": as_adapter(model_b, name_b, preprocess=preprocess_b, score=score,
                                batch_size=batch_size)}
    for ad in adapters.values():
        ad.pixel_range = pixel_range  # what preprocess="unit_range" maps to 0..1
    preds_all, valid = _predict(source, adapters, progress, itertools.chain([first_chunk], chunks))
    preds = {m: p.subset(valid) for m, p in preds_all.items()}  # the images that could be read
    if class_names is None:  # the data's (folder names, ClassLabel) or the model's (id2label)
        class_names = (source.class_names or adapters["A"].class_names
                       or adapters["B"].class_names)
    labels = _take(_labels_of(source, labels), valid)
    names, y, target_ids = _resolve_classes(preds, labels, len(valid), class_names, target_class)
    y_all = np.full(n, -1, np.int64)
    y_all[valid] = y

    imgs = SampledImages(source)
    run = _Run(settings=settings, images=imgs, adapters=adapters, preds=preds_all,
               pixel_range=pixel_range, sigma=settings.sigma(*source.image_shape),
               progress=progress,
               cache=AttributionCache(cache_dir) if cache_dir is not None else None)
    per_class, previews, emb = {}, {}, None
    for t in target_ids:
        smp = sample(preds["A"], preds["B"], y, t, settings.sampling, settings.n_per_model,
                     settings.seed, settings.outcome, settings.min_confidence, target_name=names[t])
        for m in ("A", "B"):  # back to indices of the user's data
            smp.indices[m] = valid[smp.indices[m]]
        _check_cluster_count(settings, smp, names[t])
        imgs.load(np.concatenate([smp.indices["A"], smp.indices["B"]]))
        seg, shap_all = run.attribute(smp, t)
        if seg.empty:
            raise ImacsInputError("images", f"no segment could be attributed for class {names[t]!r}")
        seg["source"] = [source.ref(i) for i in seg["image_index"]]
        seg["label"] = y_all[seg["image_index"].to_numpy()]
        for m, col in (("A", "a"), ("B", "b")):
            ii = seg["image_index"].to_numpy()
            seg[f"pred_{col}"] = preds_all[m].predicted[ii]
            seg[f"score_{col}"] = preds_all[m].scores[ii, t]
        if emb is None:
            from .embedding.embedders import get_embedder

            emb = get_embedder(embedder)
        cc = run.class_comparison(names[t], seg, shap_all, smp, emb)
        previews.update(source_previews(
            imgs, [i for i in seg["image_index"] if int(i) not in previews], run.pixel_range))
        per_class[names[t]] = cc

    params = settings.params(blur_sigma=float(run.sigma), pixel_range=list(run.pixel_range))
    if run.cache is not None:  # how much a resumed run reused (images: hits skipped recomputation)
        params["cache_hits"], params["cache_misses"] = int(run.cache.hits), int(run.cache.misses)
    return ComparisonResult(per_class=per_class, class_names=names,
                            model_names={m: ad.name for m, ad in adapters.items()},
                            accuracy={m: preds[m].accuracy(y) for m in ("A", "B")},
                            source_images=previews, image_shape=tuple(source.image_shape),
                            params=params, seed=settings.seed)


def _predict(source, adapters, progress, chunks) -> tuple[dict, np.ndarray]:
    """Both models over the whole source, read a chunk at a time (``chunks``: the source's
    ``(indices, images, ok)`` chunks; each image is read once).

    Returns ``{model: Predictions}`` over every index (rows of unreadable images are NaN) and
    the indices that could be read.
    """
    n = len(source)
    raws = {m: None for m in adapters}
    ok_all = np.zeros(n, bool)
    with stage("predict A+B", 2 * n, progress) as tick:
        for idx, images, ok in chunks:
            ok_all[idx] = ok
            for m, ad in adapters.items():
                out = ad.raw(images[ok]) if ok.any() else None
                if out is not None:
                    if raws[m] is None:
                        raws[m] = np.full((n, out.shape[1]), np.nan)
                    raws[m][idx[ok]] = out
                tick(len(idx))
    valid = np.flatnonzero(ok_all)
    if not len(valid):
        raise ImacsInputError("images", "no image could be read")
    return {m: Predictions.from_raw(adapters[m], raws[m]) for m in adapters}, valid


def _labels_of(source, labels):
    """The labels given, else the data's own; an error naming ``labels`` when there are none
    or their count is not the number of images."""
    if labels is None:
        labels = source.labels
        if labels is None:
            raise ImacsInputError("labels", f"are required: {source.kind} data without labels of "
                                  "its own (pass labels=[...], or a folder with one sub-folder "
                                  "per class, or a dataset with a label column)")
    elif len(labels) != len(source):
        raise ImacsInputError("labels", f"has {len(labels)} entries but images has "
                              f"{len(source)}; they must have the same length")
    return labels


def _take(labels, valid: np.ndarray):
    """``labels`` at ``valid`` (an array, a list of ints / names, or one-hot rows)."""
    if isinstance(labels, np.ndarray):
        return labels[valid]
    labels = list(labels)
    kinds = {type(v).__name__ for v in labels if v is not None}
    if any(isinstance(v, str) for v in labels) and any(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels):
        raise ImacsInputError("labels", f"mix class names and class indices ({sorted(kinds)}); "
                              "use one kind")
    return np.asarray([labels[i] for i in valid])


def _resolve_classes(preds, labels, n, class_names, target_class):
    """Class names, integer labels and the classes of interest (ids), checked."""
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
    return names, y, list(dict.fromkeys(resolve_class(t, names) for t in targets))


def _check_cluster_count(settings: RunSettings, smp: Sample, target_name: str) -> None:
    """Fail before any attribution work when a grid run can't fill ``n_clusters`` clusters."""
    per_image = settings.max_segments_per_image()
    n_imgs = len(smp.indices["A"]) + len(smp.indices["B"])
    if per_image is not None and settings.n_clusters > n_imgs * per_image:
        raise ImacsInputError("n_clusters", f"is {settings.n_clusters} but class {target_name!r} "
                              f"will have only {n_imgs * per_image} segments ({n_imgs} sampled "
                              f"images x k={settings.k}); choose fewer clusters")


@dataclass
class _Run:
    """State shared by the stages of one ``compare()`` call."""

    settings: RunSettings
    images: np.ndarray
    adapters: dict
    preds: dict
    pixel_range: tuple[float, float]
    sigma: float
    progress: bool
    cache: AttributionCache | None
    label_maps: dict = field(default_factory=dict)
    """image index → label map, for every image attributed so far."""

    def attribute(self, smp: Sample, target: int) -> tuple[pd.DataFrame, np.ndarray]:
        """Rank and attribute the sampled images of both models, :data:`CHUNK_IMAGES` at a time.

        Returns the segments table (one row per ranked segment) and ``float64 [rows, C]``
        Shapley values of every class.
        """
        rows, shap_all = [], []
        total = sum(len(smp.indices[m]) for m in ("A", "B"))
        with stage("attribute (rank + Shapley)", total, self.progress) as tick:
            for m in ("A", "B"):
                idx_all, out_all = smp.indices[m], smp.outcomes[m]
                for s in range(0, len(idx_all), CHUNK_IMAGES):
                    idx = idx_all[s:s + CHUNK_IMAGES]
                    for j, (i, h) in enumerate(zip(idx, self._attribute_chunk(m, idx, target),
                                                   strict=True)):
                        boxes = segment_bboxes(self.label_maps[int(i)])
                        for rank, (sid, v) in enumerate(zip(h["segments"], h["values"], strict=True)):
                            rows.append({"model": m, "image_index": int(i), "segment_index": int(sid),
                                         "rank": rank, "bbox": tuple(int(b) for b in boxes[sid]),
                                         "outcome": str(out_all[s + j]),
                                         "attribution": float(v[target])})
                            shap_all.append(np.asarray(v, np.float64))
                    tick(len(idx))
        shap = np.stack(shap_all) if shap_all else np.zeros((0, 0))
        return pd.DataFrame(rows), shap

    def _attribute_chunk(self, m: str, idx: np.ndarray, target: int) -> list[dict]:
        """Ranked segment ids and Shapley values of images ``idx`` for model ``m`` (cached)."""
        st, ad, cache = self.settings, self.adapters[m], self.cache
        x = np.asarray(self.images[idx], dtype=np.float32)
        lmaps = segment_images(x, **st.segmentation_options)
        self.label_maps.update(zip((int(i) for i in idx), lmaps, strict=True))
        keys = [None] * len(idx)
        if cache is not None:
            fp = ad.fingerprint(tuple(x.shape[1:3]), self.pixel_range)
            part = st.attribution_key(target, self.sigma)
            keys = [cache.key(fp, self.images[i], lm, part) for i, lm in zip(idx, lmaps, strict=True)]
        hits = [cache.get(key) if cache is not None else None for key in keys]
        todo = [j for j, h in enumerate(hits) if h is None]
        if todo:
            xt = x[todo]
            blurred = blur_images(xt, self.sigma)
            lt = [lmaps[j] for j in todo]
            ranked = st.ranker(ad, xt, lt, blurred, target, st.k,
                               full_scores=self.preds[m].log_odds[idx[todo]],
                               batch_size=st.batch_size, seed=st.seed)
            known = known_coalitions(ranked, self.preds[m].scores[idx[todo]],
                                     getattr(ranked, "masked_scores", None))
            vals = segment_shapley(ad.scores, xt, lt, blurred, ranked, st.batch_size, known=known)
            for j, r, v in zip(todo, ranked, vals, strict=True):
                hits[j] = {"segments": np.asarray(r, np.int64), "values": v}
                if cache is not None:
                    cache.put(keys[j], segments=hits[j]["segments"], values=v)
        return hits

    def class_comparison(self, target_name: str, seg: pd.DataFrame, shap_all: np.ndarray,
                         smp: Sample, embedder) -> ClassComparison:
        """Embed, cut thumbnails and cluster one class's segments."""
        keys = list(zip(seg["image_index"], seg["segment_index"], strict=True))
        embeddings = embed_segments(self.images, keys, self.label_maps, self.pixel_range,
                                    embedder, self.progress)
        thumbs, masks = segment_thumbnails(self.images, keys, self.label_maps, self.pixel_range)
        n_cl = self.settings.n_clusters
        if n_cl > len(seg):  # only possible with SLIC; keep the finished work, say so
            n_cl = len(seg)
            smp.warnings.append(f"n_clusters={self.settings.n_clusters} exceeds the {len(seg)} "
                                f"segments of class {target_name!r}; clustered into {n_cl}")
        cc = ClassComparison(target=target_name, segments=seg, embeddings=embeddings,
                             shapley_all=shap_all, thumbnails=thumbs, segment_masks=masks,
                             sampling={"counts": smp.counts}, warnings=list(smp.warnings))
        cc.cluster(n_cl, self.settings.seed)
        return cc

