"""ImacsWidget: traits, validation and messages, played from the front end's side (no browser)."""

from __future__ import annotations

import copy
import json
import logging

import pytest
import traitlets
from synthetic_result import make_synthetic_result, to_comparison_result

from imacs_widget.widget import MESSAGE_TYPES, ImacsWidget
from imacs_widget.widget.payload import payload_nbytes

PUBLIC = ("n_clusters", "target_class", "order", "inner_order", "outcomes", "models",
          "selected_cluster", "view")


@pytest.fixture(scope="module")
def base():
    return make_synthetic_result(160, 5, extra_classes=(0,))


@pytest.fixture(scope="module")
def real_base(base):
    return to_comparison_result(base)


@pytest.fixture()
def result(base):
    # a fresh copy per test: the widget mutates results in place (recluster/select_class)
    return copy.deepcopy(base)


class Recorder:
    """Captures what the widget sends to the front end."""

    def __init__(self, w: ImacsWidget, monkeypatch):
        self.messages: list = []
        self.resent: list = []
        self.busy: list = []
        monkeypatch.setattr(w, "send", lambda content, buffers=None: self.messages.append(content))
        orig = w.send_state

        def send_state(key=None):
            self.resent.append(key)
            return orig(key)

        monkeypatch.setattr(w, "send_state", send_state)
        w.observe(lambda ch: self.busy.append(ch["new"]), "_busy")


@pytest.fixture()
def widget(result, monkeypatch):
    w = ImacsWidget(result)
    w.rec = Recorder(w, monkeypatch)
    yield w
    w.close()


def snapshot(w):
    return {k: getattr(w, k) for k in PUBLIC} | {"payload": json.dumps(w._payload, sort_keys=True)}


# ---- construction ------------------------------------------------------------------------------

def test_initial_state(widget, result):
    assert widget.n_clusters == 5
    assert widget.target_class == "sunflower"
    assert widget.order == "imbalance" and widget.inner_order == "attribution"
    assert widget.outcomes == ["TP", "TN", "FP", "FN"] and widget.models == ["A", "B"]
    assert widget.selected_cluster is None and widget.view == "clusters"
    assert widget._busy is False
    assert widget._payload["n_segments"] == len(result.segments)
    assert all(isinstance(b, bytes) for b in widget._images)
    assert max(widget._payload["thumbs"]["sheets"]) < len(widget._images)


def test_traits_documented_and_split():
    traits = ImacsWidget.class_traits()
    for name in PUBLIC:
        assert traits[name].metadata.get("sync") is True
        assert traits[name].help, name
    for name in ("_payload", "_images", "_busy"):
        assert traits[name].metadata.get("sync") is True
        assert name.startswith("_")


def test_esm_and_css_are_files():
    # pathlib Paths become anywidget FileContents (hot reload with ANYWIDGET_HMR=1)
    assert type(ImacsWidget.__dict__["_esm"]).__name__ == "FileContents"
    assert type(ImacsWidget.__dict__["_css"]).__name__ == "FileContents"
    assert "render" in str(ImacsWidget.__dict__["_esm"])


def test_constructor_kwargs(result):
    w = ImacsWidget(result, order="size", n_clusters=3, target_class="tulip", view="histogram")
    assert (w.order, w.n_clusters, w.target_class, w.view) == ("size", 3, "tulip", "histogram")
    assert w._payload["n_clusters"] == 3 and w._payload["target_class"] == "tulip"
    with pytest.raises(traitlets.TraitError):
        ImacsWidget(result, order="bogus")


def test_result_widget_entry_point(real_base):
    w = real_base.widget()
    assert isinstance(w, ImacsWidget)
    assert w._payload["classes"] == ["sunflower", "tulip"]
    assert [c["id"] for c in w._payload["clusters"]] == [c["id"] for c in real_base.clusters]


