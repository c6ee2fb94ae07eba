"""Pictures beyond the first screen: the ``_tiles`` command (a page of thumbnails / source
previews as binary buffers) and the bounded tiles of the static report."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image
from synthetic_result import make_large_result, make_result

from imacs_widget.engine.summary import order_within
from imacs_widget.widget import ImacsWidget
from imacs_widget.widget.payload import (
    bin_index,
    build_payload,
    image_order,
    payload_nbytes,
    tile_selection,
)
from imacs_widget.widget.widget import PAGE_SIZE


@pytest.fixture(scope="module")
def result():
    return make_result(400, 5)


@pytest.fixture()
def widget(result, monkeypatch):
    w = ImacsWidget(result, image_format="png")
    w.sent = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: w.sent.append((content, buffers)))
    yield w
    w.close()


def tiles(w, msg, id="t1"):
    """Send a ``_tiles`` command like the front end; returns (answer, buffers)."""
    before = len(w.sent)
    w._handle_custom_msg({"id": id, "kind": "anywidget-command", "name": "_tiles", "msg": msg}, [])
    out = w.sent[before:]
    assert len(out) == 1, out
    content, buffers = out[0]
    assert content["id"] == id and content["kind"] == "anywidget-command-response"
    return content["response"], list(buffers or [])


def _cells(page, buffers):
    """The picture in every cell of a page, by id."""
    out = {}
    for k, pid in enumerate(page["ids"]):
        sheet = np.asarray(Image.open(io.BytesIO(bytes(buffers[page["sheets"][k // page["per_sheet"]]]))))
        r, c = divmod(k % page["per_sheet"], page["cols"])
        w, h = page["sizes"][k]
        t = page["cell"]
        out[pid] = sheet[r * t:r * t + h, c * t:c * t + w]
    return out


def test_first_screen_payload_leaves_the_rest_out(widget, result):
    ids = widget._payload["thumbs"]["ids"]
    assert ids == tile_selection(result, per_row=30).tolist()
    assert 0 < len(ids) < len(result.segments)
    seg = result.segments.reset_index(drop=True)
    for c in range(result.n_clusters):
        for m in ("A", "B"):
            rows = order_within(seg[(seg["cluster"] == c) & (seg["model"] == m)], "attribution")
            assert set(rows.index[:30]) <= set(ids)  # the first 30 of each row
    assert widget._payload["sources"]["ids"] == []  # previews come on hover


def test_tiles_command_answers_the_right_pictures(widget, result):
    missing = [i for i in range(len(result.segments)) if i not in set(widget._payload["thumbs"]["ids"])]
    want = missing[:40] + [missing[0]]  # a duplicate is sent once
    answer, buffers = tiles(widget, {"atlas": "thumbs", "ids": want})
    assert answer["ok"] is True and answer["atlas"] == "thumbs"
    page = answer["page"]
    assert page["ids"] == missing[:40] and page["count"] == 40
    assert max(page["sheets"]) < len(buffers) and all(isinstance(b, bytes) for b in buffers)
    full, _ = build_payload(result, image_format="png", tiles="all", encoding="base64")
    cells = _cells(page, buffers)
    # each cell is that segment's thumbnail (lossless PNG: as the full payload has it)
    import base64
    ref_sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(
        full["thumbs"]["sheets"][0].split(",", 1)[1]))))
    t, cols = full["thumbs"]["cell"], full["thumbs"]["cols"]
    for pid in missing[:5]:
        r, c = divmod(pid, cols)
        assert np.array_equal(cells[pid], ref_sheet[r * t:(r + 1) * t, c * t:(c + 1) * t])


def test_sources_page(widget, result):
    order = image_order(result.segments)
    answer, buffers = tiles(widget, {"atlas": "sources", "ids": [0, len(order) - 1]})
    assert answer["ok"] is True and answer["page"]["ids"] == [0, len(order) - 1]
    cells = _cells(answer["page"], buffers)
    ref = result.source_images[order[-1]]
    assert cells[len(order) - 1].shape[:2] == (96, 96) and ref.shape[2] == 3


@pytest.mark.parametrize("msg", [
    {"atlas": "thumbs", "ids": [-1]},
    {"atlas": "thumbs", "ids": [400]},
    {"atlas": "thumbs", "ids": [True]},
    {"atlas": "thumbs", "ids": [1.5]},
    {"atlas": "thumbs", "ids": "0,1"},
    {"atlas": "thumbs", "ids": []},
    {"atlas": "thumbs", "ids": list(range(PAGE_SIZE + 1))},
    {"atlas": "thumbs"},
    {"atlas": "sources", "ids": [10_000]},
    {"atlas": "masks", "ids": [0]},
    {"ids": [0]},
])
def test_malformed_tiles_requests_are_ignored_with_a_warning(widget, msg, caplog):
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        answer, buffers = tiles(widget, msg)
    assert answer["ok"] is False and "ignored" in answer["error"]
    assert buffers == []
    assert any("tiles request" in r.getMessage() for r in caplog.records)


def test_tiles_request_never_raises(widget, monkeypatch, caplog):
    import imacs_widget.widget.commands as mod  # the _tiles handler's module

    monkeypatch.setattr(mod, "tile_page", lambda *a, **k: 1 / 0)
    with caplog.at_level(logging.WARNING, logger="imacs_widget.widget.widget"):
        answer, _ = tiles(widget, {"atlas": "thumbs", "ids": [0]})
    assert answer["ok"] is False and "failed" in answer["error"]
    # not a dict at all: no answer can be addressed, nothing raises
    widget._handle_custom_msg({"id": "z", "kind": "anywidget-command", "name": "_tiles", "msg": 3}, [])
    assert widget.sent[-1][0]["response"]["ok"] is False


def test_after_recluster_pages_still_answer(widget, result):
    widget._handle_custom_msg({"id": "r", "kind": "anywidget-command", "name": "_recluster",
                               "msg": {"n_clusters": 3}}, [])
    answer, buffers = tiles(widget, {"atlas": "thumbs", "ids": [0, 1, 2]})
    assert answer["ok"] and answer["page"]["ids"] == [0, 1, 2] and buffers


def test_report_selection_bounds_rows_bins_and_cells(result):
    sel = set(tile_selection(result, per_row=12, per_bin=2, per_cell=3,
                             inner_orders=("attribution", "centroid")).tolist())
    seg = result.segments.reset_index(drop=True)
    bins = bin_index(np.asarray(result.bin_edges), seg["attribution"].to_numpy())
    for inner in ("attribution", "centroid"):
        ordered = order_within(seg, inner)
        for (_c, _m), g in ordered.groupby(["cluster", "model"], sort=False):
            assert set(g.index[:12]) <= sel
        for _k, g in ordered.assign(b=bins[ordered.index]).groupby(["cluster", "model", "b"]):
            assert set(g.index[:2]) <= sel
        for _k, g in ordered.groupby(["cluster", "model", "outcome"]):
            assert set(g.index[:3]) <= sel
    assert len(sel) < len(seg)


def test_large_result_payload_is_small():
    big = make_large_result(20_000, 8)
    assert len(big.segments) == 20_000 and len(big.thumbnails) == 20_000
    p, buffers = build_payload(big)
    size = payload_nbytes(p, buffers)
    print(f"payload for 20,000 segments: {size / 1e6:.2f} MB")
    assert size < 1.5e6


def test_static_report_bounds_the_tiles_per_row():
    import json
    import re

    from imacs_widget.widget.report import render_html

    result = make_large_result(3000, 5)
    html = render_html(result, tiles_per_row=4)
    state = json.loads(re.search(
        r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html,
        re.S).group(1))
    model = next(m for m in state["state"].values() if "_payload" in m["state"])
    p = model["state"]["_payload"]
    want = tile_selection(result, per_row=4, per_bin=5, per_cell=24,
                          inner_orders=("attribution", "centroid"))
    assert p["thumbs"]["ids"] == want.tolist()
    assert len(want) < len(result.segments)  # some were left out ...
    seg = result.segments
    rows = seg.groupby(["cluster", "model"]).size()
    assert (rows > 4).any()  # ... of rows longer than the bound
    images = image_order(seg)
    assert p["sources"]["ids"] == sorted({images.index(int(seg["image_index"].iloc[i])) for i in want})
    paths = sorted(b["path"][1] for b in model["buffers"] if b["path"][0] == "_images")
    assert paths == list(range(len(paths))) and max(p["thumbs"]["sheets"]) < len(paths)
