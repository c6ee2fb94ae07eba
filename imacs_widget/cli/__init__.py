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
import warnings

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

    with warnings.catch_warnings():
        # a warning names no source line here: under the console script that line would be
        # the generated launcher's `sys.exit(main())`
        warnings.showwarning = _show_warning
        try:
            return COMMANDS[args.command](args)
        except ImacsInputError as exc:
            print(f"imacs: error: {exc}", file=sys.stderr)
            return 2


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as ``imacs: warning: <message>`` (no file name or source line)."""
    print(f"imacs: warning: {message}", file=sys.stderr if file is None else file)



if __name__ == "__main__":
    sys.exit(main())
