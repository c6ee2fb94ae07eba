"""imacs_widget.widget.payload: shape, encodings, size budget, no TensorFlow."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from synthetic_result import make_result

from imacs_widget.engine.summary import order_within
from imacs_widget.widget.payload import (
    OUTCOMES,
    PAYLOAD_VERSION,
    build_payload,
    payload_nbytes,
)

SEGMENT_COLUMNS = ("model", "image", "segment", "rank", "cluster", "outcome", "attribution",
                   "by_attribution", "by_centroid")
IMAGE_COLUMNS = ("index", "label", "pred_a", "pred_b", "score_a", "score_b", "width", "height")


@pytest.fixture(scope="module")
def synth():
    return make_result(240, 6, extra_classes=(0,))


def _decode(atlas, buffers, k=0):
    ref = atlas["sheets"][k]
    data = buffers[ref] if isinstance(ref, int) else base64.b64decode(ref.split(",", 1)[1])
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _col(ref, buffers):
    """A payload column as a list (a JSON list, or a typed-array buffer reference)."""
    if isinstance(ref, list):
        return ref
    assert set(ref) == {"dtype", "buffer", "length"}
    values = np.frombuffer(buffers[ref["buffer"]], np.dtype(ref["dtype"]).newbyteorder("<"))
    assert len(values) == ref["length"]
    if ref["dtype"] == "float64":
        return [None if not np.isfinite(v) else float(v) for v in values]
    return values.astype(np.int64).tolist()


def columns(p: dict, buffers: list[bytes]) -> dict:
    """``p`` with its segment and image columns as lists."""
    out = dict(p)
    for table in ("segments", "images"):
        out[table] = {k: _col(v, buffers) for k, v in p[table].items()}
    return out


def check_shape(p: dict, buffers: list[bytes], result, tiles: str = "first") -> None:
    n = len(result.segments)
    assert p["version"] == PAYLOAD_VERSION
    assert p["n_segments"] == n
    p = columns(p, buffers)
    seg = p["segments"]
    for c in SEGMENT_COLUMNS:
        assert len(seg[c]) == n, c
    assert len(seg["box"]) == 4 * n
    assert all(0 <= v <= 1000 for v in seg["box"])
    boxes = np.asarray(seg["box"]).reshape(n, 4)
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert set(seg["model"]) <= {0, 1}
    assert set(seg["outcome"]) <= set(range(len(OUTCOMES)))
    m = len(p["images"]["index"])
    for c in IMAGE_COLUMNS:
        assert len(p["images"][c]) == m, c
    assert sorted(set(seg["image"])) == list(range(m))
    assert m == len(set(result.segments["image_index"]))
    assert sorted(c["id"] for c in p["clusters"]) == list(range(p["n_clusters"]))
    assert set(seg["cluster"]) <= {c["id"] for c in p["clusters"]}
    for key in ("by_attribution", "by_centroid"):
        assert sorted(seg[key]) == list(range(n)), key
    lo, hi = p["n_clusters_range"]
    assert (lo, hi) != (None, None) and lo <= p["n_clusters"] <= hi
    assert result.n_clusters_range[0] <= lo and hi <= result.n_clusters_range[1]
    assert len(p["bin_edges"]) >= 2 and p["bin_edges"] == sorted(p["bin_edges"])
    assert p["target_class"] in p["classes"]
    assert set(p["model_names"]) == {"A", "B"}
    assert p["n_images"] == m
    for key, count in (("thumbs", n), ("sources", m)):
        atlas = p[key]
        assert atlas["count"] == len(atlas["ids"]) == len(atlas["sizes"])
        assert len(set(atlas["ids"])) == len(atlas["ids"]) and all(0 <= i < count for i in atlas["ids"])
        if tiles == "all":
            assert atlas["ids"] == list(range(count))
        assert len(atlas["sheets"]) == -(-atlas["count"] // atlas["per_sheet"])
        if not atlas["count"]:
            continue
        img = _decode(atlas, buffers)
        assert img.width == atlas["cols"] * atlas["cell"]
        assert img.height % atlas["cell"] == 0
        assert all(0 < w <= atlas["cell"] and 0 < h <= atlas["cell"] for w, h in atlas["sizes"])
    json.dumps(p, allow_nan=False)  # strict JSON (JSON.parse rejects NaN)


def test_shape(synth):
    p, buffers = build_payload(synth)
    check_shape(p, buffers, synth)
    assert all(isinstance(b, bytes) for b in buffers)
    assert p["thumbs"]["mime"] == "image/webp"
    p = columns(p, buffers)
    # segment i of the payload is row i of result.segments; attributions are exact (the front
    # end recomputes the cluster statistics from them)
    seg = synth.segments
    assert p["segments"]["cluster"] == seg["cluster"].tolist()
    assert p["segments"]["attribution"] == seg["attribution"].tolist()
    assert json.loads(json.dumps(p))["segments"]["attribution"] == seg["attribution"].tolist()
    first = p["images"]["index"].index(int(seg["image_index"].iloc[0]))
    assert p["segments"]["image"][0] == first
    x0, y0, x1, y1 = seg["bbox"].iloc[0]
    h, w = synth.image_shape
    assert p["segments"]["box"][:4] == [round(1000 * x0 / w), round(1000 * y0 / h),
                                        round(1000 * x1 / w), round(1000 * y1 / h)]


def test_result_fields(synth):
    p, _ = build_payload(synth)
    assert p["classes"] == ["sunflower", "tulip"]
    assert p["target_class"] == "sunflower"
    assert [c["id"] for c in p["clusters"]] == [c["id"] for c in synth.clusters]
    assert p["bin_edges"] == list(synth.bin_edges)
    assert p["n_clusters"] == synth.n_clusters
    assert p["model_names"] == synth.model_names
    assert (p["order"], p["inner_order"]) == (synth.order, synth.inner_order)


def test_within_cluster_positions_are_order_within(synth):
    """The order of any subset (a cluster, one model, a filter) by the payload's positions is
    summary.order_within of that subset."""
    p = columns(*build_payload(synth))
    seg = synth.segments.reset_index(drop=True)
    for inner, key in (("attribution", "by_attribution"), ("centroid", "by_centroid")):
        pos = np.asarray(p["segments"][key])
        assert order_within(seg, inner).index.tolist() == np.argsort(pos).tolist()
        for c in range(synth.n_clusters):
            for subset in (seg[seg["cluster"] == c],
                           seg[(seg["cluster"] == c) & (seg["model"] == "B")],
                           seg[(seg["cluster"] == c) & seg["outcome"].isin(["FP", "FN"])]):
                rows = subset.index.to_numpy()
                assert rows[np.argsort(pos[rows])].tolist() == \
                    order_within(subset, inner).index.tolist()


def test_slider_range_is_what_recluster_accepts():
    # two classes of interest with different segment counts: recluster accepts 1..30 only
    result = make_result(160, 5, extra_classes=(0,), extra_segments=30)
    assert result.n_clusters_range == (1, 30)
    p, _ = build_payload(result)
    assert p["n_clusters_range"] == [1, 30]
    for n in range(p["n_clusters_range"][0], p["n_clusters_range"][1] + 1):
        result.recluster(n)  # every value the slider offers is accepted
        assert result.n_clusters == n
    # the UI cap (40) shortens the slider, never beyond the current count
    assert build_payload(make_result(240, 6))[0]["n_clusters_range"] == [1, 40]
    assert build_payload(make_result(240, 45))[0]["n_clusters_range"] == [1, 45]
    assert build_payload(make_result(240, 6), max_clusters=500)[0]["n_clusters_range"] == [1, 240]


def test_base64_and_formats(synth):
    p, buffers = build_payload(synth, encoding="base64", image_format="jpeg", quality=70)
    assert buffers == []
    assert all(s.startswith("data:image/jpeg;base64,") for s in p["thumbs"]["sheets"])
    check_shape(p, buffers, synth)
    p, buffers = build_payload(synth, image_format="png", thumb_size=16, source_size=24,
                               tiles="all")
    assert p["thumbs"]["cell"] == 16 and p["sources"]["cell"] == 24
    check_shape(p, buffers, synth, "all")
    with pytest.raises(ValueError, match="tiles"):
        build_payload(synth, tiles="some")
    with pytest.raises(ValueError, match="image_format"):
        build_payload(synth, image_format="gif")
    with pytest.raises(ValueError, match="encoding"):
        build_payload(synth, encoding="hex")


def test_several_sheets(synth):
    p, buffers = build_payload(synth, sheet_cols=8, tiles="all")  # 64 cells a sheet -> 4 sheets
    assert len(p["thumbs"]["sheets"]) == 4
    k = p["segments"]["by_centroid"]["buffer"] + 1  # the sheets follow the columns
    assert p["thumbs"]["sheets"] == [k, k + 1, k + 2, k + 3]
    # columns re-clustering keeps come first, then those it changes, then the sheets
    static = p["static_buffers"]
    assert p["segments"]["box"]["buffer"] == static - 1
    assert {p["segments"][c]["buffer"] for c in ("cluster", "by_attribution", "by_centroid")} == {
        static, static + 1, static + 2}
    check_shape(p, buffers, synth, "all")


def test_thumbnail_pixels_and_mask_dimming(synth):
    p, buffers = build_payload(synth, image_format="png", dim_outside=0.6, tiles="all")
    sheet = np.asarray(_decode(p["thumbs"], buffers))
    t = p["thumbs"]["cell"]
    full = next(i for i in range(len(synth.segments)) if synth.segment_masks[i].all())
    r, c = divmod(full, p["thumbs"]["cols"])
    cell = sheet[r * t:(r + 1) * t, c * t:(c + 1) * t].astype(float)
    ref = np.asarray(Image.fromarray(synth.thumbnails[full]).resize((t, t), Image.LANCZOS), float)
    assert np.abs(cell - ref).mean() < 1.0  # PNG: lossless
    masked = next(i for i in range(len(synth.segments)) if not synth.segment_masks[i].all())
    r, c = divmod(masked, p["thumbs"]["cols"])
    cell = sheet[r * t:(r + 1) * t, c * t:(c + 1) * t].astype(float)
    corner = cell[0, 0]  # outside the round mask: pulled towards grey 128
    raw = np.asarray(Image.fromarray(synth.thumbnails[masked]).resize((t, t), Image.LANCZOS), float)[0, 0]
    assert np.all(np.abs(corner - 128) <= np.abs(raw - 128) * 0.45 + 1.5)


def test_non_finite_values_become_null():
    bad = make_result(40, 3, seed=3)
    bad.segments.loc[0, "attribution"] = np.nan
    bad.segments.loc[1, "score_a"] = np.inf
    p, buffers = build_payload(bad)
    assert columns(p, buffers)["segments"]["attribution"][0] is None
    json.dumps(p, allow_nan=False)
    p, _ = build_payload(bad, encoding="base64")
    assert p["segments"]["attribution"][0] is None
    json.dumps(p, allow_nan=False)


def test_cache_reuses_encoded_sheets(synth):
    cache: list = []
    p1, b1 = build_payload(synth, cache=cache)
    p2, b2 = build_payload(synth, cache=cache)
    sheets = p1["thumbs"]["sheets"]
    assert sheets and all(b1[k] is b2[k] for k in sheets)
    assert p1["thumbs"] == p2["thumbs"]


def test_payload_for_1000_segments_is_small():
    result = make_result(1000, 10)
    p, buffers = build_payload(result)
    size = payload_nbytes(p, buffers)
    print(f"payload for 1000 segments: {size / 1e6:.2f} MB "
          f"(JSON {payload_nbytes(p, []) / 1e3:.0f} kB, {len(buffers)} sheets)")
    assert size < 2.5e6
    # inline base64 (static report) is still under budget
    p64, _ = build_payload(result, encoding="base64")
    assert payload_nbytes(p64, []) < 2.5e6


def test_column_codec_round_trips_and_takes_the_smallest_dtype():
    from imacs_widget.widget.columns import encode_column, uint_dtype

    assert [uint_dtype(np.array(v)) for v in ([0, 255], [256], [65536], [-1, 5], [])] == [
        "uint8", "uint16", "uint32", "int32", "uint8"]
    buffers: list[bytes] = []
    values = np.array([3, 70000, 0])
    ref = encode_column(values, "binary", buffers)
    assert ref == {"dtype": "uint32", "buffer": 0, "length": 3}
    assert buffers[0] == np.array([3, 70000, 0], "<u4").tobytes()  # little-endian, whatever the host
    floats = np.array([0.1, np.nan, -np.inf, 2.5])
    ref = encode_column(floats, "binary", buffers)
    assert ref["dtype"] == "float64" and ref["buffer"] == 1
    assert _col(ref, buffers) == [0.1, None, None, 2.5]
    assert encode_column(floats, "base64", buffers) == [0.1, None, None, 2.5]  # JSON: null
    assert encode_column(values, "base64", buffers) == [3, 70000, 0]
    assert len(buffers) == 2  # a JSON list adds no buffer
    with pytest.raises(ValueError, match="dtype"):
        encode_column(values, "binary", buffers, "float32")  # not a dtype the front end reads


def test_payload_and_widget_do_not_import_tensorflow():
    code = ("import sys, imacs_widget.widget.payload, imacs_widget.widget.widget; "
            "bad = [m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def _approx_json(x):
    """A cluster-summary value as the payload carries it (floats to 8 significant digits)."""
    if isinstance(x, dict):
        return {k: _approx_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_approx_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return pytest.approx(float(x), rel=1e-7, abs=1e-12)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@pytest.fixture(scope="module")
def stats_result():
    return make_result(1000, 8, extra_classes=(0,))


def test_cluster_statistics_and_findings_are_the_results(stats_result):
    """Each cluster carries the unfiltered view's statistics of result.clusters; ``findings``
    are result.findings()'s records (sentence and cluster id included), JSON-safe."""
    from imacs_widget.engine.findings import findings

    r = stats_result
    p, _ = build_payload(r)
    json.dumps(p, allow_nan=False)
    keys = ("significant", "p_value", "q_value", "effect", "ci", "mass", "mass_ci")
    assert [c["id"] for c in p["clusters"]] == [c["id"] for c in r.clusters]
    for got, want in zip(p["clusters"], r.clusters, strict=True):
        assert set(got) == {"id", *keys, "name", "note", "suggested_name", "suggested_labels",
                            "suggested_by"}
        for k in keys:
            assert got[k] == _approx_json(want[k]), k
        assert isinstance(got["significant"], bool)
        assert all(v is None or (isinstance(v, list) and len(v) == 2) for v in got["ci"].values())
    expected = findings(r.clusters, r.models, r.target_class, r.model_names)
    assert expected, "the fixture has significant clusters"
    assert [f["cluster"] for f in p["findings"]] == [f["cluster"] for f in expected]
    assert [f["sentence"] for f in p["findings"]] == list(r.findings()["sentence"])
    assert p["findings"][0]["rank"] == 1
    assert p["findings"][0]["model"] in r.models
    assert all(p["clusters"][[c["id"] for c in p["clusters"]].index(f["cluster"])]["significant"]
               for f in p["findings"])


