"""Attribution cache entries are checked against their key's settings; a damaged or
mismatched entry is recomputed with one warning naming the cache folder (issue 21, class 4)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import quick_compare, tiny_cnn, tiny_embedder

import imacs_widget as imacs
from imacs_widget.errors import ImacsWarning
from imacs_widget.io.cache import AttributionCache

PARAMS = json.dumps({"k": 3, "target": 1, "ranking": "loo"})
GRID = np.arange(16, dtype=np.int32).reshape(4, 4)  # 16 segments


def _key(cache, seed=0):
    image = np.random.default_rng(seed).integers(0, 255, (4, 4, 3), dtype=np.uint8)
    return cache.key("fp", image, GRID, PARAMS)


GOOD = dict(segments=np.array([5, 2, 9]), values=np.arange(9.0).reshape(3, 3),
            game=np.arange(8, dtype=np.float32))


@pytest.mark.parametrize("entry, why", [
    (dict(GOOD, values=np.full((3, 3), np.nan)), "NaN"),
    (dict(GOOD, segments=np.array([5, 2]), values=np.ones((2, 3)),
          game=np.ones(4, np.float32)), "2 segments where k=3 needs 3"),
    (dict(GOOD, segments=np.array([5, 2, 40])), "segment id 40 of an image with 16"),
    (dict(GOOD, segments=np.array([5, -2, 9])), "negative or repeated"),
    (dict(GOOD, values=np.ones((3, 1))), "class 1 needed"),
    (dict(GOOD, game=np.ones(4, np.float32)), "a game of shape (4,)"),
])
def test_an_entry_that_does_not_fit_its_key_is_recomputed_with_a_warning(tmp_path, entry, why):
    c = AttributionCache(tmp_path)
    key = _key(c)
    c.put(key, **entry)
    with pytest.warns(ImacsWarning, match=f"attribution cache {tmp_path}: .*recomputing"):
        assert c.get(key) is None
    with pytest.warns(ImacsWarning) as got:
        c2 = AttributionCache(tmp_path)
        c2.get(_key(c2))
    assert why in str(got[0].message)
    assert c.misses == 1 and c.hits == 0 and c.repaired == 1


def test_a_fitting_entry_is_a_hit_and_the_warning_comes_once(tmp_path):
    c = AttributionCache(tmp_path)
    keys = [_key(c, s) for s in range(3)]
    c.put(keys[0], **GOOD)
    c.put(keys[1], **dict(GOOD, values=np.full((3, 3), np.nan)))
    (tmp_path / f"{keys[2]}.npz").write_bytes(b"truncated")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = [c.get(k) for k in keys]
    assert out[0] is not None and out[1] is None and out[2] is None
    np.testing.assert_array_equal(out[0]["segments"], GOOD["segments"])
    assert [str(w.message).split(":")[0] for w in got] == [f"attribution cache {tmp_path}"]
    assert c.hits == 1 and c.misses == 2 and c.repaired == 2


def test_a_run_over_a_damaged_cache_warns_and_gives_the_clean_result(tiny_images, tmp_path):
    x, y = tiny_images
    ma, mb = tiny_cnn(seed=1), tiny_cnn(seed=2)
    kw = dict(cache_dir=tmp_path / "cache")
    first = quick_compare(ma, mb, x[:8], y[:8], **kw)
    entries = sorted((tmp_path / "cache").glob("*.npz"))
    assert entries
    for j, f in enumerate(entries):  # NaN values, a dropped segment, a truncated file
        if j % 3 == 2:
            f.write_bytes(f.read_bytes()[:40])
            continue
        with np.load(f) as z:
            e = {k: z[k] for k in z.files}
        if j % 3 == 0:
            e["values"] = np.full_like(e["values"], np.nan)
        else:
            e = {"segments": e["segments"][:-1], "values": e["values"][:-1],
                 "game": e["game"][: len(e["game"]) // 2]}
        np.savez(f, **e)
    with pytest.warns(ImacsWarning, match=f"attribution cache {tmp_path / 'cache'}"):
        again = imacs.compare(ma, mb, x[:8], y[:8], target_class=0, sampling="all",
                              n_clusters=3, k=3, embedder=tiny_embedder(), progress=False, **kw)
    assert again.params["cache_hits"] == 0
    np.testing.assert_allclose(np.asarray(again.shapley_all), np.asarray(first.shapley_all))
    assert again.segments["segment_index"].tolist() == first.segments["segment_index"].tolist()
