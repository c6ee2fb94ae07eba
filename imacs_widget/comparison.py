"""One class of interest's share of a comparison: :class:`ClassComparison`.

A :class:`~imacs_widget.result.ComparisonResult` holds one per class of interest (its
``per_class``); the stored arrays are NumPy arrays or :class:`~imacs_widget.io.store.StoredArray`
s read on demand. Re-clustering and the segment map reuse them (no model call).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .engine import clustering
from .engine.clustering import kmeans, reduce_embeddings
from .engine.summary import MODELS, shared_bin_edges, summarize_clusters

__all__ = ["ClassComparison"]


@dataclass
class ClassComparison:
    """Everything computed for one class of interest.

    Attributes
    ----------
    target : str
        Class of interest.
    segments : pandas.DataFrame
        One row per segment (columns in ``docs/ARCHITECTURE.md``).
    embeddings : numpy.ndarray or StoredArray
        ``[n_segments, D]`` third-model features (row order = ``segments``; float16 when
        stored).
    shapley_all : numpy.ndarray or StoredArray
        ``float64 [n_segments, C]`` Shapley value of each segment for every class.
    thumbnails : numpy.ndarray or StoredArray
        ``uint8 [n_segments, T, T, 3]`` letterboxed crops.
    segment_masks : numpy.ndarray or StoredArray
        ``bool [n_segments, T, T]`` thumbnail pixels that belong to the segment.
    sampling : dict
        Requested / available / taken images per model and outcome.
    warnings : list of str
        Shortfalls met while sampling.
    models : tuple of str
        The comparison's model keys (``("A", "B")``, or up to ``"H"``).
    """

    target: str
    segments: pd.DataFrame
    embeddings: np.ndarray
    shapley_all: np.ndarray
    thumbnails: np.ndarray
    segment_masks: np.ndarray
    sampling: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    bin_edges: np.ndarray | None = None
    n_clusters: int = 0
    summaries: list = field(default_factory=list)
    reduced_embeddings: np.ndarray | None = None
    """Above :data:`~imacs_widget.engine.clustering.EXACT_UP_TO` segments: the PCA-reduced
    embeddings k-means runs on (computed once, saved with the result)."""
    models: tuple = MODELS
    map_method: str | None = None
    """How ``segments["map_x"]`` / ``["map_y"]`` were computed (``None``: not yet)."""
    games: np.ndarray | None = None
    """``float32 [n_segments, 2^k]``: each row's image's Shapley game for the class (the score
    of every coalition of its ranked segments; see :mod:`~imacs_widget.engine.faithfulness`);
    ``None`` in results computed before it was kept."""

    def cluster(self, n_clusters: int, seed: int) -> None:
        """(Re)cluster the pooled segments of every model (no model call).

        Updates the ``cluster``, ``centroid_distance`` (and, with :attr:`games`,
        ``cluster_removal``) columns of :attr:`segments` and the :attr:`summaries`.

        Parameters
        ----------
        n_clusters : int
            k of the k-means (checked by the caller).
        seed : int
            Seeds k-means (and the PCA reduction above
            :data:`~imacs_widget.engine.clustering.EXACT_UP_TO` segments).
        """
        if (self.reduced_embeddings is None
                and len(self.embeddings) > clustering.EXACT_UP_TO):  # read here: one setting
            self.reduced_embeddings = reduce_embeddings(self.embeddings, seed)
        elif self.reduced_embeddings is not None and not isinstance(self.reduced_embeddings,
                                                                     np.ndarray):
            self.reduced_embeddings = np.asarray(self.reduced_embeddings)  # read once
        labels, dist = kmeans(self.embeddings, n_clusters, seed, reduced=self.reduced_embeddings)
        self.segments["cluster"] = labels
        self.segments["centroid_distance"] = dist
        if self.games is not None:
            from .engine.faithfulness import cluster_removal

            self.segments["cluster_removal"] = cluster_removal(self.segments, self.games)
        self.n_clusters = int(n_clusters)
        self.summarize()

    def segment_map(self, method: str = "auto", seed: int = 0) -> str:
        """Compute the segment map into ``segments["map_x"]`` / ``["map_y"]``.

        Parameters
        ----------
        method : str
            ``"auto"``, ``"umap"``, ``"tsne"`` or ``"pca"`` (see
            :func:`~imacs_widget.engine.projection.project`).
        seed : int
            Seeds the projection.

        Returns
        -------
        str
            The method that ran (also kept in :attr:`map_method`).
        """
        from .engine.projection import project

        xy, used = project(self.embeddings, method, seed, reduced=self.reduced_embeddings)
        self.segments["map_x"] = xy[:, 0]
        self.segments["map_y"] = xy[:, 1]
        self.map_method = used
        return used

    def summarize(self) -> None:
        """Recompute :attr:`summaries` from the segments table (clusters ``0..n_clusters-1``;
        :func:`~imacs_widget.engine.summary.summarize_clusters`)."""
        if self.bin_edges is None:
            self.bin_edges = shared_bin_edges(self.segments["attribution"].to_numpy())
        self.summaries = summarize_clusters(self.segments, self.n_clusters, self.bin_edges,
                                            self.models)
