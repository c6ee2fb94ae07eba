"""Shared pieces of the benchmarks: models, images, throughput, timing helpers."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def load_avg() -> float:
    """1-minute load average (context for noisy timings on a shared machine)."""
    try:
        return float(os.getloadavg()[0])
    except OSError:  # pragma: no cover
        return float("nan")


def efficientnet_pre(x):
    """EfficientNet-Lite preprocessing that works on NumPy arrays and TF tensors (gradients)."""
    return (x - 127.0) / 128.0


def small_cnn(seed: int = 0):
    """The scenario's small CNN (64x64, softmax, random weights)."""
    from imacs_widget.demo.scenario import build_cnn

    return build_cnn((64, 64, 3), 4, seed)


def resnet50(seed: int = 0):
    """A ResNet50-sized Keras model with random weights (1000 classes, softmax, 224x224)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.applications.ResNet50(weights=None)


def efficientnet_lite0():
    """ImageNet-trained EfficientNet-Lite0 rebuilt in Keras (logits, 224x224), offline weights."""
    from imacs_widget.models.lite0.keras_rebuild import load_efficientnet_lite0

    return load_efficientnet_lite0()


MODELS = {
    # name: (builder, preprocess, image side)
    "small_cnn": (small_cnn, None, 64),
    "resnet50": (resnet50, "caffe", 224),
    "efficientnet_lite0": (efficientnet_lite0, efficientnet_pre, 224),
}


def small_images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` 64x64 images of the scenario dataset (uint8)."""
    from imacs_widget.demo.scenario import make_dataset

    x = make_dataset(max(1, -(-n // 4)), 64, 4, seed)[0]
    return np.asarray(x[:n])


def real_images_224(n: int) -> np.ndarray:
    """``n`` real photographs shipped offline (scikit-image / scikit-learn), centre-cropped to 224."""
    from PIL import Image
    from skimage import data

    srcs = []
    for name in ("chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry", "retina",
                 "hubble_deep_field", "colorwheel"):
        srcs.append(getattr(data, name)())
    try:
        from sklearn.datasets import load_sample_images

        srcs.extend(load_sample_images().images)
    except Exception:  # pragma: no cover
        pass
    out = []
    for i in range(n):
        a = np.asarray(srcs[i % len(srcs)])
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, -1)
        a = a[..., :3]
        h, w = a.shape[:2]
        s = min(h, w)
        a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        im = Image.fromarray(a.astype(np.uint8)).resize((224, 224), Image.BILINEAR)
        if i >= len(srcs):  # later copies: mirrored, so every image differs
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        out.append(np.asarray(im))
    return np.stack(out)


def images_for(name: str, n: int) -> np.ndarray:
    return small_images(n) if MODELS[name][2] == 64 else real_images_224(n)


_FORWARD: dict = {}


def best_throughput(model, side: int, batch_sizes=(16, 32, 64, 128), seconds: float = 3.0,
                    rounds: int = 1) -> tuple[float, dict]:
    """Best forward throughput (images/s) of ``model`` over ``batch_sizes``.

    The raw Keras model under ``tf.function`` on already-preprocessed inputs (no resizing,
    preprocessing, masking or Python overhead): the floor any method built on forward passes
    can reach on this machine. Each batch size runs for about ``seconds`` after a warm-up, in
    ``rounds`` interleaved rounds (the best round counts: other load only slows a run down).
    """
    import tensorflow as tf

    key = (id(model), side)
    if key not in _FORWARD:
        _FORWARD[key] = tf.function(lambda t: model(t, training=False), input_signature=[
            tf.TensorSpec((None, side, side, 3), tf.float32)])
    fn = _FORWARD[key]
    rng = np.random.default_rng(0)
    per: dict = {}
    xs = {bs: tf.constant(rng.standard_normal((bs, side, side, 3)).astype(np.float32))
          for bs in batch_sizes}
    for _ in range(rounds):
        for bs in batch_sizes:
            x = xs[bs]
            np.asarray(fn(x))
            n, t0 = 0, time.perf_counter()
            while True:
                np.asarray(fn(x))
                n += bs
                el = time.perf_counter() - t0
                if el >= seconds and n >= 2 * bs:
                    break
            per[bs] = max(per.get(bs, 0.0), n / el)
    best = max(per.values())
    return best, per


def tile_watch_script(selector: str, attributes: bool = False) -> str:
    """Browser init script: ``window.__benchTile`` = ``performance.now()`` when an element
    matching ``selector`` first exists (``attributes``: also watch attribute changes, for tiles
    that turn from placeholders into pictures)."""
    observe = "{childList: true, subtree: true" + (", attributes: true}" if attributes else "}")
    return """
(() => {
  window.__benchTile = null;
  const seen = () => {
    if (window.__benchTile === null && document.querySelector(__SELECTOR__)) {
      window.__benchTile = performance.now();
      return true;
    }
    return false;
  };
  const obs = new MutationObserver(() => { if (seen()) obs.disconnect(); });
  document.addEventListener('DOMContentLoaded', () => {
    if (!seen()) obs.observe(document.body, __OBSERVE__);
  });
})();
""".replace("__SELECTOR__", repr(selector)).replace("__OBSERVE__", observe)

