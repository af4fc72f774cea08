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


# A distribution whose entropy is at least this share of the uniform one's names no class: its
# top label is noise (an untrained head gives e.g. 18 % for one of 7 classes, 14 % for the rest),
# so two such tops disagreeing is no gap. 0.95 of log 7 is reached by e.g. a top at 30 % with the
# other six even; a top at 40 % is clear (0.90).
NEAR_UNIFORM_ENTROPY = 0.95


def near_uniform(p) -> bool:
    """True when a distribution's normalised entropy is >= NEAR_UNIFORM_ENTROPY (no clear top)."""
    p = _as_distribution(p)
    if len(p) < 2:
        return False
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / np.log(len(p))) >= NEAR_UNIFORM_ENTROPY


def gap_metrics(er: HeadOutput, fer: HeadOutput) -> GapMetrics:
    """The gap; the top labels count as disagreeing only when both distributions name a class."""
    clear7 = not (near_uniform(er.probs7) or near_uniform(fer.probs7))
    clear3 = not (near_uniform(er.probs3) or near_uniform(fer.probs3))
    return GapMetrics(
        jsd=js_divergence(er.probs7, fer.probs7),
        top_disagree=clear7 and er.top7 != fer.top7,
        top3_disagree=clear3 and er.top3 != fer.top3,
        d_valence=float(er.valence) - float(fer.valence),
        d_arousal=float(er.arousal) - float(fer.arousal),
    )


def no_fer_gap() -> GapMetrics:
    """The gap of a window that has no FER (a model with neither a per-frame FER nor a trained FER
    head): nothing to compare, nothing flagged."""
    nan = float("nan")
    return GapMetrics(jsd=nan, top_disagree=False, top3_disagree=False, d_valence=nan, d_arousal=nan)
