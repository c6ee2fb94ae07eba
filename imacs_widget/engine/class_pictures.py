"""Each model's picture of a class: input-agnostic saliency by gradient ascent over blank inputs.

What does a model, with no particular image in front of it, take as evidence for a class?
Following the input-agnostic saliency mapping of Akhtar & Jalwana (2023), the picture is
computed from gradients over an *unrestricted* data distribution instead of any evaluation
image: independent data points — blank inputs of random grey level and mild noise — are nudged
along the model's gradient towards the class, and the gradients are accumulated into one image.

How it is done here (:func:`class_picture`):

* **Accumulation.** A square tile of side ``tile`` (a quarter of the input side by default) is
  pasted at a random position on each of ``n_inputs`` fresh blank inputs per step; the
  gradient of the class's log-odds w.r.t. each pasted copy is summed back into the tile (the
  tile is shared by all data points: what it shows is what raises the class *anywhere, on any
  input*, not one image's saliency). Models whose detectors are position invariant — every
  CNN — see the tile's content wherever it lands, so the picture stays sharp instead of
  averaging features at arbitrary positions into grey.
* **Projection.** Pixel values stay in the images' range through a sigmoid parameterisation,
  and by default the tile is achromatic (one value per pixel, the same for R, G and B):
  unprojected, the ascent is drawn to saturated colour combinations that no image has, which
  hide the shapes (measured on the watermark demo: with colour, the backdoored model's picture
  lost the watermark's strokes). ``colour=True`` keeps three channels.
* **Scaling.** The objective is the log-odds of the class, which does not saturate like the
  probability; the ascent uses Adam steps (scale free), so a model's output scale does not
  change the picture. (The log-odds gradient is rebuilt from the float32 probability gradient;
  above log-odds of about 16 the class's probability rounds to 1 and the steps only lower the
  other classes — still an ascent, on a cruder gradient.)
* **Refinement.** ``n_starts`` tiles start from independent values near mid grey; each is scored
  after the ascent on fresh blank inputs and the picture is their mosaic, best first (a
  4 x 4 mosaic of quarter-side tiles is the size of a square input).

The cost is ``n_starts * n_inputs * steps`` gradient evaluations per model (16 x 8 x 120 =
15,360 with the defaults: 9–11 s for each of the demo's small CNNs on 2 CPU cores). Any model
with gradients works: Keras on TensorFlow, PyTorch modules and TensorFlow callables (see
:meth:`~imacs_widget.models.ModelAdapter.gradient_function`).

:func:`pattern_correlation` measures how much a picture looks like a known pattern (a planted
watermark or trigger): the best normalised cross-correlation of the pattern with each tile,
averaged over the tiles.
"""

from __future__ import annotations

import base64
import copy
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import ImacsInputError
from .settings import check_int

N_STARTS = 16
"""Independent tiles per model (the picture is their mosaic)."""
N_INPUTS = 8
"""Blank inputs each tile is pasted on, per step."""
STEPS = 120
"""Ascent steps."""
LEARNING_RATE = 0.05
"""Adam step size in the sigmoid's parameter space."""
INIT_SD = 0.5
"""Spread of the starting tiles around mid grey, in the sigmoid's parameter space (a wider
start leaves pixel noise the ascent never cleans up; measured on the demo: 2.0 halved the
backdoored model's watermark correlation on two of three seeds)."""


