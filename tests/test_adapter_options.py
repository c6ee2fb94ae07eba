"""as_adapter with an existing adapter: the run's score is honoured on a copy (the caller's
adapter is not changed); options that describe the model are an error naming them."""

from __future__ import annotations

import numpy as np
import pytest

from imacs_widget.errors import ImacsInputError
from imacs_widget.models import ModelAdapter, as_adapter


def _fn(x):
    return np.stack([x.mean(axis=(1, 2, 3)), -x.mean(axis=(1, 2, 3))], axis=1) / 100.0


def test_score_is_honoured_on_a_copy():
    ad = ModelAdapter(_fn, name="m", returns="logits")
    x = np.full((2, 8, 8, 3), 50.0, np.float32)
    fp = ad.fingerprint()
    out = as_adapter(ad, "ignored", score="logit", preprocess=None, batch_size=7)
    assert out is not ad and out.score == "logit" and ad.score == "probability"
    assert out.name == "m" and out.batch_size == ad.batch_size
    np.testing.assert_allclose(out.scores(x), _fn(x))  # logits as they are
    assert out.fingerprint() != fp and ad.fingerprint() == fp
    assert as_adapter(ad, "m", score="probability") is ad  # nothing to change


def test_an_explicit_fingerprint_keeps_its_name_and_gains_the_score():
    ad = ModelAdapter(_fn, returns="logits", fingerprint="v3")
    assert as_adapter(ad, "m", score="logit").fingerprint() == "v3|logit"
    assert as_adapter(ad, "m", fingerprint="v3") is ad


@pytest.mark.parametrize("option, value", [("preprocess", "imagenet"), ("input_size", (4, 4)),
                                           ("returns", "probabilities"), ("fingerprint", "x")])
def test_model_options_given_with_an_adapter_are_refused(option, value):
    ad = ModelAdapter(_fn, returns="logits")
    with pytest.raises(ImacsInputError, match=f"^{option}: .*already a ModelAdapter"):
        as_adapter(ad, "m", **{option: value})
    assert as_adapter(ad, "m", preprocess="none", input_size=None) is ad  # the same: fine


def test_compare_does_not_change_the_callers_adapter(tiny_images):
    import warnings

    from conftest import quick_compare, tiny_cnn

    a = ModelAdapter(tiny_cnn(seed=1), name="A")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = quick_compare(a, tiny_cnn(seed=2), tiny_images[0][:12], tiny_images[1][:12],
                          score="logit")
    assert a.score == "probability" and r.params["score"] == "logit"


def test_score_conversion_warns_nothing():
    """Saturated logits: the log-odds are finite and NumPy's divide / overflow warnings of the
    intermediate terms (overwritten by design) never reach the user."""
    import warnings

    from imacs_widget.models.contract import convert_outputs

    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 800.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = convert_outputs(z, "logits", "log_odds")
        probs = convert_outputs(np.array([[1.0, 0.0, 0.0]]), "probabilities", "log_odds")
    assert np.isfinite(out).all() and np.isfinite(probs).all()
    np.testing.assert_allclose(out[0], [1000.0, -1000.0, -2000.0])
