"""The what-if test of a cluster, run on a result: does each model *use* what the cluster
shows? :func:`intervene` pastes the cluster's segments onto other classes' images and removes
them from the images that hold them, through the models' adapters; :class:`WhatIf` is the
result's ``intervene`` method and ``interventions`` property (mixed into
:class:`~imacs_widget.engine.trust.TrustChecks`). The pure NumPy stage is
:mod:`~imacs_widget.engine.intervention`; the record is kept in ``result.params`` (saved).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ImacsInputError
from .settings import check_int

if TYPE_CHECKING:  # pragma: no cover
    from ..result import ComparisonResult

from .run_inputs import check_inputs

__all__ = ["WhatIf", "intervene"]


def intervene(result: ComparisonResult, cluster: int, models: dict | None = None, images=None,
              labels=None, n_images: int = 32, n_crops: int | None = None,
              seed: int | None = None, progress=True) -> pd.DataFrame:
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

    if "datasets" in result.params:  # compare_datasets: both sides are one model
        raise ImacsInputError("result", "compares one model on two datasets "
                              f"({', '.join(result.model_names.values())}); the what-if test "
                              "compares models, so run it on a comparison of models")
    n_clusters = int(result.n_clusters)
    cluster = check_int(cluster, "cluster", 0, max(n_clusters - 1, 0))
    n_images = check_int(n_images, "n_images", 1, 10_000)
    n_crops = iv.N_CROPS if n_crops is None else check_int(n_crops, "n_crops", 1, 1_000)
    seed = result.seed if seed is None else check_int(seed, "seed", 0)
    seg = result.segments
    crop_rows = iv.representative_rows(seg, cluster, n_crops)  # raises for an empty cluster
    adapters, source, settings, y = check_inputs(result, models, images, labels, "intervene")
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


class WhatIf:
    """The what-if methods of :class:`~imacs_widget.result.ComparisonResult` (a mixin of
    :class:`~imacs_widget.engine.trust.TrustChecks`)."""

    def intervene(self, cluster: int, models: dict | None = None, images=None, labels=None,
                  n_images: int = 32, n_crops: int | None = None, seed: int | None = None,
                  progress=True) -> pd.DataFrame:
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
        progress : bool or callable
            ``True``: a progress bar; ``False``: none; a callable ``report(done, total)`` is
            called with the images scored so far instead (the widget shows them this way).

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
        return {c: {**copy.deepcopy(stored[k]), "cluster": c}  # a copy: params stay as saved
                for c, k in enumerate(keys) if k in stored}
