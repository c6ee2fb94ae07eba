"""The what-if test of a cluster: does a model *use* what the cluster shows?

Pure NumPy (no framework): :func:`imacs_widget.engine.trust.intervene` reads the images, asks the
models' adapters for scores and calls these functions; ``result.intervene(cluster)`` runs it.

* **Paste** (:func:`representative_rows`, :func:`cut_segment`, :func:`paste_plan`,
  :func:`paste`, :func:`paste_effect`): the cluster's most representative segments (closest to
  its centroid) are cut at full resolution from their images (the pixels inside the segment, at
  its size) and pasted, each at a random position, onto evaluation images of *other* classes.
  ``flip_to_target`` is the share of those images the model did not predict as the class of
  interest before and does after.
* **Remove** (:func:`remove_effect`): every segment of the cluster in an image that holds some
  is filled with the run's baseline (the blur; composed by the model's adapter through
  :func:`~imacs_widget.engine.masking.evaluate_masked`). ``flip_from_target`` is the share of
  the images predicted as the class before that are not after.
* **Intervals** (:func:`wilson_interval`): the 95 % Wilson score interval of each rate; a rate
  with an empty denominator is ``None`` (no image could flip), never 0.

Each rate comes with the mean change of the model's score for the class over every image
treated (``paste_score_change``, ``remove_score_change``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ImacsInputError

__all__ = ["COLUMNS", "N_CROPS", "check_records", "cut_segment", "json_row", "paste", "paste_effect",
           "paste_plan", "remove_effect", "representative_rows", "wilson_interval"]

N_CROPS = 8
"""Segments pasted by default: the cluster's closest to its centroid (across models)."""
COLUMNS = ("model", "name", "flip_to_target", "flip_to_target_ci", "n_paste",
           "paste_score_change", "flip_from_target", "flip_from_target_ci", "n_remove",
           "remove_score_change")
"""The columns of the what-if table, one row per model."""


def wilson_interval(successes: int, n: int, level: float = 0.95) -> list[float] | None:
    """The Wilson score interval of a proportion ``successes / n``.

    Parameters
    ----------
    successes : int
        Successes, ``0..n``.
    n : int
        Trials.
    level : float
        Coverage, in (0.5, 1).

    Returns
    -------
    list of float or None
        ``[low, high]`` within ``[0, 1]``; ``None`` when ``n`` is 0 (nothing to estimate).
    """
    successes, n = int(successes), int(n)
    if not 0 <= successes <= max(n, 0):
        raise ImacsInputError("successes", f"must be in 0..{n}, got {successes}")
    if not 0.5 < level < 1:
        raise ImacsInputError("level", f"must be in (0.5, 1), got {level}")
    if n <= 0:
        return None
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return [max(0.0, centre - half), min(1.0, centre + half)]


