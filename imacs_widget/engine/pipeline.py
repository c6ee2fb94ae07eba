"""``compare()``: the IMACS pipeline, orchestration only (each stage lives in its own module).

validation → models → predictions → sampling → segmentation → ranking → Shapley → embedding →
clustering → summary → :class:`~imacs_widget.result.ComparisonResult` (with the thumbnails the
views show, cut by :mod:`imacs_widget.widget.thumbnails`).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.sources import as_image_source
from ..errors import ImacsInputError
from ..io.store import ResultStore
from ..models.adapter import as_adapter
from ..result import ClassComparison, ComparisonResult
from .crops import detect_pixel_range
from .executors import as_executor
from .predictions import Predictions
from .progress import stage
from .sampling import Sample, sample
from .settings import RunSettings
from .summary import model_keys
from .validation import as_labels, resolve_class, resolve_class_names
from .work import ChunkTask, Worker

CHUNK_IMAGES = 32
"""Images per unit of attribution work (a progress tick, a Ray task); the masked images of a
chunk's images share model batches."""
PIXEL_PROBE = 256
"""Images read per chunk of the prediction stage; the first chunk also gives the pixel range."""


def compare(model_a, model_b=None, images=None, labels=None, *,
            class_names: Sequence[str] | None = None,
            target_class=None, n_clusters: int = 8, seed: int = 0,
            sampling: str = "balanced", n_per_model: int = 100, outcome: str | None = None,
            min_confidence: float = 0.0, segmentation: str = "grid", grid=(4, 4),
            n_segments: int = 16, k: int = 5, ranking="loo", blur_sigma: float | None = None,
            baseline="blur", embedder="efficientnet_lite0", score: str = "probability",
            preprocess_a=None, preprocess_b=None, name_a: str = "A", name_b: str = "B",
            batch_size: int = 64, cache_dir=None, progress: bool = True,
            image_size=None, store=None, executor=None, preprocess=None) -> ComparisonResult:
    """Compare what two (or up to eight) image classifiers rely on for a class of interest (IMACS).

    ``compare(model_a, model_b, images, labels)`` compares two models;
    ``compare({"v1": m1, "v2": m2, "v3": m3}, images, labels)`` compares 2 to 8 models named by
    the dict's keys (keys ``"A"``, ``"B"``, ``"C"``, ... in the dict's order in
    ``result.segments["model"]``; the names in ``result.model_names``). Every model samples its
    own balanced confusion matrix; the segments of all models are pooled and clustered once.

    Parameters
    ----------
    model_a, model_b : model or ModelAdapter
        The two models, each as it is: a Keras 3 model, a PyTorch ``nn.Module`` (channels-first
        0..1 input by default), a Hugging Face image classifier (pass its image processor as
        ``preprocess_a`` / ``_b``, or it is loaded from the model's folder), an ONNX Runtime
        session or ``.onnx`` path, or a callable mapping ``float32 [N, H, W, 3]`` (after its
        preprocessing) to ``[N, C]`` probabilities or logits (see
        :class:`~imacs_widget.models.ModelAdapter`). All must score the same classes.
        Or ``model_a`` is a dict ``{name: model}`` of 2 to 8 models and the next positional
        argument is ``images``.
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
    baseline : str, colour or callable
        What an excluded segment shows: ``"blur"`` (default, the paper's), ``"mean"`` (the
        image's mean colour), a constant colour in the images' pixel scale (``0``, or
        ``(124, 116, 104)``), or ``fn(images [n, H, W, 3]) -> same shape`` (see
        :func:`~imacs_widget.engine.masking.baseline_images`). The ranking, the Shapley game
        and the faithfulness curves all use it.
    embedder : str or callable
        ``"efficientnet_lite0"`` (offline default), ``"inception_v3"`` or a callable.
    score : {"probability", "logit"}
        What is attributed: softmax probability (default) or logit.
    preprocess_a, preprocess_b : str, callable or image processor, optional
        Per-model preprocessing from the images' pixel scale (see
        :class:`~imacs_widget.models.ModelAdapter`; default: the model kind's own).
    name_a, name_b : str
        Display names of the models (with a dict of models: its keys).
    preprocess : dict, optional
        With a dict of models: ``{name: preprocess}`` for some of them (as ``preprocess_a``).
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
    store : str or path, optional
        A new folder the result is written to as it is produced (embeddings, Shapley values,
        thumbnails: nothing per segment is held in memory); the result reads it on demand and
        ``imacs_widget.load(store)`` opens it later. Default: a temporary folder, removed with
        the result (``result.save(path)`` keeps it).
    executor : {"local", "ray"} or executor, optional
        Where the per-image work runs: here (default), or sharded over a Ray cluster
        (``"ray"``: the cluster ``ray.init`` connected to, else a new local one; or a
        :class:`~imacs_widget.engine.ray_executor.RayExecutor` with its options). The same
        seed gives the same result either way.

    Returns
    -------
    ComparisonResult
    """
    models = _models_of(model_a, model_b, images, labels, preprocess_a, preprocess_b, name_a,
                        name_b, preprocess)
    if isinstance(model_a, Mapping) and model_b is not None:  # compare(models, images, labels)
        images, labels = model_b, (images if images is not None else labels)
    if images is None:
        raise ImacsInputError("images", "is required: the evaluation images")
    settings = RunSettings(sampling=sampling, n_per_model=n_per_model, outcome=outcome,
                           min_confidence=min_confidence, segmentation=segmentation, grid=grid,
                           n_segments=n_segments, k=k, ranking=ranking, blur_sigma=blur_sigma,
                           baseline=baseline, score=score, n_clusters=n_clusters, seed=seed, batch_size=batch_size)
    source = as_image_source(images, image_size=image_size)
    display = [m[0] for m in models] if isinstance(model_a, Mapping) else None
    return run_comparison(source, models, labels, settings, class_names=class_names,
                          target_class=target_class, embedder=embedder, cache_dir=cache_dir,
                          progress=progress, store=store, executor=executor, display=display)


