"""Faithfulness of the attributions: deletion / insertion curves, from the Shapley game.

The segment Shapley game of an image (:mod:`~imacs_widget.engine.shapley`) already holds the
model's score for every coalition of its ``k`` ranked segments: ``v(S)`` is the score with the
segments of ``S`` kept and the other ranked segments blurred. Deletion and insertion curves over
the ranked segments (Petsiuk et al., 2018; Samek et al., 2017) are paths through those
coalitions, so they cost no model evaluation beyond the attribution itself:

* **deletion** (most relevant first): ``v(all), v(all - {s_1}), v(all - {s_1, s_2}), ...,
  v(none)`` with ``s_1, s_2, ...`` the segments by Shapley value of the class, highest first. A
  faithful attribution makes the score fall fast: a *small* area.
* **insertion**: ``v(none), v({s_1}), v({s_1, s_2}), ..., v(all)``: the score rises fast, a
  *large* area.
* **random order**: the same curves averaged over every order of the segments, computed exactly
  (the mean of ``v`` over the coalitions of each size), not sampled. The random-order deletion
  curve is the random-order insertion curve reversed, so both have the same area,
  ``random_auc``.

Areas are trapezoids over ``x = 0, 1/k, ..., 1`` (the fraction of ranked segments removed or
inserted), in the units of the score (probabilities). The image's **faithfulness** is the gain
of the attribution order over random order, averaged over both curves::

    faithfulness = ((insertion - random_auc) + (random_auc - deletion)) / 2
                 = (insertion - deletion) / 2

``0`` means the attribution orders the segments no better than chance; the largest possible
value is the score range. A model's faithfulness is the mean over its sampled images.

**Cluster removal**: the drop of the model's score when every segment of one cluster in an
image is blurred, ``v(all) - v(all - cluster's segments)``, also read from the game. A
cluster's removal effect (per model) is the mean of that drop over the images whose segments
fall into it (see :func:`cluster_removal` and :mod:`~imacs_widget.engine.summary`).

Games are stored one row per segment (:func:`game_rows`): the image's ``2^k`` target-class
values, NaN-padded to ``2^k_max`` when the image had fewer segments than ``k`` (each of the
image's ``k`` rows holds a copy: 128 bytes a row at ``k = 5``, less than a tenth of its
embedding). Above ``k =`` :data:`MAX_STORED_K` games are not kept: the curve columns are still
computed, ``cluster_removal`` is not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CURVE_COLUMNS = ("deletion_auc", "insertion_auc", "random_auc", "faithfulness")
"""Per-segment columns of the segments table (one value per image and model, repeated)."""


MAX_STORED_K = 10
"""Largest ``k`` whose games are stored (``2^10`` float32 = 4 KB per segment row)."""


def _sizes(k: int) -> np.ndarray:
    return np.array([bin(m).count("1") for m in range(1 << k)])


def deletion_curve(game: np.ndarray, order) -> np.ndarray:
    """``v`` after blurring the players of ``order`` one at a time: ``[k + 1]`` values from
    ``v(all)`` to ``v(none)`` (``game``: ``[2^k]`` values by coalition bitmask; ``order``:
    player indices, first removed first)."""
    game = np.asarray(game, np.float64)
    m = (1 << len(order)) - 1
    out = [game[m]]
    for j in order:
        m ^= 1 << int(j)
        out.append(game[m])
    return np.asarray(out)


def insertion_curve(game: np.ndarray, order) -> np.ndarray:
    """``v`` after un-blurring the players of ``order`` one at a time: ``[k + 1]`` values from
    ``v(none)`` to ``v(all)``."""
    game = np.asarray(game, np.float64)
    m = 0
    out = [game[0]]
    for j in order:
        m |= 1 << int(j)
        out.append(game[m])
    return np.asarray(out)


def random_curves(game: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves averaged over all ``k!`` orders of the players, exactly:
    step ``j`` of insertion is the mean of ``v`` over the coalitions of ``j`` players."""
    game = np.asarray(game, np.float64)[: 1 << k]
    sizes = _sizes(k)
    by_size = np.array([game[sizes == s].mean() for s in range(k + 1)])
    return by_size[::-1].copy(), by_size


def curve_area(curve: np.ndarray) -> float:
    """Trapezoidal area of a curve over ``x = 0 .. 1`` in ``len(curve) - 1`` equal steps."""
    c = np.asarray(curve, np.float64)
    if len(c) < 2:
        return float(c[0]) if len(c) else float("nan")
    return float(((c[:-1] + c[1:]) / 2).sum() / (len(c) - 1))


