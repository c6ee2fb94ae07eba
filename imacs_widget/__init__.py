"""imacs-widget: compare what image classifiers rely on (IMACS), in a Jupyter widget.

>>> import imacs_widget as imacs
>>> result = imacs.compare(model_a, model_b, images, labels, class_names=names,
...                        target_class="sunflower", n_clusters=8, seed=0)  # doctest: +SKIP
>>> result.widget()  # doctest: +SKIP

The settings of a comparison are one object, :class:`Settings` (frozen, validated, JSON round
trip); keyword arguments override single fields:

>>> settings = imacs.Settings(k=3, ranking="xrai")
>>> result = imacs.compare({"v1": m1, "v2": m2}, images, labels, target_class="sunflower",
...                        settings=settings, seed=1)  # doctest: +SKIP

Importing this package is cheap: TensorFlow is imported only when a model is evaluated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["compare", "compare_datasets", "Settings", "load", "ComparisonResult", "ImacsWidget",
           "ModelAdapter", "ImacsInputError", "ImacsWarning"]

from .errors import ImacsInputError, ImacsWarning

if TYPE_CHECKING:  # pragma: no cover
    from .engine.dataset_pair import compare_datasets
    from .engine.pipeline import compare
    from .engine.settings import Settings
    from .io.result_file import load
    from .models.adapter import ModelAdapter
    from .result import ComparisonResult
    from .widget import ImacsWidget


def __getattr__(name: str):
    if name == "compare":
        from .engine.pipeline import compare

        return compare
    if name == "compare_datasets":
        from .engine.dataset_pair import compare_datasets

        return compare_datasets
    if name == "Settings":
        from .engine.settings import Settings

        return Settings
    if name == "load":
        from .io.result_file import load

        return load
    if name == "ComparisonResult":
        from .result import ComparisonResult

        return ComparisonResult
    if name == "ImacsWidget":
        from .widget import ImacsWidget

        return ImacsWidget
    if name in ("datasets", "data"):  # submodules, imported on first use
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name == "ModelAdapter":
        from .models.adapter import ModelAdapter

        return ModelAdapter
    raise AttributeError(f"module 'imacs_widget' has no attribute {name!r}")
