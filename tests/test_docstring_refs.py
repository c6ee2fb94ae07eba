"""Every Sphinx cross-reference to ``imacs_widget`` in the package's source names something that
exists (``:mod:``, ``:func:``, ``:class:``, ``:meth:``, ``:attr:``, ``:data:``), so docstrings
do not point at moved or renamed code.

A reference resolves when its longest importable module prefix has the rest as attributes; an
attribute may also be a dataclass field or an attribute a class sets on ``self``. Relative
references (``:meth:`recluster```) are left to the reader.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "imacs_widget"
ROLE = re.compile(r":(?:mod|func|class|meth|attr|data):`([^`]+)`")

TEMPORARY: dict[tuple[str, str], str] = {}
"""Stale references today, ``(file under imacs_widget/, target): who fixes it``."""


def references(text: str) -> list[str]:
    """The absolute ``imacs_widget`` targets of the roles in ``text``."""
    out = []
    for m in ROLE.finditer(text):
        target = m.group(1)
        if "<" in target:  # :meth:`title <target>`
            target = target[target.index("<") + 1:target.rindex(">")]
        target = target.lstrip("~").strip()
        if target == "imacs_widget" or target.startswith("imacs_widget."):
            out.append(target)
    return out


def _has(obj, name: str) -> bool:
    if hasattr(obj, name):
        return True
    if name in getattr(obj, "__dataclass_fields__", {}):
        return True
    if inspect.isclass(obj):  # an attribute the class sets on self
        try:
            return bool(re.search(rf"self\.{re.escape(name)}\b\s*(:[^=\n]*)?=", inspect.getsource(obj)))
        except (OSError, TypeError):
            return False
    return False


def resolves(target: str) -> bool:
    """Whether ``target`` names an importable module or an attribute of one."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            if not _has(obj, name):
                return False
            obj = getattr(obj, name, None)
            if obj is None:  # a field or self attribute: nothing further to check
                return name == parts[-1]
        return True
    return False


def stale_references() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for target in references(path.read_text()):
            if not resolves(target):
                found.add((rel, target))
    return found


def test_docstring_references_resolve():
    stale = stale_references() - set(TEMPORARY)
    assert not stale, "stale cross-references:\n" + "\n".join(f"{f}: {t}" for f, t in sorted(stale))


def test_temporary_entries_are_still_stale():
    fixed = set(TEMPORARY) - stale_references()
    assert not fixed, "remove these fixed entries from TEMPORARY:\n" + "\n".join(
        f"{f}: {t}" for f, t in sorted(fixed))


def test_the_check_finds_a_stale_reference():
    text = (":func:`~imacs_widget.engine.summary.summarize_clusters`, "
            ":meth:`load <imacs_widget.io.result_file.load>`, :mod:`imacs_widget.summary`, "
            ":attr:`imacs_widget.comparison.ClassComparison.games`, "
            ":attr:`imacs_widget.result.ComparisonResult.nope`")
    targets = references(text)
    assert [resolves(t) for t in targets] == [True, True, False, True, False]
