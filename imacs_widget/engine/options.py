"""Frozen dataclasses of documented options: the machinery behind
:class:`~imacs_widget.engine.settings.Settings`.

* :func:`option`: a field with its default, meaning and choices, written once;
* :class:`Options`: the base class, with ``replace`` (validated again), the JSON record
  (``to_dict`` / ``from_dict`` / ``to_json`` / ``from_json``), ``choices`` and an error naming
  a misspelt field;
* :func:`document`: the class docstring's ``Parameters`` section, from the fields.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ImacsInputError
from .values import check_names, json_record


def option(default, doc: str, *, kind: str, choices=None, low: int | None = None,
           high: int | None = None, parse: Callable[[str], Any] | None = None,
           metavar: str | None = None, registry: str | None = None, also: str | None = None):
    """A field of an :class:`Options` class.

    Parameters
    ----------
    default
        The default value.
    doc : str
        What the option means (its first sentence is the command-line help).
    kind : str
        The type as the docstring writes it (``"int"``, ``"str or callable"``, ...).
    choices : tuple or callable, optional
        The names the option takes, or a function returning them (a registry, read when asked).
    low, high : int, optional
        The bounds of an integer option.
    parse : callable, optional
        ``text -> value`` for the command line (default: the default's type).
    metavar : str, optional
        The command line's placeholder of the value.
    registry : str, optional
        Where callable ``choices`` are registered (named in the docstring).
    also : str, optional
        What else the option takes besides ``choices`` (named in the docstring).

    Returns
    -------
    dataclasses.Field
    """
    return dataclasses.field(default=default, metadata={
        "doc": doc, "kind": kind, "choices": choices, "low": low, "high": high, "parse": parse,
        "metavar": metavar, "registry": registry, "also": also})


class Options:
    """Base of a frozen dataclass of :func:`option` fields: replace, JSON record, choices."""

    @classmethod
    def option_fields(cls) -> tuple[dataclasses.Field, ...]:
        """The fields, in declaration order.

        Returns
        -------
        tuple of dataclasses.Field
        """
        return tuple(f for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The fields' names, in declaration order.

        Returns
        -------
        tuple of str
        """
        return tuple(f.name for f in cls.option_fields())

    @classmethod
    def choices(cls, name: str) -> tuple | None:
        """The names field ``name`` takes (a registry's current names), or ``None``.

        Parameters
        ----------
        name : str
            A field's name.

        Returns
        -------
        tuple or None
        """
        c = cls.__dataclass_fields__[name].metadata["choices"]
        return tuple(c()) if callable(c) else c

    @classmethod
    def check_names(cls, given: Iterable[str], where: str, known: Iterable[str] = ()) -> None:
        """Raise an error naming the first of ``given`` that is not a field (nor in ``known``),
        with the closest name.

        Parameters
        ----------
        given : iterable of str
            The names to check.
        where : str
            What they were given to (``"compare()"``), for the message.
        known : iterable of str
            Other names ``where`` takes (suggested too).
        """
        check_names(given, cls.names() + tuple(known), where,
                    f"the settings are {', '.join(cls.names())} (see imacs_widget.{cls.__name__})")

    def replace(self, **changes):
        """A copy with some fields changed, validated again.

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        Same class as ``self``

        Raises
        ------
        ImacsInputError
            Naming an unknown field (with the closest field name) or an invalid value.
        """
        self.check_names(changes, f"{type(self).__name__}.replace()")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as a JSON-ready ``{name: value}`` record.

        A tuple is a list; a callable is recorded as ``{"callable": qualified name,
        "fingerprint": ...}`` (:func:`~imacs_widget.engine.values.json_record`), which
        :meth:`from_dict` cannot turn back into code: pass the callable again there.

        Returns
        -------
        dict
        """
        return {f.name: json_record(getattr(self, f.name)) for f in self.option_fields()}

    @classmethod
    def from_dict(cls, record: Mapping, **overrides):
        """An instance from a :meth:`to_dict` record (fields it lacks take their defaults).

        Parameters
        ----------
        record : mapping
            ``{name: value}``, e.g. ``json.load``-ed.
        **overrides
            Fields to set instead of the record's, e.g. the callable a record only names.

        Returns
        -------
        An instance of ``cls``

        Raises
        ------
        ImacsInputError
            Naming an unknown field, an invalid value, or a callable the record only describes
            and ``overrides`` does not give.
        """
        if not isinstance(record, Mapping):
            raise ImacsInputError("record", f"must be a mapping of {cls.__name__} fields, got "
                                  f"{type(record).__name__}")
        values = {**record, **overrides}
        cls.check_names(values, f"{cls.__name__}.from_dict()")
        for name, v in values.items():
            if isinstance(v, Mapping) and "callable" in v:
                raise ImacsInputError(name, f"was the callable {v['callable']!r} (fingerprint "
                                      f"{v.get('fingerprint')}), which a record cannot restore; "
                                      f"pass it again: {cls.__name__}.from_dict(record, "
                                      f"{name}=...)")
        return cls(**values)

    def to_json(self, **dumps_options) -> str:
        """:meth:`to_dict` as JSON text.

        Parameters
        ----------
        **dumps_options
            Passed to :func:`json.dumps` (e.g. ``indent=2``).

        Returns
        -------
        str
        """
        return json.dumps(self.to_dict(), **dumps_options)

    @classmethod
    def from_json(cls, text: str, **overrides):
        """An instance from :meth:`to_json` text (see :meth:`from_dict`).

        Parameters
        ----------
        text : str
            JSON of a record.
        **overrides
            Fields to set instead of the record's.

        Returns
        -------
        An instance of ``cls``
        """
        try:
            record = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ImacsInputError("text", f"is not JSON ({exc})") from None
        return cls.from_dict(record, **overrides)


def document(cls: type[Options], examples: str = "") -> str:
    """``cls``'s docstring with one numpy-style ``Parameters`` entry per field (type or
    choices, default, meaning; a registry's choices by its name), then ``examples``.

    Parameters
    ----------
    cls : type
        An :class:`Options` dataclass with a summary docstring.
    examples : str
        An ``Examples`` section (indented like a class docstring), appended.

    Returns
    -------
    str
    """
    lines = [cls.__doc__.rstrip(), "", "    Parameters", "    ----------"]
    for f in cls.option_fields():
        meta = f.metadata
        c = meta["choices"]
        kind = "{" + ", ".join(repr(v) for v in c) + "}" if isinstance(c, tuple) else meta["kind"]
        if f.default is None:
            kind += " or None"
        lines.append(f"    {f.name} : {kind}, default {f.default!r}")
        text = meta["doc"]
        if callable(c):
            text += f" Choices: a name in ``{meta['registry']}``, or {meta['also']}."
        line = "       "
        for w in text.split():
            if len(line) + len(w) > 95:
                lines.append(line)
                line = "       "
            line += " " + w
        lines.append(line)
    return "\n".join(lines) + ("\n\n" + examples.strip("\n") + "\n    " if examples else "\n")
