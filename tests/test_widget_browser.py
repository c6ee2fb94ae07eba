"""The built front end in headless Chromium, without Jupyter (tests/widget_harness.py).

The pages are static-report pages (the real widget state, the built bundle
imacs_widget/static/widget.js, the production host report_host.js), with or without the fake
kernel of js/tests/fake_kernel.js. Checks the test hooks, escaping of user text in a real
browser, the client-side controls (which must work without a kernel), the kernel-only
controls' states and commands, and render time for 1,000 segments. The JupyterLab end-to-end
test (a real kernel) is tests/test_e2e_jupyterlab.py.
"""

from __future__ import annotations

import re
import time

import pytest
from synthetic_result import make_result
from widget_harness import (
    STATIC,
    chromium_missing_reason,
    launch_chromium,
    open_page,
    page_html,
    unexplained,
)

pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=alert(1)>"
_skip = chromium_missing_reason()
if _skip is None and not (STATIC / "widget.js").exists():
    _skip = "front end not built (npm --prefix js run build)"
if _skip:
    pytestmark = [pytestmark, pytest.mark.skip(reason=_skip)]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def _open(browser, tmp_path, result, **kw):
    page = open_page(browser, page_html(result, **kw), tmp_path / "w.html")
    page.errors = []
    page.dialogs = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    return page


def test_1000_segments_render(browser, tmp_path):
    result = make_result(1000, 10)
    t0 = time.monotonic()
    page = _open(browser, tmp_path, result)
    ms = page.evaluate("window.__imacsReport.renderMs")
    print(f"render of 1000 segments: {ms:.0f} ms in the page, {time.monotonic() - t0:.1f} s load")
    assert ms < 3000
    for view in ("clusters", "histogram", "source"):
        assert page.locator(f"[data-imacs-view='{view}']").count() == 1
    for control in ("n-clusters", "class", "order", "inner-order", "outcomes", "models"):
        assert page.locator(f"[data-imacs-control='{control}']").count() == 1
    assert page.locator("[data-imacs-view='clusters'] [data-imacs-cluster]").count() == 10
    # thumbnails really decode: the sprite sheet is a loaded image of the expected size
    size = page.evaluate("""() => new Promise((ok) => {
        const v = getComputedStyle(document.querySelector('.imacs-root')).getPropertyValue('--imacs-p0');
        const url = v.trim().slice(5, -2); const im = new Image();
        im.onload = () => ok([im.naturalWidth, im.naturalHeight]); im.onerror = () => ok(null); im.src = url; })""")
    assert size and size[0] == 32 * 48
    assert not page.errors
    page.close()


def test_user_text_is_escaped(browser, tmp_path):
    result = make_result(60, 3, class_names=[EVIL, "daisy", "sunflower", "rose", "x"],
                         target_class=0, extra_classes=(2,),
                         model_names={"A": EVIL, "B": "<b>B</b>"})
    page = _open(browser, tmp_path, result)
    page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").first.hover()
    page.locator("[data-imacs-view='source']").wait_for(state="visible")
    page.locator("[data-imacs-view='clusters'] [data-imacs-cluster]").first.click()
    page.locator("[data-imacs-view='confusion']").wait_for(state="visible")
    page.wait_for_timeout(200)
    assert page.locator(".imacs-root img, .imacs-root b, .imacs-root script").count() == 0
    assert EVIL in page.locator(".imacs-root").inner_text()
    assert not page.dialogs and not page.errors
    page.close()


