"""A comparison's settings: one frozen, validated object, public as ``imacs_widget.Settings``.

:class:`Settings` holds every option that shapes what a comparison computes from the models and
the images (sampling, segmentation, ranking, exclusion baseline, embedder, score, clustering,
seed, batching). Each option is one dataclass field whose default, meaning and choices are
written once, here (:func:`option`); from them come

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

import dataclasses
import difflib
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..errors import ImacsInputError
from ..models.adapter import SCORES, qualified_name

SAMPLING = ("balanced", "all", "disagreements", "outcome")
SEGMENTATIONS = ("grid", "slic")
OUTCOMES = ("TP", "TN", "FP", "FN")
MAX_K = 16
"""Exact Shapley over ``k`` players costs ``2**k`` masked images per image."""


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``low..high`` (inclusive), else an error naming ``name``.

    Parameters
    ----------
    value : int
        The value to check (``bool`` and non-integral numbers are refused).
    name : str
        The argument named in the error.
    low, high : int, optional
        Inclusive bounds.

    Returns
    -------
    int
    """
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            want = f"an integer in {low}..{high}"
        elif low == 1:
            want = "a positive integer"
        elif low is not None:
            want = f"an integer >= {low}"
        else:
            want = "an integer"
        raise ImacsInputError(name, f"must be {want}, got {value!r}")
    return int(value)


def callable_fingerprint(fn: Callable) -> str:
    """A stable identity of a callable: what it is, not where it lives in memory.

    A ``fingerprint`` string attribute wins. Otherwise: the qualified name, the function's
    bytecode, constants and defaults (so editing the function changes the key), and for a
    :func:`functools.partial` its bound arguments.

    Parameters
    ----------
    fn : callable

    Returns
    -------
    str
        16 hex digits (or the callable's own ``fingerprint``).
    """
    fp = getattr(fn, "fingerprint", None)
    if isinstance(fp, str):
        return fp
    h = hashlib.sha256(qualified_name(fn).encode())
    if isinstance(fn, functools.partial):
        h.update(callable_fingerprint(fn.func).encode())
        h.update(repr(fn.args).encode())
        h.update(repr(sorted(fn.keywords.items())).encode())
        return h.hexdigest()[:16]
    target = fn if hasattr(fn, "__code__") else type(fn).__call__
    code = getattr(target, "__code__", None)
    if code is not None:
        h.update(code.co_code)
        h.update(repr(code.co_consts).encode())
        h.update(repr(getattr(target, "__defaults__", None)).encode())
        h.update(repr(getattr(target, "__kwdefaults__", None)).encode())
    return h.hexdigest()[:16]


# -- parsing option text (the CLI) -----------------------------------------------------------------

def parse_grid(text: str) -> tuple[int, int]:
    """``"4x4"`` / ``"4×3"`` / ``"4"`` as ``(rows, cols)`` (a ``ValueError`` otherwise)."""
    t = str(text).lower().replace("×", "x")
    parts = t.split("x") if "x" in t else [t, t]
    try:
        rows, cols = (int(v) for v in parts)
    except ValueError:
        raise ValueError(f"expected RxC or N, got {text!r}") from None
    return rows, cols


def parse_baseline(text: str):
    """``blur`` / ``mean`` (or another named baseline), one number, or ``R,G,B``."""
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


