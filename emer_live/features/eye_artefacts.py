"""Rule-based check for eye streams no person produces, run on a window's RAW gaze samples.

numpy only. The model's eye guard (eye_norm.eye_check) asks whether a window looks like the
training windows after the 32-step encoding; this module asks whether the samples themselves could
come from a human eye and a working tracker, before anything is averaged away. Each rule names its
reason; a window with any reason is not a reading of a person's eyes (the prediction's ER is
marked unreliable).

Thresholds come from physiology and from tracker specifications, not from the windows they are
scored on: the first TX300 participant's recordings were used to check that real eyes stay clear of
them (the second participant's are the held-out people; see `emer-live bench eye-artefacts`).

- frozen_samples: a tracker repeating its last sample. Real binocular samples never repeat exactly
  for long: the display point and pupil carry sensor noise. Flagged when runs of identical valid
  samples lasting >= FROZEN_RUN_S cover > FROZEN_SHARE of the valid samples, or when more than
  REPEAT_SHARE of consecutive valid samples are exact repeats (a stream stuttering on stale data).
- loop: a stretch of samples played again. Consecutive rows repeating an earlier sequence exactly
  (LOOP_ROWS in a row) cover > LOOP_SHARE of the valid samples.
- constant_gaze: the display point does not move: its spread over the window is below
  CONSTANT_SD_DEG in both axes (fixational eye movements and tracker noise alone exceed it).
- impossible_velocity: more than FAST_SHARE of consecutive valid sample pairs jump further than
  MIN_JUMP_DEG faster than MAX_VELOCITY_DEG_S (saccade peak velocities stay below about
  700-900 deg/s; the step size keeps a fast tracker's sample noise, divided by a short interval,
  from counting as movement).
- pupil_out_of_range: the median valid pupil of an eye lies outside 1.5-9 mm (the adult range
  under light and dark), or more than PUPIL_OUT_SHARE of its samples do.
- pupil_too_fast: the pupil changes faster than MAX_PUPIL_MM_S between PUPIL_BIN_S medians in more
  than PUPIL_FAST_SHARE of the pairs (the light reflex constricts at most about 5-6 mm/s).
- eyes_disagree: the two eyes' display points lie further apart than MAX_VERGENCE_DEG (median over
  samples with both eyes), beyond what vergence and calibration error make.
- off_display: more than OFF_SHARE of the valid samples lie beyond OFF_MARGIN of the display.
- rate_mismatch: the measured sample rate differs from the stream's nominal rate by more than
  RATE_TOLERANCE, or is below MIN_RATE_HZ with no nominal rate known.
- missing_columns: an eye's validity flag says valid in most samples but its display point or its
  pupil never has a value (a column the stream should carry is absent).
"""

from __future__ import annotations


import numpy as np

from emer_live.types import GAZE_COL

FROZEN_RUN_S = 0.1
FROZEN_SHARE = 0.25
REPEAT_SHARE = 0.5
LOOP_ROWS = 4
LOOP_SHARE = 0.3
CONSTANT_SD_DEG = 0.05
MAX_VELOCITY_DEG_S = 1000.0
MIN_JUMP_DEG = 1.5  # and a step at least this large: tracker noise stays well under it
FAST_SHARE = 0.05
PUPIL_RANGE_MM = (1.5, 9.0)
PUPIL_OUT_SHARE = 0.2
PUPIL_BIN_S = 0.05
MAX_PUPIL_MM_S = 10.0
PUPIL_FAST_SHARE = 0.15
MAX_VERGENCE_DEG = 6.0
OFF_MARGIN = 0.3
OFF_SHARE = 0.5
RATE_TOLERANCE = 0.2
MIN_RATE_HZ = 20.0
MIN_SAMPLES = 20  # fewer valid samples than this: nothing to judge (the window's validity rule speaks)

