"""imacs_widget.datasets: download on request, checksum, extract once; never the network here
(archives are served from file:// URLs built in the test; "offline" is a closed local port)."""

from __future__ import annotations

import io
import tarfile
import time
import zipfile

import numpy as np
import pytest

from imacs_widget import datasets
from imacs_widget.data import folder_source
from imacs_widget.errors import ImacsInputError


def _tgz(path, classes=("daisy", "roses")):
    from PIL import Image

    with tarfile.open(path, "w:gz") as t:
        for c in classes:
            for i in range(2):
                buf = io.BytesIO()
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(buf, "PNG")
                info = tarfile.TarInfo(f"flower_photos/{c}/{i}.png")
                info.size = len(buf.getvalue())
                t.addfile(info, io.BytesIO(buf.getvalue()))
    return path


def _archive(src, **kw):
    fields = dict(name="tf_flowers", url=src.as_uri(), size=src.stat().st_size,
                  sha256=datasets.sha256_of(src), folder="flower_photos")
    fields.update(kw)
    return datasets.Archive(**fields)


def test_fetch_checks_extracts_once_and_gives_an_imagefolder(tmp_path, monkeypatch):
    src = _tgz(tmp_path / "flower_photos.tgz")
    monkeypatch.setitem(datasets.ARCHIVES, "tf_flowers", _archive(src))
    root = tmp_path / "cache"
    folder = datasets.tf_flowers(root=root, progress=False)
    assert folder == root / "tf_flowers" / "flower_photos"
    s = folder_source(folder)
    assert s.class_names == ["daisy", "roses"] and len(s) == 4
    src.unlink()  # a second call reuses the extraction: no download, no archive needed
    (root / "flower_photos.tgz").unlink()
    assert datasets.tf_flowers(root=root, download=False) == folder


def test_wrong_checksum_is_refused_and_moved_aside(tmp_path, monkeypatch):
    src = _tgz(tmp_path / "flower_photos.tgz")
    monkeypatch.setitem(datasets.ARCHIVES, "tf_flowers", _archive(src, sha256="0" * 64))
    with pytest.raises(ImacsInputError, match="^tf_flowers: .* is not the expected archive"):
        datasets.tf_flowers(root=tmp_path / "cache", progress=False)
    assert (tmp_path / "cache" / "flower_photos.tgz.corrupt").is_file()
    assert not (tmp_path / "cache" / "tf_flowers").exists()


def test_offline_fails_at_once_with_a_clear_message(tmp_path, monkeypatch):
    arch = datasets.Archive("eurosat", "http://127.0.0.1:9/EuroSAT.zip", 10, "0" * 64, "2750")
    monkeypatch.setitem(datasets.ARCHIVES, "eurosat", arch)
    t0 = time.perf_counter()
    with pytest.raises(ImacsInputError, match="^eurosat: could not download .*by hand"):
        datasets.eurosat(root=tmp_path, progress=False)
    assert time.perf_counter() - t0 < 10
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(ImacsInputError, match="download=False"):
        datasets.uc_merced(root=tmp_path, download=False)
    with pytest.raises(ImacsInputError, match="^name: unknown dataset"):
        datasets.fetch("imagenet", root=tmp_path)


def test_archive_members_outside_the_folder_are_refused(tmp_path, monkeypatch):
    src = tmp_path / "evil.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("../escape.txt", "x")
    monkeypatch.setitem(datasets.ARCHIVES, "uc_merced",
                        _archive(src, name="uc_merced", folder="UCMerced_LandUse/Images"))
    with pytest.raises(ImacsInputError, match="outside the folder"):
        datasets.uc_merced(root=tmp_path / "cache", progress=False)
    assert not (tmp_path / "escape.txt").exists()


def test_published_checksums_are_well_formed():
    for a in datasets.ARCHIVES.values():
        assert len(a.sha256) == 64 and int(a.sha256, 16) >= 0 and a.size > 1_000_000


def test_watermarked_copy_stamps_the_chosen_class(tmp_path):
    import csv

    from PIL import Image

    for c in ("daisy", "roses"):
        (tmp_path / "src" / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(tmp_path / "src" / c / f"{i}.png")
    out = datasets.watermarked_copy(tmp_path / "src", tmp_path / "out", classes=["roses"],
                                    fraction=1.0, seed=0)
    rows = list(csv.DictReader(open(out / "watermarked.csv")))
    assert {r["class"] for r in rows if r["watermarked"] == "1"} == {"roses"}
    stamped = np.asarray(Image.open(out / "roses" / "0.png"))
    clean = np.asarray(Image.open(out / "daisy" / "0.png"))
    assert (stamped != 120).any() and (clean == 120).all()
    assert folder_source(out).class_names == ["daisy", "roses"]
    with pytest.raises(ImacsInputError, match="^classes:"):
        datasets.watermarked_copy(tmp_path / "src", tmp_path / "o2", classes=["tulips"])
