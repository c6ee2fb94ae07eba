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

ZIP_VERSION = 1


def _read_npy(z: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.load(io.BytesIO(z.read(name)), allow_pickle=False)


def read_zip(path: Path) -> tuple[dict, dict, dict]:
    """Read a format 1 (zip) result file.

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
        Not a zip, no ``meta.json``, or an unsupported format.
    """
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ImacsInputError("path", f"{path} is not an imacs result file") from exc
    with z:
        try:
            meta = json.loads(z.read("meta.json"))
        except KeyError as exc:
            raise ImacsInputError("path", f"{path} is not an imacs result file") from exc
        if meta.get("format") != "imacs-result" or meta.get("version", 0) > ZIP_VERSION:
            raise ImacsInputError("path", f"{path}: unsupported format {meta.get('format')} "
                                  f"v{meta.get('version')}")
        per_class = {}
        for ci, info in enumerate(meta["classes"]):
            cols = {c: _read_npy(z, f"class{ci}/segments/{c}.npy") for c in info["columns"]}
            cols["bbox"] = [tuple(int(v) for v in b) for b in cols["bbox"]]
            seg = pd.DataFrame({c: cols[c] for c in info["columns"]})
            arrays = {n: _read_npy(z, f"class{ci}/{n}.npy") for n in
                      ("embeddings", "shapley_all", "thumbnails", "segment_masks", "bin_edges")}
            reduced = f"class{ci}/reduced_embeddings.npy"
            if reduced in z.namelist():
                arrays["reduced_embeddings"] = _read_npy(z, reduced)
            cc = ClassComparison(target=info["target"], segments=seg, sampling=info["sampling"],
                                 models=tuple(meta["model_names"]),
                                 warnings=info["warnings"], n_clusters=_n_clusters(info, meta, seg),
                                 **arrays)
            cc.summarize()
            per_class[info["target"]] = cc
        sources = {int(i): _read_npy(z, f"sources/{int(i)}.npy") for i in meta["source_images"]}
    return meta, per_class, sources


def _n_clusters(info: dict, meta: dict, seg: pd.DataFrame) -> int:
    """The k the result was clustered with: stored per class since format 1.1; older files
    only have ``params["n_clusters"]`` (an empty cluster would make ``max id + 1`` too small)."""
    n = info.get("n_clusters", meta.get("params", {}).get("n_clusters"))
    if n is None:
        n = int(seg["cluster"].max()) + 1 if len(seg) else 0
    return int(n)
