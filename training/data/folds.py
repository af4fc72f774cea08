"""Participant-independent k-fold cross-validation (the paper: 5 folds, 1,043 train / 260 test).

Whole participants are dealt to folds, so nobody appears in two folds. Participants are shuffled
with the seed, then placed largest first into the fold with the fewest samples so far, which
keeps test folds near n/k samples even when participants contribute unequal numbers.
"""

from __future__ import annotations

import numpy as np

from emer_live.errors import EmerError


def participant_folds(participants, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(train_idx, test_idx)] * k over sample indices, grouped by participant id."""
    participants = np.asarray(participants)
    ids, counts = np.unique(participants, return_counts=True)
    if k < 2:
        raise EmerError(f"cross-validation needs at least 2 folds, got {k}")
    if len(ids) < k:
        raise EmerError(f"{k}-fold participant-independent CV needs at least {k} participants; "
                        f"the dataset has {len(ids)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    # stable sort by size (largest first) after the shuffle: ties keep the seeded order
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = np.empty(len(ids), np.int64)
    load = np.zeros(k, np.int64)
    for j in order:
        f = int(np.argmin(load))
        fold_of[j] = f
        load[f] += counts[j]
    sample_fold = fold_of[np.searchsorted(ids, participants)]
    return [(np.flatnonzero(sample_fold != f), np.flatnonzero(sample_fold == f)) for f in range(k)]
