"""ImacsWidget: traits, validation and messages, played from the front end's side (no browser)."""

from __future__ import annotations

import copy
import json
import logging

import pytest
import traitlets
from synthetic_result import make_result

from imacs_widget.errors import ImacsInputError
from imacs_widget.widget import COMMANDS, ImacsWidget
from imacs_widget.widget.payload import PAYLOAD_VERSION, payload_nbytes, tile_selection

PUBLIC = ("n_clusters", "target_class", "order", "inner_order", "outcomes", "models",
          "selected_cluster", "view", "selection", "map_color")


@pytest.fixture(scope="module")
def base():
    return make_result(160, 5, extra_classes=(0,))


@pytest.fixture()
def result(base):
    # a fresh copy per test (the widget changes results in place: recluster / select_class);
    # result.reclusters counts the calls
    r = copy.deepcopy(base)
    r.reclusters = []
    real = r.recluster

    def recluster(n, seed=None):
        r.reclusters.append(n)
        return real(n, seed)

    r.recluster = recluster
    return r


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


def invoke(w, name, msg, id="c1"):
    """What the front end's ``experimental.invoke(name, msg)`` sends; returns the answer."""
    before = len(w.rec.messages)
    w._handle_custom_msg({"id": id, "kind": "anywidget-command", "name": name, "msg": msg}, [])
    answers = w.rec.messages[before:]
    assert len(answers) == 1, answers
    assert answers[0]["id"] == id and answers[0]["kind"] == "anywidget-command-response"
    return answers[0]["response"]


# ---- construction ------------------------------------------------------------------------------

def test_initial_state(widget, result):
    assert widget.n_clusters == 5
    assert widget.target_class == "sunflower"
    assert widget.order == "imbalance" and widget.inner_order == "attribution"
    assert widget.outcomes == ["TP", "TN", "FP", "FN"] and widget.models == ["A", "B"]
    assert widget.selected_cluster is None and widget.view == "clusters"
    assert widget._busy is False
    assert widget._payload["n_segments"] == len(result.segments)
    assert all(isinstance(b, bytes) for b in widget._images + widget._cluster_images)
    k = widget._payload["static_buffers"]
    assert len(widget._images) == k  # the sheets come after the columns re-clustering keeps
    assert k <= min(widget._payload["thumbs"]["sheets"])
    assert max(widget._payload["thumbs"]["sheets"]) < k + len(widget._cluster_images)


def test_traits_documented_and_split():
    traits = ImacsWidget.class_traits()
    for name in PUBLIC:
        assert traits[name].metadata.get("sync") is True
        assert traits[name].help, name
    for name in ("_payload", "_images", "_cluster_images", "_busy"):
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


def test_result_widget_entry_point(base):
    w = base.widget()
    assert isinstance(w, ImacsWidget)
    assert w._payload["classes"] == ["sunflower", "tulip"]
    assert [c["id"] for c in w._payload["clusters"]] == [c["id"] for c in base.clusters]
    w.close()


def test_only_comparison_results():
    class Lookalike:  # has the fields, is not a ComparisonResult
        segments = clusters = thumbnails = None

    with pytest.raises(ImacsInputError, match="result"):
        ImacsWidget(Lookalike())


def test_python_side_validation_raises(widget):
    for name, bad in [("order", "bogus"), ("inner_order", 3), ("outcomes", ["XX"]),
                      ("models", ["C"]), ("selected_cluster", 99), ("n_clusters", 0),
                      ("n_clusters", 10_000), ("target_class", "nope"), ("view", "table")]:
        with pytest.raises(traitlets.TraitError):
            setattr(widget, name, bad)
    widget.outcomes = ["FN", "TP", "TP"]
    assert widget.outcomes == ["TP", "FN"]  # canonical order, no duplicates