def run_comparison(source, models, labels, settings: RunSettings, *, class_names, target_class,
                   embedder, cache_dir, progress, store, executor, display=None,
                   sides=None) -> ComparisonResult:
    """The pipeline behind :func:`compare` and
    :func:`~imacs_widget.engine.dataset_pair.compare_datasets`, their arguments checked.

    ``models``: ``[(name, model, preprocess), ...]`` (one ``ModelAdapter`` given for several
    keys is one model: it runs once per image); ``display``: the names shown (default: the adapters' own);
    ``sides``: ``{key: (start, stop)}`` the range of ``source`` each key may sample from
    (default: every key samples from all of it).
    """
    ex = as_executor(executor)
    temporary = store is None  # checked before any work: a store folder must be new
    out_dir = Path(tempfile.mkdtemp(prefix="imacs-result-")) if temporary else Path(store)
    rs = ResultStore.create(out_dir)
    try:
        return _compare(source, ex, rs, temporary, settings, models, labels, class_names,
                        target_class, embedder, cache_dir, progress, display, sides)
    except BaseException:
        if temporary:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _models_of(model_a, model_b, images, labels, preprocess_a, preprocess_b, name_a, name_b,
               preprocess) -> list[tuple[str, object, object]]:
    """``[(display name, model, preprocess), ...]`` of a pair or a dict of models, checked
    (2 to 8 models, options that belong to the other form refused)."""
    if not isinstance(model_a, Mapping):
        if model_b is None:
            raise ImacsInputError("model_b", "is required: compare(model_a, model_b, images, "
                                  "labels), or compare({name: model, ...}, images, labels)")
        if preprocess is not None:
            raise ImacsInputError("preprocess", "goes with a dict of models; for two models use "
                                  "preprocess_a= / preprocess_b=")
        return [(str(name_a), model_a, preprocess_a), (str(name_b), model_b, preprocess_b)]
    for arg, v, default in (("preprocess_a", preprocess_a, None),
                            ("preprocess_b", preprocess_b, None), ("name_a", name_a, "A"),
                            ("name_b", name_b, "B")):
        if v != default:
            raise ImacsInputError(arg, "goes with compare(model_a, model_b, ...); with a dict of "
                                  "models the keys are the names and preprocess={name: ...} "
                                  "sets preprocessing")
    if model_b is not None and images is not None and labels is not None:
        raise ImacsInputError("labels", "given twice: with a dict of models the call is "
                              "compare(models, images, labels)")
    names = [str(k) for k in model_a]
    if len(set(names)) != len(names):
        raise ImacsInputError("models", "has keys that are equal as strings; name each model once")
    model_keys(len(names))  # 2 to 8
    preprocess = {str(k): v for k, v in (preprocess or {}).items()}
    unknown = sorted(set(preprocess) - set(names))
    if unknown:
        raise ImacsInputError("preprocess", f"names {unknown}, which are not among the models "
                              f"{names}")
    return [(name, m, preprocess.get(name)) for name, m in zip(names, model_a.values(),
                                                                strict=True)]


