"""The plain-text summary of a comparison (:meth:`ComparisonResult.summary_text
<imacs_widget.result.ComparisonResult.summary_text>`), read through the result's public
attributes (this module does not import :mod:`imacs_widget.result`)."""

from __future__ import annotations

__all__ = ["intervention_lines", "summary_text"]


def summary_text(result, top: int = 5) -> str:
    """A short plain-text summary of ``result``'s active class.

    Parameters
    ----------
    result : ComparisonResult
        The comparison.
    top : int
        Clusters listed, in ``result.order``.

    Returns
    -------
    str
        Accuracies, faithfulness, the trust checks' verdicts when run (sanity check, class
        pictures), the findings (the significant differences between the models, ranked, as
        sentences, or "no significant difference" said plainly;
        :func:`~imacs_widget.engine.findings.findings_lines`), the top clusters (size,
        segments per model, mean attribution with its 95 % interval, removal, the q-value of
        the difference, consensus beyond two models), one line per what-if test computed
        (:func:`intervention_lines`) and the sampling notes, one per line.
    """
    from .engine.findings import findings_lines

    ms = result.models
    named = [(m, str(result.model_names[m])) for m in ms]
    who = ", ".join((n or m) if n in (m, "") or n.startswith((m + " ", m + "("))
                    else f"{m} = {n}" for m, n in named)  # never "A = A", "A = A (clean)"
    acc = ", ".join(f"{m} {result.accuracy[m]:.3f}" for m in ms)
    lines = [f"IMACS comparison for class {result.target_class!r}: {who}",
             f"accuracy on the evaluation set: {acc}",
             f"{len(result.segments)} segments in {result.n_clusters} clusters, ordered by {result.order}:"]
    faith = result.faithfulness
    if not faith.empty:
        lines.insert(2, "faithfulness (gain over random order; 0 = chance): " + ", ".join(
            f"{m} {faith.at[m, 'faithfulness']:+.3f}" for m in ms if m in faith.index))
    verdicts = result.sanity_verdicts
    if verdicts:
        lines.insert(2, "sanity check (every layer randomised): " + ", ".join(
            f"{m} {'passed' if v['passed'] else 'FAILED'}" for m, v in verdicts.items()))
    pics = result.class_picture_records
    if pics:
        lines.insert(2, "class pictures (log-odds of the best tile on blank inputs, blank "
                     "alone): " + ", ".join(f"{m} {v['best_log_odds']:+.2f} "
                                            f"({v['blank_log_odds']:+.2f})"
                                            for m, v in pics.items()))
    clusters = result.clusters
    lines[-1:-1] = findings_lines(clusters, ms, result.target_class, top=top,
                                  names=result.model_names,
                                  level=result.params.get("significance_level"))
    fmt = lambda v: "   n/a" if v is None else f"{v:+.3f}"  # noqa: E731

    def ival(c, m):
        ci = (c.get("ci") or {}).get(m)
        return f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""

    for c in clusters[:top]:
        counts = ", ".join(f"{m} {c['count'][m]}" for m in ms)
        means = ", ".join(f"{m} {fmt(c['mean_attribution'][m])}{ival(c, m)}" for m in ms)
        label = (f' "{c["name"]}"' if c.get("name") else
                 f" (suggested name: {c['suggested_name']})" if c.get("suggested_name") else "")
        line = (f"  cluster {c['id']:>2}{label}: {c['size']:>4} segments ({counts}); "
                f"mean attribution {means}")
        if c.get("note"):
            line += f"; note: {c['note']}"
        rem = [f"{m} {c['removal'][m]:+.3f}" for m in ms if c["removal"][m] is not None]
        if rem:
            line += "; removal " + ", ".join(rem)
        if c.get("q_value") is not None:
            line += (f"; difference q = {c['q_value']:.3f} "
                     f"({'significant' if c['significant'] else 'not significant'})")
        if len(ms) > 2:
            con = c["consensus"]
            line += f"; positive for {con['n']} of {con['of']}" + (
                f" ({', '.join(con['models'])})" if con["models"] else "")
        lines.append(line)
    lines += intervention_lines(result)
    for w in result.warnings:
        lines.append(f"  note: {w}")
    return "\n".join(lines)


def intervention_lines(result) -> list[str]:
    """One line per what-if test (:meth:`ComparisonResult.intervene
    <imacs_widget.engine.trust.TrustChecks.intervene>`) that applies to the current clustering
    of the active class, in cluster order.

    Parameters
    ----------
    result : ComparisonResult
        The comparison.

    Returns
    -------
    list of str
        E.g. ``"  what-if test, cluster 7: pasted onto 32 images of other classes, switched to
        'triangle': A 3 % [1 %, 16 %] of 31, B 61 % [44 %, 76 %] of 31; removed from 32
        images, 'triangle' lost: ...; mean probability change pasted A +0.01, B +0.40,
        removed A -0.02, B -0.35"``; a rate with no image that could flip reads ``n/a (none
        could flip)``.
    """
    def pct(v):
        return f"{100 * v:.0f} %"

    def rate(r, kind):
        v, ci, n = r[f"flip_{kind}_target"], r[f"flip_{kind}_target_ci"], \
            r["n_paste" if kind == "to" else "n_remove"]
        if v is None or ci is None:
            return f"{r['model']} n/a (none could flip)"
        return f"{r['model']} {pct(v)} [{pct(ci[0])}, {pct(ci[1])}] of {n}"

    def change(r, col):
        return f"{r['model']} " + ("n/a" if r[col] is None else f"{r[col]:+.2f}")

    out = []
    cls = result.target_class
    for c, rec in sorted(result.interventions.items()):
        rows = rec["rows"]
        out.append(
            f"  what-if test, cluster {c} (seed {rec['seed']}): pasted onto "
            f"{rec.get('images_pasted', '?')} images of other classes, switched to {cls!r}: "
            + ", ".join(rate(r, "to") for r in rows)
            + f"; removed from {rec.get('images_removed', '?')} images, {cls!r} lost: "
            + ", ".join(rate(r, "from") for r in rows)
            + f"; mean {rec.get('score', 'score')} change pasted "
            + ", ".join(change(r, "paste_score_change") for r in rows) + ", removed "
            + ", ".join(change(r, "remove_score_change") for r in rows))
    return out

