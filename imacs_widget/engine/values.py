"""Single option values: the integer range check, the identity of a callable, an option's JSON
record, and a misspelt name's error. A leaf of the engine: it imports no engine module.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
from collections.abc import Callable, Iterable

import numpy as np

from ..errors import ImacsInputError
from ..models.contract import qualified_name


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``low..high`` (inclusive), else an error naming ``name``.

    Parameters
    ----------
    value : int
        The value to check (``bool`` and non-integral numbers are refused).
    name : str
        The argument named in the error.
    low, high : int, optional
        Inclusive bounds.

    Returns
    -------
    int
    """
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            want = f"an integer in {low}..{high}"
        elif low == 1:
            want = "a positive integer"
        elif low is not None:
            want = f"an integer >= {low}"
        else:
            want = "an integer"
        raise ImacsInputError(name, f"must be {want}, got {value!r}")
    return int(value)


def callable_fingerprint(fn: Callable) -> str:
    """A stable identity of a callable: what it is, not where it lives in memory.

    A ``fingerprint`` string attribute wins. Otherwise: the qualified name, the function's
    bytecode, constants and defaults (so editing the function changes the key), and for a
    :func:`functools.partial` its bound arguments.

    Parameters
    ----------
    fn : callable

    Returns
    -------
    str
        16 hex digits (or the callable's own ``fingerprint``).
    """
    fp = getattr(fn, "fingerprint", None)
    if isinstance(fp, str):
        return fp
    h = hashlib.sha256(qualified_name(fn).encode())
    if isinstance(fn, functools.partial):
        h.update(callable_fingerprint(fn.func).encode())
        h.update(repr(fn.args).encode())
        h.update(repr(sorted(fn.keywords.items())).encode())
        return h.hexdigest()[:16]
    target = fn if hasattr(fn, "__code__") else type(fn).__call__
    code = getattr(target, "__code__", None)
    if code is not None:
        h.update(code.co_code)
        h.update(repr(code.co_consts).encode())
        h.update(repr(getattr(target, "__defaults__", None)).encode())
        h.update(repr(getattr(target, "__kwdefaults__", None)).encode())
    return h.hexdigest()[:16]


def json_record(value):
    """An option's value as JSON: tuples as lists, a callable described (not restorable).

    Parameters
    ----------
    value
        A str, number, ``None``, tuple, or a callable (an ``Embedder``-like object with ``fn``
        and ``input_size`` is described by those).

    Returns
    -------
    object
        The value, a list, or ``{"callable": qualified name, "fingerprint": 16 hex digits}``.
    """
    if isinstance(value, tuple):
        return list(value)
    if callable(value):
        fn = getattr(value, "fn", None)  # an Embedder: its function and crop size say what it is
        if fn is not None and hasattr(value, "input_size"):
            fp = hashlib.sha256(f"{callable_fingerprint(fn)}:{value.input_size}".encode())
            return {"callable": str(getattr(value, "name", qualified_name(fn))),
                    "fingerprint": fp.hexdigest()[:16]}
        return {"callable": qualified_name(value), "fingerprint": callable_fingerprint(value)}
    return value


def check_names(given: Iterable[str], valid: Iterable[str], where: str, listed: str) -> None:
    """An error naming the first of ``given`` not in ``valid``, with the closest valid name.

    Parameters
    ----------
    given : iterable of str
        The names to check.
    valid : iterable of str
        The names ``where`` takes.
    where : str
        What they were given to (``"compare()"``), for the message.
    listed : str
        What the message lists as the options (e.g. the settings' names).
    """
    valid = tuple(valid)
    for name in given:
        if name not in valid:
            close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ImacsInputError(str(name), f"is not an option of {where}; {hint}{listed}")


def parse_grid(text: str) -> tuple[int, int]:
    """``"4x4"`` / ``"4×3"`` / ``"4"`` as ``(rows, cols)``.

    Parameters
    ----------
    text : str

    Returns
    -------
    (int, int)

    Raises
    ------
    ValueError
        When ``text`` is not of that form.
    """
    t = str(text).lower().replace("×", "x")
    parts = t.split("x") if "x" in t else [t, t]
    try:
        rows, cols = (int(v) for v in parts)
    except ValueError:
        raise ValueError(f"expected RxC or N, got {text!r}") from None
    return rows, cols
