"""Per-cluster statistics (paper §5) computed from the segments table alone.

A cluster summary is a plain dict (JSON-ready)::

    {"id": 3, "size": 41, "count": {"A": 30, "B": 11},
     "mean_attribution": {"A": 0.01, "B": 0.22},        # None when the model has no segment
     "histogram": {"A": [..], "B": [..]},               # counts on the shared bin edges
     "outcomes": {"A": {"TP": 3, "TN": 20, "FP": 5, "FN": 2}, "B": {...}},
     "imbalance": 0.21, "importance": 0.22}

Orders between clusters: ``"imbalance"`` (|mean A − mean B|, largest first — the paper's
default), ``"importance"`` (largest mean attribution of either model first) and ``"size"``.
Orders within a cluster: ``"attribution"`` (highest first) or ``"centroid"`` (closest first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ImacsInputError

CLUSTER_ORDERS = ("imbalance", "importance", "size")
INNER_ORDERS = ("attribution", "centroid")
MODELS = ("A", "B")
OUTCOMES = ("TP", "TN", "FP", "FN")


def shared_bin_edges(attributions: np.ndarray, n_bins: int = 12) -> np.ndarray:
    """Histogram edges shared by every cluster: ``n_bins`` equal bins over all attributions.

    The range always includes 0 so the zero line is comparable between runs.
    """
    a = np.asarray(attributions, dtype=np.float64)
    lo = float(min(a.min(initial=0.0), 0.0))
    hi = float(max(a.max(initial=0.0), 0.0))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_bins + 1)


def _mean(x: pd.Series):
    return float(x.mean()) if len(x) else None


def summarize_clusters(segments: pd.DataFrame, n_clusters: int, edges: np.ndarray) -> list[dict]:
    """Summaries of clusters ``0..n_clusters-1`` (in id order) from a segments table.

    ``segments`` needs the columns ``model``, ``cluster``, ``attribution`` and ``outcome``.
    """
    out = []
    for c in range(n_clusters):
        seg = segments[segments["cluster"] == c]
        by = {m: seg[seg["model"] == m] for m in MODELS}
        means = {m: _mean(by[m]["attribution"]) for m in MODELS}
        hist = {m: np.histogram(np.clip(by[m]["attribution"], edges[0], edges[-1]), bins=edges)[0]
                .astype(int).tolist() for m in MODELS}
        outcomes = {m: {o: int((by[m]["outcome"] == o).sum()) for o in OUTCOMES} for m in MODELS}
        ma, mb = (means[m] if means[m] is not None else 0.0 for m in MODELS)
        out.append({
            "id": int(c),
            "size": int(len(seg)),
            "count": {m: int(len(by[m])) for m in MODELS},
            "mean_attribution": means,
            "histogram": hist,
            "outcomes": outcomes,
            "imbalance": float(abs(ma - mb)),
            "importance": float(max(ma, mb)),
        })
    return out


def order_clusters(clusters: list[dict], order: str = "imbalance") -> list[dict]:
    """Clusters sorted by ``order`` (largest first; ties by id)."""
    if order not in CLUSTER_ORDERS:
        raise ImacsInputError("order", f"must be one of {CLUSTER_ORDERS}, got {order!r}")
    return sorted(clusters, key=lambda c: (-c[order], c["id"]))


def max_mean_attribution(clusters: list[dict]) -> float:
    """The largest mean attribution of any model in any cluster (the paper's reference bar)."""
    vals = [v for c in clusters for v in c["mean_attribution"].values() if v is not None]
    return float(max(vals)) if vals else 0.0


def order_within(segments: pd.DataFrame, inner_order: str = "attribution") -> pd.DataFrame:
    """Segments sorted for display: by attribution (high first) or centroid distance (near first)."""
    if inner_order not in INNER_ORDERS:
        raise ImacsInputError("inner_order", f"must be one of {INNER_ORDERS}, got {inner_order!r}")
    if inner_order == "attribution":
        return segments.sort_values(["attribution", "image_index", "segment_index"],
                                    ascending=[False, True, True], kind="mergesort")
    return segments.sort_values(["centroid_distance", "image_index", "segment_index"],
                                kind="mergesort")
