"""Command line: ``imacs demo`` (the offline scenarios), ``imacs compare`` and ``imacs
compare-datasets`` (batch runs that write a result folder).

The engine options of both compare commands are generated from the fields of
:class:`~imacs_widget.Settings` (one ``--field-name`` each, with the field's type, default,
meaning and choices, a registry's current names for the ranker and the embedder); an option not
given keeps the field's default. Kept free of TensorFlow imports until a command runs, so
``imacs --help`` is instant.
"""

from __future__ import annotations

import sys

from .commands import COMMANDS
from .options import build_parser

__all__ = ["build_parser", "main"]


def main(argv=None) -> int:
    """Entry point of the ``imacs`` console script.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status (2 on an input error, printed as ``imacs: error: ...``).
    """
    args = build_parser().parse_args(argv)
    from ..errors import ImacsInputError

    try:
        return COMMANDS[args.command](args)
    except ImacsInputError as exc:
        print(f"imacs: error: {exc}", file=sys.stderr)
        return 2



if __name__ == "__main__":
    sys.exit(main())
