"""The result store (format 2): Parquet + Zarr folders, read on demand; format 1 still loads."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_embedder
from synthetic_result import make_result

import imacs_widget
from imacs_widget.errors import ImacsInputError
from imacs_widget.io.store import ResultStore, StoredArray

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def test_format1_zip_written_by_the_previous_release_still_loads():
    # tests/data/format1_result.imacs was written by the format-1 save() of the commit before
    # the store (synthetic_result.make_result(60, 4, image_size=64, source_size=32,
    # thumb_size=16, extra_classes=(0,), extra_segments=30)); these figures were printed then.
    r = imacs_widget.load(DATA / "format1_result.imacs")
    assert r.classes_of_interest == ["sunflower", "tulip"]
    assert len(r.segments) == 60 and r.n_clusters == 4
    assert [(c["id"], c["size"]) for c in r.clusters] == [(3, 1), (1, 16), (2, 16), (0, 27)]
    assert r.segments["attribution"].sum() == pytest.approx(0.7504580613991418, abs=1e-12)
    assert int(np.asarray(r.thumbnails, int).sum()) == 4756314
    assert float(np.asarray(r.embeddings, float).sum()) == pytest.approx(139.05330688593676)
    assert r.params["written_by"].startswith("imacs-widget 0.3")


def test_save_load_round_trip_is_exact_and_lazy(tmp_path):
    r = make_result(300, 6, extra_classes=(0,), extra_segments=120)
    r.select_class("tulip")
    path = r.save(tmp_path / "r.imacs")
    assert path.is_dir() and (path / "meta.json").exists()
    assert (path / "class0" / "segments.parquet").exists()
    back = imacs_widget.load(path)
    assert back.target_class == "tulip" and back.classes_of_interest == r.classes_of_interest
    for name in r.classes_of_interest:
        a, b = r.select_class(name), back.select_class(name)
        pd.testing.assert_frame_equal(b.segments, a.segments, check_dtype=True)
        for arr in ("thumbnails", "segment_masks", "shapley_all"):
            np.testing.assert_array_equal(np.asarray(getattr(b, arr)), np.asarray(getattr(a, arr)))
        # embeddings are stored as float16
        assert back.embeddings.dtype == np.float16
        np.testing.assert_allclose(np.asarray(b.embeddings, np.float32), a.embeddings,
                                   rtol=1e-3, atol=1e-3)
        assert b.clusters == a.clusters and b.n_clusters == a.n_clusters
        np.testing.assert_array_equal(b.bin_edges, a.bin_edges)
    assert set(back.source_images) == set(r.source_images)
    i = next(iter(r.source_images))
    np.testing.assert_array_equal(back.source_images[i], r.source_images[i])
    # nothing per segment was read to open it; one thumbnail reads one chunk of 256 rows
    thumbs = back.select_class("sunflower").thumbnails
    assert isinstance(thumbs, StoredArray) and not thumbs._chunks
    np.testing.assert_array_equal(thumbs[5], r.select_class("sunflower").thumbnails[5])
    assert list(thumbs._chunks) == [0]


def test_stored_array_indexes_like_numpy(tmp_path):
    rs = ResultStore.create(tmp_path / "s")
    ref = np.arange(700 * 3, dtype=np.float64).reshape(700, 3)
    arr = rs.write_array("g", "shapley_all", ref)
    assert isinstance(arr, StoredArray) and arr.shape == (700, 3) and len(arr) == 700
    for idx in (0, 699, -1, slice(10, 300), np.array([650, 3, 3, 400, 0]),
                ref[:, 0] % 7 == 0, [5, 2]):
        np.testing.assert_array_equal(arr[idx], ref[idx])
    np.testing.assert_array_equal(arr[:, 1], ref[:, 1])
    np.testing.assert_array_equal(np.asarray(arr), ref)
    np.testing.assert_array_equal(np.concatenate(list(arr.blocks(256))), ref)
    with pytest.raises(IndexError):
        arr[700]


def test_saving_to_its_own_folder_rewrites_the_tables(tmp_path):
    path = make_result(300, 6).save(tmp_path / "r.imacs")
    r = imacs_widget.load(path)
    r.recluster(3)
    r.order = "size"
    r.save(path)  # the folder it reads from: only the tables change
    back = imacs_widget.load(path)
    assert back.n_clusters == 3 and back.order == "size"
    assert back.clusters == r.clusters
    np.testing.assert_array_equal(np.asarray(back.thumbnails), np.asarray(r.thumbnails))


def test_store_errors_name_the_argument(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("something")
    with pytest.raises(ImacsInputError, match="store"):
        ResultStore.create(tmp_path / "full")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImacsInputError, match="not an imacs result"):
        imacs_widget.load(tmp_path / "empty")


def test_a_full_disk_gives_a_clear_error_naming_store(tmp_path):
    # RLIMIT_FSIZE makes writes past 64 kB fail like a full disk (EFBIG); the child saves a
    # result whose thumbnails need far more.
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
        from synthetic_result import make_result
        from imacs_widget.errors import ImacsInputError
        r = make_result(2000, 6)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))
        try:
            r.save({str(tmp_path / "r.imacs")!r})
        except ImacsInputError as exc:
            print("ERROR", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert "ERROR store:" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "could not write the result" in out.stdout and "cache_dir" in out.stdout


def test_compare_writes_its_store_as_it_goes(tiny_models, tiny_images, tmp_path):
    x, y = tiny_images
    kw = dict(target_class="a", class_names=["a", "b", "c"], n_per_model=8, n_clusters=3,
              embedder=tiny_embedder(), progress=False)
    r = imacs_widget.compare(*tiny_models, x, y, store=tmp_path / "run.imacs", **kw)
    assert r.store_path == tmp_path / "run.imacs"
    back = imacs_widget.load(tmp_path / "run.imacs")
    pd.testing.assert_frame_equal(back.segments, r.segments)
    assert back.clusters == r.clusters
    np.testing.assert_array_equal(np.asarray(back.embeddings), np.asarray(r.embeddings))
    # the default store is a temporary folder that goes with the result
    tmp = imacs_widget.compare(*tiny_models, x, y, **kw)
    folder = tmp.store_path
    assert folder.is_dir() and tmp.clusters == r.clusters
    del tmp
    gc.collect()
    assert not folder.exists()
    with pytest.raises(ImacsInputError, match="store"):
        imacs_widget.compare(*tiny_models, x, y, store=tmp_path / "run.imacs", **kw)
