"""The commands :class:`~imacs_widget.widget.widget.ImacsWidget` answers (the front end's
requests): ``_ping``, ``_recluster``, ``_select_class``, ``_hover``, ``_tiles``, ``_map``,
``_rename_cluster``, ``_annotate_cluster``, ``_intervene``.

Their messages and answers are documented in :mod:`imacs_widget.widget.widget` (mirrored in
``js/src/types.js``; the names in ``protocol.json``). :class:`CommandsMixin` holds the handlers
(``anywidget.experimental.command`` methods, collected by anywidget over the class's bases) and
the gate in front of them: a custom message that is not a well-formed command of a known name
is ignored with a warning and, when it has an id, answered ``{"ok": False}``. No handler raises
into the kernel.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from anywidget.experimental import command

from .atlas import tile_page
from .columns import image_order, map_column
from .protocol import ATLASES, COMMANDS, PAGE_SIZE, PAYLOAD_VERSION

__all__ = ["CommandsMixin"]

# the widget's one logger (its docstring names it): command warnings go where the widget's do
log = logging.getLogger("imacs_widget.widget.widget")

PROGRESS_INTERVAL_S = 0.25
"""At most one ``_progress`` update per this many seconds while a command runs (besides its
first and last), so the comm is not flooded."""


class _Invalid(ValueError):
    """A value from the front end (or Python) that a trait does not accept."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class CommandsMixin:
    """The command handlers of :class:`~imacs_widget.widget.widget.ImacsWidget`.

    Uses the widget's ``_result``, ``_payload_options``, ``_image_order`` (the payload's image
    rows, computed on first use), ``_validated`` (a trait value from the front end, or
    ``_Invalid``), and its ``_busy`` / ``_progress`` / ``_hovered`` traits.
    """

    _result: Any
    _payload_options: dict
    _image_order: list[int] | None
    _sync: Any  # ImacsWidget._sync: payload and traits from the result

    def _handle_custom_msg(self, content, buffers):
        """Pass well-formed commands of a known name on to anywidget; ignore anything else."""
        try:
            problem = _command_problem(content)
            if problem is None:
                super()._handle_custom_msg(content, buffers)
                return
            log.warning("imacs widget: ignored a message (%s): %r", problem, content)
            if isinstance(content, dict) and isinstance(content.get("id"), str):
                self.send({"id": content["id"], "kind": "anywidget-command-response",
                           "response": {"ok": False, "error": f"ignored: {problem}"}})
        except Exception as exc:  # a message must never raise into the kernel
            log.warning("imacs widget: message %r failed: %s", content, exc)

    def _request(self, what: str, name: str, msg) -> dict:
        """Set trait ``name`` from ``msg[name]`` (validated); the answer of a command."""
        value = msg.get(name) if isinstance(msg, dict) else None
        try:
            value = self._validated(name, value)
        except _Invalid as exc:
            log.warning("imacs widget: ignored %s: %s", what, exc)
            return {"ok": False, name: getattr(self, name), "error": f"{what} ignored: {exc}"}
        try:
            setattr(self, name, value)
        except Exception as exc:  # the observer synced the old state back and logged
            return {"ok": False, name: getattr(self, name), "error": f"{what} failed: {exc}"}
        return {"ok": True, name: getattr(self, name)}

    @command
    def _ping(self, msg, buffers):
        """Command ``_ping``: the kernel is there; answers the payload version it speaks."""
        return {"ok": True, "version": PAYLOAD_VERSION}, []

    @command
    def _recluster(self, msg, buffers):
        """Command ``_recluster``: ``{"n_clusters": int}`` -> re-cluster, new payload."""
        return self._request("re-clustering", "n_clusters", msg), []

    @command
    def _select_class(self, msg, buffers):
        """Command ``_select_class``: ``{"target_class": str}`` -> switch class, new payload."""
        return self._request("switching class", "target_class", msg), []

    @command
    def _tiles(self, msg, buffers):
        """Command ``_tiles``: ``{"atlas": "thumbs" | "sources", "ids": [int, ...]}`` (at most
        ``PAGE_SIZE`` distinct rows of ``result.segments`` / of the payload's ``images``) ->
        ``{"ok": True, "atlas": str, "page": Atlas}`` whose sheets index the answer's buffers."""
        atlas = msg.get("atlas") if isinstance(msg, dict) else None
        ids = msg.get("ids") if isinstance(msg, dict) else None
        if self._image_order is None:
            self._image_order = image_order(self._result.segments)
        count = len(self._result.segments) if atlas == "thumbs" else len(self._image_order)
        problem = None
        if atlas not in ATLASES:
            problem = f"atlas must be one of {list(ATLASES)}, got {atlas!r}"
        elif not isinstance(ids, list) or not 1 <= len(ids) <= PAGE_SIZE:
            problem = f"ids must be a list of 1..{PAGE_SIZE} rows, got {ids!r:.80}"
        elif not all(_is_int(i) and 0 <= i < count for i in ids):
            problem = f"ids must be rows in 0..{count - 1}, got {ids!r:.80}"
        if problem is not None:
            log.warning("imacs widget: ignored a tiles request: %s", problem)
            return {"ok": False, "error": f"tiles request ignored: {problem}"}, []
        ids = list(dict.fromkeys(ids))
        o = self._payload_options
        try:
            page, out = tile_page(self._result, atlas, ids, thumb_size=o["thumb_size"],
                                  source_size=o["source_size"], image_format=o["image_format"],
                                  quality=o["quality"], images=self._image_order)
        except Exception as exc:  # never raise into the kernel
            log.warning("imacs widget: tiles request failed: %s", exc)
            return {"ok": False, "error": f"tiles request failed: {exc}"}, []
        return {"ok": True, "atlas": atlas, "page": page}, out

    @command
    def _map(self, msg, buffers):
        """Command ``_map``: ``{}`` -> the segment map of the active class (computed on first
        use: ``result.segment_map()``), ``{"ok": True, "method": str, "count": int}`` + one
        buffer, ``uint16 [2 n]`` little-endian flat x, y in 0..65535."""
        self._busy = True
        try:
            self._result.segment_map()
            xy = map_column(self._result.segments).astype("<u2")
        except Exception as exc:  # never raise into the kernel
            log.warning("imacs widget: segment map failed: %s", exc)
            return {"ok": False, "error": f"segment map failed: {exc}"}, []
        finally:
            self._busy = False
        return {"ok": True, "method": self._result.map_method,
                "count": len(self._result.segments)}, [xy.tobytes()]

    @command
    def _hover(self, msg, buffers):
        """Command ``_hover``: ``{"segment": int | None}``, the row under the mouse."""
        seg = msg.get("segment") if isinstance(msg, dict) else None
        if isinstance(msg, dict) and "segment" in msg and (
                seg is None or (_is_int(seg) and 0 <= seg < len(self._result.segments))):
            self._hovered = seg
            return {"ok": True}, []
        log.warning("imacs widget: ignored hover of segment %r (not None or a row in 0..%d)",
                    seg, len(self._result.segments) - 1)
        return {"ok": False, "error": f"no segment {seg!r}"}, []


    def _cluster_command(self, what: str, msg, field: str | None, types: tuple, act) -> dict:
        """Check ``msg["cluster"]`` (a cluster id) and ``msg[field]`` (of ``types``), call
        ``act(cluster, value)`` on the result, then send the new payload; the answer."""
        r = self._result
        cluster = msg.get("cluster") if isinstance(msg, dict) else None
        value = msg.get(field) if isinstance(msg, dict) and field else None
        problem = None
        if not _is_int(cluster) or not 0 <= cluster < r.n_clusters:
            problem = f"cluster must be a cluster id in 0..{r.n_clusters - 1}, got {cluster!r:.80}"
        elif field and (field not in msg or not isinstance(value, types)):
            names = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            problem = f"{field} must be {names}, got {value!r:.80}"
        if problem is not None:
            log.warning("imacs widget: ignored %s: %s", what, problem)
            return {"ok": False, "cluster": cluster, "error": f"{what} ignored: {problem}"}
        try:
            act(cluster, value)
        except Exception as exc:  # e.g. ImacsInputError: said to the user, never raised here
            log.warning("imacs widget: %s failed: %s", what, exc)
            return {"ok": False, "cluster": cluster, "error": f"{what} failed: {exc}"}
        self._sync()
        return {"ok": True, "cluster": cluster}

    @command
    def _rename_cluster(self, msg, buffers):
        """Command ``_rename_cluster``: ``{"cluster": int, "name": str | None}`` ->
        ``result.rename_cluster`` (``None`` / ``""`` clears it), new payload."""
        return self._cluster_command(
            "renaming a cluster", msg, "name", (str, type(None)),
            lambda c, v: self._result.rename_cluster(c, v)), []

    @command
    def _annotate_cluster(self, msg, buffers):
        """Command ``_annotate_cluster``: ``{"cluster": int, "note": str | None}`` ->
        ``result.annotate_cluster``, new payload."""
        return self._cluster_command(
            "annotating a cluster", msg, "note", (str, type(None)),
            lambda c, v: self._result.annotate_cluster(c, v)), []

    @command
    def _intervene(self, msg, buffers):
        """Command ``_intervene``: ``{"cluster": int}`` -> the what-if test
        (``result.intervene(cluster, progress=...)``, the models and images of the run),
        new payload; ``_busy`` meanwhile, and ``_progress`` (``{"task": "what-if test,
        cluster c", "done": n, "total": N}``, images scored so far) from the test's progress
        ticks, throttled to :data:`PROGRESS_INTERVAL_S`, None again when it ends or fails.
        Refused with the result's error when it cannot run (e.g. a loaded result holds no
        models)."""
        self._busy = True
        try:
            return self._cluster_command(
                "the what-if test", msg, None, (),
                lambda c, v: self._result.intervene(
                    c, progress=self._progress_reporter(f"what-if test, cluster {c}"))), []
        finally:
            self._progress = None
            self._busy = False

    def _progress_reporter(self, task: str):
        """``report(done, total)`` that sets ``_progress`` for ``task``: the first call, the
        last (``done >= total``) and at most one per :data:`PROGRESS_INTERVAL_S` between."""
        last = -float("inf")

        def report(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if done < total and now - last < PROGRESS_INTERVAL_S:
                return
            last = now
            self._progress = {"task": task, "done": int(min(done, total)), "total": int(total)}

        return report


def _command_problem(content) -> str | None:
    """Why ``content`` is not a well-formed command of a known name (None if it is one)."""
    if not isinstance(content, dict):
        return "not a dict"
    if content.get("kind") != "anywidget-command":
        return f"kind {content.get('kind')!r} is not 'anywidget-command'"
    if not isinstance(content.get("id"), str):
        return "no string id"
    if content.get("name") not in COMMANDS:
        return f"unknown command {content.get('name')!r}"
    if not isinstance(content.get("msg"), dict):
        return "msg is not a dict"
    return None
