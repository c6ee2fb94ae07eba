"""Findings first: the significant differences between the models, ranked, as records and plain
sentences (``result.findings()``, ``summary_text()``, ``imacs compare``).

A finding is a cluster whose ``significant`` is true
(:func:`~imacs_widget.engine.summary.cluster_statistics`: the models' attribution per image in
the cluster differ, q-value below the level). Findings are ranked by ``effect`` (the spread of the models' attribution per image in
the cluster), largest first, then by q-value and cluster id. Each gets a sentence such as::

    B relies on cluster 7 (51 segments, 38 of them B's, mostly its false positives): mean
    attribution +0.24 [0.19, 0.29] vs A +0.06 [0.03, 0.09] (per image +0.090 vs +0.012),
    q = 0.008; blurring it lowers B's 'triangle' score by 0.33, A's by 0.08.

A cluster the user named (``result.rename_cluster``) is called by that name
(``cluster 7 "watermark"``); otherwise a suggested name, when there is one, opens the
parentheses, marked as such (``(suggested name: honeycomb 41 %, chain mail 22 %; 51
segments, ...)``).

"relies on" names the model with the largest attribution per image (when it is positive; when
no model's is positive the sentence names the one whose attribution counts against the class
most). The
brackets are 95 % bootstrap intervals over images; "per image" is what the test compares; the
removal clause appears when the result holds ``cluster_removal`` (see
:mod:`~imacs_widget.engine.faithfulness`). With no finding, :func:`findings_lines` says "no
significant difference" plainly.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FINDING_COLUMNS", "findings", "findings_frame", "findings_lines"]

FINDING_COLUMNS = ("rank", "cluster", "model", "versus", "effect", "q_value", "p_value", "size",
                   "count", "outcome", "mean_attribution", "ci", "mass", "mass_ci", "removal",
                   "one_sided", "sentence")
"""Columns of :func:`findings_frame` (one row per finding)."""

OUTCOME_WORDS = {"TP": "true positives", "TN": "true negatives", "FP": "false positives",
                 "FN": "false negatives"}


def findings(clusters: list[dict], models, target: str | None = None,
             names: dict | None = None) -> list[dict]:
    """The significant differences between the models, ranked, one record per cluster.

    Parameters
    ----------
    clusters : list of dict
        Cluster summaries with the fields of
        :func:`~imacs_widget.engine.summary.cluster_statistics` (e.g. ``result.clusters``).
    models : sequence of str
        The comparison's model keys, in order.
    target : str, optional
        The class of interest (named in the removal clause).
    names : dict, optional
        ``{model key: display name}``; a name that differs from its key is given once, at the
        start of the sentence (``"B (watermarked) relies on ..."``; a name that starts with
        its key, ``"B (watermark-trained)"``, as it is).

    Returns
    -------
    list of dict
        Records with the keys of :data:`FINDING_COLUMNS`: ``model`` is the model the finding
        is about, the one that relies on the cluster most (largest attribution per image; when
        no model's is positive, the one whose attribution counts against the class most),
        ``versus`` the others in order; ``count`` / ``outcome`` are ``model``'s segments there and their most frequent
        outcome; the per-model fields are dicts by model key. Empty when no cluster is
        significant.
    """
    models = tuple(models)
    sig = [c for c in clusters if c.get("significant")]
    sig.sort(key=lambda c: (-(c.get("effect") or 0.0), c["q_value"], c["id"]))
    out = []
    for rank, c in enumerate(sig, 1):
        mass = c["mass"]
        have = [m for m in models if mass.get(m) is not None]
        lead = max(have, key=lambda m: (mass[m], -models.index(m)))
        if mass[lead] <= 0:  # every model's attribution counts against: the most negative
            lead = min(have, key=lambda m: (mass[m], models.index(m)))
        outc = c["outcomes"][lead]
        top = max(outc, key=lambda o: (outc[o], -list(OUTCOME_WORDS).index(o)))
        rec = {
            "rank": rank, "cluster": int(c["id"]), "model": lead,
            "versus": [m for m in have if m != lead], "effect": c["effect"],
            "q_value": c["q_value"], "p_value": c["p_value"], "size": c["size"],
            "count": c["count"][lead],
            "outcome": top if c["count"][lead] and 2 * outc[top] > c["count"][lead] else None,
            "mean_attribution": dict(c["mean_attribution"]), "ci": dict(c["ci"] or {}),
            "mass": dict(mass), "mass_ci": dict(c["mass_ci"] or {}),
            "removal": dict(c.get("removal") or {}), "one_sided": c["one_sided"]}
        rec["sentence"] = _sentence(rec, target, names or {}, c.get("name"),
                                    c.get("suggested_name"))
        out.append(rec)
    return out


def findings_frame(clusters: list[dict], models, target: str | None = None,
                   names: dict | None = None) -> pd.DataFrame:
    """:func:`findings` as a DataFrame (columns :data:`FINDING_COLUMNS`, one row per finding,
    best first; no row when there is no significant difference)."""
    return pd.DataFrame(findings(clusters, models, target, names),
                        columns=list(FINDING_COLUMNS))


def findings_lines(clusters: list[dict], models, target: str | None = None,
                   top: int | None = None, names: dict | None = None,
                   level: float | None = None) -> list[str]:
    """Plain lines for a text summary: a heading, then one sentence per finding (at most
    ``top``), or one line saying plainly that there is no significant difference (or that no
    test could run); ``level``: the significance level the clusters were judged at (named in
    that line; default: "0.05 by default")."""
    tested = [c for c in clusters if c.get("q_value") is not None]
    if not tested:
        return ["findings: no test (fewer than two models with sampled images, or a table "
                "without image_index)"]
    recs = findings(clusters, models, target, names)
    if not recs:
        return [f"findings: no significant difference between the models (none of the "
                f"{len(tested)} clusters tested has its q-value below the level, "
                + (f"{level:g})" if level is not None else "0.05 by default)")]
    shown = recs if top is None else recs[:top]
    more = len(recs) - len(shown)
    head = (f"findings: {len(recs)} significant difference{'s' if len(recs) > 1 else ''} "
            f"in {len(tested)} clusters tested, largest first"
            + (f" ({more} more in result.findings())" if more else "") + ":")
    return [head] + [f"  {r['rank']}. {r['sentence']}" for r in shown]


def _decimals(values) -> int:
    big = max((abs(v) for v in values if v is not None), default=0.0)
    return 2 if big >= 0.1 else 3 if big >= 0.01 else 4


def _ival(ci, d: int) -> str:
    return "" if not ci else f" [{ci[0]:.{d}f}, {ci[1]:.{d}f}]"


def _q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _sentence(r: dict, target: str | None, names: dict, own: str | None = None,
              suggested: str | None = None) -> str:
    lead, others = r["model"], r["versus"]
    mean, ci, mass = r["mean_attribution"], r["ci"], r["mass"]
    d = _decimals(list(mean.values()) + [v for c in ci.values() if c for v in c])
    dm = _decimals(mass.values())
    where = f"{r['size']} segments, {r['count']} of them {lead}'s"
    cluster = f"cluster {r['cluster']}" + (f" \"{own}\"" if own else "")
    if suggested and not own:  # marked as a suggestion wherever it is printed
        where = f"suggested name: {suggested}; {where}"
    if r["outcome"]:
        where += f", mostly its {OUTCOME_WORDS[r['outcome']]}"
    def named(m):  # "B (watermarked)"; a name that already starts with its key as it is
        name = str(names.get(m) or m)
        return name if name == m or name.startswith(f"{m} ") else f"{m} ({name})"

    if mass[lead] > 0:
        head = (f"{named(lead)} relies on {cluster}"
                + (" most" if len(others) > 1 else ""))
    else:
        head = (f"{named(lead)}'s attribution in {cluster} counts against the "
                f"class" + (" most" if len(others) > 1 else ""))
    def one(m):  # noqa: E306
        if mean[m] is None:
            return f"{m} none (no segment of {m}'s there)"
        return f"{m} {mean[m]:+.{d}f}{_ival(ci.get(m), d)}"

    if len(others) == 1:
        o = others[0]
        means = f"mean attribution {one(lead)[len(lead) + 1:]} vs {one(o)}"
        per_image = f"per image {mass[lead]:+.{dm}f} vs {mass[o]:+.{dm}f}"
    else:
        means = "mean attribution " + ", ".join(one(m) for m in [lead] + others)
        per_image = "per image " + ", ".join(f"{m} {mass[m]:+.{dm}f}" for m in [lead] + others)
    text = f"{head} ({where}): {means} ({per_image}), {_q(r['q_value'])}"
    rem = [(m, r["removal"].get(m)) for m in [lead] + others]
    rem = [(m, v) for m, v in rem if v is not None]
    if rem:
        what = f"'{target}' score" if target is not None else "score of the class"
        parts = []
        for i, (m, v) in enumerate(rem):
            verb = "lowers" if v >= 0 else "raises"
            name = f"{m}'s {what}" if i == 0 else f"{m}'s"
            parts.append(f"{verb} {name} by {abs(v):.2f}" if i == 0 or
                         (v >= 0) != (rem[0][1] >= 0) else f"{name} by {abs(v):.2f}")
        text += "; blurring it " + ", ".join(parts)
    return text + "."
