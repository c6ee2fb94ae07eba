"""Progress reporting: tqdm.auto bars (a widget in notebooks, text in terminals), or silence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stage(desc: str, total: int, enabled: bool = True, unit: str = "img"
          ) -> Iterator[Callable[[int], None]]:
    """Context yielding ``update(n)`` for one pipeline stage; a no-op when ``enabled`` is false."""
    if not enabled or total <= 0:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()
