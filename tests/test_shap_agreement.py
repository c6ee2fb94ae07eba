"""imacs' segment Shapley values equal shap's ExactExplainer on the same game (issue 4 §3).

The game: players are ranked segments of an image; a coalition keeps its segments' pixels and
blurs the other players' segments (non-players keep their pixels); the value is the model's
score vector. shap sees the game through a binary coalition vector (feature present = 1,
absent = the all-zero background row of an ``Independent`` masker).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_cnn

from imacs_widget.engine.masking import blur_images, compose
from imacs_widget.engine.segmentation import grid_segments
from imacs_widget.engine.shapley import coalition_keep_mask, segment_shapley
from imacs_widget.models import ModelAdapter

shap = pytest.importorskip("shap")


def shap_exact_values(score_fn, image, label_map, blurred, segs):
    """shap.ExactExplainer on the segment game of one image: ``[k, C]`` values."""
    k = len(segs)
    seg_masks = np.stack([label_map == s for s in segs])  # [k, H, W]

    def game(z):  # z: [n, k] binary coalition vectors -> [n, C] scores
        z = np.asarray(z) > 0.5
        keep = ~np.einsum("nk,khw->nhw", ~z, seg_masks).astype(bool)
        batch = np.where(keep[..., None], image[None], blurred[None]).astype(np.float32)
        return score_fn(batch)

    masker = shap.maskers.Independent(np.zeros((1, k)), max_samples=1)
    explainer = shap.ExactExplainer(game, masker)
    expl = explainer(np.ones((1, k)))
    return np.asarray(expl.values[0]), np.asarray(expl.base_values[0])


@pytest.mark.parametrize("segs_per_image", [[[0, 5, 10, 15], [3, 1, 12, 6, 9], [7]]])
def test_segment_shapley_equals_shap_exact(segs_per_image):
    model = tiny_cnn(n_classes=3, size=32, seed=4)
    adapter = ModelAdapter(model, batch_size=16)
    rng = np.random.default_rng(7)
    images = (rng.random((3, 32, 32, 3)) * 255).astype(np.float32)
    lm = grid_segments(32, 32, 4, 4)
    blurred = blur_images(images, 3.0)

    ours = segment_shapley(adapter.scores, images, [lm] * 3, blurred, segs_per_image,
                           batch_size=16)
    for i, segs in enumerate(segs_per_image):
        theirs, base = shap_exact_values(adapter.scores, images[i], lm, blurred[i], segs)
        assert theirs.shape == ours[i].shape == (len(segs), 3)
        np.testing.assert_allclose(ours[i], theirs, atol=1e-5, rtol=0)
        # both sides agree on the game itself: base value = everything blurred
        empty = compose(images[i], blurred[i], coalition_keep_mask(lm, segs, 0))
        np.testing.assert_allclose(base, adapter.scores(empty[None])[0], atol=1e-6)
        # the values are not trivially zero (the test would pass vacuously otherwise)
        assert np.abs(ours[i]).max() > 1e-4
