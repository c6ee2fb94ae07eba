"""Masked-image jobs: "image ``i`` with these segments excluded", and their NumPy composition.

The engine never builds masked pixels itself: it describes what to score as
:class:`MaskedJobs` (per job an image index and the set of its segments that take the baseline's
pixels) and asks the model's adapter for the scores
(:meth:`~imacs_widget.models.adapter.ModelAdapter.masked_raw`). A backend that can run on the
model's own device (PyTorch, Hugging Face, Keras) uploads the images, baselines and label maps of
a chunk once and composes, resizes, preprocesses and scores there; every other model (ONNX
Runtime, plain callables, custom NumPy preprocessing) takes the NumPy path of this module,
whose composition is spread over the host's cores and overlapped with the model calls (on 4 or
more cores).

Both paths compute, for job ``j`` with image ``i = image[j]``::

    pixel(y, x) = baseline[i, y, x]  if excluded[j, label_map[i, y, x]]  else  image[i, y, x]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import ImacsInputError


@dataclass(frozen=True)
class MaskedJobs:
    """Masked variants of a set of images to score, in order.

    Attributes
    ----------
    image : numpy.ndarray
        ``int64 [n]``: the image (index into the images) each job masks.
    excluded : numpy.ndarray
        ``bool [n, S]``: ``excluded[j, s]`` when segment ``s`` of job ``j``'s label map takes the
        baseline's pixels (``S``: at least the largest segment id + 1 of every label map).
    """

    image: np.ndarray
    excluded: np.ndarray

    def __post_init__(self):
        image = np.asarray(self.image, np.int64).reshape(-1)
        excluded = np.asarray(self.excluded, bool)
        if excluded.ndim != 2 or len(excluded) != len(image):
            raise ImacsInputError("jobs", f"excluded must be bool [n_jobs, n_segments] with one "
                                  f"row per job ({len(image)}), got shape {excluded.shape}")
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "excluded", excluded)

    def __len__(self) -> int:
        return len(self.image)

    @classmethod
    def from_sets(cls, image: Sequence[int], excluded: Sequence[Sequence[int]],
                  n_segments: int) -> MaskedJobs:
        """Jobs from per-job lists of excluded segment ids (``n_segments`` columns)."""
        ex = np.zeros((len(image), max(int(n_segments), 1)), bool)
        for j, ids in enumerate(excluded):
            ex[j, np.asarray(list(ids), np.int64)] = True
        return cls(np.asarray(image, np.int64), ex)

    def slice(self, a: int, b: int) -> MaskedJobs:
        """Jobs ``a`` to ``b`` (exclusive)."""
        return MaskedJobs(self.image[a:b], self.excluded[a:b])


def stack_label_maps(label_maps: Sequence[np.ndarray], n_segments: int | None = None
                     ) -> np.ndarray:
    """``int64 [N, H, W]`` of equally-sized label maps, checked against ``n_segments`` columns."""
    maps = np.stack([np.asarray(lm) for lm in label_maps]).astype(np.int64, copy=False)
    if maps.size and maps.min() < 0:
        raise ImacsInputError("label_maps", "segment ids must be non-negative")
    if n_segments is not None and maps.size and maps.max() >= n_segments:
        raise ImacsInputError("jobs", f"a label map has segment id {int(maps.max())} but the "
                              f"jobs describe only {n_segments} segments")
    return maps


def check_masked_inputs(images, baselines, label_maps, jobs: MaskedJobs):
    """Validated ``(images float32 [N,H,W,3], baselines, label maps int64 [N,H,W])``."""
    images = np.asarray(images, np.float32)
    baselines = np.asarray(baselines, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ImacsInputError("images", f"expected [N, H, W, 3], got shape {images.shape}")
    if baselines.shape != images.shape:
        raise ImacsInputError("baselines", f"shape {baselines.shape} differs from images "
                              f"{images.shape}")
    maps = stack_label_maps(label_maps, jobs.excluded.shape[1])
    if maps.shape != images.shape[:3]:
        raise ImacsInputError("label_maps", f"shape {maps.shape} does not match images "
                              f"{images.shape[:3]}")
    if len(jobs) and (jobs.image.min() < 0 or jobs.image.max() >= len(images)):
        raise ImacsInputError("jobs", f"image indices must be in 0..{len(images) - 1}")
    return images, baselines, maps


def compose_into(out: np.ndarray, images: np.ndarray, baselines: np.ndarray,
                 label_maps: np.ndarray, jobs: MaskedJobs) -> np.ndarray:
    """Compose the masked images of ``jobs`` into ``out`` (``float32 [n, H, W, 3]``).

    Jobs of one image are consecutive in practice, so each run of equal image indices is
    composed with one drop mask ``take(excluded[run], label_map)`` and one ``np.where`` per
    colour channel (NumPy releases the GIL there, so runs composed on several threads overlap).
    """
    idx = jobs.image
    if not len(idx):
        return out
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], len(idx)]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        i = int(idx[a])
        drop = np.take(jobs.excluded[a:b], label_maps[i], axis=1)  # [n, H, W]
        img, base = images[i], baselines[i]
        for c in range(out.shape[-1]):
            out[a:b, ..., c] = np.where(drop, base[..., c], img[..., c])
    return out


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def numpy_masked_batches(images: np.ndarray, baselines: np.ndarray, label_maps: np.ndarray,
                         jobs: MaskedJobs, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """Composed batches ``(start, float32 [b, H, W, 3])`` of ``jobs``, in order.

    On a host with 4 or more cores, each batch is split over half of them and the next batch is
    composed while the caller scores the current one (a one-batch look-ahead, so at most two
    batches exist at once); on fewer cores, batches are composed in turn (threads there only
    take cores from the model: a small CNN ran 5 % slower with them on 2 cores).
    """
    n = len(jobs)
    h, w = images.shape[1:3]
    n_workers = _workers() // 2  # the other half of the cores is the model's
    if n_workers < 2:  # a 2-core host: composing beside the model only slows it (measured)
        buf = np.empty((min(batch_size, n), h, w, 3), np.float32)
        for a in range(0, n, batch_size):
            b = min(n, a + batch_size)
            yield a, compose_into(buf[:b - a], images, baselines, label_maps, jobs.slice(a, b))
        return
    bufs = [np.empty((min(batch_size, n), h, w, 3), np.float32) for _ in range(2 if n > batch_size else 1)]

    def compose(a: int, buf: np.ndarray) -> np.ndarray:
        b = min(n, a + batch_size)
        out = buf[:b - a]
        if n_workers > 1 and b - a >= 2 * n_workers:
            edges = np.linspace(0, b - a, n_workers + 1).astype(int)
            parts = [(a + lo, a + hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]
            list(pool.map(lambda p: compose_into(out[p[0] - a:p[1] - a], images, baselines,
                                                 label_maps, jobs.slice(*p)), parts))
        else:
            compose_into(out, images, baselines, label_maps, jobs.slice(a, b))
        return out

    starts = list(range(0, n, batch_size))
    if not starts:
        return
    with ThreadPoolExecutor(max_workers=n_workers + 1) as pool:
        ahead = pool.submit(compose, starts[0], bufs[0])
        for t, a in enumerate(starts):
            batch = ahead.result()
            if t + 1 < len(starts):
                ahead = pool.submit(compose, starts[t + 1], bufs[(t + 1) % len(bufs)])
            yield a, batch


def run_numpy_masked(forward: Callable[[np.ndarray], np.ndarray], images: np.ndarray,
                     baselines: np.ndarray, label_maps: np.ndarray, jobs: MaskedJobs,
                     batch_size: int, progress: Callable[[int], None] | None = None
                     ) -> np.ndarray:
    """Scores ``float64 [n, C]`` of ``jobs`` through ``forward`` on NumPy-composed batches."""
    out = None
    for a, batch in numpy_masked_batches(images, baselines, label_maps, jobs, batch_size):
        s = np.asarray(forward(batch), np.float64)
        if out is None:
            out = np.empty((len(jobs), s.shape[1]) if s.ndim == 2 else (len(jobs), 0))
        if s.ndim != 2 or len(s) != len(batch):
            return s  # the caller checks shapes and names the model
        out[a:a + len(batch)] = s
        if progress is not None:
            progress(len(batch))
    return out if out is not None else np.zeros((0, 0))


def score_masked(adapter, images, baselines, label_maps, jobs: MaskedJobs,
                 batch_size: int | None = None, progress: Callable[[int], None] | None = None
                 ) -> np.ndarray:
    """What :meth:`~imacs_widget.models.adapter.ModelAdapter.masked_raw` does: the backend's
    device path when the adapter uses it, else the NumPy path; outputs checked and counted."""
    images, baselines, maps = check_masked_inputs(images, baselines, label_maps, jobs)
    bs = int(batch_size or adapter.batch_size)
    n = len(jobs)
    if n == 0:
        return np.zeros((0, 0))
    try:
        raw = NotImplemented
        if adapter.uses_device_masking():
            raw = adapter.backend.masked_forward(adapter, images, baselines, maps, jobs, bs,
                                              progress)
        if raw is NotImplemented:
            raw = run_numpy_masked(lambda x: adapter._raw(adapter.to_model_input(x)), images,
                                   baselines, maps, jobs, bs, progress)
    except ImacsInputError:
        raise
    except Exception as exc:
        raise ImacsInputError(
            f"model {adapter.name!r}",
            f"failed on masked images of shape {tuple(images.shape[1:])} (input size "
            f"{adapter.input_size}, preprocess {adapter.preprocess_name!r}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    raw = np.asarray(raw, np.float64)
    adapter.check_outputs(raw, n, "masked images")
    adapter.n_evals += n
    adapter.n_calls += -(-n // bs)
    adapter.settle_returns(raw)
    return raw
