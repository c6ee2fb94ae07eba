"""The cluster-naming methods of :class:`~imacs_widget.result.ComparisonResult` (a mixin):
your own names and notes (:meth:`ClusterLabels.rename_cluster`,
:meth:`ClusterLabels.annotate_cluster`) and names or a search from your own text-image model
(:meth:`ClusterLabels.suggest_names`, :meth:`ClusterLabels.find_clusters`).

What is attached to a cluster is stored under the cluster's key
(:mod:`~imacs_widget.engine.cluster_keys`) in the result's ``params`` (saved with it), so it
follows the cluster across re-clustering; the suggested names from the embedding model's own
ImageNet head, the checks and the zero-shot labelling are :mod:`~imacs_widget.engine.naming`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .engine.values import check_int
from .errors import ImacsInputError

if TYPE_CHECKING:  # pragma: no cover
    from .result import ComparisonResult

__all__ = ["ClusterLabels"]


class ClusterLabels:
    """Names, notes and text queries of a result's clusters (mixed into
    :class:`~imacs_widget.result.ComparisonResult`; uses its active class, ``params`` and
    ``n_clusters``)."""

    def _cluster_id(self, cluster) -> int:
        """``cluster`` checked: an int in ``0..n_clusters - 1`` (the current numbering)."""
        return check_int(cluster, "cluster", 0, self.n_clusters - 1)

    def _set_note(self, cluster: int, **fields) -> None:
        cc = self._active
        if not (cc.segments["cluster"].to_numpy() == cluster).any():  # empty clusters share a key
            raise ImacsInputError("cluster", f"cluster {cluster} is empty: nothing to name")
        key = cc.keys[cluster]
        rec = {"name": None, "note": "", **cc.notes.get(key, {}), **fields}
        if rec["name"] is None and rec["note"] == "":
            cc.notes.pop(key, None)
        else:
            cc.notes[key] = rec
        self.params["cluster_notes"] = {t: dict(c.notes) for t, c in self._per_class.items()
                                        if c.notes}
        if not self.params["cluster_notes"]:
            del self.params["cluster_notes"]
        cc.label_clusters()

    def rename_cluster(self, cluster: int, name: str | None) -> ComparisonResult:
        """Give a cluster of the active class your own name (shown as ``name`` in
        :attr:`clusters`, in the findings, the summary and the report; saved with the result).

        The name is stored under the cluster's key (a digest of its members,
        :mod:`~imacs_widget.engine.cluster_keys`) in ``params["cluster_notes"]``, so it follows
        the cluster: re-clustering to another ``n_clusters`` hides it, re-clustering to the same
        ``n_clusters`` and seed brings it back.

        Parameters
        ----------
        cluster : int
            Cluster id in the current numbering, ``0..n_clusters - 1``.
        name : str or None
            The name (stripped; at most 200 characters); ``None`` or ``""`` clears it.

        Returns
        -------
        ComparisonResult
            ``self``, for chaining.

        Raises
        ------
        ImacsInputError
            ``cluster`` is not a cluster id, or ``name`` is not a string.
        """
        from .engine.naming import check_name

        c = self._cluster_id(cluster)
        self._set_note(c, name=check_name(name))
        return self

    def annotate_cluster(self, cluster: int, note: str | None) -> ComparisonResult:
        """Attach a note to a cluster of the active class (``note`` in :attr:`clusters`;
        saved with the result, stored like :meth:`rename_cluster`'s name).

        Parameters
        ----------
        cluster : int
            Cluster id in the current numbering, ``0..n_clusters - 1``.
        note : str or None
            The note (replaces the previous one); ``None`` or ``""`` clears it.

        Returns
        -------
        ComparisonResult
            ``self``, for chaining.

        Raises
        ------
        ImacsInputError
            ``cluster`` is not a cluster id, or ``note`` is not a string.
        """
        from .engine.naming import check_note

        c = self._cluster_id(cluster)
        self._set_note(c, note=check_note(note))
        return self

    def _cluster_features(self, text_model, texts, n_crops: int, batch_size: int):
        """Unit text features of ``texts`` and, per cluster of the active class, unit image
        features of its ``n_crops`` most representative thumbnails."""
        from .engine import naming

        image_fn, text_fn = naming.check_text_model(text_model)
        n_crops = check_int(n_crops, "n_crops", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        text = naming.embed_texts(text_fn, texts)
        cc = self._active
        rows = naming.representative_rows(cc.segments, cc.n_clusters, n_crops)
        feats = []
        for r in rows:
            crops = np.asarray(cc.thumbnails[r], np.uint8) if len(r) else None
            feats.append(naming.embed_crops(image_fn, crops, text.shape[1], batch_size)
                         if crops is not None else np.zeros((0, text.shape[1])))
        return text, feats

    def suggest_names(self, text_model, vocabulary, n_crops: int = 32, batch_size: int = 64,
                      name: str | None = None) -> ComparisonResult:
        """Suggest names for the active class's clusters with your own text-image model (e.g. a
        CLIP), zero-shot over a vocabulary.

        Each cluster's ``n_crops`` most representative thumbnails (closest to its centre) are
        embedded with ``image_fn`` and labelled with the nearest word of ``vocabulary``
        (cosine similarity to ``text_fn``'s features); the three most frequent words and their
        share of the crops replace the cluster's ``suggested_labels`` / ``suggested_name``, and
        ``suggested_by`` names the model. They are stored under the cluster keys in
        ``params["suggested_names"]`` (saved with the result; they follow re-clustering like
        the user's names). Still suggestions: shown as such.

        Parameters
        ----------
        text_model : (callable, callable)
            ``(image_fn, text_fn)``: ``image_fn(crops)`` takes ``uint8 [n, h, w, 3]`` RGB crops
            and returns ``[n, d]`` features; ``text_fn(texts)`` takes a list of ``m`` strings
            and returns ``[m, d]`` features in the same space.
        vocabulary : sequence of str
            The candidate names (at least one).
        n_crops : int
            Thumbnails per cluster.
        batch_size : int
            Crops per ``image_fn`` call.
        name : str, optional
            What ``suggested_by`` says (default: ``image_fn``'s qualified name).

        Returns
        -------
        ComparisonResult
            ``self``, for chaining.

        Raises
        ------
        ImacsInputError
            ``text_model`` is not a pair of callables or returns features of the wrong shape,
            ``vocabulary`` is empty or not strings (each error names the argument).
        """
        from .engine import naming

        wrong = ImacsInputError("vocabulary", f"must be a non-empty list of non-blank strings, "
                                f"got {vocabulary!r:.80}")
        if isinstance(vocabulary, str | bytes):
            raise wrong
        try:  # a list, tuple, array, Series or generator: read once
            vocabulary = list(vocabulary)
        except TypeError:
            raise wrong from None
        if not vocabulary or not all(isinstance(v, str) and v.strip() for v in vocabulary):
            raise wrong
        by = str(name) if name else naming.text_model_name(naming.check_text_model(text_model))
        text, feats = self._cluster_features(text_model, vocabulary, n_crops, batch_size)
        shares = naming.zero_shot_shares(feats, vocabulary, text)
        cc = self._active
        for key, labels in zip(cc.keys, shares, strict=True):
            if labels:
                cc.suggestions[key] = {"labels": labels, "by": by}
        self.params["suggested_names"] = {t: dict(c.suggestions)
                                          for t, c in self._per_class.items() if c.suggestions}
        cc.label_clusters()
        return self

    def find_clusters(self, query: str, text_model, n_crops: int = 32,
                      batch_size: int = 64) -> pd.DataFrame:
        """The active class's clusters ranked by how well a text describes them, with your own
        text-image model (e.g. a CLIP).

        Parameters
        ----------
        query : str
            What to look for (``"a watermark"``, ``"grass"``).
        text_model : (callable, callable)
            ``(image_fn, text_fn)`` as for :meth:`suggest_names`.
        n_crops : int
            Most representative thumbnails per cluster.
        batch_size : int
            Crops per ``image_fn`` call.

        Returns
        -------
        pandas.DataFrame
            One row per non-empty cluster, most similar first: ``cluster``, ``similarity``
            (mean cosine similarity of its crops to the query), ``size``, ``name`` (yours),
            ``suggested_name``.

        Raises
        ------
        ImacsInputError
            ``query`` is not a non-blank string, or ``text_model`` does not fit.
        """
        from .engine import naming

        if not isinstance(query, str) or not query.strip():
            raise ImacsInputError("query", f"must be a non-blank str, got {query!r:.80}")
        text, feats = self._cluster_features(text_model, [query], n_crops, batch_size)
        sims = naming.text_similarity(feats, text[0])
        by_id = {c["id"]: c for c in self.clusters}
        rows = [{"cluster": c, "similarity": s, "size": by_id[c]["size"],
                 "name": by_id[c].get("name"), "suggested_name": by_id[c].get("suggested_name")}
                for c, s in enumerate(sims) if s is not None]
        frame = pd.DataFrame(rows, columns=["cluster", "similarity", "size", "name",
                                            "suggested_name"])
        return frame.sort_values(["similarity", "cluster"], ascending=[False, True],
                                 kind="mergesort").reset_index(drop=True)
