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


def test_protocol_json_is_the_one_source_of_shared_constants():
    """imacs_widget/widget/protocol.json is read by Python (widget/protocol.py) and imported by
    the front end (js/src/protocol.js, inlined by esbuild); its copy of the engine's vocabulary
    must be the engine's."""
    from imacs_widget.engine import summary
    from imacs_widget.widget import protocol
    from imacs_widget.widget.widget import ImacsWidget

    p = json.loads((ROOT / "imacs_widget" / "widget" / "protocol.json").read_text("utf-8"))
    assert p == protocol.PROTOCOL
    assert tuple(p["outcomes"]) == summary.OUTCOMES
    assert tuple(p["models"]) == summary.MODELS
    assert tuple(p["model_keys"]) == summary.MODEL_KEYS
    assert tuple(p["cluster_orders"]) == summary.CLUSTER_ORDERS
    assert tuple(p["inner_orders"]) == summary.INNER_ORDERS
    assert p["consensus_fraction"] == summary.CONSENSUS_FRACTION
    # the widget's fixed-choice traits offer exactly the protocol's choices
    traits = ImacsWidget.class_traits()
    assert tuple(traits["view"].values) == tuple(p["views"])
    assert tuple(traits["map_color"].values) == tuple(p["map_colors"])
    assert tuple(traits["order"].values) == tuple(p["cluster_orders"])
    assert tuple(traits["inner_order"].values) == tuple(p["inner_orders"])
    assert tuple(traits["outcomes"]._trait.values) == tuple(p["outcomes"])
    assert tuple(traits["models"]._trait.values) == tuple(p["model_keys"])


def test_front_end_reads_the_protocol_json():
    """The front end takes the shared constants from protocol.json, not from copies."""
    src = ROOT / "js" / "src"
    assert '"../../imacs_widget/widget/protocol.json"' in (src / "protocol.js").read_text("utf-8")
    import re

    for f in src.glob("*.js"):
        text = f.read_text("utf-8")
        # a literal copy of a shared constant: PAYLOAD_VERSION = 4, PAGE_SIZE = 256,
        # OUTCOMES = ["TP", ...], ...
        for name in ("PAYLOAD_VERSION", "PAGE_SIZE", "OUTCOMES", "MODEL_KEYS", "MODELS", "ORDERS",
                     "INNER_ORDERS", "VIEWS", "MAP_COLORS", "CONSENSUS_FRACTION"):
            copy = rf"\b{name}\s*=\s*(/\*\*.*?\*/\s*)?\(?\s*[\[\d]"
            assert not re.search(copy, text), f"{f.name} defines {name}"
