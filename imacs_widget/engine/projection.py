"""The segment map: a 2-D projection of the pooled segment embeddings.

:func:`project` places every segment on a plane so that segments with similar embeddings lie
close together (the same embeddings k-means clusters). The embeddings are L2-normalised and
reduced by PCA (:func:`~imacs_widget.engine.clustering.reduce_embeddings`, or the reduction a
large result stores); then

* ``"umap"`` — UMAP (``umap-learn``; ``pip install "imacs-widget[map]"``),
* ``"tsne"`` — t-SNE of scikit-learn,
* ``"pca"`` — the first two principal components (instant, coarse),
* ``"auto"`` (default) — UMAP when ``umap-learn`` is installed, else t-SNE.

UMAP and t-SNE are fitted on at most :data:`FIT_POINTS` segments (a seeded sample); every other
segment is placed at the inverse-distance-weighted mean of its :data:`NEIGHBOURS` nearest fitted
segments in the reduced space, so 100,000 segments cost about what 3,000 do. Coordinates are
scaled into ``[0, 1]`` (aspect kept, centred). Same embeddings and seed → the same map.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from ..errors import ImacsInputError
from .clustering import reduce_embeddings

METHODS = ("auto", "umap", "tsne", "pca")
FIT_POINTS = 3000
"""Segments the UMAP / t-SNE layout is fitted on; the others are placed by their neighbours."""
NEIGHBOURS = 5
"""Fitted neighbours that place a segment outside the fitted sample."""


def resolve_method(method: str) -> str:
    """The projection ``method`` runs: ``"auto"`` is ``"umap"`` with umap-learn, else
    ``"tsne"``; ``"umap"`` without umap-learn is an error that says how to install it."""
    if method not in METHODS:
        raise ImacsInputError("method", f"must be one of {METHODS}, got {method!r}")
    has_umap = importlib.util.find_spec("umap") is not None
    if method == "auto":
        return "umap" if has_umap else "tsne"
    if method == "umap" and not has_umap:
        raise ImacsInputError("method", "'umap' needs umap-learn: pip install "
                              "\"imacs-widget[map]\" (or use method='tsne' or 'pca')")
    return method


def project(embeddings, method: str = "auto", seed: int = 0, reduced=None,
            fit_points: int = FIT_POINTS) -> tuple[np.ndarray, str]:
    """2-D map coordinates of segment embeddings.

    Parameters
    ----------
    embeddings : numpy.ndarray or StoredArray
        ``[n, D]`` segment embeddings (read a block at a time).
    method : {"auto", "umap", "tsne", "pca"}
        See the module docstring.
    seed : int
        Seeds the fitted sample, PCA, UMAP and t-SNE.
    reduced : numpy.ndarray, optional
        The PCA-reduced embeddings when already computed (large results store them).
    fit_points : int
        Segments UMAP / t-SNE are fitted on.

    Returns
    -------
    xy : numpy.ndarray
        ``float32 [n, 2]`` in ``[0, 1]``.
    method : str
        The method that ran.
    """
    method = resolve_method(method)
    n = len(embeddings)
    if n == 0:
        return np.zeros((0, 2), np.float32), method
    if n < 4:  # too few to reduce or lay out
        x = np.asarray(embeddings, np.float32)
    else:
        x = np.asarray(reduced, np.float32) if reduced is not None else reduce_embeddings(
            embeddings, seed)
    if n < 4 or x.shape[1] < 2 or method == "pca":
        xy = _pca2(x, seed)
    else:
        rng = np.random.default_rng(seed)
        fit = np.arange(n) if n <= fit_points else np.sort(rng.choice(n, fit_points, replace=False))
        placed = _layout(x[fit], method, seed)
        xy = np.empty((n, 2), np.float64)
        xy[fit] = placed
        rest = np.setdiff1d(np.arange(n), fit)
        if len(rest):
            xy[rest] = _place(x[fit], placed, x[rest])
    return _unit_square(xy), method


def _pca2(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    if len(x) < 2 or x.shape[1] < 2 or not np.ptp(x, axis=0).any():
        return np.zeros((len(x), 2))
    return PCA(2, random_state=seed).fit_transform(x)


def _layout(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    """UMAP / t-SNE coordinates of the fitted sample."""
    n = len(x)
    if method == "umap":
        import umap

        with warnings.catch_warnings():  # "n_jobs overridden by random_state": wanted
            warnings.simplefilter("ignore")
            return umap.UMAP(n_neighbors=min(15, n - 1), random_state=seed,
                             init="spectral" if n > 16 else "random").fit_transform(x)
    import inspect

    from sklearn.manifold import TSNE

    iters = "max_iter" if "max_iter" in inspect.signature(TSNE).parameters else "n_iter"
    return TSNE(2, perplexity=float(min(30, (n - 1) / 3)), init="pca", random_state=seed,
                **{iters: 500}).fit_transform(x)


def _place(fit_x: np.ndarray, fit_xy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row of ``x`` at the inverse-distance-weighted mean of its nearest fitted rows."""
    from sklearn.neighbors import NearestNeighbors

    k = min(NEIGHBOURS, len(fit_x))
    nn = NearestNeighbors(n_neighbors=k).fit(fit_x)
    dist, idx = nn.kneighbors(x)
    w = 1.0 / np.maximum(dist, 1e-9)
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkd->nd", w, fit_xy[idx])


def _unit_square(xy: np.ndarray) -> np.ndarray:
    """Scale into [0, 1] keeping the aspect ratio, centred."""
    xy = np.asarray(xy, np.float64)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float((hi - lo).max())
    if not np.isfinite(span) or span <= 0:
        return np.full(xy.shape, 0.5, np.float32)
    out = (xy - lo) / span
    out += (1.0 - (hi - lo) / span) / 2
    return out.astype(np.float32)
