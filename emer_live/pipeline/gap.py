"""The emotion gap between what the face displays (FER) and the inferred genuine emotion (ER)."""

from __future__ import annotations

import numpy as np

from emer_live.types import GapMetrics, HeadOutput


def _as_distribution(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    s = p.sum()
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"not a probability distribution: {p}")
    return p / s


def js_divergence(p, q) -> float:
    """Jensen-Shannon divergence in bits (base 2): 0 for equal distributions, 1 for disjoint ones."""
    p, q = _as_distribution(p), _as_distribution(q)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0  # 0 * log 0 = 0; m > 0 wherever a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return float(np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, 1.0))


def gap_metrics(er: HeadOutput, fer: HeadOutput) -> GapMetrics:
    return GapMetrics(
        jsd=js_divergence(er.probs7, fer.probs7),
        top_disagree=er.top7 != fer.top7,
        top3_disagree=er.top3 != fer.top3,
        d_valence=float(er.valence) - float(fer.valence),
        d_arousal=float(er.arousal) - float(fer.arousal),
    )
