"""Settings (formerly RunSettings): compare()'s options validated once, replace, the JSON
round trip, the cache key and the stored params."""

import dataclasses
import json

import numpy as np
import pytest

import imacs_widget as imacs
from imacs_widget.engine.settings import (
    SETTING_NAMES,
    RunSettings,
    Settings,
    check_int,
    settings_from,
)
from imacs_widget.errors import ImacsInputError


@pytest.mark.parametrize("kw, arg", [
    (dict(k=0), "k"), (dict(k=17), "k"), (dict(k=True), "k"), (dict(k=2.0), "k"),
    (dict(n_clusters=0), "n_clusters"), (dict(n_clusters="8"), "n_clusters"),
    (dict(sampling="some"), "sampling"), (dict(sampling="outcome"), "outcome"),
    (dict(n_per_model=0), "n_per_model"), (dict(segmentation="quad"), "segmentation"),
    (dict(grid=(4,)), "grid"), (dict(grid=(0, 4)), "grid"), (dict(blur_sigma=0), "blur_sigma"),
    (dict(blur_sigma="wide"), "blur_sigma"), (dict(score="prob"), "score"),
    (dict(batch_size=0), "batch_size"), (dict(ranking="shap"), "ranking"),
    (dict(min_confidence="high"), "min_confidence"), (dict(seed=1.5), "seed"),
    (dict(outcome="XX"), "outcome"), (dict(baseline="sepia"), "baseline"),
    (dict(baseline=(1, 2)), "baseline"), (dict(embedder="resnet"), "embedder"),
    (dict(embedder=3), "embedder"), (dict(n_segments=0), "n_segments"),
    (dict(significance_level=0), "significance_level"),
    (dict(significance_level=1.0), "significance_level"),
    (dict(significance_level="0.05"), "significance_level"),
    (dict(significance_level=True), "significance_level"),
])
def test_bad_settings_name_the_argument(kw, arg):
    with pytest.raises(ImacsInputError) as err:
        RunSettings(**kw)
    assert err.value.argument == arg


def test_settings_are_frozen_and_normalised():
    s = RunSettings(grid=[2, 3], blur_sigma=3, k=4)
    assert s.grid == (2, 3) and s.blur_sigma == 3.0 and s.k == 4
    assert s.max_segments_per_image() == 4 and s.sigma(64, 64) == 3.0
    assert RunSettings().sigma(64, 64) == 4.0  # default: 1/16 of the shorter side
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.k = 5


def test_params_and_key():
    s = RunSettings(seed=3, n_clusters=6)
    p = s.params(pixel_range=[0.0, 255.0])
    assert p["seed"] == 3 and p["n_clusters"] == 6 and p["ranking"] == "loo"
    assert p["grid"] == [4, 4] and p["pixel_range"] == [0.0, 255.0] and "batch_size" not in p
    key = s.attribution_key(target=1, sigma=4.0)
    assert key == RunSettings(seed=3, n_clusters=2, n_per_model=5).attribution_key(1, 4.0)
    for other in (RunSettings(seed=4), RunSettings(seed=3, k=4), RunSettings(seed=3, score="logit"),
                  RunSettings(seed=3, grid=(2, 2)), RunSettings(seed=3, ranking="xrai")):
        assert other.attribution_key(1, 4.0) != key
    assert s.attribution_key(2, 4.0) != key and s.attribution_key(1, 5.0) != key


def test_check_int():
    assert check_int(3, "x", 1, 5) == 3
    with pytest.raises(ImacsInputError, match=r"^x: must be an integer in 1\.\.5, got 6"):
        check_int(6, "x", 1, 5)
    with pytest.raises(ImacsInputError, match="positive integer"):
        check_int(0, "x", 1)


NON_DEFAULT = dict(sampling="outcome", outcome="FN", n_per_model=12, min_confidence=0.25,
                   segmentation="slic", grid=(2, 3), n_segments=9, k=3, ranking="ig",
                   blur_sigma=2.5, baseline=(124, 116, 104), embedder="inception_v3",
                   score="logit", n_clusters=5, seed=7, significance_level=0.01, batch_size=16)


def test_public_and_the_old_name():
    assert imacs.Settings is Settings is RunSettings
    assert set(NON_DEFAULT) == set(SETTING_NAMES)  # the test covers every field


def test_replace_validates_again():
    s = Settings(k=4)
    t = s.replace(k=3, grid=[2, 2])
    assert (t.k, t.grid, s.k, s.grid) == (3, (2, 2), 4, (4, 4))  # s unchanged
    assert t == Settings(k=3, grid=(2, 2)) and t != s
    with pytest.raises(ImacsInputError) as err:
        s.replace(k=99)
    assert err.value.argument == "k"
    with pytest.raises(ImacsInputError, match="^outcome: .*sampling='outcome'"):
        s.replace(sampling="outcome")  # a change that makes another field invalid
    with pytest.raises(ImacsInputError, match="^n_cluster: .*did you mean 'n_clusters'"):
        s.replace(n_cluster=3)


