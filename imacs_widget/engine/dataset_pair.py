"""``compare_datasets()``: one model, two evaluation sets (the paper's §8 future work).

The two sides of every view are the datasets instead of the models: the model's predictions on
each dataset give that side's balanced confusion matrix, the segments of both are pooled and
clustered once, and a cluster only one dataset's images fall into is the strongest difference
there is (e.g. a watermark only one split carries, or a domain's own texture). The pipeline is
:func:`~imacs_widget.engine.pipeline.compare`'s: side ``"A"`` samples from ``data_a``'s images
only, side ``"B"`` from ``data_b``'s, and the model runs once per image.
"""

from __future__ import annotations

import numpy as np

from ..data.pair import DatasetPair
from ..errors import ImacsInputError
from ..models.wrap import as_adapter
from ..result import ComparisonResult
from .crops import detect_pixel_range
from .pipeline import run_comparison
from .settings import Settings, settings_from

KEYWORDS = ("labels_a", "labels_b", "target_class", "settings", "name_a", "name_b",
            "preprocess", "image_size", "class_names", "cache_dir", "progress", "store",
            "executor")
""":func:`compare_datasets`' keywords besides the settings (suggested for a misspelt name)."""
_STANDARD_RANGES = {(0.0, 1.0), (0.0, 255.0), (-1.0, 1.0)}


def compare_datasets(model, data_a, data_b, labels_a=None, labels_b=None, *, target_class=None,
                     settings: Settings | None = None, name_a: str = "A", name_b: str = "B",
                     preprocess=None, image_size=None, class_names=None, cache_dir=None,
                     progress: bool = True, store=None, executor=None,
                     **overrides) -> ComparisonResult:
    """Compare what one model relies on in two evaluation sets (IMACS, dataset against dataset).

    Parameters
    ----------
    model : model or ModelAdapter
        One classifier, any kind :func:`~imacs_widget.compare` takes.
    data_a, data_b : array, list, folder, files or dataset
        The two evaluation sets, any kinds :func:`~imacs_widget.compare` takes for ``images``
        (e.g. a clean and a watermarked copy of a test set, or EuroSAT against UC Merced
        images of the same classes). Both are read at one size: ``image_size``, else
        ``data_a``'s working size. Their pixels must be in the same scale.
    labels_a, labels_b : array-like, optional
        Each dataset's labels (default: its own, e.g. its folder names); class indices or names
        of the model's classes.
    target_class : str, int or sequence
        Class(es) of interest (required), as in :func:`~imacs_widget.compare`.
    settings : Settings or dict, optional
        The comparison's settings (default: ``Settings()``). ``sampling`` is per dataset:
        ``"balanced"`` (default), ``"all"`` or ``"outcome"`` (one model cannot disagree with
        itself); ``n_per_model`` is the images per dataset.
    name_a, name_b : str
        Display names of the two sides (``result.model_names``).
    preprocess : str, callable or image processor, optional
        The model's preprocessing (as ``preprocess_a`` of :func:`~imacs_widget.compare`).
    image_size : (int, int), optional
        ``(height, width)`` both datasets are read at.
    class_names, cache_dir, progress, store, executor
        As in :func:`~imacs_widget.compare`.
    **overrides
        Any field of :class:`~imacs_widget.Settings` (``n_clusters=``, ``seed=``, ``k=``,
        ``ranking=``, ``embedder=``, ...), on top of ``settings``. An unknown name raises
        :class:`~imacs_widget.errors.ImacsInputError` naming it.

    Returns
    -------
    ComparisonResult
        Side ``"A"`` is ``data_a``, side ``"B"`` is ``data_b``: ``result.segments["model"]``
        says which dataset a segment's image is from, ``image_index`` indexes the two datasets
        one after the other (``data_a`` first) and ``dataset_index`` into the image's own
        dataset; ``result.accuracy`` is the model's accuracy on each dataset.
    """
    settings = settings_from(settings, overrides, "compare_datasets()", KEYWORDS)
    if str(name_a) == str(name_b):
        raise ImacsInputError("name_b", f"is {name_b!r} like name_a; name the two datasets "
                              "differently")
    if target_class is None:
        raise ImacsInputError("target_class", "is required: the class of interest (a class name "
                              "or index, or a list of them)")
    source = DatasetPair(data_a, data_b, image_size=image_size)
    _check_pixel_ranges(source)
    labels = _pair_labels(source, labels_a, labels_b, class_names)
    adapter = as_adapter(model, "model", preprocess=preprocess, score=settings.score,
                         batch_size=settings.batch_size)  # one adapter for both sides
    return run_comparison(
        source, [(str(name_a), adapter, None), (str(name_b), adapter, None)], labels,
        settings, class_names=class_names, target_class=target_class, cache_dir=cache_dir,
        progress=progress, store=store, executor=executor, display=[str(name_a), str(name_b)],
        sides=source.sides)


