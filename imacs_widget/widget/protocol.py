"""The constants the kernel and the front end share, read from ``protocol.json``.

``imacs_widget/widget/protocol.json`` is the one source: this module reads it for Python and
``js/src/protocol.js`` imports it into the front-end bundle (esbuild inlines JSON), so the
payload version, the ``_tiles`` page size, the command names, the views, the column dtypes and
the coordinate scales cannot drift apart. The vocabulary of the cluster statistics (outcomes,
model keys, cluster orders, the consensus fraction) is defined by
:mod:`imacs_widget.engine.summary`; the JSON carries a copy for the front end, and
``tests/test_cross_language.py`` fails if the two differ.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["PROTOCOL", "PAYLOAD_VERSION", "PAGE_SIZE", "COMMANDS", "VIEWS", "MAP_COLORS",
           "ATLASES", "COLUMN_DTYPES", "IMAGE_MIMES", "BOX_SCALE", "MAP_SCALE"]


def _read() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("protocol.json").read_text(encoding="utf-8")
    return json.loads(text)


PROTOCOL: dict[str, Any] = _read()
"""The whole of ``protocol.json`` (a dict; treat it as read-only)."""

PAYLOAD_VERSION: int = int(PROTOCOL["payload_version"])
"""Version of the payload and commands; the front end refuses a kernel that speaks another."""
PAGE_SIZE: int = int(PROTOCOL["page_size"])
"""Most pictures one ``_tiles`` command asks for (and its answer carries)."""
COMMANDS: tuple[str, ...] = tuple(PROTOCOL["commands"])
"""The anywidget commands :class:`~imacs_widget.widget.widget.ImacsWidget` answers."""
VIEWS: tuple[str, ...] = tuple(PROTOCOL["views"])
"""Values of the ``view`` trait (the main view's tabs)."""
MAP_COLORS: tuple[str, ...] = tuple(PROTOCOL["map_colors"])
"""Values of the ``map_color`` trait (what colours the segment map's points)."""
ATLASES: tuple[str, ...] = tuple(PROTOCOL["atlases"])
"""Kinds of picture atlas: segment thumbnails and source previews."""
COLUMN_DTYPES: tuple[str, ...] = tuple(PROTOCOL["column_dtypes"])
"""Typed-array dtypes a payload column may have (little-endian)."""
IMAGE_MIMES: dict[str, str] = dict(PROTOCOL["image_mimes"])
"""Sprite-sheet image format -> MIME type."""
BOX_SCALE: int = int(PROTOCOL["box_scale"])
"""A segment box is carried in ``1 / BOX_SCALE`` of the image's width / height."""
MAP_SCALE: int = int(PROTOCOL["map_scale"])
"""A segment-map coordinate in 0..1 is carried as an integer in ``0..MAP_SCALE``."""