def option(default, doc: str, *, kind: str, choices=None, low: int | None = None,
           high: int | None = None, parse: Callable[[str], Any] | None = None,
           metavar: str | None = None, registry: str | None = None, also: str | None = None):
    """A :class:`Settings` field: its default, meaning and choices, written once.

    Parameters
    ----------
    default
        The default value.
    doc : str
        What the option means (the first sentence is the CLI help).
    kind : str
        The type as the docstring writes it (``"int"``, ``"str or callable"``, ...).
    choices : tuple or callable, optional
        The names the option takes, or a function returning them (a registry, read when asked).
    low, high : int, optional
        The bounds of an integer option.
    parse : callable, optional
        ``text -> value`` for the command line (default: the default's type).
    metavar : str, optional
        The CLI placeholder of the value.
    registry : str, optional
        Where the choices are registered (named in the docstring).
    also : str, optional
        What else the option accepts besides ``choices`` (named in the docstring).
    """
    return field(default=default, metadata={
        "doc": doc, "kind": kind, "choices": choices, "low": low, "high": high, "parse": parse,
        "metavar": metavar, "registry": registry, "also": also})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The settings of one comparison: frozen, validated, JSON round trip.

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
    batch_size: int = option(
        64, "Images per model call (masked images of several images share a batch).",
        kind="int", low=1)
    _ranker: Callable = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        from .ranking import get_ranker

        def put(name, value):
            object.__setattr__(self, name, value)

        for f in setting_fields():
            meta = f.metadata
            value = getattr(self, f.name)
            if meta["kind"] == "int":
                put(f.name, check_int(value, f.name, meta["low"], meta["high"]))
            elif meta["kind"] == "str" and not (value is None and f.default is None):
                names = choices(f.name)
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

    # -- building ------------------------------------------------------------------------------
    def replace(self, **changes) -> Settings:
        """A copy with some fields changed, validated again.

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        Settings

        Raises
        ------
        ImacsInputError
            Naming an unknown field (with the closest field name) or an invalid value.
        """
        check_names(changes, "Settings.replace()")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The settings as a JSON-ready ``{field: value}`` record.

        A grid or colour is a list; a callable (a custom ranker, baseline or embedder) is
        recorded as ``{"callable": qualified name, "fingerprint": ...}`` (see
        :func:`callable_fingerprint`), which :meth:`from_dict` cannot turn back into code: pass
        the callable again there.

        Returns
        -------
        dict
        """
        return {f.name: _record(getattr(self, f.name)) for f in setting_fields()}

    @classmethod
    def from_dict(cls, record: Mapping, **overrides) -> Settings:
        """Settings from a :meth:`to_dict` record (fields it lacks take their defaults).

        Parameters
        ----------
        record : mapping
            ``{field: value}``, e.g. ``json.load``-ed or ``result.params["settings"]``.
        **overrides
            Fields to set instead of the record's, e.g. the callable a record only names.

        Returns
        -------
        Settings

        Raises
        ------
        ImacsInputError
            Naming an unknown field, an invalid value, or a callable the record only describes
            and ``overrides`` does not give.
        """
        if not isinstance(record, Mapping):
            raise ImacsInputError("record", f"must be a mapping of settings fields, got "
                                  f"{type(record).__name__}")
        values = {**record, **overrides}
        check_names(values, "Settings.from_dict()")
        for name, v in values.items():
            if isinstance(v, Mapping) and "callable" in v:
                raise ImacsInputError(name, f"was the callable {v['callable']!r} (fingerprint "
                                      f"{v.get('fingerprint')}), which a settings record cannot "
                                      f"restore; pass it again: Settings.from_dict(record, "
                                      f"{name}=...)")
        return cls(**values)

    def to_json(self, **dumps_options) -> str:
        """:meth:`to_dict` as JSON text.

        Parameters
        ----------
        **dumps_options
            Passed to :func:`json.dumps` (e.g. ``indent=2``).

        Returns
        -------
        str
        """
        return json.dumps(self.to_dict(), **dumps_options)

    @classmethod
    def from_json(cls, text: str, **overrides) -> Settings:
        """Settings from :meth:`to_json` text (see :meth:`from_dict`).

        Parameters
        ----------
        text : str
            JSON of a settings record.
        **overrides
            Fields to set instead of the record's.

        Returns
        -------
        Settings
        """
        try:
            record = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ImacsInputError("text", f"is not JSON ({exc})") from None
        return cls.from_dict(record, **overrides)

    @classmethod
    def from_params(cls, params: Mapping, **overrides) -> Settings:
        """The settings a result was computed with, from its ``params``.

        These are the settings the comparison ran with (a later ``result.recluster(n)``
        changes ``params["n_clusters"]``, not them). Results computed with this version keep the
        exact record (``params["settings"]``);
        for older ones the settings are rebuilt from the flat entries they stored (the blur
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
        for f in setting_fields():
            if f.name not in params:
                continue
            v = params[f.name]
            if f.name in ("ranking", "embedder") and v not in choices(f.name):
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

        d = {f.name: getattr(self, f.name) for f in setting_fields()}
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


def setting_fields() -> tuple[dataclasses.Field, ...]:
    """The fields of :class:`Settings` (in declaration order).

    Returns
    -------
    tuple of dataclasses.Field
    """
    return tuple(f for f in fields(Settings) if f.init)


SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.init)
"""The names of :class:`Settings`' fields."""


