"""Predictions of both models over the whole evaluation set, computed once and reused."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.adapter import ModelAdapter


@dataclass(frozen=True)
class Predictions:
    """Scores of one model on every evaluation image.

    Attributes
    ----------
    scores : numpy.ndarray
        ``float64 [N, C]`` probabilities (or logits, per the adapter's ``score``).
    predicted : numpy.ndarray
        ``int64 [N]`` argmax class.
    log_odds : numpy.ndarray
        ``float64 [N, C]`` per-class log-odds from the same outputs: what rankings compare
        (:meth:`~imacs_widget.models.ModelAdapter.log_odds`); ``None`` if built by hand.
    """

    scores: np.ndarray
    predicted: np.ndarray
    log_odds: np.ndarray | None = None

    @classmethod
    def compute(cls, adapter: ModelAdapter, images: np.ndarray, progress=None) -> Predictions:
        """Score ``images`` with ``adapter`` in batches (``progress(n)`` after each batch)."""
        parts = []
        for start in range(0, len(images), adapter.batch_size):
            chunk = images[start:start + adapter.batch_size]
            parts.append(adapter.raw(chunk))
            if progress is not None:
                progress(len(chunk))
        raw = np.concatenate(parts, axis=0)
        scores = adapter.convert(raw)
        return cls(scores=scores, predicted=scores.argmax(axis=1).astype(np.int64),
                   log_odds=adapter.convert(raw, "log_odds"))

    @classmethod
    def from_raw(cls, adapter: ModelAdapter, raw: np.ndarray) -> Predictions:
        """Predictions from the model's raw outputs (:meth:`ModelAdapter.raw`); NaN rows (images
        that could not be read) predict ``-1``."""
        bad = ~np.isfinite(raw).all(axis=1)
        filled = np.where(bad[:, None], 0.0, raw)
        scores = adapter.convert(filled)
        scores[bad] = np.nan
        predicted = scores.argmax(axis=1).astype(np.int64)
        predicted[bad] = -1
        log_odds = adapter.convert(filled, "log_odds")
        log_odds[bad] = np.nan
        return cls(scores=scores, predicted=predicted, log_odds=log_odds)

    def subset(self, rows: np.ndarray) -> Predictions:
        """These predictions at ``rows`` only."""
        lo = None if self.log_odds is None else self.log_odds[rows]
        return Predictions(scores=self.scores[rows], predicted=self.predicted[rows], log_odds=lo)

    def accuracy(self, labels: np.ndarray, mask: np.ndarray | None = None) -> float:
        """Top-1 accuracy on ``labels`` (optionally only where ``mask`` is true)."""
        hit = self.predicted == labels
        if mask is not None:
            hit = hit[mask]
        return float(hit.mean()) if hit.size else float("nan")


def outcomes(predicted: np.ndarray, labels: np.ndarray, target: int) -> np.ndarray:
    """Outcome of each image for the class of interest: ``'TP'|'TN'|'FP'|'FN'`` strings."""
    pos_pred = predicted == target
    pos_true = labels == target
    out = np.where(pos_true, np.where(pos_pred, "TP", "FN"), np.where(pos_pred, "FP", "TN"))
    return out.astype("<U2")
