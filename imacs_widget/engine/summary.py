"""Per-cluster statistics (paper §5) computed from the segments table alone.

This module is the ONE definition of cluster statistics and orders. The front end recomputes
them in the browser under its outcome / model filters (it also runs in the static report,
without a kernel) with a port in ``js/src/data.js``; ``scripts/make_js_fixture.py`` writes the
expected numbers and orders computed here into ``js/tests/fixtures/summary_cases.json``,
vitest checks the port against them and ``tests/test_summary.py`` checks that the committed
fixture is what this module computes now.

A cluster summary is a plain dict (JSON-ready), one entry per model key (``"A"``, ``"B"``
for two models; ``"A"`` .. ``"H"`` for up to eight)::

    {"id": 3, "size": 41, "count": {"A": 30, "B": 11},
     "mean_attribution": {"A": 0.01, "B": 0.22},        # None: the model has no segment here
     "histogram": {"A": [..], "B": [..]},               # counts on the shared bin edges
     "outcomes": {"A": {"TP": 3, "TN": 20, "FP": 5, "FN": 2}, "B": {...}},
     "one_sided": None,                                 # "A" | "B" | None
     "imbalance": 0.21,                                 # max - min of the means, or None
     "importance": 0.22,                                # largest mean, or None
     "consensus": {"models": ["B"], "n": 1, "of": 2,    # who attributes it positively
                   "strength": 0.22},                   # their mean of means, or None
     "removal": {"A": 0.00, "B": 0.31},                 # score drop when the cluster is blurred
     # how sure (cluster_statistics; computed by the kernel, not by the front end's port):
     "n_images": {"A": 60, "B": 60},                    # the images each model sampled
     "ci": {"A": [0.00, 0.03], "B": [0.17, 0.27]},      # 95 % interval of mean_attribution
     "mass": {"A": 0.00, "B": 0.04},                    # mean attribution per image (0: none)
     "mass_ci": {..}, "share": {..}, "share_ci": {..}, "removal_ci": {..},
     "effect": 0.04,                                    # spread of mass between the models
     "p_value": 0.001, "q_value": 0.005, "significant": True,
     # names (ClassComparison.label_clusters; engine/naming.py), by the cluster's key:
     "key": "3f2a9c0e1b7d5a64",                         # engine/cluster_keys.cluster_key
     "suggested_labels": [["honeycomb", 0.41], ["chain mail", 0.22]],   # [] : no suggestion
     "suggested_name": "honeycomb 41 %, chain mail 22 %",                # or None
     "suggested_by": "EfficientNet-Lite0 ImageNet head",                 # or None
     "name": None, "note": ""}                          # the user's (rename / annotate_cluster)

Definitions
-----------
* **Missing values.** An attribution that is not finite (NaN, inf) is missing: the segment
  counts in ``size``, ``count`` and ``outcomes`` but not in a mean or a histogram.
* **Mean** of a model in a cluster: the exactly rounded sum (:func:`math.fsum`) of its finite
  attributions divided by how many there are; ``None`` when there are none. A missing mean is
  undefined, never 0. The exact sum does not depend on the order of the segments, so equal
  means are really equal and the JavaScript port (which implements the same exact sum) gets
  the same bits.
* **Histogram:** bin ``k`` counts ``edges[k] <= a < edges[k + 1]``, the last bin is closed on
  the right and values outside the edges fall into the first / last bin (``numpy.histogram``
  after clipping to the edges).
* **one_sided:** ``"A"`` (or ``"B"``) when only that model has a mean in the cluster, i.e.
  only its segments fall into it; ``None`` when both or neither have one. A one-sided cluster
  is the strongest difference there is between the two models.
* **imbalance** = the spread of the models' means, ``max - min`` over the models that have a
  mean in the cluster (for two models ``|mean_A - mean_B|``, the paper's definition); ``None``
  (undefined) for a one-sided or empty cluster. With more than two models a cluster that some
  models do not use is ranked by the spread of the means it has.
* **importance** = the largest mean among the models that have segments in the cluster;
  ``None`` for an empty cluster.
* **consensus**: which models attribute the cluster *positively*, i.e. have a mean above
  :data:`CONSENSUS_FRACTION` of the reference bar (:func:`max_mean_attribution`, the largest
  mean of any model in any cluster, computed on the same rows); ``n`` of ``of`` (all models of
  the comparison, present or not) and ``strength``, the mean of their means (``None`` when no
  model does). When no mean is positive, no model attributes any cluster positively.
* **removal** of a model in a cluster: how much blurring the cluster's segments changes the
  model's score, the mean over the model's images with a segment in the cluster of the
  segments table's ``cluster_removal`` (one value per image: its first row in the table),
  exactly summed like a mean attribution; ``None`` when the model has no such image or the
  table has no ``cluster_removal`` column (see :mod:`~imacs_widget.engine.faithfulness`).

* **How sure** (:func:`cluster_statistics`, :mod:`~imacs_widget.engine.statistics`): bootstrap
  intervals over each model's images, a permutation test of the models' attribution per image
  in the cluster (paired on shared images) and Benjamini–Hochberg q-values over the clusters;
  ``significant`` when ``q_value < alpha`` (default :data:`ALPHA`; a result's level is its
  ``params["significance_level"]``, the ``Settings.significance_level`` of the run). Seeded:
  the same table and seed give the same numbers. The orders below do not use them.
* **Names** are not computed here: a result adds ``key``, the suggested names and the user's
  ``name`` / ``note`` to its summaries
  (:meth:`~imacs_widget.comparison.ClassComparison.label_clusters`,
  :mod:`~imacs_widget.engine.naming`).

Orders between clusters (:func:`order_clusters`; every order puts empty clusters, ``size`` 0,
last, by id):

* ``"imbalance"`` (the paper's default): one-sided clusters first, above every two-sided one,
  by ``|mean of the present model|`` (largest first, then id); then two-sided clusters by
  imbalance (largest first, then id); then clusters without any mean (empty), by id.
* ``"importance"``: importance, largest first, then id; clusters without one last, by id.
* ``"size"``: size, largest first, then id.

Orders within a cluster (:func:`order_within`): ``"attribution"`` (highest first) or
``"centroid"`` (closest to the cluster centre first); ties by ``image_index``, then
``segment_index``, then row of the table; missing values last.

Filters (:func:`filter_segments`): the widget's outcome and model checkboxes keep the rows
whose outcome and model are shown; statistics and orders under a filter are those of
:func:`summarize_clusters` on the kept rows (a model that is hidden has no segment, so with
one model shown every non-empty cluster is one-sided).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import ImacsInputError

CLUSTER_ORDERS = ("imbalance", "importance", "size")
INNER_ORDERS = ("attribution", "centroid")
MODELS = ("A", "B")
"""Model keys of a two-model comparison."""
MODEL_KEYS = tuple("ABCDEFGH")
"""Model keys of a comparison of up to eight models, in the order the models were given."""
OUTCOMES = ("TP", "TN", "FP", "FN")
ALPHA = 0.05
"""Default level of a cluster's ``significant`` (``q_value < ALPHA``; a false discovery rate
over the clusters of a class); a result uses its ``params["significance_level"]`` (the
``significance_level`` setting), this value when it has none."""
N_RESAMPLES = 1000
"""Default bootstrap resamples and permutations of :func:`cluster_statistics`."""
CONSENSUS_FRACTION = 0.25
"""A model attributes a cluster positively when its mean exceeds this share of the reference
bar (the largest mean of any model in any cluster)."""


def model_keys(n_models: int) -> tuple[str, ...]:
    """The keys of a comparison of ``n_models`` models (``("A", "B")`` for two)."""
    if not 2 <= int(n_models) <= len(MODEL_KEYS):
        raise ImacsInputError("models", f"compare 2 to {len(MODEL_KEYS)} models, got {n_models}")
    return MODEL_KEYS[:int(n_models)]


def shared_bin_edges(attributions: np.ndarray, n_bins: int = 12) -> np.ndarray:
    """Histogram edges shared by every cluster: ``n_bins`` equal bins over all attributions.

    The range always includes 0 so the zero line is comparable between runs; non-finite
    attributions are ignored.
    """
    a = np.asarray(attributions, dtype=np.float64)
    a = a[np.isfinite(a)]
    lo = float(min(a.min(initial=0.0), 0.0))
    hi = float(max(a.max(initial=0.0), 0.0))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_bins + 1)


def _finite(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return a[np.isfinite(a)]


def mean_attribution(attributions) -> float | None:
    """Exactly rounded mean of the finite values (``math.fsum`` / count); None if there are none."""
    a = _finite(attributions)
    return math.fsum(a.tolist()) / len(a) if len(a) else None


def histogram(attributions, edges) -> list[int]:
    """Counts of the finite values in the bins of ``edges`` (see the module docstring)."""
    edges = np.asarray(edges, dtype=np.float64)
    n_bins = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, _finite(attributions), side="right") - 1, 0, n_bins - 1)
    return np.bincount(idx, minlength=n_bins).astype(int).tolist()


def filter_segments(segments: pd.DataFrame, outcomes: Iterable[str] = OUTCOMES,
                    models: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows of ``segments`` whose ``outcome`` and ``model`` are shown (order kept;
    ``models=None``: every model)."""
    keep = segments["outcome"].isin(list(outcomes))
    if models is not None:
        keep &= segments["model"].isin(list(models))
    return segments[keep]


