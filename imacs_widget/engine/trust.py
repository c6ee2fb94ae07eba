"""The trust checks of a comparison, run on a result: the cascading model-randomisation
sanity check (:func:`sanity_check`), each model's input-agnostic picture of the class
(:func:`class_pictures`) and the what-if test of a cluster (:func:`intervene`).

:meth:`ComparisonResult.sanity_check <imacs_widget.result.ComparisonResult.sanity_check>` and
:meth:`ComparisonResult.class_pictures <imacs_widget.result.ComparisonResult.class_pictures>`
delegate here. This module reads a result through its public attributes only and does not
import :mod:`imacs_widget.result`; the stages themselves are
:mod:`~imacs_widget.engine.sanity` and :mod:`~imacs_widget.engine.class_pictures`. Both keep
what they found in ``result.params`` (saved with the result; the widget and the report show it).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ImacsInputError
from .settings import check_int

if TYPE_CHECKING:  # pragma: no cover
    from ..result import ComparisonResult

__all__ = ["TrustChecks", "class_pictures", "intervene", "result_adapters", "sanity_check"]


def sanity_check(result: ComparisonResult, models: dict | None = None, images=None,
                 n_images: int = 16, seed: int | None = None, max_steps: int | None = None,
                 progress: bool = True) -> pd.DataFrame:
    """Does each model's attribution survive randomising the model? (The active class.)

    See :meth:`ComparisonResult.sanity_check
    <imacs_widget.result.ComparisonResult.sanity_check>`, which documents the parameters and
    the returned table; ``result`` is the comparison checked. The verdicts are stored in
    ``result.params["sanity"][result.target_class]``.
    """
    from . import sanity
    from .progress import stage
    from .segmentation import segment_images

    n_images = check_int(n_images, "n_images", 1, 10_000)
    seed = result.seed if seed is None else int(seed)
    steps = sanity.MAX_STEPS if max_steps is None else check_int(max_steps, "max_steps", 1, 100)
    adapters, source, settings = _sanity_inputs(result, models, images)
    sigma = float(result.params["blur_sigma"])
    target = result.class_names.index(result.target_class)
    seg = result.segments
    tables = []
    with stage("sanity check " + "+".join(result.models), len(result.models), progress,
               unit="model") as tick:
        for m in result.models:
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
    result.params.setdefault("sanity", {})[result.target_class] = {
        m: sanity.verdict(table[table["model"] == m]) for m in table["model"].unique()}
    return table


def intervene(result: ComparisonResult, cluster: int, models: dict | None = None, images=None,
              labels=None, n_images: int = 32, n_crops: int | None = None,
              seed: int | None = None, progress: bool = True) -> pd.DataFrame:
    """The what-if test of one cluster of the active class: paste its segments, remove them.

    See :meth:`TrustChecks.intervene`, which documents the parameters and the returned table;
    ``result`` is the comparison. The record is stored in
    ``result.params["interventions"][result.target_class][key]`` under the cluster's
    :func:`~imacs_widget.engine.cluster_keys.cluster_key`.
    """
    from . import intervention as iv
    from .cluster_keys import cluster_key
    from .masking import baseline_images, evaluate_masked, n_segments
    from .progress import stage
    from .segmentation import segment_images

    n_clusters = int(result.n_clusters)
    cluster = check_int(cluster, "cluster", 0, max(n_clusters - 1, 0))
    n_images = check_int(n_images, "n_images", 1, 10_000)
    n_crops = iv.N_CROPS if n_crops is None else check_int(n_crops, "n_crops", 1, 1_000)
    seed = result.seed if seed is None else check_int(seed, "seed", 0)
    seg = result.segments
    crop_rows = iv.representative_rows(seg, cluster, n_crops)  # raises for an empty cluster
    adapters, source, settings, y = _check_inputs(result, models, images, labels, "intervene")
    target = result.class_names.index(result.target_class)
    r_pick, r_paste, r_plan = (np.random.default_rng(s)
                               for s in np.random.SeedSequence([seed, 22]).spawn(3))
    # removal: every image holding the cluster's segments (up to n_images), each with all of
    # the cluster's segments of that image (whichever model sampled them) excluded
    rows = seg[seg["cluster"].to_numpy() == cluster]
    held = np.unique(rows["image_index"].to_numpy(np.int64))
    rem_idx = np.sort(r_pick.choice(held, min(n_images, len(held)), replace=False))
    # pasting: images of other classes (true label known and not the class of interest)
    pool = np.flatnonzero((y >= 0) & (y != target))
    if not len(pool):
        raise ImacsInputError("labels", f"no evaluation image of a class other than "
                              f"{result.target_class!r}: nothing to paste onto (give the "
                              "images' labels, labels=[...])")
    paste_idx = np.sort(r_paste.choice(pool, min(n_images, len(pool)), replace=False))
    crop_imgs = np.unique(seg["image_index"].to_numpy(np.int64)[crop_rows])
    need = np.unique(np.concatenate([rem_idx, crop_imgs]))
    x_need = _read(source, need)
    lmaps = segment_images(x_need, **settings.segmentation_options)
    at = {int(i): j for j, i in enumerate(need)}
    crops = [iv.cut_segment(x_need[at[int(i)]], lmaps[at[int(i)]], int(s))
             for i, s in zip(seg["image_index"].to_numpy(np.int64)[crop_rows],
                             seg["segment_index"].to_numpy(np.int64)[crop_rows], strict=True)]
    x_other = _read(source, paste_idx)
    plan = iv.paste_plan(len(paste_idx), [c[1].shape for c in crops], x_other.shape[1:3], r_plan)
    x_pasted = iv.paste(x_other, crops, plan)
    x_rem = x_need[[at[int(i)] for i in rem_idx]]
    l_rem = [lmaps[at[int(i)]] for i in rem_idx]
    img_of = rows["image_index"].to_numpy(np.int64)
    sid = rows["segment_index"].to_numpy(np.int64)
    excluded = [np.unique(sid[img_of == i]) for i in rem_idx]
    jobs = _removal_jobs(excluded, n_segments(l_rem))
    sigma = float(result.params.get("blur_sigma", settings.sigma(*x_rem.shape[1:3]))) \
        if len(x_rem) else 1.0
    blurred = baseline_images(x_rem, settings.baseline, sigma) if len(x_rem) else x_rem
    table = []
    total = len(result.models) * (2 * len(paste_idx) + len(jobs))
    with stage(f"what-if test cluster {cluster}", total, progress, unit="img") as tick:
        for m in result.models:
            ad = adapters[m]
            before = ad.raw(x_other)
            tick(len(x_other))
            after = ad.raw(x_pasted)
            tick(len(x_pasted))
            row = {"model": m, "name": str(result.model_names[m])}
            row.update(iv.paste_effect(before.argmax(1), after.argmax(1),
                                       ad.convert(before)[:, target],
                                       ad.convert(after)[:, target], target))
            if len(jobs):
                raw = evaluate_masked(ad, x_rem, blurred, l_rem, jobs, settings.batch_size,
                                      progress=tick, kind="raw")
                sc = ad.convert(raw)[:, target]
                pred = raw.argmax(1)
                row.update(iv.remove_effect(pred[0::2], pred[1::2], sc[0::2], sc[1::2], target))
            else:  # pragma: no cover - a non-empty cluster holds at least one image
                row.update(iv.remove_effect(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0),
                                            target))
            table.append(row)
    frame = pd.DataFrame(table, columns=list(iv.COLUMNS))
    key = cluster_key(seg["cluster"].to_numpy(), cluster)
    record = {"cluster": int(cluster), "key": key, "rows": [iv.json_row(r) for r in table],
              "n_images": int(n_images), "seed": int(seed), "n_crops": int(n_crops),
              "score": str(result.params.get("score", "probability")),
              "images_pasted": int(len(paste_idx)), "images_removed": int(len(rem_idx))}
    result.params.setdefault("interventions", {}).setdefault(result.target_class, {})[key] = \
        record
    return frame


def _removal_jobs(excluded: list, n_seg: int):
    """Two masked-image jobs per image: nothing excluded (before), ``excluded[j]`` (after)."""
    from ..models.masked import MaskedJobs

    image = np.repeat(np.arange(len(excluded)), 2)
    sets = [s for ex in excluded for s in ([], ex)]
    return MaskedJobs.from_sets(image, sets, n_seg)


def _read(source, idx: np.ndarray) -> np.ndarray:
    """``float32 [n, H, W, 3]`` images ``idx`` of ``source``; an unreadable one is an error."""
    if not len(idx):
        h, w = source.image_shape
        return np.zeros((0, h, w, 3), np.float32)
    x, ok = source.read(idx)
    if not np.all(ok):
        raise ImacsInputError("images", f"could not read images {np.asarray(idx)[~ok][:3]}")
    return np.asarray(x, np.float32)


def class_pictures(result: ComparisonResult, models: dict | None = None,
                   n_starts: int | None = None, steps: int | None = None, colour: bool = False,
                   seed: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Each model's input-agnostic picture of the active class (no evaluation image used).

    See :meth:`ComparisonResult.class_pictures
    <imacs_widget.result.ComparisonResult.class_pictures>`, which documents the parameters and
    the returned table; ``result`` is the comparison. The pictures are stored in
    ``result.params["class_pictures"][result.target_class]``.
    """
    from . import class_pictures as cp
    from .progress import stage

    adapters = result_adapters(result, models, "class_pictures")
    seed = result.seed if seed is None else check_int(seed, "seed", 0)
    kw = dict(colour=bool(colour), seed=seed,
              n_starts=cp.N_STARTS if n_starts is None else check_int(n_starts, "n_starts", 1, 256),
              steps=cp.STEPS if steps is None else check_int(steps, "steps", 0, 100_000))
    target = result.class_names.index(result.target_class)
    total = len(result.models) * kw["n_starts"] * cp.N_INPUTS * kw["steps"]
    rows, saved = [], {}
    with stage("class pictures " + "+".join(result.models), total, progress,
               unit="grad") as tick:  # gradient evaluations, not images
        for m in result.models:
            pic = cp.class_picture(adapters[m], target, tuple(result.image_shape), progress=tick,
                                   **kw)
            saved[m] = pic.to_json()
            rows.append({"model": m, "name": result.model_names[m], "picture": pic.picture,
                         **{k: saved[m][k] for k in ("best_log_odds", "mean_log_odds",
                                                     "blank_log_odds", "tile", "n_tiles",
                                                     "n_evals")}})
    result.params.setdefault("class_pictures", {})[result.target_class] = saved
    return pd.DataFrame(rows)