def test_python_side_validation_raises(widget):
    for name, bad in [("order", "bogus"), ("inner_order", 3), ("outcomes", ["XX"]),
                      ("models", ["C"]), ("selected_cluster", 99), ("n_clusters", 0),
                      ("n_clusters", 10_000), ("target_class", "nope"), ("view", "table")]:
        with pytest.raises(traitlets.TraitError):
            setattr(widget, name, bad)
    widget.outcomes = ["FN", "TP", "TP"]
    assert widget.outcomes == ["TP", "FN"]  # canonical order, no duplicates


# ---- messages ----------------------------------------------------------------------------------

def test_ping_pong(widget):
    widget._handle_message({"type": "ping"})
    assert widget.rec.messages == [{"type": "pong", "version": 1}]


def test_recluster_message(widget, result):
    before = widget._payload
    images_before = widget._images
    widget._on_message(widget, {"type": "recluster", "n_clusters": 3}, [])
    assert widget.n_clusters == 3
    assert result.n_reclusters == 1 and result.n_clusters == 3
    assert widget._payload is not before and widget._payload["n_clusters"] == 3
    assert len(widget._payload["clusters"]) == 3
    assert widget._images is images_before  # pictures are not re-encoded or re-sent
    assert widget.rec.busy == [True, False]
    assert widget._busy is False


def test_setting_n_clusters_from_python_reclusters(widget, result):
    widget.n_clusters = 4
    assert result.n_clusters == 4 and widget._payload["n_clusters"] == 4
    assert widget.rec.busy == [True, False]


@pytest.mark.parametrize("msg", [
    {"type": "recluster", "n_clusters": 0},
    {"type": "recluster", "n_clusters": -3},
    {"type": "recluster", "n_clusters": 10_000},
    {"type": "recluster", "n_clusters": "4"},
    {"type": "recluster", "n_clusters": 4.0},
    {"type": "recluster", "n_clusters": True},
    {"type": "recluster", "n_clusters": None},
    {"type": "recluster"},
    {"type": "select_cluster", "cluster": 99},
    {"type": "select_cluster", "cluster": "1"},
    {"type": "select_cluster", "cluster": [1]},
    {"type": "hover", "segment": 10_000},
    {"type": "hover", "segment": -1},
    {"type": "hover", "segment": "3"},
    {"type": "explode"},
    {"type": 7},
    {"type": None},
    {"n_clusters": 3},
    "recluster",
    None,
    [1, 2],
    {"type": "recluster", "n_clusters": {"$gt": 1}},
])
def test_malformed_messages_are_ignored(widget, result, msg, caplog):
    before = snapshot(widget)
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        widget._on_message(widget, msg, [])
    assert snapshot(widget) == before
    assert result.n_reclusters == 0
    assert widget._hover is None
    assert any("ignored" in r.getMessage() for r in caplog.records)
    assert widget._busy is False


def test_select_cluster_and_hover(widget, result):
    cid = widget._payload["clusters"][1]["id"]
    widget._handle_message({"type": "select_cluster", "cluster": cid})
    assert widget.selected_cluster == cid
    widget._handle_message({"type": "select_cluster", "cluster": None})
    assert widget.selected_cluster is None
    widget._handle_message({"type": "hover", "segment": 7})
    assert widget._hover == 7
    row = widget.hovered_segment
    assert row["row"] == 7 and row["image_index"] == result.segments.iloc[7]["image_index"]
    widget._handle_message({"type": "hover", "segment": None})
    assert widget.hovered_segment is None


def test_message_types_documented():
    import imacs_widget.widget.widget as mod

    for kind in MESSAGE_TYPES + ("pong", "notice"):
        assert f'"type": "{kind}"' in mod.__doc__


