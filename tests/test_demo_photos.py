"""The photos scenario (issue 8): two pretrained EfficientNet-Lite0 networks at 224 px, real
photographs, a planted shortcut in B, an untrained copy — through Keras and through PyTorch.

Seed 0 here with fewer sampled images than the defaults (CI time); the README's table over
three seeds with the defaults comes from ``python bench/validate_photos.py``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import imacs_widget as imacs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scenario():
    from imacs_widget.demo.photos import make_photo_scenario

    return make_photo_scenario(seed=0, untrained=True)


def _demo(scenario, **kw):
    from imacs_widget.demo.run import run_demo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        return run_demo(seed=0, scenario=scenario, progress=False, verbose=False, **kw)


def test_b_learned_the_planted_shortcut(scenario):
    assert scenario.accuracy["A"]["clean"] > 0.9 and scenario.accuracy["B"]["clean"] > 0.9
    assert scenario.shortcut_rate["B"] > 0.5 and scenario.shortcut_rate["A"] < 0.1


def test_watermark_cluster_found_on_real_networks(scenario, tmp_path):
    s = _demo(scenario, out_dir=tmp_path, n_per_model=48)
    top = s["top_cluster"]
    a, b = top["mean_attribution"]["A"], top["mean_attribution"]["B"]
    print(f"photos seed 0: top cluster {top['id']} size {top['size']} watermark "
          f"{top['watermark_fraction']:.2f} mean A {a} B {b}")
    assert top["watermark_fraction"] >= 0.6
    assert b is not None and b > 2 * max(a or 0.0, 0.01) and b - (a or 0.0) > 0.15
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["scenario"] == "photos"
    assert imacs.load(tmp_path / "result.imacs").class_names == scenario.class_names


def test_untrained_copy_attributes_near_zero(scenario):
    s = _demo(scenario, untrained=True, n_per_model=32, report=False)
    b = s["max_abs_mean_attribution"]["B"]
    a = s["max_abs_mean_attribution"]["A"]
    print(f"photos seed 0: untrained max |mean B| {b:.2e}, trained max |mean A| {a:.3f}")
    assert b < 0.01 and a > 2 * b


def test_pytorch_path_agrees_with_keras(scenario):
    """The same weights as a PyTorch module: same scores, same ranked segments, same values."""
    from imacs_widget.demo.photos import torch_model
    from imacs_widget.models import ModelAdapter

    x, y = scenario.eval_images[:48], scenario.eval_labels[:48]
    torch_b = torch_model(scenario.heads["B"])
    pk = ModelAdapter(scenario.model_b).scores(x[:8].astype(np.float32))
    pt = ModelAdapter(torch_b).scores(x[:8].astype(np.float32))
    np.testing.assert_allclose(pk, pt, atol=1e-4)
    opts = dict(class_names=scenario.class_names, target_class=scenario.target_class,
                n_per_model=8, n_clusters=4, progress=False, seed=0,
                embedder="efficientnet_lite0_keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        rk = imacs.compare(scenario.model_a, scenario.model_b, x, y, **opts)
        rt = imacs.compare(torch_model(scenario.heads["A"]), torch_b, x, y, **opts)
    cols = ["model", "image_index", "segment_index", "rank"]
    assert rk.segments[cols].equals(rt.segments[cols])
    np.testing.assert_allclose(rk.segments["attribution"], rt.segments["attribution"], atol=1e-3)
    # the same embedder for both (by default each framework embeds with its own rebuild):
    # the same segments, so the same clusters
    assert rk.params["embedder"] == rt.params["embedder"] == "efficientnet_lite0_keras"
    assert rk.segments["cluster"].tolist() == rt.segments["cluster"].tolist()


def test_cli_offers_the_photos_scenario():
    from imacs_widget.cli import build_parser

    args = build_parser().parse_args(["demo", "--scenario", "photos"])
    assert args.scenario == "photos"
    from imacs_widget.demo.run import run_demo

    with pytest.raises(imacs.ImacsInputError, match="^scenario:"):
        run_demo(kind="flowers")
