"""I-VT fixation classification as Tobii's I-VT filter does it (Olsen 2012, "The Tobii I-VT
Fixation Filter"), on unit gaze directions. numpy only.

- velocity over a window centred on the sample (Tobii: 20 ms): the angle between the first and
  the last sample with a direction inside [t - w/2, t + w/2], divided by their time apart; so a
  label sits at the time of the movement it describes, no lag. centred_velocity is what eye-v1
  uses offline, in replay and live (live, the newest half window has no future yet: its samples
  use the part of the window that exists and are classified again when the next samples arrive).
- causal_velocity: the former online classifier (window and smoothing reaching back only). Its
  labels run late by a fixed lag, CAUSAL_LAG_S of the defaults (measured on the public TX300
  recordings with research/ivt_agreement.py: the shift that best aligns them with the centred
  labels); compensate_lag moves such labels back onto the movement's time.
- Tobii's optional steps, with Tobii's defaults (TobiiSteps): gap fill-in (linear interpolation
  across gaps up to 75 ms), merging adjacent fixations (at most 75 ms and 0.5 deg apart) and
  discarding short fixations (under 60 ms, then unclassified). They need whole fixations, i.e. an
  unbounded look-ahead, so they are for offline use (apply_tobii_steps), not in eye-v1's features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIXATION, SACCADE, BLINK, MISSING, UNCLASSIFIED = 0, 1, 2, -1, 3
CAUSAL_LAG_S = 0.0167  # measured lag of causal_velocity labels (20 ms smoothing + 20 ms window), 300 Hz data


@dataclass(frozen=True)
class TobiiSteps:
    """Tobii I-VT's optional steps and their defaults in Tobii's filter."""

    gap_fill: bool = True
    gap_fill_max_s: float = 0.075
    merge: bool = True
    merge_max_gap_s: float = 0.075
    merge_max_angle_deg: float = 0.5
    discard_short: bool = True
    min_fixation_s: float = 0.060


def unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), (a * b).sum(axis=-1)))


def smooth(t_ns: np.ndarray, d: np.ndarray, window_ns: int, centred: bool = True) -> np.ndarray:
    """Moving mean of unit vectors over [t - w/2, t + w/2] (centred) or (t - w, t] (causal),
    renormalised. Summed offset by offset (not by cumulative sums), so a sample's value does not
    depend on where the data was cut: the online processor reproduces the batch numbers exactly."""
    n = len(t_ns)
    ok = np.isfinite(d).all(axis=1)
    dz = np.where(ok[:, None], d, 0.0)
    acc = dz.copy()
    if centred:
        back = np.arange(n) - np.searchsorted(t_ns, t_ns - window_ns // 2, "left")
        ahead = np.searchsorted(t_ns, t_ns + window_ns // 2, "right") - 1 - np.arange(n)
    else:
        back = np.arange(n) - np.searchsorted(t_ns, t_ns - window_ns, "right")
        ahead = np.zeros(n, dtype=np.int64)
    for off in range(1, int(back.max()) + 1 if n else 0):
        acc[off:] += dz[:-off] * (back[off:] >= off)[:, None]
    for off in range(1, int(ahead.max()) + 1 if n else 0):
        acc[:-off] += dz[off:] * (ahead[:-off] >= off)[:, None]
    return unit(acc)


def centred_velocity(t_ns: np.ndarray, d: np.ndarray, window_ns: int) -> np.ndarray:
    """Angular velocity (deg/s) over a window centred on each sample (Tobii's velocity
    calculator); NaN where the sample has no direction or the window holds no second one."""
    n = len(t_ns)
    has = np.isfinite(d).all(axis=1)
    idx = np.arange(n)
    nxt = np.append(np.minimum.accumulate(np.where(has, idx, n)[::-1])[::-1], n)  # first with a direction at/after k
    prv = np.maximum.accumulate(np.where(has, idx, -1))  # last with a direction at/before k
    j0 = nxt[np.searchsorted(t_ns, t_ns - window_ns // 2, "left")]
    j1 = prv[np.searchsorted(t_ns, t_ns + window_ns // 2, "right") - 1]
    ok = has & (j0 < j1) & (j0 <= idx) & (j1 >= idx)
    v = np.full(n, np.nan)
    a, b = d[j0[ok]], d[j1[ok]]
    v[ok] = _angle_deg(a, b) / ((t_ns[j1[ok]] - t_ns[j0[ok]]) * 1e-9)
    return v


def causal_velocity(t_ns: np.ndarray, d: np.ndarray, window_ns: int) -> np.ndarray:
    """Angular velocity between each sample and the earliest sample with a direction within the
    preceding window (at least the previous sample): online-capable, but late (see CAUSAL_LAG_S)."""
    n = len(t_ns)
    has = np.isfinite(d).all(axis=1)
    nxt = np.append(np.minimum.accumulate(np.where(has, np.arange(n), n)[::-1])[::-1], n)
    i = np.arange(n)
    j = nxt[np.minimum(np.searchsorted(t_ns, t_ns - window_ns, "left"), np.maximum(i - 1, 0))]
    ok = has & (j < i)
    v = np.full(n, np.nan)
    v[ok] = _angle_deg(d[i[ok]], d[j[ok]]) / ((t_ns[i[ok]] - t_ns[j[ok]]) * 1e-9)
    return v


def compensate_lag(t_ns: np.ndarray, lag_s: float = CAUSAL_LAG_S) -> np.ndarray:
    """Timestamps for labels of a causal classifier: each describes the movement lag_s earlier."""
    return np.asarray(t_ns, dtype=np.int64) - int(round(lag_s * 1e9))


# ----------------------------------------------------------------------------- Tobii's optional steps


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def fill_gaps(t_ns: np.ndarray, d: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Linear interpolation of directions across gaps up to max_gap_s (time from the last sample
    before to the first after); longer gaps and gaps at the ends stay missing."""
    out = d.copy()
    has = np.isfinite(d).all(axis=1)
    for s, e in zip(*_runs(~has)):
        if s == 0 or e == len(d) or (t_ns[e] - t_ns[s - 1]) * 1e-9 > max_gap_s:
            continue
        w = ((t_ns[s:e] - t_ns[s - 1]) / (t_ns[e] - t_ns[s - 1]))[:, None]
        out[s:e] = unit(d[s - 1] + w * (d[e] - d[s - 1]))
    return out


