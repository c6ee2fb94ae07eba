"""How sure a cluster's numbers are: bootstrap intervals, permutation tests, Benjamini–Hochberg.

Pure NumPy and seeded (the same inputs and seed give the same bits). Every function works on
*many statistics at once* (one column per cluster) so one set of resamples serves every
cluster of a class; :mod:`~imacs_widget.engine.summary` uses them for each cluster's ``ci``,
``p_value``, ``q_value`` and ``significant``.

* **Bootstrap interval** (:func:`bootstrap_ratio`): resample the *images* (rows) with
  replacement :data:`N_RESAMPLES` times and take the 2.5 and 97.5 percentiles of a ratio of
  sums ``sum(num) / sum(den)`` (a mean over images: ``den = 1``; the mean attribution of a
  cluster's segments: ``num`` = the image's attribution in the cluster, ``den`` = its number of
  segments there). Resampling images, not segments, keeps the segments of one image together.
* **Permutation test** (:func:`permutation_test`): are the models' means of a per-image value
  different? The statistic is the between-model sum of squares ``sum_m n_m (mean_m - grand)^2``
  (for two models a multiple of ``(mean_A - mean_B)^2``: two-sided). Under the null hypothesis
  the model labels are exchangeable *within each image* that several models sampled (for two
  models: a sign flip of the paired difference) and among the observations of images that only
  one model sampled (an unpaired permutation of labels). Both are applied together, so a pair of
  models with the same images gets the paired test, with disjoint images the unpaired one, and a
  mixture uses both. ``p = (1 + #{T* >= T}) / (1 + n_permutations)``, never 0.
* **Large classes**: above :data:`EXACT_UP_TO` observations the resampling distributions are
  replaced by their normal approximations, so re-clustering 100,000 segments stays fast: the
  interval is ``estimate ± 1.96 SE`` (delta method for a ratio) and the test is the
  chi-square test of the exact permutation mean and covariance of the models' sums (sampling
  without replacement within each group). At that size both agree with the resampling versions
  to the resampling error (``tests/test_statistics.py`` checks it just below the threshold).
* **Benjamini–Hochberg** (:func:`benjamini_hochberg`): q-values across the clusters of a class
  (the step-up adjusted p-values; a cluster is significant when ``q < alpha``).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ImacsInputError

__all__ = ["EXACT_UP_TO", "N_RESAMPLES", "benjamini_hochberg", "bootstrap_ratio",
           "chi2_sf", "group_sums",
           "permutation_test"]

N_RESAMPLES = 1000
"""Bootstrap resamples and permutations drawn by default."""
EXACT_UP_TO = 5000
"""Largest number of rows (images; observations for a test) resampled; above it the normal
approximations are used (see the module docstring)."""
_Z975 = 1.959963984540054


def _level_z(level: float) -> float:
    if not 0.5 < level < 1:
        raise ImacsInputError("level", f"must be in (0.5, 1), got {level}")
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ImacsInputError(name, f"must be [n] or [n, k], got shape {a.shape}")
    return a


def resample_counts(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``float64 [n_resamples, n]``: how often each of ``n`` rows is drawn in each bootstrap
    resample (``n`` draws with replacement per resample)."""
    draws = rng.integers(0, n, size=(n_resamples, n))
    flat = draws + (np.arange(n_resamples) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=n_resamples * n).reshape(n_resamples, n
                                                                           ).astype(np.float64)


