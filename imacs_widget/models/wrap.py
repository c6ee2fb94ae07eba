"""Coercing what users pass into adapters: :func:`as_adapter` (and :func:`resize_batch`)."""

from __future__ import annotations

import numpy as np

from ..errors import ImacsInputError
from .adapter import SCORES, ModelAdapter
from .resize import resize_bilinear


def resize_batch(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``[n, H, W, C]`` float images to ``size`` = (height, width)."""
    return resize_bilinear(x, size)


_MODEL_OPTIONS = ("preprocess", "input_size", "returns", "fingerprint", "device")
"""Options that describe the model: set on the adapter itself, never changed by a run."""


def as_adapter(model, name: str, **options) -> ModelAdapter:
    """Return ``model`` as a :class:`ModelAdapter`.

    Parameters
    ----------
    model : ModelAdapter or any model :class:`ModelAdapter` accepts
        A model is wrapped; an adapter is used as it is.
    name : str
        Display name of a new adapter (an existing adapter keeps its own).
    **options
        :class:`ModelAdapter` keyword arguments (``None`` means not given). With an existing
        adapter: ``score`` (what the run attributes) is honoured on a copy when it differs, so
        the caller's adapter is never changed; ``batch_size`` is the adapter's own (left as
        it is); an option that describes the model (``preprocess``, ``input_size``,
        ``returns``, ``fingerprint``, ``device``) given with a different value is an error
        naming it: set it on the adapter.

    Returns
    -------
    ModelAdapter
    """
    if not isinstance(model, ModelAdapter):
        return ModelAdapter(model, name=name, **{k: v for k, v in options.items() if v is not None})
    current = {"preprocess": model.preprocess_name, "input_size": model.input_size,
               "returns": model.returns,
               "fingerprint": model._fingerprint if model._fingerprint_given else None,
               "device": getattr(model.backend, "device", None)}
    for key in _MODEL_OPTIONS:
        value = options.get(key)
        if value is None:
            continue
        same = (value == current[key] if key != "input_size"
                else tuple(int(v) for v in value) == current[key])
        if key == "device":
            same = str(value) == str(current[key])
        if not same:
            raise ImacsInputError(key, f"model {model.name!r} is already a ModelAdapter with "
                                  f"{key}={current[key]!r}; set {key} on the adapter "
                                  f"(ModelAdapter(model, {key}=...)), not here")
    unknown = set(options) - {*_MODEL_OPTIONS, "score", "batch_size", "name"}
    if unknown:
        raise ImacsInputError(sorted(unknown)[0], "is not a ModelAdapter option")
    score = options.get("score")
    if score is not None and score != model.score:
        if score not in SCORES:
            raise ImacsInputError("score", f"must be 'probability' or 'logit', got {score!r}")
        import copy

        explicit = model._fingerprint if model._fingerprint_given else None
        model = copy.copy(model)
        model.score = score
        # the fingerprint holds the attributed score
        model._fingerprint = f"{explicit}|{score}" if explicit is not None else None
    return model
