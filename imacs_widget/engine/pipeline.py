"""``compare()``: the IMACS pipeline, orchestration only (each stage lives in its own module).

validation → models → predictions → sampling → segmentation → ranking → Shapley → embedding →
clustering → summary → :class:`~imacs_widget.result.ComparisonResult` (with the thumbnails the
views show, cut by :mod:`imacs_widget.engine.thumbnails`).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.sources import as_image_source
from ..errors import ImacsInputError
from ..io.store import ResultStore
from ..models.wrap import as_adapter
from ..result import ClassComparison, ComparisonResult
from .call_forms import NOT_GIVEN, models_and_data
from .classes import default_class_names, labels_of, resolve_classes, take_labels
from .crops import detect_pixel_range
from .executors import as_executor
from .predictions import Predictions
from .progress import stage
from .sampling import Sample, sample
from .settings import Settings, settings_from
from .summary import model_keys
from .work import ChunkTask, Worker

CHUNK_IMAGES = 32
"""Images per unit of attribution work (a progress tick, a Ray task); the masked images of a
chunk's images share model batches."""
PIXEL_PROBE = 256
"""Images read per chunk of the prediction stage; the first chunk also gives the pixel range."""


def compare(models=NOT_GIVEN, images=NOT_GIVEN, labels=NOT_GIVEN, /, *more, target_class=None,
            settings: Settings | None = None, class_names: Sequence[str] | None = None,
            image_size=None, cache_dir=None, progress: bool = True, store=None, executor=None,
            preprocess=None, name_a: str = "A", name_b: str = "B", preprocess_a=None,
            preprocess_b=None, **overrides) -> ComparisonResult:
    """Compare what two (or up to eight) image classifiers rely on for a class of interest (IMACS).

    ``compare({"v1": m1, "v2": m2, "v3": m3}, images, labels, target_class=...)`` compares 2 to
    8 models named by the dict's keys (keys ``"A"``, ``"B"``, ``"C"``, ... in the dict's order
    in ``result.segments["model"]``; the names in ``result.model_names``); a list of models is
    named ``"A"``, ``"B"``, ... (or by its adapters' names). The two-model form
    ``compare(model_a, model_b, images, labels, ...)`` works too. Every model samples its own
    balanced confusion matrix; the segments of all models are pooled and clustered once. Every
    argument may be given by keyword too (``models=`` or ``model_a=`` / ``model_b=``,
    ``images=``, ``labels=``).

    How the comparison is computed is a :class:`~imacs_widget.Settings` (``settings=``), with
    any of its fields given as keywords on top: ``compare(..., k=3, n_clusters=6)``.

    Parameters
    ----------
    models : dict, list or model
        ``{name: model}`` or a list of 2 to 8 models, each as it is: a Keras 3 model, a PyTorch
        ``nn.Module`` (channels-first 0..1 input by default), a Hugging Face image classifier
        (pass its image processor as its ``preprocess``, or it is loaded from the model's
        folder), an ONNX Runtime session or ``.onnx`` path, a callable mapping
        ``float32 [N, H, W, 3]`` (after its preprocessing) to ``[N, C]`` probabilities or logits,
        or a :class:`~imacs_widget.models.ModelAdapter`. All must score the same classes. Or,
        in the two-model form, ``model_a`` followed by ``model_b``.
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
    target_class : str, int or sequence
        Class(es) of interest (required). Several classes are each sampled and clustered on
        their own; the result shows one at a time (``result.select_class``).
    settings : Settings or dict, optional
        The comparison's settings (default: ``Settings()``; a ``Settings.to_dict()`` record
        works too).
    class_names : sequence of str, optional
        Names of the ``C`` classes (default: the data's, e.g. its folder names, else a Hugging
        Face model's ``id2label``, else ``"0".."C-1"``).
    image_size : (int, int), optional
        ``(height, width)`` every image is read at; default: the most common size in the data
        (images of other sizes are resized).
    cache_dir : str or path, optional
        Folder for a per-image attribution cache; an interrupted run resumes from it. Entries
        are keyed by what each model computes (Keras: its weights; other models: their code's
        name and outputs on a fixed probe batch; or ``ModelAdapter(model, fingerprint=...)``),
        the image, its segmentation and the attribution settings.
    progress : bool
        Show progress bars (tqdm) for each stage.
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
    preprocess : dict or list, optional
        With several models: ``{name: preprocess}`` for some of them (a list: one per model),
        each a str, callable or image processor (see
        :class:`~imacs_widget.models.ModelAdapter`; default: the model kind's own).
    name_a, name_b, preprocess_a, preprocess_b
        The two-model form's display names (default ``"A"``, ``"B"``, or an adapter's own
        name) and per-model preprocessing (as ``preprocess``).
    **overrides
        Any field of :class:`~imacs_widget.Settings` (``sampling``, ``n_per_model``,
        ``outcome``, ``min_confidence``, ``segmentation``, ``grid``, ``n_segments``, ``k``,
        ``ranking``, ``blur_sigma``, ``baseline``, ``embedder``, ``score``, ``n_clusters``,
        ``seed``, ``batch_size``): its meaning, default and choices are documented there. An
        unknown name raises :class:`~imacs_widget.errors.ImacsInputError` naming it.

    Returns
    -------
    ComparisonResult
        ``result.params["settings"]`` is the settings' record:
        ``Settings.from_params(result.params)`` gives them back.
    """
    listed, images, labels, display = models_and_data(
        models, images, labels, more, overrides, preprocess=preprocess,
        pair={"name_a": name_a, "name_b": name_b, "preprocess_a": preprocess_a,
              "preprocess_b": preprocess_b})
    settings = settings_from(settings, overrides, "compare()", COMPARE_KEYWORDS)
    if target_class is None:
        raise ImacsInputError("target_class", "is required: the class of interest (a class name "
                              "or index, or a list of them)")
    source = as_image_source(images, image_size=image_size)
    return run_comparison(source, listed, labels, settings, class_names=class_names,
                          target_class=target_class, cache_dir=cache_dir, progress=progress,
                          store=store, executor=executor, display=display)


