"""Choose which evaluation images each model explains (paper §4 and §5.4).

Strategies
----------
``"balanced"`` (default)
    Per model, an equal number of true positives, true negatives, false positives and false
    negatives for the class of interest (``n_per_model // 4`` each). A cell with too few images
    contributes what it has; the shortfall is reported, never filled by duplicates.
``"all"``
    Every image, for every model.
``"disagreements"``
    Images on which the models disagree about the class of interest (some predict it, some
    do not), most confident first (largest spread ``max - min`` of the models' scores for that
    class, ``|score_A - score_B|`` for two models); the same images for every model.
``"outcome"``
    One outcome only (e.g. ``outcome="FP"``), up to ``n_per_model`` images per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ImacsInputError, warn
from .predictions import Predictions, outcomes

STRATEGIES = ("balanced", "all", "disagreements", "outcome")
OUTCOMES = ("TP", "TN", "FP", "FN")


@dataclass
class Sample:
    """Images chosen for each model and what was asked versus taken.

    Attributes
    ----------
    indices : dict
        ``{model: int array}`` image indices, sorted per outcome cell.
    outcomes : dict
        ``{model: str array}`` the sampling model's outcome of each chosen image.
    counts : dict
        ``{model: {"TP": {"requested": r, "available": a, "taken": t}, ...}}``.
    warnings : list of str
        Human-readable shortfalls (also emitted, together, as one :class:`~imacs_widget.errors.ImacsWarning`).
    """

    indices: dict
    outcomes: dict
    counts: dict
    warnings: list = field(default_factory=list)


def sample(preds: dict[str, Predictions], labels: np.ndarray, target: int,
           strategy: str = "balanced", n_per_model: int = 100, seed: int = 0,
           outcome: str | None = None, min_confidence: float = 0.0,
           target_name: str | None = None, allowed: dict | None = None,
           side: str = "model") -> Sample:
    """Sample evaluation images for each model; see the module docstring for strategies.

    ``preds``: ``{model key: Predictions}`` in the comparison's model order (the balanced
    cells of the models are drawn one model after the other from one generator seeded with
    ``seed``). ``allowed``: ``{model: bool [N]}`` the images each model may sample (one
    model on two datasets: each side its own dataset's images); default: all of them.
    ``side``: what a key is called in the warnings (``"model"``, or ``"dataset"``).

    Raises
    ------
    ImacsInputError
        Unknown strategy/outcome, non-positive ``n_per_model``, or no image at all to sample.
    """
    if strategy not in STRATEGIES:
        raise ImacsInputError("sampling", f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if strategy != "all" and int(n_per_model) < 1:
        raise ImacsInputError("n_per_model", f"must be >= 1, got {n_per_model}")
    if strategy == "outcome" and outcome not in OUTCOMES:
        raise ImacsInputError("outcome", f"must be one of {OUTCOMES} with sampling='outcome', got {outcome!r}")
    rng = np.random.default_rng(seed)
    name = target_name if target_name is not None else str(target)
    models = list(preds)
    out_of = {m: outcomes(p.predicted, labels, target) for m, p in preds.items()}
    if allowed is not None:
        if strategy == "disagreements":
            raise ImacsInputError("sampling", "'disagreements' compares models on the same "
                                  "images; with two datasets use 'balanced', 'all' or 'outcome'")
        for m in models:  # an outcome no image of this side has
            out_of[m] = np.where(allowed[m], out_of[m], "")
    idx, outs, counts, notes = {}, {}, {}, []

    if strategy in ("balanced", "outcome"):
        cells = OUTCOMES if strategy == "balanced" else (outcome,)
        per_cell = int(n_per_model) // len(cells) if strategy == "balanced" else int(n_per_model)
        if per_cell < 1:
            raise ImacsInputError("n_per_model", f"must be >= 4 for balanced sampling, got {n_per_model}")
        for m in models:
            chosen, counts[m] = [], {}
            for cell in cells:
                pool = np.flatnonzero(out_of[m] == cell)
                take = min(per_cell, len(pool))
                pick = np.sort(rng.choice(pool, size=take, replace=False)) if take else pool[:0]
                chosen.append(pick)
                counts[m][cell] = {"requested": per_cell, "available": int(len(pool)), "taken": int(take)}
                if take < per_cell:
                    notes.append(f"{side} {m}: only {len(pool)} {cell} images for class {name!r} "
                                 f"(asked for {per_cell}); took {take}")
            idx[m] = np.concatenate(chosen).astype(np.int64)
    elif strategy == "all":
        for m in models:
            idx[m] = np.flatnonzero(out_of[m] != "").astype(np.int64)
            counts[m] = {c: {"requested": None, "available": int((out_of[m] == c).sum()),
                             "taken": int((out_of[m] == c).sum())} for c in OUTCOMES}
    else:  # disagreements
        pos = np.stack([p.predicted == target for p in preds.values()])
        sc = np.stack([p.scores[:, target] for p in preds.values()])
        gap = sc.max(axis=0) - sc.min(axis=0)
        pool = np.flatnonzero(pos.any(axis=0) & ~pos.all(axis=0) & (gap >= min_confidence))
        order = pool[np.lexsort((pool, -gap[pool]))]
        pick = np.sort(order[: int(n_per_model)])
        if len(pick) < n_per_model:
            notes.append(f"only {len(pool)} images where the models disagree on {name!r}"
                         + (f" with |score gap| >= {min_confidence}" if min_confidence else "")
                         + f" (asked for {n_per_model})")
        for m in models:
            idx[m] = pick.astype(np.int64)
            counts[m] = {"disagreements": {"requested": int(n_per_model), "available": int(len(pool)),
                                           "taken": int(len(pick))}}
    for m in models:
        outs[m] = out_of[m][idx[m]]
    if sum(len(v) for v in idx.values()) == 0:
        raise ImacsInputError("images", f"no image could be sampled for class {name!r} with "
                              f"strategy {strategy!r}: " + "; ".join(notes))
    if notes:  # one warning per class, attributed to the caller's line (not one per note)
        warn(f"sampling for class {name!r}: " + "; ".join(notes))
    return Sample(indices=idx, outcomes=outs, counts=counts, warnings=notes)
