"""Command line: ``imacs demo`` (offline watermark scenario) and ``imacs compare`` (batch runs).

Kept free of TensorFlow imports until a command runs, so ``imacs --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, seed=args.seed, untrained=args.untrained, n_per_model=args.n_per_model,
             n_clusters=args.n_clusters, progress=not args.quiet)
    print(f"wrote {args.out}/summary.json, {args.out}/result.imacs and {args.out}/report.html")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``imacs`` argument parser."""
    p = argparse.ArgumentParser(prog="imacs", description="Compare what two image classifiers "
                                "rely on (IMACS).")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the offline watermark scenario (paper §5) end to end")
    d.add_argument("--out", default="imacs-demo", help="output folder (default: imacs-demo)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--n-per-model", type=int, default=100, help="images sampled per model")
    d.add_argument("--n-clusters", type=int, default=8)
    d.add_argument("--untrained", action="store_true",
                   help="replace model B by an untrained model (paper §6.1 sanity check)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=_demo)
    return p


def main(argv=None) -> int:
    """Entry point of the ``imacs`` console script."""
    args = build_parser().parse_args(argv)
    from .errors import ImacsInputError

    try:
        return args.func(args)
    except ImacsInputError as exc:
        print(f"imacs: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