def test_client_side_controls_without_kernel(browser, tmp_path):
    result = make_result(200, 5, extra_classes=(0,))
    page = _open(browser, tmp_path, result, live=False)
    # kernel-only controls are disabled in a static page
    assert page.locator("[data-imacs-control='n-clusters']").is_disabled()
    assert page.locator("[data-imacs-control='class']").is_disabled()

    def ids():
        return page.eval_on_selector_all("[data-imacs-view='clusters'] [data-imacs-cluster]",
                                         "els => els.map(e => +e.dataset.imacsCluster)")

    by_imbalance = ids()
    page.select_option("[data-imacs-control='order']", "size")
    sizes = page.eval_on_selector_all(
        "[data-imacs-view='clusters'] .imacs-cluster-meta", "els => els.map(e => parseInt(e.textContent))")
    assert sorted(ids()) == sorted(by_imbalance)
    assert page.evaluate("window.__imacsReport.models[0].get('order')") == "size"
    assert sizes == sorted(sizes, reverse=True) and len(sizes) == 5

    total = page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").count()
    page.locator("[data-imacs-control='outcomes'] input[value='TN']").uncheck()
    assert page.locator("[data-imacs-view='clusters'] .imacs-o-TN[data-imacs-tile]").count() == 0
    assert page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").count() < total
    page.locator("[data-imacs-control='models'] input[value='B']").uncheck()
    assert page.locator("[data-imacs-view='clusters'] .imacs-row-B").count() == 0

    page.select_option("[data-imacs-control='inner-order']", "centroid")
    page.locator("[data-imacs-tab='histogram']").click()
    hist = page.locator("[data-imacs-view='histogram']")
    assert hist.is_visible()
    hist.locator("[data-imacs-cluster]").first.click()
    conf = page.locator("[data-imacs-view='confusion']")
    assert conf.is_visible()
    assert conf.locator(".imacs-matrix").count() == 1  # only model A is shown
    conf.locator("[data-imacs-tile]").first.hover()
    src = page.locator("[data-imacs-view='source']")
    src.wait_for(state="visible")
    assert "Image" in src.inner_text()
    box = src.locator(".imacs-source-box").bounding_box()
    assert box and box["width"] > 5
    assert not page.errors
    page.close()


def test_live_kernel_controls(browser, tmp_path):
    # two classes with different segment counts: the slider offers what recluster accepts
    result = make_result(120, 4, extra_classes=(0,), extra_segments=30)
    page = _open(browser, tmp_path, result, live=True)
    slider = page.locator("[data-imacs-control='n-clusters']")
    page.wait_for_function("!document.querySelector(\"[data-imacs-control='n-clusters']\").disabled")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("1", "30")
    slider.fill("6")
    sent = page.evaluate("window.__imacsKernel.sent")
    assert {"name": "_recluster", "msg": {"n_clusters": 6}} in sent
    assert sent[0] == {"name": "_ping", "msg": {}}
    assert page.locator(".imacs-busy").is_visible()
    assert slider.is_disabled()
    # the fake kernel answers after 400 ms: the busy state ends, the trait followed
    page.locator(".imacs-busy").wait_for(state="hidden")
    assert page.evaluate("window.__imacsReport.models[0].get('n_clusters')") == 6
    assert slider.input_value() == "6" and not slider.is_disabled()
    page.select_option("[data-imacs-control='class']", "tulip")
    page.locator(".imacs-busy").wait_for(state="hidden")
    assert {"name": "_select_class", "msg": {"target_class": "tulip"}} in \
        page.evaluate("window.__imacsKernel.sent")
    assert not page.errors
    page.close()


def test_dark_theme_screenshot(browser, tmp_path):
    result = make_result(120, 4)
    page = _open(browser, tmp_path, result, dark=True)
    bg = page.evaluate("getComputedStyle(document.querySelector('.imacs-root')).backgroundColor")
    fg = page.evaluate("getComputedStyle(document.querySelector('.imacs-root')).color")
    assert bg == "rgb(17, 17, 17)" and fg.startswith("rgba(255, 255, 255")
    page.screenshot(path=str(tmp_path / "dark.png"))
    page.close()


