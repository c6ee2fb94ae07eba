"""The result of :func:`imacs_widget.compare`: segments, clusters, thumbnails; save/load.

Re-clustering and re-ordering reuse the stored attributions and embeddings (no model call).
Saving and loading live in :mod:`imacs_widget.io.result_file` (a folder of Parquet and Zarr,
no pickle). The per-segment arrays of a computed or loaded result are
:class:`~imacs_widget.io.store.StoredArray` s read on demand (NumPy arrays work too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .engine.clustering import EXACT_UP_TO, kmeans, reduce_embeddings
from .engine.settings import check_int
from .engine.summary import (
    CLUSTER_ORDERS,
    INNER_ORDERS,
    MODELS,
    max_mean_attribution,
    order_clusters,
    order_within,
    shared_bin_edges,
    summarize_clusters,
)
from .errors import ImacsInputError


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
        """(Re)cluster the pooled segments; updates ``cluster``/``centroid_distance`` and stats."""
        if self.reduced_embeddings is None and len(self.embeddings) > EXACT_UP_TO:
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
        """Compute the segment map into ``segments["map_x"]`` / ``["map_y"]``; returns the
        method that ran (see :mod:`~imacs_widget.engine.projection`)."""
        from .engine.projection import project

        xy, used = project(self.embeddings, method, seed, reduced=self.reduced_embeddings)
        self.segments["map_x"] = xy[:, 0]
        self.segments["map_y"] = xy[:, 1]
        self.map_method = used
        return used

    def summarize(self) -> None:
        """Recompute :attr:`summaries` from the segments table (clusters ``0..n_clusters-1``)."""
        if self.bin_edges is None:
            self.bin_edges = shared_bin_edges(self.segments["attribution"].to_numpy())
        self.summaries = summarize_clusters(self.segments, self.n_clusters, self.bin_edges,
                                            self.models)


class ComparisonResult:
    """Outcome of a comparison; one class of interest is *active* at a time.

    Use :attr:`segments` and :attr:`clusters` for the active class, :meth:`select_class` to
    switch, :meth:`recluster` to change the number of clusters, :meth:`widget` to explore.
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
        self.seed = int(seed)
        self._order = "imbalance"
        self._inner_order = "attribution"
        self.order = order
        self.inner_order = inner_order
        self.target_class = next(iter(per_class))
        self._selection: dict[str, np.ndarray] = {}
        self.store_path: Path | None = None
        """The folder this result's arrays are read from (``None``: held in memory)."""
        self._run: dict | None = None  # compare()'s models, data and settings (in memory only)

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
        """Make ``name`` the active class of interest; returns ``self``."""
        self.target_class = name
        return self

    @property
    def _active(self) -> ClassComparison:
        return self._per_class[self._target]

    @property
    def segments(self) -> pd.DataFrame:
        """Segments of the active class: one row per segment (see ``docs/ARCHITECTURE.md``)."""
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
        """Cluster summaries of the active class, in :attr:`order` (see :mod:`~imacs_widget.summary`)."""
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

    def cluster_segments(self, cluster: int, model: str | None = None,
                         inner_order: str | None = None) -> pd.DataFrame:
        """Segments of one cluster (optionally one model), in display order."""
        seg = self.segments
        if not 0 <= int(cluster) < self.n_clusters:
            raise ImacsInputError("cluster", f"must be in 0..{self.n_clusters - 1}, got {cluster}")
        seg = seg[seg["cluster"] == int(cluster)]
        if model is not None:
            seg = seg[seg["model"] == model]
        return order_within(seg, inner_order or self._inner_order)

    # -- segment map and selection ----------------------------------------------------------------
    def segment_map(self, method: str = "auto", recompute: bool = False) -> pd.DataFrame:
        """The segment map of the active class: every segment at a 2-D projection of its
        embedding (UMAP with umap-learn, else PCA + t-SNE; or ``method="pca"``; see
        :mod:`~imacs_widget.engine.projection`).

        Computed on first use (a few seconds to a minute; ``umap-learn`` and t-SNE are fitted on
        3,000 segments, the rest placed by their neighbours) and kept in the ``map_x`` /
        ``map_y`` columns of :attr:`segments` (saved with the result). Returns those columns
        with ``model``, ``cluster`` and ``attribution``.
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
        """Re-cluster every class with ``n_clusters`` (no model call); returns ``self``."""
        n_clusters = check_int(n_clusters, "n_clusters", *self.n_clusters_range)
        seed = self.seed if seed is None else int(seed)
        for cc in self._per_class.values():
            cc.cluster(int(n_clusters), seed)
        self.params["n_clusters"] = int(n_clusters)
        return self

    # -- sanity check ------------------------------------------------------------------------------
    def sanity_check(self, models: dict | None = None, images=None, n_images: int = 16,
                     seed: int | None = None, max_steps: int | None = None,
                     progress: bool = True) -> pd.DataFrame:
        """Does each model's attribution survive randomising the model? (Active class.)

        Re-attributes ``n_images`` of each model's sampled images (the same segments and
        players) with copies of the model whose weights are randomised layer by layer from the
        output down, and reports the Spearman correlation with the real attributions at each
        step (see :mod:`~imacs_widget.engine.sanity`; the last step, every layer randomised,
        is the paper's untrained-model check). A model whose final correlation stays at or
        above :data:`~imacs_widget.engine.sanity.PASS_BELOW` is flagged: its attributions do
        not depend on what it learned. The verdicts are kept in ``params["sanity"]`` (saved;
        the widget and the report show them).

        Parameters
        ----------
        models : dict, optional
            ``{model key or name: model}``; needed for a loaded result (the models are not
            saved). Right after :func:`~imacs_widget.compare` the compared models are used. A
            model that had its own ``preprocess`` / input size in the comparison must be given
            as ``imacs.ModelAdapter(model, preprocess=..., input_size=...)``.
        images : optional
            The evaluation images, as given to ``compare``; needed for a loaded result.
        n_images : int
            Images per model (the first of its sample by image index).
        seed : int, optional
            Seeds the randomisation (default: the result's seed).
        max_steps : int, optional
            Cascade steps besides step 0 (default :data:`~imacs_widget.engine.sanity.MAX_STEPS`).
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            One row per model and step: ``model``, ``layers``, ``layer``, ``spearman``,
            ``n_images``, and ``passed`` (the model's verdict, on every row of it).
        """
        from .engine import sanity
        from .engine.progress import stage
        from .engine.segmentation import segment_images

        n_images = check_int(n_images, "n_images", 1, 10_000)
        seed = self.seed if seed is None else int(seed)
        steps = sanity.MAX_STEPS if max_steps is None else check_int(max_steps, "max_steps", 1, 100)
        adapters, source, settings = self._sanity_inputs(models, images)
        sigma = float(self.params["blur_sigma"])
        target = self.class_names.index(self.target_class)
        seg = self.segments
        tables = []
        with stage("sanity check " + "+".join(self.models), len(self.models), progress) as tick:
            for m in self.models:
                rows = seg[seg["model"] == m]
                idx = np.sort(rows["image_index"].unique())[:n_images]
                if not len(idx):
                    tick(1)
                    continue
                images_m, ok = source.read(idx)
                if not ok.all():
                    raise ImacsInputError("images", f"could not read images {idx[~ok][:3]} of "
                                          f"model {m}")
                x = np.asarray(images_m, np.float32)
                if adapters[m].returns == "auto":  # a loaded result's model: settle its outputs
                    adapters[m].settle_returns(adapters[m].raw(x[:8]))
                lmaps = segment_images(x, **settings.segmentation_options)
                players, real = [], []
                for i in idx:
                    r = rows[rows["image_index"] == i].sort_values("rank")
                    players.append(r["segment_index"].to_numpy(np.int64))
                    real.append(r["attribution"].to_numpy(np.float64))
                t = sanity.sanity_check(adapters[m], x, lmaps, players, real, target, sigma,
                                        settings.batch_size, seed, steps,
                                        baseline=settings.baseline)
                t.insert(0, "model", m)
                t["passed"] = sanity.verdict(t)["passed"]
                tables.append(t)
                tick(1)
        table = pd.concat(tables, ignore_index=True)
        self.params.setdefault("sanity", {})[self._target] = {
            m: sanity.verdict(table[table["model"] == m]) for m in table["model"].unique()}
        return table

    @property
    def sanity(self) -> dict | None:
        """``{model: {"spearman", "layers", "passed"}}`` of the last :meth:`sanity_check` of
        the active class (``None``: not run)."""
        return self.params.get("sanity", {}).get(self._target)

    def _sanity_inputs(self, models, images):
        """The adapters, data source and settings :meth:`sanity_check` works with."""
        from .engine.settings import RunSettings

        run = self._run or {}
        if models is None and images is None and run:
            return run["adapters"], run["source"], run["settings"]
        if models is None or images is None:
            missing = "models" if models is None else "images"
            raise ImacsInputError(missing, "a loaded result needs the models and the images "
                                  "it compared: sanity_check(models={...}, images=...)")
        from .data.sources import as_image_source

        adapters = self._adapters(models, "sanity_check")
        source = as_image_source(images)
        if tuple(source.image_shape) != tuple(self.image_shape):
            source = as_image_source(images, image_size=tuple(self.image_shape))
        if len(source) <= int(self.segments["image_index"].max()):
            raise ImacsInputError("images", f"has {len(source)} images but the result refers to "
                                  f"image {int(self.segments['image_index'].max())}")
        p = self.params
        base = str(p.get("baseline", "blur"))
        if base.startswith("callable:"):
            raise ImacsInputError("baseline", "this loaded result used a callable baseline, "
                                  "which is not saved; run sanity_check() right after compare()")
        if base.startswith("colour:"):
            base = tuple(float(v) for v in base.split(":", 1)[1].split(","))
        settings = RunSettings(segmentation=p.get("segmentation", "grid"),
                               grid=tuple(p.get("grid", (4, 4))), baseline=base,
                               n_segments=int(p.get("n_segments", 16)), seed=self.seed)
        return adapters, source, settings

    def _adapters(self, models, method: str) -> dict:
        """``{model key: ModelAdapter}``: the compared models (right after ``compare``) or
        ``models`` (``{key or name: model}``, every model of the result)."""
        from .models.adapter import ModelAdapter

        if models is None:
            if self._run:
                return self._run["adapters"]
            raise ImacsInputError("models", f"a loaded result needs the models it compared: "
                                  f"{method}(models={{...}})")
        keys = {**{m: m for m in self.models}, **{n: m for m, n in self.model_names.items()}}
        adapters = {}
        for name, model in dict(models).items():
            if name not in keys:
                raise ImacsInputError("models", f"{name!r} is none of this result's models "
                                      f"{list(self.model_names.values())} (or keys {list(self.models)})")
            adapters[keys[name]] = model if isinstance(model, ModelAdapter) else ModelAdapter(
                model, name=str(name), score=self.params.get("score", "probability"))
        missing = [m for m in self.models if m not in adapters]
        if missing:
            raise ImacsInputError("models", f"give every model of the result; missing {missing}")
        for ad in adapters.values():
            ad.pixel_range = tuple(self.params.get("pixel_range", (0.0, 255.0)))
        return adapters

    # -- each model's picture of the class ---------------------------------------------------------
    def class_pictures(self, models: dict | None = None, n_starts: int | None = None,
                       steps: int | None = None, colour: bool = False, seed: int | None = None,
                       progress: bool = True) -> pd.DataFrame:
        """Each model's input-agnostic picture of the active class (no evaluation image used).

        Tiles shared by many blank inputs are nudged along each model's gradient towards the
        class and shown as a mosaic, best first (see :mod:`~imacs_widget.engine.class_pictures`).
        What a model's picture shows is what raises its score for the class anywhere on any
        input: a backdoored model's picture shows its trigger. The pictures are kept in
        ``params["class_pictures"]`` (saved; the widget header and the report show them side
        by side).

        Parameters
        ----------
        models : dict, optional
            ``{model key or name: model}``; needed for a loaded result (models are not saved).
        n_starts, steps : int, optional
            Tiles per model and ascent steps (defaults
            :data:`~imacs_widget.engine.class_pictures.N_STARTS`,
            :data:`~imacs_widget.engine.class_pictures.STEPS`).
        colour : bool
            Colour tiles instead of grey ones.
        seed : int, optional
            Default: the result's seed.
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            One row per model: ``model``, ``name``, ``picture`` (``uint8 [H, W, 3]``),
            ``best_log_odds``, ``mean_log_odds`` (the class's log-odds with a tile pasted on
            blank inputs: the best tile, the mean over tiles), ``blank_log_odds`` (without a
            tile), ``tile``, ``n_tiles``, ``n_evals``.
        """
        from .engine import class_pictures as cp
        from .engine.progress import stage

        adapters = self._adapters(models, "class_pictures")
        seed = self.seed if seed is None else check_int(seed, "seed", 0)
        kw = dict(colour=bool(colour), seed=seed,
                  n_starts=cp.N_STARTS if n_starts is None else check_int(n_starts, "n_starts", 1, 256),
                  steps=cp.STEPS if steps is None else check_int(steps, "steps", 0, 100_000))
        target = self.class_names.index(self.target_class)
        total = len(self.models) * kw["n_starts"] * cp.N_INPUTS * kw["steps"]
        rows, saved = [], {}
        with stage("class pictures " + "+".join(self.models), total, progress) as tick:
            for m in self.models:
                pic = cp.class_picture(adapters[m], target, tuple(self.image_shape), progress=tick,
                                       **kw)
                saved[m] = pic.to_json()
                rows.append({"model": m, "name": self.model_names[m], "picture": pic.picture,
                             **{k: saved[m][k] for k in ("best_log_odds", "mean_log_odds",
                                                         "blank_log_odds", "tile", "n_tiles",
                                                         "n_evals")}})
        self.params.setdefault("class_pictures", {})[self._target] = saved
        return pd.DataFrame(rows)

    @property
    def class_picture_records(self) -> dict | None:
        """``{model: {"png", "tile", "best_log_odds", "mean_log_odds", "blank_log_odds",
        "n_tiles", "n_evals", "params"}}``: what the last :meth:`class_pictures` of the active
        class saved, the picture as a base64 PNG (``None``: not computed)."""
        return self.params.get("class_pictures", {}).get(self._target)

    @property
    def pictures(self) -> dict | None:
        """``{model: uint8 [H, W, 3]}``: the active class's pictures from the last
        :meth:`class_pictures` (``None``: not computed)."""
        from .engine.class_pictures import decode_png

        saved = self.class_picture_records
        return None if saved is None else {m: decode_png(v["png"]) for m, v in saved.items()}

    # -- presentation ------------------------------------------------------------------------------
    def summary_text(self, top: int = 5) -> str:
        """A short plain-text summary: accuracies and the top clusters of the active class."""
        ms = self.models
        who = ", ".join(f"{m} = {self.model_names[m]}" for m in ms)
        acc = ", ".join(f"{m} {self.accuracy[m]:.3f}" for m in ms)
        lines = [f"IMACS comparison for class {self.target_class!r}: {who}",
                 f"accuracy on the evaluation set: {acc}",
                 f"{len(self.segments)} segments in {self.n_clusters} clusters, ordered by {self.order}:"]
        faith = self.faithfulness
        if not faith.empty:
            lines.insert(2, "faithfulness (gain over random order; 0 = chance): " + ", ".join(
                f"{m} {faith.at[m, 'faithfulness']:+.3f}" for m in ms if m in faith.index))
        if self.sanity:
            lines.insert(2, "sanity check (every layer randomised): " + ", ".join(
                f"{m} {'passed' if v['passed'] else 'FAILED'}" for m, v in self.sanity.items()))
        pics = self.class_picture_records
        if pics:
            lines.insert(2, "class pictures (log-odds of the best tile on blank inputs, blank "
                         "alone): " + ", ".join(f"{m} {v['best_log_odds']:+.2f} "
                                                f"({v['blank_log_odds']:+.2f})"
                                                for m, v in pics.items()))
        fmt = lambda v: "   n/a" if v is None else f"{v:+.3f}"  # noqa: E731
        for c in self.clusters[:top]:
            counts = ", ".join(f"{m} {c['count'][m]}" for m in ms)
            means = ", ".join(f"{m} {fmt(c['mean_attribution'][m])}" for m in ms)
            line = (f"  cluster {c['id']:>2}: {c['size']:>4} segments ({counts}); "
                    f"mean attribution {means}")
            rem = [f"{m} {c['removal'][m]:+.3f}" for m in ms if c["removal"][m] is not None]
            if rem:
                line += "; removal " + ", ".join(rem)
            if len(ms) > 2:
                con = c["consensus"]
                line += f"; positive for {con['n']} of {con['of']}" + (
                    f" ({', '.join(con['models'])})" if con["models"] else "")
            lines.append(line)
        for w in self.warnings:
            lines.append(f"  note: {w}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<ComparisonResult class={self.target_class!r} segments={len(self.segments)} "
                f"clusters={self.n_clusters} models={self.model_names}>")

    def widget(self, **kwargs):
        """An interactive :class:`~imacs_widget.widget.ImacsWidget` showing this result."""
        from .widget.widget import ImacsWidget

        return ImacsWidget(self, **kwargs)

    def to_html(self, path, **kwargs) -> Path:
        """Write a self-contained HTML report (no kernel, no network needed to view it)."""
        from .widget.report import write_html

        return write_html(self, path, **kwargs)

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the result to the folder ``path`` (Parquet + Zarr; conventionally ``.imacs``).

        See :mod:`imacs_widget.io.result_file` for the format; :func:`imacs_widget.load` reads it.
        """
        from .io.result_file import save

        return save(self, path)
