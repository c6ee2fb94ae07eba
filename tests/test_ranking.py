"""Tests of segment ranking (leave-one-out, XRAI + Guided IG) and the saliency/NumPy compat fix."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from imacs_widget.engine import ranking
from imacs_widget.engine.masking import blur_images
from imacs_widget.engine.segmentation import grid_segments
from imacs_widget.errors import ImacsInputError
from imacs_widget.models import ModelAdapter

# 16x16 images, 4x4 grid of 4x4-pixel cells; region R = top-left 8x8 = cells 0, 1, 4, 5.
H = W = 16
GRID = grid_segments(H, W, 4, 4)
R = np.zeros((H, W), bool)
R[:8, :8] = True
CELL_LEVEL = {5: 250.0, 0: 200.0, 4: 150.0, 1: 100.0}  # brightness of the R cells
EXPECTED = [5, 0, 4, 1]  # R cells by brightness; then a zero-importance cell (seeded tie-break)


def region_model(calls=None):
    """Callable 'probabilities': class 0 = mean brightness of R / 255, class 1 = the rest."""

    def model(x):
        x = np.asarray(x)
        if calls is not None:
            calls.append(len(x))
        p0 = x[:, R, :].mean(axis=(1, 2)) / 255.0
        return np.stack([p0, 1.0 - p0], axis=1)

    return model


def region_images(n=3, seed=0, levels=None):
    rng = np.random.default_rng(seed)
    imgs = rng.uniform(0, 20, (n, H, W, 3)).astype(np.float32)
    for cell, level in (levels or CELL_LEVEL).items():
        imgs[:, GRID == cell, :] += level - 10
    return np.clip(imgs, 0, 255)


# ---------------------------------------------------------------------------------------------
# leave-one-out
# ---------------------------------------------------------------------------------------------


def test_loo_ranks_region_segments_first_exact_order():
    imgs = region_images()
    ad = ModelAdapter(region_model(), returns="probabilities")
    out = ranking.rank_leave_one_out(ad, imgs, [GRID] * 3, np.zeros_like(imgs), target=0, k=5)
    assert len(out) == 3
    for ids in out:
        assert ids.dtype.kind == "i"
        assert ids[:4].tolist() == EXPECTED and ids[4] not in EXPECTED


def test_loo_with_real_blur_finds_region():
    imgs = region_images(levels={c: 200.0 for c in CELL_LEVEL})  # uniform bright R
    ad = ModelAdapter(region_model(), returns="probabilities")
    out = ranking.rank_leave_one_out(ad, imgs, [GRID] * 3, blur_images(imgs, 2.0), 0, 4)
    for ids in out:
        assert set(ids.tolist()) == {0, 1, 4, 5}
    # for the complementary class the region ranks last: top-4 avoids R entirely
    out1 = ranking.rank_leave_one_out(ad, imgs, [GRID] * 3, blur_images(imgs, 2.0), 1, 4)
    for ids in out1:
        assert not set(ids.tolist()) & {0, 1, 4, 5}


def test_loo_evaluations_batched_across_images_and_counted():
    imgs = region_images(3)
    calls = []
    ad = ModelAdapter(region_model(calls), returns="probabilities", batch_size=64)
    full = ad.scores(imgs)
    ad.n_evals, calls[:] = 0, []
    seen = []
    ranking.rank_leave_one_out(ad, imgs, [GRID] * 3, blur_images(imgs), 0, 5, full_scores=full,
                               batch_size=20, progress=seen.append)
    assert ad.n_evals == 3 * 16  # N * S, no recomputation of the full scores
    assert calls == [20, 20, 8]  # batches span image boundaries (16 masks per image)
    assert sum(seen) == 48 == ranking.progress_total("loo", [GRID] * 3)
    ad.n_evals = 0
    ranking.rank_leave_one_out(ad, imgs, [GRID] * 3, blur_images(imgs), 0, 5)
    assert ad.n_evals == 3 * 16 + 3  # + the unmasked images when full_scores is not given


def test_loo_variable_segment_counts_and_fewer_than_k():
    imgs = region_images(2)
    lm_small = (np.arange(H)[:, None] // 8 + np.zeros((1, W), int)).astype(np.int32)  # 2 segments
    ad = ModelAdapter(region_model(), returns="probabilities")
    out = ranking.rank_leave_one_out(ad, imgs, [lm_small, GRID], np.zeros_like(imgs), 0, 5)
    assert out[0].tolist() == [0, 1]
    assert out[1][:4].tolist() == EXPECTED


def test_loo_input_errors():
    imgs = region_images(2)
    ad = ModelAdapter(region_model(), returns="probabilities")
    z = np.zeros_like(imgs)
    with pytest.raises(ImacsInputError, match="^k:"):
        ranking.rank_leave_one_out(ad, imgs, [GRID] * 2, z, 0, 0)
    with pytest.raises(ImacsInputError, match="^target:"):
        ranking.rank_leave_one_out(ad, imgs, [GRID] * 2, z, 2, 5)
    with pytest.raises(ImacsInputError, match="^label_maps:"):
        ranking.rank_leave_one_out(ad, imgs, [GRID], z, 0, 5)
    with pytest.raises(ImacsInputError, match="^blurred:"):
        ranking.rank_leave_one_out(ad, imgs, [GRID] * 2, z[:1], 0, 5)
    with pytest.raises(ImacsInputError, match="^full_scores:"):
        ranking.rank_leave_one_out(ad, imgs, [GRID] * 2, z, 0, 5, full_scores=np.zeros((3, 2)))


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------


def test_registry_and_get_ranker():
    from imacs_widget.engine.ranking import rank_gradcam, rank_integrated_gradients

    assert ranking.RANKERS == {"loo": ranking.rank_leave_one_out,
                               "xrai": ranking.rank_xrai_guided_ig,
                               "ig": rank_integrated_gradients, "gradcam": rank_gradcam}
    assert ranking.get_ranker() is ranking.rank_leave_one_out
    assert ranking.get_ranker("xrai") is ranking.rank_xrai_guided_ig

    def mine(*a, **kw):
        return []

    assert ranking.get_ranker(mine) is mine
    with pytest.raises(ImacsInputError) as err:
        ranking.get_ranker("shap")
    assert err.value.argument == "ranking" and "loo" in str(err.value)
    for fn in ranking.RANKERS.values():  # the ranker contract's keyword-only arguments
        params = inspect.signature(fn).parameters
        assert list(params)[:6] == ["adapter", "images", "label_maps", "blurred", "target", "k"]
        for name in ("full_scores", "batch_size", "progress", "seed"):
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY


# ---------------------------------------------------------------------------------------------
# XRAI + Guided IG
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linear_region_model():
    """Keras model whose class-0 logit is the mean brightness of R / 255 (class 1: zero)."""
    keras = pytest.importorskip("keras")
    inp = keras.Input((H, W, 3))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inp, dense(keras.layers.Flatten()(inp)))
    w = np.zeros((H, W, 3, 2), np.float32)
    w[R, :, 0] = 1.0 / (R.sum() * 3 * 255.0)
    dense.set_weights([w.reshape(-1, 2)])
    return model


@pytest.fixture(scope="module")
def tiny_cnn():
    from conftest import tiny_cnn as build

    return build(n_classes=4, seed=0, rescale=False)


def test_xrai_linear_model_ranks_region_in_brightness_order(linear_region_model):
    imgs = region_images(2)
    ad = ModelAdapter(linear_region_model, returns="logits", score="logit")
    seen = []
    out = ranking.rank_xrai_guided_ig(ad, imgs, [GRID] * 2, blur_images(imgs), 0, 5, steps=8,
                                      baseline="black", regions="label_map", progress=seen.append)
    # linear model, black baseline: Guided IG = w * x, positive on R only, so XRAI over our
    # cells orders R by brightness, then a zero-attribution cell (seeded tie-break, as LOO)
    assert [o[:4].tolist() for o in out] == [EXPECTED] * 2
    assert all(o[4] not in EXPECTED for o in out)
    assert sum(seen) == 2 * 8 == ranking.progress_total("xrai", [GRID] * 2, steps=8)
    assert ad.n_evals == 2 * 8 + 0  # gradient evaluations are counted too


def test_xrai_felzenszwalb_regions_find_region():
    imgs = np.zeros((1, 32, 32, 3), np.float32) + 20.0
    imgs[0, :16, :16] = 230.0  # bright top-left quadrant = cells 0, 1, 4, 5 of a 4x4 grid
    grid = grid_segments(32, 32, 4, 4)

    def model(x):  # class 0 = mean brightness of the top-left quadrant
        import tensorflow as tf
        return tf.stack([tf.reduce_mean(x[:, :16, :16], axis=(1, 2, 3)) / 255.0,
                         tf.zeros(tf.shape(x)[:1])], axis=1)

    ad = ModelAdapter(model, returns="logits", score="logit")
    # black baseline: with the blurred one only R's edges (where blurring changes pixels) would
    # get attribution, and cell 0 (the image corner, uniform under reflect-blur) none
    out = ranking.rank_xrai_guided_ig(ad, imgs, [grid], blur_images(imgs), 0, 4, steps=5,
                                      baseline="black")
    assert set(out[0].tolist()) == {0, 1, 4, 5}


def test_xrai_tiny_cnn_valid_distinct_deterministic(tiny_cnn):
    rng = np.random.default_rng(1)
    imgs = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    grid = grid_segments(32, 32, 4, 4)
    ad = ModelAdapter(tiny_cnn, preprocess="unit")
    kw = dict(steps=6, regions="label_map")
    a = ranking.rank_xrai_guided_ig(ad, imgs, [grid] * 2, blur_images(imgs), 1, 5, **kw)
    b = ranking.rank_xrai_guided_ig(ad, imgs, [grid] * 2, blur_images(imgs), 1, 5, **kw)
    for ids in a:
        assert len(ids) == 5 and len(set(ids.tolist())) == 5
        assert ids.min() >= 0 and ids.max() < 16
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    # default regions (XRAI's Felzenszwalb), fast XRAI, "top" classes summed
    ad.n_evals = 0
    c = ranking.rank_xrai_guided_ig(ad, imgs[:1], [grid], blur_images(imgs[:1]), 1, 5, steps=4,
                                    classes="top", n_top=2, algorithm="fast")
    assert len(set(c[0].tolist())) == 5
    assert ad.n_evals == 1 + 2 * 4  # full scores for the top classes + 2 Guided IG runs


def test_xrai_image_equal_to_baseline(linear_region_model):
    imgs = np.full((1, H, W, 3), 80.0, np.float32)
    ad = ModelAdapter(linear_region_model, returns="logits", score="logit")
    seen = []
    out = ranking.rank_xrai_guided_ig(ad, imgs, [GRID], imgs.copy(), 0, 3, steps=4,
                                      regions="label_map", progress=seen.append)
    # all-zero attributions: 3 distinct cells, chosen by the seeded tie-break
    assert len(set(out[0].tolist())) == 3 and sum(seen) == 4


def test_xrai_rejects_non_differentiable_models():
    imgs = region_images(1)
    ad = ModelAdapter(region_model(), returns="probabilities")  # NumPy-only callable
    with pytest.raises(ImacsInputError) as err:
        ranking.rank_xrai_guided_ig(ad, imgs, [GRID], imgs, 0, 5, steps=2)
    assert err.value.argument == "ranking" and "ranking='loo'" in str(err.value)
    with pytest.raises(ImacsInputError, match="^baseline:"):
        ranking.rank_xrai_guided_ig(ad, imgs, [GRID], imgs, 0, 5, baseline="grey")


# ---------------------------------------------------------------------------------------------
# saliency 0.2.1 + NumPy >= 2.4 (Guided IG's np.quantile(interpolation=...))
# ---------------------------------------------------------------------------------------------


def _linear_call_model_function(w):
    from saliency.core.base import INPUT_OUTPUT_GRADIENTS

    def call_model_function(x_batch, call_model_args=None, expected_keys=None):
        return {INPUT_OUTPUT_GRADIENTS: np.broadcast_to(w, x_batch.shape).copy()}

    return call_model_function


def test_compat_detection_matches_installed_numpy():
    from imacs_widget.engine import saliency_compat as compat

    has_old_kw = "interpolation" in inspect.signature(np.quantile).parameters
    assert compat.needs_guided_ig_compat() == (not has_old_kw)


def test_guided_ig_runs_and_matches_linear_reference():
    import saliency.core as sc
    from saliency.core import guided_ig

    from imacs_widget.engine import saliency_compat as compat

    quantile_before = np.quantile
    signature_before = inspect.signature(np.quantile)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (5, 6, 3))
    base = rng.uniform(0, 1, (5, 6, 3))
    w = rng.normal(size=(5, 6, 3)) * rng.uniform(0.1, 10, size=(5, 6, 3))
    cmf = _linear_call_model_function(w)

    compat.remove_guided_ig_compat()
    if compat.needs_guided_ig_compat():  # the bug is real under this NumPy
        with pytest.raises(TypeError, match="interpolation"):
            sc.GuidedIG().GetMask(x, cmf, x_baseline=base, x_steps=10)
    assert compat.ensure_guided_ig_compat(force=True)
    proxy = guided_ig.np
    assert compat.ensure_guided_ig_compat() and guided_ig.np is proxy  # idempotent
    assert compat.is_guided_ig_compat_applied()

    attr = sc.GuidedIG().GetMask(x, cmf, x_baseline=base, x_steps=20)
    # f(x) = w . x: every path gives w * (x - baseline) per feature, summing to f(x) - f(b)
    np.testing.assert_allclose(attr, w * (x - base), rtol=1e-9, atol=1e-12)
    assert np.isclose(attr.sum(), (w * x).sum() - (w * base).sum())

    # NumPy itself is untouched: same function, same signature, other modules see real numpy
    import saliency.core.xrai as xrai_mod
    assert np.quantile is quantile_before
    assert inspect.signature(np.quantile) == signature_before
    assert xrai_mod.np is np and guided_ig.np is not np
    a = rng.normal(size=101)
    assert guided_ig.np.quantile(a, 0.25, interpolation="lower") == np.quantile(a, 0.25,
                                                                             method="lower")
    assert guided_ig.np.abs is np.abs


def test_guided_ig_separable_quadratic_reference():
    """f(x) = 1/2 sum w x^2 is separable: any monotone path gives w (x^2 - b^2) / 2 per feature."""
    import saliency.core as sc
    from saliency.core.base import INPUT_OUTPUT_GRADIENTS

    from imacs_widget.engine import saliency_compat as compat

    compat.ensure_guided_ig_compat()
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 1.5, (4, 4, 3))
    base = np.zeros_like(x)
    w = rng.uniform(0.2, 3.0, (4, 4, 3))

    def cmf(x_batch, call_model_args=None, expected_keys=None):
        return {INPUT_OUTPUT_GRADIENTS: w * x_batch}

    attr = sc.GuidedIG().GetMask(x, cmf, x_baseline=base, x_steps=200)
    ref = w * (x ** 2 - base ** 2) / 2
    np.testing.assert_allclose(attr.sum(), ref.sum(), rtol=0.02)
    np.testing.assert_allclose(attr, ref, rtol=0.1, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# saturated probabilities and ties (issue 7, bug 1)
# ---------------------------------------------------------------------------------------------

CELL = 6  # the only cell the texture model looks at


def texture_model(gain: float = 60.0, n_classes: int = 3):
    """float32 softmax over logits ``[gain * texture(cell 6) + 20, 0, 0]``.

    Texture = mean absolute horizontal gradient inside cell 6 (blurring it lowers the logit).
    The target's logit is at least 20 above the others, so the float32 softmax is exactly 1.0
    on every input: probability drops all tie, log-odds still see the texture.
    """
    mask = GRID == CELL

    def model(x):
        x = np.asarray(x, np.float32)
        grad = np.abs(np.diff(x, axis=2)).mean(axis=3)[:, mask[:, 1:]].mean(axis=1) / 255.0
        z = np.zeros((len(x), n_classes), np.float32)
        z[:, 0] = gain * grad + 20.0
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    return model


def textured_images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, H, W, 3)).astype(np.float32)


def test_saturated_softmax_still_ranks_the_textured_cell_first():
    imgs = textured_images()
    model = texture_model()
    assert (model(imgs)[:, 0] == 1.0).all()  # saturated: every probability drop is 0
    ad = ModelAdapter(model)  # outputs auto-detected as probabilities
    out = ranking.rank_leave_one_out(ad, imgs, [GRID] * len(imgs), blur_images(imgs, 2.0), 0, 5)
    first = [int(ids[0]) for ids in out]
    assert first.count(CELL) == len(imgs), first  # before the fix: cell 6 chosen for 0%


def test_log_odds_from_saturated_probabilities_keep_order():
    from imacs_widget.models.adapter import convert_outputs

    z = np.array([[40.0, 0.0, 1.0], [30.0, 0.0, 1.0]])
    e = np.exp(z - z.max(1, keepdims=True))
    p = (e / e.sum(1, keepdims=True)).astype(np.float32).astype(np.float64)
    assert (p[:, 0] == 1.0).all()
    lo_p = convert_outputs(p, "probabilities", "log_odds")
    lo_z = convert_outputs(z, "logits", "log_odds")
    assert lo_p[0, 0] > lo_p[1, 0] and lo_z[0, 0] > lo_z[1, 0]
    # exact from logits: z_t - logsumexp of the others
    np.testing.assert_allclose(lo_z[:, 0], z[:, 0] - np.log(np.exp(0.0) + np.exp(1.0)), rtol=1e-12)
    np.testing.assert_allclose(lo_z[:, 1], 0.0 - np.logaddexp(z[:, 0], 1.0), rtol=1e-12)
    np.testing.assert_allclose(lo_p[:, 0], lo_z[:, 0], rtol=1e-5)
    assert np.isfinite(convert_outputs(np.array([[1.0, 0.0]]), "probabilities", "log_odds")).all()


def test_exact_ties_are_broken_by_the_seed_not_by_id():
    imgs = textured_images(40, seed=1)
    const = lambda x: np.tile(np.array([[0.5, 0.5]], np.float32), (len(x), 1))  # noqa: E731
    bl = blur_images(imgs, 2.0)
    ad = ModelAdapter(const)
    a = ranking.rank_leave_one_out(ad, imgs, [GRID] * len(imgs), bl, 0, 5, seed=0)
    b = ranking.rank_leave_one_out(ad, imgs, [GRID] * len(imgs), bl, 0, 5, seed=0)
    c = ranking.rank_leave_one_out(ad, imgs, [GRID] * len(imgs), bl, 0, 5, seed=1)
    assert [x.tolist() for x in a] == [x.tolist() for x in b]  # same seed, same order
    assert [x.tolist() for x in a] != [x.tolist() for x in c]  # another seed, another order
    top_left = sum(set(x.tolist()) == {0, 1, 2, 3, 4} for x in a)
    assert top_left <= 1  # not always the first ids
    # an image gets the same order whatever batch it is ranked in
    alone = ranking.rank_leave_one_out(ad, imgs[7:8], [GRID], bl[7:8], 0, 5, seed=0)
    assert alone[0].tolist() == a[7].tolist()
