"""The paper's validation (§5, §6.1) on the offline demo scenario, over three seeds.

* Watermark: the top cluster by imbalance is mostly watermark segments and B's mean attribution
  there is far above A's.
* Untrained: with B replaced by an untrained model, B's mean attribution is near zero in every
  cluster.
"""

import json

import numpy as np
import pytest
from conftest import trained_scenario

import imacs_widget as imacs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[0, 1, 2], ids=lambda s: f"seed{s}")
def scenario(request):
    return trained_scenario(request.param)  # shared with test_scenario.py (seed 0)


def test_watermark_shortcut_found(scenario, tmp_path):
    from imacs_widget.demo.run import run_demo

    s = run_demo(tmp_path, seed=scenario.seed, scenario=scenario, progress=False, verbose=False,
                 report=False)
    top = s["top_cluster"]
    a, b = top["mean_attribution"]["A"], top["mean_attribution"]["B"]
    print(f"seed {scenario.seed}: top cluster {top['id']} size {top['size']} watermark "
          f"{top['watermark_fraction']:.2f} mean A {a} B {b}")
    assert top["watermark_fraction"] >= 0.6
    assert b is not None and b > 0.05
    # far above A's: at least twice and 0.15 above (seed 2's A has a weak shortcut of its own)
    assert b > 2 * max(a or 0.0, 0.01) and b - (a or 0.0) > 0.15
    # faithfulness: blurring the watermark cluster's segments takes B's score down, not A's;
    # both models' attributions order their segments better than chance
    r = s["_result"]
    rem = next(c for c in r.clusters if c["id"] == top["id"])["removal"]
    faith = r.faithfulness["faithfulness"]
    print(f"seed {scenario.seed}: removal A {rem['A']} B {rem['B']}; faithfulness "
          f"A {faith['A']:.3f} B {faith['B']:.3f}")
    assert rem["B"] > 0.1 and rem["B"] > 3 * max(rem["A"] or 0.0, 0.01)
    assert faith["A"] > 0 and faith["B"] > 0
    # the sanity check: both trained models' attributions fall apart when randomised
    t = r.sanity_check(n_images=12, progress=False)
    final = t.groupby("model")["spearman"].last()
    print(f"seed {scenario.seed}: sanity check, every layer randomised: Spearman "
          f"A {final['A']:.3f} B {final['B']:.3f} (step 0: {t['spearman'].iloc[0]:.3f})")
    assert t["passed"].all() and (t.groupby("model")["spearman"].first() > 0.999).all()
    # each model's picture of the class, from blank inputs: B's shows the watermark, A's not
    pics = s["class_pictures"]
    ca, cb = pics["A"]["watermark_correlation"], pics["B"]["watermark_correlation"]
    print(f"seed {scenario.seed}: class pictures, correlation with the watermark A {ca:.3f} "
          f"B {cb:.3f}; log-odds A {pics['A']['best_log_odds']:.2f} B "
          f"{pics['B']['best_log_odds']:.2f} ({s['seconds']['class_pictures']} s)")
    assert cb > 0.05 and cb >= 2 * max(ca, 0.02)
    assert set(r.pictures) == {"A", "B"}
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["class_pictures"]["B"]["watermark_correlation"] == cb
    assert on_disk["top_cluster"]["watermark_fraction"] == top["watermark_fraction"]
    assert set(on_disk["accuracy"]) == {"A", "B"}
    loaded = imacs.load(tmp_path / "result.imacs")
    assert len(loaded.segments) == len(s["_result"].segments)


def test_untrained_model_attributions_near_zero(scenario):
    from imacs_widget.demo.run import run_demo

    s = run_demo(None, seed=scenario.seed, scenario=scenario, untrained=True, progress=False,
                 verbose=False, report=False)
    means_b = [c["mean_attribution"]["B"] for c in s["clusters"] if c["mean_attribution"]["B"] is not None]
    means_a = [c["mean_attribution"]["A"] for c in s["clusters"] if c["mean_attribution"]["A"] is not None]
    print(f"seed {scenario.seed}: max |mean B| {max(np.abs(means_b)):.4f}, max |mean A| "
          f"{max(np.abs(means_a)):.4f}")
    assert max(np.abs(means_b)) < 0.01
    # the trained model's clusters carry clearly more attribution than the untrained one's
    assert max(np.abs(means_a)) > 2 * max(np.abs(means_b))
