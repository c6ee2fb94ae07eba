"""compare(models, images, labels, *, target_class, settings=None, **overrides): one Settings
object or the same keywords give the same comparison; the call forms; unknown keywords."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_embedder

import imacs_widget as imacs
from imacs_widget.errors import ImacsInputError

OPTS = dict(sampling="all", k=2, n_clusters=3, grid=(3, 3), seed=2, score="logit")


def compare(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        return imacs.compare(*args, target_class=0, progress=False, **kw)


@pytest.fixture(scope="module")
def data(tiny_images):
    x, y = tiny_images
    return x[:20], y[:20]


@pytest.fixture(scope="module")
def embedder():
    return tiny_embedder()


@pytest.fixture(scope="module")
def by_keywords(tiny_models, data, embedder):
    return compare(*tiny_models, *data, embedder=embedder, **OPTS)


def test_settings_object_equals_keywords(tiny_models, data, embedder, by_keywords):
    settings = imacs.Settings(embedder=embedder, **OPTS)
    r = compare(*tiny_models, *data, settings=settings)
    pd.testing.assert_frame_equal(r.segments, by_keywords.segments)
    assert r.clusters == by_keywords.clusters and r.params == by_keywords.params
    assert imacs.Settings.from_params(r.params, embedder=embedder) == settings
    assert r.params["k"] == 2 and r.params["grid"] == [3, 3] and r.params["score"] == "logit"
    # a settings object with keyword overrides on top; the JSON record of the settings too
    r2 = compare(*tiny_models, *data, settings=settings.replace(k=3, seed=5), k=2, seed=2)
    pd.testing.assert_frame_equal(r2.segments, by_keywords.segments)
    rec = settings.to_dict()
    del rec["embedder"]
    r3 = compare(*tiny_models, *data, settings=rec, embedder=embedder)
    pd.testing.assert_frame_equal(r3.segments, by_keywords.segments)


def test_call_forms_agree(tiny_models, data, embedder, by_keywords):
    ma, mb = tiny_models
    x, y = data
    for args, kw in [((ma, mb, x), dict(labels=y)), ((ma, mb), dict(images=x, labels=y)),
                     ((ma,), dict(model_b=mb, images=x, labels=y)), (([ma, mb], x, y), {}),
                     (({"A": ma, "B": mb}, x), dict(labels=y)),
                     ((), dict(model_a=ma, model_b=mb, images=x, labels=y)),
                     ((), dict(models=[ma, mb], images=x, labels=y))]:
        r = compare(*args, embedder=embedder, **OPTS, **kw)
        pd.testing.assert_frame_equal(r.segments, by_keywords.segments)
        assert r.model_names == {"A": "A", "B": "B"}, args


@pytest.mark.parametrize("args, kw, match", [
    ("pair", dict(n_cluster=3), r"^n_cluster: is not an option of compare\(\); did you mean "
                                r"'n_clusters'"),
    ("pair", dict(class_name=["a", "b", "c"]), "^class_name: .*did you mean 'class_names'"),
    ("pair", dict(zzz=1), r"^zzz: is not an option of compare\(\); the settings are sampling"),
    ("pair", dict(images=1), "^images: given twice"),
    ("pair", dict(k=0), "^k: must be an integer in 1..16"),
    ("pair", dict(settings="fast"), "^settings: must be an imacs_widget.Settings"),
    ("pair", dict(target_class=None), "^target_class: is required"),
    ("one", {}, "^model_b: is required"),
    ("five", {}, "^labels: compare.* takes 4 positional arguments, got 5"),
    ("dict", dict(model_b=0), "^model_b: goes with compare"),
    ("pair", dict(model_a=0), "^models: given twice"),
    ("none", dict(images=0), "^models: are required"),
    ("list", dict(preprocess=[None]), "^preprocess: has 1 entries for 2 models"),
    ("dict", dict(name_b="x"), "^name_b: goes with compare"),
])
def test_call_errors_name_the_argument(tiny_models, data, args, kw, match):
    """Raised before any model runs."""
    ma, mb = tiny_models
    x, y = data
    form = {"pair": (ma, mb, x, y), "one": (ma,), "five": (ma, mb, x, y, y),
            "dict": ({"v1": ma, "v2": mb}, x, y), "list": ([ma, mb], x, y), "none": ()}[args]
    opts = {"target_class": 0, **(dict(images=x, labels=y) if args == "one" else {}), **kw}
    with pytest.raises(ImacsInputError, match=match):
        imacs.compare(*form, progress=False, **opts)


def test_a_list_of_adapters_keeps_their_names(tiny_models, data, embedder, by_keywords):
    ads = [imacs.ModelAdapter(m, name) for m, name in zip(tiny_models, ("left", "right"),
                                                          strict=True)]
    r = compare(ads, *data, embedder=embedder, preprocess=[None, None], **OPTS)
    assert r.model_names == {"A": "left", "B": "right"}
    np.testing.assert_array_equal(r.segments["attribution"], by_keywords.segments["attribution"])
