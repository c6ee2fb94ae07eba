"""The model callback contract's shared pieces (NumPy only, imported by every backend).

* :func:`convert_outputs`: the one definition of the attributed score (probability / logit)
  and the per-class log-odds from a model's raw outputs;
* :func:`tensor_scores`: the same decision for framework tensors (gradients), given the
  framework's primitives (:data:`TORCH_OPS`-style tables each backend builds);
* :class:`NotDifferentiable`, :func:`qualified_name`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ImacsInputError


class NotDifferentiable(Exception):
    """The model (or its preprocessing) gives no gradients; the message says why."""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _logsumexp_others(z: np.ndarray) -> np.ndarray:
    """``[n, C]``: for each class c, ``log(sum_{j != c} exp(z_j))``, computed stably."""
    n, c = z.shape
    if c == 1:
        return np.full_like(z, -np.inf)
    order = np.argsort(z, axis=1)
    top, second = order[:, -1], order[:, -2]
    rows = np.arange(n)
    m = z[rows, top][:, None]  # the largest logit
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # overwritten below
        e = np.exp(z - m)
        total = e.sum(axis=1, keepdims=True)
        others = np.log(np.maximum(total - e, 0.0)) + m
        # for the top class, subtracting its own term loses precision: recompute from the rest
        m2 = z[rows, second]
        e2 = np.exp(z - m2[:, None])
        e2[rows, top] = 0.0
        others[rows, top] = np.log(e2.sum(axis=1)) + m2
    return others


def convert_outputs(raw: np.ndarray, returns: str, kind: str) -> np.ndarray:
    """Convert model outputs ``raw [n, C]`` (``returns``: ``"probabilities"`` or ``"logits"``).

    ``kind``:

    ``"probability"``
        softmax of logits, or the probabilities as given;
    ``"logit"``
        the logits, or ``log p`` for probabilities (logits up to a per-image constant);
    ``"log_odds"``
        ``log p_c - log(sum_{j != c} p_j)`` per class. From logits it is
        ``z_c - logsumexp_{j != c} z_j``, exact even when the softmax rounds to 1.0; from
        probabilities the other classes' sum is used (not ``1 - p_c``, which is 0 once ``p_c``
        rounds to 1.0), clipped at the smallest positive float so it stays finite.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if kind == "probability":
        return raw if returns == "probabilities" else _softmax(raw)
    if kind == "logit":
        return np.log(np.clip(raw, 1e-12, None)) if returns == "probabilities" else raw
    if kind == "log_odds":
        if returns == "logits":
            return raw - _logsumexp_others(raw)
        tiny = np.finfo(np.float64).tiny
        p = np.clip(raw, 0.0, None)
        others = p.sum(axis=1, keepdims=True) - p
        # the top class's "others" is better summed directly than by subtraction
        top = p.argmax(axis=1)
        rows = np.arange(len(p))
        q = p.copy()
        q[rows, top] = 0.0
        others[rows, top] = q.sum(axis=1)
        return np.log(np.maximum(p, tiny)) - np.log(np.maximum(others, tiny))
    raise ImacsInputError("kind", f"must be 'probability', 'logit' or 'log_odds', got {kind!r}")


def tensor_scores(out, returns: str, kind: str, softmax, log, clip_min):
    """The attributed score of raw outputs ``out [n, C]`` as a framework tensor (for gradients):
    the same table as :func:`convert_outputs` for ``"probability"`` and ``"logit"``.

    ``softmax(x)`` (over the last axis), ``log(x)`` and ``clip_min(x, v)`` are the framework's
    own operations, so the result stays in its autograd graph.
    """
    if kind == "probability":
        return out if returns == "probabilities" else softmax(out)
    if kind == "logit":
        return log(clip_min(out, 1e-12)) if returns == "probabilities" else out
    raise ImacsInputError("kind", f"gradients are of 'probability' or 'logit' scores, got {kind!r}")


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a function, of a callable object's class, or of a partial's function."""
    import functools

    if isinstance(obj, functools.partial):
        return "partial:" + qualified_name(obj.func)
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(obj).__name__)}"
