"""The imports of ``imacs_widget`` run one way (``docs/ARCHITECTURE.md``, "Layers").

Every ``import`` / ``from ... import`` statement of every module counts, including those inside
functions (the lazy imports of heavy or optional code); only those under
``if TYPE_CHECKING:`` are left out, as they never run. Two rules:

* no import cycle between modules of ``imacs_widget``;
* no import of a higher layer (:data:`LAYERS`, lowest first). A module may import its own layer
  (its siblings) and every layer below.

:data:`TEMPORARY` lists the imports that break these rules today, each with who removes it;
an entry that no longer exists fails the test, so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "imacs_widget"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaf", ("imacs_widget.errors",)),
    ("models: the model callback contract", ("imacs_widget.models",)),
    ("data: evaluation data as users have it", ("imacs_widget.data", "imacs_widget.datasets")),
    ("storage: the result folder's arrays, the attribution cache, CLI loaders",
     ("imacs_widget.io.store", "imacs_widget.io.cache", "imacs_widget.io.loaders")),
    ("engine: the stages, and the trust checks run on a result",
     ("imacs_widget.engine",)),
    ("what takes a result and reads its public attributes: presenters and the file writer",
     ("imacs_widget.widget", "imacs_widget.text_summary", "imacs_widget.io.result_write")),
    ("the result container", ("imacs_widget.result", "imacs_widget.comparison",
                               "imacs_widget.cluster_labels")),
    ("what builds a result: compare() and load()",
     ("imacs_widget.engine.pipeline", "imacs_widget.engine.dataset_pair",
      "imacs_widget.io.result_file", "imacs_widget.io.result_zip")),
    ("the demos", ("imacs_widget.demo",)),
    ("the command line", ("imacs_widget.cli",)),
    ("the package's lazy public names", ("imacs_widget",)),
]
"""Layers, lowest first: ``(what, module prefixes)``; a module belongs to the layer of its
longest matching prefix."""

TEMPORARY: dict[tuple[str, str], str] = {}
"""Imports that break a rule today, ``(importer, imported): who removes it``."""


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of ``path`` inside the package folder ``root``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (never executed)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for the package folder ``root``.

    Every import statement counts (module level or inside functions), except under
    ``if TYPE_CHECKING:``; ``from package import name`` counts as importing the submodule
    ``package.name`` when there is one, else ``package``.
    """
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    top = root.name
    graph: dict[str, set[str]] = {m: set() for m in paths}
    for mod, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = mod.split(".")[: None if is_pkg else -1]
                    base = base[: len(base) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in paths else stem
                           for a in node.names]
            for t in targets:
                if t != top and not t.startswith(top + "."):
                    continue
                while t not in paths and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t != mod:
                    graph[mod].add(t)
    return graph


def layer_of(module: str, layers=LAYERS) -> int:
    """Index in ``layers`` of the longest prefix matching ``module``."""
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(layers):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best


def upward_imports(graph, layers=LAYERS, allowed=()) -> list[str]:
    """Imports of a higher layer, as readable lines (``allowed`` edges left out)."""
    out = []
    for mod in sorted(graph):
        for dep in sorted(graph[mod]):
            if (mod, dep) in allowed:
                continue
            lo, hi = layer_of(mod, layers), layer_of(dep, layers)
            if hi > lo:
                out.append(f"{mod} ({layers[lo][0]}) imports {dep} ({layers[hi][0]})")
    return out


def cycles(graph, allowed=()) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    edges = {m: sorted(d for d in deps if (m, d) not in allowed) for m, deps in graph.items()}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


@pytest.fixture(scope="module")
def graph():
    return import_graph(PACKAGE)


def test_no_import_cycle(graph):
    found = cycles(graph, TEMPORARY)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_upward_import(graph):
    found = upward_imports(graph, LAYERS, TEMPORARY)
    assert not found, "imports of a higher layer:\n" + "\n".join(found)


def test_every_module_has_a_layer(graph):
    for mod in graph:
        layer_of(mod)


def test_temporary_exceptions_are_still_needed(graph):
    """An exception whose import is gone, or no longer breaks a rule, must leave
    :data:`TEMPORARY` (the list only shrinks)."""
    in_cycle = {m: i for i, comp in enumerate(cycles(graph)) for m in comp}
    fixed = [f"{a} -> {b} ({who})" for (a, b), who in TEMPORARY.items()
             if b not in graph.get(a, ())
             or not (layer_of(b) > layer_of(a) or in_cycle.get(a, -1) == in_cycle.get(b, -2))]
    assert not fixed, "remove these fixed entries from TEMPORARY:\n" + "\n".join(fixed)


def test_the_checks_catch_a_cycle_and_an_upward_import(tmp_path):
    """The rules fail where they should: on a fake package with a lazy cycle and an upward
    import, and not on the TYPE_CHECKING-only import."""
    pkg = tmp_path / "fake"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text("def f():\n    from ..high import b\n")  # lazy, upward
    (pkg / "low" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                      "    from fake.high import b\n")
    (pkg / "high.py").write_text("from .low import a\nimport fake.low.c\n")
    (pkg / "high_b.py").write_text("")
    g = import_graph(pkg)
    assert g["fake.low.a"] == {"fake.high"} and g["fake.low.c"] == set()
    assert g["fake.high"] == {"fake.low.a", "fake.low.c"}
    assert cycles(g) == [["fake.high", "fake.low.a"]]
    assert cycles(g, {("fake.low.a", "fake.high")}) == []
    layers = [("low", ("fake.low",)), ("high", ("fake.high", "fake.high_b")), ("top", ("fake",))]
    assert upward_imports(g, layers) == ["fake.low.a (low) imports fake.high (high)"]
    assert upward_imports(g, layers, {("fake.low.a", "fake.high")}) == []
