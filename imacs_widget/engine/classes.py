"""Labels and classes of a comparison: the labels given or the data's own, the class names, and
the classes of interest, checked (errors name the argument).

Used by :func:`~imacs_widget.engine.pipeline.run_comparison` once the models' predictions are
known (they fix the number of classes); the single checks live in
:mod:`~imacs_widget.engine.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ImacsInputError
from .validation import as_labels, resolve_class, resolve_class_names


def labels_of(source, labels):
    """The labels given, else the data's own.

    Parameters
    ----------
    source : ImageSource
        The evaluation data (its ``labels``, ``kind`` and length).
    labels : array-like or None
        The labels given to ``compare``.

    Returns
    -------
    array-like
        One label per image of ``source``.

    Raises
    ------
    ImacsInputError
        Naming ``labels`` when there are none or their count is not the number of images.
    """
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


def take_labels(labels, valid: np.ndarray):
    """``labels`` at the indices ``valid`` (an array, a list of ints or names, or one-hot rows).

    Parameters
    ----------
    labels : array-like
        One label per image.
    valid : numpy.ndarray
        The indices of the images that could be read.

    Returns
    -------
    numpy.ndarray
    """
    if isinstance(labels, np.ndarray):
        return labels[valid]
    labels = list(labels)
    kinds = {type(v).__name__ for v in labels if v is not None}
    if any(isinstance(v, str) for v in labels) and any(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels):
        raise ImacsInputError("labels", f"mix class names and class indices ({sorted(kinds)}); "
                              "use one kind")
    return np.asarray([labels[i] for i in valid])


def default_class_names(source, adapters: Mapping):
    """The data's class names (folder names, a ``ClassLabel``), else the first model's
    (a Hugging Face ``id2label``), else ``None``.

    Parameters
    ----------
    source : ImageSource
    adapters : mapping of ModelAdapter

    Returns
    -------
    list of str or None
    """
    return source.class_names or next(
        (ad.class_names for ad in adapters.values() if ad.class_names), None)


def resolve_classes(preds: Mapping, labels, n: int, class_names: Sequence[str] | None,
                    target_class, names_given: Sequence[str]) -> tuple[list[str], np.ndarray, list[int]]:
    """Class names, integer labels and the classes of interest, checked.

    Parameters
    ----------
    preds : mapping of Predictions
        Every model's predictions (their class counts must agree).
    labels : array-like
        ``n`` labels: class indices, names or one-hot rows.
    n : int
        The number of images.
    class_names : sequence of str or None
        The class names (default ``"0".."C-1"``).
    target_class : str, int or sequence
        The class(es) of interest.
    names_given : sequence of str
        The models' display names, in key order (for the error messages).

    Returns
    -------
    names : list of str
    y : numpy.ndarray
        ``int64 [n]`` class indices.
    targets : list of int
        The classes of interest, each once, in the order given.
    """
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
    if isinstance(target_class, (str, int, np.integer)):
        targets = [target_class]
    elif isinstance(target_class, (list, tuple, set, frozenset, np.ndarray)) or (
            isinstance(target_class, Sequence) and not isinstance(target_class, bytes)):
        targets = list(np.asarray(target_class).tolist()) if isinstance(
            target_class, np.ndarray) else list(target_class)
    else:
        raise ImacsInputError("target_class", f"expected a class name (str), a class index "
                              f"(int) or a list of them, got {type(target_class).__name__} "
                              f"{target_class!r}")
    if not targets:
        raise ImacsInputError("target_class", "is an empty list")
    return names, y, list(dict.fromkeys(resolve_class(t, names) for t in targets))