def summarize_clusters(segments: pd.DataFrame, n_clusters: int, edges: np.ndarray,
                       models: Iterable[str] = MODELS, *, alpha: float = ALPHA,
                       seed: int = 0, n_resamples: int = N_RESAMPLES,
                       statistics: bool = True) -> list[dict]:
    """Summaries of clusters ``0..n_clusters-1`` (in id order) from a segments table.

    ``segments`` needs the columns ``model``, ``cluster``, ``attribution`` and ``outcome``;
    pass ``filter_segments(segments, outcomes, models)`` for the statistics under a filter.
    ``models``: every model key of the comparison (rows of other keys are ignored). With an
    ``image_index`` column each summary also holds the fields of
    :func:`cluster_statistics` (intervals, ``p_value``, ``q_value``, ``significant``; seeded
    by ``seed``, significant when ``q < alpha``); without one, or with
    ``statistics=False`` (the fields the front end recomputes, and nothing else), those fields
    are ``None``.
    """
    models = tuple(models)
    nm = len(models)
    cl = segments["cluster"].to_numpy().astype(np.int64)
    code = pd.Categorical(segments["model"], categories=models).codes.astype(np.int64)
    att = segments["attribution"].to_numpy().astype(np.float64)
    outc = pd.Categorical(segments["outcome"], categories=OUTCOMES).codes.astype(np.int64)
    removal = (segments["cluster_removal"].to_numpy(np.float64)
               if "cluster_removal" in segments else None)
    image = segments["image_index"].to_numpy() if removal is not None else None
    key = np.where(code >= 0, cl * nm + code, -1)  # rows grouped by (cluster, model), one sort
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(nm * n_clusters + 1))
    out = []
    for c in range(n_clusters):
        rows = {m: order[bounds[nm * c + j]:bounds[nm * c + j + 1]] for j, m in enumerate(models)}
        means = {m: mean_attribution(att[rows[m]]) for m in models}
        present = [m for m in models if means[m] is not None]
        counts = {m: np.bincount(outc[rows[m]][outc[rows[m]] >= 0], minlength=len(OUTCOMES))
                  for m in models}
        vals = [means[m] for m in present]
        out.append({
            "id": int(c),
            "size": int(sum(len(rows[m]) for m in models)),
            "count": {m: int(len(rows[m])) for m in models},
            "mean_attribution": means,
            "histogram": {m: histogram(att[rows[m]], edges) for m in models},
            "outcomes": {m: {o: int(counts[m][i]) for i, o in enumerate(OUTCOMES)}
                         for m in models},
            "one_sided": present[0] if len(present) == 1 else None,
            "imbalance": max(vals) - min(vals) if len(present) >= 2 else None,
            "importance": max(vals) if present else None,
            "removal": {m: _removal(removal, image, rows[m]) for m in models},
        })
    ref = max_mean_attribution(out)
    for c in out:
        c["consensus"] = consensus(c["mean_attribution"], ref)
    stats = (cluster_statistics(segments, n_clusters, models, alpha=alpha, seed=seed,
                                n_resamples=n_resamples) if statistics
             else [_no_statistics() for _ in range(n_clusters)])
    for c, extra in zip(out, stats, strict=True):
        if extra["ci"] is not None:  # an interval only where the mean exists
            extra["ci"] = {m: (v if c["mean_attribution"][m] is not None else None)
                           for m, v in extra["ci"].items()}
        c.update(extra)
    return out