def test_more_and_drill_down_fetch_tiles_from_the_kernel(browser, tmp_path):
    """A "+N more" click and a confusion drill-down ask the (fake) kernel for pages of tiles
    ("_tiles"); the tiles appear, and the expanded row keeps only its visible tiles in the DOM."""
    result = make_result(1200, 2)
    page = _open(browser, tmp_path, result, live=True)
    page.wait_for_function("() => !document.querySelector(\"[data-imacs-control='n-clusters']\").disabled")
    first = page.locator("[data-imacs-view='clusters'] [data-imacs-cluster]").first
    row = first.locator(".imacs-row-A")
    length = int(first.locator(".imacs-cluster-mean").first.inner_text().split(" ")[0])
    assert length > 100
    assert page.evaluate("window.__imacsKernel.sent.filter(c => c.name === '_tiles').length") == 0
    row.locator("[data-imacs-more]").click()
    pending = "[data-imacs-view='clusters'] [data-imacs-pending]"
    page.wait_for_function(f"() => document.querySelectorAll(\"{pending}\").length === 0")
    asks = page.evaluate("window.__imacsKernel.sent.filter(c => c.name === '_tiles').map(c => c.msg)")
    asks = [a for a in asks if a["atlas"] == "thumbs"]  # (a hover on the way asks for a source)
    assert asks and all(1 <= len(a["ids"]) <= 256 for a in asks)
    in_dom = row.locator("[data-imacs-tile]").count()
    assert 30 < in_dom < length  # virtualised: only the lines in view
    shown = set(row.locator("[data-imacs-tile]").evaluate_all("els => els.map(e => +e.dataset.imacsTile)"))
    in_block = set(first.locator("[data-imacs-tile]").evaluate_all("els => els.map(e => +e.dataset.imacsTile)"))
    assert {i for a in asks for i in a["ids"]} <= in_block  # (both rows of the cluster expand)
    # the painted tile points at a fetched sheet that decodes
    size = page.evaluate("""() => new Promise((ok) => {
        const img = document.querySelector("[data-imacs-view='clusters'] .imacs-vrow .imacs-tile-img");
        const v = img.style.backgroundImage.slice(4, -1);
        const url = getComputedStyle(document.querySelector('.imacs-root')).getPropertyValue(v).trim().slice(5, -2);
        const im = new Image(); im.onload = () => ok(im.naturalWidth); im.onerror = () => ok(null); im.src = url; })""")
    assert size and size > 0
    # scrolling the row renders the next lines (and fetches them)
    before = page.evaluate("window.__imacsKernel.sent.length")
    row.locator("[data-imacs-vrow]").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_function(f"() => window.__imacsKernel.sent.length > {before}")
    page.wait_for_function(f"() => document.querySelectorAll(\"{pending}\").length === 0")
    last = set(row.locator("[data-imacs-tile]").evaluate_all("els => els.map(e => +e.dataset.imacsTile)"))
    assert last != shown
    # drill-down: the confusion cells' tiles come the same way
    n_asked = page.evaluate("window.__imacsKernel.sent.length")
    page.locator("[data-imacs-view='clusters'] [data-imacs-cluster]").nth(1).locator(".imacs-cluster-title").click()
    conf = page.locator("[data-imacs-view='confusion']")
    conf.wait_for(state="visible")
    page.wait_for_function("() => document.querySelectorAll(\"[data-imacs-view='confusion'] [data-imacs-pending]\").length === 0")
    assert conf.locator("[data-imacs-tile]").count() > 0
    assert page.evaluate("window.__imacsKernel.sent.length") > n_asked
    pages = page.evaluate("document.querySelector('[data-imacs-root]').imacsPages")
    print(f"pages fetched: {len(pages)}, tiles per page {[p['added'] for p in pages]}, "
          f"ms {[round(p['ms']) for p in pages]}")
    assert not page.errors
    page.close()


def test_static_report_rows_say_how_many_tiles_they_left_out(browser, tmp_path):
    result = make_result(1200, 2)
    page = _open(browser, tmp_path, result, live=False)
    notes = page.locator("[data-imacs-view='clusters'] [data-imacs-left-out]")
    assert notes.count() > 0
    left = int(notes.first.get_attribute("data-imacs-left-out"))
    assert left > 0 and f"{left} more not in this report" in notes.first.inner_text()
    assert page.locator("[data-imacs-pending]").count() == 0
    assert not page.errors
    page.close()


