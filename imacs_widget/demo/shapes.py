"""The generated dataset of the §5 scenario: coloured shapes on noisy, textured, cluttered
backgrounds (:func:`make_dataset`), seeded and offline. NumPy only."""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ImacsInputError

__all__ = ["CLASS_NAMES", "make_dataset"]

#: Class names in label order. ``make_dataset(n_classes=k)`` uses the first ``k``.
CLASS_NAMES = ("ring", "triangle", "cross", "circle", "stripes", "square")


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