def choices(name: str) -> tuple | None:
    """The names field ``name`` takes (a registry's current names), or ``None``.

    Parameters
    ----------
    name : str
        A field of :class:`Settings`.

    Returns
    -------
    tuple of str or None
    """
    c = Settings.__dataclass_fields__[name].metadata["choices"]
    return tuple(c()) if callable(c) else c


def check_names(given: Iterable[str], where: str, known: Iterable[str] = ()) -> None:
    """Raise an error naming the first of ``given`` that is not a settings field (nor in
    ``known``), with the closest known name.

    Parameters
    ----------
    given : iterable of str
        The names to check.
    where : str
        The function they were given to (for the message).
    known : iterable of str
        Other names ``where`` takes (suggested too, e.g. ``compare``'s own keywords).
    """
    valid = SETTING_NAMES + tuple(known)
    for name in given:
        if name not in valid:
            close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ImacsInputError(str(name), f"is not an option of {where}; {hint}the settings "
                                  f"are {', '.join(SETTING_NAMES)} (see imacs_widget.Settings)")


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
    check_names(overrides, where, known)
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
        names = choices("embedder")
        if embedder not in names:
            raise ImacsInputError("embedder", f"unknown embedder {embedder!r}; choose one of "
                                  f"{names} or pass a callable")
    elif not callable(embedder):
        raise ImacsInputError("embedder", f"expected a name or a callable, got "
                              f"{type(embedder).__name__}")


def _record(value):
    """A field's value as JSON: tuples as lists, callables described (not restorable)."""
    if isinstance(value, tuple):
        return list(value)
    if callable(value):
        fn = getattr(value, "fn", None)  # an Embedder: its function and crop size say what it is
        if fn is not None and hasattr(value, "input_size"):
            fp = hashlib.sha256(f"{callable_fingerprint(fn)}:{value.input_size}".encode())
            return {"callable": str(getattr(value, "name", qualified_name(fn))),
                    "fingerprint": fp.hexdigest()[:16]}
        return {"callable": qualified_name(value), "fingerprint": callable_fingerprint(value)}
    return value


def _text(value) -> str:
    """A default as the docs and the CLI write it."""
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}x{value[1]}"
    return repr(value)


def _docstring() -> str:
    """:class:`Settings`' docstring: its summary and one ``Parameters`` entry per field."""
    lines = [Settings.__doc__.rstrip(), "", "    Parameters", "    ----------"]
    for f in setting_fields():
        meta = f.metadata
        c = meta["choices"]
        kind = meta["kind"]
        if isinstance(c, tuple):
            kind = "{" + ", ".join(repr(v) for v in c) + "}"
        if f.default is None:
            kind += " or None"
        lines.append(f"    {f.name} : {kind}, default {f.default!r}")
        text = meta["doc"]
        if callable(c):
            text += f" Choices: a name in ``{meta['registry']}``, or {meta['also']}."
        words, line = text.split(), "       "
        for w in words:
            if len(line) + len(w) > 95:
                lines.append(line)
                line = "       "
            line += " " + w
        lines.append(line)
    return "\n".join(lines) + _EXAMPLES


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


Settings.__doc__ = _docstring()