class TrustChecks:
    """The trust-check methods of :class:`~imacs_widget.result.ComparisonResult` (a mixin:
    it uses the result's ``params``, ``target_class`` and the attributes the functions above
    read)."""

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
        the widget and the report show them; :attr:`sanity_verdicts` reads them).

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

        Raises
        ------
        ImacsInputError
            A loaded result without ``models`` / ``images``, an unknown or missing model, too
            few images, or a bad ``n_images`` / ``max_steps``.
        """
        return sanity_check(self, models, images, n_images=n_images, seed=seed,
                            max_steps=max_steps, progress=progress)

    @property
    def sanity_verdicts(self) -> dict | None:
        """``{model: {"spearman", "layers", "passed"}}`` of the last :meth:`sanity_check` of
        the active class (``None``: not run)."""
        return self.params.get("sanity", {}).get(self.target_class)

    @property
    def sanity(self) -> dict | None:
        """Deprecated name of :attr:`sanity_verdicts`."""
        warnings.warn("result.sanity is deprecated; use result.sanity_verdicts",
                      DeprecationWarning, stacklevel=2)
        return self.sanity_verdicts

    def intervene(self, cluster: int, models: dict | None = None, images=None, labels=None,
                  n_images: int = 32, n_crops: int | None = None, seed: int | None = None,
                  progress: bool = True) -> pd.DataFrame:
        """What-if test of a cluster of the active class: does each model *use* it?

        Attribution says where a model's score comes from; this test changes the images and
        watches the predictions (see :mod:`~imacs_widget.engine.intervention`):

        * **Paste.** The cluster's ``n_crops`` most representative segments (closest to its
          centroid, across models) are cut at full resolution from their images (the
          segment's own pixels, at its size; the images are re-read and re-segmented with
          the run's settings) and pasted, one per image and at a random position, onto
          ``n_images`` evaluation images whose true class is *not* the class of interest.
          ``flip_to_target`` is the share of those images the model did not predict as the
          class before the paste and does after; ``n_paste`` is that denominator;
          ``paste_score_change`` the mean change of the model's score for the class over
          every pasted image.
        * **Remove.** On up to ``n_images`` of the images that hold the cluster's segments,
          every segment of the cluster in that image (whichever model sampled it) takes the
          run's baseline (the blur), composed by each model's adapter as in the attribution.
          ``flip_from_target`` is the share of the images predicted as the class before that
          are not after; ``n_remove`` that denominator; ``remove_score_change`` the mean
          change of the class's score over every image.

        How to read it: a model that relies on the cluster's pattern switches to the class when
        it is pasted (high ``flip_to_target``, positive ``paste_score_change``) and loses the
        class when it is removed (high ``flip_from_target``, negative
        ``remove_score_change``); a model that does not use it hardly moves. Compare the models
        row by row: intervals that do not overlap are a difference beyond chance. The rates
        come with their 95 % Wilson intervals; a rate whose denominator is empty (e.g. no image
        predicted as the class before removal) is NaN and its interval ``None``: there was
        nothing that could flip, which is not a rate of 0. Pasting a segment moves it out of
        its context and onto a random place, so a low ``flip_to_target`` alone does not prove
        a model ignores the pattern; a cluster of the class's own object may need its context.

        The record is kept in ``params["interventions"]`` under the cluster's key (saved with
        the result); :attr:`interventions` reads it while the clustering holds the same
        cluster. The same ``seed`` gives the same table.

        Parameters
        ----------
        cluster : int
            Cluster id of the active class (``result.clusters[i]["id"]``).
        models : dict, optional
            ``{model key or name: model}``; needed for a loaded result (models are not saved).
            Right after :func:`~imacs_widget.compare` the compared models are used.
        images : optional
            The evaluation images, as given to ``compare``; needed for a loaded result.
        labels : array-like, optional
            The images' true classes (indices or names), to find images of other classes.
            Default: the compare call's, else the images' own (a folder, a dataset), else
            those of the images the result sampled.
        n_images : int
            Images pasted onto, and images the cluster's segments are removed from (each at
            most this many; seeded choice).
        n_crops : int, optional
            Segments pasted (default :data:`~imacs_widget.engine.intervention.N_CROPS`).
        seed : int, optional
            Seeds which images, which crop goes where (default: the result's seed).
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            One row per model: ``model``, ``name``, ``flip_to_target``,
            ``flip_to_target_ci`` (``[low, high]``), ``n_paste``, ``paste_score_change``,
            ``flip_from_target``, ``flip_from_target_ci``, ``n_remove``,
            ``remove_score_change``. Rates in 0..1; scores are the run's ``score`` (the class
            probability by default).

        Raises
        ------
        ImacsInputError
            ``cluster`` out of range or empty; a loaded result without ``models`` /
            ``images``; no image of another class (``labels``); unreadable images; a bad
            ``n_images`` / ``n_crops`` / ``seed``.
        """
        return intervene(self, cluster, models, images, labels=labels, n_images=n_images,
                         n_crops=n_crops, seed=seed, progress=progress)

    @property
    def interventions(self) -> dict:
        """``{cluster id: record}``: the what-if tests (:meth:`intervene`) of the active class
        whose cluster the current clustering still holds (same segments), keyed by its current
        id. A record is ``{"cluster", "key", "rows" (one dict per model, the table's
        columns, NaN as ``None``), "n_images", "seed", "n_crops", "score", "images_pasted",
        "images_removed"}``; ``{}`` when none applies."""
        from .cluster_keys import cluster_keys

        stored = self.params.get("interventions", {}).get(self.target_class) or {}
        if not stored:
            return {}
        keys = cluster_keys(self.segments["cluster"].to_numpy(), self.n_clusters)
        return {c: {**stored[k], "cluster": c} for c, k in enumerate(keys) if k in stored}

    def class_pictures(self, models: dict | None = None, n_starts: int | None = None,
                       steps: int | None = None, colour: bool = False, seed: int | None = None,
                       progress: bool = True) -> pd.DataFrame:
        """Each model's input-agnostic picture of the active class (no evaluation image used).

        Tiles shared by many blank inputs are nudged along each model's gradient towards the
        class and shown as a mosaic, best first (see :mod:`~imacs_widget.engine.class_pictures`).
        What a model's picture shows is what raises its score for the class anywhere on any
        input: a backdoored model's picture shows its trigger. The pictures are kept in
        ``params["class_pictures"]`` (saved; the widget header and the report show them side
        by side; :attr:`class_picture_images` and :attr:`class_picture_records` read them).

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

        Raises
        ------
        ImacsInputError
            A loaded result without ``models``, an unknown or missing model, or a bad
            ``n_starts`` / ``steps`` / ``seed``.
        """
        return class_pictures(self, models, n_starts=n_starts, steps=steps, colour=colour,
                              seed=seed, progress=progress)

    @property
    def class_picture_records(self) -> dict | None:
        """``{model: {"png", "tile", "best_log_odds", "mean_log_odds", "blank_log_odds",
        "n_tiles", "n_evals", "params"}}``: what the last :meth:`class_pictures` of the active
        class saved, the picture as a base64 PNG (``None``: not computed)."""
        return self.params.get("class_pictures", {}).get(self.target_class)

    @property
    def class_picture_images(self) -> dict | None:
        """``{model: uint8 [H, W, 3]}``: the active class's pictures from the last
        :meth:`class_pictures` (``None``: not computed)."""
        from .class_pictures import decode_png

        saved = self.class_picture_records
        return None if saved is None else {m: decode_png(v["png"]) for m, v in saved.items()}

    @property
    def pictures(self) -> dict | None:
        """Deprecated name of :attr:`class_picture_images`."""
        warnings.warn("result.pictures is deprecated; use result.class_picture_images",
                      DeprecationWarning, stacklevel=2)
        return self.class_picture_images


def result_adapters(result: ComparisonResult, models: dict | None, method: str) -> dict:
    """``{model key: ModelAdapter}`` for a check on ``result``.

    Parameters
    ----------
    result : ComparisonResult
        The comparison.
    models : dict or None
        ``{model key or name: model or ModelAdapter}``, every model of the result; ``None``
        takes the compared models (only right after :func:`~imacs_widget.compare`).
    method : str
        The calling method's name, for the error message.

    Returns
    -------
    dict
        One adapter per model key, with the result's pixel range.

    Raises
    ------
    ImacsInputError
        ``models`` missing for a loaded result, naming an unknown model, or incomplete.
    """
    from ..models.adapter import ModelAdapter

    if models is None:
        if result.run_inputs:
            return result.run_inputs["adapters"]
        raise ImacsInputError("models", f"a loaded result needs the models it compared: "
                              f"{method}(models={{...}})")
    keys = {**{m: m for m in result.models}, **{n: m for m, n in result.model_names.items()}}
    adapters = {}
    for name, model in dict(models).items():
        if name not in keys:
            raise ImacsInputError("models", f"{name!r} is none of this result's models "
                                  f"{list(result.model_names.values())} (or keys "
                                  f"{list(result.models)})")
        adapters[keys[name]] = model if isinstance(model, ModelAdapter) else ModelAdapter(
            model, name=str(name), score=result.params.get("score", "probability"))
    missing = [m for m in result.models if m not in adapters]
    if missing:
        raise ImacsInputError("models", f"give every model of the result; missing {missing}")
    for ad in adapters.values():
        ad.pixel_range = tuple(result.params.get("pixel_range", (0.0, 255.0)))
    return adapters


def _check_inputs(result: ComparisonResult, models, images, labels, method: str):
    """The adapters, data source, settings and ``int64`` labels (``-1``: unknown) a check
    that reads images works with: the :func:`~imacs_widget.compare` call's where not given,
    else the ones given (a loaded result needs ``models`` and ``images``).

    Labels: ``labels`` if given, else the compare call's (its own images), else the images'
    own (a folder, a dataset), else those of the images the result sampled (its segments).
    """
    from .validation import as_labels

    run = result.run_inputs or {}
    for name, value in (("models", models), ("images", images)):
        if value is None and not run:
            raise ImacsInputError(name, f"a loaded result needs the models and the images it "
                                  f"compared: {method}(cluster, models={{...}}, images=...)")
    adapters = run["adapters"] if models is None else result_adapters(result, models, method)
    if images is None:
        source, settings = run["source"], run["settings"]
    else:
        source = _source_like(result, images)
        settings = run.get("settings") or _loaded_settings(result, method)
    n = len(source)
    if labels is not None:
        y = as_labels(labels, n, result.class_names, "labels")
    elif images is None and run.get("labels") is not None:
        y = np.asarray(run["labels"], np.int64)
    elif source.labels is not None:
        y = as_labels(source.labels, n, result.class_names, "labels")
    else:  # the sampled images' labels (every class of interest's segments)
        y = np.full(n, -1, np.int64)
        for cc in result.per_class.values():
            idx = cc.segments["image_index"].to_numpy(np.int64)
            if "label" in cc.segments:
                y[idx[idx < n]] = cc.segments["label"].to_numpy(np.int64)[idx < n]
    return adapters, source, settings, y


def _source_like(result: ComparisonResult, images):
    """``images`` as a source at the result's image size, checked to hold its images."""
    from ..data.sources import as_image_source

    source = as_image_source(images)
    if tuple(source.image_shape) != tuple(result.image_shape):
        source = as_image_source(images, image_size=tuple(result.image_shape))
    last = int(result.segments["image_index"].max())
    if len(source) <= last:
        raise ImacsInputError("images", f"has {len(source)} images but the result refers to "
                              f"image {last}")
    return source