def attribution_order(values: np.ndarray) -> np.ndarray:
    """Players by attribution, highest first (ties by player index)."""
    v = np.asarray(values, np.float64)
    return np.lexsort((np.arange(len(v)), -v))


def image_faithfulness(game: np.ndarray, values: np.ndarray) -> dict:
    """Deletion / insertion areas of one image's ranked segments and their gain over random
    order (see the module docstring).

    Parameters
    ----------
    game : numpy.ndarray
        ``[2^k]`` score of the class for every coalition of the ``k`` players.
    values : numpy.ndarray
        ``[k]`` Shapley values of the players for the class.

    Returns
    -------
    dict
        ``deletion_auc``, ``insertion_auc``, ``random_auc`` (the area of both random-order
        curves), ``faithfulness`` (floats; NaN when the image has no player).
    """
    k = len(values)
    if k == 0:
        return dict.fromkeys(CURVE_COLUMNS, float("nan"))
    order = attribution_order(values)
    d = curve_area(deletion_curve(game, order))
    i = curve_area(insertion_curve(game, order))
    r = curve_area(random_curves(game, k)[1])
    return {"deletion_auc": d, "insertion_auc": i, "random_auc": r,
            "faithfulness": ((i - r) + (r - d)) / 2}


def game_rows(game: np.ndarray, n_rows: int, k_max: int) -> np.ndarray:
    """``float32 [n_rows, 2^k_max]``: one image's game repeated for each of its segment rows,
    NaN-padded beyond its own ``2^k`` coalitions."""
    out = np.full((n_rows, 1 << k_max), np.nan, np.float32)
    g = np.asarray(game, np.float32)
    out[:, :len(g)] = g
    return out


def cluster_removal(segments: pd.DataFrame, games) -> np.ndarray:
    """Per segment row: the drop of its model's score when every segment of the row's image
    (same model) in the row's cluster is blurred, ``v(all) - v(all - those segments)``.

    ``segments`` needs ``model``, ``image_index``, ``rank`` (the player index) and ``cluster``;
    ``games``: the rows' games (:func:`game_rows`; ``[n, 2^k_max]``). Rows whose game is
    missing get NaN.
    """
    n = len(segments)
    if n == 0 or games is None:
        return np.full(n, np.nan)
    rank = segments["rank"].to_numpy().astype(np.int64)
    bits = np.left_shift(np.int64(1), rank)
    img = pd.MultiIndex.from_arrays([segments["model"].to_numpy(),
                                     segments["image_index"].to_numpy()])
    img_code = pd.factorize(img)[0]
    cl = segments["cluster"].to_numpy().astype(np.int64)
    grp = pd.DataFrame({"img": img_code, "cl": cl, "bits": bits})
    full = grp.groupby("img")["bits"].transform("sum").to_numpy()
    absent = grp.groupby(["img", "cl"])["bits"].transform("sum").to_numpy()
    rest = full ^ absent
    out = np.full(n, np.nan)
    width = games.shape[1]
    block = max(256, (32 << 20) // (4 * width))  # ~32 MB of games at a time, never read whole
    for s in range(0, n, block):
        g = np.asarray(games[s:s + block])
        r = np.arange(len(g))
        f, a = full[s:s + block], rest[s:s + block]
        ok = f < width
        out[s:s + block][ok] = (g[r[ok], f[ok]].astype(np.float64)
                                - g[r[ok], a[ok]].astype(np.float64))
    return out


def model_faithfulness(segments: pd.DataFrame, models) -> dict:
    """Per model: the mean over its sampled images of each of :data:`CURVE_COLUMNS`, and
    ``n_images`` (each image counted once; ``None`` for a model without images or a result
    computed before faithfulness was)."""
    out = {}
    have = all(c in segments for c in CURVE_COLUMNS)
    for m in models:
        rows = segments[segments["model"] == m]
        if not have or rows.empty:
            out[m] = None
            continue
        per_image = rows.drop_duplicates("image_index")
        vals = {c: per_image[c].to_numpy(np.float64) for c in CURVE_COLUMNS}
        out[m] = {c: (float(np.nanmean(v)) if np.isfinite(v).any() else None)
                  for c, v in vals.items()}
        out[m]["n_images"] = int(len(per_image))
    return out
