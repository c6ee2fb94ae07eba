"""The "IM" watermark of the IMACS paper's §5 scenario, and stamping it onto images.

* :func:`watermark_pattern` — a white "IM" glyph outlined in black (or on a black plate);
* :func:`stamp_watermark` — the glyph at random positions on selected images, with the boolean
  pixel mask of where it went.

Shared by the offline demo (:mod:`imacs_widget.demo.scenario`, :mod:`imacs_widget.demo.photos`)
and :func:`imacs_widget.datasets.watermarked_copy`. A leaf module: NumPy and
:mod:`imacs_widget.errors` only.
"""

from __future__ import annotations

import numpy as np

from ..errors import ImacsInputError

__all__ = ["stamp_watermark", "watermark_pattern"]

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


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


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