def test_findings_follow_recluster_and_select_class(stats_result):
    r = stats_result
    try:
        r.recluster(5)
        p, _ = build_payload(r)
        assert len(p["clusters"]) == 5
        assert [f["sentence"] for f in p["findings"]] == list(r.findings()["sentence"])
        assert [c["q_value"] for c in p["clusters"]] == _approx_json(
            [c["q_value"] for c in r.clusters])
        r.select_class("tulip")
        p, _ = build_payload(r)
        assert p["target_class"] == "tulip"
        assert [f["sentence"] for f in p["findings"]] == list(r.findings()["sentence"])
        assert [c["significant"] for c in p["clusters"]] == [c["significant"]
                                                             for c in r.clusters]
    finally:
        r.select_class("sunflower")
        r.recluster(8)


def test_no_finding_gives_an_empty_list():
    """A class whose attributions do not depend on the cluster (the synthetic 'tulip'): no
    cluster is significant and ``findings`` is [] (the panel says so)."""
    r = make_result(60, 3, seed=1, extra_classes=(0,))
    r.select_class("tulip")
    p, _ = build_payload(r)
    assert [c["significant"] for c in p["clusters"]] == [False, False, False]
    assert p["findings"] == []
    assert all(c["q_value"] >= 0.05 for c in p["clusters"])


