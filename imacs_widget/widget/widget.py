"""``ImacsWidget``: the Jupyter front end of a :class:`~imacs_widget.result.ComparisonResult`.

Thin by design: traits, validation and message handlers only. The views (cluster histogram,
concept clusters, cluster confusion matrices, source preview, location heatmaps; paper §5 and
§7) are drawn by ``js/src`` from the payload built by :mod:`imacs_widget.payload`; ordering and
filtering of clusters happen in the browser so that they also work in a static report.

Public traits (synced both ways; set them from Python or use the controls):

``n_clusters``, ``target_class``, ``order``, ``inner_order``, ``outcomes``, ``models``,
``selected_cluster``, ``view`` — see each trait's ``help``.

Private, front-end-facing traits (do not set them yourself):

``_payload`` (JSON, Python → JS), ``_images`` (binary sprite sheets, Python → JS),
``_busy`` (Python → JS; True while re-clustering / switching class).

Custom messages (each a dict with a ``"type"``), mirrored in ``js/src/types.js``::

    JS → Python
        {"type": "ping"}                                  # answered by "pong" (kernel present)
        {"type": "recluster", "n_clusters": int}          # re-cluster (no model call)
        {"type": "select_cluster", "cluster": int | None} # same as setting selected_cluster
        {"type": "hover", "segment": int | None}          # row of result.segments under the mouse
    Python → JS
        {"type": "pong", "version": int}                  # payload version the kernel speaks
        {"type": "notice", "level": "info" | "warning" | "error", "text": str}

Every message and every trait value coming from the front end is validated: unknown types,
bad cluster ids, out-of-range counts and wrong types are ignored with a logged warning (logger
``imacs_widget.widget``) and the front end is sent the current value back; nothing raises.
Values set from Python are validated too, and a bad one raises ``traitlets.TraitError``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from .payload import (
    INNER_ORDERS,
    MODELS,
    ORDERS,
    OUTCOMES,
    PAYLOAD_VERSION,
    available_classes,
    build_payload,
    cluster_ids,
    current_n_clusters,
    n_clusters_range,
)

log = logging.getLogger(__name__)

VIEWS = ("clusters", "histogram")
MESSAGE_TYPES = ("ping", "recluster", "select_cluster", "hover")

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


class _Invalid(ValueError):
    """A value from the front end (or Python) that a trait does not accept."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class ImacsWidget(anywidget.AnyWidget):
    """Interactive IMACS views of a comparison result.

    Parameters
    ----------
    result : ComparisonResult
        The comparison to show (``result.widget()`` builds this widget).
    thumb_size, source_size, image_format, quality
        Passed to :func:`imacs_widget.payload.build_payload`.
    **traits
        Initial values of the public traits (e.g. ``order="size"``, ``n_clusters=6``).
    """

    _esm = _asset("widget.js", _MISSING_ESM)
    _css = _asset("widget.css", "")

    # ---- public state (both ways) ------------------------------------------------------------
    n_clusters = t.Int(2, help="Number of clusters. Changing it re-clusters the stored embeddings "
                       "(result.recluster; no model is called) and redraws.").tag(sync=True)
    target_class = t.Unicode("", help="Class of interest shown; one of the classes the result "
                             "holds (result.classes_of_interest).").tag(sync=True)
    order = t.Unicode("imbalance", help="Order of clusters: 'imbalance' (|mean A - mean B|, "
                      "largest first; the paper's default), 'importance' (largest mean "
                      "attribution of either model first) or 'size'.").tag(sync=True)
    inner_order = t.Unicode("attribution", help="Order of segments within a cluster: "
                            "'attribution' (highest first) or 'centroid' (closest to the "
                            "cluster centre first).").tag(sync=True)
    outcomes = t.List(t.Unicode(), default_value=list(OUTCOMES),
                      help="Outcomes shown, a subset of ['TP', 'TN', 'FP', 'FN'] (of the model "
                      "whose sampling chose the image).").tag(sync=True)
    models = t.List(t.Unicode(), default_value=list(MODELS),
                    help="Models shown, a subset of ['A', 'B'].").tag(sync=True)
    selected_cluster = t.Int(None, allow_none=True,
                             help="Cluster exploded into the two confusion matrices (paper "
                             "§5.3), or None.").tag(sync=True)
    view = t.Unicode("clusters", help="Main view: 'clusters' (concept clusters, §5.2) or "
                     "'histogram' (cluster histogram, §5.1).").tag(sync=True)

    # ---- private, owned by this class; the front end only reads them -------------------------
    _payload = t.Dict(help="Payload JSON (imacs_widget.payload).").tag(sync=True)
    _images = t.List(t.Bytes(), help="Sprite sheets referenced by _payload.").tag(sync=True)
    _busy = t.Bool(False, help="True while the kernel re-clusters or switches class.").tag(sync=True)
    # Python-only: last hovered segment row (set by the "hover" message).
    _hover = t.Int(None, allow_none=True)

    _PUBLIC = ("n_clusters", "target_class", "order", "inner_order", "outcomes", "models",
               "selected_cluster", "view")
    _READ_ONLY = ("_payload", "_images", "_busy", "_esm", "_css", "_anywidget_id",
                  "_model_name", "_model_module", "_model_module_version", "_view_name",
                  "_view_module", "_view_module_version")

    def __init__(self, result, *, thumb_size: int = 48, source_size: int = 96,
                 image_format: str = "webp", quality: int = 80, **traits):
        self._result = result
        self._payload_options = {"thumb_size": thumb_size, "source_size": source_size,
                                 "image_format": image_format, "quality": quality}
        self._image_cache: list = []
        self._reverting = False
        wanted_class = traits.pop("target_class", None)
        wanted_n = traits.pop("n_clusters", None)
        payload, images = self._build()
        init = {
            "n_clusters": current_n_clusters(result),
            "target_class": str(result.target_class),
            "order": getattr(result, "order", "imbalance"),
            "inner_order": getattr(result, "inner_order", "attribution"),
        }
        init = {k: v for k, v in init.items() if self._check(k, v, raise_=False) is not None}
        super().__init__(_payload=payload, _images=images, **{**init, **traits})
        self.on_msg(self._on_message)
        if wanted_class is not None:
            self.target_class = wanted_class
        if wanted_n is not None:
            self.n_clusters = wanted_n

    # ---- Python API ------------------------------------------------------------------------------
    @property
    def result(self):
        """The ComparisonResult shown (re-clustering and class switching act on it)."""
        return self._result

    @property
    def hovered_segment(self) -> dict | None:
        """The row of ``result.segments`` last hovered in the front end, as a dict (or None)."""
        i = self._hover
        if i is None or not 0 <= i < len(self._result.segments):
            return None
        row = self._result.segments.iloc[i].to_dict()
        row["row"] = i
        return row

    # ---- payload ---------------------------------------------------------------------------------
    def _build(self) -> tuple[dict, list[bytes]]:
        payload, buffers = build_payload(self._result, cache=self._image_cache,
                                         **self._payload_options)
        return payload, buffers

    def _push_payload(self) -> None:
        payload, buffers = self._build()
        with self.hold_sync():
            if len(buffers) != len(self._images) or any(
                    a is not b and a != b for a, b in zip(buffers, self._images, strict=True)):
                self._images = buffers
            self._payload = payload
            if self.selected_cluster is not None and self.selected_cluster not in cluster_ids(self._result):
                self.selected_cluster = None
            if self.n_clusters != payload["n_clusters"]:
                self._reverting = True
                try:
                    self.n_clusters = payload["n_clusters"]
                finally:
                    self._reverting = False

    # ---- validation ------------------------------------------------------------------------------
    def _check(self, name: str, value: Any, raise_: bool = True):
        """Normalised value of public trait ``name`` or raise ``_Invalid`` (None if not raise_)."""
        try:
            return self._normalise(name, value)
        except _Invalid:
            if raise_:
                raise
            return None

    def _normalise(self, name: str, value: Any):
        r = self._result
        if name == "n_clusters":
            lo, hi = n_clusters_range(r)
            if not _is_int(value) or not lo <= value <= hi:
                raise _Invalid(f"n_clusters must be an integer in {lo}..{hi}, got {value!r}")
            return value
        if name == "target_class":
            classes = [str(c) for c in available_classes(r)]
            if not isinstance(value, str) or value not in classes:
                raise _Invalid(f"target_class must be one of {classes}, got {value!r}")
            return value
        if name in ("order", "inner_order", "view"):
            allowed = {"order": ORDERS, "inner_order": INNER_ORDERS, "view": VIEWS}[name]
            if not isinstance(value, str) or value not in allowed:
                raise _Invalid(f"{name} must be one of {list(allowed)}, got {value!r}")
            return value
        if name in ("outcomes", "models"):
            allowed = OUTCOMES if name == "outcomes" else MODELS
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, str) and v in allowed for v in value):
                raise _Invalid(f"{name} must be a list of {list(allowed)}, got {value!r}")
            return [v for v in allowed if v in value]  # canonical order, no duplicates
        if name == "selected_cluster":
            if value is None:
                return None
            ids = cluster_ids(r)
            if not _is_int(value) or value not in ids:
                raise _Invalid(f"selected_cluster must be None or a cluster id in {ids}, got {value!r}")
            return value
        raise _Invalid(f"unknown trait {name!r}")

    @t.validate(*_PUBLIC)
    def _validate_public(self, proposal):
        name = proposal["trait"].name
        if getattr(self, "_result", None) is None or (name == "n_clusters" and self._reverting):
            return proposal["value"]
        try:
            return self._normalise(name, proposal["value"])
        except _Invalid as exc:
            raise t.TraitError(str(exc)) from None

    def set_state(self, sync_data):
        """State from the front end: drop invalid or read-only values (warning), apply the rest."""
        if not isinstance(sync_data, dict):
            log.warning("imacs widget: ignored a state update that is not a dict: %r", sync_data)
            return
        accepted, rejected = {}, []
        for name, value in sync_data.items():
            if name in self._READ_ONLY:
                log.warning("imacs widget: ignored a front-end update of read-only %s", name)
                rejected.append(name)
            elif name in self._PUBLIC:
                try:
                    accepted[name] = self._normalise(name, value)
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

    # ---- reactions -------------------------------------------------------------------------------
    @t.observe("n_clusters")
    def _on_n_clusters(self, change):
        if self._reverting or change["new"] == current_n_clusters(self._result):
            return
        self._run("re-clustering", lambda: self._result.recluster(int(change["new"])),
                  revert=("n_clusters", change["old"]))

    @t.observe("target_class")
    def _on_target_class(self, change):
        if change["new"] == str(self._result.target_class):
            return
        r = self._result
        if hasattr(r, "select_class"):
            action = lambda: r.select_class(change["new"])  # noqa: E731
        else:
            def action():
                r.target_class = change["new"]
        self._run("switching class", action, revert=("target_class", change["old"]))

    def _run(self, what: str, action, revert: tuple[str, Any]) -> None:
        self._busy = True
        try:
            new = action()
            if new is not None and hasattr(new, "segments"):
                self._result = new
            self._push_payload()
        except Exception as exc:
            log.warning("imacs widget: %s failed: %s", what, exc)
            self._notice("error", f"{what} failed: {exc}")
            self._reverting = True
            try:
                setattr(self, revert[0], revert[1])
            finally:
                self._reverting = False
        finally:
            self._busy = False

    # ---- messages --------------------------------------------------------------------------------
    def _notice(self, level: str, text: str) -> None:
        self.send({"type": "notice", "level": level, "text": str(text)})

    def _on_message(self, _widget, content, _buffers=None) -> None:
        try:
            self._handle_message(content)
        except Exception as exc:  # a handler must never raise into the kernel
            log.warning("imacs widget: message %r failed: %s", content, exc)

    def _handle_message(self, content) -> None:
        """Apply one custom message from the front end (see the module docstring)."""
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            log.warning("imacs widget: ignored a message without a string 'type': %r", content)
            return
        kind = content["type"]
        if kind not in MESSAGE_TYPES:
            log.warning("imacs widget: ignored a message of unknown type %r", kind)
            return
        if kind == "ping":
            self.send({"type": "pong", "version": PAYLOAD_VERSION})
            return
        if kind == "recluster":
            n = content.get("n_clusters")
            try:
                n = self._normalise("n_clusters", n)
            except _Invalid as exc:
                log.warning("imacs widget: ignored recluster: %s", exc)
                self.send_state("n_clusters")
                self._notice("warning", f"re-clustering ignored: {exc}")
                return
            if n == current_n_clusters(self._result):
                self.send_state("n_clusters")
                self._notice("info", f"already {n} clusters")
                return
            self.n_clusters = n
            return
        if kind == "select_cluster":
            try:
                self.selected_cluster = self._normalise("selected_cluster", content.get("cluster"))
            except _Invalid as exc:
                log.warning("imacs widget: ignored select_cluster: %s", exc)
                self.send_state("selected_cluster")
            return
        if kind == "hover":
            seg = content.get("segment")
            if seg is None or (_is_int(seg) and 0 <= seg < len(self._result.segments)):
                self._hover = seg
            else:
                log.warning("imacs widget: ignored hover of segment %r (not a row in 0..%d)",
                            seg, len(self._result.segments) - 1)
