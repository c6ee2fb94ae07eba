"""RunSettings: compare()'s options validated once, the cache key and the stored params."""

import dataclasses

import pytest

from imacs_widget.engine.settings import RunSettings, check_int
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
