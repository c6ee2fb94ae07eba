"""Render the widget bundle in headless Chromium without Jupyter (development harness).

Writes a self-contained HTML page: the built ``imacs_widget/static/widget.{js,css}`` inlined, the
payload of a result (base64 sprite sheets) and a ~40-line fake anywidget model that answers the
widget's ``ping`` like a kernel would (``live=True``) or stays silent like a static report.

    python tests/widget_harness.py                 # screenshots into docs/
    python tests/widget_harness.py --dark --out /tmp/x.png

Used by tests/test_widget_browser.py (marker ``browser``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "imacs_widget" / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# JupyterLab theme variables (subset) to emulate the light / dark themes.
JP_LIGHT = """--jp-ui-font-color1:rgba(0,0,0,.87);--jp-ui-font-color2:rgba(0,0,0,.54);
--jp-ui-font-color3:rgba(0,0,0,.38);--jp-layout-color0:#fff;--jp-layout-color1:#fff;
--jp-layout-color2:#eee;--jp-border-color1:#bdbdbd;--jp-border-color2:#e0e0e0;
--jp-brand-color1:#1976d2;--jp-ui-font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"""
JP_DARK = """--jp-ui-font-color1:rgba(255,255,255,.87);--jp-ui-font-color2:rgba(255,255,255,.54);
--jp-ui-font-color3:rgba(255,255,255,.38);--jp-layout-color0:#111111;--jp-layout-color1:#212121;
--jp-layout-color2:#424242;--jp-border-color1:#616161;--jp-border-color2:#424242;
--jp-brand-color1:#42a5f5;--jp-ui-font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"""

FAKE_MODEL = r"""
class FakeModel {
  constructor(state, live) { this.state = state; this.handlers = {}; this.live = live; this.sent = []; }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; this.emit("change:" + k, [this, v]); }
  save_changes() {}
  send(msg) {
    this.sent.push(msg);
    if (this.live && msg && msg.type === "ping") setTimeout(() => this.emit("msg:custom", [{type: "pong", version: 1}]), 10);
    if (this.live && msg && msg.type === "recluster") {
      this.set("_busy", true);
      setTimeout(() => { this.set("_busy", false); }, 400);
    }
  }
  on(n, cb) { (this.handlers[n] = this.handlers[n] || []).push(cb); }
  off(n, cb) { this.handlers[n] = (this.handlers[n] || []).filter((h) => h !== cb); }
  emit(n, args) { (this.handlers[n] || []).forEach((h) => h(...args)); }
}
"""


def page_html(state: dict, *, dark: bool = False, live: bool = True, width: int = 1100) -> str:
    js = (STATIC / "widget.js").read_text()
    css = (STATIC / "widget.css").read_text()
    theme = JP_DARK if dark else JP_LIGHT
    bg = "#111111" if dark else "#ffffff"
    state_json = json.dumps(state).replace("</", "<\\/")
    module = (js.replace("</script", "<\\/script"))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>imacs widget harness</title>
<style>:root{{{theme}}} body{{margin:0;padding:16px;background:{bg};}}
#out{{width:{width}px}}</style>
<style>{css}</style></head>
<body><div id="out"></div>
<script type="application/json" id="state">{state_json}</script>
<script type="module">
{FAKE_MODEL}
const modUrl = URL.createObjectURL(new Blob([{json.dumps(module)}], {{type: "text/javascript"}}));
const mod = await import(modUrl);
const state = JSON.parse(document.getElementById("state").textContent);
const model = new FakeModel(state, {str(live).lower()});
window.__model = model;
const t0 = performance.now();
mod.default.render({{ model, el: document.getElementById("out") }});
window.__renderMs = performance.now() - t0;
document.documentElement.dataset.ready = "1";
</script></body></html>"""


def widget_state(result, **widget_kwargs) -> dict:
    """The synced state of an ImacsWidget for ``result`` (payload with inline data: URLs)."""
    from imacs_widget.widget.payload import build_payload

    payload, _ = build_payload(result, encoding="base64")
    state = {
        "_payload": payload, "_images": [], "_busy": False,
        "n_clusters": payload["n_clusters"], "target_class": payload["target_class"],
        "order": payload["order"], "inner_order": payload["inner_order"],
        "outcomes": ["TP", "TN", "FP", "FN"], "models": ["A", "B"],
        "selected_cluster": None, "view": "clusters",
    }
    state.update(widget_kwargs)
    return state


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_page(browser, html: str, path: Path, *, width: int = 1140, dark: bool = False):
    path.write_text(html)
    page = browser.new_page(viewport={"width": width, "height": 900},
                            color_scheme="dark" if dark else "light")
    page.route("http*://**", lambda route: route.abort())  # no network
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("html[data-ready='1']", timeout=15000)
    return page


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--static", action="store_true", help="no kernel (no pong)")
    ap.add_argument("--segments", type=int, default=400)
    ap.add_argument("--clusters", type=int, default=6)
    ap.add_argument("--view", default="clusters")
    ap.add_argument("--select", type=int, default=None, help="selected cluster (confusion view)")
    ap.add_argument("--hover", action="store_true", help="hover the first tile")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "widget-dev.png")
    ap.add_argument("--full", action="store_true", help="full-page screenshot")
    args = ap.parse_args(argv)
    args.out = args.out.resolve()

    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright
    from synthetic_result import make_synthetic_result

    result = make_synthetic_result(args.segments, args.clusters,
                                   class_names=["tulip", "daisy", "sunflower", "rose", "dandelion"])
    state = widget_state(result, view=args.view, selected_cluster=args.select)
    html = page_html(state, dark=args.dark, live=not args.static)
    with sync_playwright() as p:
        browser = launch(p)
        page = open_page(browser, html, args.out.with_suffix(".html"), dark=args.dark)
        page.wait_for_timeout(300)
        if args.hover:
            page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").nth(3).hover()
            page.wait_for_timeout(200)
        print("render ms", page.evaluate("window.__renderMs"))
        page.screenshot(path=str(args.out), full_page=args.full)
        browser.close()
    args.out.with_suffix(".html").unlink()
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
