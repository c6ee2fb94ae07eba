"""Inputs a user can trust (issue 21, classes 5-7): NaN pixels on every data path,
``target_class`` of a wrong type, and dataset archives with special members."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import numpy as np
import pytest

import imacs_widget as imacs
from imacs_widget import datasets
from imacs_widget.data import as_image_source
from imacs_widget.errors import ImacsInputError


def _scores(batch):
    """A real (NumPy) model: class scores from the mean colour."""
    m = np.asarray(batch, np.float64).mean(axis=(1, 2))
    e = np.exp((m - m.mean(axis=1, keepdims=True)) / 50.0)
    return e / e.sum(axis=1, keepdims=True)


def _scores_b(batch):
    """A second real model: the same scores, sharper."""
    return _scores(np.asarray(batch) * 2.0)


def _images(n=6, size=16, seed=0):
    return (np.random.default_rng(seed).random((n, size, size, 3)) * 255).astype(np.float32)


@pytest.mark.parametrize("kind", ["mixed sizes", "image_size", "list image_size"])
def test_nan_pixels_are_refused_on_every_data_path(kind):
    x = _images()
    x[3, 2, 2, 1] = np.nan
    if kind == "mixed sizes":
        data, kw = [x[0][:12], *x[1:]], {}
    elif kind == "image_size":
        data, kw = x, {"image_size": (12, 12)}
    else:
        data, kw = list(x), {"image_size": (16, 16)}
    src = as_image_source(data, **kw)
    with pytest.raises(ImacsInputError, match=r"^images: images\[3\] contains NaN or inf"):
        src.read(np.arange(len(src)))
    with pytest.raises(ImacsInputError, match=r"images\[3\] contains NaN or inf"):
        imacs.compare(_scores, _scores_b, data, [0, 1, 2, 0, 1, 2], target_class=0,
                      progress=False, **kw)


def test_nan_pixels_in_a_torch_dataset_are_refused():
    torch = pytest.importorskip("torch")

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            img = torch.full((3, 8, 8), 0.5)
            if i == 2:
                img[0, 1, 1] = float("nan")
            return img, i % 2

    src = as_image_source(Images())
    with pytest.raises(ImacsInputError, match=r"dataset\[2\] contains NaN"):
        list(src.chunks())


def test_nan_pixels_in_a_cli_npz_are_refused(tmp_path):
    from imacs_widget.io.loaders import load_images

    x = _images()
    x[1, 0, 0, 0] = np.inf
    np.savez(tmp_path / "d.npz", images=x, labels=np.zeros(len(x), int))
    with pytest.raises(ImacsInputError, match=r"^--images: .*d\.npz: .*NaN or inf"):
        load_images(tmp_path / "d.npz", image_size=(8, 8))


@pytest.mark.parametrize("target", [1.0, np.float64(0.0), {"a": 1}, object(), b"a"])
def test_target_class_of_a_wrong_type_is_a_clear_error(target):
    with pytest.raises(ImacsInputError, match="^target_class: "):
        imacs.compare(_scores, _scores_b, _images(), [0, 1, 2, 0, 1, 2], target_class=target,
                      progress=False)


def test_target_class_lists_of_floats_name_target_class():
    with pytest.raises(ImacsInputError, match="^target_class: .*got float"):
        imacs.compare(_scores, _scores_b, _images(), [0, 1, 2, 0, 1, 2], target_class=[0, 1.0],
                      progress=False)


def _tar(path, special):
    with tarfile.open(path, "w:gz") as t:
        from PIL import Image

        for c in ("daisy", "roses"):
            buf = io.BytesIO()
            Image.fromarray(np.full((8, 8, 3), 40, np.uint8)).save(buf, "PNG")
            info = tarfile.TarInfo(f"flower_photos/{c}/0.png")
            info.size = len(buf.getvalue())
            info.mode = 0o644
            t.addfile(info, io.BytesIO(buf.getvalue()))
        t.addfile(special, io.BytesIO(b"#!/bin/sh\n") if special.isfile() else None)
    return path


def _member(name, type_=tarfile.REGTYPE, mode=0o644):
    info = tarfile.TarInfo(f"flower_photos/daisy/{name}")
    info.type, info.mode = type_, mode
    if type_ == tarfile.REGTYPE:
        info.size = len(b"#!/bin/sh\n")
    else:
        info.devmajor, info.devminor = 1, 3
    return info


def _fetch(tmp_path, monkeypatch, special):
    src = _tar(tmp_path / "flower_photos.tgz", special)
    monkeypatch.setitem(datasets.ARCHIVES, "tf_flowers", datasets.Archive(
        name="tf_flowers", url=src.as_uri(), size=src.stat().st_size,
        sha256=datasets.sha256_of(src), folder="flower_photos"))
    return datasets.tf_flowers(root=tmp_path / "cache", progress=False)


@pytest.mark.parametrize("type_, what", [(tarfile.FIFOTYPE, "a FIFO"),
                                         (tarfile.CHRTYPE, "a device"),
                                         (tarfile.BLKTYPE, "a device")])
def test_archive_devices_and_fifos_are_refused(tmp_path, monkeypatch, type_, what):
    with pytest.raises(ImacsInputError, match=f"^archive: .* contains {what} "
                                              r"\(flower_photos/daisy/x\)"):
        _fetch(tmp_path, monkeypatch, _member("x", type_))
    assert not (tmp_path / "cache" / "tf_flowers").exists()


def test_archive_setuid_and_setgid_bits_are_dropped(tmp_path, monkeypatch):
    folder = _fetch(tmp_path, monkeypatch, _member("run.sh", mode=0o6777))
    mode = os.stat(folder / "daisy" / "run.sh").st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH | stat.S_IWGRP)
    assert mode & stat.S_IRUSR
