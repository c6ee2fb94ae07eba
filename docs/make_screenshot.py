"""Screenshot of notebooks/quickstart.ipynb (the demo scenario) running in JupyterLab.

    python docs/make_screenshot.py [OUT.png]

Starts JupyterLab on 127.0.0.1 with Debian's Chromium (tests/e2e/harness.py), runs the
quickstart notebook, opens the top cluster's confusion matrices, hovers a tile and saves a
full-page screenshot (default docs/jupyterlab-demo.png).
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.harness import JupyterLab, LabPage, launch_chromium  # noqa: E402


def main(out: str = str(ROOT / "docs" / "jupyterlab-demo.png")) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nb = tmp / "nb"
        nb.mkdir()
        shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", nb / "quickstart.ipynb")
        with JupyterLab(nb, tmp) as lab, sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1300, "height": 1400})
            page.set_default_timeout(120_000)
            lp = LabPage(page, lab)
            lp.open("quickstart.ipynb", timeout=120)
            lp.run_all()
            lp.wait_cells_done([0, 1, 2], timeout=900)
            page.locator('[data-imacs-view="clusters"] [data-imacs-cluster]').first.wait_for()
            page.evaluate("() => { const w = document.querySelector('[data-imacs-view=\"clusters\"]');"
                          " w.scrollIntoView(); }")
            page.locator('[data-imacs-view="clusters"] [data-imacs-cluster]').first.click()
            page.locator('[data-imacs-view="confusion"] [data-imacs-tile]').first.hover()
            page.locator('[data-imacs-view="source"]').first.wait_for()
            page.locator('[data-imacs-view="clusters"]').first.screenshot(path=out)
            browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
