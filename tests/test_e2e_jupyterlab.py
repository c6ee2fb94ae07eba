"""End to end in JupyterLab + Debian's Chromium: a real compare() result shown by result.widget().

Builds two tiny Keras models in a notebook, runs imacs.compare(), shows the widget, then, like a
user: changes the number of clusters (checked in the DOM *and* in the kernel), opens a cluster
(confusion matrices with tiles), hovers a tile (source preview), names a cluster and runs its
what-if test (both through the kernel: result.rename_cluster / result.intervene, checked in the
DOM and in the kernel), opens the segment map (computed
by the kernel on request) and draws a lasso on it (the selection reaches result.selection in
the kernel). Two more widgets of the same notebook: three models (a checkbox each, Python's
consensus on every cluster) and one model on two datasets (the sides named by the datasets). A screenshot of
the named, tested cluster with its confusion matrices and a source preview goes to
``$IMACS_SCREENSHOT`` (default: the test's tmp dir; ``docs/jupyterlab-e2e.png`` is made so).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from e2e.harness import (  # noqa: E402
    JupyterLab,
    LabPage,
    chromium_missing_reason,
    control_range,
    launch_chromium,
    set_control,
    write_notebook,
)
from e2e.notebooks import (  # noqa: E402
    DATASETS,
    PRINT_STATE,
    REAL_COMPARE,
    SHOW_WIDGET,
    THREE_MODELS,
)
from widget_harness import fit_png  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_MISSING = chromium_missing_reason()

W1 = ":nth-match([data-imacs-root], 1)"  # the pair's widget; the second one shows 3 models
W3 = ":nth-match([data-imacs-root], 2)"
WD = ":nth-match([data-imacs-root], 3)"  # one model on two datasets
CLUSTERS = f'{W1} [data-imacs-view="clusters"]'
CLUSTER = "[data-imacs-cluster]"
SLIDER = f'{W1} [data-imacs-control="n-clusters"]'
CONFUSION = f'{W1} [data-imacs-view="confusion"]'
TILE = "[data-imacs-tile]"
SOURCE = f'{W1} [data-imacs-view="source"]'


def _state(lab_page: LabPage, cell: dict) -> dict[str, str]:
    text = lab_page.text(cell)
    line = next((ln for ln in text.splitlines() if ln.startswith("STATE ")), None)
    assert line, f"no STATE line in the cell output: {text!r}"
    return dict(kv.split("=", 1) for kv in line.split()[1:])


# Records each progress state the first widget shows (the _progress trait, set by the kernel
# from inside the running "_intervene" command): its data-imacs-progress, texts, when it was
# seen, and whether the test's results were there yet.
_WATCH_PROGRESS = """() => {
  const root = document.querySelectorAll('[data-imacs-root]')[0];
  const seen = window.imacsProgressSeen = [];
  const t0 = performance.now();
  const look = () => {
    const p = root.querySelector('.imacs-busy:not([hidden]) [data-imacs-progress]');
    const v = p ? p.dataset.imacsProgress : null;
    if (seen.length && seen[seen.length - 1].v === v) return;
    const b = root.querySelector('[data-imacs-intervene][data-imacs-measure="progress"]');
    seen.push({v, t: performance.now() - t0, text: p ? p.textContent : null,
               tip: p ? p.title : null, button: b ? b.textContent : null,
               results: !!root.querySelector('[data-imacs-whatif]')});
  };
  new MutationObserver(look).observe(root, {subtree: true, childList: true, attributes: true,
                                            characterData: true});
}"""


def _check_progress(seen: list[dict]) -> None:
    """The what-if test's progress reached the page while the test ran: states counting up from
    0 to their total, shown in the overlay and on the button before the results arrived, then
    gone."""
    import re

    print("progress seen:", seen)
    states = [s for s in seen if s["v"] is not None]
    assert states, seen
    assert states[0]["v"].startswith("0/"), seen
    counts = [tuple(map(int, s["v"].split("/"))) for s in states]
    total = counts[0][1]
    assert total > 0 and all(n == total for _, n in counts), seen
    assert [d for d, _ in counts] == sorted(d for d, _ in counts), seen
    for s in states:
        assert not s["results"], s  # before the answer and its new payload
        assert re.fullmatch(r"What-if test: [\d,]+ / [\d,]+ images", s["text"]), s
        assert s["button"].startswith("running what-if test… "), s
        assert "How far the what-if test in the kernel is" in s["tip"], s
    assert seen[-1]["v"] is None, seen
    # every state reached the page before the command's answer (asserted above), from 0 to
    # the total. How far apart they arrive is not asserted: the server and the browser may
    # deliver a running command's messages in one burst (seen 1 ms to 144 ms apart on one
    # machine); tests/test_widget_progress.py checks in the kernel that the trait goes
    # through its values while the test runs.
    assert len(states) >= 2 and states[-1]["v"] == f"{total}/{total}", seen


@pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))
def test_widget_in_jupyterlab(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    t_start = time.monotonic()
    shot = Path(os.environ.get("IMACS_SCREENSHOT") or tmp_path / "imacs-jupyterlab.png")
    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    write_notebook(nb_dir / "e2e.ipynb", [REAL_COMPARE, SHOW_WIDGET, PRINT_STATE, THREE_MODELS,
                                          DATASETS])

    with JupyterLab(nb_dir, tmp_path) as lab, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            lp = LabPage(page, lab)
            try:
                lp.open("e2e.ipynb", timeout=120)
                lp.run_all()
                cells = lp.wait_cells_done([0, 1, 2, 3, 4], timeout=300)
                state0 = _state(lp, cells[2])

                # -- three models: a checkbox each, Python's consensus on every cluster ---------
                three = next(ln for ln in lp.text(cells[3]).splitlines() if ln.startswith("THREE"))
                expected = [kv.split(":")[1] for kv in three.split()[1:]]
                boxes = page.locator(f"{W3} [data-imacs-control='models'] input")
                expect(boxes).to_have_count(3)
                badges = page.locator(f"{W3} [data-imacs-view='clusters'] [data-imacs-consensus]")
                expect(badges).to_have_count(len(expected))
                assert [badges.nth(k).get_attribute("data-imacs-consensus")
                        for k in range(len(expected))] == expected
                # trust: every model's faithfulness and the kernel's sanity verdicts
                sanity = next(ln for ln in lp.text(cells[3]).splitlines()
                              if ln.startswith("SANITY")).split()[1:]
                expect(page.locator(f"{W3} [data-imacs-faithfulness]")).to_have_count(3)
                chips = page.locator(f"{W3} [data-imacs-sanity]")
                expect(chips).to_have_count(3)
                assert [chips.nth(k).get_attribute("data-imacs-sanity") for k in range(3)] == sanity
                # each model's class picture, computed by the kernel, decoded in the header
                widths = dict(kv.split(":") for kv in next(
                    ln for ln in lp.text(cells[3]).splitlines()
                    if ln.startswith("PICTURES")).split()[1:])
                figs = page.locator(f"{W3} [data-imacs-class-picture]")
                expect(figs).to_have_count(3)
                got = figs.evaluate_all(
                    "els => Promise.all(els.map(async (e) => { const i = e.querySelector('img'); "
                    "await i.decode(); return [e.dataset.imacsClassPicture, "
                    "String(i.naturalWidth)]; }))")
                assert dict(got) == widths

                # -- one model on two datasets: the sides are the datasets ----------------------
                assert "DATASETS originals negatives" in lp.text(cells[4])
                legend = page.locator(f"{WD} .imacs-legend")
                expect(legend).to_contain_text("originals")
                expect(legend).to_contain_text("negatives")
                expect(page.locator(f"{WD} [data-imacs-view='clusters'] .imacs-row-B").first
                       ).to_be_visible()

                page.locator(CLUSTERS).first.wait_for(state="visible")
                blocks = page.locator(f"{CLUSTERS} {CLUSTER}")
                expect(blocks.first).to_be_visible()
                n0 = blocks.count()
                assert n0 == int(state0["n_clusters"]) == int(state0["clusters"]), (n0, state0)

                # -- the number of clusters: DOM and kernel -------------------------------------
                lo, hi, value = control_range(page, SLIDER)
                assert value == n0, (lo, hi, value, n0)
                n1 = n0 + 1 if n0 + 1 <= hi else n0 - 1
                assert lo <= n1 <= hi and n1 != n0, (lo, hi, n0)
                set_control(page, SLIDER, n1)
                expect(blocks).to_have_count(n1, timeout=60_000)
                lp.run_cell(2)
                cells = lp.wait_cells_done([2], previous={2: cells[2]["count"]}, timeout=60)
                state1 = _state(lp, cells[2])
                assert int(state1["n_clusters"]) == n1, state1
                assert int(state1["clusters"]) == n1, state1

                # -- open a cluster: confusion matrices with tiles ------------------------------
                blocks.first.click()
                confusion = page.locator(CONFUSION).first
                expect(confusion).to_be_visible()
                tiles = page.locator(f"{CONFUSION} {TILE}")
                expect(tiles.first).to_be_visible()
                assert tiles.count() > 0

                # -- hover a tile: the source image ---------------------------------------------
                tiles.first.hover()
                expect(page.locator(SOURCE).first).to_be_visible()

                # -- a name and a what-if test, through the kernel -------------------------------
                first = blocks.first
                first.locator("[data-imacs-edit]").click()
                page.locator(f"{W1} [data-imacs-form] [data-imacs-draft='name']").fill("watermark")
                page.locator(f"{W1} [data-imacs-form] [data-imacs-edit-save]").click()
                expect(page.locator(f"{CLUSTERS} [data-imacs-name]")).to_have_text("“watermark”")
                expect(page.locator(f"{W1} [data-imacs-form]")).to_have_count(0)
                page.evaluate(_WATCH_PROGRESS)  # every progress state the widget shows, timed
                blocks.first.locator("[data-imacs-intervene]").click()
                panel = page.locator(f"{CLUSTERS} [data-imacs-whatif]")
                expect(panel).to_be_visible(timeout=180_000)
                expect(page.locator(f"{W1} [data-imacs-progress]")).to_have_count(0)
                _check_progress(page.evaluate("() => window.imacsProgressSeen"))
                expect(panel.locator("[data-imacs-whatif-model]")).to_have_count(2)
                lp.run_cell(2)
                cells = lp.wait_cells_done([2], previous={2: cells[2]["count"]}, timeout=60)
                named = _state(lp, cells[2])
                assert (named["named"], named["tested"]) == ("1", "1"), named

                # -- the screenshot (docs/jupyterlab-e2e.png): the named, tested cluster with its
                # what-if results and confusion matrices, a tile's source preview ---------------
                expect(page.locator(f"{CLUSTERS} {CLUSTER}").first.locator(
                    "[data-imacs-whatif]")).to_be_visible()
                expect(confusion).to_be_visible()  # the cluster opened above stays open
                blocks.first.evaluate(  # at the top of the notebook's scroller, its border shown
                    "el => { el.scrollIntoView({block: 'start'}); let p = el.parentElement; "
                    "while (p && p.scrollHeight <= p.clientHeight) p = p.parentElement; "
                    "if (p) p.scrollTop -= 12; }")
                page.locator(f"{CONFUSION} {TILE}").first.hover()
                expect(page.locator(SOURCE).first).to_be_visible()
                page.wait_for_timeout(300)
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot))
                fit_png(shot, 400_000)

                # -- the segment map: computed by the kernel, a lasso reaches result.selection ----
                page.locator(f"{W1} [data-imacs-tab='map']").click()
                canvas = page.locator(f"{W1} [data-imacs-map-canvas]")
                expect(canvas).to_be_visible(timeout=180_000)  # UMAP's first run compiles
                box = canvas.bounding_box()
                x0, y0 = box["x"] + 8, box["y"] + 8
                x1, y1 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                page.mouse.move(x0, y0)
                page.mouse.down()
                for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)):
                    page.mouse.move(x, y, steps=4)
                page.mouse.up()
                count = page.locator(f"{W1} [data-imacs-map-count]")
                expect(count).not_to_have_attribute("data-imacs-map-count", "0")
                n_sel = int(count.get_attribute("data-imacs-map-count"))
                lp.run_cell(2)
                cells = lp.wait_cells_done([2], previous={2: cells[2]["count"]}, timeout=60)
                state2 = _state(lp, cells[2])
                assert state2["map"] in ("umap", "tsne"), state2
                assert int(state2["lasso"]) == n_sel > 0, (state2, n_sel)

                errors = [m for m in lp.console if m.startswith("pageerror")]
                assert not errors, errors
            except Exception:
                try:
                    page.screenshot(path=str(shot.with_name(shot.stem + "-failure.png")),
                                    full_page=True)
                except Exception:
                    pass
                print(lp.debug())
                raise
        finally:
            browser.close()
    print(f"e2e JupyterLab wall time {time.monotonic() - t_start:.1f}s; screenshot {shot}")
