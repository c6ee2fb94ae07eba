"""The documentation site: its runnable examples run, and its API reference covers the public
names. (The site itself is built with ``mkdocs build --strict`` by ``scripts/test.sh``.)"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNNABLE = ["models-and-data.md"]
"""Pages whose every ``python`` block runs, in order, in one namespace, in a fresh folder."""


def python_blocks(page: Path) -> list[str]:
    """The ``python`` fenced blocks of a Markdown page, in order."""
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    blocks = python_blocks(DOCS / page)
    assert len(blocks) >= 5, f"{page}: expected its examples, found {len(blocks)} blocks"
    namespace: dict = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short sampling cells are said in warnings; expected
        for i, code in enumerate(blocks):
            try:
                exec(compile(code, f"{page}[block {i}]", "exec"), namespace)
            except Exception as exc:  # name the block that failed
                raise AssertionError(f"{page}, python block {i} failed:\n{code}") from exc
    assert "result" in namespace


def test_api_reference_covers_every_public_name():
    import imacs_widget

    text = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"^::: imacs_widget\.(\w+)\s*$", text, flags=re.M))
    assert set(imacs_widget.__all__) <= documented, sorted(set(imacs_widget.__all__) - documented)


def load_hooks():
    """The site's MkDocs hooks module (scripts/mkdocs_hooks.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mkdocs_hooks",
                                                  ROOT / "scripts" / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def test_reading_the_widget_lists_every_tooltip_of_the_glossary():
    """The site's table of tooltips is generated from js/src/glossary.js: every entry parses."""
    hooks = load_hooks()
    source = (ROOT / "js" / "src" / "glossary.js").read_text()
    body = source.split("GLOSSARY = Object.freeze({", 1)[1].split("});", 1)[0]
    keys = re.findall(r"^\s+(\w+):", body, flags=re.M)
    entries = hooks.glossary_entries(ROOT / "js" / "src" / "glossary.js")
    assert [k for k, _ in entries] == keys and len(keys) >= 20
    assert all(len(text) > 20 for _, text in entries)
    page = (DOCS / "reading-the-widget.md").read_text()
    assert "<!-- imacs-glossary -->" in page
    assert "<!-- imacs-help compare -->" in (DOCS / "cli.md").read_text()


def test_readme_is_short_and_its_links_resolve():
    """The README stays short (issue 23) and every relative link in it points at a file; the
    site's home page is the README itself."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 150
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert len(local) >= 10
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, missing
    assert "python -m pip install \".[keras]\" && imacs demo" in text
    assert "bash scripts/test.sh" in text
    assert (DOCS / "index.md").read_text().strip() == "<!-- imacs-readme -->"


def test_sphinx_roles_in_docstrings_become_links_or_plain_code():
    hooks = load_hooks()
    html = ("a :class:<code>~imacs_widget.models.ModelAdapter</code>, "
            ":meth:<code>imacs_widget.result.ComparisonResult.save</code> and "
            ":func:<code>~imacs_widget.engine.summary.summarize_clusters</code>")
    out = hooks.on_page_content(html)
    assert ('<autoref identifier="imacs_widget.ModelAdapter" optional><code>ModelAdapter</code>'
            '</autoref>') in out
    assert '<autoref identifier="imacs_widget.ComparisonResult.save" optional>' in out
    assert out.endswith("and <code>summarize_clusters</code>")  # not public: plain code
    assert ":class:" not in out and ":meth:" not in out
