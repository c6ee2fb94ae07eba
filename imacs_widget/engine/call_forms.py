"""The call forms of :func:`~imacs_widget.compare`: which argument is which, checked.

``compare(models, images, labels)`` with ``models`` a dict ``{name: model}`` (or a list) of 2
to 8 models, and the two-model form ``compare(model_a, model_b, images, labels)``; ``images``
and ``labels`` (and ``model_b``) may be given by keyword. :func:`models_and_data` turns either
into ``[(name, model, preprocess), ...]``, the images and the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import ImacsInputError
from .summary import model_keys


class _NotGiven:
    """The default of ``compare``'s positional arguments (``None`` may be given on purpose)."""

    def __repr__(self) -> str:
        return "<not given>"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN = _NotGiven()
PAIR_OPTIONS = {"name_a": "A", "name_b": "B", "preprocess_a": None, "preprocess_b": None}
"""The options of the two-model form and their defaults."""


def _one(name: str, by_position, by_keyword):
    """The argument given by position or by keyword (not both); ``None`` if neither."""
    if by_position is not NOT_GIVEN and by_keyword is not NOT_GIVEN:
        raise ImacsInputError(name, "given twice, by position and by keyword")
    if by_position is not NOT_GIVEN:
        return by_position
    return None if by_keyword is NOT_GIVEN else by_keyword


def models_and_data(models, images, labels, more: Sequence, keywords: dict, pair: Mapping,
                    preprocess) -> tuple[list[tuple[str, object, object]], object, object, list | None]:
    """The models, images and labels of a ``compare`` call, whichever form it has.

    Parameters
    ----------
    models, images, labels, more
        ``compare``'s positional arguments (:data:`NOT_GIVEN` where not given).
    keywords : dict
        ``compare``'s other keywords; ``models`` / ``model_a``, ``model_b``, ``images`` and
        ``labels`` given by keyword are taken out.
    pair : mapping
        ``name_a``, ``name_b``, ``preprocess_a``, ``preprocess_b`` as given.
    preprocess : mapping, sequence or None
        With several models: ``{name: preprocess}`` (or one per model of a list).

    Returns
    -------
    models : list of (str, model, preprocess)
        Each model with its display name (or key letter) and preprocessing.
    images, labels
        The data (``labels`` may be ``None``: the data's own).
    display : list of str or None
        The names shown (a dict's keys; ``None``: the adapters' own names).
    """
    kw_models = keywords.pop("models", NOT_GIVEN)
    kw_model_a = keywords.pop("model_a", NOT_GIVEN)
    if models is NOT_GIVEN:  # compare(models=...) or compare(model_a=..., model_b=...)
        models = _one("models", kw_models, kw_model_a)
        if models is None:
            raise ImacsInputError("models", "are required: compare({name: model, ...}, images, "
                                  "labels) or compare(model_a, model_b, images, labels)")
    elif NOT_GIVEN is not kw_models or NOT_GIVEN is not kw_model_a:
        raise ImacsInputError("models", "given twice, by position and by keyword")
    kw_images = keywords.pop("images", NOT_GIVEN)
    kw_labels = keywords.pop("labels", NOT_GIVEN)
    kw_model_b = keywords.pop("model_b", NOT_GIVEN)
    if isinstance(models, (Mapping, list, tuple)):
        if kw_model_b is not NOT_GIVEN:
            raise ImacsInputError("model_b", "goes with compare(model_a, model_b, ...); with "
                                  "several models the call is compare(models, images, labels)")
        if more:
            raise ImacsInputError("labels", "given twice: with a dict of models the call is "
                                  "compare(models, images, labels)")
        images, labels = _one("images", images, kw_images), _one("labels", labels, kw_labels)
        listed, display = _several(models, pair, preprocess)
    else:
        model_b = _one("model_b", images, kw_model_b)
        if model_b is None:
            raise ImacsInputError("model_b", "is required: compare(model_a, model_b, images, "
                                  "labels), or compare({name: model, ...}, images, labels)")
        if len(more) > 1:
            raise ImacsInputError("labels", f"compare(model_a, model_b, images, labels) takes 4 "
                                  f"positional arguments, got {3 + len(more)}")
        images = _one("images", labels, kw_images)
        labels = _one("labels", more[0] if more else NOT_GIVEN, kw_labels)
        if preprocess is not None:
            raise ImacsInputError("preprocess", "goes with a dict of models; for two models use "
                                  "preprocess_a= / preprocess_b=")
        listed = [(str(pair["name_a"]), models, pair["preprocess_a"]),
                  (str(pair["name_b"]), model_b, pair["preprocess_b"])]
        display = None
    if images is None:
        raise ImacsInputError("images", "is required: the evaluation images")
    return listed, images, labels, display


def _several(models, pair: Mapping, preprocess) -> tuple[list, list | None]:
    """``[(name, model, preprocess), ...]`` and the display names of a dict (or list) of 2 to
    8 models, checked (options that belong to the two-model form refused)."""
    for arg, default in PAIR_OPTIONS.items():
        if pair[arg] != default:
            raise ImacsInputError(arg, "goes with compare(model_a, model_b, ...); with a dict of "
                                  "models the keys are the names and preprocess={name: ...} "
                                  "sets preprocessing")
    if isinstance(models, Mapping):
        names, values = [str(k) for k in models], list(models.values())
        display = names
    else:  # a list: keys A, B, ...; an adapter shows its own name
        values = list(models)
        names = list(model_keys(len(values)))
        display = None
        if preprocess is not None and not isinstance(preprocess, Mapping):
            preprocess = list(preprocess)
            if len(preprocess) != len(values):
                raise ImacsInputError("preprocess", f"has {len(preprocess)} entries for "
                                      f"{len(values)} models")
            preprocess = dict(zip(names, preprocess, strict=True))
    if len(set(names)) != len(names):
        raise ImacsInputError("models", "has keys that are equal as strings; name each model once")
    model_keys(len(names))  # 2 to 8
    if preprocess is not None and not isinstance(preprocess, Mapping):
        raise ImacsInputError("preprocess", f"must be a dict {{name: preprocess}}, got "
                              f"{type(preprocess).__name__}")
    preprocess = {str(k): v for k, v in (preprocess or {}).items()}
    unknown = sorted(set(preprocess) - set(names))
    if unknown:
        raise ImacsInputError("preprocess", f"names {unknown}, which are not among the models "
                              f"{names}")
    return [(name, m, preprocess.get(name)) for name, m in zip(names, values, strict=True)], display
