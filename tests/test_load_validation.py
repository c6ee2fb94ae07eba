"""load() checks what it reads (issue 21, classes 2 and 3).

The damaged files are made from a real small result (two tiny Keras CNNs, computed once for the
module): a chunk deleted, ``meta.json`` edited, a segments table swapped. Each must raise one
:class:`ImacsInputError` naming the file and the field, or, for an optional part, warn and load
without it; never zeros shown as data.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import quick_compare, tiny_cnn

import imacs_widget
from imacs_widget.errors import ImacsInputError, ImacsWarning
from imacs_widget.io.result_file import read_segments
from imacs_widget.io.result_write import write_segments


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_images):
    x, y = tiny_images
    r = quick_compare(tiny_cnn(seed=1), tiny_cnn(seed=2), x[:24], y[:24])
    return r.save(tmp_path_factory.mktemp("real") / "r.imacs")


@pytest.fixture
def copy(saved, tmp_path):
    return Path(shutil.copytree(saved, tmp_path / "r.imacs"))


def _meta(path: Path, edit) -> None:
    meta = json.loads((path / "meta.json").read_text())
    edit(meta)
    (path / "meta.json").write_text(json.dumps(meta))


def _table(path: Path, edit) -> None:
    meta = json.loads((path / "meta.json").read_text())
    f = path / "class0" / "segments.parquet"
    seg = read_segments(f, meta["classes"][0]["columns"])
    write_segments(f, edit(seg))


def _chunks(path: Path, name: str) -> list[Path]:
    return sorted((path / "arrays.zarr" / name / "c").rglob("*"))


def _fails(path: Path, *fragments: str) -> str:
    with pytest.raises(ImacsInputError) as info:
        imacs_widget.load(path)
    msg = str(info.value)
    assert msg.startswith("path: "), msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_an_intact_result_loads_without_a_warning(copy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = imacs_widget.load(copy)
    assert len(r.segments) and np.asarray(r.thumbnails).any()
    assert np.isfinite(np.asarray(r.shapley_all)).all()


@pytest.mark.parametrize("name", ["thumbnails", "shapley_all", "embeddings", "segment_masks"])
def test_a_deleted_chunk_of_a_required_array_is_an_error_not_zeros(copy, name):
    chunk = [p for p in _chunks(copy, f"class0/{name}") if p.is_file()][0]
    chunk.unlink()
    _fails(copy, str(copy / "arrays.zarr" / "class0" / name), f"field {name!r}", "chunks")


def test_a_deleted_preview_chunk_warns_and_shows_grey_not_black(copy):
    for p in _chunks(copy, "sources/previews"):
        if p.is_file():
            p.unlink()
    with pytest.warns(ImacsWarning, match=r"sources/previews.*grey placeholders"):
        r = imacs_widget.load(copy)
    i = int(r.segments["image_index"].iloc[0])
    assert (np.asarray(r.source_images[i]) == 128).all()


def test_a_deleted_games_chunk_drops_the_games_with_a_warning(copy):
    [p.unlink() for p in _chunks(copy, "class0/games") if p.is_file()]
    with pytest.warns(ImacsWarning, match=r"class0/games.*loading the result without it"):
        r = imacs_widget.load(copy)
    assert r._active.games is None and len(r.segments)


def test_a_huge_n_clusters_is_refused_before_allocating(copy):
    _meta(copy, lambda m: m["classes"][0].update(n_clusters=10**12))
    _fails(copy, "meta.json", "'classes[0].n_clusters'", "1000000000000")


@pytest.mark.parametrize("edit, field", [
    (lambda m: m.pop("class_names"), "'class_names'"),
    (lambda m: m.update(model_names="A"), "'model_names'"),
    (lambda m: m.update(image_shape=[10**9, 32]), "'image_shape'"),
    (lambda m: m["classes"][0].pop("columns"), "'classes[0].columns'"),
    (lambda m: m["classes"][0].update(n_clusters="3"), "'classes[0].n_clusters'"),
    (lambda m: m.update(order="bogus"), "'order'"),
    (lambda m: m.update(active="nope"), "'active'"),
    (lambda m: m["model_names"].update(C="third"), "'columns'"),  # was KeyError: 'pred_c'
    (lambda m: m.update(classes=[]), "'classes'"),
])
def test_a_malformed_meta_json_names_the_field(copy, edit, field):
    _meta(copy, edit)
    _fails(copy, field)


def test_meta_json_that_is_not_an_object_or_not_json(copy):
    (copy / "meta.json").write_text("[1, 2]")
    _fails(copy, "meta.json", "not an object")
    (copy / "meta.json").write_text("{not json")
    _fails(copy, "meta.json", "not valid JSON")


@pytest.mark.parametrize("column, value", [("cluster", 99), ("segment_index", -1),
                                           ("attribution", np.nan), ("model", "Z"),
                                           ("image_index", -5), ("rank", 50)])
def test_out_of_range_table_values_name_the_file_and_column(copy, column, value):
    def edit(seg):
        seg[column] = seg[column].astype(object if isinstance(value, str) else seg[column].dtype)
        seg.loc[seg.index[3], column] = value
        return seg

    _table(copy, edit)
    _fails(copy, "class0/segments.parquet", f"field {column!r}")


def test_a_swapped_table_with_other_row_counts_is_refused(copy):
    _table(copy, lambda seg: seg.iloc[: len(seg) // 2])
    _fails(copy, "class0", "rows but the segments table has")


def test_a_table_that_is_not_parquet_names_the_file(copy):
    (copy / "class0" / "segments.parquet").write_bytes(b"garbage" * 10)
    _fails(copy, "segments.parquet", "not a readable Parquet table")
    (copy / "class0" / "segments.parquet").unlink()
    _fails(copy, "segments.parquet", "is missing")


def test_an_array_shape_edited_in_zarr_json_is_refused(copy):
    f = copy / "arrays.zarr" / "class0" / "thumbnails" / "zarr.json"
    meta = json.loads(f.read_text())
    meta["shape"][0] = 10**12
    f.write_text(json.dumps(meta))
    _fails(copy, "thumbnails", "1000000000000 rows")


def test_nan_shapley_values_are_refused_when_read(copy):
    import zarr

    z = zarr.open_array(str(copy / "arrays.zarr" / "class0" / "shapley_all"), mode="r+")
    z[0, 0] = np.nan
    r = imacs_widget.load(copy)
    with pytest.raises(ImacsInputError, match="shapley_all: holds NaN"):
        np.asarray(r.shapley_all)


def test_a_store_linked_outside_the_folder_is_refused(copy, tmp_path):
    outside = tmp_path / "elsewhere.zarr"
    shutil.move(copy / "arrays.zarr", outside)
    (copy / "arrays.zarr").symlink_to(outside, target_is_directory=True)
    _fails(copy, "arrays.zarr is a link to", "outside the result folder")


def test_a_format1_file_with_a_damaged_table_names_the_member(tmp_path):
    src = Path(__file__).parent / "data" / "format1_result.imacs"
    dst = tmp_path / "bad.imacs"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "class0/segments/cluster.npy":
                arr = np.load(io.BytesIO(data))
                arr[0] = 10**6
                buf = io.BytesIO()
                np.save(buf, arr)
                data = buf.getvalue()
            zout.writestr(item, data)
    _fails(dst, "class0/segments", "field 'cluster'")
