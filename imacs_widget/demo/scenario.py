"""The planted-watermark scenario of the IMACS paper (§5), rebuilt small enough for a CPU.

The paper trains two flower classifiers: a baseline (model A) on clean data and a "perturbed"
model (model B) on data where a watermark was stamped at a random position on half of the images
of *one* class (sunflowers). Both reach high accuracy, but on a test set where the watermark is
stamped on half of the images of *every* class, model B mistakes watermarked images for the
target class. IMACS should surface the watermark as a concept that B attributes highly and A
does not. §6.1 adds a sanity check: comparing a trained model with an untrained one.

The data/model half of that demo, offline and seeded, in four modules:

* :mod:`~imacs_widget.demo.shapes` — :func:`make_dataset`, a generated colour dataset of shapes
  (``ring``, ``triangle``, ``cross``, ``circle``, ...) on noisy, textured, cluttered
  backgrounds;
* :mod:`~imacs_widget.data.watermark` — :func:`watermark_pattern` / :func:`stamp_watermark`, a
  white "IM" glyph outlined in black, stamped at random positions, with the boolean pixel mask
  of where it went;
* :mod:`~imacs_widget.demo.cnn` — :func:`build_cnn` / :func:`build_untrained` /
  :func:`train_cnn`, a small Keras 3 CNN that takes 0–255 pixels;
* this module — :func:`make_scenario`, everything together in a :class:`Scenario` (and the
  names above, re-exported).

TensorFlow/Keras are imported inside the functions that need them; importing this module only
imports NumPy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.watermark import stamp_watermark, watermark_pattern
from ..errors import ImacsInputError
from .cnn import build_cnn, build_untrained, predict_classes, train_cnn
from .shapes import CLASS_NAMES, _make_dataset, make_dataset

__all__ = [
    "CLASS_NAMES",
    "Scenario",
    "build_cnn",
    "build_untrained",
    "make_dataset",
    "make_scenario",
    "predict_classes",
    "stamp_watermark",
    "train_cnn",
    "watermark_pattern",
]


@dataclass
class Scenario:
    """The §5 watermark scenario: data, the two trained models, and how they behave.

    Attributes
    ----------
    class_names : list of str
    target_class : str
        The class whose training images carried the watermark for model B.
    target_index : int
        ``class_names.index(target_class)``.
    train_images : numpy.ndarray
        ``uint8 [Nt, H, W, 3]`` clean training images (model A's training set).
    train_labels : numpy.ndarray
        ``int64 [Nt]``.
    train_images_b : numpy.ndarray
        Model B's training set: ``train_images`` with the watermark on half of the target-class
        images.
    train_watermarked : numpy.ndarray
        ``bool [Nt]`` which of ``train_images_b`` carry the watermark.
    eval_images : numpy.ndarray
        ``uint8 [Ne, H, W, 3]`` evaluation set with the watermark on half of the images of every
        class (pass this to ``compare``).
    eval_labels : numpy.ndarray
        ``int64 [Ne]``.
    eval_watermarked : numpy.ndarray
        ``bool [Ne]``.
    eval_watermark_masks : numpy.ndarray
        ``bool [Ne, H, W]`` watermark pixels (all ``False`` where not watermarked).
    eval_images_clean : numpy.ndarray
        The same evaluation images without any watermark.
    model_a, model_b : keras.Model
        A trained on clean data, B on ``train_images_b``.
    model_untrained : keras.Model or None
        A freshly initialised model of the same architecture (``make_scenario(untrained=True)``).
    accuracy : dict
        ``accuracy[m][split]`` for ``m`` in ``"A"``, ``"B"`` (and ``"untrained"``), ``split`` in
        ``"clean"`` (all eval images without watermark), ``"watermarked"`` (the watermarked eval
        images only) and ``"eval"`` (the mixed set ``eval_images``).
    shortcut_rate : dict
        ``shortcut_rate[m]``: fraction of watermarked eval images of non-target classes that model
        ``m`` predicts as the target class; ``shortcut_rate[m + "_clean"]`` is the same on those
        images without the watermark (the baseline false-positive rate).
    train_seconds : dict
        Wall-clock seconds: ``"data"`` (generating and stamping), ``"A"`` and ``"B"`` (training).
    seed : int
    params : dict
        The arguments ``make_scenario`` was called with.
    """

    class_names: list[str]
    target_class: str
    target_index: int
    train_images: np.ndarray
    train_labels: np.ndarray
    train_images_b: np.ndarray
    train_watermarked: np.ndarray
    eval_images: np.ndarray
    eval_labels: np.ndarray
    eval_watermarked: np.ndarray
    eval_watermark_masks: np.ndarray
    eval_images_clean: np.ndarray
    model_a: Any
    model_b: Any
    model_untrained: Any = None
    accuracy: dict = field(default_factory=dict)
    shortcut_rate: dict = field(default_factory=dict)
    train_seconds: dict = field(default_factory=dict)
    seed: int = 0
    params: dict = field(default_factory=dict)

    @property
    def model_names(self) -> dict:
        """``{"A": "baseline", "B": "watermarked <target>"}`` for ``compare(model_names=...)``."""
        return {"A": "baseline", "B": f"watermarked {self.target_class}"}


def _half_per_class(labels: np.ndarray, classes, rng: np.random.Generator) -> np.ndarray:
    """``bool [N]``: exactly ``ceil(n_c / 2)`` images chosen at random in each class of ``classes``."""
    chosen = np.zeros(len(labels), dtype=bool)
    for c in classes:
        idx = np.flatnonzero(labels == c)
        chosen[rng.permutation(idx)[: (len(idx) + 1) // 2]] = True
    return chosen


def make_scenario(seed: int = 0, n_train_per_class: int = 800, n_eval_per_class: int = 100,
                  image_size: int = 64, target_class="triangle", n_classes: int = 4,
                  epochs: int = 3, clutter: float = 3.0, untrained: bool = False,
                  verbose: int = 0) -> Scenario:
    """Build the §5 watermark scenario: data, model A (clean) and model B (watermark shortcut).

    * Training set: :func:`make_dataset` (``n_train_per_class`` per class). Model A trains on it
      as is; model B trains on a copy with the watermark stamped at a random position (not
      covering the object) on half of the ``target_class`` images.
    * Evaluation set: an independent :func:`make_dataset` draw (``n_eval_per_class`` per class)
      with the watermark on half of the images of *every* class.

    With the defaults, data generation takes ~6 s and training each model ~15–25 s on a 2-core
    CPU; A reaches ~93–95 % clean accuracy and B learns the shortcut (see ``shortcut_rate``).

    Parameters
    ----------
    seed : int
        Seeds the data, the watermark positions and the models (A with ``seed``, B with
        ``seed + 1``, the untrained model with ``seed + 2``).
    n_train_per_class, n_eval_per_class : int
    image_size : int
    target_class : str or int
        Name or index of the class B associates with the watermark.
    n_classes : int
    epochs : int
        Training epochs for each model.
    clutter : float
        Mean number of distractors per image (see :func:`make_dataset`).
    untrained : bool
        Also build ``model_untrained`` (same architecture, not trained) for the §6.1 check.
    verbose : int
        Keras ``fit`` verbosity.

    Returns
    -------
    Scenario
    """
    seed = int(seed)
    params = dict(seed=seed, n_train_per_class=n_train_per_class,
                  n_eval_per_class=n_eval_per_class, image_size=image_size,
                  target_class=target_class, n_classes=n_classes, epochs=epochs,
                  clutter=clutter, untrained=untrained)
    if not 2 <= int(n_classes) <= len(CLASS_NAMES):
        raise ImacsInputError("n_classes", f"must be in 2..{len(CLASS_NAMES)}, got {n_classes!r}")
    names = list(CLASS_NAMES[: int(n_classes)])
    if isinstance(target_class, (int, np.integer)) and not isinstance(target_class, bool):
        if not 0 <= int(target_class) < len(names):
            raise ImacsInputError("target_class", f"index {target_class} out of range for "
                                  f"{len(names)} classes")
        target_index = int(target_class)
    elif target_class in names:
        target_index = names.index(target_class)
    else:
        raise ImacsInputError("target_class", f"{target_class!r} is not one of {names}")

    ss = np.random.SeedSequence(seed)
    s_train, s_eval, s_wm_train, s_wm_eval = (np.random.default_rng(s) for s in ss.spawn(4))
    seconds = {}
    t0 = time.perf_counter()
    x_tr, y_tr, names, obj_tr = _make_dataset(n_train_per_class, image_size, n_classes, s_train,
                                              clutter)
    x_ev, y_ev, _, obj_ev = _make_dataset(n_eval_per_class, image_size, n_classes, s_eval,
                                          clutter)

    wm_tr = _half_per_class(y_tr, [target_index], s_wm_train)
    x_tr_b, _ = stamp_watermark(x_tr, wm_tr, s_wm_train, avoid=obj_tr)
    wm_ev = _half_per_class(y_ev, range(len(names)), s_wm_eval)
    x_ev_wm, masks_ev = stamp_watermark(x_ev, wm_ev, s_wm_eval, avoid=obj_ev)
    seconds["data"] = time.perf_counter() - t0

    shape = tuple(x_tr.shape[1:])
    t0 = time.perf_counter()
    model_a = train_cnn(build_cnn(shape, len(names), seed), x_tr, y_tr, epochs, seed,
                        verbose=verbose)
    seconds["A"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model_b = train_cnn(build_cnn(shape, len(names), seed + 1), x_tr_b, y_tr, epochs, seed + 1,
                        verbose=verbose)
    seconds["B"] = time.perf_counter() - t0
    model_u = build_untrained(shape, len(names), seed + 2) if untrained else None

    models = {"A": model_a, "B": model_b}
    if model_u is not None:
        models["untrained"] = model_u
    non_target_wm = wm_ev & (y_ev != target_index)
    accuracy, shortcut = {}, {}
    for key, model in models.items():
        pred_clean = predict_classes(model, x_ev)
        pred_mixed = predict_classes(model, x_ev_wm)
        accuracy[key] = {
            "clean": float(np.mean(pred_clean == y_ev)),
            "watermarked": float(np.mean(pred_mixed[wm_ev] == y_ev[wm_ev])),
            "eval": float(np.mean(pred_mixed == y_ev)),
        }
        shortcut[key] = float(np.mean(pred_mixed[non_target_wm] == target_index))
        shortcut[key + "_clean"] = float(np.mean(pred_clean[non_target_wm] == target_index))

    return Scenario(
        class_names=names, target_class=names[target_index], target_index=target_index,
        train_images=x_tr, train_labels=y_tr, train_images_b=x_tr_b, train_watermarked=wm_tr,
        eval_images=x_ev_wm, eval_labels=y_ev, eval_watermarked=wm_ev,
        eval_watermark_masks=masks_ev, eval_images_clean=x_ev,
        model_a=model_a, model_b=model_b, model_untrained=model_u,
        accuracy=accuracy, shortcut_rate=shortcut, train_seconds=seconds, seed=seed,
        params=params,
    )
