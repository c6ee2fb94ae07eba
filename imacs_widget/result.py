"""The result of :func:`imacs_widget.compare`: :class:`ComparisonResult`, a container.

It holds one :class:`~imacs_widget.comparison.ClassComparison` per class of interest (segments,
clusters, thumbnails, attributions) and re-clusters and re-orders them from the stored
attributions and embeddings (no model call). Everything else is delegated, through thin methods
that import on use: the trust checks to :mod:`imacs_widget.engine.trust`, writing a result file
to :mod:`imacs_widget.io.result_write` (:func:`imacs_widget.load` reads one,
:mod:`imacs_widget.io.result_file`), the widget and the HTML report to
:mod:`imacs_widget.widget`. Those modules read a result through its public attributes and do
not import this one. The per-segment arrays of a computed or loaded result are
:class:`~imacs_widget.io.store.StoredArray` s read on demand (NumPy arrays work too).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from .cluster_labels import ClusterLabels
from .comparison import ClassComparison
from .engine.settings import check_int
from .engine.summary import (
    ALPHA,
    CLUSTER_ORDERS,
    INNER_ORDERS,
    max_mean_attribution,
    order_clusters,
    order_within,
)
from .engine.trust import TrustChecks
from .errors import ImacsInputError

__all__ = ["ClassComparison", "ComparisonResult"]


class ComparisonResult(ClusterLabels, TrustChecks):
    """Outcome of a comparison; one class of interest is *active* at a time.

    Use :attr:`segments` and :attr:`clusters` for the active class, :meth:`select_class` to
    switch, :meth:`recluster` to change the number of clusters, :meth:`widget` to explore,
    :meth:`save` to keep it; :meth:`sanity_check` and :meth:`class_pictures` (from
    :class:`~imacs_widget.engine.trust.TrustChecks`) check what the attributions rest on. Built by :func:`~imacs_widget.compare` and
    :func:`~imacs_widget.load`, rarely by hand.

    Parameters
    ----------
    per_class : dict
        ``{class of interest: ClassComparison}``, at least one; the first is active.
    class_names : list of str
        Every class the models output, in output order.
    model_names : dict
        ``{model key: display name}`` (keys ``"A"``, ``"B"``, ... up to ``"H"``).
    accuracy : dict
        ``{model key: accuracy on the evaluation set}``.
    source_images : mapping
        ``{image_index: uint8 [h, w, 3]}`` downscaled sampled images.
    image_shape : tuple of int
        ``(H, W)`` of the evaluation images.
    params : dict
        The run's settings and what the trust checks stored (saved with the result).
    seed : int
        The run's seed (the default of every later seeded step).
    order, inner_order : str
        Cluster order and order within a cluster (see :attr:`order`, :attr:`inner_order`).

    Raises
    ------
    ValueError
        ``per_class`` is empty.
    ImacsInputError
        ``order`` or ``inner_order`` is not a known order.
    """

    def __init__(self, per_class: dict[str, ClassComparison], class_names: list[str],
                 model_names: dict, accuracy: dict, source_images: dict, image_shape: tuple,
                 params: dict, seed: int = 0, order: str = "imbalance",
                 inner_order: str = "attribution"):
        if not per_class:
            raise ValueError("a result needs at least one class of interest")
        self._per_class = per_class
        self.class_names = list(class_names)
        self.model_names = dict(model_names)
        """``{model key: display name}``: ``{"A": ..., "B": ...}``, or up to key ``"H"``."""
        self.accuracy = dict(accuracy)
        for cc in per_class.values():  # every class summarised over the result's models
            if tuple(cc.models) != self.models:
                cc.models = self.models
                if cc.n_clusters:
                    cc.summarize()
        self.source_images = source_images
        """``{image_index: uint8 [h, w, 3]}`` downscaled source images of sampled images."""
        self.image_shape = tuple(image_shape)
        """``(H, W)`` of the evaluation images (bboxes are in these pixels)."""
        self.params = dict(params)
        self._configure_classes()
        self.seed = int(seed)
        self._order = "imbalance"
        self._inner_order = "attribution"
        self.order = order
        self.inner_order = inner_order
        self.target_class = next(iter(per_class))
        self._selection: dict[str, np.ndarray] = {}
        self.store_path: Path | None = None
        """The folder this result's arrays are read from (``None``: held in memory)."""
        self.run_inputs: dict | None = None
        """``{"adapters", "source", "settings"}`` of the :func:`~imacs_widget.compare` call
        that made this result (in memory only, never saved; ``None`` for a loaded result): the
        trust checks reuse them when no models are given."""

    def _configure_classes(self) -> None:
        """Hand each class what its summaries read from :attr:`params` (the significance
        level, the embedder, the user's names and notes, suggestions by a text-image model),
        add the class-name columns to its segments and label its clusters."""
        from .engine.intervention import check_records
        from .engine.naming import add_name_columns, check_notes, check_suggestions

        alpha = self.params.get("significance_level", ALPHA)
        if (isinstance(alpha, bool) or not isinstance(alpha, int | float)
                or not 0 < float(alpha) < 1):
            raise ImacsInputError("params.significance_level", f"must be a number in (0, 1), "
                                  f"got {alpha!r}")
        classes = list(self._per_class)
        notes = check_notes(self.params.get("cluster_notes", {}), classes)
        suggestions = check_suggestions(self.params.get("suggested_names", {}), classes)
        check_records(self.params.get("interventions", {}), classes)
        for t, cc in self._per_class.items():
            cc.alpha = float(alpha)
            cc.embedder = self.params.get("embedder")
            cc.notes = notes.get(t, {})
            cc.suggestions = suggestions.get(t, {})
            add_name_columns(cc.segments, self.class_names)
            if cc.summaries:
                cc.label_clusters()

    @property
    def _run(self) -> dict | None:  # the name compare() set before run_inputs was public
        return self.run_inputs

    @_run.setter
    def _run(self, value: dict | None) -> None:
        self.run_inputs = value

    # -- active class ----------------------------------------------------------------------------
    @property
    def models(self) -> tuple[str, ...]:
        """The model keys, in the order the models were given (``("A", "B")`` for a pair)."""
        return tuple(self.model_names)

    @property
    def classes_of_interest(self) -> list[str]:
        """Classes this result holds comparisons for."""
        return list(self._per_class)

    @property
    def per_class(self) -> Mapping[str, ClassComparison]:
        """``{class of interest: ClassComparison}``, every class this result holds (a
        read-only view; the active one is :attr:`target_class`'s)."""
        return MappingProxyType(self._per_class)

    @property
    def target_class(self) -> str:
        """The active class of interest."""
        return self._target

    @target_class.setter
    def target_class(self, name: str) -> None:
        if name not in self._per_class:
            raise ImacsInputError("target_class", f"{name!r} is not in this result; it holds "
                                  f"{self.classes_of_interest}")
        self._target = name

    def select_class(self, name: str) -> ComparisonResult:
        """Make ``name`` the active class of interest.

        Parameters
        ----------
        name : str
            One of :attr:`classes_of_interest`.

        Returns
        -------
        ComparisonResult
            ``self``, for chaining.

        Raises
        ------
        ImacsInputError
            ``name`` is not a class of interest of this result.
        """
        self.target_class = name
        return self

    @property
    def _active(self) -> ClassComparison:
        return self._per_class[self._target]

    @property
    def segments(self) -> pd.DataFrame:
        """Segments of the active class: one row per segment (see ``docs/ARCHITECTURE.md``).

        Beside each class-index column its class name: ``label_name`` after ``label`` and
        ``pred_<model>_name`` after each ``pred_<model>`` (``None`` where there is no label);
        derived from :attr:`class_names`, not stored in the result file."""
        return self._active.segments

    @property
    def embeddings(self) -> np.ndarray:
        """``[n_segments, D]`` embedding of each segment (row order = :attr:`segments`)."""
        return self._active.embeddings

    @property
    def shapley_all(self) -> np.ndarray:
        """``[n_segments, C]`` Shapley value of each segment for every class."""
        return self._active.shapley_all

    @property
    def thumbnails(self) -> np.ndarray:
        """``uint8 [n_segments, T, T, 3]`` segment thumbnails (row order = :attr:`segments`)."""
        return self._active.thumbnails

    @property
    def segment_masks(self) -> np.ndarray:
        """``bool [n_segments, T, T]``: thumbnail pixels inside the segment."""
        return self._active.segment_masks

    @property
    def warnings(self) -> list[str]:
        """Sampling shortfalls of the active class."""
        return self._active.warnings

    @property
    def sampling(self) -> dict:
        """Images requested / available / taken per model and outcome (active class)."""
        return self._active.sampling

    @property
    def bin_edges(self) -> np.ndarray:
        """Attribution histogram edges shared by every cluster of the active class."""
        return self._active.bin_edges

    @property
    def n_clusters(self) -> int:
        """Current number of clusters (k of the k-means; a cluster may be empty)."""
        return self._active.n_clusters

    @property
    def order(self) -> str:
        """Cluster order: ``"imbalance"`` (default), ``"importance"`` or ``"size"``."""
        return self._order

    @order.setter
    def order(self, value: str) -> None:
        if value not in CLUSTER_ORDERS:
            raise ImacsInputError("order", f"must be one of {CLUSTER_ORDERS}, got {value!r}")
        self._order = value

    @property
    def inner_order(self) -> str:
        """Order within a cluster: ``"attribution"`` (default) or ``"centroid"``."""
        return self._inner_order

    @inner_order.setter
    def inner_order(self, value: str) -> None:
        if value not in INNER_ORDERS:
            raise ImacsInputError("inner_order", f"must be one of {INNER_ORDERS}, got {value!r}")
        self._inner_order = value

    @property
    def clusters(self) -> list[dict]:
        """Cluster summaries of the active class, in :attr:`order` (one dict per cluster; see
        :func:`~imacs_widget.engine.summary.summarize_clusters`).

        Besides the statistics each holds ``key`` (the cluster's key), ``suggested_labels``
        (``[[label, share], ...]``, at most three, ``[]`` when there is no suggestion),
        ``suggested_name`` (``"honeycomb 41 %, chain mail 22 %"`` or ``None``: a *suggestion*,
        from EfficientNet-Lite0's ImageNet head on the stored embeddings when that embedder
        ran, or from :meth:`suggest_names`), ``suggested_by``, and your ``name`` (or ``None``)
        and ``note`` (``""``) from :meth:`rename_cluster` / :meth:`annotate_cluster`.
        ``significant`` is judged at ``params["significance_level"]`` (0.05 by default)."""
        self._active.ensure_suggestions()  # offline names: computed on first use, not at load
        return order_clusters(self._active.summaries, self._order)

    @property
    def faithfulness(self) -> pd.DataFrame:
        """Faithfulness of each model's attributions (active class), one row per model.

        Columns: ``deletion_auc`` / ``insertion_auc`` (areas under the deletion and insertion
        curves of the ranked segments, attribution order), ``random_auc`` (the area of both
        curves in random order, exact), ``faithfulness`` (the gain of
        the attribution order over random, 0 = no better than chance) and ``n_images``; means
        over the model's sampled images. Read from the Shapley games: no model evaluation
        beyond the attribution (see :mod:`~imacs_widget.engine.faithfulness`). Empty for a
        result computed before faithfulness was.
        """
        from .engine.faithfulness import model_faithfulness

        rows = {m: v for m, v in model_faithfulness(self.segments, self.models).items()
                if v is not None}
        return pd.DataFrame.from_dict(rows, orient="index")

    @property
    def max_mean_attribution(self) -> float:
        """Largest mean attribution over all clusters and models (reference bar)."""
        return max_mean_attribution(self._active.summaries)

    def findings(self) -> pd.DataFrame:
        """The significant differences between the models in the active class, ranked.

        One row per cluster whose ``significant`` is true (q-value below the level), largest
        difference first, with a plain sentence (``sentence``) and the numbers behind it
        (columns :data:`~imacs_widget.engine.findings.FINDING_COLUMNS`; see
        :mod:`~imacs_widget.engine.findings`).

        Returns
        -------
        pandas.DataFrame
            No row when no difference is significant.
        """
        from .engine.findings import findings_frame

        return findings_frame(self.clusters, self.models, self.target_class, self.model_names)

    def cluster_segments(self, cluster: int, model: str | None = None,
                         inner_order: str | None = None) -> pd.DataFrame:
        """Segments of one cluster of the active class, in display order.

        Parameters
        ----------
        cluster : int
            Cluster id, ``0..n_clusters - 1``.
        model : str, optional
            Only this model's segments (a key of :attr:`models`).
        inner_order : str, optional
            ``"attribution"`` or ``"centroid"``; default :attr:`inner_order`.

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`segments`.

        Raises
        ------
        ImacsInputError
            ``cluster`` is out of range.
        """
        seg = self.segments
        if not 0 <= int(cluster) < self.n_clusters:
            raise ImacsInputError("cluster", f"must be in 0..{self.n_clusters - 1}, got {cluster}")
        seg = seg[seg["cluster"] == int(cluster)]
        if model is not None:
            seg = seg[seg["model"] == model]
        return order_within(seg, inner_order or self._inner_order)

    # -- names and notes -------------------------------------------------------------------------
    # -- segment map and selection ----------------------------------------------------------------
    def segment_map(self, method: str = "auto", recompute: bool = False) -> pd.DataFrame:
        """The segment map of the active class: every segment at a 2-D projection of its
        embedding (UMAP with umap-learn, else PCA + t-SNE; or ``method="pca"``; see
        :mod:`~imacs_widget.engine.projection`).

        Computed on first use (a few seconds to a minute; ``umap-learn`` and t-SNE are fitted on
        3,000 segments, the rest placed by their neighbours) and kept in the ``map_x`` /
        ``map_y`` columns of :attr:`segments` (saved with the result).

        Parameters
        ----------
        method : str
            ``"auto"`` (UMAP when umap-learn is installed, else t-SNE), ``"umap"``, ``"tsne"``
            or ``"pca"``.
        recompute : bool
            Compute it again even if it exists.

        Returns
        -------
        pandas.DataFrame
            ``map_x``, ``map_y`` (in 0..1), ``model``, ``cluster`` and ``attribution``, one row
            per segment of :attr:`segments`.
        """
        cc = self._active
        if recompute or cc.map_method is None or "map_x" not in cc.segments:
            cc.segment_map(method, self.seed)
            self.params.setdefault("map_method", {})[self._target] = cc.map_method
        return cc.segments[["map_x", "map_y", "model", "cluster", "attribution"]]

    @property
    def map_method(self) -> str | None:
        """How the active class's segment map was computed (``None``: not yet)."""
        return self._active.map_method

    @property
    def selection(self) -> pd.DataFrame | None:
        """The selected segments of the active class (rows of :attr:`segments`), e.g. a lasso
        on the widget's segment map; ``None`` when nothing is selected. Set it to row
        positions (a list of ints) or ``None``."""
        rows = self._selection.get(self._target)
        return None if rows is None else self.segments.iloc[rows]

    @property
    def selected_rows(self) -> np.ndarray | None:
        """Row positions of :attr:`selection` (``None`` when nothing is selected)."""
        return self._selection.get(self._target)

    @selection.setter
    def selection(self, rows) -> None:
        if rows is None:
            self._selection.pop(self._target, None)
            return
        arr = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows)
        n = len(self.segments)
        if arr.size and (arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer)
                         or arr.min() < 0 or arr.max() >= n):
            raise ImacsInputError("selection", f"must be row positions of segments (ints in "
                                  f"0..{n - 1}), got {rows!r:.80}")
        self._selection[self._target] = np.unique(arr.astype(np.int64))

    # -- re-clustering -----------------------------------------------------------------------------
    @property
    def n_clusters_range(self) -> tuple[int, int]:
        """Inclusive ``(low, high)`` range of cluster counts :meth:`recluster` accepts.

        ``high`` is the segment count of the class of interest with the fewest segments (every
        class is re-clustered together); the widget's slider offers exactly this range.
        """
        smallest = min(len(c.segments) for c in self._per_class.values())
        return 1, max(1, smallest)

    def recluster(self, n_clusters: int, seed: int | None = None) -> ComparisonResult:
        """Re-cluster every class of interest (no model call).

        Parameters
        ----------
        n_clusters : int
            Number of clusters, within :attr:`n_clusters_range`.
        seed : int, optional
            Seeds k-means; default the result's :attr:`seed`.

        Returns
        -------
        ComparisonResult
            ``self``, for chaining.

        Raises
        ------
        ImacsInputError
            ``n_clusters`` is outside :attr:`n_clusters_range`.
        """
        n_clusters = check_int(n_clusters, "n_clusters", *self.n_clusters_range)
        seed = self.seed if seed is None else int(seed)
        for cc in self._per_class.values():
            cc.cluster(int(n_clusters), seed)
        self.params["n_clusters"] = int(n_clusters)
        return self

    # -- presentation ------------------------------------------------------------------------------
    def summary_text(self, top: int = 5) -> str:
        """A short plain-text summary of the active class
        (:func:`~imacs_widget.text_summary.summary_text`).

        Parameters
        ----------
        top : int
            Clusters listed, in :attr:`order`.

        Returns
        -------
        str
            Accuracies, faithfulness, the trust checks' verdicts when run, the top clusters and
            the sampling notes, one per line.
        """
        from .text_summary import summary_text

        return summary_text(self, top)

    def __repr__(self) -> str:
        return (f"<ComparisonResult class={self.target_class!r} segments={len(self.segments)} "
                f"clusters={self.n_clusters} models={self.model_names}>")

    def widget(self, **kwargs):
        """An interactive widget showing this result (in Jupyter, display it).

        Parameters
        ----------
        **kwargs
            Options of :class:`~imacs_widget.widget.widget.ImacsWidget` (``thumb_size``,
            ``source_size``, ...).

        Returns
        -------
        ImacsWidget
            The widget; it re-clusters and switches classes through this result.
        """
        from .widget.widget import ImacsWidget

        return ImacsWidget(self, **kwargs)

    def to_html(self, path, **kwargs) -> Path:
        """Write a self-contained HTML report (no kernel, no network needed to view it).

        Parameters
        ----------
        path : str or path
            The ``.html`` file to write.
        **kwargs
            Options of :func:`~imacs_widget.widget.report.write_html` (``title``, ...).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from .widget.report import write_html

        return write_html(self, path, **kwargs)

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the result to the folder ``path`` (Parquet + Zarr; conventionally ``.imacs``).

        ``path`` may be new, an empty folder or an imacs result (replaced); anything else (your
        files, a folder of other files) is refused with an ``ImacsInputError`` naming ``path``.
        The result is written to a folder of its own beside ``path`` and swapped in at the end,
        so a failed or interrupted save leaves the previous result as it was. Saving to the
        folder the result is read from rewrites only its tables. See
        :mod:`imacs_widget.io.result_file` for the format; :func:`imacs_widget.load` reads it.

        Parameters
        ----------
        path : str or path
            The folder to write.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        ImacsInputError
            ``path`` holds something that is not an imacs result, or the disk is full or not
            writable (the message names ``path``).
        """
        from .io.result_write import save

        return save(self, path)
