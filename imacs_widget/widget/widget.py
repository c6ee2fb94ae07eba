"""``ImacsWidget``: the Jupyter front end of a :class:`~imacs_widget.result.ComparisonResult`.

Thin by design: traits, validation and command handlers (:mod:`.commands`) only. The views (cluster histogram,
concept clusters, cluster confusion matrices, source preview, location heatmaps; paper §5 and
§7) are drawn by ``js/src`` from the payload built by :mod:`imacs_widget.widget.payload`;
ordering and filtering of clusters happen in the browser (with the definitions of
:mod:`imacs_widget.engine.summary`) so that they also work in a static report.

One pattern for everything the front end does:

* **State is traits.** ``order``, ``inner_order``, ``outcomes``, ``models``,
  ``selected_cluster``, ``view``, ``selection`` (the segment map's lasso) and ``map_color``
  are set by the controls (synced both ways);
  ``n_clusters`` and ``target_class`` reflect the result and are set from Python only (the
  front end *asks* for a change with a command, below). Private, Python → JS only:
  ``_payload`` (JSON), ``_images`` + ``_cluster_images`` (its binary buffers, numbered in
  that order: the typed-array columns re-clustering leaves as they are, then the columns it
  changes and the first screen's sprite sheets, so a re-cluster sends only the latter),
  ``_busy`` (True while
  re-clustering / switching class), ``_progress`` (``{"task", "done", "total"}`` while
  ``_intervene`` runs, else None; sent from inside the running command, so the front end sees
  it move).
* **Requests are commands** (``anywidget.experimental.command`` here,
  ``experimental.invoke(name, msg)`` in ``js/src/kernel.js``; each answers one JSON dict, and
  ``_tiles`` binary buffers too), mirrored in ``js/src/types.js``::

    "_ping"          {}                         -> {"ok": True, "version": int}
                                                   # payload version; a kernel is present
    "_recluster"     {"n_clusters": int}        -> {"ok": bool, "n_clusters": int,
                                                    "error": str (when not ok)}
    "_select_class"  {"target_class": str}      -> {"ok": bool, "target_class": str,
                                                    "error": str (when not ok)}
    "_hover"         {"segment": int | None}    -> {"ok": bool}
                                                   # row of result.segments under the mouse
    "_tiles"         {"atlas": "thumbs" | "sources", "ids": [int]}
                                                -> {"ok": bool, "atlas": str, "page": Atlas,
                                                    "error": str (when not ok)} + buffers
                                                   # a page (<= PAGE_SIZE) of pictures the
                                                   # payload left out; Atlas.sheets index the
                                                   # answer's binary buffers
    "_map"           {}                         -> {"ok": bool, "method": str, "count": int,
                                                    "error": str (when not ok)} + buffer
                                                   # the segment map (computed on first use):
                                                   # uint16 [2 n] flat x, y in 0..65535
    "_rename_cluster"   {"cluster": int, "name": str | None}
                                                -> {"ok": bool, "cluster": int,
                                                    "error": str (when not ok)}
                                                   # result.rename_cluster; new payload
    "_annotate_cluster" {"cluster": int, "note": str | None}
                                                -> {"ok": bool, "cluster": int, "error": str}
                                                   # result.annotate_cluster; new payload
    "_intervene"     {"cluster": int}           -> {"ok": bool, "cluster": int, "error": str}
                                                   # the what-if test, result.intervene(
                                                   # cluster) with the run's models and
                                                   # images (refused with the result's error
                                                   # when it has none, e.g. a loaded result);
                                                   # new payload (clusters[k].intervention)

  The names are private like ``_payload`` (front-end-facing; from Python set ``n_clusters`` /
  ``target_class`` instead). ``_recluster`` / ``_select_class`` update the result, the payload
  and the trait before they answer (the answer arrives after the new state), and answer the
  current value either way.

There are no other custom messages. Everything from the front end is validated: a custom
message that is not a well-formed command of a known name, a command with bad parameters, and
a state update with a bad, read-only or Python-only value are ignored with a logged warning
(logger ``imacs_widget.widget.widget``); a command still gets an answer (``"ok": False``) and a
rejected state update is answered with the current value; nothing raises. Values set from
Python are validated too, and a bad one raises ``traitlets.TraitError``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets as t

from ..engine.summary import CLUSTER_ORDERS as ORDERS
from ..engine.summary import INNER_ORDERS, MODEL_KEYS, MODELS, OUTCOMES
from ..errors import ImacsInputError
from .commands import CommandsMixin, _Invalid, _is_int
from .payload import build_payload
from .protocol import COMMANDS, MAP_COLORS, PAGE_SIZE, VIEWS

if TYPE_CHECKING:  # the widget reads a result through its public attributes only
    from ..result import ComparisonResult

RESULT_ATTRIBUTES = ("per_class", "segments", "clusters", "recluster", "select_class")
"""What the widget needs of a result (a :class:`~imacs_widget.result.ComparisonResult` has it)."""


def is_result(obj) -> bool:
    """Whether ``obj`` offers what the widget reads of a comparison result."""
    return all(hasattr(obj, a) for a in RESULT_ATTRIBUTES)

__all__ = ["ImacsWidget", "COMMANDS", "PAGE_SIZE", "VIEWS", "MAP_COLORS"]

log = logging.getLogger(__name__)

_STATIC = Path(__file__).parent.parent / "static"
_MISSING_ESM = """
export default { render({ el }) {
  const p = document.createElement("pre");
  p.textContent = "imacs_widget: the front end is not built (imacs_widget/static/widget.js is "
    + "missing). Run `npm --prefix js install && npm --prefix js run build`, or `pip install -e .`.";
  el.appendChild(p);
} };
"""


def _asset(name: str, fallback: str):
    path = _STATIC / name
    if path.is_file():
        return path
    log.warning("imacs_widget: %s is missing; the widget will only show a build hint", path)
    return fallback


class ImacsWidget(CommandsMixin, anywidget.AnyWidget):
    """Interactive IMACS views of a comparison result.

    Parameters
    ----------
    result : ComparisonResult
        The comparison to show (``result.widget()`` builds this widget).
    thumb_size, source_size, image_format, quality
        Passed to :func:`imacs_widget.widget.payload.build_payload`.
    **traits
        Initial values of the public traits (e.g. ``order="size"``, ``n_clusters=6``).
    """

    _esm = _asset("widget.js", _MISSING_ESM)
    _css = _asset("widget.css", "")

    # ---- public state ----------------------------------------------------------------------------
    n_clusters = t.Int(2, help="Number of clusters, in result.n_clusters_range. Setting it "
                       "re-clusters the stored embeddings (result.recluster; no model is called) "
                       "and redraws; the front end asks with the '_recluster' command.").tag(sync=True)
    target_class = t.Unicode("", help="Class of interest shown; one of the classes the result "
                             "holds (result.classes_of_interest). Setting it switches the "
                             "result's active class; the front end asks with the '_select_class' "
                             "command.").tag(sync=True)
    order = t.Enum(ORDERS, "imbalance", help="Order of clusters: 'imbalance' (one-sided clusters "
                      "first, then |mean A - mean B|, largest first; the paper's default), "
                      "'importance' (largest mean attribution first) or 'size'; see "
                      "imacs_widget.engine.summary.").tag(sync=True)
    inner_order = t.Enum(INNER_ORDERS, "attribution", help="Order of segments within a cluster: "
                            "'attribution' (highest first) or 'centroid' (closest to the "
                            "cluster centre first).").tag(sync=True)
    outcomes = t.List(t.Enum(OUTCOMES), default_value=list(OUTCOMES),
                      help="Outcomes shown, a subset of ['TP', 'TN', 'FP', 'FN'] (of the model "
                      "whose sampling chose the image).").tag(sync=True)
    models = t.List(t.Enum(MODEL_KEYS), default_value=list(MODELS),
                    help="Models shown, a subset of the result's model keys (['A', 'B'] for a "
                    "pair, up to 'H'; default: all of them).").tag(sync=True)
    selected_cluster = t.Int(None, allow_none=True,
                             help="Cluster exploded into the two confusion matrices (paper "
                             "§5.3), or None.").tag(sync=True)
    view = t.Enum(VIEWS, "clusters", help="Main view: 'clusters' (concept clusters, §5.2), "
                     "'histogram' (cluster histogram, §5.1) or 'map' (the segment map: every "
                     "segment at a 2-D projection of its embedding).").tag(sync=True)
    selection = t.List(t.Int(), help="Rows of result.segments selected on the segment map "
                       "(lasso), sorted; [] for none. The cluster views show only these, and "
                       "result.selection follows. Python may set it too.").tag(sync=True)
    map_color = t.Enum(MAP_COLORS, "cluster", help="What colours the segment map's points: 'cluster', "
                          "'model' or 'attribution'.").tag(sync=True)

    # ---- private, owned by this class; the front end only reads them -------------------------
    _payload = t.Dict(help="Payload JSON (imacs_widget.widget.payload).").tag(sync=True)
    _images = t.List(t.Bytes(), help="Binary buffers referenced by _payload that re-clustering "
                     "leaves as they are (typed-array columns).").tag(sync=True)
    _cluster_images = t.List(t.Bytes(), help="The rest of _payload's buffers, numbered after "
                             "_images: the columns re-clustering changes and the first "
                             "screen's sprite sheets.").tag(sync=True)
    _busy = t.Bool(False, help="True while the kernel re-clusters or switches class.").tag(sync=True)
    _progress = t.Union([t.Dict()], default_value=None, allow_none=True, help="The long "
                        "command running in the kernel and how far it is, {'task': str, "
                        "'done': int, 'total': int} (the what-if test: images scored so far of "
                        "all it needs; a few updates a second), or None.").tag(sync=True)
    # Python-only: last hovered segment row (set by the "_hover" command).
    _hovered = t.Int(None, allow_none=True)

    _PUBLIC = ("n_clusters", "target_class", "order", "inner_order", "outcomes", "models",
               "selected_cluster", "view", "selection", "map_color")
    # public traits the front end changes through a command, never by a state update
    _BY_COMMAND = {"n_clusters": "_recluster", "target_class": "_select_class"}
    _READ_ONLY = ("_payload", "_images", "_cluster_images", "_busy", "_progress", "_esm", "_css", "_anywidget_id",
                  "_model_name", "_model_module", "_model_module_version", "_view_name",
                  "_view_module", "_view_module_version")

    def __init__(self, result: ComparisonResult, *, thumb_size: int = 48, source_size: int = 96,
                 image_format: str = "webp", quality: int = 80, **traits):
        if not is_result(result):
            raise ImacsInputError("result", "expected an imacs_widget.result.ComparisonResult, "
                                  f"got {type(result).__name__}")
        self._result = result
        self._payload_options = {"thumb_size": thumb_size, "source_size": source_size,
                                 "image_format": image_format, "quality": quality}
        self._image_order: list[int] | None = None
        self._image_cache: list = []
        self._reverting = False
        wanted_class = traits.pop("target_class", None)
        wanted_n = traits.pop("n_clusters", None)
        payload, buffers = self._build()
        k = payload["static_buffers"]
        init = {"n_clusters": result.n_clusters, "target_class": result.target_class,
                "order": result.order, "inner_order": result.inner_order,
                "models": list(result.models),
                "selection": [] if result.selected_rows is None else result.selected_rows.tolist()}
        super().__init__(_payload=payload, _images=buffers[:k], _cluster_images=buffers[k:],
                         **{**init, **traits})
        if wanted_class is not None:
            self.target_class = wanted_class
        if wanted_n is not None:
            self.n_clusters = wanted_n

    # ---- Python API ------------------------------------------------------------------------------
    @property
    def result(self) -> ComparisonResult:
        """The ComparisonResult shown (re-clustering and class switching act on it)."""
        return self._result

    @property
    def hovered_segment(self) -> dict | None:
        """The row of ``result.segments`` last hovered in the front end, as a dict (or None)."""
        i = self._hovered
        if i is None or not 0 <= i < len(self._result.segments):
            return None
        row = self._result.segments.iloc[i].to_dict()
        row["row"] = i
        return row

    # ---- payload ---------------------------------------------------------------------------------
    def _build(self) -> tuple[dict, list[bytes]]:
        self._image_order = None
        return build_payload(self._result, cache=self._image_cache, **self._payload_options)

    def _sync(self) -> None:
        """Payload, ``n_clusters`` and ``target_class`` from the result (after any change)."""
        payload, buffers = self._build()
        k = payload["static_buffers"]
        static, changing = buffers[:k], buffers[k:]
        r = self._result
        with self.hold_sync():  # a re-cluster sends only the buffers it changed
            if len(static) != len(self._images) or any(
                    a is not b and a != b for a, b in zip(static, self._images, strict=True)):
                self._images = static
            self._cluster_images = changing
            self._payload = payload
            if self.selected_cluster is not None and not 0 <= self.selected_cluster < r.n_clusters:
                self.selected_cluster = None
            self._reverting = True
            try:
                self.n_clusters = r.n_clusters
                self.target_class = r.target_class
                rows = r.selected_rows  # the active class's own (a class switch changes it)
                self.selection = [] if rows is None else rows.tolist()
            finally:
                self._reverting = False

    # ---- validation ------------------------------------------------------------------------------
    def _normalise(self, name: str, value: Any):
        """Normalised value of public trait ``name`` (already accepted by the trait's own type,
        e.g. an ``Enum`` of the fixed choices), checked against the result; or raise
        ``_Invalid``."""
        r = self._result
        if name == "n_clusters":
            lo, hi = r.n_clusters_range
            if not _is_int(value) or not lo <= value <= hi:
                raise _Invalid(f"n_clusters must be an integer in {lo}..{hi}, got {value!r}")
            return value
        if name == "target_class":
            classes = r.classes_of_interest
            if value not in classes:
                raise _Invalid(f"target_class must be one of {classes}, got {value!r}")
            return value
        if name in ("outcomes", "models"):
            allowed = OUTCOMES if name == "outcomes" else r.models
            if not all(v in allowed for v in value):
                raise _Invalid(f"{name} must be a list of {list(allowed)}, got {value!r}")
            return [v for v in allowed if v in value]  # canonical order, no duplicates
        if name == "selection":
            n = len(r.segments)
            if not all(_is_int(v) and 0 <= v < n for v in value):
                raise _Invalid(f"selection must be a list of segment rows in 0..{n - 1}, got "
                               f"{value!r:.80}")
            return sorted(set(value))
        if name == "selected_cluster":
            if value is None:
                return None
            if not _is_int(value) or not 0 <= value < r.n_clusters:
                raise _Invalid(f"selected_cluster must be None or a cluster id in "
                               f"0..{r.n_clusters - 1}, got {value!r}")
            return value
        return value  # order, inner_order, view, map_color: their Enum is the whole check

    def _validated(self, name: str, value: Any):
        """``value`` (from the front end) for public trait ``name`` as setting it would store
        it, or raise ``_Invalid``: the trait's own type (``Enum`` of the fixed choices,
        ``List(Enum)``, ``Int``, ...) must accept it, then :meth:`_normalise` checks the value
        as sent (no coercion: ``4.0`` is not a cluster count) against the result."""
        trait = self.traits()[name]
        if not (value is None and trait.allow_none):
            try:
                trait.validate(self, value)
            except t.TraitError as exc:
                raise _Invalid(str(exc)) from None
        return self._normalise(name, value)

    @t.validate(*_PUBLIC)
    def _validate_public(self, proposal):
        name = proposal["trait"].name
        if getattr(self, "_result", None) is None or self._reverting:
            return proposal["value"]
        try:
            return self._normalise(name, proposal["value"])
        except _Invalid as exc:
            raise t.TraitError(str(exc)) from None

    def set_state(self, sync_data):
        """State from the front end: drop invalid, read-only or Python-only values (warning),
        apply the rest, and send the current value of what was dropped back."""
        if not isinstance(sync_data, dict):
            log.warning("imacs widget: ignored a state update that is not a dict: %r", sync_data)
            return
        accepted, rejected = {}, []
        for name, value in sync_data.items():
            if name in self._READ_ONLY:
                log.warning("imacs widget: ignored a front-end update of read-only %s", name)
                rejected.append(name)
            elif name in self._BY_COMMAND:
                log.warning("imacs widget: ignored a front-end update of %s (the front end asks "
                            "with the %r command)", name, self._BY_COMMAND[name])
                rejected.append(name)
            elif name in self._PUBLIC:
                try:
                    accepted[name] = self._validated(name, value)
                except _Invalid as exc:
                    log.warning("imacs widget: ignored a front-end update: %s", exc)
                    rejected.append(name)
            elif name in self.keys:
                accepted[name] = value
            else:
                log.warning("imacs widget: ignored a front-end update of unknown trait %r", name)
        if accepted:
            try:
                super().set_state(accepted)
            except Exception as exc:  # never let a front-end update raise in the kernel
                log.warning("imacs widget: front-end update %r failed: %s", accepted, exc)
                rejected += [k for k in accepted if k in self.keys]
        if rejected:
            self.send_state([k for k in rejected if k in self.keys])  # resync the front end

    # ---- reactions (Python or a command set the trait) -------------------------------------------
    @t.observe("n_clusters")
    def _on_n_clusters(self, change):
        if not self._reverting and change["new"] != self._result.n_clusters:
            self._run("re-clustering", lambda: self._result.recluster(change["new"]))

    @t.observe("selection")
    def _on_selection(self, change):
        if not self._reverting:
            self._result.selection = change["new"] or None

    @t.observe("target_class")
    def _on_target_class(self, change):
        if not self._reverting and change["new"] != self._result.target_class:
            self._run("switching class", lambda: self._result.select_class(change["new"]))

    def _run(self, what: str, action) -> None:
        """Change the result, then sync payload and traits; on failure sync what the result now
        is (the trait goes back), log and re-raise."""
        self._busy = True
        try:
            action()
        except Exception as exc:
            log.warning("imacs widget: %s failed: %s", what, exc)
            raise
        finally:
            try:
                self._sync()
            finally:
                self._busy = False
