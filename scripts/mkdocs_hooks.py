"""MkDocs hooks of the documentation site (``mkdocs.yml``: ``hooks:``).

``<!-- imacs-help COMMAND -->`` in a page is replaced by the ``--help`` text of that ``imacs``
sub-command (``imacs --help`` for ``COMMAND`` = ``imacs``), generated from the parser the
console script uses, so the command-line page never drifts from the options;
``<!-- imacs-glossary -->`` by the table of the widget's tooltips, read from the front end's one
glossary (``js/src/glossary.js``), so the page and the tooltips say the same;
``<!-- imacs-readme -->`` (the home page) by the README, its links made relative to the site.

The numpy docstrings cross-reference with Sphinx roles (``:class:`~imacs_widget.Settings```,
which ``help()`` and IDEs read); :func:`on_page_content` turns each into a link to the API
reference where the object is documented there (a public name of ``imacs_widget.__all__`` or
one of its members), else into plain code.
"""

from __future__ import annotations

import argparse
import os
import re

_MARK = re.compile(r"<!-- imacs-help ([\w-]+) -->")


def _help(command: str) -> str:
    from imacs_widget.cli import build_parser

    os.environ["COLUMNS"] = "96"  # argparse wraps to the terminal; a fixed width for the site
    parser = build_parser()
    if command == "imacs":
        return parser.format_help()
    for action in parser._actions:  # the sub-command parsers
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command].format_help()
    raise ValueError(f"<!-- imacs-help {command} -->: no such imacs command")




_GLOSSARY_MARK = "<!-- imacs-glossary -->"
_ENTRY = re.compile(r'^\s+(\w+): "((?:[^"\\]|\\.)*)",\s*$', re.M)


def glossary_entries(path) -> list[tuple[str, str]]:
    """``(measure key, definition)`` of every entry of the front end's glossary
    (``js/src/glossary.js``, the one place the widget's tooltips come from)."""
    text = open(path, encoding="utf-8").read()
    body = text[text.index("GLOSSARY = Object.freeze({"):]
    body = body[:body.index("});")]
    return [(k, bytes(v, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8"))
            for k, v in _ENTRY.findall(body)]


def _glossary_table(config) -> str:
    root = os.path.dirname(os.path.abspath(config["config_file_path"]))
    rows = ["| hover on | says |", "|---|---|"]
    for key, text in glossary_entries(os.path.join(root, "js", "src", "glossary.js")):
        cell = text.replace("|", "\\|")
        rows.append(f"| `{key}` | {cell} |")
    return "\n".join(rows)


_README_MARK = "<!-- imacs-readme -->"


def readme_for_site(text: str) -> str:
    """The README as the site's home page: links into ``docs/`` made relative to the site, the
    API reference linked, the list of pages introduced as this site's."""
    text = text.replace("](docs/", "](")
    text = text.replace("* API reference (`docs/api.md`, generated from the docstrings; `help()` "
                        "shows the same)", "* [API reference](api.md) — generated from the "
                        "docstrings (`help()` shows the same)")
    head, sep, rest = text.partition("## Documentation")
    if sep:  # the paragraph before the list says how to build the site: here, it is built
        rest = "## Where to go next\n\nThis site:\n\n" + rest.split(":\n\n", 1)[1]
    return head + rest


def on_page_markdown(markdown: str, config=None, **kwargs) -> str:
    """Replace each ``<!-- imacs-help COMMAND -->`` by that command's help (a code block),
    ``<!-- imacs-glossary -->`` by the widget's glossary (a table) and ``<!-- imacs-readme -->``
    by the README."""
    if _README_MARK in markdown:
        root = os.path.dirname(os.path.abspath(config["config_file_path"]))
        with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
            markdown = markdown.replace(_README_MARK, readme_for_site(f.read()))
    markdown = _MARK.sub(lambda m: "```text\n" + _help(m.group(1)).rstrip() + "\n```", markdown)
    if _GLOSSARY_MARK in markdown:
        markdown = markdown.replace(_GLOSSARY_MARK, _glossary_table(config))
    return markdown


_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):<code>(~?)([\w.]+)</code>")


def _public_identifier(path: str) -> str | None:
    """``imacs_widget.result.ComparisonResult.save`` -> ``imacs_widget.ComparisonResult.save``:
    the API reference's anchor of an object reached through a public name, else ``None``."""
    import imacs_widget

    parts = path.split(".")
    for i, part in enumerate(parts):
        if part in imacs_widget.__all__:
            return ".".join(["imacs_widget", *parts[i:]])
    return None


def _role(match: re.Match) -> str:
    short, path = match.group(1) == "~", match.group(2)
    text = f"<code>{path.rsplit('.', 1)[-1] if short else path}</code>"
    target = _public_identifier(path)
    if target is None:
        return text
    return f'<autoref identifier="{target}" optional>{text}</autoref>'  # resolved by autorefs


def on_page_content(html: str, **kwargs) -> str:
    """Sphinx roles in rendered docstrings -> links into the API reference (or plain code)."""
    return _ROLE.sub(_role, html)
