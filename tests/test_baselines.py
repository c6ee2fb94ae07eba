"""Exclusion baselines: blur (default), the image's mean colour, a constant colour, a callable;
checked, named in params and cache keys, and used by the whole run."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import quick_compare

from imacs_widget.engine.masking import baseline_images, baseline_name, blur_images
from imacs_widget.engine.settings import RunSettings
from imacs_widget.errors import ImacsInputError


def test_baseline_images_kinds_and_errors():
    rng = np.random.default_rng(0)
    x = (rng.random((2, 8, 8, 3)) * 255).astype(np.float32)
    np.testing.assert_array_equal(baseline_images(x, "blur", 2.0), blur_images(x, 2.0))
    m = baseline_images(x, "mean")
    np.testing.assert_allclose(m[1, 3, 4], x[1].mean(axis=(0, 1)), rtol=1e-6)
    assert (baseline_images(x, 0) == 0).all()
    np.testing.assert_array_equal(baseline_images(x, (124, 116, 104))[0, 0, 0], [124, 116, 104])
    inv = baseline_images(x, lambda b: 255 - b)
    np.testing.assert_allclose(inv, 255 - x)
    for bad, msg in [("sepia", "unknown baseline"), ((1, 2), "one number or three"),
                     (lambda b: b[:, :4], "keep the shape"),
                     (lambda b: b * np.nan, "NaN")]:
        with pytest.raises(ImacsInputError, match=msg):
            baseline_images(x, bad)
    with pytest.raises(ImacsInputError, match="baseline"):
        RunSettings(baseline="sepia")
    assert baseline_name((0, 0, 0)) == "colour:0,0,0" and baseline_name("mean") == "mean"
    assert baseline_name(lambda b: b).startswith("callable:")


def test_cache_keys_and_params_name_the_baseline():
    blur, black = RunSettings(), RunSettings(baseline=0)
    grey = RunSettings(baseline=np.array([128, 128, 128]))  # an array colour (no truth-value error)
    assert "colour:128,128,128" in grey.attribution_key(0, 2.0)
    assert blur.attribution_key(0, 2.0) != black.attribution_key(0, 2.0)
    assert "baseline" not in blur.attribution_key(0, 2.0)  # keys of earlier blur runs hold
    assert black.params()["baseline"] == "colour:0" and blur.params()["baseline"] == "blur"


def test_compare_with_a_black_baseline_differs_from_blur(tiny_models, tiny_images):
    x, y = tiny_images
    a = quick_compare(*tiny_models, x[:24], y[:24], k=2)
    b = quick_compare(*tiny_models, x[:24], y[:24], k=2, baseline=0)
    c = quick_compare(*tiny_models, x[:24], y[:24], k=2, baseline=lambda im: im * 0)
    assert b.params["baseline"] == "colour:0"
    assert not np.allclose(a.segments["attribution"], b.segments["attribution"])
    np.testing.assert_allclose(b.segments["attribution"], c.segments["attribution"])
    # the faithfulness curves use the same baseline: v(none) = every ranked segment black
    assert not np.allclose(a.segments["deletion_auc"], b.segments["deletion_auc"])


def test_cli_baseline_option():
    import argparse

    from imacs_widget.cli.options import _baseline

    assert _baseline("blur") == "blur" and _baseline("0") == 0.0
    assert _baseline("124,116,104") == (124.0, 116.0, 104.0)
    with pytest.raises(argparse.ArgumentTypeError):
        _baseline("1,2")
