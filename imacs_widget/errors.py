"""Errors raised for bad input. Every message names the offending argument."""


class ImacsInputError(ValueError):
    """Bad input to an imacs function; the message names the argument and what was expected."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(f"{argument}: {message}")


class ImacsWarning(UserWarning):
    """A recoverable problem (e.g. too few images in a sampling cell) that is also stored in the result."""
