"""Progress reporting: tqdm.auto bars (a widget in notebooks, text in terminals), a caller's
callback (e.g. the widget's progress trait), or silence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stage(desc: str, total: int, enabled: bool | Callable[[int, int], None] = True,
          unit: str = "img") -> Iterator[Callable[[int], None]]:
    """Context yielding ``update(n)`` for one pipeline stage.

    Parameters
    ----------
    desc : str
        What the stage does (the bar's label).
    total : int
        Units of work in the stage.
    enabled : bool or callable
        True: a tqdm bar; false: a no-op. A callable ``report(done, total)`` is called with
        ``(0, total)`` on entry and with the running count after each ``update(n)`` (no bar);
        it throttles itself if it must.
    unit : str
        The bar's unit.
    """
    if callable(enabled):
        report = enabled
        done = 0
        if total > 0:
            report(0, total)

        def update(n: int) -> None:
            nonlocal done
            done += int(n)
            report(done, total)

        yield update
        return
    if not enabled or total <= 0:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()
