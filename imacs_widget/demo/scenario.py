"""The planted-watermark scenario of the IMACS paper (§5), rebuilt small enough for a CPU.

The paper trains two flower classifiers: a baseline (model A) on clean data and a "perturbed"
model (model B) on data where a watermark was stamped at a random position on half of the images
of *one* class (sunflowers). Both reach high accuracy, but on a test set where the watermark is
stamped on half of the images of *every* class, model B mistakes watermarked images for the
target class. IMACS should surface the watermark as a concept that B attributes highly and A
does not. §6.1 adds a sanity check: comparing a trained model with an untrained one.

This module holds the data/model half of that demo, offline and seeded:

* :func:`make_dataset` — a generated colour dataset of shapes (``ring``, ``triangle``,
  ``cross``, ``circle``, ...) on noisy, textured, cluttered backgrounds;
* :func:`watermark_pattern` / :func:`stamp_watermark` — a white "IM" glyph outlined in black,
  stamped at random positions, with the boolean pixel mask of where it went;
* :func:`build_cnn` / :func:`build_untrained` / :func:`train_cnn` — a small Keras 3 CNN that
  takes 0–255 pixels;
* :func:`make_scenario` — everything together in a :class:`Scenario`.

TensorFlow/Keras are imported inside the functions that need them; importing this module only
imports NumPy.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ImacsInputError

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

#: Class names in label order. ``make_dataset(n_classes=k)`` uses the first ``k``.
CLASS_NAMES = ("ring", "triangle", "cross", "circle", "stripes", "square")

# The watermark letters at native size (12 x 12, drawn in a 14 x 14 box with a 1-pixel outline
# at 64 x 64 images): "IM" in 2-pixel white strokes ('#').
_GLYPH = (
    "####.##...##",
    "####.###.###",
    ".##..#######",
    ".##..##.#.##",
    ".##..##...##",
    ".##..##...##",
    ".##..##...##",
    ".##..##...##",
    ".##..##...##",
    ".##..##...##",
    "####.##...##",
    "####.##...##",
)
_GLYPH_BITS = np.pad(np.array([[c == "#" for c in row] for row in _GLYPH], dtype=bool), 1)


# --------------------------------------------------------------------------------------------
# dataset
# --------------------------------------------------------------------------------------------

def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates ``float [size, size]`` (cached, read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise ``[size, size]`` in about [-1, 1]: bilinear upsampling of a coarse grid."""
    grid = rng.uniform(-1.0, 1.0, size=(cells + 1, cells + 1))
    pos = np.linspace(0.0, cells, size)
    i0 = np.minimum(np.floor(pos).astype(int), cells - 1)
    t = pos - i0
    rows = grid[i0] * (1 - t)[:, None] + grid[i0 + 1] * t[:, None]  # [size, cells+1]
    return rows[:, i0] * (1 - t)[None, :] + rows[:, i0 + 1] * t[None, :]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured background ``float [size, size, 3]``: base colour, gradient, blotches, noise."""
    base = rng.uniform(40.0, 215.0, size=3)
    yy, xx = _grid(size)
    yy, xx = yy / max(size - 1, 1) - 0.5, xx / max(size - 1, 1) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy  # [-0.7, 0.7]
    ramp_colour = rng.uniform(-60.0, 60.0, size=3)
    blotch = np.stack([_smooth_noise(rng, size, int(rng.integers(3, 7))) for _ in range(3)], -1)
    img = base + ramp[..., None] * ramp_colour + blotch * rng.uniform(10.0, 30.0)
    sigma = rng.uniform(4.0, 14.0)
    img += sigma * rng.standard_normal(size=(size, size, 3), dtype=np.float32)
    return img


def _shape_mask(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """Boolean mask ``[size, size]`` of one randomly placed, sized and rotated shape."""
    r = rng.uniform(0.16, 0.26) * size  # characteristic radius
    margin = r * 1.05 + 1
    cy, cx = rng.uniform(margin, size - 1 - margin, size=2)
    yy, xx = _grid(size)
    dy, dx = yy - cy, xx - cx
    theta = rng.uniform(0, np.pi)
    u = np.cos(theta) * dx + np.sin(theta) * dy
    v = -np.sin(theta) * dx + np.cos(theta) * dy
    if kind == "circle":
        return dx ** 2 + dy ** 2 <= r ** 2
    if kind == "square":
        a = r * 0.8
        return (np.abs(u) <= a) & (np.abs(v) <= a)
    if kind == "stripes":
        a = r * 0.9
        period = rng.uniform(4.0, 7.0) * size / 64.0
        phase = rng.uniform(0, period)
        on = np.mod(u + phase, period) < period / 2
        return (np.abs(u) <= a) & (np.abs(v) <= a) & on
    if kind == "cross":
        w = r * rng.uniform(0.3, 0.4)
        return ((np.abs(u) <= r) & (np.abs(v) <= w)) | ((np.abs(v) <= r) & (np.abs(u) <= w))
    if kind == "ring":
        d2 = dx ** 2 + dy ** 2
        return (d2 <= r ** 2) & (d2 >= (r * 0.6) ** 2)
    if kind == "triangle":
        # equilateral triangle: inside three half-planes at distance 0.55 r from the centre
        inside = np.ones((size, size), dtype=bool)
        for k in range(3):
            phi = theta + k * 2 * np.pi / 3
            inside &= np.cos(phi) * dx + np.sin(phi) * dy <= r * 0.55
        return inside
    raise ValueError(kind)


def _foreground_colour(rng: np.random.Generator, bg_mean: np.ndarray) -> np.ndarray:
    """A random colour far enough (Euclidean, RGB) from ``bg_mean`` to be visible."""
    for _ in range(100):
        colour = rng.uniform(0.0, 255.0, size=3)
        if np.linalg.norm(colour - bg_mean) > 110.0:
            return colour
    return np.where(bg_mean > 127.5, 0.0, 255.0)


# segments of a seven-segment "letter" as (y0, x0, y1, x1) in units of (height, width)
_SEGMENTS = (
    (0.0, 0.0, 0.0, 1.0), (0.5, 0.0, 0.5, 1.0), (1.0, 0.0, 1.0, 1.0),  # top, middle, bottom
    (0.0, 0.0, 0.5, 0.0), (0.0, 1.0, 0.5, 1.0), (0.5, 0.0, 1.0, 0.0), (0.5, 1.0, 1.0, 1.0),
    (0.0, 0.5, 1.0, 0.5),  # centre stem
)


def _add_clutter(rng: np.random.Generator, img: np.ndarray, n_items: int) -> np.ndarray:
    """Paint ``n_items`` small distractors onto ``img`` (float ``[S, S, 3]``, modified in place).

    Distractors are thin strokes, dots, small patches and random letter-like stroke figures
    (seven-segment style) in random colours. They are smaller than the objects and carry no
    class information: they teach the models that small marks and letter-like strokes are not
    evidence of a class, so that a model trained without the watermark is not thrown off by it.
    """
    size = img.shape[0]
    scale = size / 64.0
    for _ in range(n_items):
        colour = rng.uniform(0.0, 255.0, size=3)
        kind = int(rng.integers(0, 4))
        cy, cx = rng.uniform(0, size - 1, size=2)
        half = 8.0 * scale + 2  # every item fits in a (2 half + 1)^2 window around (cy, cx)
        y0, y1 = int(max(0, np.floor(cy - half))), int(min(size, np.ceil(cy + half) + 1))
        x0, x1 = int(max(0, np.floor(cx - half))), int(min(size, np.ceil(cx + half) + 1))
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(float)
        window = img[y0:y1, x0:x1]
        if kind == 0:  # thin stroke
            length = rng.uniform(4.0, 12.0) * scale
            angle = rng.uniform(0, 2 * np.pi)
            dy, dx = np.sin(angle), np.cos(angle)
            t = np.clip((yy - cy) * dy + (xx - cx) * dx, 0.0, length)
            dist = np.hypot(yy - cy - t * dy, xx - cx - t * dx)
            mask = dist <= rng.uniform(0.5, 1.2) * max(scale, 0.6)
        elif kind == 1:  # dot
            ry, rx = rng.uniform(1.0, 3.0, size=2) * scale
            mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        elif kind == 2:  # small patch, sometimes with a contrasting bar across it
            hy, hx = rng.uniform(1.5, 4.5, size=2) * scale
            mask = (np.abs(yy - cy) <= hy) & (np.abs(xx - cx) <= hx)
            if rng.random() < 0.5:
                window[mask] = colour
                colour = 255.0 - colour
                bar = np.abs(xx - cx) if rng.random() < 0.5 else np.abs(yy - cy)
                mask = mask & (bar <= 0.6 * scale)
        else:  # letter-like figure: 2-5 segments of a seven-segment glyph
            height = rng.uniform(7.0, 13.0) * scale
            width = height * rng.uniform(0.4, 0.8)
            thick = rng.uniform(0.6, 1.2) * max(scale, 0.6)
            top, left = cy - height / 2, cx - width / 2
            mask = np.zeros(yy.shape, dtype=bool)
            for k in rng.choice(len(_SEGMENTS), size=int(rng.integers(2, 6)), replace=False):
                sy0, sx0, sy1, sx1 = _SEGMENTS[k]
                ya, yb = top + sy0 * height, top + sy1 * height
                xa, xb = left + sx0 * width, left + sx1 * width
                mask |= ((yy >= ya - thick) & (yy <= yb + thick)
                         & (xx >= xa - thick) & (xx <= xb + thick))
            if rng.random() < 0.4:  # light strokes outlined in a dark colour, like a logo
                padded = np.pad(mask, 1)
                outline = np.zeros_like(mask)
                for dy in range(3):
                    for dx in range(3):
                        outline |= padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
                window[outline] = rng.uniform(0.0, 60.0, size=3)
                colour = rng.uniform(195.0, 255.0, size=3)
        window[mask] = colour
    return img


def _make_images(labels: np.ndarray, names: list[str], size: int, rng: np.random.Generator,
                 clutter: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(labels)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    objects = np.empty((n, size, size), dtype=bool)
    for i, lab in enumerate(labels):
        bg = _background(rng, size)
        if clutter > 0:
            bg = _add_clutter(rng, bg, int(rng.poisson(clutter)))
        mask = _shape_mask(rng, names[lab], size)
        colour = _foreground_colour(rng, bg[mask].mean(axis=0) if mask.any() else bg.mean((0, 1)))
        bg[mask] = colour + 6.0 * rng.standard_normal(size=(int(mask.sum()), 3),
                                                      dtype=np.float32)
        images[i] = np.clip(np.rint(bg), 0, 255).astype(np.uint8)
        objects[i] = mask
    return images, objects


def _make_dataset(n_per_class: int, image_size: int, n_classes: int, seed, clutter: float = 3.0
                  ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    if int(n_per_class) < 1:
        raise ImacsInputError("n_per_class", f"must be >= 1, got {n_per_class!r}")
    if int(image_size) < 16:
        raise ImacsInputError("image_size", f"must be >= 16 pixels, got {image_size!r}")
    if not 2 <= int(n_classes) <= len(CLASS_NAMES):
        raise ImacsInputError("n_classes", f"must be in 2..{len(CLASS_NAMES)}, got {n_classes!r}")
    rng = _rng(seed)
    names = list(CLASS_NAMES[: int(n_classes)])
    labels = np.repeat(np.arange(int(n_classes)), int(n_per_class))
    labels = labels[rng.permutation(len(labels))]
    images, objects = _make_images(labels, names, int(image_size), rng, float(clutter))
    return images, labels.astype(np.int64), names, objects


def make_dataset(n_per_class: int, image_size: int = 64, n_classes: int = 4, seed=0,
                 clutter: float = 3.0, return_object_masks: bool = False):
    """Generate a seeded multi-class colour image dataset of shapes.

    Each image shows one object of its class — the first ``n_classes`` of :data:`CLASS_NAMES`:
    ``ring``, ``triangle``, ``cross``, ``circle`` (a filled disc), then ``stripes`` (a striped
    square patch) and ``square`` — in a random colour (contrasting with the background), at a
    random position, size (radius 16–26 % of the side) and rotation. The background has a
    random base colour, a colour gradient, low-frequency blotches and pixel noise, plus on
    average ``clutter`` small distractors (strokes, dots, patches, letter-like figures, some
    light-on-dark like a logo) that carry no class information. Classes differ only by shape.

    The default four classes are what the scenario was tuned on (a small CNN reaches ~93–95 %
    clean accuracy with 800 images per class and 3 epochs).

    Parameters
    ----------
    n_per_class : int
        Images per class; the dataset holds ``n_per_class * n_classes`` images.
    image_size : int
        Height and width in pixels (>= 16).
    n_classes : int
        Number of classes, 2..6.
    seed : int or numpy.random.Generator
        Same seed, same arrays.
    clutter : float
        Mean (Poisson) number of distractors per image; 0 for none.
    return_object_masks : bool
        Also return ``bool [N, H, W]``: the pixels of each image's object.

    Returns
    -------
    images : numpy.ndarray
        ``uint8 [N, image_size, image_size, 3]``, deterministically shuffled.
    labels : numpy.ndarray
        ``int64 [N]`` class indices into ``class_names``.
    class_names : list of str
    object_masks : numpy.ndarray
        Only if ``return_object_masks``.
    """
    images, labels, names, objects = _make_dataset(n_per_class, image_size, n_classes, seed,
                                                   clutter)
    if return_object_masks:
        return images, labels, names, objects
    return images, labels, names


# --------------------------------------------------------------------------------------------
# watermark
# --------------------------------------------------------------------------------------------

def watermark_pattern(image_size: int = 64, style: str = "outline"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The watermark: a white "IM" glyph, outlined in black or on a black plate.

    Parameters
    ----------
    image_size : int
        Side of the (square) images it is meant for; the pattern side is
        ``s = max(7, round(14 * image_size / 64))`` (14 px at 64 x 64), scaled from the 14 x 14
        design by nearest neighbour.
    style : {"outline", "plate"}
        ``"outline"`` (default): white letters with a 1-pixel black outline, the rest of the box
        transparent — high contrast on any background, like a real logo watermark, without
        adding a dark square that a shape classifier could take for an object. ``"plate"``:
        white letters on an opaque black ``s x s`` plate.

    Returns
    -------
    rgb : numpy.ndarray
        ``uint8 [s, s, 3]`` (255 on the letters, 0 elsewhere).
    alpha : numpy.ndarray
        ``bool [s, s]``: the pixels the watermark covers (letters and outline, or the whole plate).
    """
    if style not in ("outline", "plate"):
        raise ImacsInputError("style", f"expected 'outline' or 'plate', got {style!r}")
    letters = _GLYPH_BITS
    if style == "plate":
        cover = np.ones_like(letters)
    else:  # letters dilated by one pixel (8-neighbourhood)
        padded = np.pad(letters, 1)
        h, w = letters.shape
        cover = np.zeros_like(letters)
        for dy in range(3):
            for dx in range(3):
                cover |= padded[dy:dy + h, dx:dx + w]
    s = max(7, int(round(14 * image_size / 64)))
    idx = (np.arange(s) * letters.shape[0]) // s
    bits, alpha = letters[np.ix_(idx, idx)], cover[np.ix_(idx, idx)]
    rgb = np.repeat(np.where(bits, 255, 0).astype(np.uint8)[..., None], 3, axis=-1)
    return rgb, alpha