@pytest.mark.parametrize("kw", [{}, NON_DEFAULT, dict(baseline=np.array([128, 128, 128])),
                                dict(baseline=0), dict(baseline="mean", grid=[3, 3])])
def test_json_round_trip(kw):
    s = Settings(**kw)
    text = s.to_json()
    assert json.loads(text) == s.to_dict()
    back = Settings.from_json(text)
    assert back == s and back.to_dict() == s.to_dict() and back.grid == s.grid
    assert Settings.from_dict(s.to_dict()) == s
    assert Settings.from_params(s.params(blur_sigma=4.0, pixel_range=[0.0, 255.0])) == s


def test_pickles_for_ray_workers():
    import pickle

    s = Settings(**NON_DEFAULT)
    assert pickle.loads(pickle.dumps(s)) == s and pickle.loads(pickle.dumps(s)).ranker is s.ranker


def test_colours_are_normalised():
    s = Settings(baseline=np.array([128, 128, 128]))
    assert s.baseline == (128.0, 128.0, 128.0) and s == Settings(baseline=(128, 128, 128))
    assert Settings(baseline=np.int64(0)).baseline == 0.0


def test_callables_are_recorded_not_restored():
    def my_ranker(adapter, images, label_maps, blurred, target, k, **kw):
        return [np.arange(k) for _ in images]

    s = Settings(ranking=my_ranker, k=2)
    rec = s.to_dict()["ranking"]
    assert rec["callable"].endswith("my_ranker") and len(rec["fingerprint"]) == 16
    json.dumps(s.to_dict())  # JSON-ready all the same
    with pytest.raises(ImacsInputError, match=r"^ranking: was the callable .*my_ranker.*pass it "
                                              r"again"):
        Settings.from_json(s.to_json())
    assert Settings.from_json(s.to_json(), ranking=my_ranker) == s
    assert Settings.from_params(s.params(), ranking=my_ranker) == s


def test_from_params_of_an_older_result():
    """Results saved before the settings record: rebuilt from the flat entries."""
    old = {"sampling": "all", "n_per_model": 20, "outcome": None, "min_confidence": 0.0,
           "segmentation": "grid", "grid": [2, 2], "n_segments": 16, "k": 3, "ranking": "loo",
           "blur_sigma": 2.0, "baseline": "colour:0,0,0", "score": "logit", "n_clusters": 4,
           "seed": 1, "pixel_range": [0.0, 255.0], "cache_hits": 3}
    s = Settings.from_params(old)
    assert s == Settings(sampling="all", n_per_model=20, grid=(2, 2), k=3, blur_sigma=2.0,
                         baseline=(0, 0, 0), score="logit", n_clusters=4, seed=1)
    with pytest.raises(ImacsInputError, match="^ranking: was the callable"):
        Settings.from_params({**old, "ranking": "mine.rank"})


def test_record_errors_name_the_field():
    with pytest.raises(ImacsInputError, match="^segmentaton: .*did you mean 'segmentation'"):
        Settings.from_dict({"segmentaton": "slic"})
    with pytest.raises(ImacsInputError, match="^k: "):
        Settings.from_json('{"k": 0}')
    with pytest.raises(ImacsInputError, match="^text: is not JSON"):
        Settings.from_json("{k: 3")
    with pytest.raises(ImacsInputError, match="^record: "):
        Settings.from_dict([("k", 3)])


def test_settings_from_overrides():
    base = Settings(k=3)
    assert settings_from(None, {}) == Settings()
    assert settings_from(base, {}) is base
    assert settings_from(base, {"seed": 2}) == Settings(k=3, seed=2)
    assert settings_from(base.to_dict(), {"seed": 2}) == Settings(k=3, seed=2)
    with pytest.raises(ImacsInputError, match="^settings: must be an imacs_widget.Settings"):
        settings_from("fast", {})
    with pytest.raises(ImacsInputError, match="^class_name: .*did you mean 'class_names'"):
        settings_from(None, {"class_name": ["a"]}, "compare()", ("class_names", "cache_dir"))


def test_docstring_documents_every_field():
    doc = Settings.__doc__
    for f in dataclasses.fields(Settings):
        if f.init:
            assert f"\n    {f.name} : " in doc and f"default {f.default!r}" in doc, f.name
    assert "{'balanced', 'all', 'disagreements', 'outcome'}" in doc
    assert "imacs_widget.engine.ranking.RANKERS" in doc
    assert set(Settings.choices("ranking")) >= {"loo", "xrai", "ig", "gradcam"}
