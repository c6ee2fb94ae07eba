"""The §5 watermark scenario: generated dataset, watermark stamping, models, trained scenario."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import trained_scenario

from imacs_widget.demo.scenario import (
    CLASS_NAMES,
    _half_per_class,
    build_cnn,
    build_untrained,
    make_dataset,
    stamp_watermark,
    train_cnn,
    watermark_pattern,
)
from imacs_widget.errors import ImacsInputError

# ------------------------------------------------------------------------------------- dataset


def test_make_dataset_shapes_dtypes_and_balance():
    images, labels, names = make_dataset(12, image_size=64, n_classes=4, seed=0)
    assert images.shape == (48, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (48,) and np.issubdtype(labels.dtype, np.integer)
    assert names == list(CLASS_NAMES[:4]) and len(set(names)) == 4
    assert np.bincount(labels, minlength=4).tolist() == [12, 12, 12, 12]
    assert not np.all(np.diff(labels) >= 0), "labels should be shuffled"
    assert images.std() > 20  # not blank
    small, _, names3 = make_dataset(2, image_size=32, n_classes=3, seed=0)
    assert small.shape == (6, 32, 32, 3) and len(names3) == 3


def test_make_dataset_is_deterministic():
    a = make_dataset(6, seed=7, return_object_masks=True)
    b = make_dataset(6, seed=7, return_object_masks=True)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    c, _, _ = make_dataset(6, seed=8)
    assert not np.array_equal(a[0], c)


def test_object_masks_are_plausible():
    images, labels, names, objects = make_dataset(5, seed=1, return_object_masks=True)
    assert objects.shape == images.shape[:3] and objects.dtype == bool
    area = objects.mean(axis=(1, 2))
    assert np.all(area > 0.02) and np.all(area < 0.5)
    ring, circle = names.index("ring"), names.index("circle")
    assert area[labels == ring].mean() < area[labels == circle].mean()


@pytest.mark.parametrize("kwargs, arg", [
    (dict(n_per_class=0), "n_per_class"),
    (dict(n_per_class=2, n_classes=1), "n_classes"),
    (dict(n_per_class=2, image_size=8), "image_size"),
])
def test_make_dataset_bad_input(kwargs, arg):
    with pytest.raises(ImacsInputError, match=arg):
        make_dataset(**kwargs)


def test_import_does_not_import_tensorflow():
    code = ("import sys, imacs_widget.demo.scenario as s; s.make_dataset(1, seed=0); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# ----------------------------------------------------------------------------------- watermark


def test_watermark_pattern():
    rgb, alpha = watermark_pattern(64)
    assert rgb.shape == (14, 14, 3) and rgb.dtype == np.uint8 and alpha.shape == (14, 14)
    white = rgb[..., 0] == 255
    assert white.any() and np.all(alpha[white])  # letters are covered
    assert np.all(rgb[alpha & ~white] == 0)  # the outline is black
    assert not alpha.all()  # "outline" style is not an opaque plate
    rgb_p, alpha_p = watermark_pattern(64, style="plate")
    assert alpha_p.all() and np.array_equal(rgb_p, rgb)
    assert watermark_pattern(128)[0].shape == (28, 28, 3)
    with pytest.raises(ImacsInputError, match="style"):
        watermark_pattern(64, style="nope")


def test_stamp_watermark_mask_matches_pattern():
    images, _, _, objects = make_dataset(10, seed=2, return_object_masks=True)
    which = np.arange(len(images)) % 3 == 0
    stamped, masks = stamp_watermark(images, which, seed=5, avoid=objects)
    rgb, alpha = watermark_pattern(64)
    assert stamped.shape == images.shape and stamped.dtype == np.uint8
    assert masks.shape == images.shape[:3] and masks.dtype == bool
    assert not np.shares_memory(stamped, images)
    for i in range(len(images)):
        if not which[i]:
            assert not masks[i].any()
            np.testing.assert_array_equal(stamped[i], images[i])
            continue
        assert masks[i].sum() == alpha.sum()
        ys, xs = np.nonzero(masks[i])
        # locate the pattern box from the mask: its first covered row/col are the box's
        y0, x0 = ys.min() - np.nonzero(alpha.any(1))[0][0], xs.min() - np.nonzero(alpha.any(0))[0][0]
        box_mask = np.zeros_like(masks[i])
        box_mask[y0:y0 + 14, x0:x0 + 14] = alpha
        np.testing.assert_array_equal(box_mask, masks[i])
        np.testing.assert_array_equal(stamped[i, y0:y0 + 14, x0:x0 + 14][alpha], rgb[alpha])
        np.testing.assert_array_equal(stamped[i][~masks[i]], images[i][~masks[i]])
        assert not (masks[i] & objects[i]).any(), "watermark should avoid the object"
    # deterministic
    again, masks2 = stamp_watermark(images, which, seed=5, avoid=objects)
    np.testing.assert_array_equal(again, stamped)
    np.testing.assert_array_equal(masks2, masks)
    # positions are random
    starts = {tuple(np.argwhere(m)[0]) for m in masks[which]}
    assert len(starts) > 1


def test_stamp_watermark_plate_and_bad_input():
    images, _, _ = make_dataset(2, seed=0)
    which = np.ones(len(images), dtype=bool)
    stamped, masks = stamp_watermark(images, which, seed=0, pattern=watermark_pattern(64, "plate"))
    assert np.all(masks.sum(axis=(1, 2)) == 14 * 14)
    with pytest.raises(ImacsInputError, match="which"):
        stamp_watermark(images, which[:-1], seed=0)
    with pytest.raises(ImacsInputError, match="which"):
        stamp_watermark(images, which.astype(int), seed=0)
    with pytest.raises(ImacsInputError, match="images"):
        stamp_watermark(images[..., 0], which, seed=0)


def test_half_per_class():
    labels = np.repeat(np.arange(4), [10, 11, 6, 1])
    rng = np.random.default_rng(0)
    chosen = _half_per_class(labels, range(4), rng)
    assert np.bincount(labels[chosen], minlength=4).tolist() == [5, 6, 3, 1]
    only = _half_per_class(labels, [1], rng)
    assert set(labels[only]) == {1} and only.sum() == 6


# -------------------------------------------------------------------------------------- models


def test_build_cnn_deterministic_and_rescaling():
    m1 = build_cnn((32, 32, 3), 3, seed=4)
    m2 = build_untrained((32, 32, 3), 3, seed=4)
    for w1, w2 in zip(m1.get_weights(), m2.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)
    assert any(layer.__class__.__name__ == "Rescaling" for layer in m1.layers)
    x = np.random.default_rng(0).uniform(0, 255, (5, 32, 32, 3)).astype("float32")
    p = np.asarray(m1(x, training=False))
    assert p.shape == (5, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_train_cnn_deterministic():
    images, labels, _ = make_dataset(16, image_size=32, n_classes=3, seed=0)
    weights = []
    for _ in range(2):
        model = train_cnn(build_cnn((32, 32, 3), 3, seed=1), images, labels, epochs=1, seed=1)
        weights.append(model.get_weights())
    for w1, w2 in zip(*weights, strict=True):
        np.testing.assert_array_equal(w1, w2)


# ------------------------------------------------------------------------------ trained scenario


@pytest.fixture(scope="module")
def scenario0():
    return trained_scenario(0)  # trained once per session, shared with test_demo.py


@pytest.mark.slow
def test_scenario_data(scenario0):
    s = scenario0
    k = len(s.class_names)
    assert s.target_class == s.class_names[s.target_index]
    assert s.eval_images.dtype == np.uint8 and s.eval_images.shape[1:] == (64, 64, 3)
    # B's training set: watermark on half of the target class only; A's is clean
    assert set(s.train_labels[s.train_watermarked]) == {s.target_index}
    n_target = (s.train_labels == s.target_index).sum()
    assert s.train_watermarked.sum() == (n_target + 1) // 2
    diff = np.any(s.train_images_b != s.train_images, axis=-1).any(axis=(1, 2))
    np.testing.assert_array_equal(diff, s.train_watermarked)
    # eval: watermark on half of every class; masks cover exactly the changed pixels
    per_class = np.bincount(s.eval_labels[s.eval_watermarked], minlength=k)
    totals = np.bincount(s.eval_labels, minlength=k)
    np.testing.assert_array_equal(per_class, (totals + 1) // 2)
    changed = np.any(s.eval_images != s.eval_images_clean, axis=-1)
    assert not (changed & ~s.eval_watermark_masks).any()
    np.testing.assert_array_equal(s.eval_watermark_masks.any(axis=(1, 2)), s.eval_watermarked)
    assert s.model_untrained is not None


@pytest.mark.slow
def test_scenario_models_learn_shape_and_shortcut(scenario0):
    s = scenario0
    acc, sr = s.accuracy, s.shortcut_rate
    print(f"\naccuracy {acc}\nshortcut {sr}\nseconds {s.train_seconds}")
    assert acc["A"]["clean"] > 0.85
    assert acc["B"]["clean"] > 0.8
    assert acc["A"]["watermarked"] > 0.7  # A is not thrown off much by the watermark
    # B mistakes watermarked non-target images for the target class far more often than A
    assert sr["B"] > 0.4
    assert sr["B"] - sr["A"] > 0.3
    assert sr["B"] - sr["B_clean"] > 0.3  # and it is the watermark that does it
    assert acc["B"]["watermarked"] < acc["A"]["watermarked"] - 0.2
    # the untrained model is at chance
    assert acc["untrained"]["clean"] < 0.45
