"""Sharding ``compare()``'s per-image work over a Ray cluster (``executor="ray"``).

Each Ray worker is an actor holding its own copy of the :class:`~imacs_widget.engine.work.Worker`
(every model and the embedder; one GPU per actor when the cluster has GPUs). The driver reads
the images, puts each chunk into the object store and hands its reference to an actor; results
come back in the order the chunks were given, so a Ray run equals a local run with the same
seed. An actor that dies (a killed process, a lost node) is replaced and its chunks run again;
with ``cache_dir`` on storage every node sees, a restarted driver resumes from the cache.

Connect to an existing cluster with ``ray.init(address=...)`` before ``compare(...,
executor="ray")``, or pass ``RayExecutor(address=...)``.
"""

from __future__ import annotations

import os
from collections import deque

from ..errors import ImacsInputError

RETRYABLE = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError",
             "ObjectLostError", "OwnerDiedError", "NodeDiedError")
"""Ray errors meaning the worker (not the work) failed: the chunk is run again elsewhere."""


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ImacsInputError("executor", "'ray' needs Ray: pip install 'imacs-widget[ray]'"
                              ) from exc
    return ray


class _Actor:
    """The Ray actor: one Worker, configured to use ``threads`` CPU threads."""

    def __init__(self, packed, threads: int):
        import ray

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        _limit_threads(threads)
        self.worker = ray.get(packed[0])  # unpickled here, after the thread settings
        if ray.get_gpu_ids():  # this actor was given a GPU: PyTorch copies move there
            for ad in self.worker.adapters.values():
                if hasattr(ad.backend, "move_to"):
                    ad.backend.move_to("cuda")

    def ready(self) -> int:
        """Build the embedder (so a worker that can't fails now, not mid-run); the pid."""
        _ = self.worker.built_embedder
        return os.getpid()

    def predict(self, images):
        return self.worker.predict(images)

    def attribute(self, task, images):
        return self.worker.attribute(task, images)


def _limit_threads(n: int) -> None:
    """Keep the actor's frameworks to its share of the node's cores (see
    :func:`~imacs_widget.models.backends.limit_threads`)."""
    from ..models.backends import limit_threads

    limit_threads(n)