def test_n_clusters_range_is_what_recluster_accepts():
    """Two classes of interest with different segment counts: the trait, the command and the
    slider accept exactly result.n_clusters_range (1..30 here), every value of it works."""
    r = make_result(160, 5, extra_classes=(0,), extra_segments=30)
    w = ImacsWidget(r)
    try:
        assert r.n_clusters_range == (1, 30)
        assert w._payload["n_clusters_range"] == [1, 30]
        with pytest.raises(traitlets.TraitError):
            w.n_clusters = 31  # the active class has 160 segments, tulip only 30
        assert w.n_clusters == 5
        w.n_clusters = 30
        assert r.n_clusters == 30 and w._payload["n_clusters"] == 30
        w.n_clusters = 1
        assert r.n_clusters == 1 and len(w._payload["clusters"]) == 1
    finally:
        w.close()


# ---- commands ----------------------------------------------------------------------------------

def test_ping(widget):
    assert invoke(widget, "_ping", {}) == {"ok": True, "version": PAYLOAD_VERSION}


def test_recluster_command(widget, result):
    before = widget._payload
    images_before, changing_before = widget._images, widget._cluster_images
    answer = invoke(widget, "_recluster", {"n_clusters": 3})
    assert answer == {"ok": True, "n_clusters": 3}
    assert widget.n_clusters == 3
    assert result.reclusters == [3] and result.n_clusters == 3
    assert widget._payload is not before and widget._payload["n_clusters"] == 3
    assert len(widget._payload["clusters"]) == 3
    # the payload carries the new first screen's tiles only (the rest come with "_tiles")
    assert widget._payload["thumbs"]["ids"] == tile_selection(result).tolist()
    # only the buffers re-clustering changes are sent again
    assert widget._images is images_before
    assert widget._cluster_images != changing_before
    assert widget.rec.busy == [True, False]
    assert widget._busy is False
    # the same count again: nothing to do, still an answer
    assert invoke(widget, "_recluster", {"n_clusters": 3}) == {"ok": True, "n_clusters": 3}
    assert result.reclusters == [3]


def test_commands_go_through_anywidget(widget):
    """The answer is sent by anywidget's own command dispatcher (anywidget.experimental)."""
    from anywidget.experimental import _ANYWIDGET_COMMANDS

    assert sorted(getattr(ImacsWidget, _ANYWIDGET_COMMANDS)) == sorted(COMMANDS)
    widget._handle_custom_msg({"id": "x", "kind": "anywidget-command", "name": "_ping",
                               "msg": {}}, [])
    assert widget.rec.messages[-1] == {"id": "x", "kind": "anywidget-command-response",
                                       "response": {"ok": True, "version": PAYLOAD_VERSION}}


def test_setting_n_clusters_from_python_reclusters(widget, result):
    widget.n_clusters = 4
    assert result.n_clusters == 4 and widget._payload["n_clusters"] == 4
    assert widget.rec.busy == [True, False]


def _cmd(name, msg, id="bad"):
    return {"id": id, "kind": "anywidget-command", "name": name, "msg": msg}


