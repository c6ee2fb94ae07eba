"""Result files: :func:`save` / :func:`load` of a :class:`~imacs_widget.result.ComparisonResult`.

A result file (conventionally ``.imacs``) is a zip archive: ``meta.json`` (class names, model
names, accuracy, parameters, sampling, warnings, the number of clusters) and one exact ``.npy``
per segments column and per array (embeddings, Shapley values, thumbnails, masks, bin edges,
source previews). No pickle anywhere, so opening a file never runs code. Writing goes to a
temporary file that replaces ``path`` at the end, so an interrupted save leaves no half file.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ImacsInputError

FORMAT_VERSION = 1


def save(result, path) -> Path:
    """Write ``result`` to ``path``; returns the path."""

    path = Path(path)
    meta = {"format": "imacs-result", "version": FORMAT_VERSION,
            "class_names": result.class_names, "model_names": result.model_names,
            "accuracy": result.accuracy, "image_shape": list(result.image_shape),
            "params": result.params, "seed": result.seed, "order": result._order,
            "inner_order": result._inner_order, "active": result._target,
            "classes": [], "source_images": sorted(int(i) for i in result.source_images)}
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for ci, (name, cc) in enumerate(result._per_class.items()):
            seg = cc.segments
            for col in seg.columns:  # one exact .npy per column (no float rounding)
                arr = (np.asarray([tuple(b) for b in seg[col]], dtype=np.int64)
                       if col == "bbox" else seg[col].to_numpy())
                if arr.dtype == object:
                    arr = arr.astype(str)
                _write_npy(z, f"class{ci}/segments/{col}.npy", arr)
            for arr_name in ("embeddings", "shapley_all", "thumbnails", "segment_masks", "bin_edges"):
                _write_npy(z, f"class{ci}/{arr_name}.npy", getattr(cc, arr_name))
            if cc.reduced_embeddings is not None:  # large results: what re-clustering runs on
                _write_npy(z, f"class{ci}/reduced_embeddings.npy", cc.reduced_embeddings)
            meta["classes"].append({"target": name, "sampling": cc.sampling,
                                    "warnings": cc.warnings, "columns": list(seg.columns),
                                    "n_clusters": int(cc.n_clusters)})
        for i, img in result.source_images.items():
            _write_npy(z, f"sources/{int(i)}.npy", img)
        z.writestr("meta.json", json.dumps(meta, default=_json_default))
    tmp.replace(path)
    return path


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def _write_npy(z: zipfile.ZipFile, name: str, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    z.writestr(name, buf.getvalue())


def _read_npy(z: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.load(io.BytesIO(z.read(name)), allow_pickle=False)


def load(path):
    """Load a result written by :meth:`ComparisonResult.save` (no pickle; safe to open)."""
    from ..result import ClassComparison, ComparisonResult

    path = Path(path)
    if not path.exists():
        raise ImacsInputError("path", f"{path} does not exist")
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ImacsInputError("path", f"{path} is not an imacs result file") from exc
    with z:
        try:
            meta = json.loads(z.read("meta.json"))
        except KeyError as exc:
            raise ImacsInputError("path", f"{path} is not an imacs result file") from exc
        if meta.get("format") != "imacs-result" or meta.get("version", 0) > FORMAT_VERSION:
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
                                 warnings=info["warnings"], n_clusters=_n_clusters(info, meta, seg),
                                 **arrays)
            cc.summarize()
            per_class[info["target"]] = cc
        sources = {int(i): _read_npy(z, f"sources/{int(i)}.npy") for i in meta["source_images"]}
    res = ComparisonResult(per_class=per_class, class_names=meta["class_names"],
                           model_names=meta["model_names"], accuracy=meta["accuracy"],
                           source_images=sources, image_shape=tuple(meta["image_shape"]),
                           params=meta["params"], seed=meta["seed"], order=meta["order"],
                           inner_order=meta["inner_order"])
    res.target_class = meta["active"]
    return res


def _n_clusters(info: dict, meta: dict, seg: pd.DataFrame) -> int:
    """The k the result was clustered with: stored per class since format 1.1; older files
    only have ``params["n_clusters"]`` (an empty cluster would make ``max id + 1`` too small)."""
    n = info.get("n_clusters", meta.get("params", {}).get("n_clusters"))
    if n is None:
        n = int(seg["cluster"].max()) + 1 if len(seg) else 0
    return int(n)