class RayExecutor:
    """Run ``compare()``'s prediction, attribution and embedding stages on Ray actors.

    Parameters
    ----------
    address : str, optional
        A Ray cluster to connect to (``"ray://host:10001"``, ``"auto"``, ``"host:6379"``);
        default: the one ``ray.init`` already connected to, else a new local one.
    num_workers : int, optional
        Actors to start (default: one per GPU when the cluster has GPUs, else one per
        ``cpus_per_worker`` CPUs of the cluster).
    cpus_per_worker : int
        CPUs each actor reserves (and the threads its framework uses).
    gpus_per_worker : float, optional
        GPUs each actor reserves (default: 1 when the cluster has GPUs, else 0).
    max_retries : int
        Times a chunk is run again after its worker died, before the run fails.
    tasks_per_worker : int
        Chunks queued on each actor at a time (bounds the images in the object store).
    init_kwargs : dict, optional
        Further arguments of ``ray.init`` (only when this executor starts Ray).
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_workers: int | None = None,
                 cpus_per_worker: int = 1, gpus_per_worker: float | None = None,
                 max_retries: int = 3, tasks_per_worker: int = 2, init_kwargs: dict | None = None):
        from .settings import check_int

        self.address = address
        self.num_workers = None if num_workers is None else check_int(num_workers, "num_workers", 1)
        self.cpus_per_worker = check_int(cpus_per_worker, "cpus_per_worker", 1)
        self.gpus_per_worker = gpus_per_worker
        self.max_retries = check_int(max_retries, "max_retries", 0)
        self.tasks_per_worker = check_int(tasks_per_worker, "tasks_per_worker", 1)
        self.init_kwargs = dict(init_kwargs or {})
        self.actors: list = []
        self.pids: list[int] = []
        """Process id of each actor (for monitoring; tests kill one)."""
        self.retried = 0
        """Chunks run again because their worker died."""
        self._started_ray = False

    # -- set-up ----------------------------------------------------------------------------------
    def start(self, worker) -> None:
        """Connect to Ray and start the actors, each with its own copy of ``worker``."""
        ray = self._ray = _ray()
        if not ray.is_initialized():
            check_reachable(self.address)
            try:
                ray.init(address=self.address, include_dashboard=False,
                         log_to_driver=False, **self.init_kwargs)
            except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
                raise ImacsInputError("executor", f"could not reach the Ray cluster at "
                                      f"{self.address or 'a new local cluster'!r}: "
                                      f"{type(exc).__name__}: {exc}") from exc
            self._started_ray = True
        res = ray.cluster_resources()
        gpus = float(res.get("GPU", 0))
        per_gpu = self.gpus_per_worker if self.gpus_per_worker is not None else (1 if gpus else 0)
        n = self.num_workers
        if n is None:
            n = int(gpus // per_gpu) if per_gpu else int(res.get("CPU", 1) // self.cpus_per_worker)
        self._options = {"num_cpus": self.cpus_per_worker, "num_gpus": per_gpu}
        self._cls = ray.remote(_Actor)
        try:
            self._packed = [ray.put(worker)]
        except ImacsInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - what can't be pickled
            raise ImacsInputError("executor", f"the models can't be sent to Ray workers: "
                                  f"{type(exc).__name__}: {exc}") from exc
        self.actors = [self._new_actor() for _ in range(max(1, n))]
        try:
            self.pids = list(ray.get([a.ready.remote() for a in self.actors]))
        except Exception as exc:  # noqa: BLE001
            self.close()
            raise ImacsInputError("executor", "a Ray worker could not load the models or the "
                                  "embedder (are their packages and files on every node?): "
                                  f"{_cause(exc)}") from exc

    def _new_actor(self):
        return self._cls.options(**self._options).remote(self._packed, self.cpus_per_worker)

    # -- work ------------------------------------------------------------------------------------
    def predict(self, chunks):
        """Both models' raw outputs per chunk, in chunk order (see :mod:`executors`)."""
        ray = self._ray

        def items():
            for idx, images, ok in chunks:
                yield (idx, ok), (ray.put(images[ok]) if ok.any() else None)

        for (idx, ok), out in self._ordered(items(), "predict"):
            yield idx, ok, out

    def attribute(self, tasks, read):
        """Each task's :class:`~imacs_widget.engine.work.ChunkOutput`, in task order."""
        ray = self._ray
        return self._ordered(((t, ray.put(read(t))) for t in tasks), "attribute",
                             with_task=True)

    def _ordered(self, items, method: str, with_task: bool = False):
        """Run ``method`` on the actors for each ``(key, images_ref)`` item, yielding
        ``(key, result)`` in item order; a chunk whose actor died runs again on a new one."""
        ray = self._ray
        items = iter(items)
        free = deque(j for _ in range(self.tasks_per_worker) for j in range(len(self.actors)))
        pending = {}  # ref -> (seq, key, images_ref, slot, tries)
        done, next_seq, seq, exhausted = {}, 0, 0, False

        def submit(s, key, ref, slot, tries):
            actor = self.actors[slot]
            args = (key, ref) if with_task else (ref,)
            if ref is None:  # nothing readable in this chunk
                done[s] = (key, None)
                free.append(slot)
                return
            out = getattr(actor, method).remote(*args)
            pending[out] = (s, key, ref, slot, tries, actor)

        while True:
            while free and not exhausted:
                try:
                    key, ref = next(items)
                except StopIteration:
                    exhausted = True
                    break
                submit(seq, key, ref, free.popleft(), 0)
                seq += 1
            while next_seq in done:
                yield done.pop(next_seq)
                next_seq += 1
            if not pending:
                if exhausted:
                    return
                continue
            ready, _ = ray.wait(list(pending), num_returns=1)
            s, key, ref, slot, tries, actor = pending.pop(ready[0])
            try:
                done[s] = (key, ray.get(ready[0]))
                free.append(slot)
            except Exception as exc:  # noqa: BLE001
                if not _is_retryable(exc):
                    raise _unwrap(exc) from None
                if tries >= self.max_retries:
                    raise ImacsInputError("executor", f"a chunk failed {tries + 1} times because "
                                          f"its Ray worker died: {_cause(exc)}") from exc
                if self.actors[slot] is actor:  # replace the dead actor once
                    self.actors[slot] = self._new_actor()
                self.retried += 1
                submit(s, key, ref, slot, tries + 1)

    def close(self) -> None:
        """Stop the actors (and Ray, when this executor started it)."""
        ray = getattr(self, "_ray", None)
        if ray is None:
            return
        for a in self.actors:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - already dead
                pass
        self.actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Fail at once, naming ``address``, when a ``host:port`` / ``ray://host:port`` Ray address
    does not accept connections (``ray.init`` would otherwise retry for minutes)."""
    import socket

    if address is None or address == "auto" or address.startswith("local"):
        return
    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ImacsInputError("address", f"{address!r} is not a Ray address (host:port, "
                              "ray://host:port or 'auto')")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ImacsInputError("address", f"no Ray cluster answers at {address!r} "
                              f"({exc.strerror or exc}); start one (ray start --head) or pass "
                              "the address it printed") from exc


def _is_retryable(exc) -> bool:
    """Whether ``exc`` (or a Ray error class it derives from) is one of :data:`RETRYABLE`."""
    return any(c.__name__ in RETRYABLE for c in type(exc).__mro__)


def _unwrap(exc):
    """The user-level exception inside a Ray task error (an ImacsInputError stays one)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    return exc


def _cause(exc) -> str:
    cause = _unwrap(exc)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"