def test_three_real_models_in_the_browser(browser, tmp_path, tiny_models, tiny_images):
    """A real compare() of three Keras CNNs in the static report: a checkbox, a legend entry,
    a row and a preview line per model, each cluster's consensus "k of 3"; hiding a model."""
    from conftest import quick_compare, tiny_cnn

    x, y = tiny_images
    result = quick_compare({"v1": tiny_models[0], "v2": tiny_models[1], "v3": tiny_cnn(seed=3)},
                           x, y, sampling="balanced", n_per_model=16, n_clusters=4)
    result.sanity_check(n_images=4, progress=False)
    pictures = result.class_pictures(n_starts=4, steps=5, progress=False)
    page = _open(browser, tmp_path, result, live=False)
    # each model's class picture side by side in the header, decoded at its size
    figs = page.eval_on_selector_all(
        "[data-imacs-class-picture]", "els => Promise.all(els.map(async (e) => { const i = "
        "e.querySelector('img'); await i.decode(); return [e.dataset.imacsClassPicture, "
        "i.naturalWidth]; }))")
    assert figs == [[m, pictures["picture"][k].shape[1]] for k, m in enumerate("ABC")]
    # trust: each model's faithfulness and sanity verdict in the header (Python's numbers),
    # a removal effect on every model row of a cluster that model has segments in
    faith = page.eval_on_selector_all("[data-imacs-faithfulness]",
                                      "els => els.map(e => [e.dataset.imacsFaithfulness, e.textContent])")
    table = result.faithfulness["faithfulness"]
    assert [m for m, _ in faith] == ["A", "B", "C"]
    for m, text in faith:
        assert abs(float(text.split("faith ")[1]) - table[m]) <= 5e-4, (m, text)
    verdicts = page.eval_on_selector_all("[data-imacs-sanity]", "els => els.map(e => e.dataset.imacsSanity)")
    assert verdicts == ["pass" if result.sanity_verdicts[m]["passed"] else "fail" for m in "ABC"]
    n_removal = sum(1 for c in result.clusters for m in "ABC" if c["removal"][m] is not None)
    assert page.locator("[data-imacs-view='clusters'] [data-imacs-removal]").count() == n_removal > 0
    boxes = page.eval_on_selector_all("[data-imacs-control='models'] input",
                                      "els => els.map(e => [e.value, e.checked])")
    assert boxes == [["A", True], ["B", True], ["C", True]]
    legend = page.locator(".imacs-legend").inner_text()
    assert all(name in legend for name in ("v1", "v2", "v3"))
    shown = [c for c in result.clusters if c["size"]]
    badges = page.eval_on_selector_all("[data-imacs-view='clusters'] [data-imacs-consensus]",
                                       "els => els.map(e => e.dataset.imacsConsensus)")
    assert badges == [f"{c['consensus']['n']}/3" for c in shown]  # Python's numbers, its order
    assert page.locator("[data-imacs-view='clusters'] .imacs-row-C").count() == len(shown)
    page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").first.hover()
    page.locator("[data-imacs-view='source']").wait_for(state="visible")
    assert page.locator("[data-imacs-view='source'] tbody tr").count() == 3
    page.locator("[data-imacs-control='models'] input[value='C']").uncheck()
    assert page.locator("[data-imacs-view='clusters'] .imacs-row-C").count() == 0
    assert page.evaluate("window.__imacsReport.models[0].get('models')") == ["A", "B"]
    assert not page.errors
    page.close()


def test_dataset_pair_in_the_browser(browser, tmp_path, tiny_models, tiny_images):
    """A real compare_datasets() in the static report: the two sides are the datasets (their
    names in the legend, a row each), and the map is there."""
    import warnings

    from conftest import tiny_embedder

    import imacs_widget as imacs

    x, y = tiny_images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        result = imacs.compare_datasets(tiny_models[0], x[:48], 255 - x[48:], y[:48], y[48:],
                                        name_a="original", name_b="inverted", target_class=0,
                                        n_per_model=12, n_clusters=3, k=3,
                                        embedder=tiny_embedder(), progress=False)
    result.segment_map("pca")
    page = _open(browser, tmp_path, result, live=False)
    legend = page.locator(".imacs-legend").inner_text()
    assert "original" in legend and "inverted" in legend
    shown = [c for c in result.clusters if c["size"]]
    for m in ("A", "B"):
        rows = page.locator(f"[data-imacs-view='clusters'] .imacs-row-{m} [data-imacs-tile]")
        assert rows.count() == sum(c["count"][m] for c in shown)
    b_tile = page.locator("[data-imacs-view='clusters'] .imacs-row-B [data-imacs-tile]").first
    row = int(b_tile.get_attribute("data-imacs-tile"))
    b_tile.hover()
    title = page.locator("[data-imacs-view='source'] .imacs-source-title")
    title.wait_for(state="visible")
    assert title.inner_text().startswith(
        f"Image {result.segments['dataset_index'].iloc[row]} of inverted")
    page.locator("[data-imacs-tab='map']").click()
    assert page.locator("[data-imacs-map-canvas]").get_attribute("data-imacs-map-canvas") == str(
        len(result.segments))
    assert not page.errors
    page.close()


