"""A comparison's settings: one frozen, validated object, public as ``imacs_widget.Settings``.

:class:`Settings` holds every option that shapes what a comparison computes from the models and
the images (sampling, segmentation, ranking, exclusion baseline, embedder, score, clustering,
seed, batching). Each option is one dataclass field whose default, meaning and choices are
written once, here (:func:`~imacs_widget.engine.options.option`); from them come

* the validation (each error names the field),
* :func:`~imacs_widget.compare`'s and :func:`~imacs_widget.compare_datasets`' keyword overrides
  (:func:`settings_from`), and the ``imacs compare`` options (``imacs_widget.cli``),
* the **cache key** of the per-image attribution work (:meth:`Settings.attribution_key`: only
  the options that change ranked segments or their Shapley values),
* the **params** stored with a result (:meth:`Settings.params`, which includes the exact
  :meth:`Settings.to_dict` record that :meth:`Settings.from_params` reads back),
* the ``Parameters`` section of :class:`Settings`' docstring.

Callables (a custom ranker, baseline or embedder) are keyed and recorded by what they are, not
by ``repr`` (which holds a memory address): see :func:`callable_fingerprint`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ImacsInputError
from ..models.adapter import SCORES, qualified_name
from .options import Options, document, option
from .values import callable_fingerprint, check_int, parse_grid

__all__ = ["Settings", "RunSettings", "settings_from", "check_int", "callable_fingerprint",
           "parse_grid", "parse_baseline", "SETTING_NAMES"]

SAMPLING = ("balanced", "all", "disagreements", "outcome")
SEGMENTATIONS = ("grid", "slic")
OUTCOMES = ("TP", "TN", "FP", "FN")
MAX_K = 16
"""Exact Shapley over ``k`` players costs ``2**k`` masked images per image."""


def parse_baseline(text: str):
    """``--baseline`` text: a named baseline (``blur``, ``mean``), one number, or ``R,G,B``.

    Parameters
    ----------
    text : str

    Returns
    -------
    str, float or (float, float, float)

    Raises
    ------
    ValueError
        When ``text`` is none of these.
    """
    from .masking import BASELINES

    if text in BASELINES:
        return text
    try:
        vals = [float(v) for v in str(text).split(",")]
    except ValueError:
        vals = []
    if len(vals) not in (1, 3):
        raise ValueError(f"expected {', '.join(BASELINES)}, a number or R,G,B; got {text!r}")
    return vals[0] if len(vals) == 1 else tuple(vals)


# -- the fields ----------------------------------------------------------------------------------

def _rankers() -> tuple[str, ...]:
    from .ranking import RANKERS

    return tuple(RANKERS)


def _embedders() -> tuple[str, ...]:
    from .embedding.embedders import EMBEDDERS

    return tuple(EMBEDDERS)


def _baselines() -> tuple[str, ...]:
    from .masking import BASELINES

    return tuple(BASELINES)


@dataclass(frozen=True, kw_only=True)
class Settings(Options):
    """The settings of one comparison: frozen, validated, with a JSON round trip.

    Build it with keyword arguments (each field below); ``replace(**changes)`` gives a changed
    copy, validated again; ``to_dict`` / ``from_dict`` and ``to_json`` / ``from_json`` (a
    callable is recorded by name and fingerprint, and must be passed again to restore it).

    Pass it as ``compare(..., settings=s)`` (or ``compare_datasets``); keyword overrides change
    single fields (``compare(..., settings=s, k=3)``). An invalid value raises
    :class:`~imacs_widget.errors.ImacsInputError` naming the field. What the run reads and
    writes (``class_names``, ``image_size``, ``cache_dir``, ``store``, ``executor``,
    ``progress``, models' names and preprocessing) are arguments of ``compare`` itself, not
    settings. A result keeps its settings: ``Settings.from_params(result.params)``.
    """

    sampling: str = option(
        "balanced", "Which images each model explains: a balanced confusion matrix (a quarter "
        "per TP/TN/FP/FN cell), all images, the images the models disagree on, or one outcome "
        "cell (see imacs_widget.engine.sampling).", kind="str", choices=SAMPLING)
    n_per_model: int = option(
        100, "Images sampled per model (per dataset with compare_datasets).", kind="int", low=1)
    outcome: str | None = option(
        None, "The confusion-matrix cell sampled with sampling='outcome'.", kind="str",
        choices=OUTCOMES)
    min_confidence: float = option(
        0.0, "With sampling='disagreements': the minimum |score_A - score_B| for the class.",
        kind="float")
    segmentation: str = option(
        "grid", "How images are cut into segments: a rows x cols grid (the paper's) or SLIC "
        "superpixels.", kind="str", choices=SEGMENTATIONS)
    grid: tuple[int, int] = option(
        (4, 4), "Rows x columns of the grid segmentation.", kind="(int, int)", parse=parse_grid,
        metavar="RxC")
    n_segments: int = option(16, "SLIC superpixels per image.", kind="int", low=1)
    k: int = option(
        5, "Segments kept per image (the top k of the ranking): the Shapley players; exact "
        f"Shapley costs 2**k masked images per image, so k is at most {MAX_K}.", kind="int",
        low=1, high=MAX_K)
    ranking: Any = option(
        "loo", "How segments are ranked before the top k are kept: leave-one-out (blur one "
        "segment at a time), the paper's XRAI over Guided IG, Integrated Gradients or Grad-CAM "
        "(summed per segment). In Python also a ranker callable (see imacs_widget.engine.ranking). "
        "Rankings compare log-odds whatever score is attributed; seed breaks exact ties.",
        kind="str or callable", choices=_rankers, registry="imacs_widget.engine.ranking.RANKERS",
        also="a ranker callable")
    blur_sigma: float | None = option(
        None, "Gaussian blur of excluded segments, in pixels (default: 1/16 of the images' "
        "shorter side, at least 2).", kind="float", parse=float)
    baseline: Any = option(
        "blur", "What an excluded segment shows: its blur (the paper's), the image's mean "
        "colour, or a constant colour in the images' pixel scale (0, or (124, 116, 104)). In "
        "Python also fn(images [n, H, W, 3]) -> same shape. The ranking, the Shapley game and "
        "the faithfulness curves all use it.", kind="str, colour or callable", choices=_baselines,
        registry="imacs_widget.engine.masking.BASELINES", parse=parse_baseline,
        metavar="blur|mean|R,G,B", also="one number or (R, G, B), or a callable")
    embedder: Any = option(
        "efficientnet_lite0", "The independent model that embeds segment crops for clustering: "
        "EfficientNet-Lite0 (offline) or the paper's InceptionV3 (downloads ImageNet weights). "
        "In Python also a callable or an Embedder.", kind="str or callable", choices=_embedders,
        registry="imacs_widget.engine.embedding.embedders.EMBEDDERS",
        also="a callable crops -> [n, D] or an Embedder")
    score: str = option(
        "probability", "What is attributed: the softmax probability of the class or its logit.",
        kind="str", choices=SCORES)
    n_clusters: int = option(
        8, "k-means clusters of the segments (re-cluster later with result.recluster).",
        kind="int", low=1)
    seed: int = option(
        0, "Seed of sampling, ranking ties and k-means: same inputs and seed give identical "
        "results.", kind="int")
    significance_level: float = option(
        0.05, "Level of a cluster's 'significant' (and of the findings): its Benjamini-Hochberg "
        "q-value (the false discovery rate over the clusters of a class) must be below it; in "
        "(0, 1). Stored in the result's params; it changes no attribution.", kind="float",
        metavar="LEVEL")
    batch_size: int = option(
        64, "Images per model call (masked images of several images share a batch).",
        kind="int", low=1)
    _ranker: Callable = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        from .ranking import get_ranker

        def put(name, value):
            object.__setattr__(self, name, value)

        for f in self.option_fields():
            meta = f.metadata
            value = getattr(self, f.name)
            if meta["kind"] == "int":
                put(f.name, check_int(value, f.name, meta["low"], meta["high"]))
            elif meta["kind"] == "str" and not (value is None and f.default is None):
                names = self.choices(f.name)
                if value not in names:
                    raise ImacsInputError(f.name, f"must be one of {names}, got {value!r}")
        if self.sampling == "outcome" and self.outcome is None:
            raise ImacsInputError("outcome", f"must be one of {OUTCOMES} with "
                                  "sampling='outcome', got None")
        try:
            put("min_confidence", float(self.min_confidence))
        except (TypeError, ValueError):
            raise ImacsInputError("min_confidence", f"must be a number, got "
                                  f"{self.min_confidence!r}") from None
        try:
            rows, cols = self.grid
        except (TypeError, ValueError):
            raise ImacsInputError("grid", f"must be (rows, cols), got {self.grid!r}") from None
        put("grid", (check_int(rows, "grid", 1), check_int(cols, "grid", 1)))
        level = self.significance_level
        if (isinstance(level, bool) or not isinstance(level, int | float | np.floating)
                or not 0 < float(level) < 1):
            raise ImacsInputError("significance_level", f"must be a number in (0, 1), got "
                                  f"{level!r}")
        put("significance_level", float(level))
        put("_ranker", get_ranker(self.ranking))
        if self.blur_sigma is not None:
            try:
                sigma = float(self.blur_sigma)
            except (TypeError, ValueError):
                sigma = -1.0
            if not sigma > 0:
                raise ImacsInputError("blur_sigma", f"must be a positive number of pixels, got "
                                      f"{self.blur_sigma!r}")
            put("blur_sigma", sigma)
        put("baseline", _checked_baseline(self.baseline))
        _check_embedder(self.embedder)

    # -- records -------------------------------------------------------------------------------
    @classmethod
    def from_params(cls, params: Mapping, **overrides) -> Settings:
        """The settings a result was computed with, from its ``params``.

        These are the settings the comparison ran with (a later ``result.recluster(n)``
        changes ``params["n_clusters"]``, not them). Results computed with this version keep
        the exact record (``params["settings"]``); for older ones the settings are rebuilt
        from the flat entries they stored (the blur
        sigma then is the one the run used; a custom ranker or callable baseline must be given
        in ``overrides``).

        Parameters
        ----------
        params : mapping
            ``result.params``.
        **overrides
            Fields to set instead of the stored ones.

        Returns
        -------
        Settings
        """
        if "settings" in params:
            return cls.from_dict(params["settings"], **overrides)
        record = {}
        for f in cls.option_fields():
            if f.name not in params:
                continue
            v = params[f.name]
            if f.name in ("ranking", "embedder") and v not in cls.choices(f.name):
                v = {"callable": v}  # a custom ranker or embedder, stored by name
            elif f.name == "baseline" and isinstance(v, str) and ":" in v:
                kind, _, rest = v.partition(":")
                v = {"callable": rest} if kind == "callable" else [float(c) for c in rest.split(",")]
            record[f.name] = v
        return cls.from_dict(record, **overrides)

    # -- derived -------------------------------------------------------------------------------
    @property
    def ranker(self) -> Callable:
        """The ranker callable (:func:`~imacs_widget.engine.ranking.get_ranker`)."""
        return self._ranker

    @property
    def ranking_name(self) -> str:
        """``"loo"`` / ``"xrai"`` / ..., or a custom ranker's ``ranker_name`` / qualified name."""
        if isinstance(self.ranking, str):
            return self.ranking
        return str(getattr(self.ranking, "ranker_name", None) or qualified_name(self.ranking))

    @property
    def embedder_name(self) -> str:
        """The embedder's registered name, an ``Embedder``'s ``name`` or a callable's name."""
        e = self.embedder
        if isinstance(e, str):
            return e
        return str(getattr(e, "name", None) or qualified_name(e))

    @property
    def segmentation_options(self) -> dict:
        """Keyword arguments of :func:`~imacs_widget.engine.segmentation.segment_images`."""
        return {"method": self.segmentation, "grid": self.grid, "n_segments": self.n_segments}

    def max_segments_per_image(self) -> int | None:
        """Upper bound of the segments one image contributes (``None`` for SLIC: unknown)."""
        if self.segmentation == "grid":
            return min(self.k, self.grid[0] * self.grid[1])
        return None

    def sigma(self, height: int, width: int) -> float:
        """The blur sigma in pixels: ``blur_sigma``, or the default for this image size."""
        from .masking import default_sigma

        return float(self.blur_sigma) if self.blur_sigma is not None else default_sigma(height, width)

    # -- keys and records --------------------------------------------------------------------------
    def attribution_key(self, target: int, sigma: float) -> str:
        """Cache key part of everything that changes one image's ranked segments and values.

        The ranker (built-in name, or :func:`callable_fingerprint` of a callable), ``k``, the
        blur, the class of interest, the attributed score, the segmentation and the seed (it
        breaks ranking ties). Sampling, clustering, the embedder and batching do not change a
        cached image's attribution.

        Parameters
        ----------
        target : int
            The class of interest.
        sigma : float
            The blur sigma in pixels (:meth:`sigma`).

        Returns
        -------
        str
        """
        rk = self.ranking if isinstance(self.ranking, str) else callable_fingerprint(self.ranking)
        from .masking import baseline_name

        parts = {"ranking": rk, "k": self.k, "sigma": round(float(sigma), 9), "target": int(target),
                 "score": self.score, "segmentation": self.segmentation,
                 "grid": list(self.grid) if self.segmentation == "grid" else None,
                 "n_segments": self.n_segments if self.segmentation == "slic" else None,
                 "seed": self.seed}
        if not (isinstance(self.baseline, str) and self.baseline == "blur"):  # blur: keys as before
            parts["baseline"] = baseline_name(self.baseline)
        return json.dumps(parts, sort_keys=True)

    def params(self, **extra) -> dict:
        """The JSON-ready record stored as ``result.params`` (plus ``extra`` entries).

        Flat entries per field (``ranking``, ``baseline`` and ``embedder`` as names; no
        ``batch_size``) for the readers of results, and ``"settings"``: the exact
        :meth:`to_dict` record, which :meth:`from_params` reads back.

        Parameters
        ----------
        **extra
            Entries added (or replaced, e.g. the ``blur_sigma`` the run used).

        Returns
        -------
        dict
        """
        from .masking import baseline_name

        d = {f.name: getattr(self, f.name) for f in self.option_fields()}
        d["grid"] = list(self.grid)
        d["ranking"] = self.ranking_name
        d["baseline"] = baseline_name(self.baseline)
        d["embedder"] = self.embedder_name
        d.pop("batch_size")
        d["settings"] = self.to_dict()
        d.update(extra)
        return d


RunSettings = Settings
"""The former name of :class:`Settings` (kept for existing imports)."""


SETTING_NAMES = Settings.names()
"""The names of :class:`Settings`' fields."""


def settings_from(settings, overrides: Mapping, where: str = "compare()",
                  known: Iterable[str] = ()) -> Settings:
    """The run's :class:`Settings`: ``settings`` (default: the defaults) with ``overrides``.

    Parameters
    ----------
    settings : Settings, mapping or None
        The settings (a :meth:`Settings.to_dict` record works too).
    overrides : mapping
        Field values that replace the settings'.
    where : str
        The function called (for an unknown name's message).
    known : iterable of str
        The function's other keywords, suggested for a misspelt name.

    Returns
    -------
    Settings
    """
    Settings.check_names(overrides, where, known)
    if settings is None:
        return Settings(**overrides)
    if isinstance(settings, Mapping):
        return Settings.from_dict(settings, **overrides)
    if not isinstance(settings, Settings):
        raise ImacsInputError("settings", f"must be an imacs_widget.Settings (or a dict of its "
                              f"fields), got {type(settings).__name__}")
    return settings.replace(**overrides) if overrides else settings


# -- checks and records of single fields ------------------------------------------------------------

def _checked_baseline(baseline):
    """A named baseline or callable as is; a colour as a float or a tuple of 3 floats."""
    from .masking import baseline_images

    if isinstance(baseline, str) or callable(baseline):
        if isinstance(baseline, str):  # an unknown name: the error lists the names
            baseline_images(np.zeros((1, 2, 2, 3), np.float32), baseline, 1.0)
        return baseline  # a callable is checked on the run's images
    baseline_images(np.zeros((1, 2, 2, 3), np.float32), baseline, 1.0)  # one or three numbers
    colour = np.asarray(baseline, dtype=np.float64).ravel()
    return float(colour[0]) if np.ndim(baseline) == 0 else tuple(float(v) for v in colour)


def _check_embedder(embedder) -> None:
    """A registered name, an ``Embedder`` or a callable (built when the run starts)."""
    if isinstance(embedder, str):
        names = Settings.choices("embedder")
        if embedder not in names:
            raise ImacsInputError("embedder", f"unknown embedder {embedder!r}; choose one of "
                                  f"{names} or pass a callable")
    elif not callable(embedder):
        raise ImacsInputError("embedder", f"expected a name or a callable, got "
                              f"{type(embedder).__name__}")


_EXAMPLES = """

    Examples
    --------
    >>> import imacs_widget as imacs
    >>> s = imacs.Settings(k=3, n_clusters=6)
    >>> s.replace(ranking="xrai").ranking
    'xrai'
    >>> imacs.Settings.from_json(s.to_json()) == s
    True
    >>> result = imacs.compare(model_a, model_b, images, labels, target_class="cat",
    ...                        settings=s, seed=1)  # doctest: +SKIP
    >>> imacs.Settings.from_params(result.params) == s.replace(seed=1)  # doctest: +SKIP
    True
    """

Settings.__doc__ = document(Settings, _EXAMPLES)
