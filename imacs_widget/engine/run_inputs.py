"""What a check run on a result needs again: the models' adapters, the data source, the
settings and the labels of the :func:`~imacs_widget.compare` call that made it — or, for a loaded
result, the ones given to the check (the models and images are not saved).

Used by :mod:`~imacs_widget.engine.trust` (the sanity check, the class pictures) and
:mod:`~imacs_widget.engine.whatif` (the what-if test); reads a result through its public
attributes only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImacsInputError

if TYPE_CHECKING:  # pragma: no cover
    from ..result import ComparisonResult

__all__ = ["check_inputs", "result_adapters", "sanity_inputs"]


def result_adapters(result: ComparisonResult, models: dict | None, method: str) -> dict:
    """``{model key: ModelAdapter}`` for a check on ``result``.

    Parameters
    ----------
    result : ComparisonResult
        The comparison.
    models : dict or None
        ``{model key or name: model or ModelAdapter}``, every model of the result; ``None``
        takes the compared models (only right after :func:`~imacs_widget.compare`).
    method : str
        The calling method's name, for the error message.

    Returns
    -------
    dict
        One adapter per model key, with the result's pixel range.

    Raises
    ------
    ImacsInputError
        ``models`` missing for a loaded result, naming an unknown model, or incomplete.
    """
    from ..models.adapter import ModelAdapter

    if models is None:
        if result.run_inputs:
            return result.run_inputs["adapters"]
        raise ImacsInputError("models", f"a loaded result needs the models it compared: "
                              f"{method}(models={{...}})")
    keys = {**{m: m for m in result.models}, **{n: m for m, n in result.model_names.items()}}
    adapters = {}
    for name, model in dict(models).items():
        if name not in keys:
            raise ImacsInputError("models", f"{name!r} is none of this result's models "
                                  f"{list(result.model_names.values())} (or keys "
                                  f"{list(result.models)})")
        adapters[keys[name]] = model if isinstance(model, ModelAdapter) else ModelAdapter(
            model, name=str(name), score=result.params.get("score", "probability"))
    missing = [m for m in result.models if m not in adapters]
    if missing:
        raise ImacsInputError("models", f"give every model of the result; missing {missing}")
    for ad in adapters.values():
        ad.pixel_range = tuple(result.params.get("pixel_range", (0.0, 255.0)))
    return adapters


def check_inputs(result: ComparisonResult, models, images, labels, method: str):
    """The adapters, data source, settings and ``int64`` labels (``-1``: unknown) a check
    that reads images works with: the :func:`~imacs_widget.compare` call's where not given,
    else the ones given (a loaded result needs ``models`` and ``images``).

    Labels: ``labels`` if given, else the compare call's (its own images), else the images'
    own (a folder, a dataset), else those of the images the result sampled (its segments).
    """
    from .validation import as_labels

    run = result.run_inputs or {}
    for name, value in (("models", models), ("images", images)):
        if value is None and not run:
            raise ImacsInputError(name, f"a loaded result needs the models and the images it "
                                  f"compared: {method}(cluster, models={{...}}, images=...)")
    adapters = run["adapters"] if models is None else result_adapters(result, models, method)
    if images is None:
        source, settings = run["source"], run["settings"]
    else:
        source = _source_like(result, images)
        settings = run.get("settings") or _loaded_settings(result, method)
    n = len(source)
    if labels is not None:
        y = as_labels(labels, n, result.class_names, "labels")
    elif images is None and run.get("labels") is not None:
        y = np.asarray(run["labels"], np.int64)
    elif source.labels is not None:
        y = as_labels(source.labels, n, result.class_names, "labels")
    else:  # the sampled images' labels (every class of interest's segments)
        y = np.full(n, -1, np.int64)
        for cc in result.per_class.values():
            idx = cc.segments["image_index"].to_numpy(np.int64)
            if "label" in cc.segments:
                y[idx[idx < n]] = cc.segments["label"].to_numpy(np.int64)[idx < n]
    return adapters, source, settings, y


def _source_like(result: ComparisonResult, images):
    """``images`` as a source at the result's image size, checked to hold its images."""
    from ..data.sources import as_image_source

    source = as_image_source(images)
    if tuple(source.image_shape) != tuple(result.image_shape):
        source = as_image_source(images, image_size=tuple(result.image_shape))
    last = int(result.segments["image_index"].max())
    if len(source) <= last:
        raise ImacsInputError("images", f"has {len(source)} images but the result refers to "
                              f"image {last}")
    return source


def _loaded_settings(result: ComparisonResult, method: str):
    """The segmentation and baseline settings of a loaded result (from its ``params``)."""
    from .settings import Settings

    p = result.params
    base = str(p.get("baseline", "blur"))
    if base.startswith("callable:"):
        raise ImacsInputError("baseline", "this loaded result used a callable baseline, "
                              f"which is not saved; run {method}() right after compare()")
    if base.startswith("colour:"):
        base = tuple(float(v) for v in base.split(":", 1)[1].split(","))
    return Settings(segmentation=p.get("segmentation", "grid"),
                    grid=tuple(p.get("grid", (4, 4))), baseline=base,
                    n_segments=int(p.get("n_segments", 16)), seed=result.seed)


def sanity_inputs(result: ComparisonResult, models, images):
    """The adapters, data source and settings :func:`sanity_check` works with."""
    run = result.run_inputs or {}
    if models is None and images is None and run:
        return run["adapters"], run["source"], run["settings"]
    if models is None or images is None:
        missing = "models" if models is None else "images"
        raise ImacsInputError(missing, "a loaded result needs the models and the images "
                              "it compared: sanity_check(models={...}, images=...)")
    adapters = result_adapters(result, models, "sanity_check")
    source = _source_like(result, images)
    return adapters, source, _loaded_settings(result, "sanity_check")
