"""k-means over the pooled segment embeddings of both models (scikit-learn)."""

from __future__ import annotations

import numpy as np

from .settings import check_int


def kmeans(embeddings: np.ndarray, n_clusters: int, seed: int = 0, n_init: int = 10
           ) -> tuple[np.ndarray, np.ndarray]:
    """Cluster L2-normalised embeddings.

    Parameters
    ----------
    embeddings : numpy.ndarray
        ``[n_segments, D]`` features of the pooled segments.
    n_clusters : int
        Number of clusters, ``1 <= n_clusters <= n_segments``.
    seed : int
        Random state of k-means (same seed → same clusters).

    Returns
    -------
    labels : numpy.ndarray
        ``int64 [n_segments]`` cluster id per segment, renumbered by decreasing cluster size
        (ties by first appearance) so ids are stable and meaningful.
    distances : numpy.ndarray
        ``float64 [n_segments]`` distance of each segment to its cluster centroid.
    """
    from sklearn.cluster import KMeans

    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    n_clusters = check_int(n_clusters, "n_clusters", 1, n)  # at most one cluster per segment
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    km = KMeans(n_clusters=int(n_clusters), n_init=n_init, random_state=seed).fit(x)
    raw = km.labels_
    d = np.linalg.norm(x - km.cluster_centers_[raw], axis=1)
    sizes = np.bincount(raw, minlength=n_clusters)
    first = np.array([np.flatnonzero(raw == c)[0] if sizes[c] else n for c in range(n_clusters)])
    order = np.lexsort((first, -sizes))
    remap = np.empty(n_clusters, dtype=np.int64)
    remap[order] = np.arange(n_clusters)
    return remap[raw], d
