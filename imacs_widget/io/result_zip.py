"""Reading format 1 result files: a zip of ``meta.json`` and one ``.npy`` per column / array.

Written by imacs-widget before 0.4; :func:`imacs_widget.load` still opens them (into memory).
``save()`` writes format 2 (:mod:`imacs_widget.io.result_write`).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..comparison import ClassComparison
from ..errors import ImacsInputError
from .store import bad_file, check_meta, check_segments

ZIP_VERSION = 1


def _read_npy(z: zipfile.ZipFile, name: str, path: Path) -> np.ndarray:
    try:
        return np.load(io.BytesIO(z.read(name)), allow_pickle=False)
    except KeyError as exc:
        raise bad_file(f"{path}!{name}", None, "is missing") from exc
    except (ValueError, OSError, EOFError) as exc:
        raise bad_file(f"{path}!{name}", None, f"is not a NumPy array ({exc})") from exc


ZIP_ARRAYS = {"embeddings": 2, "shapley_all": 2, "thumbnails": 4, "segment_masks": 3,
              "reduced_embeddings": 2}
"""Per-segment arrays of a format 1 class and their ranks."""


def read_zip(path: Path) -> tuple[dict, dict, dict]:
    """Read a format 1 (zip) result file, checked like a folder (see
    :func:`imacs_widget.io.result_file.load`).

    Parameters
    ----------
    path : pathlib.Path
        The zip file.

    Returns
    -------
    meta : dict
        Its ``meta.json``.
    per_class : dict
        ``{class of interest: ClassComparison}``, summarised.
    sources : dict
        ``{image_index: uint8 [h, w, 3]}`` source previews.

    Raises
    ------
    ImacsInputError
        Not a zip, no ``meta.json``, an unsupported format, or a damaged member (naming the
        member and the field).
    """
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImacsInputError("path", f"{path} is not an imacs result file") from exc
    with z:
        try:
            meta = json.loads(z.read("meta.json"))
        except KeyError as exc:
            raise ImacsInputError("path", f"{path} is not an imacs result file") from exc
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise bad_file(f"{path}!meta.json", None, f"is not valid JSON ({exc})") from exc
        meta_file = f"{path}!meta.json"
        check_meta(meta, meta_file, ZIP_VERSION)
        per_class = {}
        for ci, info in enumerate(meta["classes"]):
            seg_file = f"{path}!class{ci}/segments"
            cols = {c: _read_npy(z, f"class{ci}/segments/{c}.npy", path) for c in info["columns"]}
            if {len(v) for v in cols.values()} - {len(cols["model"])}:
                raise bad_file(seg_file, "columns", "have different lengths")
            try:
                cols["bbox"] = [tuple(int(v) for v in b) for b in cols["bbox"]]
            except (TypeError, ValueError) as exc:
                raise bad_file(seg_file, "bbox", "has non-integer boxes") from exc
            seg = pd.DataFrame({c: cols[c] for c in info["columns"]})
            check_segments(seg, seg_file, meta, ci, meta_file)
            names = [n for n in ZIP_ARRAYS if n != "reduced_embeddings"
                     or f"class{ci}/{n}.npy" in z.namelist()]
            arrays = {n: _read_npy(z, f"class{ci}/{n}.npy", path) for n in names}
            for n, a in arrays.items():
                if a.ndim != ZIP_ARRAYS[n] or (len(seg) and len(a) != len(seg)) or \
                        a.dtype.kind not in "biuf":
                    raise bad_file(f"{path}!class{ci}/{n}.npy", n, f"has shape {a.shape} "
                                   f"({a.dtype}) for {len(seg)} segments")
                if a.dtype.kind == "f" and n != "embeddings" and not np.isfinite(a).all():
                    raise bad_file(f"{path}!class{ci}/{n}.npy", n, "has NaN or infinite values")
            edges = _read_npy(z, f"class{ci}/bin_edges.npy", path)
            if edges.ndim != 1 or len(edges) < 2 or edges.dtype.kind != "f" \
                    or not np.isfinite(edges).all():
                raise bad_file(f"{path}!class{ci}/bin_edges.npy", "bin_edges", "is damaged")
            try:
                cc = ClassComparison(target=info["target"], segments=seg,
                                     sampling=info["sampling"],
                                     models=tuple(meta["model_names"]),
                                     warnings=info["warnings"],
                                     n_clusters=_n_clusters(info, meta, seg), bin_edges=edges,
                                     **arrays)
                cc.summarize()
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise bad_file(seg_file, None, f"is malformed ({type(exc).__name__}: "
                               f"{exc})") from exc
            per_class[info["target"]] = cc
        idx = meta.get("source_images", [])
        if not isinstance(idx, list) or not all(isinstance(i, int) for i in idx):
            raise bad_file(meta_file, "source_images", "must be a list of image indices")
        sources = {}
        for i in idx:
            img = _read_npy(z, f"sources/{int(i)}.npy", path)
            if img.ndim != 3 or img.shape[-1] != 3 or img.dtype != np.uint8:
                raise bad_file(f"{path}!sources/{int(i)}.npy", "source_images",
                               f"has shape {img.shape} ({img.dtype})")
            sources[int(i)] = img
    return meta, per_class, sources


def _n_clusters(info: dict, meta: dict, seg: pd.DataFrame) -> int:
    """The k the result was clustered with: stored per class since format 1.1; older files
    only have ``params["n_clusters"]`` (an empty cluster would make ``max id + 1`` too small)."""
    n = info.get("n_clusters", meta.get("params", {}).get("n_clusters"))
    if n is None:
        n = int(seg["cluster"].max()) + 1 if len(seg) else 0
    return int(n)
