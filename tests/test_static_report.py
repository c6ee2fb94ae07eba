"""The static HTML report (imacs_widget.widget.report): one file, no kernel, no network.

Browser tests open the file in Debian's Chromium with every request except the file itself
aborted, and check that the views render, a client-side control works, nothing was fetched and
nothing was logged as an error.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from e2e.harness import chromium_missing_reason, launch_chromium  # noqa: E402

_MISSING = chromium_missing_reason()
browser = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))

CLUSTERS = '[data-imacs-view="clusters"]'
CLUSTER = "[data-imacs-cluster]"
CONFUSION = '[data-imacs-view="confusion"]'
TILE = "[data-imacs-tile]"
SOURCE = '[data-imacs-view="source"]'


@pytest.fixture(scope="module")
def small_result():
    from synthetic_result import make_result

    return make_result(120, n_clusters=4, seed=1)


@pytest.fixture(scope="module")
def pw_browser():
    if _MISSING:
        pytest.skip(_MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


class OfflinePage:
    """A page that aborts every request but the report file, and records what it saw."""

    ALLOWED = ("file:", "data:", "blob:")

    def __init__(self, browser, path: Path):
        self.path = Path(path).resolve()
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.page.set_default_timeout(20_000)
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url == self.path.as_uri():
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self) -> float:
        t0 = time.monotonic()
        self.page.goto(self.path.as_uri())
        self.page.wait_for_function(
            "() => window.__imacsReport && window.__imacsReport.state !== 'loading'")
        elapsed = time.monotonic() - t0
        status = self.page.evaluate("() => window.__imacsReport")
        assert status["state"] == "ready", status
        return elapsed

    def errors(self) -> list[str]:
        return [m for m in self.console if m.startswith(("error", "pageerror"))]

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.ALLOWED)] + self.blocked

    def close(self):
        self.page.close()


# -- without a browser -------------------------------------------------------------------------


def test_report_is_one_file_without_external_references(small_result, tmp_path):
    from imacs_widget.widget.report import write_html

    path = write_html(small_result, tmp_path / "sub" / "report.html")
    assert path == tmp_path / "sub" / "report.html" and path.is_file()
    assert list(path.parent.iterdir()) == [path]  # nothing beside it
    text = path.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text, re.I)
    assert '<script type="module">' in text and "export function start(" in text  # the host
    assert 'application/vnd.jupyter.widget-state+json' in text
    assert '"_esm":' in text  # drop_defaults=False keeps the front-end module
    assert "<title>IMACS: baseline vs watermarked</title>" in text


def test_to_html_matches_write_html_and_escapes_title(small_result, tmp_path):
    path = small_result.to_html(tmp_path / "r.html", title="A <b>&</b> B")
    text = path.read_text(encoding="utf-8")
    assert "<title>A &lt;b&gt;&amp;&lt;/b&gt; B</title>" in text
    # embedded JSON cannot close its <script> element early
    state = text.split('widget-state+json">', 1)[1].split("</script>", 1)[0]
    assert "</" not in state


def test_title_of_a_widget_names_its_models(small_result, tmp_path):
    from imacs_widget.widget.report import write_html

    w = small_result.widget(order="size")
    text = write_html(w, tmp_path / "w.html").read_text(encoding="utf-8")
    assert "<title>IMACS: baseline vs watermarked</title>" in text
    assert '"order":"size"' in text  # the widget's current state is written
    w.close()


def test_write_html_rejects_other_objects(tmp_path):
    from imacs_widget.errors import ImacsInputError
    from imacs_widget.widget.report import write_html

    with pytest.raises(ImacsInputError, match="widget_or_result"):
        write_html(object(), tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_write_html_refuses_non_anywidget_models(tmp_path):
    import ipywidgets

    from imacs_widget.widget.report import write_html

    with pytest.raises(NotImplementedError, match="anywidget"):
        write_html(ipywidgets.IntSlider(), tmp_path / "x.html")


# -- in Chromium, every request blocked --------------------------------------------------------


@pytest.mark.browser
@browser
def test_static_report_renders_offline(small_result, pw_browser, tmp_path):
    from playwright.sync_api import expect

    path = small_result.to_html(tmp_path / "report.html")
    op = OfflinePage(pw_browser, path)
    try:
        elapsed = op.open()
        page = op.page
        expect(page.locator(CLUSTERS).first).to_be_visible()
        blocks = page.locator(f"{CLUSTERS} {CLUSTER}")
        expect(blocks).to_have_count(small_result.n_clusters)
        expect(page.locator(TILE).first).to_be_visible()

        # client-side controls: open a cluster, hover one of its tiles
        blocks.nth(1).click()
        confusion = page.locator(CONFUSION).first
        expect(confusion).to_be_visible()
        tiles = page.locator(f"{CONFUSION} {TILE}")
        expect(tiles.first).to_be_visible()
        tiles.first.hover()
        expect(page.locator(SOURCE).first).to_be_visible()
        # thumbnails really decoded (not broken images)
        broken = page.evaluate("""() => Array.from(document.images)
            .filter((i) => i.complete && i.naturalWidth === 0).map((i) => i.src.slice(0, 40))""")
        assert not broken, broken
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

        # the segment map is in the report: a real mouse lasso selects, the clusters follow
        page.locator("[data-imacs-tab='map']").click()
        canvas = page.locator("[data-imacs-map-canvas]")
        expect(canvas).to_be_visible()
        seg = small_result.segments
        c0 = int(small_result.clusters[0]["id"])
        rows = [i for i in range(len(seg)) if seg["cluster"].iloc[i] == c0]
        pts = page.evaluate("(rows) => { const m = document.querySelector('[data-imacs-map-canvas]')"
                            ".imacsMap; return rows.map((i) => m.point(i)); }", rows)
        xs, ys = [p["x"] for p in pts], [p["y"] for p in pts]
        x0, x1, y0, y1 = min(xs) - 2, max(xs) + 2, min(ys) - 2, max(ys) + 2
        page.mouse.move(x0, y0)
        page.mouse.down()
        for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)):
            page.mouse.move(x, y, steps=4)
        page.mouse.up()
        chosen = page.evaluate("window.__imacsReport.models[0].get('selection')")
        assert set(rows) <= set(chosen)  # the box around the cluster's points
        xy = seg[["map_x", "map_y"]].to_numpy()
        inside = [i for i in chosen if not (min(xy[rows, 0]) - 0.02 <= xy[i, 0] <= max(xy[rows, 0]) + 0.02)]
        assert not inside, inside  # nothing far outside the box
        page.locator("[data-imacs-tab='clusters']").click()
        shown = page.locator(f"{CLUSTERS} .imacs-rows {TILE}").count()
        assert 0 < shown <= len(chosen)

        assert not op.outside_requests(), op.outside_requests()
        assert not op.errors(), op.errors()
        print(f"static report {path.stat().st_size / 1e6:.2f} MB rendered in {elapsed:.2f}s")
    finally:
        op.close()


_PLAIN_ESM = r"""
export default {
  initialize({ model }) { model.set("log", ["init"]); },
  render({ model, el }) {
    const out = document.createElement("div");
    out.id = "plain";
    const draw = () => {
      const b = model.get("blob");
      out.textContent = `count=${model.get("count")} bytes=${b.byteLength} `
        + `first=${new Uint8Array(b.buffer, b.byteOffset, b.byteLength)[0]} `
        + `log=${model.get("log").join(",")}`;
    };
    const btn = document.createElement("button");
    btn.id = "inc";
    btn.onclick = () => { model.set("count", model.get("count") + 1); model.save_changes(); };
    model.on("change:count", draw);
    model.send({ type: "ping" });  // no kernel: silently dropped
    draw();
    el.classList.add("plain-widget");
    el.append(out, btn);
  },
};
"""


@pytest.mark.browser
@browser
def test_host_runs_any_anywidget(pw_browser, tmp_path):
    """The offline host follows the anywidget contract: initialize/render, get/set/on,
    binary traits as DataView, _css injected."""
    import anywidget
    import traitlets

    from imacs_widget.widget.report import write_html

    class Plain(anywidget.AnyWidget):
        _esm = _PLAIN_ESM
        _css = ".plain-widget { border: 3px solid rgb(255, 0, 0); }"
        count = traitlets.Int(5).tag(sync=True)
        blob = traitlets.Bytes(b"\x07</script><!--").tag(sync=True)
        log = traitlets.List([]).tag(sync=True)

    path = write_html(Plain(), tmp_path / "plain.html", title="plain")
    op = OfflinePage(pw_browser, path)
    try:
        op.open()
        page = op.page
        assert page.text_content("#plain") == "count=5 bytes=14 first=7 log=init"
        page.click("#inc")
        page.click("#inc")
        assert page.text_content("#plain") == "count=7 bytes=14 first=7 log=init"
        border = page.evaluate(
            "() => getComputedStyle(document.querySelector('.plain-widget')).borderTopColor")
        assert border == "rgb(255, 0, 0)"
        assert not op.outside_requests() and not op.errors(), (op.outside_requests(), op.errors())
    finally:
        op.close()
