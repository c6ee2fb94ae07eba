"""Long runs: a compare() killed with SIGKILL mid-attribution resumes from its cache (issue 4 §4).

The child process runs ``compare(..., cache_dir=...)`` on two small real Keras models loaded from
``.keras`` files and generated images. Test instrumentation (a hook on the cache's ``put``)
pauses it once two chunks are in the cache and says so on stdout; the parent kills it there,
mid-attribution (no sleeping, no timing). The resumed run must skip every cached image (cache
hits) and give the same result as an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_cnn, tiny_embedder

from imacs_widget.io.cache import AttributionCache

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CHUNK = 8  # images per attribution chunk (pipeline.CHUNK_IMAGES), small to get many entries
N_IMAGES = 64

CHILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path[:0] = [{root!r}, {tests!r}]
import numpy as np
import keras
import imacs_widget.engine.pipeline as pl
from imacs_widget.io.cache import AttributionCache
from conftest import tiny_embedder

pl.CHUNK_IMAGES = {chunk}
_put, _written = AttributionCache.put, []
def put_then_pause(self, key, **arrays):  # test instrumentation: stop mid-run, say so, wait
    _put(self, key, **arrays)
    _written.append(key)
    if len(_written) == {pause_after}:
        print("paused", len(_written), flush=True)
        sys.stdin.readline()  # blocks until the parent kills this process
AttributionCache.put = put_then_pause
z = np.load(sys.argv[1])
ma = keras.saving.load_model(sys.argv[2], safe_mode=True)
mb = keras.saving.load_model(sys.argv[3], safe_mode=True)
print("ready", flush=True)
pl.compare(ma, mb, z["images"], z["labels"], target_class=0, sampling="all", n_clusters=4,
           embedder=tiny_embedder(), cache_dir=sys.argv[4], progress=False, batch_size=32)
print("finished", flush=True)
"""


def _entries(d: Path) -> list[Path]:
    return [p for p in d.glob("*.npz") if not p.name.startswith(".tmp-")] if d.exists() else []


def _run(ma, mb, images, labels, cache_dir, monkeypatch):
    import imacs_widget.engine.pipeline as pl

    monkeypatch.setattr(pl, "CHUNK_IMAGES", CHUNK)
    return pl.compare(ma, mb, images, labels, target_class=0, sampling="all", n_clusters=4,
                      embedder=tiny_embedder(), cache_dir=cache_dir, progress=False,
                      batch_size=32)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, monkeypatch):
    import keras

    rng = np.random.default_rng(11)
    images = (rng.random((N_IMAGES, 32, 32, 3)) * 255).astype(np.uint8)
    labels = rng.integers(0, 3, N_IMAGES)
    np.savez(tmp_path / "data.npz", images=images, labels=labels)
    tiny_cnn(seed=1).save(tmp_path / "a.keras")
    tiny_cnn(seed=2).save(tmp_path / "b.keras")
    cache = tmp_path / "cache"
    total = 2 * N_IMAGES  # sampling="all": every image for both models

    script = CHILD.format(root=str(ROOT), tests=str(TESTS), chunk=CHUNK, pause_after=2 * CHUNK)
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "data.npz"),
                             str(tmp_path / "a.keras"), str(tmp_path / "b.keras"), str(cache)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=(tmp_path / "child.err").open("w"), text=True)
    watchdog = threading.Timer(300, proc.kill)  # a hung child fails the test, never hangs it
    watchdog.start()
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]  # blocks until the child says
        assert lines[0].strip() == "ready" and lines[1].split() == ["paused", str(2 * CHUNK)], (
            f"the child did not pause mid-run: {lines}\n"
            + (tmp_path / "child.err").read_text()[-3000:])
        done_at_kill = len(_entries(cache))  # the child is blocked: nothing more is written
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert done_at_kill == 2 * CHUNK < total, done_at_kill
    assert len(_entries(cache)) == done_at_kill  # the kill wrote nothing (no half entry)

    ma = keras.saving.load_model(tmp_path / "a.keras", safe_mode=True)
    mb = keras.saving.load_model(tmp_path / "b.keras", safe_mode=True)
    resumed = _run(ma, mb, images, labels, cache, monkeypatch)
    # the resumed run skipped every image finished before the kill and computed the rest
    assert resumed.params["cache_hits"] >= done_at_kill
    assert resumed.params["cache_misses"] == total - resumed.params["cache_hits"] > 0
    assert len(_entries(cache)) == total

    fresh = _run(ma, mb, images, labels, None, monkeypatch)
    assert "cache_hits" not in fresh.params
    a, b = resumed.segments, fresh.segments
    for col in ("model", "image_index", "segment_index", "rank", "outcome", "bbox", "cluster"):
        assert a[col].tolist() == b[col].tolist(), col
    np.testing.assert_allclose(a["attribution"], b["attribution"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(resumed.shapley_all, fresh.shapley_all, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(resumed.thumbnails, fresh.thumbnails)

    again = _run(ma, mb, images, labels, cache, monkeypatch)  # everything cached now
    assert again.params["cache_hits"] == total and again.params["cache_misses"] == 0
    np.testing.assert_array_equal(again.shapley_all, resumed.shapley_all)


def test_half_written_entries_are_never_read(tmp_path, monkeypatch):
    c = AttributionCache(tmp_path)
    key = c.key("fp", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.int32), "p")
    vals = np.arange(6.0).reshape(2, 3)

    # 1. a writer killed mid-write leaves only a temp file (SIGKILL skips any cleanup): simulate
    #    one holding a truncated copy of the entry; it is never read under the key.
    c.put(key, segments=np.array([1, 2]), values=vals)
    good = (tmp_path / f"{key}.npz").read_bytes()
    (tmp_path / f"{key}.npz").unlink()
    (tmp_path / f".tmp-{key}.npz").write_bytes(good[: len(good) // 2])
    assert c.get(key) is None

    # 2. an exception mid-write (after part of the bytes) leaves no entry and no temp file
    real_savez = np.savez

    def failing_savez(fh, **arrays):
        fh.write(good[:100])
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError):
        c.put(key, segments=np.array([1, 2]), values=vals)
    monkeypatch.setattr(np, "savez", real_savez)
    assert not (tmp_path / f"{key}.npz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".tmp-{key}.npz"]  # only case 1's
    assert c.get(key) is None

    # 3. a corrupt entry under the final name (e.g. copied truncated) is a miss, not an error
    (tmp_path / f"{key}.npz").write_bytes(good[:50])
    assert c.get(key) is None

    # and a complete write is read back exactly
    c.put(key, segments=np.array([1, 2]), values=vals)
    got = c.get(key)
    np.testing.assert_array_equal(got["values"], vals)
    np.testing.assert_array_equal(got["segments"], [1, 2])
    assert c.hits == 1 and c.misses == 3