REASONS = {
    "frozen_samples": "the tracker repeats identical samples",
    "loop": "a stretch of samples is played again",
    "constant_gaze": "the gaze point does not move at all",
    "impossible_velocity": "the gaze jumps faster than an eye can move",
    "pupil_out_of_range": "pupil size outside 1.5-9 mm",
    "pupil_too_fast": "the pupil changes faster than a pupil can",
    "eyes_disagree": "the two eyes point at places too far apart",
    "off_display": "the gaze lies far off the display",
    "rate_mismatch": "the sample rate differs from the stream's",
    "missing_columns": "a column the stream should carry is absent",
}

_DISP = [[GAZE_COL[f"{e}_gaze_point_on_display_area_{a}"] for a in "xy"] for e in ("left", "right")]
_GVAL = [GAZE_COL[f"{e}_gaze_point_validity"] for e in ("left", "right")]
_PUP = [GAZE_COL[f"{e}_pupil_diameter"] for e in ("left", "right")]
_PVAL = [GAZE_COL[f"{e}_pupil_validity"] for e in ("left", "right")]
_ROW_COLS = np.array(sum(_DISP, []) + _PUP)  # what a repeated sample repeats
_HASH_MULT = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0xD3A2646C], np.int64)


class Geometry:
    """Display size and viewing distance (mm), to turn display units into degrees of visual angle."""

    def __init__(self, width_mm: float = 531.0, height_mm: float = 299.0, distance_mm: float = 650.0):
        self.deg_per_unit = np.degrees(np.array([width_mm, height_mm]) / distance_mm)  # small-angle


def _frozen_and_loop(t_ns: np.ndarray, rows: np.ndarray, valid: np.ndarray) -> list[str]:
    out = []
    v = np.flatnonzero(valid)
    if len(v) < MIN_SAMPLES:
        return out
    r = rows[v]
    same = (r[1:] == r[:-1]) | (np.isnan(r[1:]) & np.isnan(r[:-1]))
    same = same.all(axis=1)
    in_long_run = np.zeros(len(v), bool)
    d = np.diff(np.concatenate(([0], same.view(np.int8), [0])))
    for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):  # pairs s..e-1 -> rows s..e
        if t_ns[v[e]] - t_ns[v[s]] >= FROZEN_RUN_S * 1e9:
            in_long_run[s:e + 1] = True
    if in_long_run.mean() > FROZEN_SHARE or same.mean() > REPEAT_SHARE:
        out.append("frozen_samples")
    # loop: LOOP_ROWS consecutive rows, none a repeat of the one before (that is the frozen rule's),
    # whose sequence occurred earlier in the window
    key = np.round(np.nan_to_num(r, nan=-9.0) * 1e4).astype(np.int64)
    row_hash = (key * _HASH_MULT[:key.shape[1]]).sum(axis=1)  # wraps around: a hash, not a value
    n = len(row_hash) - LOOP_ROWS + 1
    if n <= 0:
        return out
    seq = np.zeros(n, np.int64)
    moving = np.ones(n, bool)
    for k in range(LOOP_ROWS):
        seq = seq * np.int64(1_000_003) + row_hash[k:k + n]
        if k:
            moving &= ~same[k - 1:k - 1 + n]
    _, first = np.unique(seq, return_index=True)
    is_first = np.zeros(n, bool)
    is_first[first] = True
    repeated = int((~is_first & moving).sum())
    if repeated / len(r) > LOOP_SHARE:
        out.append("loop")
    return out


def _constant(raw, eye_ok, geo: Geometry) -> list[str]:
    """Per eye: the binocular mean jumps where one eye drops out, so it cannot show a still point."""
    spreads = [np.std(raw[ok][:, _DISP[e]] * geo.deg_per_unit, axis=0).max()
               for e, ok in enumerate(eye_ok) if ok.sum() >= MIN_SAMPLES]
    return ["constant_gaze"] if spreads and max(spreads) < CONSTANT_SD_DEG else []


