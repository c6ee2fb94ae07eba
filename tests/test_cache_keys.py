"""What the attribution cache keys models and rankers by (issue 7, bug 2).

A cache entry must change whenever what a model computes changes, and must stay the same for
the same model in a new process. Keying callables by ``repr`` got both wrong: two callables
with the same ``repr`` and different weights shared entries (wrong results, silently), and a
plain function (whose ``repr`` holds a memory address) never hit the cache after a restart.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_embedder

import imacs_widget as imacs
from imacs_widget.engine.ranking import rank_leave_one_out
from imacs_widget.engine.settings import RunSettings, callable_fingerprint
from imacs_widget.models import ModelAdapter

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


class Linear:
    """A NumPy linear classifier on mean colours of a 4x4 grid; same ``repr`` for any weights."""

    def __init__(self, seed: int):
        self.w = np.random.default_rng(seed).normal(size=(16 * 3, 3))

    def __call__(self, x):
        x = np.asarray(x, np.float32) / 255.0
        n, h, w, _ = x.shape
        cells = x.reshape(n, 4, h // 4, 4, w // 4, 3).mean(axis=(2, 4)).reshape(n, -1)
        return cells @ self.w * 4.0

    def __repr__(self):
        return "Linear()"


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 32, 32, 3)) * 255).astype(np.uint8), rng.integers(0, 3, n)


def _compare(ma, mb, cache_dir, **kw):
    x, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        return imacs.compare(ma, mb, x, y, target_class=0, sampling="all", n_clusters=3, k=3,
                             embedder=tiny_embedder(), cache_dir=cache_dir, progress=False, **kw)


def test_same_repr_different_weights_never_share_entries(tmp_path):
    m1, m2, m3, m4 = Linear(1), Linear(2), Linear(3), Linear(4)
    assert repr(m1) == repr(m2)
    first = _compare(m1, m3, tmp_path)
    assert first.params["cache_hits"] == 0
    second = _compare(m2, m4, tmp_path)
    assert second.params["cache_hits"] == 0  # before the fix: all 48 images were hits
    fresh = _compare(m2, m4, None)
    np.testing.assert_array_equal(second.segments["attribution"], fresh.segments["attribution"])
    assert not np.allclose(first.segments["attribution"], second.segments["attribution"])
    again = _compare(m1, m3, tmp_path)  # the first models' entries are still there
    assert again.params["cache_misses"] == 0


def test_fingerprint_is_what_the_model_computes():
    a, b = ModelAdapter(Linear(1)), ModelAdapter(Linear(2))
    same = ModelAdapter(Linear(1))
    assert a.fingerprint((32, 32)) != b.fingerprint((32, 32))
    assert a.fingerprint((32, 32)) == same.fingerprint((32, 32))
    assert a.n_evals == 0 and a.n_calls == 0  # the probe is not counted as the run's work
    assert ModelAdapter(Linear(1), fingerprint="v7").fingerprint() == "v7"


CHILD = """
import sys, warnings
sys.path[:0] = [{root!r}, {tests!r}]
import numpy as np
import imacs_widget as imacs
from conftest import tiny_embedder

def model(x):  # a plain function: its repr holds a memory address that changes per process
    x = np.asarray(x, np.float32) / 255.0
    m = x.reshape(len(x), 4, 8, 4, 8, 3).mean(axis=(2, 4)).reshape(len(x), -1)
    return np.stack([m[:, :16].sum(1), m[:, 16:32].sum(1), m[:, 32:].sum(1)], axis=1)

def ranker(adapter, images, label_maps, blurred, target, k, **kw):
    from imacs_widget.engine.ranking import rank_leave_one_out
    return rank_leave_one_out(adapter, images, label_maps, blurred, target, k, **kw)

rng = np.random.default_rng(0)
x = (rng.random((24, 32, 32, 3)) * 255).astype(np.uint8)
y = rng.integers(0, 3, 24)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    r = imacs.compare(model, model, x, y, target_class=0, sampling="all", n_clusters=3, k=3,
                      ranking=ranker, embedder=tiny_embedder(), cache_dir=sys.argv[1],
                      progress=False)
print("hits", r.params["cache_hits"], "misses", r.params["cache_misses"], repr(model))
"""


def _child(cache_dir: Path) -> tuple[int, int]:
    script = CHILD.format(root=str(ROOT), tests=str(TESTS))
    out = subprocess.run([sys.executable, "-c", script, str(cache_dir)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    words = out.stdout.split()
    i = words.index("hits")
    return int(words[i + 1]), int(words[i + 3])


@pytest.mark.slow
def test_plain_function_and_ranker_resume_in_a_fresh_process(tmp_path):
    hits, misses = _child(tmp_path)  # 24 images sampled by both sides, both the same model
    assert hits == 24 and misses == 24
    hits, misses = _child(tmp_path)  # a new process: new memory addresses, same model
    assert hits == 48 and misses == 0  # before the fix: the run started over


def _ranker(adapter, images, label_maps, blurred, target, k, *, scale=1.0, **kw):
    return rank_leave_one_out(adapter, images, label_maps, blurred, target, k, **kw)


def test_callable_rankers_are_keyed_by_code_and_bound_arguments():
    a = functools.partial(_ranker, scale=1.0)
    b = functools.partial(_ranker, scale=2.0)
    assert callable_fingerprint(a) != callable_fingerprint(b)
    assert callable_fingerprint(a) == callable_fingerprint(functools.partial(_ranker, scale=1.0))
    assert "0x" not in callable_fingerprint(_ranker)
    key = RunSettings(ranking=a).attribution_key(0, 2.0)
    assert key != RunSettings(ranking=b).attribution_key(0, 2.0)
    assert key != RunSettings(ranking="loo").attribution_key(0, 2.0)
    assert key != RunSettings(ranking=a, seed=1).attribution_key(0, 2.0)  # seed breaks ties
    # sampling and clustering options do not change what one image's attribution is
    assert key == RunSettings(ranking=a, n_clusters=3, sampling="all").attribution_key(0, 2.0)