def _compare(source, ex, rs, temporary, settings, models, labels, class_names, target_class,
             embedder, cache_dir, progress, display, sides) -> ComparisonResult:
    """The stages of :func:`compare` (its arguments checked, its store ``rs`` created)."""
    score, batch_size = settings.score, settings.batch_size
    n = len(source)
    chunks = source.chunks(PIXEL_PROBE)  # read once: the first chunk also sets the pixel range
    first_chunk = next(chunks)
    _, first, first_ok = first_chunk
    if not first_ok.any():
        raise ImacsInputError("images", f"none of the first {len(first_ok)} images could be read")
    pixel_range = detect_pixel_range(first[first_ok])
    keys = model_keys(len(models))
    adapters = {k: as_adapter(model, name, preprocess=prep, score=score, batch_size=batch_size)
                for k, (name, model, prep) in zip(keys, models, strict=True)}
    for ad in adapters.values():
        ad.pixel_range = pixel_range  # what preprocess="unit_range" maps to 0..1
    sigma = settings.sigma(*source.image_shape)
    worker = Worker(adapters=adapters, embedder=embedder, settings=settings, sigma=sigma,
                    pixel_range=tuple(pixel_range),
                    cache_dir=None if cache_dir is None else str(cache_dir))
    ex.start(worker)
    try:
        preds_all, valid = _predict(source, ex, adapters, progress,
                                    itertools.chain([first_chunk], chunks))
        preds = {m: p.subset(valid) for m, p in preds_all.items()}  # the images that could be read
        if class_names is None:  # the data's (folder names, ClassLabel) or the model's (id2label)
            class_names = source.class_names or next(
                (ad.class_names for ad in adapters.values() if ad.class_names), None)
        labels = _take(_labels_of(source, labels), valid)
        names, y, target_ids = _resolve_classes(preds, labels, len(valid), class_names,
                                                target_class, [m[0] for m in models])
        y_all = np.full(n, -1, np.int64)
        y_all[valid] = y
        allowed = None if sides is None else {
            m: (valid >= lo) & (valid < hi) for m, (lo, hi) in sides.items()}
        samples = {}
        for t in target_ids:  # every class's sample and check before any attribution work
            smp = sample(preds, y, t, settings.sampling, settings.n_per_model,
                         settings.seed, settings.outcome, settings.min_confidence,
                         target_name=names[t], allowed=allowed,
                         side="model" if sides is None else "dataset")
            for m in keys:  # back to indices of the user's data
                smp.indices[m] = valid[smp.indices[m]]
            _check_cluster_count(settings, smp, names[t])
            samples[t] = smp
        previews = rs.preview_writer()
        per_class, hits, misses = {}, 0, 0
        for ci, t in enumerate(target_ids):
            smp = samples[t]
            seg, arrays, h, mi = _attribute_class(source, ex, rs, ci, smp, t, preds_all, previews,
                                                  progress, names[t],
                                                  {m: ad.returns for m, ad in adapters.items()})
            hits, misses = hits + h, misses + mi
            seg["source"] = [source.ref(i) for i in seg["image_index"]]
            if sides is not None:  # two datasets: each image's index in its own
                seg["dataset_index"] = source.local_index(seg["image_index"].to_numpy())
            seg["label"] = y_all[seg["image_index"].to_numpy()]
            ii = seg["image_index"].to_numpy()
            for m in keys:
                col = m.lower()
                seg[f"pred_{col}"] = preds_all[m].predicted[ii]
                seg[f"score_{col}"] = preds_all[m].scores[ii, t]
            per_class[names[t]] = _class_comparison(rs, ci, names[t], seg, arrays, smp, settings)
    finally:
        ex.close()
    params = settings.params(blur_sigma=float(sigma), pixel_range=list(pixel_range))
    if cache_dir is not None:  # how much a resumed run reused (images: hits skipped recomputation)
        params["cache_hits"], params["cache_misses"] = int(hits), int(misses)
    if getattr(ex, "name", None) not in (None, "local"):
        params["executor"] = ex.name
    if sides is not None:
        params["datasets"] = {m: int(hi - lo) for m, (lo, hi) in sides.items()}
    shown = display or [ad.name for ad in adapters.values()]
    result = ComparisonResult(per_class=per_class, class_names=names,
                              model_names=dict(zip(keys, shown, strict=True)),
                              accuracy={m: preds[m].accuracy(y, None if allowed is None
                                                             else allowed[m]) for m in keys},
                              source_images=previews.close(), image_shape=tuple(source.image_shape),
                              params=params, seed=settings.seed)
    from ..io.result_file import write_tables

    write_tables(result, rs)  # the folder is a complete result file (imacs_widget.load(store))
    result.store_path = rs.path
    result._run = {"adapters": adapters, "source": source, "settings": settings}  # not saved
    if temporary:
        weakref.finalize(result, shutil.rmtree, str(rs.path), True)
    return result