def test_names_notes_and_suggestions_are_the_results():
    """Each cluster carries result.clusters' name, note and suggestion (absent only from
    summaries without them); a rename / note shows in the next payload, under the cluster's
    id, and a re-clustering to another count leaves it out (it belongs to the old cluster)."""
    r = make_result(200, 4, seed=2)
    p, _ = build_payload(r)
    for got, want in zip(p["clusters"], r.clusters, strict=True):
        for k in ("name", "note", "suggested_name", "suggested_labels", "suggested_by"):
            assert got[k] == _approx_json(want[k]), k
        assert "intervention" not in got  # no what-if test run
    r.rename_cluster(2, "watermark").annotate_cluster(2, "B's shortcut <b>?</b>")
    p, _ = build_payload(r)
    by_id = {c["id"]: c for c in p["clusters"]}
    assert by_id[2]["name"] == "watermark" and by_id[2]["note"] == "B's shortcut <b>?</b>"
    assert all(by_id[c]["name"] is None and by_id[c]["note"] == "" for c in (0, 1, 3))
    json.dumps(p, allow_nan=False)
    r.recluster(3)
    p, _ = build_payload(r)
    assert len(p["clusters"]) == 3  # k-means to another count: other clusters
    r.recluster(4)
    assert {c["id"]: c["name"] for c in build_payload(r)[0]["clusters"]}[2] == "watermark"