@pytest.mark.parametrize("msg", [
    _cmd("_recluster", {"n_clusters": 0}),
    _cmd("_recluster", {"n_clusters": -3}),
    _cmd("_recluster", {"n_clusters": 10_000}),
    _cmd("_recluster", {"n_clusters": "4"}),
    _cmd("_recluster", {"n_clusters": 4.0}),
    _cmd("_recluster", {"n_clusters": True}),
    _cmd("_recluster", {"n_clusters": None}),
    _cmd("_recluster", {}),
    _cmd("_recluster", {"n_clusters": {"$gt": 1}}),
    _cmd("_recluster", "4"),
    _cmd("_select_class", {"target_class": "<img src=x onerror=alert(1)>"}),
    _cmd("_select_class", {"target_class": 0}),
    _cmd("_hover", {"segment": 10_000}),
    _cmd("_hover", {"segment": -1}),
    _cmd("_hover", {"segment": "3"}),
    _cmd("_hover", {}),
    _cmd("_rename_cluster", {"cluster": 99, "name": "x"}),
    _cmd("_rename_cluster", {"cluster": "0", "name": "x"}),
    _cmd("_rename_cluster", {"cluster": True, "name": "x"}),
    _cmd("_rename_cluster", {"cluster": 0}),
    _cmd("_rename_cluster", {"cluster": 0, "name": 5}),
    _cmd("_annotate_cluster", {"cluster": 0, "note": ["x"]}),
    _cmd("_annotate_cluster", {"cluster": -1, "note": "x"}),
    _cmd("_intervene", {}),
    _cmd("_intervene", {"cluster": 1.0}),
    _cmd("select_cluster", {"cluster": 1}),  # no such command (selection is a trait)
    _cmd("recluster", {"n_clusters": 3}),
    _cmd("__init__", {}),
    _cmd("send", {"content": 1}),
    {"kind": "anywidget-command", "id": 5, "name": "_ping", "msg": {}},
    {"kind": "anywidget-command", "name": "_recluster", "msg": {"n_clusters": 3}},
    {"kind": "other", "id": "x", "name": "_ping", "msg": {}},
    {"type": "recluster", "n_clusters": 3},  # the old custom message
    {"type": "select_cluster", "cluster": 1},
    {"type": 7},
    {"n_clusters": 3},
    "recluster",
    None,
    [1, 2],
])
def test_malformed_messages_are_ignored(widget, result, msg, caplog):
    before = snapshot(widget)
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        widget._handle_custom_msg(msg, [])
    assert snapshot(widget) == before
    assert result.reclusters == []
    assert widget._hovered is None
    assert any("ignored" in r.getMessage() for r in caplog.records)
    assert widget._busy is False
    answers = widget.rec.messages
    if isinstance(msg, dict) and isinstance(msg.get("id"), str):
        # a command (even a bad one) is answered, so the front end never waits in vain
        assert len(answers) == 1 and answers[0]["id"] == msg["id"]
        assert answers[0]["response"]["ok"] is False
    else:
        assert answers == []


def test_selection_is_a_trait_and_hover_a_command(widget, result):
    cid = widget._payload["clusters"][1]["id"]
    widget.set_state({"selected_cluster": cid})
    assert widget.selected_cluster == cid
    widget.set_state({"selected_cluster": None})
    assert widget.selected_cluster is None
    assert invoke(widget, "_hover", {"segment": 7}) == {"ok": True}
    assert widget._hovered == 7
    row = widget.hovered_segment
    assert row["row"] == 7 and row["image_index"] == result.segments.iloc[7]["image_index"]
    assert invoke(widget, "_hover", {"segment": None}) == {"ok": True}
    assert widget.hovered_segment is None


def test_commands_documented():
    import imacs_widget.widget.widget as mod

    assert COMMANDS == ("_ping", "_recluster", "_select_class", "_hover", "_tiles", "_map",
                        "_rename_cluster", "_annotate_cluster", "_intervene")
    for name in COMMANDS:
        assert f'"{name}"' in mod.__doc__


def test_recluster_failure_reverts_and_answers(widget, result, monkeypatch, caplog):
    def boom(n, seed=None):
        raise RuntimeError("kmeans exploded")

    monkeypatch.setattr(result, "recluster", boom)
    before = json.dumps(widget._payload, sort_keys=True)
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        answer = invoke(widget, "_recluster", {"n_clusters": 3})
    assert answer["ok"] is False and answer["n_clusters"] == 5
    assert "kmeans exploded" in answer["error"]
    assert widget.n_clusters == 5
    assert json.dumps(widget._payload, sort_keys=True) == before
    assert widget._busy is False
    assert any("kmeans exploded" in r.getMessage() for r in caplog.records)
    # from Python the error is raised, and the trait is back too
    with pytest.raises(RuntimeError, match="kmeans exploded"):
        widget.n_clusters = 4
    assert widget.n_clusters == 5 and widget._busy is False


def test_selected_cluster_cleared_when_it_disappears(widget):
    widget.selected_cluster = 4
    assert invoke(widget, "_recluster", {"n_clusters": 2})["ok"] is True
    assert widget.selected_cluster is None