def test_findings_panel_of_a_real_result(browser, tmp_path, tiny_models, tiny_images):
    """A real compare() in the static report: the findings panel heads the page with Python's
    sentences in Python's order; clicking one opens its cluster (selected, its confusion
    matrices, scrolled into view); the cluster rows show the intervals and q-values of
    result.clusters, and hide them under an outcome filter."""
    from conftest import quick_compare
    from playwright.sync_api import expect

    x, y = tiny_images
    result = quick_compare(tiny_models[0], tiny_models[1], x, y, n_clusters=4)
    found = result.findings()
    assert len(found) >= 2  # this seeded pair differs in several clusters
    page = _open(browser, tmp_path, result, live=False)
    panel = page.locator(".imacs-header [data-imacs-findings]")
    expect(panel).to_be_visible()
    assert panel.get_attribute("data-imacs-findings") == str(len(found))
    buttons = page.eval_on_selector_all(
        "[data-imacs-finding]", "els => els.map(e => [Number(e.dataset.imacsFinding), e.textContent])")
    assert buttons == [[int(c), s] for c, s in zip(found["cluster"], found["sentence"], strict=True)]
    views = page.locator("[data-imacs-view='clusters']")
    assert panel.bounding_box()["y"] < views.bounding_box()["y"]

    # the last finding opens its cluster
    last = int(found["cluster"].iloc[-1])
    page.locator(f"[data-imacs-finding='{last}']").click()
    assert page.evaluate("window.__imacsReport.models[0].get('selected_cluster')") == last
    block = page.locator(f"[data-imacs-view='clusters'] [data-imacs-cluster='{last}']")
    expect(block).to_have_class(re.compile(r"\bimacs-selected\b"))
    expect(block.locator("[data-imacs-view='confusion']")).to_be_visible()
    expect(block).to_be_in_viewport()

    # how sure each cluster is: Python's significance, q and intervals on the rows
    shown = [c for c in result.clusters if c["size"]]
    marks = page.eval_on_selector_all(
        "[data-imacs-view='clusters'] [data-imacs-cluster]",
        "els => els.map(e => [Number(e.dataset.imacsCluster), "
        "e.querySelector('[data-imacs-significant]').dataset.imacsSignificant])")
    by_id = {c["id"]: c for c in shown}
    assert sorted(m[0] for m in marks) == sorted(by_id)
    assert all(s == ("true" if by_id[i]["significant"] else "false") for i, s in marks)
    c = by_id[last]
    m = next(m for m in result.models if c["ci"][m] is not None)
    big = max(abs(v) for v in c["ci"][m])
    d = 2 if big >= 0.1 else 3 if big >= 0.01 else 4  # the decimals of Python's sentences

    def end(v):
        t = f"{abs(v):.{d}f}"
        return f"−{t}" if v < 0 and float(t) != 0 else t

    text = block.locator(f"[data-imacs-ci='{m}']").text_content()
    assert text.strip() == "[{}, {}]".format(*map(end, c["ci"][m])), text
    n_ci = sum(1 for c in shown for m in result.models if c["ci"][m] is not None)
    assert page.locator("[data-imacs-view='clusters'] [data-imacs-ci]").count() == n_ci > 0
    # under an outcome filter the kernel's numbers (of all segments) are hidden
    page.locator("[data-imacs-control='outcomes'] input[value='TP']").uncheck()
    assert page.locator("[data-imacs-view='clusters'] [data-imacs-ci]").count() == 0
    assert page.locator("[data-imacs-view='clusters'] [data-imacs-significant]").count() == 0
    assert page.locator("[data-imacs-finding]").count() == len(found)
    assert not page.errors
    page.close()


