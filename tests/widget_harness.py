"""Render the widget bundle in headless Chromium without Jupyter (development harness).

A harness page is the static report page (:func:`imacs_widget.widget.report.page_html`): the
real widget state of an :class:`~imacs_widget.widget.ImacsWidget` (the built
``imacs_widget/static/widget.{js,css}``, payload, binary sprite sheets) run by the production
host ``imacs_widget/widget/report_host.js``. With ``live=True`` the host gets the fake kernel of
``js/tests/fake_kernel.js`` (it answers the widget's commands like ImacsWidget would, without
Python; ``window.__imacsKernel.sent`` lists them); with ``live=False`` there is no kernel, like
in a static report. Chromium is launched by :func:`e2e.harness.launch_chromium`.

    python tests/widget_harness.py                 # screenshot into docs/widget-dev.png
    python tests/widget_harness.py --dark --out /tmp/x.png

Used by tests/test_widget_browser.py (marker ``browser``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from e2e.harness import CHROMIUM, chromium_missing_reason, launch_chromium  # noqa: E402

STATIC = ROOT / "imacs_widget" / "static"
FAKE_KERNEL = ROOT / "js" / "tests" / "fake_kernel.js"

UNEXPLAINED = ROOT / "js" / "tests" / "unexplained.js"

__all__ = ["CHROMIUM", "STATIC", "chromium_missing_reason", "fake_pictures", "launch_chromium",
           "open_page", "page_html", "unexplained"]

# JupyterLab's dark-theme variables (subset); the report page defines the light ones.
JP_DARK = """--jp-ui-font-color0:#fff;--jp-ui-font-color1:rgba(255,255,255,.87);
--jp-ui-font-color2:rgba(255,255,255,.54);--jp-ui-font-color3:rgba(255,255,255,.38);
--jp-content-font-color1:rgba(255,255,255,.87);--jp-layout-color0:#111111;
--jp-layout-color1:#212121;--jp-layout-color2:#424242;--jp-layout-color3:#616161;
--jp-border-color0:#616161;--jp-border-color1:#616161;--jp-border-color2:#424242;
--jp-brand-color1:#42a5f5;"""


def fake_pictures(result, thumbs=None, sources=None, **options) -> dict:
    """What the fake kernel answers ``_tiles`` from: atlases of the thumbnails ``thumbs`` and
    source previews ``sources`` (default: all), sheets as data: URLs (atlas.tile_page)."""
    from imacs_widget.widget.atlas import tile_page
    from imacs_widget.widget.columns import image_order

    n = len(result.segments)
    images = image_order(result.segments)
    ids = range(n) if thumbs is None else thumbs
    src = range(len(images)) if sources is None else sources
    return {"thumbs": tile_page(result, "thumbs", ids, encoding="base64", **options)[0],
            "sources": tile_page(result, "sources", src, images=images, encoding="base64",
                                 **options)[0]}


def page_html(result, *, dark: bool = False, live: bool = True, width: int = 1100,
              delay_ms: int = 400, tiles: str | None = None, pictures: dict | None = None,
              **traits) -> str:
    """The harness page of ``ImacsWidget(result, **traits)`` (see the module docstring).

    Live pages carry the widget's own payload (``tiles="first"``: the first screen) and the
    fake kernel answers ``_tiles`` from ``pictures`` (default :func:`fake_pictures`); pages
    without a kernel carry the static report's (``tiles="report"``)."""
    import json

    from imacs_widget.widget.protocol import PAYLOAD_VERSION
    from imacs_widget.widget.report import page_html as report_page
    from imacs_widget.widget.widget import ImacsWidget

    tiles = tiles or ("first" if live else "report")
    head = f"<style>.imacs-report{{width:{int(width)}px}}</style>"
    if dark:
        head += f"<style>:root{{{JP_DARK}}} html{{background:#111111}}</style>"
    w = ImacsWidget(result, **traits)
    if live:
        if pictures is None:
            pictures = fake_pictures(result, **{k: v for k, v in w._payload_options.items()
                                                 if k in ("thumb_size", "source_size",
                                                          "image_format", "quality")})
        head += ('<script type="application/json" id="imacs-fake-pictures">'
                 + json.dumps(pictures).replace("<", "\\u003c") + "</script>")
        start = (FAKE_KERNEL.read_text(encoding="utf-8")
                 + "\nconst pictures = JSON.parse(document.getElementById("
                 "'imacs-fake-pictures').textContent);\n"
                 + f"const kernel = fakeKernel({{ version: {PAYLOAD_VERSION}, "
                 f"delayMs: {int(delay_ms)}, pictures }});\nwindow.__imacsKernel = kernel;\n"
                 "start({ invoke: kernel.invoke });\n")
    else:
        start = "start();\n"
    try:
        return report_page(w, title="imacs widget harness", start=start, head=head, tiles=tiles)
    finally:
        w.close()


def open_page(browser, html: str, path: Path, *, width: int = 1140, dark: bool = False):
    """Write ``html`` to ``path`` and open it (no network); waits until the views rendered."""
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 900},
                            color_scheme="dark" if dark else "light")
    page.route("http*://**", lambda route: route.abort())  # no network
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("html[data-imacs-report='ready']", timeout=15000)
    return page


def unexplained(page) -> dict:
    """Run ``js/tests/unexplained.js`` in ``page`` over the widget's root, counting only what
    is on screen: ``{"checked": int, "measured": int, "bad": [str]}`` (the numbers and charts
    checked, the elements marked ``data-imacs-measure``, and each number or chart without a
    tooltip)."""
    src = UNEXPLAINED.read_text(encoding="utf-8").replace("export function", "function")
    return page.evaluate(
        "(() => {\n" + src + "\nconst root = document.querySelector('[data-imacs-root]');\n"
        "return unexplained(root, (el) => el.getClientRects().length > 0 "
        "&& !el.closest('[hidden]'));\n})()")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--static", action="store_true", help="no kernel")
    ap.add_argument("--segments", type=int, default=400)
    ap.add_argument("--clusters", type=int, default=6)
    ap.add_argument("--view", default="clusters")
    ap.add_argument("--select", type=int, default=None, help="selected cluster (confusion view)")
    ap.add_argument("--hover", action="store_true", help="hover the first tile")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "widget-dev.png")
    ap.add_argument("--full", action="store_true", help="full-page screenshot")
    args = ap.parse_args(argv)
    args.out = args.out.resolve()
    reason = chromium_missing_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 2

    from playwright.sync_api import sync_playwright
    from synthetic_result import make_result

    result = make_result(args.segments, args.clusters)
    html = page_html(result, dark=args.dark, live=not args.static, view=args.view,
                     selected_cluster=args.select)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = open_page(browser, html, args.out.with_suffix(".html"), dark=args.dark)
        page.wait_for_timeout(300)
        if args.hover:
            page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").nth(3).hover()
            page.wait_for_timeout(200)
        print("render ms", page.evaluate("window.__imacsReport.renderMs"))
        page.screenshot(path=str(args.out), full_page=args.full)
        browser.close()
    args.out.with_suffix(".html").unlink()
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
