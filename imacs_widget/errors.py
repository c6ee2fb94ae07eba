"""Errors raised for bad input. Every message names the offending argument."""


class ImacsInputError(ValueError):
    """Bad input to an imacs function; the message names the argument and what was expected."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(f"{argument}: {message}")


class ImacsWarning(UserWarning):
    """A recoverable problem (e.g. too few images in a sampling cell) that is also stored in the result."""


def warn(message: str, category: type[Warning] = ImacsWarning) -> None:
    """Issue a warning attributed to the user's code: the first frame outside this package
    (so a notebook shows the line that called imacs, whatever the depth inside it)."""
    import sys
    import warnings

    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the caller of warn()
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == __name__.split(".")[0]:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