# ---- state updates from the front end ---------------------------------------------------------

@pytest.mark.parametrize("update", [
    {"order": "bogus"}, {"order": 1}, {"inner_order": None}, {"outcomes": "TP"},
    {"outcomes": ["TP", "XX"]}, {"outcomes": [1]}, {"models": ["A", "C"]},
    {"selected_cluster": 99}, {"selected_cluster": "2"}, {"selected_cluster": 1.5},
    {"n_clusters": 0}, {"n_clusters": "3"}, {"n_clusters": 100_000},
    {"n_clusters": 3}, {"target_class": "tulip"},  # valid, but changed by command only
    {"target_class": "<img src=x onerror=alert(1)>"}, {"target_class": 2}, {"view": "grid"},
    {"selection": [10**6]}, {"selection": [-1]}, {"selection": "1,2"}, {"selection": [1.5]},
    {"map_color": "rainbow"},
    {"_payload": {"version": 2}}, {"_busy": True}, {"_images": []}, {"_esm": "alert(1)"},
    {"no_such_trait": 1},
])
def test_invalid_front_end_updates_are_rejected(widget, result, update, caplog):
    before = snapshot(widget)
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        widget.set_state(update)
    assert snapshot(widget) == before
    assert widget._busy is False
    assert result.reclusters == []
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


def test_segment_map_command_and_selection(widget, result):
    """The front end asks for the map once; a lasso sets `selection`, which result.selection
    follows; Python can set it back."""
    import numpy as np

    assert "map" not in widget._payload["segments"]
    before = len(widget.rec.messages)
    widget._handle_custom_msg({"id": "m", "kind": "anywidget-command", "name": "_map",
                               "msg": {}}, [])
    (answer,) = widget.rec.messages[before:]
    assert answer["response"]["ok"] is True and answer["response"]["count"] == len(result.segments)
    assert answer["response"]["method"] in ("umap", "tsne")
    assert True in widget.rec.busy and widget._busy is False
    xy = result.segments[["map_x", "map_y"]].to_numpy()
    assert xy.min() >= 0 and xy.max() <= 1
    # later payloads carry the map (2 uint16 per segment)
    widget.n_clusters = 4
    col = widget._payload["segments"]["map"]
    assert col["dtype"] == "uint16" and col["length"] == 2 * len(result.segments)
    buf = (widget._images + widget._cluster_images)[col["buffer"]]
    got = np.frombuffer(buf, "<u2").reshape(-1, 2) / 65535
    np.testing.assert_allclose(got, xy, atol=1 / 65535)
    # a lasso: the selection trait, sorted, and result.selection
    widget.set_state({"selection": [9, 3, 3]})
    assert widget.selection == [3, 9]
    assert list(result.selection.index) == list(result.segments.index[[3, 9]])
    widget.set_state({"selection": []})
    assert result.selection is None
    widget.selection = [1]
    assert len(result.selection) == 1
    widget.set_state({"map_color": "attribution", "view": "map"})
    assert widget.map_color == "attribution" and widget.view == "map"


def test_class_switch_command(widget, result):
    images_before = widget._images
    answer = invoke(widget, "_select_class", {"target_class": "tulip"})
    assert answer == {"ok": True, "target_class": "tulip"}
    assert result.target_class == "tulip" and widget.target_class == "tulip"
    assert widget._payload["target_class"] == "tulip"
    assert widget.rec.busy == [True, False]
    assert widget._images != images_before
    assert widget._payload["thumbs"]["ids"] == tile_selection(result).tolist()


def test_state_is_json_with_binary_buffers(widget):
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(widget.get_state())
    json.dumps(state, allow_nan=False)
    assert ["_images", 0] in paths and ["_cluster_images", 0] in paths
    assert len(buffers) == len(widget._images) + len(widget._cluster_images)
    assert payload_nbytes(widget._payload, widget._images + widget._cluster_images) < 2.5e6