STAT_FIELDS = ("n_images", "ci", "mass", "mass_ci", "share", "share_ci", "removal_ci",
               "effect", "p_value", "q_value", "significant")
"""The fields :func:`cluster_statistics` adds to a cluster summary."""


def _no_statistics() -> dict:
    return {**dict.fromkeys(STAT_FIELDS), "significant": False}


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _interval(lo, hi) -> list | None:
    lo, hi = _num(lo), _num(hi)
    return None if lo is None or hi is None else [lo, hi]


def cluster_statistics(segments: pd.DataFrame, n_clusters: int,
                       models: Iterable[str] = MODELS, *, alpha: float = ALPHA, seed: int = 0,
                       n_resamples: int = N_RESAMPLES) -> list[dict]:
    """How sure each cluster's numbers are: intervals per model and a test between models.

    Computed by the kernel only (the front end shows these fields for the unfiltered view; it
    does not recompute them under its filters). The unit of resampling is the *image*: a
    model's images are the distinct ``image_index`` of its rows (every image it sampled has
    rows). Per cluster and model:

    * ``n_images``: the model's images (in every cluster the same number);
    * ``mass``: the mean over the model's images of the image's attribution in the cluster (the
      sum of its segments' finite attributions there, 0 when it has none); ``mass_ci`` its
      bootstrap interval. A model that never uses the cluster has ``mass`` 0, so a one-sided
      cluster is a difference like any other, never hidden behind a missing mean.
    * ``ci``: the bootstrap interval (over images) of ``mean_attribution`` (the mean over the
      cluster's segments); ``None`` where that mean is missing.
    * ``share``: the fraction of the model's segments in the cluster; ``share_ci``.
    * ``removal_ci``: the interval of ``removal`` (the mean of ``cluster_removal`` over the
      model's images with a segment in the cluster); ``None`` without that column.

    Intervals are ``[low, high]``, 95 % percentile bootstrap (:data:`N_RESAMPLES` resamples of
    the model's images, one draw shared by every cluster; normal approximations above
    :data:`~imacs_widget.engine.statistics.EXACT_UP_TO` images, see
    :mod:`~imacs_widget.engine.statistics`), ``None`` where undefined.

    Per cluster: ``effect`` = the spread (max - min) of ``mass`` over the models with images;
    ``p_value`` of the permutation test that the models' ``mass`` are equal (paired on the
    images several models sampled, unpaired otherwise; the spread of all models beyond two);
    ``q_value`` (Benjamini–Hochberg over the non-empty clusters of this table) and
    ``significant`` (``q_value < alpha``). ``p_value`` / ``q_value`` are ``None`` for an empty
    cluster or when fewer than two models have images.

    Parameters
    ----------
    segments : pandas.DataFrame
        Columns ``model``, ``cluster``, ``attribution`` and ``image_index`` (optional
        ``cluster_removal``); without ``image_index`` every field is ``None``.
    n_clusters : int
        Clusters ``0..n_clusters-1``.
    models : iterable of str
        The comparison's model keys.
    alpha : float
        Level of ``significant`` (false discovery rate), in ``(0, 1)``.
    seed : int
        Seeds the resamples and permutations (the same inputs and seed repeat exactly).
    n_resamples : int
        Bootstrap resamples and permutations.

    Returns
    -------
    list of dict
        One dict of :data:`STAT_FIELDS` per cluster, in id order.

    Raises
    ------
    ImacsInputError
        ``alpha`` is outside ``(0, 1)``.
    """
    from .statistics import (
        EXACT_UP_TO,
        benjamini_hochberg,
        bootstrap_ratio,
        permutation_test,
        resample_counts,
    )

    if not 0 < float(alpha) < 1:
        raise ImacsInputError("alpha", f"must be in (0, 1), got {alpha}")
    models = tuple(models)
    k = int(n_clusters)
    if "image_index" not in segments or k == 0:
        return [_no_statistics() for _ in range(k)]
    code = pd.Categorical(segments["model"], categories=models).codes.astype(np.int64)
    cl = segments["cluster"].to_numpy().astype(np.int64)
    keep = (code >= 0) & (cl >= 0) & (cl < k)
    code, cl = code[keep], cl[keep]
    image = segments["image_index"].to_numpy()[keep]
    att = segments["attribution"].to_numpy(np.float64)[keep]
    fin = np.isfinite(att)
    rem = (segments["cluster_removal"].to_numpy(np.float64)[keep]
           if "cluster_removal" in segments else None)
    img_code, img_names = pd.factorize(image)
    n_img = max(len(img_names), 1)
    key, obs = np.unique(code * n_img + img_code, return_inverse=True)  # (model, image) pairs
    obs = obs.reshape(-1)
    n_obs = len(key)
    obs_model, obs_image = key // n_img, key % n_img
    cell = obs * k + cl
    mass = np.bincount(cell, np.where(fin, att, 0.0), n_obs * k).reshape(n_obs, k)
    n_fin = np.bincount(cell, fin.astype(np.float64), n_obs * k).reshape(n_obs, k)
    n_seg = np.bincount(cell, minlength=n_obs * k).reshape(n_obs, k).astype(np.float64)
    total = n_seg.sum(1, keepdims=True)
    if rem is not None:  # one value per (model, image, cluster): any row's (they are equal)
        r_sum = np.bincount(cell, np.where(np.isfinite(rem), rem, 0.0), n_obs * k)
        r_n = np.bincount(cell, np.isfinite(rem).astype(np.float64), n_obs * k)
        with np.errstate(invalid="ignore", divide="ignore"):
            r_val = np.where(r_n > 0, r_sum / np.maximum(r_n, 1), 0.0).reshape(n_obs, k)
        r_has = (r_n > 0).reshape(n_obs, k).astype(np.float64)
    per_model: dict[str, dict] = {}
    for j, m in enumerate(models):
        rows = obs_model == j
        n_m = int(rows.sum())
        if not n_m:
            per_model[m] = None
            continue
        num = [mass[rows], mass[rows], n_seg[rows]]
        den = [np.ones((n_m, k)), n_fin[rows], np.broadcast_to(total[rows], (n_m, k))]
        if rem is not None:
            num.append(r_val[rows] * r_has[rows])
            den.append(r_has[rows])
        counts = (resample_counts(n_m, int(n_resamples), np.random.default_rng([seed, j]))
                  if n_m <= EXACT_UP_TO else None)
        lo, hi = bootstrap_ratio(np.hstack(num), np.hstack(den), counts=counts,
                                 n_resamples=n_resamples, seed=seed)
        lo, hi = lo.reshape(-1, k), hi.reshape(-1, k)
        per_model[m] = {
            "n": n_m, "mass": mass[rows].sum(0) / n_m,
            "share": n_seg[rows].sum(0) / total[rows].sum(),
            "lo": lo, "hi": hi}
    present = [m for m in models if per_model[m] is not None]
    size = np.bincount(cl, minlength=k)
    p = np.full(k, np.nan)
    tested = np.flatnonzero(size > 0)
    if len(present) >= 2 and len(tested):
        p[tested] = permutation_test(mass[:, tested], obs_model, obs_image,
                                     n_permutations=n_resamples, seed=seed)
    q = benjamini_hochberg(p)
    out = []
    for c in range(k):
        st = _no_statistics()
        pm = {m: per_model[m] for m in models}
        st["n_images"] = {m: (v["n"] if v else 0) for m, v in pm.items()}
        st["mass"] = {m: (_num(v["mass"][c]) if v else None) for m, v in pm.items()}
        st["share"] = {m: (_num(v["share"][c]) if v else None) for m, v in pm.items()}
        for name, row in (("mass_ci", 0), ("ci", 1), ("share_ci", 2), ("removal_ci", 3)):
            st[name] = {m: (_interval(v["lo"][row, c], v["hi"][row, c])
                            if v and row < len(v["lo"]) else None) for m, v in pm.items()}
        vals = [st["mass"][m] for m in present if st["mass"][m] is not None]
        st["effect"] = max(vals) - min(vals) if len(vals) >= 2 else None
        st["p_value"], st["q_value"] = _num(p[c]), _num(q[c])
        st["significant"] = bool(st["q_value"] is not None and st["q_value"] < alpha)
        out.append(st)
    return out


