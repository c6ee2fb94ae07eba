"""Host time per masked image outside model calls, with a near-free PyTorch model (issue 19).

    python bench/host_masking.py [auto|device|numpy] [--size 224] [--images 16]

Runs the attribution stage (SciPy blur, leave-one-out ranking of a 4x4 grid, exact Shapley over
the top 5 with the known coalitions reused: 42 masked images per image) with a model that costs
nothing (global average pool + linear), so the time is the host's: composing, preprocessing,
transfers. Prints the best of five runs in ms per masked image, JSON last. It uses only calls
that main had before issue 19 too, so the same file measures the old code:

    git worktree add /tmp/before 954d29e
    PYTHONPATH=/tmp/before python bench/host_masking.py
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv=None) -> dict:
    import torch

    from imacs_widget.engine.masking import baseline_images, default_sigma
    from imacs_widget.engine.ranking import rank_leave_one_out
    from imacs_widget.engine.segmentation import grid_segments
    from imacs_widget.engine.shapley import known_coalitions, segment_shapley
    from imacs_widget.models import ModelAdapter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("masking", nargs="?", default=None, help="auto, device or numpy (default: "
                    "the adapter's; absent before issue 19)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--images", type=int, default=16)
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(3, 10))
    x = (np.random.default_rng(0).random((a.images, a.size, a.size, 3)) * 255).astype(np.float32)
    ad = ModelAdapter(model, preprocess="imagenet", batch_size=64)
    if a.masking is not None:
        ad.masking = a.masking
    lms = [grid_segments(a.size, a.size, 4, 4)] * len(x)
    full, scores = ad.log_odds(x), ad.scores(x)
    best = float("inf")
    for _ in range(5):
        e0, t0 = ad.n_evals, time.perf_counter()
        bl = baseline_images(x, "blur", default_sigma(a.size, a.size))
        r = rank_leave_one_out(ad, x, lms, bl, 0, 5, full_scores=full, batch_size=64)
        segment_shapley(ad.scores, x, lms, bl, r, 64,
                        known=known_coalitions(r, scores, r.masked_scores))
        best = min(best, 1e3 * (time.perf_counter() - t0) / (ad.n_evals - e0))
    out = {"ms_per_masked_image": round(best, 3), "masking": getattr(ad, "masking", "before"),
           "size": a.size, "images": a.images, "threads": torch.get_num_threads()}
    print(f"{out['ms_per_masked_image']} ms per masked {a.size}-px image outside model calls "
          f"(masking {out['masking']})")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