def _loaded_settings(result: ComparisonResult, method: str):
    """The segmentation and baseline settings of a loaded result (from its ``params``)."""
    from .settings import Settings

    p = result.params
    base = str(p.get("baseline", "blur"))
    if base.startswith("callable:"):
        raise ImacsInputError("baseline", "this loaded result used a callable baseline, "
                              f"which is not saved; run {method}() right after compare()")
    if base.startswith("colour:"):
        base = tuple(float(v) for v in base.split(":", 1)[1].split(","))
    return Settings(segmentation=p.get("segmentation", "grid"),
                    grid=tuple(p.get("grid", (4, 4))), baseline=base,
                    n_segments=int(p.get("n_segments", 16)), seed=result.seed)


def _sanity_inputs(result: ComparisonResult, models, images):
    """The adapters, data source and settings :func:`sanity_check` works with."""
    run = result.run_inputs or {}
    if models is None and images is None and run:
        return run["adapters"], run["source"], run["settings"]
    if models is None or images is None:
        missing = "models" if models is None else "images"
        raise ImacsInputError(missing, "a loaded result needs the models and the images "
                              "it compared: sanity_check(models={...}, images=...)")
    adapters = result_adapters(result, models, "sanity_check")
    source = _source_like(result, images)
    return adapters, source, _loaded_settings(result, "sanity_check")
