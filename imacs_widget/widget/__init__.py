"""Presentation: the anywidget :class:`ImacsWidget`, the payload it syncs to ``js/``, segment
thumbnails and the static HTML report.

``ImacsWidget`` is imported lazily so that building a payload never imports
anywidget / ipywidgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["ImacsWidget"]

if TYPE_CHECKING:  # pragma: no cover
    from .widget import ImacsWidget


def __getattr__(name: str):
    if name in ("ImacsWidget", "COMMANDS"):
        from . import widget

        return getattr(widget, name)
    raise AttributeError(f"module 'imacs_widget.widget' has no attribute {name!r}")