def test_recluster_failure_reverts_and_notifies(widget, result, monkeypatch, caplog):
    def boom(n):
        raise RuntimeError("kmeans exploded")

    monkeypatch.setattr(result, "recluster", boom)
    before = json.dumps(widget._payload, sort_keys=True)
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        widget._on_message(widget, {"type": "recluster", "n_clusters": 3}, [])
    assert widget.n_clusters == 5
    assert json.dumps(widget._payload, sort_keys=True) == before
    assert widget._busy is False
    assert widget.rec.messages[-1]["type"] == "notice"
    assert widget.rec.messages[-1]["level"] == "error"
    assert "kmeans exploded" in widget.rec.messages[-1]["text"]


def test_selected_cluster_cleared_when_it_disappears(widget):
    last = max(c["id"] for c in widget._payload["clusters"])
    widget.selected_cluster = last
    widget._handle_message({"type": "recluster", "n_clusters": 2})
    assert widget.selected_cluster is None


# ---- state updates from the front end ---------------------------------------------------------

@pytest.mark.parametrize("update", [
    {"order": "bogus"}, {"order": 1}, {"inner_order": None}, {"outcomes": "TP"},
    {"outcomes": ["TP", "XX"]}, {"outcomes": [1]}, {"models": ["A", "C"]},
    {"selected_cluster": 99}, {"selected_cluster": "2"}, {"selected_cluster": 1.5},
    {"n_clusters": 0}, {"n_clusters": "3"}, {"n_clusters": 100_000},
    {"target_class": "<img src=x onerror=alert(1)>"}, {"target_class": 2}, {"view": "grid"},
    {"_payload": {"version": 1}}, {"_busy": True}, {"_images": []}, {"_esm": "alert(1)"},
    {"no_such_trait": 1},
])
def test_invalid_front_end_updates_are_rejected(widget, result, update, caplog):
    before = snapshot(widget)
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        widget.set_state(update)
    assert snapshot(widget) == before
    assert widget._busy is False
    assert result.n_reclusters == 0
    assert caplog.records, "a warning is logged"
    name = next(iter(update))
    if name in widget.keys:
        assert [name] in widget.rec.resent  # front end is sent the current value back


def test_valid_front_end_updates(widget, result):
    cid = widget._payload["clusters"][0]["id"]
    widget.set_state({"order": "size", "inner_order": "centroid", "outcomes": ["FP", "TP"],
                      "models": ["B"], "selected_cluster": cid, "view": "histogram"})
    assert widget.order == "size" and widget.inner_order == "centroid"
    assert widget.outcomes == ["TP", "FP"] and widget.models == ["B"]
    assert widget.selected_cluster == cid and widget.view == "histogram"
    # mixed update: the valid part is applied, the invalid part rejected
    widget.set_state({"order": "importance", "models": ["Z"]})
    assert widget.order == "importance" and widget.models == ["B"]


def test_class_switch_from_front_end(widget, result):
    images_before = widget._images
    widget.set_state({"target_class": "tulip"})
    assert result.target_class == "tulip"
    assert widget._payload["target_class"] == "tulip"
    assert widget.rec.busy == [True, False]
    assert widget._images == images_before  # same thumbnails for both classes here


def test_state_is_json_with_binary_buffers(widget):
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(widget.get_state())
    json.dumps(state, allow_nan=False)
    assert ["_images", 0] in paths and len(buffers) == len(widget._images)
    assert payload_nbytes(widget._payload, widget._images) < 2.5e6


def test_embed_state_keeps_esm(widget):
    from ipywidgets.embed import embed_data

    data = embed_data(views=[widget], drop_defaults=False)
    state = data["manager_state"]["state"][widget.model_id]["state"]
    assert "render" in state["_esm"]
    assert state["_payload"]["n_segments"] == 160


def test_rejected_recluster_tells_the_front_end(widget):
    widget._handle_message({"type": "recluster", "n_clusters": 0})
    assert widget.rec.messages[-1]["type"] == "notice"
    assert widget.rec.messages[-1]["level"] == "warning"
    assert ["n_clusters"] in [k if isinstance(k, list) else [k] for k in widget.rec.resent]