def _check_pixel_ranges(source: DatasetPair) -> None:
    """Both datasets' pixels in one scale (else thumbnails and preprocessing would differ)."""
    ranges = []
    for side in (source.a, source.b):
        _, images, ok = next(side.chunks(256))
        ranges.append(detect_pixel_range(images[ok]) if ok.any() else None)
    ra, rb = ranges
    if ra is not None and rb is not None and ra != rb and (
            ra in _STANDARD_RANGES or rb in _STANDARD_RANGES):
        raise ImacsInputError("data_b", f"has pixels in the range {rb} but data_a in {ra}; "
                              "give both datasets in one scale (e.g. both uint8 0-255)")


def _named(lab) -> bool:
    return any(isinstance(v, str) for v in lab)


def _one_hot(lab) -> bool:
    return bool(lab) and isinstance(lab[0], np.ndarray) and lab[0].ndim == 1


def _pair_labels(source: DatasetPair, labels_a, labels_b, class_names=None) -> list:
    """The two datasets' labels, one after the other (each given, or the dataset's own); class
    names of one dataset and indices of the other are made indices (of ``class_names``, else
    the datasets' own class names)."""
    sides = []
    for arg, side, given in (("labels_a", source.a, labels_a), ("labels_b", source.b, labels_b)):
        lab = side.labels if given is None else given
        if lab is None:
            raise ImacsInputError(arg, f"is required: {side.kind} data without labels of its "
                                  "own (pass labels, or a folder with one sub-folder per class)")
        lab = list(np.asarray(lab)) if isinstance(lab, np.ndarray) and lab.ndim == 1 else list(lab)
        if len(lab) != len(side):
            raise ImacsInputError(arg, f"has {len(lab)} entries but its dataset has "
                                  f"{len(side)} images; they must have the same length")
        sides.append((arg, lab))
    if any(_one_hot(lab) for _, lab in sides) and not all(_one_hot(lab) for _, lab in sides):
        sides = [(arg, [int(np.argmax(v)) for v in lab] if _one_hot(lab) else lab)
                 for arg, lab in sides]  # one-hot rows on one side only: class indices
    own = [source.a.class_names, source.b.class_names]
    if class_names is None and own[0] and own[1] and list(own[0]) != list(own[1]):
        # each side's class indices mean its own class names: compare them by name
        sides = [(arg, [names[int(v)] for v in lab] if names and not _named(lab) else lab)
                 for (arg, lab), names in zip(sides, own, strict=True)]
    named = [_named(lab) for _, lab in sides]
    names = list(class_names or source.class_names or [])
    if named[0] != named[1]:  # e.g. an ImageFolder tree against an .npz of indices
        arg, lab = sides[named.index(True)]
        if not names:
            raise ImacsInputError(arg, "are class names but the other dataset's labels are "
                                  "class indices; pass class_names=[...] to tell them apart")
    for k, (arg, lab) in enumerate(sides):
        if names and _named(lab):
            unknown = sorted({str(v) for v in lab} - set(names))
            if unknown:
                raise ImacsInputError(arg, f"name classes {unknown[:5]} that are not in "
                                      f"class_names {names[:20]}")
            if not all(named):
                sides[k] = (arg, [names.index(str(v)) for v in lab])
    out = sides[0][1] + sides[1][1]
    if out and isinstance(out[0], np.ndarray):  # one-hot rows
        return np.stack(out)
    return out
