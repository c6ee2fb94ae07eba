"""Segment map benchmark at scale (prints figures; not a test).

    python bench/bench_map.py [--segments 100000] [--clusters 8] [--repeats 3] [--method auto]

A real 100,000-segment ComparisonResult (``tests/synthetic_result.make_large_result``), then:

* **kernel side**: ``result.segment_map(method)`` (UMAP with umap-learn, else PCA + t-SNE; fitted
  on 3,000 segments, the others placed by their neighbours) and the bytes the ``_map`` command
  answers (two uint16 per segment);
* **in Debian's Chromium** (``/usr/bin/chromium``), on the harness page of the live widget with
  the fake kernel (``js/tests/fake_kernel.js``) answering ``_map`` with those bytes: the map tab
  click → the canvas drawn (wall time in the page, and the draw itself), a colour change
  (cluster → attribution) redraw, and a lasso around a quarter of the map (a real mouse drag)
  → the selection set and every view redrawn.

Target (issue 10): a 100,000-point map renders in under 1 s in Chromium.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from e2e.harness import chromium_missing_reason, launch_chromium  # noqa: E402

RENDER_TARGET_S = 1.0

_START = """
const mapBytes = document.getElementById('imacs-map-bytes').textContent;
const bin = atob(mapBytes), u = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
const kernel = fakeKernel({ version: __VERSION__, delayMs: 0, handlers: {
  _map: (model) => [{ ok: true, method: "__METHOD__", count: u.length / 4 }, [new DataView(u.buffer)]],
} });
start({ invoke: kernel.invoke });
"""

_WAIT_CANVAS = """() => new Promise((ok) => {
  const t0 = performance.now();
  const tab = document.querySelector("[data-imacs-tab='map']");
  const look = () => {
    const c = document.querySelector("[data-imacs-map-canvas]");
    if (c && c.imacsMap) { requestAnimationFrame(() => ok({ wall: performance.now() - t0, draw: c.imacsMap.drawMs })); return; }
    requestAnimationFrame(look);
  };
  tab.click(); look();
})"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", type=int, default=100_000)
    ap.add_argument("--clusters", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--method", default="auto", choices=("auto", "umap", "tsne", "pca"))
    args = ap.parse_args(argv)

    from synthetic_result import make_large_result

    from imacs_widget.widget.payload import PAYLOAD_VERSION, map_column
    from imacs_widget.widget.report import page_html
    from imacs_widget.widget.widget import ImacsWidget

    t0 = time.perf_counter()
    result = make_large_result(args.segments, args.clusters)
    print(f"result: {len(result.segments)} segments, {result.n_clusters} clusters "
          f"({time.perf_counter() - t0:.1f} s to build)")
    t0 = time.perf_counter()
    result.segment_map(args.method)
    t_map = time.perf_counter() - t0
    raw = map_column(result.segments).astype("<u2").tobytes()
    print(f"kernel: segment_map({args.method!r}) -> {result.map_method} in {t_map:.1f} s; "
          f"_map answer {len(raw) / 1e6:.2f} MB")
    # the live widget without the map in its payload: the tab asks "_map"
    result._active.segments = result.segments.drop(columns=["map_x", "map_y"])
    w = ImacsWidget(result)
    head = (f'<script type="application/json" id="imacs-map-bytes">'
            f'{base64.b64encode(raw).decode()}</script>')
    start = _START.replace("__VERSION__", str(PAYLOAD_VERSION)).replace("__METHOD__",
                                                                        result.map_method or "")
    html = page_html(w, title="imacs map bench", head=head, tiles="first",
                     start=_fake_kernel_js() + start)
    reason = chromium_missing_reason()
    if reason:
        print(f"browser: skipped ({reason})")
        return 0
    from playwright.sync_api import sync_playwright

    path = Path("/tmp/imacs-map-bench.html")
    path.write_text(html, encoding="utf-8")
    walls, draws, recolours, lassos, errors = [], [], [], [], []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            for _ in range(args.repeats):
                page = browser.new_page(viewport={"width": 1300, "height": 1000})
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.route("http*://**", lambda route: route.abort())
                page.goto(path.resolve().as_uri())
                page.wait_for_selector("html[data-imacs-report='ready']", timeout=60_000)
                r = page.evaluate(_WAIT_CANVAS)
                walls.append(r["wall"])
                draws.append(r["draw"])
                t = page.evaluate("""() => new Promise((ok) => { const t0 = performance.now();
                    const s = document.querySelector("[data-imacs-control='map-color']");
                    s.value = 'attribution'; s.dispatchEvent(new Event('change', {bubbles: true}));
                    requestAnimationFrame(() => ok(performance.now() - t0)); })""")
                recolours.append(t)
                box = page.locator("[data-imacs-map-canvas]").bounding_box()
                x0, y0 = box["x"] + 4, box["y"] + 4
                x1, y1 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                page.mouse.move(x0, y0)
                page.mouse.down()
                for x, y in ((x1, y0), (x1, y1), (x0, y1)):
                    page.mouse.move(x, y, steps=8)
                t1 = time.perf_counter()
                page.mouse.up()
                page.wait_for_function("() => { const c = document.querySelector('[data-imacs-map-count]');"
                                       " return c && c.dataset.imacsMapCount !== '0'; }")
                lassos.append((time.perf_counter() - t1) * 1000)
                n_sel = page.evaluate("document.querySelector('[data-imacs-map-count]').dataset.imacsMapCount")
                page.close()
        finally:
            browser.close()
    if errors:
        print(f"browser: page errors {errors[:3]}")
    med = statistics.median
    print(f"browser: map tab -> {len(result.segments)} points drawn: {med(walls):.0f} ms "
          f"(runs {', '.join(f'{v:.0f}' for v in walls)}; the canvas draw {med(draws):.0f} ms) "
          f"target {RENDER_TARGET_S * 1000:.0f} ms: {'met' if med(walls) / 1000 <= RENDER_TARGET_S else 'NOT met'}")
    print(f"browser: colour change redraw {med(recolours):.0f} ms; lasso of a quarter "
          f"({n_sel} points) -> selection and views redrawn {med(lassos):.0f} ms")
    return 0


def _fake_kernel_js() -> str:
    """js/tests/fake_kernel.js, inlined into the page's module script (the harness' way)."""
    return (ROOT / "js" / "tests" / "fake_kernel.js").read_text(encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
