"""The §5 scenario's small Keras 3 CNN: build, train, predict (0–255 pixels in).

Keras / TensorFlow are imported inside the functions that need them.
"""

from __future__ import annotations

import numpy as np

from ..errors import ImacsInputError

__all__ = ["build_cnn", "build_untrained", "predict_classes", "train_cnn"]


def _seed_keras(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover - older TF
        pass


def build_cnn(input_shape=(64, 64, 3), n_classes: int = 4, seed: int = 0,
              learning_rate: float = 3e-3):
    """A small Keras 3 CNN for 0–255 RGB input with a softmax output.

    ``Rescaling(1/255)`` → 3×3 conv (16, stride 2) → 3×3 conv (24) → max pool → 3×3 conv (48)
    → max pool → 3×3 conv (64) → global max pooling → dense softmax; each conv is followed by
    batch normalisation (momentum 0.9, so the moving statistics settle within a few hundred
    steps) and ReLU. Global max pooling makes the network a bank of position-invariant
    detectors, which suits both the shapes and the watermark. About 50k parameters and ~8M
    multiply-adds per 64×64 image: it trains in seconds on a CPU and is cheap to query many
    times (Shapley values).

    Parameters
    ----------
    input_shape : tuple of int
        ``(H, W, 3)``.
    n_classes : int
    seed : int
        Seeds the initialisation (``keras.utils.set_random_seed``) and turns on TF op
        determinism.
    learning_rate : float
        Adam learning rate.

    Returns
    -------
    keras.Model
        Compiled (Adam, sparse categorical cross-entropy, accuracy).
    """
    import keras
    from keras import layers

    _seed_keras(seed)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for i, (filters, stride) in enumerate(((16, 2), (24, 1), (48, 1), (64, 1))):
        if i >= 2:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                          name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.GlobalMaxPooling2D(name="gmp")(x)
    outputs = layers.Dense(int(n_classes), activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="shape_cnn")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_untrained(input_shape=(64, 64, 3), n_classes: int = 4, seed: int = 0):
    """A freshly initialised, untrained model of the :func:`build_cnn` architecture (§6.1 check)."""
    return build_cnn(input_shape, n_classes, seed)


def train_cnn(model, images, labels, epochs: int = 3, seed: int = 0, batch_size: int = 32,
              verbose: int = 0):
    """Train ``model`` in place on ``images`` (0–255) and integer ``labels``; return ``model``.

    Deterministic on CPU as far as TF allows: ``keras.utils.set_random_seed(seed)`` and
    ``tf.config.experimental.enable_op_determinism()`` before fitting; shuffling is by Keras
    under that seed.
    """
    x = np.asarray(images, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 4 or len(x) != len(y):
        raise ImacsInputError("images", f"expected [N, H, W, 3] matching {len(y)} labels, "
                              f"got shape {x.shape}")
    _seed_keras(seed)
    model.fit(x, y, epochs=int(epochs), batch_size=int(batch_size), shuffle=True,
              verbose=verbose)
    return model


def predict_classes(model, images, batch_size: int = 256) -> np.ndarray:
    """``int64 [N]`` argmax predictions of a Keras model on 0–255 images (inference mode)."""
    import keras

    x = np.asarray(images, dtype=np.float32)
    out = [keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out).argmax(axis=-1).astype(np.int64)
