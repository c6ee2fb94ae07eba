"""Widget benchmark on a synthetic 1,000-segment result (prints figures; not a test).

The result is a real ComparisonResult from tests/synthetic_result.py (natural-photo
thumbnails, so payload sizes are realistic).

    python bench/bench_widget.py [--segments 1000] [--clusters 8] [--repeats 5] [--no-lab]

Measures, in Debian's Chromium (``/usr/bin/chromium``):

* payload size: ``_payload`` JSON bytes + ``_images`` buffer bytes of ``result.widget()``, and the
  size of the static report (``result.to_html``);
* first render in the static report, every request blocked: from the start of the widget's
  display (the report host starting to render) to the first ``[data-imacs-tile]`` in the page
  (and from navigation start, for context);
* re-cluster round trip in JupyterLab: slider change → the new number of cluster blocks in the
  DOM (front end → kernel re-clusters → new payload → redraw), median of ``--repeats``.

Targets: first render ≤ 1 s, re-cluster ≤ 500 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from common import tile_watch_script  # noqa: E402
from e2e.harness import (  # noqa: E402
    JupyterLab,
    LabPage,
    chromium_missing_reason,
    control_input,
    control_range,
    launch_chromium,
    write_notebook,
)
from e2e.notebooks import synthetic_cells  # noqa: E402

TILE = "[data-imacs-tile]"
CLUSTERS = '[data-imacs-view="clusters"]'
CLUSTER = f"{CLUSTERS} [data-imacs-cluster]"
SLIDER = '[data-imacs-control="n-clusters"]'
FIRST_RENDER_TARGET_S = 1.0
RECLUSTER_TARGET_S = 0.5

# Records when the first tile enters the DOM (installed before any page script runs).
_TILE_WATCH = tile_watch_script(TILE)

# Change the slider and time until the cluster blocks count the new number.
_RECLUSTER = """
([sel, blockSel, n]) => {
  const hook = document.querySelector(sel);
  const input = (hook.matches('input, select')) ? hook : hook.querySelector('input, select');
  const b = window.__benchRecluster = {t0: performance.now(), t1: null, n};
  const done = () => {
    if (b.t1 === null && document.querySelectorAll(blockSel).length === n) {
      b.t1 = performance.now();
      return true;
    }
    return false;
  };
  const obs = new MutationObserver(() => { if (done()) obs.disconnect(); });
  obs.observe(document.body, {childList: true, subtree: true, attributes: true});
  input.value = String(n);
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new Event('change', {bubbles: true}));
}
"""


def _fmt_bytes(n: int) -> str:
    return f"{n:,} B ({n / 1e6:.2f} MB)"


def payload_figures(result) -> dict:
    w = result.widget()
    try:
        payload = len(json.dumps(w._payload, separators=(",", ":")).encode())
        images = sum(len(b) for b in w._images)
    finally:
        w.close()
    return {"payload_json": payload, "image_buffers": images, "total": payload + images}


def kernel_side(result, repeats: int) -> dict:
    """What the kernel does for one re-cluster (``w.n_clusters = k``: k-means, cluster
    summaries, new payload), measured in this process without a browser."""
    w = result.widget()
    try:
        n = w.n_clusters
        times = []
        for k in [n + 1 + i for i in range(repeats)]:
            t = time.perf_counter()
            w.n_clusters = k
            times.append(time.perf_counter() - t)
        w.n_clusters = n
    finally:
        w.close()
    return {"runs": times, "median": statistics.median(times)}


def static_render(result, tmp: Path, repeats: int) -> dict:
    from playwright.sync_api import sync_playwright

    path = result.to_html(tmp / "bench-report.html")
    runs = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.route("**/*", lambda r: r.continue_() if r.request.url == path.as_uri()
                           else r.abort())
                page.add_init_script(_TILE_WATCH)
                page.goto(path.as_uri())
                page.wait_for_function("() => window.__benchTile !== null", timeout=60_000)
                r = page.evaluate("""() => ({start: window.__imacsReport.startMs,
                                              tile: window.__benchTile,
                                              render: window.__imacsReport.renderMs})""")
                runs.append({"display_to_tile": (r["tile"] - r["start"]) / 1e3,
                             "navigation_to_tile": r["tile"] / 1e3})
                page.close()
        finally:
            browser.close()
    return {"html_bytes": path.stat().st_size,
            "display_to_tile": statistics.median(x["display_to_tile"] for x in runs),
            "navigation_to_tile": statistics.median(x["navigation_to_tile"] for x in runs),
            "runs": runs}


def lab_round_trip(n_segments: int, n_clusters: int, repeats: int, tmp: Path) -> dict:
    from playwright.sync_api import sync_playwright

    nb_dir = tmp / "nb"
    nb_dir.mkdir(exist_ok=True)
    write_notebook(nb_dir / "bench.ipynb", synthetic_cells(n_segments, n_clusters))
    out = {}
    with JupyterLab(nb_dir, tmp) as lab, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            lp = LabPage(page, lab)
            lp.open("bench.ipynb", timeout=120)
            lp.run_all()
            lp.wait_cells_done([0], timeout=300)
            t0 = time.monotonic()
            page.wait_for_selector(TILE, timeout=120_000)
            out["lab_first_tile_after_setup"] = time.monotonic() - t0
            lp.wait_cells_done([0, 1, 2], timeout=300)
            lo, hi, n = control_range(page, SLIDER)
            control_input(page, SLIDER)  # fail early if the hook is missing
            targets = [k for k in range(n + 1, hi + 1)] + [k for k in range(n - 1, lo - 1, -1)]
            times = []
            for target in targets[:repeats]:
                page.evaluate(_RECLUSTER, [SLIDER, CLUSTER, target])
                page.wait_for_function("() => window.__benchRecluster.t1 !== null",
                                       timeout=60_000)
                b = page.evaluate("() => window.__benchRecluster")
                times.append((b["t1"] - b["t0"]) / 1e3)
                page.wait_for_timeout(300)  # let the busy state settle
            out["recluster_runs"] = times
            out["recluster_median"] = statistics.median(times) if times else float("nan")
        finally:
            browser.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=1000)
    ap.add_argument("--clusters", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-lab", action="store_true", help="skip the JupyterLab round trip")
    args = ap.parse_args(argv)
    reason = chromium_missing_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 2

    from synthetic_result import make_result

    t = time.monotonic()
    result = make_result(args.segments, n_clusters=args.clusters, seed=0)
    print(f"synthetic result: {result} ({time.monotonic() - t:.1f}s)")
    with tempfile.TemporaryDirectory(prefix="imacs-bench-") as td:
        tmp = Path(td)
        pf = payload_figures(result)
        print(f"payload JSON      {_fmt_bytes(pf['payload_json'])}")
        print(f"image buffers     {_fmt_bytes(pf['image_buffers'])}")
        print(f"payload total     {_fmt_bytes(pf['total'])}")
        sr = static_render(result, tmp, args.repeats)
        print(f"static report     {_fmt_bytes(sr['html_bytes'])}")
        ok = "OK" if sr["display_to_tile"] <= FIRST_RENDER_TARGET_S else "OVER TARGET"
        print(f"first render      {sr['display_to_tile'] * 1e3:.0f} ms display → first tile "
              f"(median of {len(sr['runs'])}; target ≤ {FIRST_RENDER_TARGET_S * 1e3:.0f} ms: {ok}); "
              f"{sr['navigation_to_tile'] * 1e3:.0f} ms from navigation start")
        ks = kernel_side(result, args.repeats)
        runs = ", ".join(f"{x * 1e3:.0f}" for x in ks["runs"])
        print(f"kernel re-cluster {ks['median'] * 1e3:.0f} ms w.n_clusters = k in Python alone "
              f"(k-means + summaries + payload; median; runs {runs} ms)")
        if not args.no_lab:
            lr = lab_round_trip(args.segments, args.clusters, args.repeats, tmp)
            ok = "OK" if lr["recluster_median"] <= RECLUSTER_TARGET_S else "OVER TARGET"
            runs = ", ".join(f"{x * 1e3:.0f}" for x in lr["recluster_runs"])
            print(f"re-cluster        {lr['recluster_median'] * 1e3:.0f} ms slider → new blocks in "
                  f"JupyterLab (median; runs {runs} ms; target ≤ {RECLUSTER_TARGET_S * 1e3:.0f} ms: {ok})")
            print(f"lab first render  {lr['lab_first_tile_after_setup'] * 1e3:.0f} ms from the "
                  "setup cell's end to the first tile (includes widget construction)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
