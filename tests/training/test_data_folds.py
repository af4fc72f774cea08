"""Participant-independent folds: disjoint participants, full coverage, paper sizes, seeded."""

import numpy as np
import pytest

from emer_live.errors import EmerError
from training.data.folds import participant_folds


def _paper_like_participants(seed=0):
    # 1,303 samples from 121 participants, unequal counts (as in EMER)
    rng = np.random.default_rng(seed)
    counts = 8 + rng.multinomial(1303 - 121 * 8, np.full(121, 1 / 121))
    return np.repeat(np.arange(121), counts)


def test_folds_disjoint_cover_all_and_match_paper_sizes():
    parts = _paper_like_participants()
    folds = participant_folds(parts, k=5, seed=3)
    assert len(folds) == 5
    all_test = np.concatenate([te for _, te in folds])
    assert sorted(all_test.tolist()) == list(range(len(parts)))
    for tr, te in folds:
        assert not set(parts[tr]) & set(parts[te])
        assert len(tr) + len(te) == 1303
        assert abs(len(te) - 260) <= 8, len(te)  # whole participants: within one participant of 260.6
    test_parts = [set(parts[te]) for _, te in folds]
    for a in range(5):
        for b in range(a + 1, 5):
            assert not test_parts[a] & test_parts[b]


def test_folds_reproducible_and_seed_dependent():
    parts = _paper_like_participants()
    a = participant_folds(parts, 5, seed=1)
    b = participant_folds(parts, 5, seed=1)
    c = participant_folds(parts, 5, seed=2)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_too_few_participants_is_a_clear_error():
    with pytest.raises(EmerError, match="at least 5 participants"):
        participant_folds([0, 0, 1, 1, 2], k=5)