def stamp_watermark(images, which, seed=0, avoid=None, pattern=None):
    """Stamp the watermark at a random position on the selected images.

    Parameters
    ----------
    images : array-like
        ``uint8 [N, H, W, 3]`` images (not modified; a copy is returned).
    which : array-like of bool
        ``[N]``: stamp image ``i`` iff ``which[i]``.
    seed : int or numpy.random.Generator
        Draws the positions (one draw sequence over the stamped images, in order).
    avoid : array-like of bool, optional
        ``[N, H, W]`` pixels the watermark should not cover (e.g. the object, so the watermark
        adds a cue without hiding the class evidence). Up to 100 random positions are tried;
        if none is free, the position with the least overlap among them is used.
    pattern : tuple (rgb, alpha) or numpy.ndarray, optional
        ``uint8 [h, w, 3]`` colours and ``bool [h, w]`` coverage (an array alone is opaque);
        defaults to :func:`watermark_pattern` for the image size.

    Returns
    -------
    stamped : numpy.ndarray
        ``uint8 [N, H, W, 3]``; the watermark replaces the pixels it covers (``alpha``).
    watermark_masks : numpy.ndarray
        ``bool [N, H, W]``: the pixels covered by the watermark (all ``False`` for images that
        were not stamped). ``stamped[i][watermark_masks[i]]`` equals ``rgb[alpha]``; every other
        pixel is unchanged.
    """
    imgs = np.asarray(images)
    if imgs.ndim != 4 or imgs.shape[-1] != 3:
        raise ImacsInputError("images", f"expected [N, H, W, 3], got shape {imgs.shape}")
    n, h, w = imgs.shape[:3]
    sel = np.asarray(which)
    if sel.shape != (n,) or sel.dtype != bool:
        raise ImacsInputError("which", f"expected a bool array of shape ({n},), got "
                              f"{sel.dtype} {sel.shape}")
    if pattern is None:
        pattern = watermark_pattern(min(h, w))
    if isinstance(pattern, tuple):
        pat, alpha = np.asarray(pattern[0], dtype=np.uint8), np.asarray(pattern[1], dtype=bool)
    else:
        pat = np.asarray(pattern, dtype=np.uint8)
        alpha = np.ones(pat.shape[:2], dtype=bool)
    if pat.ndim != 3 or pat.shape[-1] != 3 or alpha.shape != pat.shape[:2]:
        raise ImacsInputError("pattern", f"expected (uint8 [h, w, 3], bool [h, w]), got shapes "
                              f"{pat.shape} and {alpha.shape}")
    ph, pw = pat.shape[:2]
    if ph > h or pw > w:
        raise ImacsInputError("pattern", f"pattern {ph}x{pw} larger than images {h}x{w}")
    if avoid is not None:
        avoid = np.asarray(avoid, dtype=bool)
        if avoid.shape != (n, h, w):
            raise ImacsInputError("avoid", f"expected bool [{n}, {h}, {w}], got {avoid.shape}")
    rng = _rng(seed)
    stamped = np.array(imgs, dtype=np.uint8, copy=True)
    masks = np.zeros((n, h, w), dtype=bool)
    for i in np.flatnonzero(sel):
        ys = rng.integers(0, h - ph + 1, size=100)
        xs = rng.integers(0, w - pw + 1, size=100)
        k = 0
        if avoid is not None:
            integral = np.pad(avoid[i].cumsum(0).cumsum(1), ((1, 0), (1, 0)))
            overlap = (integral[ys + ph, xs + pw] - integral[ys, xs + pw]
                       - integral[ys + ph, xs] + integral[ys, xs])
            k = int(np.argmin(overlap))  # first zero-overlap draw, else the least overlap
        y, x = int(ys[k]), int(xs[k])
        window = stamped[i, y:y + ph, x:x + pw]
        window[alpha] = pat[alpha]
        masks[i, y:y + ph, x:x + pw] = alpha
    return stamped, masks


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# scenario
# --------------------------------------------------------------------------------------------

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