def bootstrap_ratio(num, den=None, *, n_resamples: int = N_RESAMPLES, seed: int = 0,
                    level: float = 0.95, exact_up_to: int = EXACT_UP_TO,
                    counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of ``sum(num) / sum(den)`` over rows, for each column.

    Parameters
    ----------
    num : array_like
        ``[n]`` or ``[n, k]``: one row per resampled unit (image), one column per statistic.
    den : array_like, optional
        Same shape as ``num`` (or ``[n]``, shared by every column); default 1 (a mean).
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seeds the resamples.
    level : float
        Coverage of the interval (0.95: the 2.5 and 97.5 percentiles).
    exact_up_to : int
        Above this many rows, the normal approximation ``estimate ± z SE`` (delta method).
    counts : numpy.ndarray, optional
        ``[n_resamples, n]`` resample counts to reuse (:func:`resample_counts`); drawn from
        ``seed`` when not given.

    Returns
    -------
    low, high : numpy.ndarray
        ``float64 [k]``; NaN where the ratio is undefined (``sum(den)`` is 0, or no row).
    """
    num = _as_2d(num, "num")
    n, k = num.shape
    den = np.ones_like(num) if den is None else _as_2d(den, "den")
    if den.shape[0] != n or den.shape[1] not in (1, k):
        raise ImacsInputError("den", f"must have {n} rows like num, got shape {den.shape}")
    den = np.broadcast_to(den, num.shape)
    z = _level_z(level)
    if n == 0:
        return np.full(k, np.nan), np.full(k, np.nan)
    if n > exact_up_to and counts is None:
        return _normal_ratio(num, den, z)
    if counts is None:
        counts = resample_counts(n, int(n_resamples), np.random.default_rng(seed))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (counts @ num) / (counts @ den)
    r[~np.isfinite(r)] = np.nan
    q = (1 - level) / 2
    full = np.isfinite(r).all(axis=0)
    some = np.isfinite(r).any(axis=0) & ~full  # a resample without a denominator: skipped
    low, high = np.full(k, np.nan), np.full(k, np.nan)
    if full.any():
        low[full], high[full] = np.quantile(r[:, full], [q, 1 - q], axis=0)
    if some.any():
        low[some], high[some] = np.nanquantile(r[:, some], [q, 1 - q], axis=0)
    return low, high


def _normal_ratio(num: np.ndarray, den: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(num)
    sn, sd = num.sum(0), den.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sn / sd
        resid = num - r * den
        se = np.sqrt((resid ** 2).sum(0) / max(n * (n - 1), 1)) / (sd / n)
    bad = ~(np.isfinite(r) & np.isfinite(se))
    low, high = r - z * se, r + z * se
    low[bad], high[bad] = np.nan, np.nan
    return low, high


def _groups(model: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Group codes: each group with observations of two or more models keeps its own code;
    observations alone in their group share one pool code (permuted among themselves)."""
    _, code, size = np.unique(group, return_inverse=True, return_counts=True)
    single = size[code] < 2
    code = code.astype(np.float64)
    code[single] = -1.0
    return np.unique(code, return_inverse=True)[1].astype(np.int64)


def permutation_test(values, model, group, *, n_permutations: int = N_RESAMPLES,
                     seed: int = 0, exact_up_to: int = EXACT_UP_TO) -> np.ndarray:
    """p-values of "the models' means of ``values`` are equal", one per column.

    Parameters
    ----------
    values : array_like
        ``[n]`` or ``[n, k]``: one row per observation (one model's value on one image), one
        column per statistic (cluster). Non-finite values are not allowed.
    model : array_like
        ``[n]`` the model (any label) of each observation; at least two models.
    group : array_like
        ``[n]`` the image of each observation: labels are permuted among the observations of
        one image (paired), and among the observations whose image no other model sampled
        (unpaired); see the module docstring.
    n_permutations : int
        Random permutations drawn.
    seed : int
        Seeds the permutations.
    exact_up_to : int
        Above this many observations, the chi-square approximation of the same test.

    Returns
    -------
    numpy.ndarray
        ``float64 [k]`` two-sided p-values in ``(0, 1]`` (``1 / (n_permutations + 1)`` at the
        least with permutations).

    Raises
    ------
    ImacsInputError
        Shapes disagree, a value is not finite, or fewer than two models are present.
    """
    v = _as_2d(values, "values")
    n, k = v.shape
    model = np.asarray(model)
    group = np.asarray(group)
    if model.shape != (n,) or group.shape != (n,):
        raise ImacsInputError("model", f"model and group need one entry per row of values "
                              f"({n}), got {model.shape} and {group.shape}")
    if not np.isfinite(v).all():
        raise ImacsInputError("values", "must be finite")
    labels, mcode = np.unique(model, return_inverse=True)
    nm = len(labels)
    if nm < 2:
        raise ImacsInputError("model", f"needs at least two models, got {list(labels)}")
    g = _groups(mcode, group)
    n_per = np.bincount(mcode, minlength=nm).astype(np.float64)
    if n > exact_up_to:
        return _chi2_test(v, mcode, g, nm)
    onehot = np.zeros((n, nm))
    onehot[np.arange(n), mcode] = 1.0
    obs = _between_ss(onehot.T @ v, n_per, v.sum(0))  # [k]
    rng = np.random.default_rng(seed)
    base = np.argsort(g, kind="stable")  # slot j of group order holds label mcode[base[j]]
    slot_label = mcode[base]
    exceed = np.zeros(k)
    tol = 1e-10 * (v * v).sum(0)  # rounding of equal statistics (units of T)
    block = max(1, min(int(n_permutations), (2 << 20) // max(n, 1)))  # ~16 MB an array
    done = 0
    while done < n_permutations:
        b = min(block, int(n_permutations) - done)
        keys = g[None, :] + rng.random((b, n))
        order = np.argsort(keys, axis=1)  # row r: observations in group order, random within
        lab = np.empty((b, n), np.int64)
        np.put_along_axis(lab, order, np.broadcast_to(slot_label, (b, n)), axis=1)
        sums = np.empty((b, nm, k))
        for m in range(nm - 1):
            sums[:, m] = (lab == m).astype(np.float64) @ v
        sums[:, nm - 1] = v.sum(0) - sums[:, :nm - 1].sum(1)  # the last model: the rest
        t = _between_ss(sums, n_per, v.sum(0))  # [b, k]
        exceed += (t >= obs - tol).sum(0)
        done += b
    return (1.0 + exceed) / (1.0 + n_permutations)


def _between_ss(sums: np.ndarray, n_per: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``sum_m S_m^2 / n_m - total^2 / n``: the between-model sum of squares from per-model
    sums ``sums [..., m, k]``."""
    shape = (-1, 1) if sums.ndim == 2 else (1, -1, 1)
    return (sums ** 2 / n_per.reshape(shape)).sum(-2) - total ** 2 / n_per.sum()


def _chi2_test(v: np.ndarray, mcode: np.ndarray, g: np.ndarray, nm: int) -> np.ndarray:
    """The permutation test's normal approximation: the models' sums ``S`` have, under
    permutation within groups, mean ``sum_g c_g mu_g`` and covariance
    ``sum_g s2_g (diag(c_g) - c_g c_g^T / n_g)`` (sampling without replacement); the p-value is
    the chi-square tail of ``(S - E)^T Cov^+ (S - E)`` on ``rank(Cov)`` degrees of freedom."""
    n, k = v.shape
    ng = int(g.max()) + 1
    c = np.bincount(g * nm + mcode, minlength=ng * nm).reshape(ng, nm).astype(np.float64)
    size = c.sum(1)
    gs = group_sums(g, v, ng)
    gs2 = group_sums(g, v * v, ng)
    mu = gs / size[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = np.where(size[:, None] > 1, (gs2 - gs * mu) / (size[:, None] - 1), 0.0)
    s2 = np.maximum(s2, 0.0)
    d = group_sums(mcode, v, nm) - np.einsum("gm,gk->mk", c, mu)  # [m, k]
    diag = np.einsum("gm,gk->km", c, s2)  # [k, m]
    outer = np.einsum("gm,gl,gk->kml", c, c, s2 / size[:, None])
    cov = np.einsum("km,ml->kml", diag, np.eye(nm)) - outer
    p = np.ones(k)
    for j in range(k):
        w, vec = np.linalg.eigh(cov[j])
        keep = w > 1e-10 * max(float(w.max()), 1e-300)
        if not keep.any():
            continue
        proj = vec[:, keep].T @ d[:, j]
        p[j] = chi2_sf(float((proj ** 2 / w[keep]).sum()), int(keep.sum()))
    return p


def group_sums(code: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """``[n_groups, k]`` column sums of ``values [n, k]`` by the row codes ``code [n]`` (in
    ``0..n_groups-1``; one ``bincount``, faster than ``np.add.at``)."""
    values = _as_2d(values, "values")
    k = values.shape[1]
    flat = (np.asarray(code, np.int64)[:, None] * k + np.arange(k)).ravel()
    return np.bincount(flat, weights=values.ravel(), minlength=n_groups * k
                       ).reshape(n_groups, k)


def chi2_sf(x: float, df: int) -> float:
    """Upper tail ``P(X >= x)`` of a chi-square distribution with integer ``df >= 1`` (closed
    forms of the regularised upper incomplete gamma function; pure Python)."""
    if x <= 0:
        return 1.0
    h = x / 2
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for j in range(1, df // 2):
            term *= h / j
            total += term
        return min(1.0, math.exp(-h) * total)
    total = math.erfc(math.sqrt(h))
    term = math.sqrt(h) / math.gamma(1.5)
    for j in range(0, (df - 1) // 2):
        if j:
            term *= h / (j + 0.5)
        total += math.exp(-h) * term
    return min(1.0, total)


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini–Hochberg q-values (step-up adjusted p-values) of ``p``.

    ``q_(i) = min_{j >= i} (m / j) p_(j)`` over the ``m`` finite p-values in ascending order,
    capped at 1; NaN entries stay NaN and do not count in ``m``.

    Parameters
    ----------
    p : array_like
        ``[m]`` p-values in ``[0, 1]`` (NaN: no test).

    Returns
    -------
    numpy.ndarray
        ``float64 [m]`` q-values, in the order of ``p``.
    """
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return q
    if (p[ok] < 0).any() or (p[ok] > 1).any():
        raise ImacsInputError("p", "p-values must lie in [0, 1]")
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    q[order] = np.minimum(adj, 1.0)
    return q