def _predict(source, ex, adapters, progress, chunks) -> tuple[dict, np.ndarray]:
    """Every model over the whole source, read a chunk at a time (``chunks``: the source's
    ``(indices, images, ok)`` chunks; each image is read once), run by executor ``ex``.

    Returns ``{model: Predictions}`` over every index (rows of unreadable images are NaN) and
    the indices that could be read.
    """
    n = len(source)
    raws = {m: None for m in adapters}
    ok_all = np.zeros(n, bool)
    with stage("predict " + "+".join(adapters), len(adapters) * n, progress) as tick:
        for idx, ok, outs in ex.predict(chunks):
            ok_all[idx] = ok
            for m in adapters:
                if outs is not None:
                    out = np.asarray(outs[m])
                    if raws[m] is None:  # the first outputs: probabilities or logits, fixed
                        adapters[m].settle_returns(out)
                        raws[m] = np.full((n, out.shape[1]), np.nan)
                    raws[m][idx[ok]] = out
                tick(len(idx))
    valid = np.flatnonzero(ok_all)
    if not len(valid):
        raise ImacsInputError("images", "no image could be read")
    return {m: Predictions.from_raw(adapters[m], raws[m]) for m in adapters}, valid


def chunk_tasks(smp: Sample, target: int, preds: dict, returns: dict,
                size: int | None = None) -> list[ChunkTask]:
    """The sample's images (every model's, each image once) as tasks of ``size`` images,
    ascending by image index (``returns``: each model's settled output kind)."""
    size = CHUNK_IMAGES if size is None else int(size)
    models = list(smp.indices)
    pos = {m: {int(i): j for j, i in enumerate(smp.indices[m])} for m in models}
    union = np.unique(np.concatenate([np.asarray(smp.indices[m], np.int64) for m in models]))
    tasks = []
    for s in range(0, len(union), size):
        idx = union[s:s + size]
        members = {m: np.array([int(i) in pos[m] for i in idx], bool) for m in models}
        mine = {m: idx[members[m]] for m in models}
        tasks.append(ChunkTask(
            indices=idx, target=int(target), members=members, returns=dict(returns),
            outcomes={m: np.asarray([smp.outcomes[m][pos[m][int(i)]] for i in mine[m]], object)
                      for m in models},
            scores={m: preds[m].scores[mine[m]] for m in models},
            log_odds={m: preds[m].log_odds[mine[m]] for m in models}))
    return tasks


