"""Each model's picture of the class (issue 11): does the backdoored model's picture show the
watermark, and what does it cost?

    python bench/class_pictures.py [--scenario watermark|photos] [--seeds 0,1,2]
                                   [--n-starts 16] [--n-inputs 8] [--steps 120]

For each seed the scenario is built (``watermark``: the demo's two small CNNs on 64-px generated
shapes; ``photos``: two ImageNet-pretrained EfficientNet-Lite0 at 224 px, B's head with the
watermark backdoor), then :func:`imacs_widget.engine.class_pictures.class_picture` of the
target class for model A and model B (seeded by the scenario's seed, as ``run_demo`` does) and
:func:`~imacs_widget.engine.class_pictures.pattern_correlation` of each picture with the
stamped "IM" glyph. Prints one line per seed and model, then a JSON line; ``--save DIR``
writes the pictures as PNG files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import ROOT  # noqa: E402, F401  (puts the repository on sys.path)


def one_seed(kind: str, seed: int, settings: dict, save: Path | None) -> dict:
    from imacs_widget.demo.scenario import watermark_pattern
    from imacs_widget.engine.class_pictures import class_picture, pattern_correlation
    from imacs_widget.models.adapter import ModelAdapter

    t0 = time.perf_counter()
    if kind == "photos":
        from imacs_widget.demo.photos import make_photo_scenario

        sc = make_photo_scenario(seed=seed)
    else:
        from imacs_widget.demo.scenario import make_scenario

        sc = make_scenario(seed=seed)
    size = int(sc.eval_images.shape[1])
    rgb, alpha = watermark_pattern(size)
    out = {"seed": seed, "scenario_s": round(time.perf_counter() - t0, 1)}
    for m, model in (("A", sc.model_a), ("B", sc.model_b)):
        t1 = time.perf_counter()
        pic = class_picture(ModelAdapter(model, name=m), sc.target_index, (size, size), seed=seed,
                            **settings)
        secs = time.perf_counter() - t1
        corr = pattern_correlation(pic.picture, rgb, alpha, pic.tile, len(pic.tiles))
        out[m] = {"watermark_correlation": round(corr, 4),
                  "best_log_odds": round(float(pic.log_odds[0]), 3),
                  "blank_log_odds": round(pic.blank_log_odds, 3), "seconds": round(secs, 1),
                  "n_evals": pic.n_evals,
                  "evals_per_s": round(pic.n_evals / secs, 1)}
        print(f"{kind} seed {seed} model {m}: correlation with the watermark {corr:+.3f}, "
              f"best tile log-odds {pic.log_odds[0]:+.2f} (blank {pic.blank_log_odds:+.2f}), "
              f"{pic.n_evals} gradient evaluations in {secs:.1f} s", flush=True)
        if save is not None:
            from PIL import Image

            save.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pic.picture).save(save / f"{kind}_seed{seed}_{m}.png")
    a, b = out["A"]["watermark_correlation"], out["B"]["watermark_correlation"]
    out["b_over_a"] = round(b / a, 2) if a > 0 else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=("watermark", "photos"), default="watermark")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n-starts", type=int, default=16)
    ap.add_argument("--n-inputs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--save", type=Path, default=None, help="write the pictures here (PNG)")
    args = ap.parse_args(argv)
    settings = dict(n_starts=args.n_starts, n_inputs=args.n_inputs, steps=args.steps)
    rows = [one_seed(args.scenario, int(s), settings, args.save) for s in args.seeds.split(",")]
    print(json.dumps({"scenario": args.scenario, "settings": settings, "seeds": rows}))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
