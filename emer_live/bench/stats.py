"""Summaries of timings: percentiles and rates, as plain JSON-ready dicts."""

from __future__ import annotations

import numpy as np


def summarize_ms(values_ms, unit: str = "frame") -> dict:
    """p50/p95/p99/mean of per-item times in ms, and the items per second they allow."""
    a = np.asarray(list(values_ms), dtype=np.float64)
    if a.size == 0:
        return {"n": 0, "unit": unit}
    mean = float(a.mean())
    return {"n": int(a.size), "unit": unit,
            "p50_ms": round(float(np.percentile(a, 50)), 4), "p95_ms": round(float(np.percentile(a, 95)), 4),
            "p99_ms": round(float(np.percentile(a, 99)), 4), "mean_ms": round(mean, 4),
            "per_s": round(1000.0 / mean, 1) if mean > 0 else None}


def ratio(a, b, digits: int = 2):
    """a / b rounded, None when either is missing or b is 0."""
    if a is None or b is None or not b:
        return None
    return round(float(a) / float(b), digits)