def merge_adjacent(t_ns: np.ndarray, labels: np.ndarray, d: np.ndarray, max_gap_s: float,
                   max_angle_deg: float) -> np.ndarray:
    """Join two fixations whose gap is at most max_gap_s (end of one to start of the next) and
    whose mean directions are at most max_angle_deg apart; the samples between become fixation."""
    out = labels.copy()
    while True:
        starts, ends = _runs(out == FIXATION)
        merged = False
        for k in range(len(starts) - 1):
            a0, a1, b0, b1 = starts[k], ends[k], starts[k + 1], ends[k + 1]
            if (t_ns[b0] - t_ns[a1 - 1]) * 1e-9 > max_gap_s:
                continue
            ma, mb = unit(np.nanmean(d[a0:a1], axis=0)), unit(np.nanmean(d[b0:b1], axis=0))
            if np.isfinite(ma).all() and np.isfinite(mb).all() and _angle_deg(ma, mb) <= max_angle_deg:
                out[a1:b0] = FIXATION
                merged = True
                break  # the merged fixation may now join the next one: look again
        if not merged:
            return out


def discard_short(t_ns: np.ndarray, labels: np.ndarray, min_s: float, period_ns: float) -> np.ndarray:
    """Fixations shorter than min_s (first to last sample, plus one sample period) become
    unclassified, as in Tobii's filter."""
    out = labels.copy()
    for s, e in zip(*_runs(out == FIXATION)):
        if (t_ns[e - 1] - t_ns[s] + period_ns) * 1e-9 < min_s:
            out[s:e] = UNCLASSIFIED
    return out


def classify(t_ns: np.ndarray, d: np.ndarray, threshold_deg_s: float = 30.0, window_s: float = 0.020,
             smoothing_s: float = 0.020, steps: TobiiSteps | None = TobiiSteps(), centred: bool = True) -> np.ndarray:
    """I-VT labels per sample (FIXATION, SACCADE, UNCLASSIFIED, MISSING) from unit directions
    (N, 3), NaN where missing. steps=None leaves out Tobii's optional steps."""
    t_ns = np.asarray(t_ns, dtype=np.int64)
    d = np.asarray(d, dtype=np.float64)
    if steps is not None and steps.gap_fill:
        d = fill_gaps(t_ns, d, steps.gap_fill_max_s)
    has = np.isfinite(d).all(axis=1)
    s = smooth(t_ns, d, int(smoothing_s * 1e9), centred) if smoothing_s > 0 else d
    vel = (centred_velocity if centred else causal_velocity)(t_ns, s, int(window_s * 1e9))
    labels = np.where(vel > threshold_deg_s, SACCADE, FIXATION).astype(np.int8)
    labels[np.isnan(vel) & has] = UNCLASSIFIED  # no second direction in reach
    labels[~has] = MISSING
    if steps is not None and steps.merge:
        labels = merge_adjacent(t_ns, labels, d, steps.merge_max_gap_s, steps.merge_max_angle_deg)
    if steps is not None and steps.discard_short:
        period = float(np.median(np.diff(t_ns))) if len(t_ns) > 1 else 0.0
        labels = discard_short(t_ns, labels, steps.min_fixation_s, period)
    return labels