def test_embed_state_keeps_esm(widget):
    from ipywidgets.embed import embed_data

    data = embed_data(views=[widget], drop_defaults=False)
    state = data["manager_state"]["state"][widget.model_id]["state"]
    assert "render" in state["_esm"]
    assert state["_payload"]["n_segments"] == 160


def test_rejected_recluster_answers_the_current_value(widget):
    answer = invoke(widget, "_recluster", {"n_clusters": 0})
    assert answer["ok"] is False and answer["n_clusters"] == 5
    assert "1..160" in answer["error"]


def test_rename_and_annotate_commands(widget, result):
    """The front end names and annotates a cluster: result.rename_cluster /
    annotate_cluster, then a new payload with the cluster's name and note; None clears; the
    result's refusal (a name over 200 characters) is answered with its message."""
    c = result.clusters[0]["id"]
    assert invoke(widget, "_rename_cluster", {"cluster": c, "name": "watermark"}) == {
        "ok": True, "cluster": c}
    assert invoke(widget, "_annotate_cluster", {"cluster": c, "note": "B only"}) == {
        "ok": True, "cluster": c}
    entry = next(e for e in widget._payload["clusters"] if e["id"] == c)
    assert (entry["name"], entry["note"]) == ("watermark", "B only")
    summary = next(s for s in result.clusters if s["id"] == c)
    assert (summary["name"], summary["note"]) == ("watermark", "B only")
    answer = invoke(widget, "_rename_cluster", {"cluster": c, "name": "x" * 201})
    assert answer["ok"] is False and "200" in answer["error"] and "name" in answer["error"]
    assert next(e for e in widget._payload["clusters"] if e["id"] == c)["name"] == "watermark"
    assert invoke(widget, "_rename_cluster", {"cluster": c, "name": None})["ok"] is True
    assert next(e for e in widget._payload["clusters"] if e["id"] == c)["name"] is None
    assert result.reclusters == []  # names change no clustering


def test_intervene_command_refuses_a_result_without_models(widget, result):
    """The synthetic result holds no models (like a loaded one): the what-if test is refused
    with the result's own error, busy meanwhile, nothing stored."""
    answer = invoke(widget, "_intervene", {"cluster": result.clusters[0]["id"]})
    assert answer["ok"] is False
    assert answer["error"].startswith("the what-if test failed: ")
    assert "models" in answer["error"]
    assert widget.rec.busy == [True, False] and widget._busy is False
    assert all("intervention" not in e for e in widget._payload["clusters"])


def test_intervene_command_puts_the_test_in_the_payload(tiny_models, tiny_images, monkeypatch):
    """A real compare(): the front end's what-if test runs result.intervene with the run's
    models and images; the new payload carries result.interventions' record on that cluster
    (per model flip rates, intervals, score changes), and the report would show it too."""
    import math

    from conftest import quick_compare

    x, y = tiny_images
    r = quick_compare(tiny_models[0], tiny_models[1], x, y, n_clusters=3)
    w = ImacsWidget(r)
    w.rec = Recorder(w, monkeypatch)
    try:
        c = r.clusters[0]["id"]
        assert invoke(w, "_intervene", {"cluster": c}) == {"ok": True, "cluster": c}
        assert w.rec.busy == [True, False]
        got = next(e for e in w._payload["clusters"] if e["id"] == c)["intervention"]
        want = r.interventions[c]
        assert got["cluster"] == c and got["key"] == want["key"]
        assert [row["model"] for row in got["rows"]] == list(r.models)
        for g, e in zip(got["rows"], want["rows"], strict=True):
            for k in ("flip_to_target", "flip_from_target", "paste_score_change",
                      "remove_score_change"):
                v = e[k]
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    assert g[k] is None, k
                else:
                    assert g[k] == pytest.approx(v, rel=1e-7), k
            assert g["n_paste"] == e["n_paste"] and g["n_remove"] == e["n_remove"]
        assert all("intervention" not in e for e in w._payload["clusters"] if e["id"] != c)
        json.dumps(w._payload, allow_nan=False)
    finally:
        w.close()