def test_a_summary_without_names_or_tests_gives_the_old_cluster_entries(synth):
    """Payload code tolerates summaries without the name fields and results without
    ``interventions`` (older objects): the entries hold what the summary has."""
    from imacs_widget.widget.payload import _cluster, _interventions

    c = {k: v for k, v in synth.clusters[0].items()
         if k not in ("name", "note", "suggested_name", "suggested_labels", "suggested_by")}
    assert set(_cluster(c)) == {"id", "significant", "p_value", "q_value", "effect", "ci",
                                "mass", "mass_ci"}
    assert _interventions(object()) == {}
    rec = {"cluster": 1, "key": "k", "rows": [{"model": "A", "flip_to_target": float("nan"),
                                               "flip_to_target_ci": None, "n_paste": 0}],
           "n_images": 32, "seed": 0}
    got = _cluster({**c, "id": 1}, {1: _interventions(type("R", (), {"interventions": {1: rec}})())[1]})
    assert got["intervention"]["rows"][0]["flip_to_target"] is None  # NaN: nothing could flip
    assert "intervention" not in _cluster({**c, "id": 0}, {1: rec})


def test_significance_level_is_the_results_own(tiny_models, tiny_images, tmp_path):
    """A result computed with ``significance_level=0.01`` carries that level (the findings
    panel and the tooltips name it, js/tests/findings.test.js), its clusters judged at it; a
    result saved before the setting (no level in its params) carries 0.05."""
    from conftest import quick_compare

    import imacs_widget as imacs

    x, y = tiny_images
    r = quick_compare(tiny_models[0], tiny_models[1], x, y, n_clusters=3, significance_level=0.01)
    assert r.params["significance_level"] == 0.01
    p, _ = build_payload(r)
    assert p["significance_level"] == 0.01
    assert [c["significant"] for c in p["clusters"]] == [
        c["q_value"] is not None and c["q_value"] < 0.01 for c in r.clusters]
    json.dumps(p, allow_nan=False)
    assert build_payload(quick_compare(tiny_models[0], tiny_models[1], x, y, n_clusters=3))[0][
        "significance_level"] == 0.05  # the setting's default
    path = tmp_path / "old.imacs"
    r.save(path)
    meta = json.loads((path / "meta.json").read_text())
    del meta["params"]["significance_level"]  # as saved before the setting existed
    (path / "meta.json").write_text(json.dumps(meta))
    old = imacs.load(path)
    assert "significance_level" not in old.params
    assert build_payload(old)[0]["significance_level"] == 0.05


def test_significance_level_decides_significant_in_the_payload():
    """The same synthetic result at two levels: the payload's level and its clusters'
    ``significant`` follow ``params["significance_level"]`` (a cluster with 0.01 <= q < 0.05 is
    significant at 0.05 only)."""
    r = make_result(1000, 8, seed=0)
    p5, _ = build_payload(r)
    assert p5["significance_level"] == 0.05  # no level in params: the default
    between = {c["id"] for c in r.clusters if c["q_value"] is not None
               and 0.01 <= c["q_value"] < 0.05}
    assert between, "the fixture has a cluster significant at 0.05, not at 0.01"
    r.params["significance_level"] = 0.01
    r._configure_classes()  # what load() does with the params it read
    p, _ = build_payload(r)
    assert p["significance_level"] == 0.01
    assert [c["significant"] for c in p["clusters"]] == [
        c["q_value"] is not None and c["q_value"] < 0.01 for c in r.clusters]
    assert not any(c["significant"] for c in p["clusters"] if c["id"] in between)
    assert all(c["significant"] for c in p5["clusters"] if c["id"] in between)
    assert {f["cluster"] for f in p5["findings"]} - {f["cluster"] for f in p["findings"]} == between