def test_every_number_and_chart_says_what_it_measures(browser, tmp_path, tiny_models, tiny_images):
    """A real compare() (with its sanity check, class pictures and segment map), in the static
    report and in the live widget: every chart, tile and number on screen — header, findings,
    cluster rows, plots, confusion matrices, histogram tab, map tab — lies inside an element
    marked data-imacs-measure whose tooltip is not empty (js/tests/unexplained.js), and there
    are as many as the result has clusters, models and tiles (the scan cannot pass on an
    empty page)."""
    from conftest import quick_compare

    x, y = tiny_images
    result = quick_compare(tiny_models[0], tiny_models[1], x, y, n_clusters=4)
    result.sanity_check(n_images=4, progress=False)
    result.class_pictures(n_starts=2, steps=3, progress=False)
    result.segment_map("pca")
    shown = [c for c in result.clusters if c["size"]]
    n_models = len(result.models)
    # names, a note and a what-if test (shown in the report and the widget, explained too)
    top, other = shown[0]["id"], shown[1]["id"]
    result.rename_cluster(top, "the <b>pattern</b> 7").annotate_cluster(top, "B's shortcut, 2 of 3")
    result.intervene(other, n_images=8, progress=False)
    test = result.interventions[other]
    for live in (False, True):
        page = _open(browser, tmp_path, result, live=live)
        if live:
            page.wait_for_function(
                "() => !document.querySelector(\"[data-imacs-control='n-clusters']\").disabled")
            page.wait_for_function("() => !document.querySelector('[data-imacs-pending]')")
        first = int(page.locator("[data-imacs-view='clusters'] [data-imacs-cluster]").first
                    .get_attribute("data-imacs-cluster"))
        page.locator(f"[data-imacs-view='clusters'] [data-imacs-cluster='{first}'] "
                     ".imacs-cluster-title").click()
        page.locator("[data-imacs-view='confusion']").wait_for(state="visible")
        report = unexplained(page)
        assert report["bad"] == [], report["bad"]
        block = page.locator(f"[data-imacs-view='clusters'] [data-imacs-cluster='{top}']")
        assert block.locator("[data-imacs-name]").text_content() == "“the <b>pattern</b> 7”"
        assert block.locator("[data-imacs-note]").text_content() == "B's shortcut, 2 of 3"
        panel = page.locator(f"[data-imacs-whatif='{other}']")
        assert panel.locator("[data-imacs-whatif-model]").count() == n_models
        for row in test["rows"]:
            text = panel.locator(f"[data-imacs-flip-to='{row['model']}']").text_content()
            rate = row["flip_to_target"]
            assert (f"{round(100 * rate)} %" if rate == rate and rate is not None else "n/a") in text
        assert page.locator("[data-imacs-intervene]").count() == (len(shown) if live else 0)
        tiles = page.locator("[data-imacs-view='clusters'] [data-imacs-tile]").count()
        assert tiles >= sum(min(30, c["count"][m]) for c in shown for m in result.models) > 0
        # per shown cluster: composition, histogram, mean and one "where" per model (charts),
        # its id, size and each model's mean (numbers), on top of every tile
        assert report["checked"] >= tiles + len(shown) * (3 + 2 * n_models + 2), report
        for key in ("counts", "model", "accuracy", "faithfulness", "sanity", "class_picture",
                    "log_odds", "cluster", "size", "mean", "ci", "significance", "removal",
                    "histogram", "mean_plot", "where", "tile", "confusion", "confusion_cell"):
            assert page.locator(f"[data-imacs-measure='{key}']").count() > 0, key
        page.locator("[data-imacs-tab='histogram']").click()
        page.locator("[data-imacs-view='histogram'] [data-imacs-cluster]").first.wait_for()
        report = unexplained(page)
        assert report["bad"] == [], report["bad"]
        assert report["checked"] >= len(shown) * (2 + 2 * n_models), report
        hist = "[data-imacs-view='histogram']"  # the note and the what-if test there too
        assert page.locator(f"{hist} [data-imacs-cluster='{top}'] [data-imacs-note]"
                            ).text_content() == "B's shortcut, 2 of 3"
        assert page.locator(f"{hist} [data-imacs-whatif='{other}'] [data-imacs-whatif-model]"
                            ).count() == n_models
        page.locator("[data-imacs-tab='map']").click()
        page.locator("[data-imacs-map-canvas]").wait_for(state="visible")
        report = unexplained(page)
        assert report["bad"] == [], report["bad"]
        assert page.locator("[data-imacs-measure='map_legend']").count() == len(shown)
        assert page.locator(f"[data-imacs-map-cluster='{top}'] [data-imacs-name]"
                            ).text_content() == "“the <b>pattern</b> 7”"  # the legend names it
        assert not page.errors
        page.close()
