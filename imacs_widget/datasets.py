"""The paper's datasets, downloaded only when asked for by name and checked by checksum.

* :func:`tf_flowers` — TF-Flowers (5 classes, 3,670 photos; paper §5, where a watermark is
  planted on one class: :func:`watermarked_copy` writes such a copy of any ImageFolder tree);
* :func:`eurosat` — EuroSAT RGB (10 land-use classes of Sentinel-2 patches; paper §6.2);
* :func:`uc_merced` — UC Merced Land Use (21 classes of aerial photos; paper §6.2, whose
  ``residential`` classes are compared with EuroSAT's).

Each function returns the folder of the extracted dataset in the ImageFolder layout (one
sub-folder per class), ready for ``compare(model_a, model_b, folder, ...)``. The archive is
downloaded once into ``root`` (default ``~/.cache/imacs-widget``), its size and SHA-256 are
checked before anything is extracted, and a finished extraction is reused. Nothing downloads
at import, in the demo or in the tests; offline, a call fails at once with a clear
:class:`~imacs_widget.errors.ImacsInputError` saying how to provide the files by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ImacsInputError


@dataclass(frozen=True)
class Archive:
    """Where a dataset comes from and what its archive must be."""

    name: str
    url: str
    size: int
    sha256: str
    folder: str
    """The sub-folder of the extracted archive that holds one folder per class."""


ARCHIVES = {
    "tf_flowers": Archive(
        "tf_flowers", "http://download.tensorflow.org/example_images/flower_photos.tgz",
        228813984, "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
        "flower_photos"),
    "eurosat": Archive(
        "eurosat", "http://madm.dfki.de/files/sentinel/EuroSAT.zip",
        94280567, "8ebea626349354c5328b142b96d0430e647051f26efc2dc974c843f25ecf70bd",
        "2750"),
    "uc_merced": Archive(
        "uc_merced", "http://weegee.vision.ucmerced.edu/datasets/UCMerced_LandUse.zip",
        332468434, "06c539ef28703a58fb07bd2837991ac7c48b813b00bb12ac197efd813a18daeb",
        "UCMerced_LandUse/Images"),
}
"""Archive URL, size in bytes and SHA-256 of each dataset (as published by TensorFlow
Datasets' URL checksums)."""

TIMEOUT_S = 20
"""Seconds to wait for the server before a download fails."""


def default_root() -> Path:
    """``$IMACS_DATA`` or ``~/.cache/imacs-widget``."""
    return Path(os.environ.get("IMACS_DATA", Path.home() / ".cache" / "imacs-widget"))


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(archive: Archive, dest: Path, progress: bool) -> None:
    import urllib.error
    import urllib.request

    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(archive.url, timeout=TIMEOUT_S) as resp, open(tmp, "wb") as out:
            from tqdm.auto import tqdm

            with tqdm(total=archive.size, unit="B", unit_scale=True, disable=not progress,
                      desc=f"download {archive.name}") as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        tmp.unlink(missing_ok=True)
        raise ImacsInputError(archive.name, f"could not download {archive.url} ({exc}). Without "
                              f"a network connection, fetch that file by hand and put it at "
                              f"{dest} (it is checked against its SHA-256).") from exc
    tmp.replace(dest)


def _check(archive: Archive, path: Path) -> None:
    size = path.stat().st_size
    if size != archive.size or sha256_of(path) != archive.sha256:
        bad = path.with_name(path.name + ".corrupt")
        path.replace(bad)
        raise ImacsInputError(archive.name, f"{path} is not the expected archive ({size} bytes, "
                              f"expected {archive.size} with SHA-256 {archive.sha256[:12]}...); "
                              f"moved aside to {bad}. Download it again.")


def _extract(archive_path: Path, into: Path) -> None:
    """Extract a .zip or .tgz, refusing members that would land outside ``into``, links, and
    (tar) devices and FIFOs; tar members are extracted without setuid / setgid / sticky bits
    or group / other write permission (``tarfile``'s ``filter="data"`` rules)."""
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()

    def safe(name: str) -> Path:
        target = (root / name).resolve()
        if root not in target.parents and target != root:
            raise ImacsInputError("archive", f"{archive_path} has a member outside the folder: "
                                  f"{name!r}")
        return target

    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as z:
            for m in z.namelist():
                safe(m)
            z.extractall(root)
    else:
        with tarfile.open(archive_path) as t:
            members = t.getmembers()
            for m in members:
                safe(m.name)
                if m.issym() or m.islnk():
                    raise ImacsInputError("archive", f"{archive_path} contains a link ({m.name})")
                if not (m.isfile() or m.isdir()):  # devices, FIFOs, anything else
                    kind = ("a device" if m.ischr() or m.isblk() else "a FIFO" if m.isfifo()
                            else "a special file")
                    raise ImacsInputError("archive", f"{archive_path} contains {kind} "
                                          f"({m.name}); a dataset holds only files and folders")
                # no setuid / setgid / sticky bits, nothing writable by others, owner rw
                m.mode = (m.mode & 0o755) | (0o600 if m.isfile() else 0o700)
                m.uid = m.gid = 0
                m.uname = m.gname = ""
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12: the same, checked again
                t.extractall(root, members=members, filter="data")
            else:
                t.extractall(root, members=members)


def fetch(name: str, root=None, download: bool = True, progress: bool = True) -> Path:
    """The extracted folder of dataset ``name`` (a key of :data:`ARCHIVES`).

    Downloads the archive into ``root`` unless it is there (``download=False``: never
    download, fail if missing), checks its size and SHA-256, extracts it once.
    """
    if name not in ARCHIVES:
        raise ImacsInputError("name", f"unknown dataset {name!r}; choose one of {sorted(ARCHIVES)}")
    archive = ARCHIVES[name]
    root = Path(root) if root is not None else default_root()
    target = root / name
    done = target / ".extracted"
    folder = target / archive.folder
    if done.is_file() and folder.is_dir():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    path = root / Path(archive.url).name
    if not path.is_file():
        if not download:
            raise ImacsInputError(name, f"{path} is missing and download=False; call with "
                                  f"download=True or put the archive ({archive.url}) there")
        _download(archive, path, progress)
    _check(archive, path)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        _extract(path, Path(tmp))
        if not (Path(tmp) / archive.folder).is_dir():
            raise ImacsInputError(name, f"{path} does not contain {archive.folder}/")
        if target.exists():
            shutil.rmtree(target)
        Path(tmp).rename(target)
        Path(tmp).mkdir()  # for TemporaryDirectory's own clean-up
    done.write_text(archive.sha256)
    return folder


def tf_flowers(root=None, download: bool = True, progress: bool = True) -> Path:
    """TF-Flowers (daisy, dandelion, roses, sunflowers, tulips): the paper's §5 dataset."""
    return fetch("tf_flowers", root, download, progress)


def eurosat(root=None, download: bool = True, progress: bool = True) -> Path:
    """EuroSAT RGB, 64x64 Sentinel-2 patches of 10 land-use classes (paper §6.2)."""
    return fetch("eurosat", root, download, progress)


def uc_merced(root=None, download: bool = True, progress: bool = True) -> Path:
    """UC Merced Land Use, 256x256 aerial photos of 21 classes (paper §6.2)."""
    return fetch("uc_merced", root, download, progress)


def watermarked_copy(folder, out, classes=None, fraction: float = 0.5, seed: int = 0) -> Path:
    """Copy an ImageFolder tree with the "IM" watermark stamped on some of its images (§5).

    ``fraction`` of the images of each class in ``classes`` (default: every class) get the
    watermark of :func:`imacs_widget.data.watermark.stamp_watermark` (sized to each image) at a
    seeded random position; the others are copied unchanged (as PNG). ``out/watermarked.csv``
    lists ``path,class,watermarked``. Use it for model B's training set (one class) or for an
    evaluation set (every class), as in the paper.
    """
    import csv

    import numpy as np
    from PIL import Image

    from .data.sources import folder_source
    from .data.watermark import stamp_watermark, watermark_pattern

    if not 0.0 <= float(fraction) <= 1.0:
        raise ImacsInputError("fraction", f"must be in [0, 1], got {fraction!r}")
    src = folder_source(folder, name="folder")
    chosen = set(src.class_names if classes is None else classes)
    unknown = chosen - set(src.class_names)
    if unknown:
        raise ImacsInputError("classes", f"{sorted(unknown)} are not classes of {folder} "
                              f"({src.class_names})")
    out = Path(out)
    rng = np.random.default_rng(seed)
    rows = []
    for path, label in zip(src.paths, src.labels, strict=True):
        with Image.open(path) as im:
            img = np.asarray(im.convert("RGB"))
        mark = label in chosen and rng.random() < fraction
        if mark:
            pattern = watermark_pattern(min(img.shape[:2]))
            img = stamp_watermark(img[None], np.array([True]), seed=rng, pattern=pattern)[0][0]
        dest = out / label / (path.stem + ".png")
        dest.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(dest)
        rows.append((str(dest), label, int(mark)))
    with open(out / "watermarked.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "class", "watermarked"])
        w.writerows(rows)
    return out