def _attribute_class(source, ex, rs: ResultStore, ci: int, smp: Sample, target: int, preds: dict,
                     previews, progress: bool, target_name: str, returns: dict):
    """Attribute one class's sample through executor ``ex``, appending to store ``rs``.

    Returns the segments table (worker columns), the class's stored arrays, cache hits/misses.
    """
    tasks = chunk_tasks(smp, target, preds, returns)
    writer = rs.class_writer(ci)
    parts, hits, misses = [], 0, 0
    total = sum(len(v) for v in smp.indices.values())

    def read(task: ChunkTask) -> np.ndarray:
        images, ok = source.read(task.indices)
        if not ok.all():
            bad = [source.ref(int(i)) for i, g in zip(task.indices, ok, strict=True) if not g]
            raise ImacsInputError("images", f"could not re-read {bad[:3]} (read fine before); "
                                  "did the files change during the run?")
        return images

    with stage("attribute + embed", total, progress) as tick:
        for task, out in ex.attribute(tasks, read):
            writer.append(out)
            previews.append(out.preview_index, out.previews)
            parts.append(out.columns)
            hits, misses = hits + out.hits, misses + out.misses
            tick(int(sum(v.sum() for v in task.members.values())))
    if not parts or not sum(len(p["image_index"]) for p in parts):
        raise ImacsInputError("images", f"no segment could be attributed for class {target_name!r}")
    cols = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    bbox = cols.pop("bbox")
    seg = pd.DataFrame(cols)
    seg.insert(4, "bbox", list(zip(*bbox.T.tolist(), strict=True)))
    return seg, writer.close(), hits, misses


def _class_comparison(rs: ResultStore, ci: int, target_name: str, seg: pd.DataFrame,
                      arrays: dict, smp: Sample, settings: RunSettings) -> ClassComparison:
    """Cluster one class's stored segments."""
    n_cl = settings.n_clusters
    if n_cl > len(seg):  # only possible with SLIC; keep the finished work, say so
        n_cl = len(seg)
        smp.warnings.append(f"n_clusters={settings.n_clusters} exceeds the {len(seg)} "
                            f"segments of class {target_name!r}; clustered into {n_cl}")
    cc = ClassComparison(target=target_name, segments=seg, sampling={"counts": smp.counts},
                         warnings=list(smp.warnings), models=tuple(smp.indices), **arrays)
    cc.cluster(n_cl, settings.seed)
    return cc


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


def _resolve_classes(preds, labels, n, class_names, target_class, names_given):
    """Class names, integer labels and the classes of interest (ids), checked
    (``names_given``: the models' display names, in key order, for the error messages)."""
    counts = [p.scores.shape[1] for p in preds.values()]
    c_a = counts[0]
    for j, c in enumerate(counts[1:], start=1):
        if c != c_a:
            two = len(counts) == 2
            arg = "model_b" if two else f"models[{names_given[j]!r}]"
            first = "model_a" if two else f"models[{names_given[0]!r}]"
            raise ImacsInputError(arg, f"outputs {c} classes but {first} outputs {c_a}; all "
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
    n_imgs = sum(len(v) for v in smp.indices.values())
    if per_image is not None and settings.n_clusters > n_imgs * per_image:
        raise ImacsInputError("n_clusters", f"is {settings.n_clusters} but class {target_name!r} "
                              f"will have only {n_imgs * per_image} segments ({n_imgs} sampled "
                              f"images x k={settings.k}); choose fewer clusters")
