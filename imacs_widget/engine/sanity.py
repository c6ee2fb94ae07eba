"""Model-randomisation sanity check of the attributions (Adebayo et al., 2018; Quantus's MPRT).

Attributions that explain a model must change when the model's learned weights are destroyed.
:func:`sanity_check` re-attributes a sample of each model's images with copies of the model
whose weights are randomised *layer by layer*, from the output layer down (the cascading
randomisation test), and reports, at each step, the rank correlation (Spearman) between the
real Shapley values of an image's ranked segments and the randomised model's, averaged over the
images. Step 0 (nothing randomised) re-computes the real values (correlation 1, a control);
the last step randomises every layer with weights, which is the paper's untrained-model check
(§6.1) in one call.

A model **passes** when its correlation with every layer randomised is below
:data:`PASS_BELOW` in absolute value; one that stays above it (or anti-correlates as strongly)
has attributions that survive randomisation (they follow the image or the blur, not what the
model learned) and is flagged. A model without any weight has nothing to randomise: its only
step is step 0 and it is flagged.

Randomising a weight tensor replaces it by Gaussian noise of the tensor's own standard
deviation (a constant tensor such as a batch-norm scale: of its absolute mean, at least 0.01),
drawn from a generator seeded by ``seed`` and the layer's position, so the check is
reproducible; running statistics (batch-norm moving means and variances, PyTorch buffers) are
kept. Frozen weights (``trainable=False``, ``requires_grad=False``) are randomised too. Keras
models (each layer's weights, nested models' layers included) and PyTorch modules (parameters
of each sub-module, in registration order, Hugging Face classifiers included) are supported;
other models raise an error naming ``models``.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from ..errors import ImacsInputError

PASS_BELOW = 0.5
"""A model passes when |mean Spearman correlation| with every layer randomised is below this."""
MAX_STEPS = 6
"""At most this many cascade steps besides step 0 (spread over the layers, the last always all)."""


def _noise(rng: np.random.Generator, w: np.ndarray) -> np.ndarray:
    sd = float(np.std(w))
    if not sd > 1e-8:
        sd = max(float(np.abs(np.mean(w))), 0.01)
    return rng.normal(0.0, sd, w.shape).astype(w.dtype)


def _backend(model):
    """The backend that lists and randomises the weights of ``model`` (a model, an adapter or a
    backend; see :func:`~imacs_widget.models.backends.weights_backend`)."""
    from ..models.backends import weights_backend

    backend = weights_backend(model)
    if backend is None:
        inner = getattr(getattr(model, "backend", None), "model", model)
        raise ImacsInputError("models", f"the sanity check randomises Keras or PyTorch models; "
                              f"got {type(inner).__name__}")
    return backend


def weighted_layers(model) -> list[str]:
    """Names of the layers (Keras) or sub-modules (PyTorch) with learned weights, output first
    (the backend's ``weighted_layers``)."""
    return _backend(model).weighted_layers()


def randomized_copy(model, n_layers: int, seed: int = 0):
    """A copy of ``model`` with its top ``n_layers`` weighted layers (see
    :func:`weighted_layers`) randomised; the model itself is not changed. Each layer's noise is
    drawn from a generator seeded by ``seed`` and its position (the backend's
    ``randomized_copy`` does the framework's part)."""
    backend = _backend(model)
    names = backend.weighted_layers()[:int(n_layers)]

    def noise(j):
        rng = np.random.default_rng([int(seed), j])
        return lambda w: _noise(rng, w)

    return backend.randomized_copy(names, noise)


def randomized_adapter(adapter, n_layers: int, seed: int = 0):
    """A copy of a :class:`~imacs_widget.models.ModelAdapter` (same preprocessing, size, score)
    whose model is :func:`randomized_copy` of the adapter's."""
    backend = copy.copy(adapter.backend)
    backend.model = randomized_copy(adapter.backend, n_layers, seed)
    new = copy.copy(adapter)
    new.backend, new.model = backend, backend.model
    new._fingerprint = f"randomised-{n_layers}-{seed}"
    return new


def cascade_steps(n_layers: int, max_steps: int = MAX_STEPS) -> list[int]:
    """How many layers each step randomises: ``0``, then up to ``max_steps`` counts spread over
    ``1..n_layers`` (the last is ``n_layers``)."""
    if n_layers <= 0:
        return [0]
    k = min(int(max_steps), n_layers)
    return [0, *sorted({int(round(x)) for x in np.linspace(1, n_layers, k)})]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two vectors; NaN when either is constant or shorter than 2."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def sanity_check(adapter, images: np.ndarray, label_maps: list, players: list, real: list,
                 target: int, sigma: float, batch_size: int = 64, seed: int = 0,
                 max_steps: int = MAX_STEPS, progress=None, baseline="blur") -> pd.DataFrame:
    """The cascading randomisation check of one model on one sample.

    Parameters
    ----------
    adapter : ModelAdapter
        The model (Keras or PyTorch inside).
    images : numpy.ndarray
        ``float32 [n, H, W, 3]`` pixel-scale images of the sample.
    label_maps, players : list
        Per image, its segment label map and the ranked segment ids (the players).
    real : list of numpy.ndarray
        Per image, the real Shapley values of its players for ``target``.
    target : int
        The class of interest.
    sigma : float
        The blur of excluded segments (the run's).
    batch_size, seed, max_steps, progress
        Masked images per model call; the randomisation seed; cascade steps; a callable given
        1 per step done.
    baseline
        The run's exclusion baseline (:func:`~imacs_widget.engine.masking.baseline_images`).

    Returns
    -------
    pandas.DataFrame
        One row per step: ``layers`` (how many are randomised), ``layer`` (the lowest one
        randomised, ``""`` at step 0), ``spearman`` (mean over the images with a defined
        correlation), ``n_images``.
    """
    from .masking import baseline_images
    from .shapley import segment_shapley

    names = weighted_layers(adapter.backend.model)
    blurred = baseline_images(images, baseline, sigma)
    rows = []
    for n in cascade_steps(len(names), max_steps):
        ad = randomized_adapter(adapter, n, seed) if n else adapter
        vals = segment_shapley(ad, images, label_maps, blurred, players, batch_size)
        rho = [rank_correlation(r, v[:, target]) for r, v in zip(real, vals, strict=True)]
        rho = [x for x in rho if np.isfinite(x)]
        rows.append({"layers": n, "layer": names[n - 1] if n else "",
                     "spearman": float(np.mean(rho)) if rho else float("nan"),
                     "n_images": len(rho)})
        if progress is not None:
            progress(1)
    return pd.DataFrame(rows)


def verdict(table: pd.DataFrame) -> dict:
    """``{"spearman": final correlation, "layers": all randomised, "passed": bool}`` of one
    model's :func:`sanity_check` table (``passed`` is False when the final value is NaN)."""
    last = table.iloc[-1]
    rho = float(last["spearman"])
    return {"spearman": rho if np.isfinite(rho) else None, "layers": int(last["layers"]),
            "passed": bool(np.isfinite(rho) and abs(rho) < PASS_BELOW)}