def _speed_rules(t_ns, disp, ok, geo: Geometry) -> list[str]:
    out = []
    if ok.sum() < MIN_SAMPLES:
        return out
    deg = disp * geo.deg_per_unit
    dt = np.diff(t_ns) * 1e-9
    pair = ok[1:] & ok[:-1] & (dt > 0)
    if pair.sum() >= MIN_SAMPLES:
        period = np.median(dt[pair])
        pair &= dt <= 2.5 * period  # across a gap the eye had time to move
        step = np.linalg.norm(np.diff(deg, axis=0), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = step[pair] / dt[pair]
        # a jump, not noise: sample noise divided by a short interval (1200 Hz) can look fast too
        jump = (speed > MAX_VELOCITY_DEG_S) & (step[pair] > MIN_JUMP_DEG)
        if len(speed) and jump.mean() > FAST_SHARE:
            out.append("impossible_velocity")
    return out


def _pupil_rules(t_ns, raw) -> list[str]:
    out = []
    lo, hi = PUPIL_RANGE_MM
    bin_ns = int(PUPIL_BIN_S * 1e9)
    out_range = too_fast = False
    for e in range(2):
        p = raw[:, _PUP[e]]
        ok = (raw[:, _PVAL[e]] == 1) & np.isfinite(p)
        if ok.sum() < MIN_SAMPLES:
            continue
        pv = p[ok]
        med = float(np.median(pv))
        if not lo <= med <= hi or ((pv < lo) | (pv > hi)).mean() > PUPIL_OUT_SHARE:
            out_range = True
        b = (t_ns[ok] - t_ns[0]) // bin_ns
        order = np.lexsort((pv, b))  # by bin, then by size within the bin
        ub, start, count = np.unique(b[order], return_index=True, return_counts=True)
        meds = pv[order][start + (count - 1) // 2]  # each bin's (lower) median
        adj = np.diff(ub) == 1
        if adj.sum() >= 3:
            rate = np.abs(np.diff(meds))[adj] / PUPIL_BIN_S
            if (rate > MAX_PUPIL_MM_S).mean() > PUPIL_FAST_SHARE:
                too_fast = True
    if out_range:
        out.append("pupil_out_of_range")
    if too_fast:
        out.append("pupil_too_fast")
    return out


def artefact_reasons(t_ns, raw, nominal_hz: float | None = None, geometry: Geometry | None = None) -> list[str]:
    """Named reasons (keys of REASONS) why these raw gaze samples (t_ns (N,), raw (N, 30) as
    emer_live.types.RAW_GAZE_COLUMNS) cannot be a person's eyes; [] when none applies."""
    t_ns = np.asarray(t_ns, np.int64)
    raw = np.asarray(raw, np.float64)
    geo = geometry or Geometry()
    reasons: list[str] = []
    if len(t_ns) < MIN_SAMPLES:
        return reasons
    eye_ok = []
    for e in range(2):
        d = raw[:, _DISP[e]]
        flagged = raw[:, _GVAL[e]] == 1
        eye_ok.append(flagged & np.isfinite(d).all(axis=1))
        pflag = raw[:, _PVAL[e]] == 1
        if (flagged.mean() > 0.5 and not np.isfinite(d).any()) or \
                (pflag.mean() > 0.5 and not np.isfinite(raw[:, _PUP[e]]).any()):
            if "missing_columns" not in reasons:
                reasons.append("missing_columns")
    left, right = eye_ok
    any_ok = left | right
    with np.errstate(invalid="ignore"):
        disp = np.where(left[:, None] & right[:, None], (raw[:, _DISP[0]] + raw[:, _DISP[1]]) / 2,
                        np.where(left[:, None], raw[:, _DISP[0]], raw[:, _DISP[1]]))
    reasons += _frozen_and_loop(t_ns, raw[:, _ROW_COLS], any_ok)
    reasons += _constant(raw, eye_ok, geo)
    reasons += _speed_rules(t_ns, disp, any_ok, geo)
    reasons += _pupil_rules(t_ns, raw)
    both = left & right
    if both.sum() >= MIN_SAMPLES:
        sep = np.linalg.norm((raw[both][:, _DISP[0]] - raw[both][:, _DISP[1]]) * geo.deg_per_unit, axis=1)
        if np.median(sep) > MAX_VERGENCE_DEG:
            reasons.append("eyes_disagree")
    if any_ok.sum() >= MIN_SAMPLES:
        d = disp[any_ok]
        off = ((d < -OFF_MARGIN) | (d > 1 + OFF_MARGIN)).any(axis=1)
        if off.mean() > OFF_SHARE:
            reasons.append("off_display")
    rate = measured_rate_hz(t_ns)
    if rate is not None:
        if nominal_hz:
            if abs(rate / nominal_hz - 1.0) > RATE_TOLERANCE:
                reasons.append("rate_mismatch")
        elif rate < MIN_RATE_HZ:
            reasons.append("rate_mismatch")
    return reasons


def measured_rate_hz(t_ns) -> float | None:
    """Samples per second from the intervals that are not gaps (longer than 2.5 typical ones)."""
    dt = np.diff(np.asarray(t_ns, np.int64)) * 1e-9
    dt = dt[dt > 0]
    if len(dt) < MIN_SAMPLES:
        return None
    dt = dt[dt <= 2.5 * np.median(dt)]
    return float(1.0 / dt.mean())


def describe(reasons: list[str]) -> str:
    """One line for people: what is wrong with the eye stream."""
    return "; ".join(REASONS.get(r, r) for r in reasons)


class RawGazeBuffer:
    """The raw samples of the last history_s seconds, for the check of each window (the eye
    pipeline keeps only processed samples that long). Arrays, compacted when full: pushing is
    amortised O(1) and a window is one slice."""

    def __init__(self, history_s: float = 30.0, capacity: int = 4096):
        self.history_ns = int(history_s * 1e9)
        self._t = np.empty(capacity, np.int64)
        self._v = np.empty((capacity, 30), np.float64)
        self._lo = self._hi = 0  # rows [lo, hi) hold samples

    def __len__(self) -> int:
        return self._hi - self._lo

    def push(self, host_ns: int, values) -> None:
        if self._hi == len(self._t):
            self._make_room(int(host_ns))
        self._t[self._hi] = host_ns
        self._v[self._hi] = values
        self._hi += 1

    def _make_room(self, now_ns: int) -> None:
        keep = self._lo + int(np.searchsorted(self._t[self._lo:self._hi], now_ns - self.history_ns, "left"))
        n = self._hi - keep
        if n > len(self._t) // 2:  # still more than half full of what must stay: grow
            t, v = np.empty(2 * len(self._t), np.int64), np.empty((2 * len(self._t), 30), np.float64)
        else:
            t, v = self._t, self._v
        t[:n], v[:n] = self._t[keep:self._hi], self._v[keep:self._hi]
        self._t, self._v, self._lo, self._hi = t, v, 0, n

    def clear(self) -> None:
        self._lo = self._hi = 0

    def window(self, end_ns: int, window_s: float) -> tuple[np.ndarray, np.ndarray]:
        t = self._t[self._lo:self._hi]
        lo = int(np.searchsorted(t, end_ns - int(round(window_s * 1e9)), "right"))
        hi = int(np.searchsorted(t, end_ns, "right"))
        return t[lo:hi].copy(), self._v[self._lo + lo:self._lo + hi].copy()


def with_artefacts(check: dict | None, reasons: list | None) -> dict | None:
    """The prediction's eye_check with the artefact reasons merged in: "artefacts" lists them, and
    any of them makes the window unfamiliar (ER unreliable) with a reason people can read. None
    (no eyes used) stays None; a window without a guard gets a check only when a rule fires."""
    if reasons is None or (check is None and not reasons):
        return check
    out = dict(check) if check else {"score": float("nan"), "threshold": float("nan"), "unfamiliar": False, "reason": ""}
    out["artefacts"] = list(reasons)
    if reasons:
        why = "eye stream no person produces: " + describe(reasons)
        out["reason"] = why + (f"; {out['reason']}" if out.get("unfamiliar") and out.get("reason") else "")
        out["unfamiliar"] = True
    return out