def _removal(removal: np.ndarray | None, image: np.ndarray | None, rows: np.ndarray
             ) -> float | None:
    """Mean ``cluster_removal`` over the distinct images of ``rows`` (first row of each, rows
    in table order)."""
    if removal is None or not len(rows):
        return None
    rows = np.sort(rows)
    _, first = np.unique(image[rows], return_index=True)
    return mean_attribution(removal[rows[np.sort(first)]])


def consensus(means: dict, reference: float) -> dict:
    """Which models attribute a cluster positively (see the module docstring).

    ``means``: ``{model: mean or None}`` of every model of the comparison; ``reference``: the
    reference bar of the same rows.
    """
    cut = CONSENSUS_FRACTION * reference
    pos = [m for m, v in means.items() if v is not None and reference > 0 and v > cut]
    return {"models": pos, "n": len(pos), "of": len(means),
            "strength": math.fsum(means[m] for m in pos) / len(pos) if pos else None}


def _order_key(c: dict, order: str) -> tuple:
    if order == "size":
        return (-c["size"], c["id"])
    if order == "importance":
        v = c["importance"]
        return (v is None, 0.0 if v is None else -v, c["id"])
    side = c["one_sided"]
    if side is not None:
        return (0, -abs(c["mean_attribution"][side]), c["id"])
    if c["imbalance"] is not None:
        return (1, -c["imbalance"], c["id"])
    return (2, 0.0, c["id"])


