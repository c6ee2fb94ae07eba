"""Masked scoring in the backends: the device path (PyTorch, Hugging Face, Keras ops) equals the
NumPy path (compose on the host, then the model) — same ranked segments, Shapley values within
1e-5 — and the NumPy path is what ONNX models and callables get."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import tiny_cnn, torch_cnn

from imacs_widget.engine.masking import blur_images, evaluate_masked, leave_one_out_jobs
from imacs_widget.engine.ranking import rank_leave_one_out
from imacs_widget.engine.segmentation import grid_segments, slic_segments
from imacs_widget.engine.shapley import coalition_jobs, known_coalitions, segment_shapley
from imacs_widget.models import ModelAdapter
from imacs_widget.models.masked import MaskedJobs, compose_into, run_numpy_masked

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SIZE = 32


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    x = (rng.random((6, SIZE, SIZE, 3)) * 255).astype(np.float32)
    x[:, 4:12, 4:12] = 255.0  # structure, so blurring matters
    lms = [grid_segments(SIZE, SIZE, 4, 4)] * 3 + [slic_segments(x[i], 12) for i in range(3, 6)]
    return x, lms, blur_images(x, 2.0)


def _both(ad, x, lms, bl, target=0, k=4):
    """(ranked, values) through the device path and through the NumPy path."""
    out = []
    for masking in ("device", "numpy"):
        ad.masking = masking
        full = ad.log_odds(x)
        ranked = rank_leave_one_out(ad, x, lms, bl, target, k, full_scores=full, batch_size=16)
        known = known_coalitions(ranked, ad.scores(x), ranked.masked_scores)
        vals = segment_shapley(ad, x, lms, bl, ranked, 16, known=known)
        out.append(([np.asarray(r) for r in ranked], vals))
    ad.masking = "auto"
    return out


def _assert_same(dev, host, atol=1e-5):
    (r1, v1), (r2, v2) = dev, host
    for a, b in zip(r1, r2, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(v1, v2, strict=True):
        np.testing.assert_allclose(a, b, atol=atol, rtol=0)


def test_compose_matches_the_definition(data):
    x, lms, bl = data
    lm = np.stack(lms)
    sets = [(0, [1, 5]), (0, []), (4, [0, 2, 3]), (5, [1]), (5, list(range(12)))]
    jobs = MaskedJobs.from_sets([i for i, _ in sets], [s for _, s in sets], 16)
    out = compose_into(np.empty((len(sets), SIZE, SIZE, 3), np.float32), x, bl, lm, jobs)
    for j, (i, s) in enumerate(sets):
        drop = np.isin(lm[i], s)[..., None]
        np.testing.assert_array_equal(out[j], np.where(drop, bl[i], x[i]))
    # batches spread over threads and composed ahead give the same pixels in job order
    got = run_numpy_masked(lambda b: b.reshape(len(b), -1).astype(np.float64), x, bl, lm,
                           jobs, batch_size=2)
    np.testing.assert_array_equal(got, out.reshape(len(out), -1))


def test_coalition_and_leave_one_out_jobs(data):
    x, lms, _ = data
    jobs, ids = leave_one_out_jobs(lms[:2])
    assert len(jobs) == 32 and jobs.excluded.sum(axis=1).tolist() == [1] * 32
    assert [np.flatnonzero(r)[0] for r in jobs.excluded[:16]] == list(range(16))
    cj = coalition_jobs(lms[:1], [[7, 2, 9]], [[0, 5, 7]])
    # coalition 0: all three absent; 5 = players 0 and 2 present -> segment 2 absent; 7: none
    assert [sorted(np.flatnonzero(r).tolist()) for r in cj.excluded] == [[2, 7, 9], [2], []]


def test_torch_device_path_equals_numpy_path(data):
    x, lms, bl = data
    ad = ModelAdapter(torch_cnn(1, scale=4.0), input_size=(40, 40), preprocess="imagenet")
    assert ad.uses_device_masking()
    _assert_same(*_both(ad, x, lms, bl))


def test_torch_bfloat16_device_path_close_to_numpy_path(data):
    import torch

    x, lms, bl = data
    ad = ModelAdapter(torch_cnn(2, dtype=torch.bfloat16, scale=4.0), preprocess="caffe")
    (r1, v1), (r2, v2) = _both(ad, x, lms, bl)
    # the same bf16 model on the same float32 pixels; differences come from where the float32
    # preprocessing rounds before the cast to bfloat16 (stated tolerance: 2e-2 of a probability)
    for a, b in zip(v1, v2, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-2, rtol=0)


def test_keras_device_path_equals_numpy_path(data):
    x, lms, bl = data
    ad = ModelAdapter(tiny_cnn(seed=3, size=24), preprocess="symmetric")  # resized 32 -> 24
    assert not ad.uses_device_masking()  # "auto": on a CPU, Keras models compose in NumPy
    ad.masking = "device"
    assert ad.uses_device_masking() and ad.input_size == (24, 24)
    _assert_same(*_both(ad, x, lms, bl, target=1))


def test_huggingface_device_path_equals_numpy_path(data):
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=24, patch_size=8, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=64, num_labels=3)
    proc = ViTImageProcessor(size={"height": 24, "width": 24}, image_mean=[0.5, 0.4, 0.3],
                             image_std=[0.2, 0.25, 0.3])
    ad = ModelAdapter(ViTForImageClassification(cfg), preprocess=proc)
    x, lms, bl = data
    assert ad.uses_device_masking()
    _assert_same(*_both(ad, x, lms, bl, target=2))
    # at the processor's own size its ops are the processor's, to float rounding
    x24 = np.floor(x[:2, :24, :24])  # whole numbers: the processor gets the same pixels as uint8
    with torch.no_grad():
        ref = ad.model(**proc(images=list(x24.astype(np.uint8)), return_tensors="pt")).logits
    np.testing.assert_allclose(ad.raw(x24), ref.numpy(), atol=1e-4)


def test_callables_and_custom_preprocessing_take_the_numpy_path(data):
    x, lms, bl = data
    ad = ModelAdapter(lambda b: b.mean(axis=(1, 2)), returns="logits")
    assert not ad.uses_device_masking()
    custom = ModelAdapter(torch_cnn(0), preprocess=lambda b: b / 255.0)
    assert not custom.uses_device_masking()
    jobs, _ = leave_one_out_jobs(lms[:2])
    got = evaluate_masked(ad, x[:2], bl[:2], lms[:2], jobs, 5)
    want = np.stack([np.where(jobs.excluded[j][lms[i]][..., None], bl[i], x[i]).mean(axis=(0, 1))
                     for j, i in enumerate(jobs.image)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert ad.n_evals == len(jobs) and ad.n_calls == -(-len(jobs) // 5)


def test_masked_scoring_names_bad_input_and_nan(data):
    from imacs_widget.errors import ImacsInputError

    x, lms, bl = data
    ad = ModelAdapter(lambda b: np.full((len(b), 2), np.nan), returns="logits")
    jobs, _ = leave_one_out_jobs(lms[:1])
    with pytest.raises(ImacsInputError, match="NaN"):
        ad.masked_raw(x[:1], bl[:1], lms[:1], jobs)
    with pytest.raises(ImacsInputError, match="baselines"):
        ad.masked_raw(x[:1], bl[:2], lms[:1], jobs)
    bad = MaskedJobs(np.array([3]), np.zeros((1, 16), bool))
    with pytest.raises(ImacsInputError, match="jobs"):
        ad.masked_raw(x[:1], bl[:1], lms[:1], bad)
    ad_torch = ModelAdapter(torch_cnn(0))
    assert ad_torch.masking == "auto" and ad_torch.uses_device_masking()  # PyTorch: always
    with pytest.raises(ImacsInputError, match="IMACS_MASKING"):
        os.environ["IMACS_MASKING"] = "gpu"
        try:
            ModelAdapter(lambda b: b.mean(axis=(1, 2)))
        finally:
            del os.environ["IMACS_MASKING"]


@pytest.mark.parametrize("sigma", [1.3, 2.0, 4.0])
def test_device_blur_equals_scipy(sigma):
    """The PyTorch backend's Gaussian blur (what a GPU run uses) is SciPy's filter: same
    kernel, same reflected borders (checked here on the CPU device)."""
    from imacs_widget.models.torch_model import TorchBackend

    rng = np.random.default_rng(5)
    x = (rng.random((3, 20, 27, 3)) * 255).astype(np.float32)
    got = TorchBackend(torch_cnn(0)).gaussian_blur(x, sigma)
    np.testing.assert_allclose(got, blur_images(x, sigma), atol=2e-3, rtol=1e-5)
    assert TorchBackend(torch_cnn(0)).device_blur() is None  # on a CPU, SciPy's own


def test_threaded_look_ahead_composition_equals_the_sequential_one(data, monkeypatch):
    """The path a host with 4+ cores takes (batches split over threads, the next one composed
    while the current one is scored) gives the same pixels in job order as the 2-core path."""
    from imacs_widget.models import masked

    x, lms, bl = data
    lm = np.stack(lms)
    sets = [(i % 6, {i % 12, (5 * i) % 12}) for i in range(37)]
    jobs = MaskedJobs.from_sets([i for i, _ in sets], [s for _, s in sets], 16)
    flat = lambda b: b.reshape(len(b), -1).astype(np.float64)  # noqa: E731
    sequential = run_numpy_masked(flat, x, bl, lm, jobs, batch_size=8)
    monkeypatch.setattr(masked, "_workers", lambda: 8)
    threaded = run_numpy_masked(flat, x, bl, lm, jobs, batch_size=8)
    np.testing.assert_array_equal(threaded, sequential)
