"""Gap metrics against values worked out by hand."""

import math

import numpy as np
import pytest

from emer_live.pipeline.gap import gap_metrics, js_divergence
from emer_live.types import HeadOutput


def head(p7, p3=(0.2, 0.3, 0.5), va=(0.0, 0.0)):
    return HeadOutput(probs7=np.asarray(p7, float), probs3=np.asarray(p3, float), valence=va[0], arousal=va[1])


def one_hot(i, n=7):
    p = np.zeros(n)
    p[i] = 1.0
    return p


def test_jsd_identical_is_zero_and_disjoint_is_one():
    p = np.array([0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1])
    assert js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(one_hot(0), one_hot(3)) == pytest.approx(1.0)


def test_jsd_half_overlap_by_hand():
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4)
    # KL(p||m) = 1/2 log2(2/3) + 1/2 log2(2); KL(q||m) = log2(4/3)
    expected = 0.5 * (0.5 * math.log2(2 / 3) + 0.5 * 1.0) + 0.5 * math.log2(4 / 3)
    p = np.r_[0.5, 0.5, np.zeros(5)]
    assert js_divergence(p, one_hot(0)) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.311278, abs=1e-6)


def test_jsd_is_symmetric_and_normalises_input():
    p = np.array([2.0, 1, 1, 0, 0, 0, 0])  # sums to 4: read as (1/2, 1/4, 1/4)
    q = np.array([0.25, 0.25, 0.5, 0, 0, 0, 0])
    assert js_divergence(p, q) == pytest.approx(js_divergence(q, p))
    assert js_divergence(p, q) == pytest.approx(js_divergence(p / 4, q))


def test_jsd_refuses_an_empty_distribution():
    with pytest.raises(ValueError):
        js_divergence(np.zeros(7), one_hot(1))


def test_gap_metrics_fields():
    # ER: sadness (negative), FER: happiness (positive), as in "a smile on the face, sadness in the eyes"
    er = head(one_hot(1), p3=(0.1, 0.8, 0.1), va=(-0.6, -0.3))
    fer = head(one_hot(0), p3=(0.9, 0.05, 0.05), va=(0.7, 0.4))
    g = gap_metrics(er, fer)
    assert g.jsd == pytest.approx(1.0)
    assert g.top_disagree and g.top3_disagree
    assert g.d_valence == pytest.approx(-1.3) and g.d_arousal == pytest.approx(-0.7)


def test_gap_metrics_agreeing_heads():
    p = np.array([0.6, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])
    g = gap_metrics(head(p, va=(0.5, 0.2)), head(p, va=(0.5, 0.2)))
    assert g.jsd == pytest.approx(0.0, abs=1e-12)
    assert not g.top_disagree and not g.top3_disagree
    assert g.d_valence == 0.0 and g.d_arousal == 0.0


def test_no_gap_is_flagged_between_near_uniform_distributions():
    # An untrained FER head: 18 % fear, the rest ~14 %; the ER equally flat with another top.
    flat_fer = head([0.137, 0.137, 0.18, 0.137, 0.137, 0.136, 0.136], p3=(0.34, 0.33, 0.33))
    flat_er = head([0.15, 0.145, 0.14, 0.14, 0.14, 0.14, 0.145], p3=(0.33, 0.34, 0.33))
    g = gap_metrics(flat_er, flat_fer)
    assert not g.top_disagree and not g.top3_disagree
    assert g.jsd < 0.01  # still reported: the distributions are nearly equal
    # one clear reading against a flat one: the flat one names nothing, so no disagreement either
    clear = head(one_hot(0), p3=(0.9, 0.05, 0.05))
    assert not gap_metrics(clear, flat_fer).top_disagree
    # a 40 % top is a reading: two such that differ do disagree
    a = head([0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], p3=(0.6, 0.3, 0.1))
    b = head([0.1, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1], p3=(0.2, 0.7, 0.1))
    g = gap_metrics(a, b)
    assert g.top_disagree and g.top3_disagree


def test_a_window_without_fer_flags_nothing_and_writes_null():
    from emer_live.pipeline.gap import no_fer_gap

    g = no_fer_gap()
    assert not g.top_disagree and g.as_dict()["jsd"] is None and g.as_dict()["d_valence"] is None