@dataclass
class ClassPicture:
    """One model's picture of a class (see the module docstring).

    Attributes
    ----------
    picture : numpy.ndarray
        ``uint8 [rows * tile, cols * tile, 3]``: the mosaic of the tiles, best first, row by row.
    tiles : numpy.ndarray
        ``float64 [n_starts, tile, tile, 3]`` in the images' pixel range, best first.
    log_odds : numpy.ndarray
        ``float64 [n_starts]``: mean log-odds of the class with each tile pasted on fresh blank
        inputs (the order of ``tiles``).
    blank_log_odds : float
        The same on the blank inputs without a tile: what the tiles add is
        ``log_odds - blank_log_odds``.
    target : int
        The class index.
    tile : int
        Tile side in pixels.
    n_evals : int
        Gradient evaluations spent.
    params : dict
        The settings it was computed with.
    """

    picture: np.ndarray
    tiles: np.ndarray
    log_odds: np.ndarray
    blank_log_odds: float
    target: int
    tile: int
    n_evals: int
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-safe record: the picture as a base64 PNG plus its figures (what results save)."""
        return {"png": png_base64(self.picture), "tile": int(self.tile),
                "best_log_odds": float(self.log_odds[0]),
                "mean_log_odds": float(np.mean(self.log_odds)),
                "blank_log_odds": float(self.blank_log_odds), "n_tiles": int(len(self.tiles)),
                "n_evals": int(self.n_evals), "params": dict(self.params)}


def png_base64(picture: np.ndarray) -> str:
    """Encode a ``uint8 [H, W, 3]`` picture as a base64 PNG string."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(picture, np.uint8)).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_png(data: str) -> np.ndarray:
    """The ``uint8 [H, W, 3]`` picture of :func:`png_base64`'s string."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def _log_odds_gradient(grads, x: np.ndarray, w: np.ndarray, target: int) -> np.ndarray:
    """``d log-odds / dx`` of ``target`` from the probability gradient:
    ``d p_t / (p_t (1 - p_t))``."""
    g, p = grads(x, w)
    pt = np.clip(np.asarray(p, np.float64)[:, target], 1e-12, 1.0)
    scale = 1.0 / (pt * np.maximum(1.0 - pt, 1e-7))
    return np.asarray(g, np.float64) * scale[:, None, None, None]


def class_picture(adapter, target: int, image_shape: tuple[int, int], *,
                  pixel_range: tuple[float, float] | None = None, n_starts: int = N_STARTS,
                  n_inputs: int = N_INPUTS, steps: int = STEPS, tile: int | None = None,
                  colour: bool = False, learning_rate: float = LEARNING_RATE, seed: int = 0,
                  progress: Callable[[int], None] | None = None) -> ClassPicture:
    """Compute one model's picture of class ``target`` (see the module docstring).

    Parameters
    ----------
    adapter : imacs_widget.ModelAdapter
        A differentiable model (Keras on TensorFlow, PyTorch, a TensorFlow callable).
    target : int
        Class index.
    image_shape : (int, int)
        ``(H, W)`` of the inputs the model is given (the comparison's image size).
    pixel_range : (float, float), optional
        ``(black, white)`` of the images' pixel scale (default: the adapter's
        :attr:`~imacs_widget.models.ModelAdapter.pixel_range`).
    n_starts, n_inputs, steps : int
        Independent tiles, blank inputs per tile and step, ascent steps.
    tile : int, optional
        Tile side (default: a quarter of the shorter image side, at least 4).
    colour : bool
        Three channels instead of one grey value per pixel.
    learning_rate : float
        Adam step size.
    seed : int
        Seeds the starting tiles, the blank inputs and the positions: same seed, same picture.
    progress : callable, optional
        Called with the number of gradient evaluations done, after each step.

    Returns
    -------
    ClassPicture
    """
    from ..models.adapter import ModelAdapter
    from ..models.backends import NotDifferentiable
    from .ranking import _check_target

    h, w = (int(s) for s in image_shape)
    if min(h, w) < 2:
        raise ImacsInputError("image_shape", f"needs at least 2 x 2 pixels, got {image_shape!r}")
    seed = check_int(seed, "seed", 0, 2**63 - 1)
    n_starts = check_int(n_starts, "n_starts", 1, 256)
    n_inputs = check_int(n_inputs, "n_inputs", 1, 256)
    steps = check_int(steps, "steps", 0, 100_000)
    tile = (min(max(4, min(h, w) // 4), min(h, w)) if tile is None
            else check_int(tile, "tile", 2, min(h, w)))
    if not isinstance(adapter, ModelAdapter):
        raise ImacsInputError("models", f"expected a ModelAdapter, got {type(adapter).__name__}")
    pixel_range = adapter.pixel_range if pixel_range is None else pixel_range
    lo, hi = (float(v) for v in pixel_range)
    if not hi > lo:
        raise ImacsInputError("pixel_range", f"needs black < white, got {pixel_range!r}")
    if not float(learning_rate) > 0:
        raise ImacsInputError("learning_rate", f"must be positive, got {learning_rate!r}")
    ad = copy.copy(adapter)  # gradients of the probability: the log-odds gradient follows
    ad.score = "probability"
    grey = np.full((2, h, w, 3), (lo + hi) / 2, np.float32)
    if ad.returns == "auto":  # a loaded result's model: settle probabilities vs logits first
        ad.settle_returns(ad.raw(grey))
    try:
        grads, n_classes, _ = ad.gradient_function(grey[:1])
    except NotDifferentiable as exc:
        raise ImacsInputError("models", f"class pictures follow the model's gradient, but model "
                              f"{ad.name!r} is not differentiable ({exc}); pass a Keras or "
                              "PyTorch model (or a callable on TensorFlow tensors)") from exc
    target = _check_target(target, n_classes)
    rng = np.random.default_rng(np.random.SeedSequence([seed, target, 7]))
    onehot = np.zeros(n_classes, np.float32)
    onehot[target] = 1.0
    ch = 3 if colour else 1
    theta = rng.normal(0.0, INIT_SD, (n_starts, tile, tile, ch))
    m1, m2 = np.zeros_like(theta), np.zeros_like(theta)
    b1, b2, eps = 0.9, 0.999, 1e-8
    span = hi - lo

    def blanks(n):
        level = rng.uniform(lo, hi, (n, 1, 1, 1))
        noise = rng.normal(0.0, 0.04 * span, (n, h, w, 1))
        return np.broadcast_to(np.clip(level + noise, lo, hi), (n, h, w, 3)).astype(np.float32)

    def paste(tiles_px, reps):
        """Each tile on ``reps`` blank inputs at random positions; returns inputs and positions."""
        n = len(tiles_px) * reps
        x = np.array(blanks(n))
        ys = rng.integers(0, h - tile + 1, n)
        xs = rng.integers(0, w - tile + 1, n)
        for i in range(n):
            x[i, ys[i]:ys[i] + tile, xs[i]:xs[i] + tile] = tiles_px[i // reps]
        return x, ys, xs

    def pixels(th):
        return lo + span / (1.0 + np.exp(-th))

    n_evals = 0
    batch = max(1, int(ad.batch_size))
    for step in range(steps):
        px = pixels(theta)
        x, ys, xs = paste(np.broadcast_to(px, (n_starts, tile, tile, 3)), n_inputs)
        g = np.concatenate([_log_odds_gradient(grads, x[s:s + batch], onehot, target)
                            for s in range(0, len(x), batch)])
        n_evals += len(x)
        gt = np.zeros((n_starts, tile, tile, 3))
        for i in range(len(x)):
            gt[i // n_inputs] += g[i, ys[i]:ys[i] + tile, xs[i]:xs[i] + tile]
        if not colour:
            gt = gt.sum(axis=-1, keepdims=True)
        gt = gt * (px - lo) * (hi - px) / span / n_inputs  # d pixel / d theta
        m1 = b1 * m1 + (1 - b1) * gt
        m2 = b2 * m2 + (1 - b2) * gt * gt
        t = step + 1
        theta = theta + float(learning_rate) * (m1 / (1 - b1 ** t)) / (
            np.sqrt(m2 / (1 - b2 ** t)) + eps)
        if progress is not None:
            progress(len(x))
    px = np.broadcast_to(pixels(theta), (n_starts, tile, tile, 3)).astype(np.float64)
    reps = max(4, n_inputs)
    x, _, _ = paste(px, reps)
    score = ad.log_odds(x)[:, target].reshape(n_starts, reps).mean(1)  # forward passes only
    blank = ad.log_odds(blanks(reps * 4))[:, target]
    n_evals += len(x) + reps * 4
    order = np.argsort(-score, kind="stable")
    params = dict(n_starts=n_starts, n_inputs=n_inputs, steps=steps, tile=tile,
                  colour=bool(colour), learning_rate=float(learning_rate), seed=int(seed))
    return ClassPicture(picture=mosaic(px[order], lo, hi), tiles=px[order], log_odds=score[order],
                        blank_log_odds=float(blank.mean()), target=target, tile=tile,
                        n_evals=n_evals, params=params)


def mosaic(tiles: np.ndarray, lo: float = 0.0, hi: float = 255.0) -> np.ndarray:
    """``uint8`` mosaic of ``[n, s, s, 3]`` tiles in ``[lo, hi]``, row by row, as square as
    possible (empty cells mid grey)."""
    tiles = np.asarray(tiles, np.float64)
    n, s = len(tiles), tiles.shape[1]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    out = np.full((rows * s, cols * s, 3), 127.5)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * s:(r + 1) * s, c * s:(c + 1) * s] = (tiles[i] - lo) / (hi - lo) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def pattern_correlation(picture: np.ndarray, pattern: np.ndarray, alpha: np.ndarray | None = None,
                        tile: int | None = None, n_tiles: int | None = None) -> float:
    """How much a picture shows a known pattern: normalised cross-correlation, best position.

    The pattern's grey values (over ``alpha``, its covered pixels) are correlated (Pearson)
    with the picture's at every position; the best correlation is taken within each tile of
    side ``tile`` (the whole picture when ``None``) and averaged over the tiles.

    Parameters
    ----------
    picture : numpy.ndarray
        ``[H, W, 3]`` or ``[H, W]``.
    pattern : numpy.ndarray
        ``[h, w, 3]`` or ``[h, w]`` (e.g. the planted watermark).
    alpha : numpy.ndarray, optional
        ``bool [h, w]``: the pattern's pixels (default: all).
    tile : int, optional
        The picture's tile side (:attr:`ClassPicture.tile`).
    n_tiles : int, optional
        Only the first ``n_tiles`` tiles, row by row (a mosaic's empty cells are left out).

    Returns
    -------
    float
        In ``[-1, 1]``; about 0 for a picture unrelated to the pattern, 1 for an exact copy.
    """
    pic = np.asarray(picture, np.float64)
    pic = pic.mean(axis=-1) if pic.ndim == 3 else pic
    pat = np.asarray(pattern, np.float64)
    pat = pat.mean(axis=-1) if pat.ndim == 3 else pat
    al = np.ones(pat.shape, bool) if alpha is None else np.asarray(alpha, bool)
    if al.shape != pat.shape:
        raise ImacsInputError("alpha", f"shape {al.shape} differs from the pattern's {pat.shape}")
    t = pat[al]
    if t.std() == 0:
        raise ImacsInputError("pattern", "is constant over its pixels: nothing to correlate")
    t = (t - t.mean()) / t.std()
    ph, pw = pat.shape
    side = tile or max(pic.shape)
    if ph > min(side, pic.shape[0]) or pw > min(side, pic.shape[1]):
        raise ImacsInputError("pattern", f"{ph}x{pw} is larger than the picture's tiles")
    from numpy.lib.stride_tricks import sliding_window_view

    best = []
    cells = [(y0, x0) for y0 in range(0, pic.shape[0] - ph + 1, side)
             for x0 in range(0, pic.shape[1] - pw + 1, side)]
    for y0, x0 in cells[:n_tiles]:
        cell = pic[y0:y0 + side, x0:x0 + side]
        win = sliding_window_view(cell, (ph, pw))[..., al]  # [py, px, n]
        sd = win.std(axis=-1)
        z = (win - win.mean(axis=-1, keepdims=True)) / np.where(sd > 1e-9, sd, 1.0)[..., None]
        r = np.where(sd > 1e-9, (z * t).mean(axis=-1), 0.0)
        best.append(float(r.max()))
    return float(np.mean(best))
