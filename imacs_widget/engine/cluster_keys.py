"""Keys that identify a cluster by its members, so that what a user or a check attached to a
cluster (a name, a note, a what-if test) follows the cluster, not its number.

Re-clustering renumbers clusters; a cluster's key is a digest of the row positions of its
segments, so the same clustering (same ``n_clusters`` and seed) gives the same keys again and
anything stored under a key applies exactly when the cluster holds the same segments.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["cluster_key", "cluster_keys"]


def cluster_key(labels: np.ndarray, cluster: int) -> str:
    """The key of one cluster: a digest of the row positions of its segments.

    Parameters
    ----------
    labels : numpy.ndarray
        ``int [n_segments]`` cluster of each segment (``segments["cluster"]``).
    cluster : int
        The cluster.

    Returns
    -------
    str
        16 hexadecimal digits; equal for two clusterings exactly when the cluster holds the same
        rows (an empty cluster's key is that of no rows).
    """
    rows = np.flatnonzero(np.asarray(labels) == int(cluster)).astype("<i8")
    return hashlib.sha1(rows.tobytes(), usedforsecurity=False).hexdigest()[:16]


def cluster_keys(labels: np.ndarray, n_clusters: int) -> list[str]:
    """:func:`cluster_key` of every cluster ``0..n_clusters - 1``.

    Parameters
    ----------
    labels : numpy.ndarray
        ``int [n_segments]`` cluster of each segment.
    n_clusters : int
        Number of clusters.

    Returns
    -------
    list of str
        One key per cluster, in cluster order.
    """
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(int(n_clusters) + 1))
    return [hashlib.sha1(np.sort(order[lo:hi]).astype("<i8").tobytes(),
                         usedforsecurity=False).hexdigest()[:16]
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
