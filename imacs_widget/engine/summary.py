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
     "removal": {"A": 0.00, "B": 0.31}}                 # score drop when the cluster is blurred

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
                       models: Iterable[str] = MODELS) -> list[dict]:
    """Summaries of clusters ``0..n_clusters-1`` (in id order) from a segments table.

    ``segments`` needs the columns ``model``, ``cluster``, ``attribution`` and ``outcome``;
    pass ``filter_segments(segments, outcomes, models)`` for the statistics under a filter.
    ``models``: every model key of the comparison (rows of other keys are ignored).
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
