"""compare(executor="ray") on a real local Ray cluster: the same result as a local run, a
worker killed mid-run retried, clear errors (unreachable address, models a worker can't load).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_embedder

import imacs_widget
from imacs_widget.errors import ImacsInputError

ray = pytest.importorskip("ray")
from imacs_widget.engine.ray_executor import RayExecutor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_cluster():
    """A real local Ray cluster of 2 CPUs, shared by this module's tests."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def gate():
    """A gate shared by the driver and the actors (Ray's signal-actor pattern): ``wait`` blocks
    until ``open``; ``close`` shuts it again."""
    import asyncio

    @ray.remote(num_cpus=0)
    class Gate:
        def __init__(self):
            self.event = asyncio.Event()

        def open(self):
            self.event.set()

        def close(self):
            self.event.clear()

        async def wait(self):
            await self.event.wait()

    return Gate.remote()


def gated_embedder(g):
    """The tests' colour-statistics embedder, which waits for the gate ``g`` before each batch:
    while it is closed, every chunk an actor holds stays in flight (a kill lands mid-run)."""
    from imacs_widget.engine.embedding.embedders import Embedder

    inner = tiny_embedder()

    def fn(crops):
        ray.get(g.wait.remote(), timeout=300)  # a gate never opened fails, never hangs
        return inner.fn(crops)

    return Embedder(fn, inner.input_size, "gated-colour-stats")


class KillOneWorker(RayExecutor):
    """A RayExecutor whose first actor is SIGKILLed when the 4th chunk of the first class is
    handed out, then opens the gate: with two actors of two chunks each, both of the killed
    actor's chunks are then in flight, held at the closed gate, and must be retried."""

    killed = None

    def __init__(self, gate, **kw):
        super().__init__(**kw)
        self.gate = gate

    def attribute(self, tasks, read):
        n = 0

        def reading(task):
            nonlocal n
            n += 1
            if n == 4 and self.killed is None:
                self.killed = self.pids[0]
                os.kill(self.pids[0], signal.SIGKILL)
                ray.get(self.gate.open.remote())
            return read(task)

        return super().attribute(tasks, reading)


@pytest.mark.slow
def test_ray_run_with_a_killed_worker_equals_the_local_run(ray_cluster, tiny_models, tiny_images,
                                                           monkeypatch, tmp_path):
    import imacs_widget.engine.pipeline as pl

    monkeypatch.setattr(pl, "CHUNK_IMAGES", 8)  # 12 chunks per class
    x, y = tiny_images
    g = gate()
    kw = dict(target_class=["a", "c"], class_names=["a", "b", "c"], sampling="all",
              n_clusters=4, embedder=gated_embedder(g), progress=False, seed=3)
    ray.get(g.open.remote())
    local = imacs_widget.compare(*tiny_models, x, y, **kw)
    ray.get(g.close.remote())  # the remote run's actors wait at the gate until the kill
    ex = KillOneWorker(g, num_workers=2, tasks_per_worker=2)
    cache = tmp_path / "cache"  # written by the workers (shared storage on a real cluster)
    remote = imacs_widget.compare(*tiny_models, x, y, executor=ex, cache_dir=cache, **kw)
    assert ex.killed and ex.retried >= 1  # chunks of the killed worker ran again
    assert remote.params["executor"] == "ray"
    total = 2 * 2 * len(x)  # two classes, every image for both models
    assert remote.params["cache_hits"] + remote.params["cache_misses"] == total
    # a restarted driver resumes from the workers' cache: nothing is attributed again
    again = imacs_widget.compare(*tiny_models, x, y, executor=RayExecutor(num_workers=2),
                                 cache_dir=cache, **kw)
    assert again.params["cache_hits"] == total and again.params["cache_misses"] == 0
    np.testing.assert_allclose(np.asarray(again.shapley_all), np.asarray(remote.shapley_all),
                               atol=1e-6, rtol=0)
    for name in ("a", "c"):
        a, b = local.select_class(name), remote.select_class(name)
        cols = [c for c in a.segments.columns if c not in ("attribution", "centroid_distance")]
        pd.testing.assert_frame_equal(b.segments[cols], a.segments[cols])
        np.testing.assert_allclose(b.segments["attribution"], a.segments["attribution"],
                                   atol=1e-6, rtol=0)
        np.testing.assert_allclose(np.asarray(b.shapley_all), np.asarray(a.shapley_all),
                                   atol=1e-6, rtol=0)
        np.testing.assert_array_equal(np.asarray(b.thumbnails), np.asarray(a.thumbnails))
        assert b.clusters == a.clusters
    assert ray.is_initialized()  # the user's cluster is left running


def test_a_worker_that_cannot_load_the_models_fails_clearly(ray_cluster, tmp_path, tiny_images,
                                                            monkeypatch):
    # a model class importable in the driver only (its module is not on the workers' path)
    (tmp_path / "driver_only_models.py").write_text(textwrap.dedent("""
        import numpy as np
        class Linear:
            def __call__(self, x):
                z = np.asarray(x, np.float32).mean(axis=(1, 2))
                return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import driver_only_models

    x, y = tiny_images
    with pytest.raises(ImacsInputError, match="executor: a Ray worker could not load the models"):
        imacs_widget.compare(driver_only_models.Linear(), driver_only_models.Linear(), x, y,
                             target_class="a", class_names=["a", "b", "c"], n_per_model=8,
                             n_clusters=2, embedder=tiny_embedder(), progress=False,
                             executor=RayExecutor(num_workers=1))


def test_an_unreachable_ray_address_fails_at_once():
    # a fresh process (no Ray running); a closed local port
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
        import numpy as np
        from conftest import tiny_cnn
        import imacs_widget
        from imacs_widget.engine.ray_executor import RayExecutor
        x = np.zeros((8, 32, 32, 3), np.uint8)
        t = time.monotonic()
        try:
            imacs_widget.compare(tiny_cnn(), tiny_cnn(seed=1), x, np.zeros(8, int),
                                 target_class=0, executor=RayExecutor(address="127.0.0.1:9"),
                                 progress=False)
        except imacs_widget.ImacsInputError as exc:
            print("ERROR", exc, round(time.monotonic() - t, 1))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert "ERROR address: no Ray cluster answers at '127.0.0.1:9'" in out.stdout, (
        out.stdout + out.stderr[-2000:])
    assert float(out.stdout.split()[-1]) < 15
