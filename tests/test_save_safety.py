"""save() never deletes what is not an imacs result, and a failed save leaves the old result
as it was (issue 21, class 1)."""

from __future__ import annotations

import errno
import zipfile

import numpy as np
import pandas as pd
import pytest
from synthetic_result import make_result

import imacs_widget
from imacs_widget.errors import ImacsInputError
from imacs_widget.io import store


@pytest.fixture(scope="module")
def result():
    return make_result(300, 6)


def test_a_folder_of_the_users_files_is_refused_and_kept(result, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    with pytest.raises(ImacsInputError, match=r"^path: .*notes is a folder that is not an imacs "
                                              r"result .*todo\.txt"):
        result.save(notes)
    assert (notes / "todo.txt").read_text() == "keep me"


def test_a_file_is_refused_and_kept(result, tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(ImacsInputError, match=r"^path: .*data\.csv exists and is a file, not an "
                                              "imacs result"):
        result.save(f)
    assert f.read_text() == "a,b\n1,2\n"
    z = tmp_path / "other.zip"  # a zip that is not a format 1 result
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("meta.json", '{"format": "something else"}')
    with pytest.raises(ImacsInputError, match="not an imacs result"):
        result.save(z)
    assert zipfile.is_zipfile(z)


def test_an_unrelated_tmp_sibling_is_left_alone(result, tmp_path):
    sibling = tmp_path / "r.imacs.tmp"
    sibling.mkdir()
    (sibling / "mine.txt").write_text("not imacs'")
    result.save(tmp_path / "r.imacs")
    assert (sibling / "mine.txt").read_text() == "not imacs'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.imacs", "r.imacs.tmp"]


def test_a_result_with_files_of_the_user_inside_is_refused(result, tmp_path):
    path = result.save(tmp_path / "r.imacs")
    (path / "my_notes.md").write_text("notes")
    with pytest.raises(ImacsInputError, match=r"also holds files of yours \(\['my_notes\.md'\]"):
        make_result(60, 4).save(path)
    assert (path / "my_notes.md").exists()
    assert len(imacs_widget.load(path).segments) == 300


def test_a_result_and_an_empty_folder_are_replaced(result, tmp_path):
    path = result.save(tmp_path / "r.imacs")
    other = make_result(60, 4)
    other.save(path)
    assert len(imacs_widget.load(path).segments) == 60
    (tmp_path / "empty").mkdir()
    other.save(tmp_path / "empty")
    assert len(imacs_widget.load(tmp_path / "empty").segments) == 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "r.imacs"]


def test_a_crash_mid_save_leaves_the_previous_result_unchanged(result, tmp_path, monkeypatch):
    path = result.save(tmp_path / "r.imacs")
    before = imacs_widget.load(path)
    seg, thumbs = before.segments.copy(), np.asarray(before.thumbnails)
    files = sorted((p.relative_to(path), p.read_bytes()) for p in path.rglob("*") if p.is_file())

    real_flush, calls = store._Appender.flush, []

    def flush_then_fail(self, whole_blocks=False):  # fault injection: the 2nd array write fails
        calls.append(self.name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_flush(self, whole_blocks)

    monkeypatch.setattr(store._Appender, "flush", flush_then_fail)
    with pytest.raises(ImacsInputError, match="^store: could not write the result .*disk is full"):
        make_result(120, 5).save(path)
    monkeypatch.undo()
    assert len(calls) == 2  # the first array was written, the second failed
    assert sorted((p.relative_to(path), p.read_bytes()) for p in path.rglob("*")
                  if p.is_file()) == files
    back = imacs_widget.load(path)
    pd.testing.assert_frame_equal(back.segments, seg)
    np.testing.assert_array_equal(np.asarray(back.thumbnails), thumbs)
    assert [p.name for p in tmp_path.iterdir()] == ["r.imacs"]  # no temporary folder left