def order_clusters(clusters: list[dict], order: str = "imbalance") -> list[dict]:
    """Clusters sorted by ``order`` (see the module docstring; empty clusters last)."""
    if order not in CLUSTER_ORDERS:
        raise ImacsInputError("order", f"must be one of {CLUSTER_ORDERS}, got {order!r}")
    return sorted(clusters, key=lambda c: (c["size"] == 0, *_order_key(c, order)))


def max_mean_attribution(clusters: list[dict]) -> float:
    """The largest mean attribution of any model in any cluster (the paper's reference bar)."""
    vals = [v for c in clusters for v in c["mean_attribution"].values() if v is not None]
    return float(max(vals)) if vals else 0.0


def order_within(segments: pd.DataFrame, inner_order: str = "attribution") -> pd.DataFrame:
    """Segments sorted for display: by attribution (high first) or centroid distance (near first).

    Ties by ``image_index``, then ``segment_index``, then row; missing values (NaN) last.
    """
    if inner_order not in INNER_ORDERS:
        raise ImacsInputError("inner_order", f"must be one of {INNER_ORDERS}, got {inner_order!r}")
    if inner_order == "attribution":
        return segments.sort_values(["attribution", "image_index", "segment_index"],
                                    ascending=[False, True, True], kind="mergesort",
                                    na_position="last")
    return segments.sort_values(["centroid_distance", "image_index", "segment_index"],
                                kind="mergesort", na_position="last")
