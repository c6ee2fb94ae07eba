"""A static, self-contained HTML report of a comparison: no kernel, no network to view it.

:func:`write_html` embeds the widget's state in the standard ipywidgets embed format
(``ipywidgets.embed.embed_data(..., drop_defaults=False)`` — with the defaults dropped, ``_esm``
would be missing) and inlines a small offline host (``report_host.js``) that runs the widget's
own anywidget front-end module against that state (``<script type="module">`` followed by
``start();``). The same ESM bundle that runs in JupyterLab renders the report; nothing is
fetched from a CDN, so the file opens with every request blocked (its
Content-Security-Policy forbids any network request). The browser tests render their pages
with the same host (:func:`page_html`, with a fake kernel).

There is no kernel behind the page: controls that only change front-end state work; anything
that needs Python (e.g. re-clustering with a new number of clusters) can only use what the
payload already holds. The pictures are bounded (``tiles_per_row``): each row, histogram bin
and confusion cell keeps a bounded number of tiles and says how many it left out.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

__all__ = ["write_html", "render_html"]

_HOST_JS = Path(__file__).with_name("report_host.js")

# Models a report may contain: anywidget models, plus the Layout/Style models every DOMWidget
# references (ignored by the host).
_ALLOWED_MODULES = {"anywidget", "@jupyter-widgets/base"}

# No network at all: inline scripts/styles, the widget ESM imported from a blob: URL,
# images from data:/blob: URLs.
_CSP = ("default-src 'none'; script-src 'unsafe-inline' blob: data:; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; media-src data: blob:; connect-src 'none'; "
        "worker-src blob:; base-uri 'none'; form-action 'none'")

# JupyterLab's light-theme variables the widget CSS may rely on (Lab defines them; a bare page
# does not).
_PAGE_CSS = """
:root {
  --jp-ui-font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  --jp-content-font-family: var(--jp-ui-font-family);
  --jp-code-font-family: Menlo, Consolas, "DejaVu Sans Mono", monospace;
  --jp-ui-font-size0: 0.83333em; --jp-ui-font-size1: 13px; --jp-ui-font-size2: 1.2em;
  --jp-ui-font-size3: 1.44em; --jp-content-font-size1: 14px;
  --jp-ui-font-color0: rgba(0, 0, 0, 1); --jp-ui-font-color1: rgba(0, 0, 0, 0.87);
  --jp-ui-font-color2: rgba(0, 0, 0, 0.54); --jp-ui-font-color3: rgba(0, 0, 0, 0.38);
  --jp-content-font-color0: rgba(0, 0, 0, 1); --jp-content-font-color1: rgba(0, 0, 0, 0.87);
  --jp-content-font-color2: rgba(0, 0, 0, 0.54); --jp-content-font-color3: rgba(0, 0, 0, 0.38);
  --jp-layout-color0: #fff; --jp-layout-color1: #fff; --jp-layout-color2: #eee;
  --jp-layout-color3: #bdbdbd; --jp-layout-color4: #757575;
  --jp-border-color0: #bdbdbd; --jp-border-color1: #e0e0e0; --jp-border-color2: #eee;
  --jp-border-color3: #f5f5f5; --jp-border-width: 1px; --jp-border-radius: 2px;
  --jp-brand-color0: #1565c0; --jp-brand-color1: #1976d2; --jp-brand-color2: #64b5f6;
  --jp-accent-color1: #388e3c; --jp-warn-color1: #f57c00; --jp-error-color1: #d32f2f;
  --jp-success-color1: #388e3c; --jp-widgets-font-size: var(--jp-ui-font-size1);
}
html { background: var(--jp-layout-color0); color: var(--jp-ui-font-color1); }
body { margin: 0; padding: 16px 24px; font-family: var(--jp-ui-font-family);
       font-size: var(--jp-ui-font-size1); }
.imacs-report-header h1 { font-size: 18px; font-weight: 600; margin: 0 0 4px; }
.imacs-report-header p { margin: 0 0 12px; color: var(--jp-ui-font-color2); }
.imacs-report-error { color: var(--jp-error-color1); white-space: pre-wrap; }
"""


def _as_widget(obj) -> tuple[Any, bool]:
    """(widget, created_here) from a widget or a ComparisonResult (``result.widget()``)."""
    from ipywidgets import Widget

    from .widget import is_result

    if isinstance(obj, Widget):
        return obj, False
    if is_result(obj) and callable(getattr(obj, "widget", None)):
        return obj.widget(), True
    from ..errors import ImacsInputError

    raise ImacsInputError(
        "widget_or_result", f"expected an ImacsWidget (or another anywidget) or a "
        f"ComparisonResult, got {type(obj).__name__}"
    )


def _default_title(widget) -> str:
    from .widget import ImacsWidget

    if isinstance(widget, ImacsWidget):
        names = widget.result.model_names
        return f"IMACS: {names['A']} vs {names['B']}"
    return "IMACS comparison"


def _script_json(data) -> str:
    """JSON safe inside a <script> element (``<`` only occurs inside JSON strings)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _bounded_pictures(widget, model: dict, tiles: str, per_row: int) -> None:
    """Swap the live payload (first screen only) of an ImacsWidget's embedded ``model`` for one
    that keeps ``per_row`` tiles per row, 5 per histogram bin and 24 per confusion cell, and
    the source previews of their images (``tiles="report"``): there is no kernel to ask."""
    import base64

    from .payload import build_payload
    from .widget import ImacsWidget

    if not isinstance(widget, ImacsWidget) or tiles == "first":
        return
    payload, buffers = build_payload(widget.result, tiles=tiles, per_row=per_row,
                                     **widget._payload_options)
    model["state"]["_payload"] = payload
    model["state"]["_images"] = []  # every buffer in _images (nothing is re-clustered here)
    model["state"]["_cluster_images"] = []
    model["buffers"] = [b for b in model.get("buffers", [])
                        if b["path"][0] not in ("_images", "_cluster_images")] + [
        {"path": ["_images", k], "encoding": "base64",
         "data": base64.b64encode(b).decode("ascii")} for k, b in enumerate(buffers)]