COMPARE_KEYWORDS = ("images", "labels", "target_class", "settings", "class_names", "image_size",
                    "cache_dir", "progress", "store", "executor", "preprocess", "name_a",
                    "name_b", "preprocess_a", "preprocess_b")
""":func:`compare`'s keywords besides the settings (suggested for a misspelt name)."""


def run_comparison(source, models, labels, settings: Settings, *, class_names, target_class,
                   cache_dir=None, progress=True, store=None, executor=None, display=None,
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
                        target_class, cache_dir, progress, display, sides)
    except BaseException:
        if temporary:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _compare(source, ex, rs, temporary, settings, models, labels, class_names, target_class,
             cache_dir, progress, display, sides) -> ComparisonResult:
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
    worker = Worker(adapters=adapters, embedder=settings.embedder, settings=settings, sigma=sigma,
                    pixel_range=tuple(pixel_range),
                    cache_dir=None if cache_dir is None else str(cache_dir))
    ex.start(worker)
    try:
        preds_all, valid = _predict(source, ex, adapters, progress,
                                    itertools.chain([first_chunk], chunks))
        preds = {m: p.subset(valid) for m, p in preds_all.items()}  # the images that could be read
        if class_names is None:  # the data's (folder names, ClassLabel) or the model's (id2label)
            class_names = default_class_names(source, adapters)
        labels = take_labels(labels_of(source, labels), valid)
        names, y, target_ids = resolve_classes(preds, labels, len(valid), class_names,
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
    params["embedder"] = worker.embedder_name  # the one that ran ("efficientnet_lite0" resolved)
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
    result.run_inputs = {"adapters": adapters, "source": source, "settings": settings,
                         "labels": y_all}  # not saved; labels: -1 where unreadable
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
                      arrays: dict, smp: Sample, settings: Settings) -> ClassComparison:
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


def _check_cluster_count(settings: Settings, smp: Sample, target_name: str) -> None:
    """Fail before any attribution work when a grid run can't fill ``n_clusters`` clusters."""
    per_image = settings.max_segments_per_image()
    n_imgs = sum(len(v) for v in smp.indices.values())
    if per_image is not None and settings.n_clusters > n_imgs * per_image:
        raise ImacsInputError("n_clusters", f"is {settings.n_clusters} but class {target_name!r} "
                              f"will have only {n_imgs * per_image} segments ({n_imgs} sampled "
                              f"images x k={settings.k}); choose fewer clusters")
