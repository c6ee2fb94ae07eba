"""Executors: where the per-image work of ``compare()`` runs.

An executor takes a :class:`~imacs_widget.engine.work.Worker` (models, embedder, settings) and
runs its two kinds of work over chunks of images, yielding the results **in the order the
chunks were given** (so every executor gives the same result):

* :meth:`predict`: ``(indices, images, ok)`` chunks → ``(indices, ok, {model: raw outputs})``;
* :meth:`attribute`: :class:`~imacs_widget.engine.work.ChunkTask` s and a function reading a
  task's pixels → ``(task, ChunkOutput)``.

:class:`LocalExecutor` runs them here, one after the other (the next chunk's attribution
overlapping the driver's writes of the current one). ``compare(executor="ray")`` (or a
:class:`~imacs_widget.engine.ray_executor.RayExecutor`) shards them over a Ray cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ..errors import ImacsInputError
from .work import ChunkOutput, ChunkTask, Worker


class LocalExecutor:
    """Runs every chunk in this process, in order."""

    name = "local"

    def start(self, worker: Worker) -> None:
        """Hold ``worker`` for the calls that follow."""
        self.worker = worker

    def predict(self, chunks: Iterable) -> Iterator[tuple[np.ndarray, np.ndarray, dict]]:
        """Both models' raw outputs on the readable images of each chunk."""
        for idx, images, ok in chunks:
            yield idx, ok, (self.worker.predict(images[ok]) if ok.any() else None)

    def attribute(self, tasks: Iterable[ChunkTask], read: Callable[[ChunkTask], np.ndarray]
                  ) -> Iterator[tuple[ChunkTask, ChunkOutput]]:
        """Each task's :class:`ChunkOutput` (``read(task)``: its images), in order.

        The next task is read and attributed on a worker thread while the caller stores the
        current one (one task ahead), so the driver's store writes overlap the model's work;
        the work itself runs one task at a time, as without the thread.
        """
        from concurrent.futures import ThreadPoolExecutor

        def run(task):
            return task, self.worker.attribute(task, read(task))

        it = iter(tasks)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imacs-attribute") as pool:
            nxt = next(it, None)
            ahead = pool.submit(run, nxt) if nxt is not None else None
            while ahead is not None:
                done = ahead.result()
                nxt = next(it, None)
                ahead = pool.submit(run, nxt) if nxt is not None else None
                yield done

    def close(self) -> None:
        """Release what :meth:`start` took (nothing here)."""
        self.worker = None


def as_executor(executor):
    """``None`` / ``"local"`` → :class:`LocalExecutor`; ``"ray"`` → a
    :class:`~imacs_widget.engine.ray_executor.RayExecutor` on the running (or a new local) Ray
    cluster; an object with ``start`` / ``predict`` / ``attribute`` / ``close`` as it is."""
    if executor is None or executor == "local":
        return LocalExecutor()
    if executor == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor()
    if isinstance(executor, str):
        raise ImacsInputError("executor", f"must be 'local', 'ray' or an executor object, got "
                              f"{executor!r}")
    missing = [m for m in ("start", "predict", "attribute", "close") if not hasattr(executor, m)]
    if missing:
        raise ImacsInputError("executor", f"{type(executor).__name__} has no {missing}: pass "
                              "'local', 'ray' or an executor (see imacs_widget.engine.executors)")
    return executor
