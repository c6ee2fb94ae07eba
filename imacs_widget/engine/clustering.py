"""k-means over the pooled segment embeddings of both models (scikit-learn).

Up to :data:`EXACT_UP_TO` segments (the paper's scale and well beyond: 200 images give 1,000)
the clustering is exact k-means (``n_init=10``) on the L2-normalised embeddings. Above it, the
embeddings are reduced once (:func:`reduce_embeddings`: PCA to :data:`REDUCED_DIM` dimensions,
stored with the result) and clustered by mini-batch k-means, so re-clustering 100,000 segments
takes a fraction of a second instead of minutes. Either way: same inputs and seed → same
clusters, ids renumbered by decreasing size.
"""

from __future__ import annotations

import numpy as np

from .settings import check_int

EXACT_UP_TO = 20_000
"""Largest number of segments clustered by exact k-means on the full embeddings."""
REDUCED_DIM = 32
"""Dimensions the embeddings are reduced to above :data:`EXACT_UP_TO` segments."""
PCA_FIT_ROWS = 20_000
"""Rows (a seeded sample) the PCA is fitted on; every row is then projected."""
TRANSFORM_ROWS = 16_384
"""Rows projected at a time."""


def _normalised(embeddings: np.ndarray, dtype=np.float32) -> np.ndarray:
    x = np.asarray(embeddings, dtype=dtype)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def reduce_embeddings(embeddings: np.ndarray, seed: int = 0, dim: int = REDUCED_DIM) -> np.ndarray:
    """``float32 [n, dim]``: PCA of the L2-normalised embeddings (fitted on at most
    :data:`PCA_FIT_ROWS` seeded rows, randomized solver), for clustering large results."""
    from sklearn.decomposition import PCA

    n, d = embeddings.shape
    dim = int(min(dim, d, n))
    rng = np.random.default_rng(seed)
    rows = np.arange(n) if n <= PCA_FIT_ROWS else np.sort(rng.choice(n, PCA_FIT_ROWS, replace=False))
    pca = PCA(dim, svd_solver="randomized", random_state=seed).fit(_normalised(embeddings[rows]))
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, TRANSFORM_ROWS):  # a block at a time: a stored array is never read whole
        out[s:s + TRANSFORM_ROWS] = pca.transform(_normalised(embeddings[s:s + TRANSFORM_ROWS]))
    return out


def _renumber(raw: np.ndarray, n_clusters: int) -> np.ndarray:
    """Map raw k-means labels to ids by decreasing size (ties by first appearance)."""
    n = len(raw)
    sizes = np.bincount(raw, minlength=n_clusters)
    first = np.full(n_clusters, n)
    seen = np.unique(raw, return_index=True)
    first[seen[0]] = seen[1]
    order = np.lexsort((first, -sizes))
    remap = np.empty(n_clusters, dtype=np.int64)
    remap[order] = np.arange(n_clusters)
    return remap[raw]


def kmeans(embeddings: np.ndarray, n_clusters: int, seed: int = 0, n_init: int = 10,
           reduced: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cluster the segments' embeddings.

    Parameters
    ----------
    embeddings : numpy.ndarray or StoredArray
        ``[n_segments, D]`` features of the pooled segments (read whole only up to
        :data:`EXACT_UP_TO` segments).
    n_clusters : int
        Number of clusters, ``1 <= n_clusters <= n_segments``.
    seed : int
        Random state of k-means (same seed → same clusters).
    n_init : int
        Restarts of exact k-means.
    reduced : numpy.ndarray, optional
        Above :data:`EXACT_UP_TO` segments: the :func:`reduce_embeddings` of ``embeddings``,
        computed here when not given.

    Returns
    -------
    labels : numpy.ndarray
        ``int64 [n_segments]`` cluster id per segment, renumbered by decreasing cluster size
        (ties by first appearance) so ids are stable and meaningful.
    distances : numpy.ndarray
        ``float64 [n_segments]`` distance of each segment to its cluster centroid (in the
        reduced space above :data:`EXACT_UP_TO` segments).
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n = len(embeddings)
    n_clusters = check_int(n_clusters, "n_clusters", 1, n)  # at most one cluster per segment
    if n <= EXACT_UP_TO:
        x = _normalised(embeddings, np.float64)
        km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(x)
    else:
        x = reduced if reduced is not None else reduce_embeddings(embeddings, seed)
        km = MiniBatchKMeans(n_clusters=n_clusters, n_init=3, batch_size=4096,
                             random_state=seed).fit(x)
    raw = km.labels_
    d = np.linalg.norm(x - km.cluster_centers_[raw], axis=1).astype(np.float64)
    return _renumber(raw, n_clusters), d
