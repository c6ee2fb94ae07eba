"""Ranking quality against exact Shapley over all 16 grid cells (issue 4 §2).

    python bench/ranking_quality.py [--n-images 20] [--steps 200] [--seed 0]

Model: model A of ``scenario.make_scenario(seed)`` (the small CNN trained on the watermark
scenario, 64x64). Images: ``--n-images`` evaluation images, half of the target class, half of the
others (seeded). Ground truth: exact Shapley values of all 16 cells of the 4x4 grid for the target
class (2^16 = 65,536 coalitions per image, batched through ``segment_shapley``), with the engine's
blur. Each ranking picks 5 cells; precision@5 = |ranking's top-5 ∩ true top-5| / 5 (ties in the
truth broken by cell id, like the rankers). "mass@5" = sum of the true Shapley values of the 5
chosen cells, rescaled so that the best possible 5 cells give 1 and the worst possible 5 give 0.
"p@5 target/other": precision on the images of the target class / of the other classes (on the
latter the target score is near 0 and so are most Shapley values).

Rankings: ``loo`` (imacs default: blur one cell), ``include-one`` (keep one cell, blur the rest),
``loo+include`` (sum of both marginals), ``mc-shapley-2perm`` (permutation-sampling Shapley with
one antithetic pair of permutations), ``xrai-gig-top5`` (the paper: XRAI + Guided IG, the top-5
classes, 200 steps), ``xrai-gig-target`` (the same for the target class only), ``ig``
(Integrated Gradients from the blurred image, 32 steps, summed per cell), ``gradcam`` (Grad-CAM
of the last convolution, summed per cell), and ``random``
(expected precision 5/16 = 0.3125 exactly; shown as measured over 1,000 draws per image).
Cost is per image: model evaluations (forward passes; gradients for Guided IG) and seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import load_avg  # noqa: E402

K = 5


def _log(*a):
    print(*a, file=sys.stderr, flush=True)


def _top(imp, ids, k=K):
    from imacs_widget.engine.ranking import _top_k

    return _top_k(np.asarray(imp, float), np.asarray(ids), k)


def _norm_mass(phi, chosen):
    """(true Shapley sum of the chosen 5 - worst possible 5) / (best 5 - worst 5), in [0, 1]."""
    srt = np.sort(phi)
    best, worst = srt[-K:].sum(), srt[:K].sum()
    return float((phi[np.asarray(chosen)].sum() - worst) / (best - worst)) if best > worst else 1.0


def marginals_include(ad, x, lm, bl, target, batch_size):
    """f(only cell s kept) - f(all blurred), for each cell: 16 + 1 evaluations per image."""
    from imacs_widget.engine.masking import evaluate_masked

    ids = [np.unique(m) for m in lm]

    def jobs():
        for i, (m, s_ids) in enumerate(zip(lm, ids, strict=True)):
            yield i, np.zeros(m.shape, bool)
            for s in s_ids:
                yield i, m == s

    n = sum(len(s) + 1 for s in ids)
    v = evaluate_masked(ad.scores, x, bl, jobs(), n, batch_size)[:, target]
    out, pos = [], 0
    for s_ids in ids:
        out.append(v[pos + 1:pos + 1 + len(s_ids)] - v[pos])
        pos += len(s_ids) + 1
    return out


def marginals_loo(ad, x, lm, bl, target, full, batch_size):
    from imacs_widget.engine.masking import evaluate_masked

    ids = [np.unique(m) for m in lm]

    def jobs():
        for i, (m, s_ids) in enumerate(zip(lm, ids, strict=True)):
            for s in s_ids:
                yield i, m != s

    v = evaluate_masked(ad.scores, x, bl, jobs(), sum(len(s) for s in ids), batch_size)[:, target]
    out, pos = [], 0
    for i, s_ids in enumerate(ids):
        out.append(full[i, target] - v[pos:pos + len(s_ids)])
        pos += len(s_ids)
    return out


def mc_shapley(ad, x, lm, bl, target, full, batch_size, seed, n_pairs=1):
    """Permutation-sampling Shapley with antithetic pairs (a permutation and its reverse)."""
    from imacs_widget.engine.masking import evaluate_masked

    rng = np.random.default_rng(seed)
    ids = [np.unique(m) for m in lm]
    perms = []
    for s_ids in ids:
        p = []
        for _ in range(n_pairs):
            q = rng.permutation(len(s_ids))
            p += [q, q[::-1]]
        perms.append(p)

    def jobs():
        for i, (m, s_ids) in enumerate(zip(lm, ids, strict=True)):
            yield i, np.zeros(m.shape, bool)  # empty coalition (shared)
            for q in perms[i]:
                keep = np.zeros(m.shape, bool)
                for j in q[:-1]:  # the full coalition is the original image (known)
                    keep |= m == s_ids[j]
                    yield i, keep.copy()

    n = sum(1 + len(p) * (len(s) - 1) for p, s in zip(perms, ids, strict=True))
    v = evaluate_masked(ad.scores, x, bl, jobs(), n, batch_size)[:, target]
    out, pos = [], 0
    for i, s_ids in enumerate(ids):
        empty = v[pos]
        pos += 1
        phi = np.zeros(len(s_ids))
        for q in perms[i]:
            vals = np.r_[empty, v[pos:pos + len(s_ids) - 1], full[i, target]]
            pos += len(s_ids) - 1
            phi[q] += np.diff(vals)
        out.append(phi / len(perms[i]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-images", type=int, default=20)
    ap.add_argument("--steps", type=int, default=200, help="Guided IG steps (paper: 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args(argv)

    from imacs_widget.demo.scenario import make_scenario
    from imacs_widget.engine.masking import blur_images, default_sigma
    from imacs_widget.engine.ranking import (
        rank_gradcam,
        rank_integrated_gradients,
        rank_leave_one_out,
        rank_xrai_guided_ig,
    )
    from imacs_widget.engine.segmentation import grid_segments
    from imacs_widget.engine.shapley import segment_shapley
    from imacs_widget.models import ModelAdapter

    la0 = load_avg()
    t0 = time.perf_counter()
    _log("training the scenario's models (make_scenario) ...")
    scen = make_scenario(seed=args.seed)
    _log(f"  done in {time.perf_counter() - t0:.0f}s; model A accuracy {scen.accuracy['A']}")
    target = scen.target_index
    rng = np.random.default_rng(args.seed)
    pos_idx = np.flatnonzero(scen.eval_labels == target)
    neg_idx = np.flatnonzero(scen.eval_labels != target)
    n_pos = args.n_images // 2
    pick = np.r_[rng.choice(pos_idx, n_pos, replace=False),
                 rng.choice(neg_idx, args.n_images - n_pos, replace=False)]
    x = scen.eval_images[pick].astype(np.float32)
    n = len(x)
    lm = [grid_segments(64, 64, 4, 4)] * n
    bl = blur_images(x, default_sigma(64, 64))
    ad = ModelAdapter(scen.model_a, name="A", batch_size=args.batch_size)
    full = ad.scores(x)
    full_lo = ad.log_odds(x)  # what the built-in rankers compare
    bs = args.batch_size

    _log(f"ground truth: exact Shapley over 16 cells for {n} images ({n * 65536:,} evaluations)")
    ad.n_evals = 0
    t = time.perf_counter()
    gt_all = segment_shapley(ad.scores, x, lm, bl, [np.arange(16)] * n, bs)
    gt_s = time.perf_counter() - t
    gt = np.stack([g[:, target] for g in gt_all])  # [n, 16]
    gt_top = [_top(g, np.arange(16)) for g in gt]
    _log(f"  {gt_s:.0f}s ({ad.n_evals / gt_s:.0f} evals/s)")
    # efficiency check of the ground truth: sum of values = f(image) - f(all blurred)
    eff = float(np.abs(gt.sum(1) - (full[:, target] - ad.scores(bl)[:, target])).max())

    rankings = {}

    def timed(name, fn, grads=False):
        ad.n_evals = 0
        t = time.perf_counter()
        tops = fn()
        dt = time.perf_counter() - t
        rankings[name] = dict(tops=[np.asarray(r)[:K] for r in tops], s=dt / n,
                              evals=ad.n_evals / n, grads=grads)
        _log(f"  {name}: {dt / n:.3f}s/image, {ad.n_evals / n:.0f} evals/image")

    ids16 = np.arange(16)
    timed("loo (imacs default)", lambda: rank_leave_one_out(ad, x, lm, bl, target, K,
                                                             full_scores=full_lo, batch_size=bs))
    inc = {}

    def include():
        inc["v"] = marginals_include(ad, x, lm, bl, target, bs)
        return [_top(v, ids16) for v in inc["v"]]

    timed("include-one", include)

    def both():
        loo = marginals_loo(ad, x, lm, bl, target, full, bs)
        inc2 = marginals_include(ad, x, lm, bl, target, bs)
        return [_top(a + b, ids16) for a, b in zip(loo, inc2, strict=True)]

    timed("loo+include", both)
    timed("mc-shapley-2perm", lambda: [_top(v, ids16) for v in
                                       mc_shapley(ad, x, lm, bl, target, full, bs, args.seed)])
    timed(f"xrai-gig-top5 (paper, {args.steps} steps)", lambda: rank_xrai_guided_ig(
        ad, x, lm, bl, target, K, full_scores=full_lo, classes="top", n_top=5, steps=args.steps),
        grads=True)
    timed(f"xrai-gig-target ({args.steps} steps)", lambda: rank_xrai_guided_ig(
        ad, x, lm, bl, target, K, full_scores=full_lo, classes="target", steps=args.steps),
        grads=True)
    timed("ig (32 steps, from the blur)", lambda: rank_integrated_gradients(
        ad, x, lm, bl, target, K, steps=32, batch_size=bs), grads=True)
    timed("gradcam (last conv, summed)", lambda: rank_gradcam(ad, x, lm, bl, target, K),
          grads=True)
    draws = np.stack([[rng.permutation(16)[:K] for _ in range(1000)] for _ in range(n)])
    rankings["random"] = dict(tops=None, s=0.0, evals=0.0, grads=False, draws=draws)

    rows = []
    for name, r in rankings.items():
        if r["tops"] is None:
            p = np.array([np.mean([len(set(d) & set(gt_top[i])) / K for d in r["draws"][i]])
                          for i in range(n)])
            mass = np.array([np.mean([_norm_mass(gt[i], d) for d in r["draws"][i]])
                             for i in range(n)])
        else:
            p = np.array([len(set(r["tops"][i].tolist()) & set(gt_top[i].tolist())) / K
                          for i in range(n)])
            mass = np.array([_norm_mass(gt[i], r["tops"][i]) for i in range(n)])
        top1 = (K / 16 if r["tops"] is None else
                float(np.mean([int(gt_top[i][0]) in r["tops"][i].tolist() for i in range(n)])))
        rows.append(dict(ranking=name, p_at_5=float(p.mean()), p_at_5_sd=float(p.std()),
                         p_at_5_target_imgs=float(p[:n_pos].mean()),
                         p_at_5_other_imgs=float(p[n_pos:].mean()),
                         mass_at_5=float(mass.mean()), top1_in_top5=top1,
                         evals=r["evals"], kind="gradients" if r["grads"] else "forward",
                         s_per_image=r["s"]))

    print(f"\nRanking quality on the small CNN (scenario seed {args.seed}, model A), {n} images "
          f"({n_pos} of class {scen.target_class!r}), target class {scen.target_class!r}; ground "
          f"truth = exact Shapley over 16 cells ({gt_s / n:.1f}s/image, efficiency error "
          f"{eff:.1e}); load average {la0:.1f} -> {load_avg():.1f} (2 shared cores: times are "
          "noisy)\n")
    hdr = (f"{'ranking':<34}{'precision@5':>13}{'p@5 target':>11}{'p@5 other':>10}"
           f"{'mass@5':>8}{'top-1 kept':>11}{'evals/img':>10}{'':>11}{'s/img':>8}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['ranking']:<34}{r['p_at_5']:>7.3f} ±{r['p_at_5_sd']:.2f}"
              f"{r['p_at_5_target_imgs']:>11.3f}{r['p_at_5_other_imgs']:>10.3f}"
              f"{r['mass_at_5']:>8.3f}{r['top1_in_top5']:>11.2f}{r['evals']:>10.0f} "
              f"{r['kind']:<10}{r['s_per_image']:>8.3f}")
    best = max((r for r in rows if r["ranking"] != "random"), key=lambda r: r["p_at_5"])
    print(json.dumps({"n_images": n, "target": scen.target_class, "ground_truth_s_per_image":
                      gt_s / n, "efficiency_error": eff, "best": best["ranking"],
                      "rows": rows}))


if __name__ == "__main__":
    main()
