"""The public API stays where users import it from, and importing it stays cheap."""

import subprocess
import sys
from importlib.metadata import version

import imacs_widget as imacs


def test_public_names():
    for name in ("compare", "compare_datasets", "Settings", "load", "ComparisonResult",
                 "ImacsWidget", "ModelAdapter", "ImacsInputError", "ImacsWarning"):
        assert name in imacs.__all__ and getattr(imacs, name) is not None
    from imacs_widget.engine.settings import Settings

    assert imacs.Settings is Settings and imacs.Settings().k == 5
    from imacs_widget.widget import ImacsWidget

    assert imacs.ImacsWidget is ImacsWidget
    assert issubclass(imacs.ImacsInputError, ValueError)
    assert callable(imacs.datasets.tf_flowers) and callable(imacs.data.as_image_source)


def test_version_is_single_sourced():
    assert version("imacs-widget") == imacs.__version__


def test_import_is_cheap():
    code = ("import sys, imacs_widget as m; m.load; m.ComparisonResult; m.compare_datasets; "
            "m.Settings(ranking='xrai', embedder='inception_v3').to_json(); "
            "bad = [k for k in ('tensorflow', 'keras', 'torch', 'anywidget') if k in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
