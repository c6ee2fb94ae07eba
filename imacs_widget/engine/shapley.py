"""Exact segment Shapley values with Gaussian-blurred exclusion (paper §4).

For an image with ranked segments ``s_0..s_{k-1}`` the game is
``v(S) = f(image with the segments of S kept and the other ranked segments blurred)``; segments
outside the ranked set keep their pixels. All ``2^k`` coalitions of all images are streamed through
the model in full batches (coalitions of several images share a batch), and one forward pass
yields the values of every class at once: ``phi = W @ v`` with the fixed Shapley weight matrix
``W`` of :func:`shapley_weights`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from math import factorial

import numpy as np


@lru_cache(maxsize=16)
def shapley_weights(k: int) -> np.ndarray:
    """Matrix ``W [k, 2^k]`` with ``phi = W @ v`` for a game ``v`` indexed by coalition bitmask.

    Bit ``j`` of a coalition index is set when player ``j`` is present. Row ``i`` holds
    ``+w(|S|)`` at ``S ∪ {i}`` and ``-w(|S|)`` at ``S`` for every ``S`` without ``i``, where
    ``w(s) = s! (k - s - 1)! / k!``.
    """
    if k < 1 or k > 20:
        raise ValueError(f"k must be in 1..20, got {k}")
    n = 1 << k
    sizes = np.array([bin(m).count("1") for m in range(n)])
    w_of = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
    W = np.zeros((k, n), dtype=np.float64)
    masks = np.arange(n)
    for i in range(k):
        without = masks[(masks >> i) & 1 == 0]
        wts = w_of[sizes[without]]
        W[i, without | (1 << i)] += wts
        W[i, without] -= wts
    W.setflags(write=False)
    return W


def coalition_keep_mask(label_map: np.ndarray, segment_ids: Sequence[int], coalition: int
                        ) -> np.ndarray:
    """``bool [H, W]``: false on ranked segments absent from ``coalition``, true elsewhere."""
    absent = [int(s) for j, s in enumerate(segment_ids) if not (coalition >> j) & 1]
    if not absent:
        return np.ones(label_map.shape, dtype=bool)
    lut = np.ones(max(int(label_map.max()), max(absent)) + 1, dtype=bool)  # id -> kept?
    lut[absent] = False
    return lut[label_map]


def coalition_jobs(label_maps: Sequence[np.ndarray], segment_ids: Sequence[Sequence[int]],
                   coalitions: Sequence[Sequence[int]]):
    """:class:`~imacs_widget.models.masked.MaskedJobs` of the given coalitions (bitmasks) of
    each image: the ranked segments absent from a coalition are excluded."""
    from ..models.masked import MaskedJobs
    from .masking import n_segments

    n = sum(len(c) for c in coalitions)
    image = np.empty(n, np.int64)
    excluded = np.zeros((n, n_segments(label_maps)), bool)
    pos = 0
    for i, (segs, ms) in enumerate(zip(segment_ids, coalitions, strict=True)):
        segs = np.asarray(segs, np.int64)
        ms = np.asarray(ms, np.int64)
        if not len(ms):
            continue
        absent = ((ms[:, None] >> np.arange(len(segs))) & 1) == 0  # [m, k]
        rows = slice(pos, pos + len(ms))
        image[rows] = i
        if len(segs):
            excluded[rows][:, segs] = absent  # a view: writes through
        pos += len(ms)
    return MaskedJobs(image, excluded)


def segment_shapley(score_fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray,
                    label_maps: Sequence[np.ndarray], blurred: np.ndarray,
                    segment_ids: Sequence[Sequence[int]], batch_size: int = 64,
                    progress: Callable[[int], None] | None = None,
                    known: Sequence[dict] | None = None, return_games: bool = False):
    """Exact Shapley values of the ranked segments of each image, for every class at once.

    Parameters
    ----------
    score_fn : ModelAdapter or callable
        The model: an adapter (its attributed scores; masked images are composed on its
        device where it can), or any ``float32 [n, H, W, 3] -> [n, C]`` callable (its outputs
        are the game's values; composed in NumPy).
    images, blurred : numpy.ndarray
        ``[N, H, W, 3]`` pixel-scale images and their Gaussian-blurred copies.
    label_maps : sequence of numpy.ndarray
        ``int [H, W]`` segment label map per image.
    segment_ids : sequence of sequences of int
        The ranked segments (players) of each image; ``k_i = len(segment_ids[i])`` may differ.
    batch_size : int
        Masked images per model call (coalitions of consecutive images share a batch).
    progress : callable, optional
        Called with the number of coalitions evaluated after each batch.
    known : sequence of dict, optional
        Per image, coalition values already computed, ``{coalition bitmask: [C] scores}``
        (e.g. the unmasked image, ``2^k - 1``, and the images with one ranked segment blurred,
        which a leave-one-out ranking scored); they are not evaluated again. See
        :func:`known_coalitions`.
    return_games : bool
        Also return each image's game: ``float64 [2^k_i, C]``, the score of every coalition
        (what :mod:`~imacs_widget.engine.faithfulness` reads its curves from).

    Returns
    -------
    list of numpy.ndarray
        Per image, ``float64 [k_i, C]``: Shapley value of each ranked segment for each class.
        Efficiency holds: ``values.sum(0) == v(all) - v(none)``. With ``return_games``, the
        pair ``(values, games)``.
    """
    ks = [len(s) for s in segment_ids]
    known = [dict(d) for d in known] if known is not None else [{} for _ in ks]
    todo = [[m for m in range(1 << k) if m not in known[i]] for i, k in enumerate(ks)]
    n_jobs = sum(len(t) for t in todo)
    jobs = coalition_jobs(label_maps, segment_ids, todo)

    from .masking import evaluate_masked

    v = evaluate_masked(score_fn, images, blurred, label_maps, jobs, batch_size, progress,
                        kind=None)
    if not n_jobs:  # every coalition known (e.g. k = 1 after a leave-one-out ranking)
        rows = [r for d in known for r in d.values()]
        v = np.zeros((0, len(rows[0]) if rows else 0))
    n_classes = v.shape[1]
    out, games, pos = [], [], 0
    for i, k in enumerate(ks):
        game = np.empty((1 << k, n_classes))
        for m, row in known[i].items():
            if m < (1 << k):
                game[m] = row
        game[todo[i]] = v[pos:pos + len(todo[i])]
        pos += len(todo[i])
        out.append(shapley_weights(k) @ game if k else np.zeros((0, n_classes)))
        games.append(game)
    return (out, games) if return_games else out


def known_coalitions(segment_ids: Sequence[Sequence[int]], full_scores: np.ndarray,
                     masked_scores: Sequence[dict] | None = None) -> list[dict]:
    """Coalition values a run already has, per image: the unmasked image (every player
    present, ``full_scores[i]``) and, from ``masked_scores[i]`` (``{segment id: scores}``, a
    leave-one-out ranking's), each image with one ranked segment alone blurred."""
    out = []
    for i, segs in enumerate(segment_ids):
        full = (1 << len(segs)) - 1
        d = {full: np.asarray(full_scores[i], np.float64)}
        ms = masked_scores[i] if masked_scores is not None else {}
        for j, s in enumerate(segs):
            if int(s) in ms:
                d[full ^ (1 << j)] = np.asarray(ms[int(s)], np.float64)
        out.append(d)
    return out


def coalition_values(score_fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                     label_map: np.ndarray, blurred: np.ndarray, segment_ids: Sequence[int]
                     ) -> np.ndarray:
    """All ``2^k`` coalition values ``[2^k, C]`` of one image, one model call per coalition.

    A slow, obviously-correct reference used by tests and the paper-faithful benchmark.
    """
    rows = []
    for m in range(1 << len(segment_ids)):
        keep = coalition_keep_mask(label_map, segment_ids, m)
        x = np.where(keep[..., None], image, blurred)[None].astype(np.float32)
        rows.append(np.asarray(score_fn(x), dtype=np.float64)[0])
    return np.stack(rows)
