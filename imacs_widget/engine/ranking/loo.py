"""The default ranker: leave-one-out (``ranking="loo"``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..masking import evaluate_masked, leave_one_out_jobs
from .common import (
    RankedSegments,
    _as_adapter,
    _check_full_scores,
    _check_inputs,
    _check_target,
    _top_k,
)


def rank_leave_one_out(adapter, images, label_maps, blurred, target: int, k: int = 5, *,
                       full_scores=None, batch_size: int = 64,
                       progress: Callable[[int], None] | None = None, seed: int = 0
                       ) -> list[np.ndarray]:
    """Rank segments by the drop of the target's log-odds when each one alone is blurred.

    ``importance(s) = L(image)[target] - L(image with segment s blurred)[target]`` with ``L``
    the per-class log-odds (:meth:`~imacs_widget.models.ModelAdapter.log_odds`, exact from
    logits, stable from saturated probabilities); the ``k`` segments with the largest importance
    are returned, exact ties broken by a permutation seeded by ``seed`` and the image. A segment
    whose blurring *raises* the target score gets a negative importance and ranks last.

    Cost: one forward pass per segment (``sum_i S_i`` in total), plus ``N`` when ``full_scores``
    is not given. Returns a :class:`RankedSegments` whose ``masked_scores`` keep the attributed
    scores of the ranked segments' masked images (Shapley coalition values, reused). Masked
    images are composed on the fly by the model's adapter (on its device where it can) and
    batched *across* images (:func:`~imacs_widget.engine.masking.evaluate_masked`), so only
    ``batch_size`` of them exist at once.
    ``progress`` receives the number of masked images scored after each batch; ``seed`` is
    only breaks exact ties. See the module docstring for the ranker contract.
    """
    images, label_maps, blurred, k = _check_inputs(images, label_maps, blurred, k)
    adapter = _as_adapter(adapter)
    if full_scores is None:
        full_scores = adapter.log_odds(images)
    full_scores = _check_full_scores(full_scores, len(images))
    target = _check_target(target, full_scores.shape[1])
    jobs, seg_ids = leave_one_out_jobs(label_maps)
    raw = evaluate_masked(adapter, images, blurred, label_maps, jobs, int(batch_size), progress)
    log_odds, scores = adapter.convert(raw, "log_odds"), adapter.convert(raw)
    out, masked, pos = RankedSegments(), [], 0
    for i, ids in enumerate(seg_ids):
        drop = full_scores[i, target] - log_odds[pos:pos + len(ids), target]
        top = _top_k(drop, ids, k, images[i], seed)
        row = {int(s): j for j, s in enumerate(ids)}
        masked.append({int(s): scores[pos + row[int(s)]] for s in top})
        pos += len(ids)
        out.append(top)
    out.masked_scores = masked
    return out
