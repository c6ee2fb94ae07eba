"""The paper's validation (§5, §6.1) on the offline demo scenario, over three seeds.

* Watermark: the top cluster by imbalance is mostly watermark segments and B's mean attribution
  there is far above A's; blurring it takes B's score down, not A's; both models pass the
  sanity check; each model's class picture is computed, saved and raises its class's score.
* Untrained: with B replaced by an untrained model, B's mean attribution is near zero in every
  cluster.

The CNNs' training is seeded and repeats exactly on one machine, but not across machines: the
float summation order of TensorFlow's CPU kernels (oneDNN picks them for the CPU's instruction
set) differs, and a few hundred SGD steps amplify it (seed 0 gave B's watermarked accuracy
0.590 and a top cluster of 68 segments on one 2-core machine, 0.435 and 51 on another). So
these tests assert criteria with margins, each of which held on every scenario seed measured
(0-6 on one machine, 0-2 on another; the ranges are in the comments), never the figures of one
training.
Not asserted: that B's class picture correlates more with the watermark than A's
(:func:`~imacs_widget.demo.run.picture_watermark_correlation`): B's was 2x A's or more on
seeds 3 and 5 (and 0-2 on the other machine), 1.4-1.9x on seeds 0 and 6, and A's was higher
on seed 4 whatever the pictures' seed; it is printed, and measured by
``bench/class_pictures.py``.
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
    assert top["watermark_fraction"] >= 0.6  # measured 0.84-0.98
    assert b is not None and b > 0.1  # measured 0.21-0.41
    # far above A's (measured 3.8-12x and +0.18 to +0.32; some A have a weak shortcut too)
    assert b > 2 * max(a or 0.0, 0.01) and b - (a or 0.0) > 0.12
    # faithfulness: blurring the watermark cluster's segments takes B's score down, not A's;
    # both models' attributions order their segments better than chance
    r = s["_result"]
    rem = next(c for c in r.clusters if c["id"] == top["id"])["removal"]
    faith = r.faithfulness["faithfulness"]
    print(f"seed {scenario.seed}: removal A {rem['A']} B {rem['B']}; faithfulness "
          f"A {faith['A']:.3f} B {faith['B']:.3f}")
    assert rem["B"] > 0.1 and rem["B"] > 3 * max(rem["A"] or 0.0, 0.01)  # measured 4.2-10x
    assert faith["A"] > 0 and faith["B"] > 0  # measured +0.046 to +0.127
    # the sanity check: both trained models' attributions fall apart when randomised
    t = r.sanity_check(n_images=12, progress=False)
    final = t.groupby("model")["spearman"].last()
    print(f"seed {scenario.seed}: sanity check, every layer randomised: Spearman "
          f"A {final['A']:.3f} B {final['B']:.3f} (step 0: {t['spearman'].iloc[0]:.3f})")
    assert t["passed"].all() and (t.groupby("model")["spearman"].first() > 0.999).all()
    # each model's picture of the class, from blank inputs: computed, saved, and it raises the
    # model's log-odds for the class far above the blank inputs' (measured +4.5 to +11.6)
    pics = s["class_pictures"]
    ca, cb = pics["A"]["watermark_correlation"], pics["B"]["watermark_correlation"]
    print(f"seed {scenario.seed}: class pictures, correlation with the watermark A {ca:.3f} "
          f"B {cb:.3f}; log-odds A {pics['A']['best_log_odds']:.2f} B "
          f"{pics['B']['best_log_odds']:.2f} ({s['seconds']['class_pictures']} s)")
    for m in ("A", "B"):
        assert pics[m]["best_log_odds"] > pics[m]["blank_log_odds"] + 2
        assert -1 <= pics[m]["watermark_correlation"] <= 1
    images = r.class_picture_images
    assert sorted(images) == ["A", "B"] and all(
        p.shape == (*r.image_shape, 3) and p.dtype == np.uint8 and p.std() > 0
        for p in images.values())
    # what `imacs demo` prints: the findings first (Python's sentences), then the clusters
    from imacs_widget.demo.run import format_summary

    text = format_summary(s, r)
    found = r.findings()  # significance is the statistics tests' business; here, the printing
    first = found["sentence"].iloc[0] if len(found) else "no significant difference"
    assert first in text
    assert text.index("findings") < text.index("top clusters")
    assert all(name in text for name in r.model_names.values())  # names never cut
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["class_pictures"]["B"]["watermark_correlation"] == cb
    assert on_disk["top_cluster"]["watermark_fraction"] == top["watermark_fraction"]
    assert set(on_disk["accuracy"]) == {"A", "B"}
    loaded = imacs.load(tmp_path / "result.imacs")
    assert len(loaded.segments) == len(s["_result"].segments)
    assert np.array_equal(loaded.class_picture_images["B"], images["B"])


def test_untrained_model_attributions_near_zero(scenario):
    from imacs_widget.demo.run import run_demo

    s = run_demo(None, seed=scenario.seed, scenario=scenario, untrained=True, progress=False,
                 verbose=False, report=False)
    means_b = [c["mean_attribution"]["B"] for c in s["clusters"] if c["mean_attribution"]["B"] is not None]
    means_a = [c["mean_attribution"]["A"] for c in s["clusters"] if c["mean_attribution"]["A"] is not None]
    print(f"seed {scenario.seed}: max |mean B| {max(np.abs(means_b)):.4f}, max |mean A| "
          f"{max(np.abs(means_a)):.4f}")
    assert max(np.abs(means_b)) < 0.01  # measured at most 0.0047
    # the trained model's clusters carry clearly more attribution than the untrained one's
    assert max(np.abs(means_a)) > 2 * max(np.abs(means_b))
