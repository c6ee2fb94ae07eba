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
from .engine.summary import ALPHA, MODELS, shared_bin_edges, summarize_clusters

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
    alpha: float = ALPHA
    """Level of each summary's ``significant`` (``q_value < alpha``): the result's
    ``params["significance_level"]``."""
    embedder: str | None = None
    """The embedder that ran (``params["embedder"]``): whether offline suggested names exist."""
    notes: dict = field(default_factory=dict)
    """``{cluster key: {"name": str or None, "note": str}}``: the user's names and notes."""
    suggestions: dict = field(default_factory=dict)
    """``{cluster key: {"labels": [[label, share], ...], "by": str}}``: names suggested by a
    user's text-image model (they replace the offline suggestion of that cluster)."""
    _imagenet: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _suggestions_pending: bool = field(default=False, init=False, repr=False, compare=False)

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
                                            self.models, alpha=self.alpha)
        self.label_clusters()

    @property
    def keys(self) -> list[str]:
        """The key of each cluster ``0..n_clusters-1``
        (:func:`~imacs_widget.engine.cluster_keys.cluster_keys`)."""
        from .engine.cluster_keys import cluster_keys

        return cluster_keys(self.segments["cluster"].to_numpy(), self.n_clusters)

    def ensure_suggestions(self) -> None:
        """Compute the offline suggested names if :meth:`label_clusters` left them for later."""
        if self._suggestions_pending:
            self.label_clusters(offline=True)

    def _embedding_dim(self) -> int | None:
        shape = getattr(self.embeddings, "shape", None)
        return int(shape[1]) if shape is not None and len(shape) == 2 and shape[0] else None

    def imagenet_classes(self) -> np.ndarray | None:
        """Each segment's most likely ImageNet class from its stored embedding
        (:func:`~imacs_widget.engine.naming.imagenet_top_classes`; computed once, kept in
        memory), or ``None`` when the embedder has no ImageNet head here or its weights are not
        installed."""
        from .engine import naming

        if self._imagenet is None:
            if not naming.can_suggest(self.embedder, self._embedding_dim()):
                return None
            try:
                self._imagenet = naming.imagenet_top_classes(self.embeddings)
            except (ImportError, OSError):
                return None
        return self._imagenet

    def label_clusters(self, offline: bool = False) -> None:
        """Add the naming fields to :attr:`summaries` (cheap; no statistic is recomputed).

        Each summary gets ``key`` (its cluster key), ``suggested_labels`` (``[[label, share],
        ...]``, at most three; ``[]`` when there is no suggestion), ``suggested_name``
        (``"honeycomb 41 %, chain mail 22 %"`` or ``None``), ``suggested_by`` (what suggested
        it, or ``None``), ``name`` (the user's, or ``None``) and ``note`` (``""`` when none);
        ``significant`` is set again from ``q_value`` at :attr:`alpha`.

        Parameters
        ----------
        offline : bool
            Compute each segment's ImageNet class for the offline suggestions now if it is not
            known yet (reads every embedding: ~2 s per 100,000 segments). ``False`` leaves
            them to :meth:`ensure_suggestions` (``result.clusters`` calls it), so loading a
            result reads no embedding.
        """
        from .engine import naming

        if not self.summaries:
            return
        keys = self.keys
        offline_labels = [[] for _ in keys]
        self._suggestions_pending = False
        classes = self.imagenet_classes() if offline else self._imagenet
        if classes is not None:
            from .models.lite0.head import imagenet_class_names

            offline_labels = naming.label_shares(classes, self.segments["cluster"].to_numpy(),
                                                 self.n_clusters, imagenet_class_names())
        elif not offline and naming.can_suggest(self.embedder, self._embedding_dim()):
            self._suggestions_pending = True
        for c in self.summaries:
            key = keys[c["id"]]
            own = self.suggestions.get(key)
            labels = own["labels"] if own else offline_labels[c["id"]]
            note = self.notes.get(key, {})
            c.update(key=key, suggested_labels=[list(p) for p in labels],
                     suggested_name=naming.suggestion_text(labels),
                     suggested_by=(own["by"] if own else naming.IMAGENET_SOURCE)
                     if labels else None,
                     name=note.get("name"), note=note.get("note", ""))
            q = c.get("q_value")
            c["significant"] = bool(q is not None and q < self.alpha)