def representative_rows(segments: pd.DataFrame, cluster: int, n_crops: int = N_CROPS
                        ) -> np.ndarray:
    """Rows of the cluster's segments closest to its centroid, one per distinct segment.

    Parameters
    ----------
    segments : pandas.DataFrame
        The result's segments (``cluster``, ``centroid_distance``, ``image_index``,
        ``segment_index``).
    cluster : int
        The cluster.
    n_crops : int
        At most this many rows.

    Returns
    -------
    numpy.ndarray
        ``int64`` row positions into ``segments``, closest first (ties: the earlier row). A
        segment sampled by several models is one segment (its first row).

    Raises
    ------
    ImacsInputError
        Naming ``cluster`` when it has no segments.
    """
    cl = segments["cluster"].to_numpy()
    rows = np.flatnonzero(cl == int(cluster))
    if not len(rows):
        raise ImacsInputError("cluster", f"cluster {cluster} is empty: it holds no segment "
                              "(choose another, or re-cluster)")
    dist = segments["centroid_distance"].to_numpy(np.float64)[rows]
    rows = rows[np.lexsort((rows, dist))]
    pairs = np.stack([segments["image_index"].to_numpy(np.int64)[rows],
                      segments["segment_index"].to_numpy(np.int64)[rows]], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    return rows[np.sort(first)][: int(n_crops)]


def cut_segment(image: np.ndarray, label_map: np.ndarray, segment: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of one segment, at full resolution, in its bounding box.

    Parameters
    ----------
    image : numpy.ndarray
        ``[H, W, 3]`` the segment's image.
    label_map : numpy.ndarray
        ``int [H, W]`` the image's segmentation.
    segment : int
        The segment id.

    Returns
    -------
    patch : numpy.ndarray
        ``float32 [h, w, 3]`` the box around the segment.
    mask : numpy.ndarray
        ``bool [h, w]``: which pixels of ``patch`` belong to the segment.

    Raises
    ------
    ImacsInputError
        Naming ``segment`` when the label map has no such segment.
    """
    inside = np.asarray(label_map) == int(segment)
    ys, xs = np.nonzero(inside)
    if not len(ys):
        raise ImacsInputError("segment", f"segment {segment} is not in the image's "
                              "segmentation (were the images or settings changed?)")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return (np.asarray(image, np.float32)[y0:y1, x0:x1].copy(), inside[y0:y1, x0:x1].copy())


def paste_plan(n_images: int, crop_shapes: list[tuple[int, int]], image_shape: tuple[int, int],
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which crop goes onto which image, and where (seeded).

    Every image gets one crop; the crops are used in turn (each about equally often, in a
    random order) and placed at a uniformly random position where the whole crop fits.

    Parameters
    ----------
    n_images : int
        Images to paste onto.
    crop_shapes : list of (int, int)
        ``(h, w)`` of each crop (each at most ``image_shape``).
    image_shape : (int, int)
        ``(H, W)`` of the images.
    rng : numpy.random.Generator
        The draws.

    Returns
    -------
    crop, top, left : numpy.ndarray
        ``int64 [n_images]`` each: the crop pasted onto image ``i`` and its top-left corner.
    """
    n, k = int(n_images), len(crop_shapes)
    crop = np.resize(rng.permutation(k), n) if k else np.zeros(0, np.int64)
    crop = crop[rng.permutation(n)].astype(np.int64)
    h = np.array([s[0] for s in crop_shapes], np.int64)[crop]
    w = np.array([s[1] for s in crop_shapes], np.int64)[crop]
    top = rng.integers(0, np.maximum(int(image_shape[0]) - h, 0) + 1)
    left = rng.integers(0, np.maximum(int(image_shape[1]) - w, 0) + 1)
    return crop, top.astype(np.int64), left.astype(np.int64)


def paste(images: np.ndarray, crops: list[tuple[np.ndarray, np.ndarray]], plan) -> np.ndarray:
    """The images with their planned crop pasted (only the segment's own pixels).

    Parameters
    ----------
    images : numpy.ndarray
        ``[n, H, W, 3]`` pixel-scale images (not changed).
    crops : list of (patch, mask)
        From :func:`cut_segment`.
    plan : tuple
        ``(crop, top, left)`` from :func:`paste_plan`.

    Returns
    -------
    numpy.ndarray
        ``float32 [n, H, W, 3]``.
    """
    out = np.array(images, dtype=np.float32, copy=True)
    for i, (c, y, x) in enumerate(zip(*plan, strict=True)):
        patch, mask = crops[int(c)]
        h, w = mask.shape
        region = out[i, y:y + h, x:x + w]
        region[mask] = patch[mask]
    return out


def _rate(hit: np.ndarray, eligible: np.ndarray) -> tuple[float, list[float] | None, int]:
    n = int(eligible.sum())
    k = int((hit & eligible).sum())
    return (k / n if n else float("nan")), wilson_interval(k, n), n


def _mean_change(before: np.ndarray, after: np.ndarray) -> float:
    """Mean of ``after - before`` (NaN for no image)."""
    change = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    return float(change.mean()) if change.size else float("nan")


def paste_effect(pred_before: np.ndarray, pred_after: np.ndarray, score_before: np.ndarray,
                 score_after: np.ndarray, target: int) -> dict:
    """What pasting did to one model's predictions on the other classes' images.

    Parameters
    ----------
    pred_before, pred_after : numpy.ndarray
        ``int [n]`` predicted class of each image before and after the paste.
    score_before, score_after : numpy.ndarray
        ``float [n]`` the model's score for the class of interest.
    target : int
        The class of interest.

    Returns
    -------
    dict
        ``flip_to_target`` (share of the images not predicted as ``target`` before that are
        after; NaN when there is none), ``flip_to_target_ci`` (Wilson 95 %, ``None`` then),
        ``n_paste`` (that denominator), ``paste_score_change`` (mean change over all images;
        NaN when there is none).
    """
    pb, pa = np.asarray(pred_before), np.asarray(pred_after)
    rate, ci, n = _rate(pa == target, pb != target)
    return {"flip_to_target": rate, "flip_to_target_ci": ci, "n_paste": n,
            "paste_score_change": _mean_change(score_before, score_after)}


def remove_effect(pred_before: np.ndarray, pred_after: np.ndarray, score_before: np.ndarray,
                  score_after: np.ndarray, target: int) -> dict:
    """What removing the cluster's segments did to one model's predictions.

    Parameters
    ----------
    pred_before, pred_after : numpy.ndarray
        ``int [n]`` predicted class of each image holding the cluster's segments, before and
        after they take the baseline.
    score_before, score_after : numpy.ndarray
        ``float [n]`` the model's score for the class of interest.
    target : int
        The class of interest.

    Returns
    -------
    dict
        ``flip_from_target`` (share of the images predicted as ``target`` before that are not
        after; NaN when there is none), ``flip_from_target_ci`` (Wilson 95 %, ``None`` then),
        ``n_remove`` (that denominator), ``remove_score_change`` (mean change over all
        images).
    """
    pb, pa = np.asarray(pred_before), np.asarray(pred_after)
    rate, ci, n = _rate(pa != target, pb == target)
    return {"flip_from_target": rate, "flip_from_target_ci": ci, "n_remove": n,
            "remove_score_change": _mean_change(score_before, score_after)}


def json_row(row: dict) -> dict:
    """A table row as stored: NaN rates and score changes as ``None``; plain Python types.

    Parameters
    ----------
    row : dict
        One model's row (:data:`COLUMNS`).

    Returns
    -------
    dict
        JSON-ready.
    """
    out = {}
    for k, v in row.items():
        if isinstance(v, (float, np.floating)):
            v = float(v) if np.isfinite(v) else None
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            v = int(v)
        elif isinstance(v, (list, tuple)):
            v = [float(x) for x in v]
        out[k] = v
    return out


def check_records(value, classes) -> dict:
    """``params["interventions"]`` as read from a file, checked:
    ``{class of interest: {cluster key: record}}``, each record as :func:`json_row` rows and the
    test's settings (see :meth:`~imacs_widget.engine.whatif.WhatIf.interventions`).

    Parameters
    ----------
    value : object
        What the file holds.
    classes : sequence of str
        The result's classes of interest.

    Returns
    -------
    dict
        ``value``, unchanged.

    Raises
    ------
    ImacsInputError
        Naming ``params.interventions`` and the first part that does not fit.
    """
    arg = "params.interventions"

    def bad(where, what):
        raise ImacsInputError(arg, f"{where}: {what}")

    def number(v, low=None, high=None):
        return (v is None or (not isinstance(v, bool) and isinstance(v, int | float)
                              and math.isfinite(v) and (low is None or low <= v <= high)))

    if not isinstance(value, dict):
        bad("the field", f"must be a mapping, got {type(value).__name__}")
    for cls, tests in value.items():
        if cls not in classes or not isinstance(tests, dict):
            bad(repr(cls), "not a class of interest of this result with a mapping")
        for key, rec in tests.items():
            at = f"[{cls!r}][{key!r}]"
            if not isinstance(key, str) or not isinstance(rec, dict):
                bad(at, "must be a record (a mapping) under a cluster key (a str)")
            for field in ("cluster", "seed", "n_images"):
                v = rec.get(field)
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    bad(at, f"{field!r} must be an int >= 0, got {v!r:.40}")
            rows = rec.get("rows")
            if not isinstance(rows, list) or not rows:
                bad(at, f"'rows' must be a non-empty list, got {rows!r:.40}")
            for i, row in enumerate(rows):
                if not isinstance(row, dict) or not isinstance(row.get("model"), str):
                    bad(f"{at}['rows'][{i}]", "must be a mapping with a str 'model'")
                for col in ("flip_to_target", "flip_from_target"):
                    if not number(row.get(col), 0.0, 1.0):
                        bad(f"{at}['rows'][{i}]", f"{col!r} must be a rate in 0..1 or null")
                for col in ("paste_score_change", "remove_score_change"):
                    if not number(row.get(col)):
                        bad(f"{at}['rows'][{i}]", f"{col!r} must be a finite number or null")
                for col in ("n_paste", "n_remove"):
                    v = row.get(col)
                    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                        bad(f"{at}['rows'][{i}]", f"{col!r} must be an int >= 0")
                for col in ("flip_to_target_ci", "flip_from_target_ci"):
                    ci = row.get(col)
                    if ci is not None and not (isinstance(ci, list) and len(ci) == 2
                                               and all(number(v, 0.0, 1.0) and v is not None
                                                       for v in ci)):
                        bad(f"{at}['rows'][{i}]", f"{col!r} must be [low, high] in 0..1 or null")
    return value
