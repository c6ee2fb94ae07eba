"""Shared fixtures: tiny real Keras and PyTorch models and images built in the test session."""

from __future__ import annotations

import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


def tiny_cnn(n_classes: int = 3, size: int = 32, seed: int = 0, rescale: bool = True):
    """A small real Keras CNN (softmax) taking 0–255 images (``rescale=False``: its input as
    it is); random weights."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((size, size, 3)),
        *([keras.layers.Rescaling(1 / 255)] if rescale else []),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(n_classes, activation="softmax"),
    ])


def torch_cnn(seed: int = 0, n_classes: int = 3, dtype=None, scale: float = 1.0):
    """A small real PyTorch CNN (logits) taking ``[N, 3, H, W]`` 0..1 input; random weights
    (multiplied by ``scale``), in ``dtype`` when given."""
    import torch

    torch.manual_seed(seed)
    m = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 8, 3), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, n_classes))
    if scale != 1.0:
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(scale)
    return m.to(dtype) if dtype is not None else m


@pytest.fixture(scope="session")
def tiny_images():
    rng = np.random.default_rng(0)
    x = (rng.random((96, 32, 32, 3)) * 255).astype(np.uint8)
    y = rng.integers(0, 3, 96)
    return x, y


@pytest.fixture(scope="session")
def tiny_models():
    return tiny_cnn(seed=1), tiny_cnn(seed=2)


def tiny_embedder():
    """A cheap deterministic embedder (colour statistics) for pipeline tests."""
    from imacs_widget.engine.embedding.embedders import Embedder

    def fn(crops):
        c = np.asarray(crops, np.float32) / 255.0
        return np.concatenate([c.mean(axis=(1, 2)), c.std(axis=(1, 2)),
                               c[:, ::8, ::8].reshape(len(c), -1)], axis=1)

    return Embedder(fn, 32, "tiny-colour-stats")


@functools.cache
def trained_scenario(seed: int):
    """The demo's watermark scenario for ``seed`` (models trained, untrained copy included),
    built once per test session and shared by every test that needs it (training costs
    ~35 s per model on CI's 2 cores)."""
    from imacs_widget.demo.scenario import make_scenario

    return make_scenario(seed=seed, untrained=True)


def quick_compare(*args, **kw):
    """``compare(*args)`` with cheap settings (every image, k=3, 3 clusters, colour-statistics
    embedder, no progress bars, sampling warnings silenced); ``kw`` overrides them. ``args``
    is either call form: ``(model_a, model_b, images[, labels])`` or ``(models, images[,
    labels])``."""
    import warnings

    import imacs_widget as imacs

    opts = dict(target_class=0, sampling="all", n_clusters=3, k=3, embedder=tiny_embedder(),
                progress=False)
    opts.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        return imacs.compare(*args, **opts)
