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
from .run_inputs import result_adapters, sanity_inputs
from .settings import check_int
from .whatif import WhatIf, intervene

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
    adapters, source, settings = sanity_inputs(result, models, images)
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


class TrustChecks(WhatIf):
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
