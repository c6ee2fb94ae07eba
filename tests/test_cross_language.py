"""Python and JavaScript share one definition of cluster statistics (engine/summary.py).

js/tests/summary.test.js checks js/src/data.js against js/tests/fixtures/summary_cases.json;
this test checks that the committed fixture is exactly what scripts/make_js_fixture.py computes
from the Python code now. When it fails, regenerate (``python scripts/make_js_fixture.py``)
and run ``cd js && npm test``: the JavaScript port must follow.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_js_fixture", ROOT / "scripts" / "make_js_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_fixture_is_current():
    mod = _script()
    committed = mod.FIXTURE.read_text(encoding="utf-8")
    now = mod.render(mod.build_fixture())
    assert json.loads(committed) == json.loads(now), \
        "js/tests/fixtures/summary_cases.json is stale: run python scripts/make_js_fixture.py"
    assert committed == now  # byte for byte, floats included


def test_fixture_covers_the_cases_that_pin_the_definitions():
    fixture = json.loads(_script().FIXTURE.read_text(encoding="utf-8"))
    cases = {c["name"]: c for c in fixture["cases"]}
    everything = cases["all"]["clusters"]
    assert {c["one_sided"] for c in everything} == {None, "A", "B"}
    assert any(c["size"] == 0 for c in everything)
    imbalances = [c["imbalance"] for c in everything if c["imbalance"] is not None]
    assert len(set(imbalances)) < len(imbalances)  # a tie
    assert None in fixture["payload"]["segments"]["attribution"]
    only_a = cases["only A"]["clusters"]
    assert all(c["one_sided"] in ("A", None) for c in only_a)
    # a filter that leaves a two-sided cluster one-sided, and one that leaves a cluster empty
    assert any(f["one_sided"] and not a["one_sided"] and a["size"]
               for f, a in zip(cases["TP+TN: cluster 1 one-sided"]["clusters"], everything, strict=True))
    assert any(f["size"] == 0 < a["size"]
               for f, a in zip(cases["TN: cluster 3 empty"]["clusters"], everything, strict=True))