def _embed_state(widget, tiles: str = "report", per_row: int = 30) -> dict:
    from ipywidgets.embed import dependency_state, embed_data

    state = dependency_state([widget], drop_defaults=False)
    data = embed_data(views=[widget], drop_defaults=False, state=state)
    manager_state = data["manager_state"]
    bad = sorted({s["model_module"] for s in manager_state["state"].values()} - _ALLOWED_MODULES)
    if bad:
        raise NotImplementedError(
            f"write_html renders anywidget models only; the widget also uses {bad}"
        )
    model = manager_state["state"][widget.model_id]
    _bounded_pictures(widget, model, tiles, per_row)
    if not model["state"].get("_esm"):
        raise RuntimeError("write_html: the widget state has no _esm (front end not built?)")
    return data


def render_html(widget_or_result, title: str | None = None, description: str | None = None, *,
                tiles_per_row: int = 30) -> str:
    """The report as an HTML string (see :func:`write_html`)."""
    return page_html(widget_or_result, title=title, description=description,
                     tiles_per_row=tiles_per_row)


def page_html(widget_or_result, title: str | None = None, description: str | None = None, *,
              start: str = "start();", head: str = "", tiles: str = "report",
              tiles_per_row: int = 30) -> str:
    """The report page; ``start`` is the JavaScript that starts the host (module scope, after
    ``report_host.js``) and ``head`` extra ``<head>`` markup — the browser harness
    (tests/widget_harness.py) passes a fake kernel and a theme this way. ``tiles`` is the
    payload's ``tiles`` (:func:`~imacs_widget.widget.payload.build_payload`): ``"report"``
    (bounded, ``tiles_per_row`` per row), ``"all"``, or ``"first"`` (the live widget's)."""
    widget, created = _as_widget(widget_or_result)
    try:
        data = _embed_state(widget, tiles, tiles_per_row)
        if title is None:
            title = _default_title(widget)
    finally:
        if created:
            widget.close()
    host = _HOST_JS.read_text(encoding="utf-8") + "\n" + start
    if "</script" in host.lower():
        raise ValueError("the host script must not contain '</script'")
    views = "\n".join(
        f'<script type="application/vnd.jupyter.widget-view+json">{_script_json(v)}</script>'
        for v in data["view_specs"]
    )
    desc = f"<p>{html.escape(description)}</p>" if description else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="imacs_widget.report">
<title>{html.escape(title)}</title>
<style>{_PAGE_CSS}</style>
{head}
</head>
<body>
<header class="imacs-report-header"><h1>{html.escape(title)}</h1>{desc}</header>
<script type="application/vnd.jupyter.widget-state+json">{_script_json(data["manager_state"])}</script>
<main class="imacs-report">
{views}
</main>
<script type="module">
{host}
</script>
</body>
</html>
"""


def write_html(widget_or_result, path, title: str | None = None,
               description: str | None = None, *, tiles_per_row: int = 30,
               segment_map: bool = True) -> Path:
    """Write ONE self-contained HTML file showing the widget, viewable with no kernel and no
    network.

    ``widget_or_result`` is an :class:`~imacs_widget.widget.ImacsWidget` (its current state is
    written: selected cluster, number of clusters, ...) or a
    :class:`~imacs_widget.result.ComparisonResult` (``result.widget()`` is written). ``title``
    defaults to ``"IMACS: <model A> vs <model B>"``. Returns the path written.

    Pictures are bounded: each cluster row keeps ``tiles_per_row`` tiles in each
    within-cluster order (each histogram bin 5, each confusion cell 24) and says how many it
    left out; a live widget fetches those from the kernel instead.

    With ``segment_map`` (default) the report carries the segment map of the shown class,
    computed first when the result has none (``result.segment_map()``: seconds to a minute;
    there is no kernel to ask later).
    """
    path = Path(path)
    if segment_map:
        from .widget import is_result

        result = getattr(widget_or_result, "result", widget_or_result)
        if is_result(result) and getattr(result, "map_method", "") is None:
            result.segment_map()
    text = render_html(widget_or_result, title=title, description=description,
                       tiles_per_row=tiles_per_row)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
