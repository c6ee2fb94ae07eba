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
from synthetic_result import make_synthetic_result, to_comparison_result

from imacs_widget.widget.payload import (
    OUTCOMES,
    PAYLOAD_VERSION,
    build_payload,
    payload_nbytes,
)

SEGMENT_COLUMNS = ("model", "image", "segment", "rank", "cluster", "outcome", "attribution",
                   "centroid_distance")
IMAGE_COLUMNS = ("index", "label", "pred_a", "pred_b", "score_a", "score_b", "width", "height")


@pytest.fixture(scope="module")
def synth():
    return make_synthetic_result(240, 6, extra_classes=(0,))


@pytest.fixture(scope="module")
def real(synth):
    return to_comparison_result(synth)


def _decode(atlas, buffers, k=0):
    ref = atlas["sheets"][k]
    data = buffers[ref] if isinstance(ref, int) else base64.b64decode(ref.split(",", 1)[1])
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def check_shape(p: dict, buffers: list[bytes], result) -> None:
    n = len(result.segments)
    assert p["version"] == PAYLOAD_VERSION
    assert p["n_segments"] == n
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
    assert set(seg["cluster"]) == {c["id"] for c in p["clusters"]}
    lo, hi = p["n_clusters_range"]
    assert lo <= p["n_clusters"] <= hi
    assert len(p["bin_edges"]) >= 2 and p["bin_edges"] == sorted(p["bin_edges"])
    assert p["target_class"] in p["classes"]
    assert set(p["model_names"]) == {"A", "B"}
    for key, count in (("thumbs", n), ("sources", m)):
        atlas = p[key]
        assert atlas["count"] == count and len(atlas["sizes"]) == count
        assert len(atlas["sheets"]) == -(-count // atlas["per_sheet"])
        img = _decode(atlas, buffers)
        assert img.width == atlas["cols"] * atlas["cell"]
        assert img.height % atlas["cell"] == 0
        assert all(0 < w <= atlas["cell"] and 0 < h <= atlas["cell"] for w, h in atlas["sizes"])
    json.dumps(p, allow_nan=False)  # strict JSON (JSON.parse rejects NaN)


def test_shape_synthetic(synth):
    p, buffers = build_payload(synth)
    check_shape(p, buffers, synth)
    assert all(isinstance(b, bytes) for b in buffers)
    assert p["thumbs"]["mime"] == "image/webp"
    # segment i of the payload is row i of result.segments
    seg = synth.segments
    assert p["segments"]["cluster"] == seg["cluster"].tolist()
    np.testing.assert_allclose(p["segments"]["attribution"], seg["attribution"], rtol=1e-4, atol=1e-9)
    first = p["images"]["index"].index(int(seg["image_index"].iloc[0]))
    assert p["segments"]["image"][0] == first
    x0, y0, x1, y1 = seg["bbox"].iloc[0]
    h, w = synth.image_shape
    assert p["segments"]["box"][:4] == [round(1000 * x0 / w), round(1000 * y0 / h),
                                        round(1000 * x1 / w), round(1000 * y1 / h)]


def test_shape_real_result(real):
    p, buffers = build_payload(real)
    check_shape(p, buffers, real)
    assert p["classes"] == ["sunflower", "tulip"]
    assert p["target_class"] == "sunflower"
    assert [c["id"] for c in p["clusters"]] == [c["id"] for c in real.clusters]
    assert p["bin_edges"] == pytest.approx(list(real.bin_edges))
    assert p["n_clusters"] == real.n_clusters


def test_base64_and_formats(synth):
    p, buffers = build_payload(synth, encoding="base64", image_format="jpeg", quality=70)
    assert buffers == []
    assert all(s.startswith("data:image/jpeg;base64,") for s in p["thumbs"]["sheets"])
    check_shape(p, buffers, synth)
    p, buffers = build_payload(synth, image_format="png", thumb_size=16, source_size=24)
    assert p["thumbs"]["cell"] == 16 and p["sources"]["cell"] == 24
    check_shape(p, buffers, synth)
    with pytest.raises(ValueError, match="image_format"):
        build_payload(synth, image_format="gif")
    with pytest.raises(ValueError, match="encoding"):
        build_payload(synth, encoding="hex")


def test_several_sheets(synth):
    p, buffers = build_payload(synth, sheet_cols=8)  # 64 cells per sheet -> 4 thumbnail sheets
    assert len(p["thumbs"]["sheets"]) == 4
    assert p["thumbs"]["sheets"] == [0, 1, 2, 3]
    check_shape(p, buffers, synth)


def test_thumbnail_pixels_and_mask_dimming(synth):
    p, buffers = build_payload(synth, image_format="png", dim_outside=0.6)
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


def test_non_finite_values_become_null(synth):
    bad = make_synthetic_result(40, 3, seed=3)
    bad.segments.loc[0, "attribution"] = np.nan
    bad.segments.loc[1, "score_a"] = np.inf
    p, _ = build_payload(bad)
    assert p["segments"]["attribution"][0] is None
    json.dumps(p, allow_nan=False)


def test_cache_reuses_encoded_sheets(synth):
    cache: list = []
    p1, b1 = build_payload(synth, cache=cache)
    p2, b2 = build_payload(synth, cache=cache)
    assert all(x is y for x, y in zip(b1, b2, strict=True))
    assert p1["thumbs"] == p2["thumbs"]


def test_payload_for_1000_segments_is_small():
    result = make_synthetic_result(1000, 10)
    p, buffers = build_payload(result)
    size = payload_nbytes(p, buffers)
    print(f"payload for 1000 segments: {size / 1e6:.2f} MB "
          f"(JSON {payload_nbytes(p, []) / 1e3:.0f} kB, {len(buffers)} sheets)")
    assert size < 2.5e6
    # inline base64 (static report) is still under budget
    p64, _ = build_payload(result, encoding="base64")
    assert payload_nbytes(p64, []) < 2.5e6


def test_payload_and_widget_do_not_import_tensorflow():
    code = ("import sys, imacs_widget.widget.payload, imacs_widget.widget.widget; "
            "bad = [m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
