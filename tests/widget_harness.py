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

The documentation's screenshots (``docs/*.png``, shown on the site and in the README)::

    python tests/widget_harness.py --select 4 --hover --hover-tile 1 --close-guide
                                                    # docs/widget-dev.png
    python tests/widget_harness.py --dark --view histogram --close-guide \
        --out docs/widget-dev-dark.png
    python tests/widget_harness.py --guide          # docs/widget-guide.png (see --guide)

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

__all__ = ["CHROMIUM", "STATIC", "chromium_missing_reason", "fake_pictures", "fit_png",
           "guide_result", "launch_chromium", "open_page", "page_html", "unexplained"]

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


def guide_result(seed: int = 0, progress: bool = False):
    """The result of ``--guide``: the demo's watermark scenario (:func:`~imacs_widget.demo.run.
    run_demo`: two small CNNs trained, B on watermarked images; about two minutes on two
    cores), its top finding's cluster named "watermark", noted and given its what-if test.

    Returns
    -------
    (ComparisonResult, int)
        The result and the cluster named and tested.
    """
    from imacs_widget.demo.run import run_demo

    result = run_demo(seed=seed, progress=progress, verbose=False, report=False,
                      class_pictures=False)["_result"]
    found = result.findings()
    top = int(found["cluster"].iloc[0]) if len(found) else int(result.clusters[0]["id"])
    result.rename_cluster(top, "watermark")
    result.annotate_cluster(top, "B's shortcut: the 'IM' watermark, not the shape.")
    result.intervene(top, progress=progress)
    return result, top


def _down_to_tested_cluster(page) -> dict | None:
    """The screenshot's clip from the top of the page to the bottom of the first cluster block
    with a what-if test (clusters or histogram tab), or None when there is none."""
    box = page.evaluate(
        "(() => { const w = document.querySelector(\"[data-imacs-view] "
        "[data-imacs-whatif]\"); const b = w && w.closest('[data-imacs-cluster]'); if (!b) "
        "return null; const r = b.getBoundingClientRect(); return {bottom: r.bottom + "
        "window.scrollY, width: document.documentElement.scrollWidth}; })()")
    if not box:
        return None
    return {"x": 0, "y": 0, "width": box["width"], "height": int(box["bottom"]) + 12}


def fit_png(path: Path, max_bytes: int) -> int:
    """Keep the screenshot ``path`` under ``max_bytes`` for the documentation: re-encoded
    (optimised) and, when still larger, stored with a 256-colour palette.

    Returns
    -------
    int
        The file's size in bytes.
    """
    from PIL import Image

    if path.stat().st_size <= max_bytes:
        return path.stat().st_size
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    rgb.save(path, optimize=True)
    if path.stat().st_size > max_bytes:
        rgb.quantize(256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    return path.stat().st_size


def _load_result(path: Path):
    """A saved result (``result.save``), e.g. the one ``--guide --save PATH`` wrote."""
    import imacs_widget as imacs

    return imacs.load(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--static", action="store_true", help="no kernel")
    ap.add_argument("--segments", type=int, default=400)
    ap.add_argument("--clusters", type=int, default=6)
    ap.add_argument("--view", default="clusters")
    ap.add_argument("--select", type=int, default=None, help="selected cluster (confusion view)")
    ap.add_argument("--hover", action="store_true", help="hover a tile (--hover-tile)")
    ap.add_argument("--hover-tile", type=int, default=3,
                    help="which tile of the clusters tab --hover hovers (0: the first)")
    ap.add_argument("--close-guide", action="store_true",
                    help="close the 'How to read this' panel (open on first view)")
    ap.add_argument("--guide", action="store_true",
                    help="'How to read this' and a named cluster with its what-if test: the demo's "
                    "watermark scenario (models trained, a few minutes), its top finding named "
                    "and tested (guide_result); default --out docs/widget-guide.png")
    ap.add_argument("--result", type=Path, default=None,
                    help="show this saved result instead of the synthetic one")
    ap.add_argument("--save", type=Path, default=None,
                    help="save the result shown (e.g. --guide's, for --result later)")
    ap.add_argument("--height", type=int, default=900, help="viewport height, pixels")
    ap.add_argument("--out", type=Path, default=None,
                    help="the PNG (default docs/widget-dev.png; with --guide docs/widget-guide.png)")
    ap.add_argument("--full", action="store_true", help="full-page screenshot")
    ap.add_argument("--max-kb", type=int, default=400,
                    help="a larger PNG is stored with a 256-colour palette (fit_png)")
    args = ap.parse_args(argv)
    default = "widget-guide.png" if args.guide else "widget-dev.png"
    args.out = (args.out or ROOT / "docs" / default).resolve()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    reason = chromium_missing_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 2

    from playwright.sync_api import sync_playwright
    from synthetic_result import make_result

    top = None
    if args.result is not None:
        result = _load_result(args.result)
    elif args.guide:
        result, top = guide_result()
    else:
        result = make_result(args.segments, args.clusters)
    if args.save is not None:
        result.save(args.save)
    html = page_html(result, dark=args.dark, live=not args.static, view=args.view,
                     selected_cluster=args.select)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = open_page(browser, html, args.out.with_suffix(".html"), dark=args.dark)
        page.set_viewport_size({"width": 1140, "height": args.height})
        page.add_style_tag(content=".imacs-report-header{display:none}")  # the harness's title
        page.wait_for_timeout(300)
        if args.close_guide:
            page.locator(".imacs-guide > summary").click()
        if top is not None:  # the named, tested cluster is on the page
            page.locator("[data-imacs-view] [data-imacs-whatif]").first.wait_for(state="visible")
        page.wait_for_function("() => !document.querySelector('[data-imacs-pending]')",
                               timeout=30000)
        if args.hover:
            page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").nth(args.hover_tile
                                                                               ).hover()
            page.wait_for_timeout(200)
        print("render ms", page.evaluate("window.__imacsReport.renderMs"))
        clip = None
        if args.guide or args.result is not None:
            clip = _down_to_tested_cluster(page)
        if clip is not None:  # from the top to the end of the named, tested cluster
            page.screenshot(path=str(args.out), full_page=True, clip=clip)
        else:
            page.screenshot(path=str(args.out), full_page=args.full)
        browser.close()
    args.out.with_suffix(".html").unlink()
    fit_png(args.out, args.max_kb * 1000)
    print(args.out, f"{args.out.stat().st_size / 1000:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
