"""Eye feature schemas "eye-v1" and "eye-v2": per-sample eye vector, fixation stream and window encodings.

numpy only. Training (synthetic and recorded data) and the runtime (EyeProcessor) both call this
module, so the model sees the same numbers in both.

Per sample (input: the 30 raw values of emer_live.types.RAW_GAZE_COLUMNS)
-------------------------------------------------------------------------
1. Validity. A value group counts only when its device flag is 1 and its numbers are finite and
   plausible: gaze point (display x, y within [-1, 2], a display away from the display; user
   coordinates where the data has them); pupil diameter (0 < d <= pupil_max_mm); gaze origin
   (user coordinates, z > 0). An invalid group becomes NaN, validity 0.
   The track-box origin a source may carry is ignored: tobii-research 2.x sends none. A gaze
   origin is valid on its user coordinates; eye-v1 windows mark the track-box slots NaN (absent:
   the training mean after normalisation), so a file with those columns gives the live ER.
2. Blinks. A gap is a run of samples where neither eye has a valid gaze point; its duration is
   the time from the last valid sample before it to the first valid sample after it. Gaps of
   blink_min_s..blink_max_s (75-425 ms) are blinks: every value is linearly interpolated across
   the gap (between its own last value before and first after, looked for up to blink_edge_s
   beyond the gap, as one eye often closes a little before the other); the samples are
   labelled blink and keep validity flags 0 (interpolated, not measured). Shorter and longer
   gaps, and gaps at either end of the data, stay missing: NaN, validity 0, no event.
3. Pupil fluctuation: the pupil diameter column is replaced by its first difference (mm from
   the previous sample; NaN where either is missing), per eye. Per sample, as in the paper, so
   its scale depends on the sampling rate: normalisation statistics hold for the rate they
   were computed at.
4. Unit gaze direction per eye: gaze point minus gaze origin, both in user coordinates,
   normalised.
5. I-VT, as Tobii's I-VT filter (ivt.py): the binocular direction (mean of the available eyes'
   unit vectors) is smoothed by a moving mean over smoothing_window_s centred on the sample
   (20 ms: without it, tracker noise alone exceeds 30 deg/s at 300 Hz); its angular velocity is
   taken between the first and last samples with a direction within velocity_window_s centred
   on the sample, in deg/s. Above ivt_threshold_deg_s -> saccade, else fixation; with no second
   direction in reach -> fixation. Centred windows put each label at the time of the movement
   (a causal window put it about 17 ms late at 300 Hz). Online, the newest half window has no
   future yet: those samples use the part of the window that exists and are classified again
   when later samples arrive (the online processor keeps samples open that long anyway).
   eye-v1 needs no screen geometry because the tracker gives 3D gaze vectors; only data without
   them (display points alone) falls back on the screen_* geometry of EyeParams. eye-v2 always
   takes the direction from the display point and that geometry (see below).
6. Fixation stream: the running centroid of the current fixation on the display (mean of the
   eyes' display points over the fixation's samples so far), clipped to [0, 1], held through
   saccades, blinks and gaps; NaN before the first fixation.

The 39 columns (EYE_V1_COLUMNS): per eye (left, then right) 15 values in the SDK's order:
display x, y; gaze user x, y, z; gaze validity; pupil fluctuation; pupil validity; origin user
x, y, z; origin track-box x, y, z; origin validity. Then left and right unit gaze direction
(3 + 3) and the one-hot event (fixation, saccade, blink; all 0 for a missing sample).

Windows (encode_window)
-----------------------
A window covers the samples with end_ns - window_s < t <= end_ns, cut into 32 equal segments;
segment k covers (start + k*step, start + (k+1)*step], its step time is its end.
- "point": row k is the sample nearest to step time k, if one lies within step/2 of it
  (else the row is empty). Values as in the per-sample vector; fixation = that sample's stream
  value.
- "segment": row k summarises the samples of segment k, so blinks and saccades survive long
  windows: value columns = mean over the samples where the value exists; pupil fluctuation
  columns = mean absolute fluctuation; validity columns = fraction of the segment's samples
  that were valid; event columns = fraction of the segment's samples in fixation, saccade, blink.
  Fixation = centroid of the segment's fixation samples.
Both: a value that does not exist is 0 (its validity column, 0, tells the model); an empty
segment is all 0; a fixation with none in the step holds the last known one (the stream value
before the window, then (0.5, 0.5), the display centre, before any fixation). The output holds NaN
only in the track-box slots (never measured: see step 1). valid_fraction = share of the window's
samples that are valid (measured or blink), n_samples = how many samples the window holds.
Schema "eye-v2" (EyeParams.schema; a model card names the schema its model was trained on)
------------------------------------------------------------------------------------------
The same pipeline and 39 slots, changed so a value means the same in every lab and file layout:
- Seating and tracker geometry are taken relative to the participant's own ROLLING BASELINE: the
  mean of that column over the processed samples in (end - baseline_s, end] (60 s; as much as
  there is at the start of a session), computed where the value exists. Relative columns: the
  gaze origin (eye position) in user coordinates (mm), and the pupil DIAMETER (mm), which eye-v2
  adds in slot 11 of each eye (pupil_diameter_rel): dilation against the participant's own
  recent pupil size, not an absolute size that depends on the person and the room's light.
- Left out (always absent in a window): the track-box origin (slots 12, 13 of each eye; a gaze
  origin is valid without it), the origin validity (slot 14), which a file without eye positions
  would otherwise report as "eye never found", and the gaze point in user coordinates (slots
  2-4) and the unit gaze directions (30-35): they restate the display point in the tracker's 3D
  frame, and a display-only export (Pro Lab, Studio) lacks them, so a model that read them read
  the same eyes differently per layout. Display coordinates stay absolute (they describe the
  stimulus, not the seat).
- I-VT takes the gaze direction from the display point and the viewing geometry (screen_* of
  EyeParams: the session's --screen-mm and --viewing-distance-mm) in every layout, as eye-v1
  does for display-only data; so the event columns do not depend on whether a file has 3D gaze
  vectors. With 3D vectors, eye-v1's labels differ from these in about 1 % of samples of the TX300
  recordings.
- Missing is marked, never a number: a value with no sample in a step (or with no baseline) is
  NaN in the window. Validity, event and fixation columns are always defined. The one normalisation
  (emer_live.features.eye_norm.normalise_eye) turns NaN into the training mean, i.e. 0 after
  normalisation, so an absent column lands on the training distribution instead of -15 SD.

Schema "eye-v3": eye-v1 with the person's own baseline
------------------------------------------------------
eye-v1's columns and values (absent -> 0 with its validity 0, I-VT from the 3D gaze vectors where
a file has them), except:
- the eye position in user coordinates (slots 8-10 of each eye) and the pupil DIAMETER (slot 11,
  pupil_diameter_rel) are taken relative to the participant's own rolling baseline, eye-v2's
  (baseline_of over (end - baseline_s, end]): seating distance and a person's or a room's pupil
  size drop out, while a dilation against the person's own recent pupil shows. With no baseline
  value (or no sample in a step) the relative value is 0, "at the baseline".
- the track box (slots 12, 13) is left out (0), and the eye position is valid without it, so a
  file without track-box columns gives the SDK log's windows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from emer_live.features import ivt

def _schema_columns(fields: tuple, direction: str) -> tuple:
    """The 39 column names of a schema: each eye's 15 fields, each eye's 3 direction values, the event."""
    cols = (tuple(f"{eye}_{f}" for eye in ("left", "right") for f in fields)
            + tuple(f"{eye}_{direction}_{a}" for eye in ("left", "right") for a in "xyz")
            + ("event_fixation", "event_saccade", "event_blink"))
    assert len(cols) == 39
    return cols


_EYE_FIELDS = (
    "gaze_display_x", "gaze_display_y", "gaze_ucs_x", "gaze_ucs_y", "gaze_ucs_z", "gaze_validity",
    "pupil_fluctuation", "pupil_validity", "origin_ucs_x", "origin_ucs_y", "origin_ucs_z",
    "origin_tbcs_x", "origin_tbcs_y", "origin_tbcs_z", "origin_validity",
)
_EYE_FIELDS_V2 = (
    "gaze_display_x", "gaze_display_y", "unused_gaze_x", "unused_gaze_y", "unused_gaze_z", "gaze_validity",
    "pupil_fluctuation", "pupil_validity", "origin_ucs_rel_x", "origin_ucs_rel_y", "origin_ucs_rel_z",
    "pupil_diameter_rel", "unused_a", "unused_b", "origin_validity",
)
# eye-v3: eye-v1's gaze columns, eye-v2's baseline-relative origin and pupil
_EYE_FIELDS_V3 = _EYE_FIELDS[:8] + _EYE_FIELDS_V2[8:]
EYE_V1_COLUMNS = _schema_columns(_EYE_FIELDS, "direction")
EYE_V2_COLUMNS = _schema_columns(_EYE_FIELDS_V2, "unused_direction")
EYE_V3_COLUMNS = _schema_columns(_EYE_FIELDS_V3, "direction")
EYE_SCHEMAS = {"eye-v1": EYE_V1_COLUMNS, "eye-v2": EYE_V2_COLUMNS, "eye-v3": EYE_V3_COLUMNS}
# the schemas whose windows are taken relative to the participant's own rolling baseline
BASELINE_SCHEMAS = ("eye-v2", "eye-v3")
EYE_DIM = 39
STEPS = 32
ENCODINGS = ("point", "segment")

FIXATION, SACCADE, BLINK, MISSING = 0, 1, 2, -1

# Column offsets inside one eye's 15 raw / vector values (raw and vector share the layout).
_DISP, _GUCS, _GVAL, _PUP, _PVAL, _OUCS, _OVAL = 0, 2, 5, 6, 7, 8, 14
_VALIDITY_COLS = np.array([o + c for o in (0, 15) for c in (_GVAL, _PVAL, _OVAL)])
_PUPIL_COLS = np.array([_PUP, 15 + _PUP])
_DIR_COLS = slice(30, 36)
_EVENT_COLS = slice(36, 39)
_PER_SAMPLE_COLS = np.concatenate([_VALIDITY_COLS, np.arange(36, 39)])  # averaged over all samples
_DISPLAY_COLS = np.array([[_DISP, _DISP + 1], [15 + _DISP, 15 + _DISP + 1]])
_NO_FIXATION = np.array([0.5, 0.5], dtype=np.float32)
# eye-v2: columns taken relative to the participant's rolling baseline (geometry, seating, pupil
# size), columns left out (always absent), and the value columns (absent -> NaN in a window).
_PUPIL_REL = np.array([11, 26])
# left out: the track-box origin (12, 13), the gaze point in user coordinates (2-4) and the gaze
# directions (30-35), which only restate the display point in the tracker's frame
_UNUSED_V2 = np.concatenate([[o + c for o in (0, 15) for c in (2, 3, 4, 12, 13)], np.arange(30, 36)])
# also left out of eye-v2 windows: the origin validity, which a layout without eye positions
# would report as "eye never found" although the eye was tracked
_LEFT_OUT_V2 = np.concatenate([_UNUSED_V2, [14, 29]])
_REL_COLS_V2 = np.concatenate([[o + c for o in (0, 15) for c in (8, 9, 10)], _PUPIL_REL])
# eye-v3: eye-v1's columns, with the eye position and the pupil diameter relative to the baseline
# (the same columns as eye-v2's) and the track box left out (slots 12, 13)
_REL_COLS_V3 = _REL_COLS_V2
_LEFT_OUT_V3 = np.array([12, 13, 27, 28])
_VALUE_COLS = np.setdiff1d(np.arange(EYE_DIM), _PER_SAMPLE_COLS)
_TRACKBOX_COLS = np.array([o + c for o in (0, 15) for c in (11, 12, 13)])  # the raw track-box origin
_TRACKBOX_SLOTS = _TRACKBOX_COLS  # the same slots in the 39 values (the raw layout's first 30)


@dataclass(frozen=True)
class EyeParams:
    schema: str = "eye-v1"  # "eye-v1" | "eye-v2" | "eye-v3" (see the module doc); a model card names its own
    baseline_s: float = 60.0  # eye-v2, eye-v3: the rolling baseline's length (see the module doc)
    blink_min_s: float = 0.075
    blink_max_s: float = 0.425
    blink_edge_s: float = 0.050  # how far past a blink an eye's own values are looked for
    ivt_threshold_deg_s: float = 30.0
    velocity_window_s: float = 0.020  # Tobii I-VT filter default, centred on the sample
    smoothing_window_s: float = 0.020  # moving mean of the direction before I-VT, centred
    pupil_max_mm: float = 12.0
    display_margin: float = 1.0  # display coordinates beyond [-margin, 1 + margin] are invalid
    # Only for data without 3D gaze vectors: the display (24", 16:9) and its distance, for I-VT.
    screen_width_mm: float = 531.0
    screen_height_mm: float = 299.0
    screen_distance_mm: float = 650.0


@dataclass
class ProcessedGaze:
    t_ns: np.ndarray  # (N,) int64, strictly increasing
    vec: np.ndarray  # (N, 39) float32, NaN where missing
    fix: np.ndarray  # (N, 2) float32, fixation stream, NaN before the first fixation
    valid: np.ndarray  # (N,) bool: measured or blink-interpolated
    event: np.ndarray  # (N,) int8: 0 fixation, 1 saccade, 2 blink, -1 missing
    dropped: int = 0  # input samples dropped because their time did not increase
    params: EyeParams = EyeParams()  # what made it (schema, baseline) and what windows it gives


@dataclass
class EyeWindow:
    eye: np.ndarray  # (32, 39) float32, un-normalised; NaN only where a value is absent by design (track box; eye-v2: missing)
    fixation: np.ndarray  # (32, 2) float32 in [0, 1]
    valid_fraction: float
    n_samples: int


# ----------------------------------------------------------------------------- per sample


def _nan_quiet(fn):
    """NaN marks missing data throughout: silence numpy's warnings about it (once per call)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(invalid="ignore", divide="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def _group_ok(raw: np.ndarray, flag_col: int, cols: list[int]) -> np.ndarray:
    return (raw[:, flag_col] == 1) & np.isfinite(raw[:, cols]).all(axis=1)


def _validate(raw: np.ndarray, params: EyeParams) -> tuple[np.ndarray, np.ndarray]:
    """Raw values with invalid groups set to NaN; per-eye gaze validity (N, 2)."""
    # tobii-research 2.x sends no track-box origin, so no schema uses one: whatever a source sent,
    # it is absent (the window marks it NaN, the training mean after normalisation), and the origin
    # is valid on its user coordinates; a file with the columns gives the ER of the live 2.x stream
    raw = raw.astype(np.float64, copy=True)
    raw[:, _TRACKBOX_COLS] = np.nan
    x = raw.copy()
    gaze_ok = np.zeros((len(x), 2), bool)
    lo, hi = -params.display_margin, 1.0 + params.display_margin
    for e, o in enumerate((0, 15)):
        gaze_cols = [o + _DISP, o + _DISP + 1, o + _GUCS, o + _GUCS + 1, o + _GUCS + 2]
        g = _group_ok(raw, o + _GVAL, gaze_cols[:2])  # some exports lack the 3D gaze point
        g &= ((raw[:, [o + _DISP, o + _DISP + 1]] >= lo) & (raw[:, [o + _DISP, o + _DISP + 1]] <= hi)).all(axis=1)
        p = _group_ok(raw, o + _PVAL, [o + _PUP]) & (raw[:, o + _PUP] > 0) & (raw[:, o + _PUP] <= params.pupil_max_mm)
        origin_cols = list(range(o + _OUCS, o + _OUCS + 6))
        org = _group_ok(raw, o + _OVAL, origin_cols[:3]) & (raw[:, o + _OUCS + 2] > 0)  # no track box needed
        for ok, cols, flag in ((g, gaze_cols, _GVAL), (p, [o + _PUP], _PVAL), (org, origin_cols, _OVAL)):
            x[np.ix_(~ok, cols)] = np.nan
            x[:, o + flag] = ok
        gaze_ok[:, e] = g
    return x, gaze_ok


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in mask."""
    d = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _fill_blinks(t_ns: np.ndarray, x: np.ndarray, present: np.ndarray, params: EyeParams) -> np.ndarray:
    """Interpolate blink gaps in x (in place, flags excepted); returns the blink mask."""
    blink = np.zeros(len(x), bool)
    starts, ends = _runs(~present)
    inner = (starts > 0) & (ends < len(x))  # gaps at the data's edges have no second side
    starts, ends = starts[inner], ends[inner]
    dur = (t_ns[ends] - t_ns[starts - 1]) * 1e-9
    keep = (dur >= params.blink_min_s) & (dur <= params.blink_max_s)
    if not keep.any():
        return blink
    starts, ends = starts[keep], ends[keep]
    lengths = ends - starts
    idx = np.repeat(starts - (lengths.cumsum() - lengths), lengths) + np.arange(lengths.sum())  # gap samples
    # Per value: interpolate between its last value before the gap and its first after, looking
    # up to blink_edge_s beyond the gap (one eye often closes or opens a little before the other).
    n = len(x)
    vals = np.setdiff1d(np.arange(30), [o + f for o in (0, 15) for f in (_GVAL, _PVAL, _OVAL)])
    xv = x[:, vals]
    rows = np.arange(n)[:, None]
    fin = np.isfinite(xv)
    last = np.maximum.accumulate(np.where(fin, rows, -1), axis=0)
    first = np.minimum.accumulate(np.where(fin, rows, n)[::-1], axis=0)[::-1]
    edge = int(params.blink_edge_s * 1e9)
    a, b = last[starts - 1], first[ends]  # (gaps, values)
    ok = (a >= 0) & (b < n)
    a, b = np.clip(a, 0, n - 1), np.clip(b, 0, n - 1)
    ok &= (t_ns[starts - 1][:, None] - t_ns[a] <= edge) & (t_ns[b] - t_ns[ends][:, None] <= edge)
    g = np.repeat(np.arange(len(starts)), lengths)
    a, b, ok = a[g], b[g], ok[g]
    cols = np.arange(len(vals))
    w = (t_ns[idx][:, None] - t_ns[a]) / (t_ns[b] - t_ns[a]).astype(np.float64)
    xa, xb = xv[a, cols], xv[b, cols]
    x[np.ix_(idx, vals)] = np.where(ok, xa + w * (xb - xa), np.nan)
    blink[idx] = True
    return blink


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _binocular(dirs: np.ndarray, display: np.ndarray, params: EyeParams) -> np.ndarray:
    """One unit gaze direction per sample: the mean of the eyes' 3D directions, or, for data
    without them, the display point seen from screen_distance_mm; NaN where there is neither."""
    ok = np.isfinite(dirs).all(axis=2, keepdims=True)
    both = _unit(np.where(ok, dirs, 0.0).sum(axis=1))  # NaN (0/0) where neither eye has one
    flat = ~np.isfinite(both).all(axis=1)
    if flat.any():
        d = display[flat]
        both[flat] = _unit(np.column_stack([(d[:, 0] - 0.5) * params.screen_width_mm,
                                            (d[:, 1] - 0.5) * params.screen_height_mm,
                                            np.full(len(d), params.screen_distance_mm)]))
    return both


def _velocity(t_ns: np.ndarray, dirs: np.ndarray, display: np.ndarray, params: EyeParams) -> np.ndarray:
    """Angular velocity (deg/s) of the binocular direction, smoothed over a centred window, over
    a velocity window centred on the sample, as Tobii's I-VT filter (see ivt.py); NaN with no
    second direction in reach."""
    both = _binocular(dirs, display, params)
    both = ivt.smooth(t_ns, both, int(params.smoothing_window_s * 1e9), centred=True)
    return ivt.centred_velocity(t_ns, both, int(params.velocity_window_s * 1e9))


@_nan_quiet
def _samples(t_ns: np.ndarray, raw: np.ndarray, params: EyeParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Everything per sample except the fixation stream: (vec float64 (N,39), event int8, display (N,2))."""
    x, gaze_ok = _validate(raw, params)
    present = gaze_ok.any(axis=1)
    blink = _fill_blinks(t_ns, x, present, params)
    n = len(x)
    vec = np.full((n, EYE_DIM), np.nan)
    vec[:, :30] = x
    pupil = x[:, _PUPIL_COLS]
    vec[:1, _PUPIL_COLS] = np.nan
    vec[1:, _PUPIL_COLS] = pupil[1:] - pupil[:-1]
    dirs = np.stack([_unit(x[:, o + _GUCS:o + _GUCS + 3] - x[:, o + _OUCS:o + _OUCS + 3]) for o in (0, 15)], axis=1)
    vec[:, _DIR_COLS] = dirs.reshape(n, 6)
    display = _display_mean(x)
    # eye-v2: I-VT from the display point and the viewing geometry in every layout, so a file
    # without 3D gaze vectors gets the same events as one with them
    ivt_dirs = np.full_like(dirs, np.nan) if params.schema == "eye-v2" else dirs
    saccade = _velocity(t_ns, ivt_dirs, display, params) > params.ivt_threshold_deg_s
    event = np.where(saccade, SACCADE, FIXATION).astype(np.int8)
    event[blink] = BLINK
    event[~present & ~blink] = MISSING
    vec[:, _EVENT_COLS] = 0.0
    vec[event >= 0, 36 + event[event >= 0]] = 1.0
    if params.schema == "eye-v2":  # left out: what not every layout carries the same way (module doc)
        vec[:, _PUPIL_REL] = pupil
        vec[:, _UNUSED_V2] = np.nan
    elif params.schema == "eye-v3":  # eye-v1's columns, the pupil diameter in place of the track box
        vec[:, _PUPIL_REL] = pupil
        vec[:, _LEFT_OUT_V3] = np.nan
    missing = event == MISSING  # a missing sample is missing as a whole
    vec[missing, :36] = np.nan
    vec[np.ix_(missing, _VALIDITY_COLS)] = 0.0
    return vec, event, display


def _display_mean(v: np.ndarray) -> np.ndarray:
    """Mean of the eyes' display points per sample (N, 2); NaN where neither eye has one."""
    d = v[:, _DISPLAY_COLS]  # (N, eye, xy)
    ok = np.isfinite(d).all(axis=2, keepdims=True)
    return np.where(ok, d, 0.0).sum(axis=1) / ok.sum(axis=1)


@dataclass
class FixationState:
    """Fixation stream state after a sample: running sums of the open fixation and the held value."""

    sum_x: float = 0.0
    sum_y: float = 0.0
    n: int = 0  # samples in the open fixation (0: the last sample was not a fixation)
    held: tuple = (np.nan, np.nan)


@_nan_quiet
def _fixation_stream(event: np.ndarray, display: np.ndarray, state: FixationState) -> tuple[np.ndarray, list]:
    """Running fixation centroid per sample, and the state after each sample (as arrays)."""
    n = len(event)
    is_fix = (event == FIXATION) & np.isfinite(display).all(axis=1)
    d = np.where(is_fix[:, None], display, 0.0)
    cs = np.cumsum(d, axis=0)
    cn = np.cumsum(is_fix)
    # index where each sample's fixation run starts; the first run may continue the carried one
    brk = np.flatnonzero(~is_fix)
    last_break = np.full(n, -1)
    last_break[brk] = brk
    last_break = np.maximum.accumulate(last_break) if n else last_break
    base_s = np.where(last_break[:, None] >= 0, cs[np.maximum(last_break, 0)], 0.0)
    base_n = np.where(last_break >= 0, cn[np.maximum(last_break, 0)], 0)
    run_s = cs - base_s
    run_n = cn - base_n
    carried = last_break < 0
    run_s[carried] += (state.sum_x, state.sum_y)
    run_n = run_n + np.where(carried, state.n, 0)
    fix = np.full((n, 2), np.nan)
    fix[is_fix] = np.clip(run_s[is_fix] / run_n[is_fix, None], 0.0, 1.0)
    # hold the last fixation value (or the carried one) through everything else
    last_fix = np.where(is_fix, np.arange(n), -1)
    last_fix = np.maximum.accumulate(last_fix) if n else last_fix
    fix = np.where(last_fix[:, None] >= 0, fix[np.maximum(last_fix, 0)], np.asarray(state.held, float))
    return fix, [run_s, np.where(is_fix, run_n, 0)]


def _state_at(k: int, fix: np.ndarray, run: list) -> FixationState:
    run_s, run_n = run
    n = int(run_n[k])
    return FixationState(float(run_s[k, 0]) if n else 0.0, float(run_s[k, 1]) if n else 0.0, n,
                         (float(fix[k, 0]), float(fix[k, 1])))


def _increasing(t_ns: np.ndarray) -> np.ndarray:
    """Mask of samples whose time is later than every earlier sample's."""
    if len(t_ns) == 0:
        return np.zeros(0, bool)
    prev_max = np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], t_ns[:-1])))
    return t_ns > prev_max


def process_gaze(t_ns, raw, params: EyeParams = EyeParams()) -> ProcessedGaze:
    """Batch eye pipeline over a whole recording (see the module docstring).

    Samples whose time does not increase (repeats, jumps backwards) are dropped and counted.
    """
    t_ns = np.asarray(t_ns, dtype=np.int64)
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != 30 or len(raw) != len(t_ns):
        raise ValueError(f"gaze must be t_ns (N,) and raw (N, 30); got {t_ns.shape} and {raw.shape}")
    keep = _increasing(t_ns)
    t_ns, raw = t_ns[keep], raw[keep]
    vec, event, display = _samples(t_ns, raw, params)
    fix, _ = _fixation_stream(event, display, FixationState())
    return ProcessedGaze(t_ns, vec.astype(np.float32), fix.astype(np.float32), event >= 0, event,
                         dropped=int((~keep).sum()), params=params)


# ----------------------------------------------------------------------------- windows


def column_sums(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum, count) of each per-sample column's values where they exist (39,) and (39,): what
    baseline_of averages, kept apart so a live run can add up its minute of samples block by block."""
    v = np.asarray(vec, np.float64).reshape(-1, EYE_DIM)
    ok = np.isfinite(v)
    return np.where(ok, v, 0.0).sum(axis=0), ok.sum(axis=0)


def mean_of_sums(total: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The baseline from column_sums: NaN for a column with no value."""
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def baseline_of(vec: np.ndarray) -> np.ndarray:
    """eye-v2's and eye-v3's baseline: the mean of each per-sample column over the baseline interval's samples
    where it exists (39,), NaN for a column with no value there."""
    return mean_of_sums(*column_sums(vec))


@_nan_quiet
def _encode(t_ns, vec, fix, valid, event, fix_before, start_ns: int, end_ns: int, encoding: str, steps: int,
            baseline: np.ndarray | None = None, schema: str = "eye-v2") -> EyeWindow:
    """Encode the samples already cut to (start_ns, end_ns]; fix_before: stream value before them.
    baseline (eye-v2, eye-v3): per-column baseline to subtract; absent values then stay NaN
    (eye-v2) or become 0 after it (eye-v3, as every absent value of eye-v1)."""
    v2 = baseline is not None
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown eye encoding {encoding!r}; known: {ENCODINGS}")
    n = len(t_ns)
    edges = start_ns + (end_ns - start_ns) * np.arange(steps + 1, dtype=np.int64) // steps
    eye = np.zeros((steps, EYE_DIM))
    fixation = np.full((steps, 2), np.nan)
    if encoding == "point":
        step_ns = (end_ns - start_ns) / steps
        if n:
            times = edges[1:]
            j = np.clip(np.searchsorted(t_ns, times), 1, n) - 1  # nearest: j or j + 1
            j1 = np.minimum(j + 1, n - 1)
            j = np.where(np.abs(t_ns[j1] - times) < np.abs(t_ns[j] - times), j1, j)
            ok = np.abs(t_ns[j] - times) <= step_ns / 2
            eye[ok] = vec[j[ok]] if v2 else np.nan_to_num(vec[j[ok]].astype(np.float64))
            fixation[ok] = fix[j[ok]]
        else:
            ok = np.zeros(steps, bool)
        if v2:
            eye[np.ix_(~ok, _VALUE_COLS)] = np.nan
    else:
        b = np.searchsorted(t_ns, edges, "right")  # segment k = samples [b[k], b[k + 1])
        b[0] = 0
        count = np.diff(b)
        # per sample: values (0 where absent) | 1 where present | fixation display x, y | is fixation
        acc = np.empty((n, 2 * EYE_DIM + 3))
        v = acc[:, :EYE_DIM]
        v[:] = vec
        v[:, _PUPIL_COLS] = np.abs(v[:, _PUPIL_COLS])
        disp = _display_mean(v)
        is_fix = (event == FIXATION) & np.isfinite(disp).all(axis=1)
        finite = np.isfinite(v)
        acc[:, EYE_DIM:2 * EYE_DIM] = finite
        v[~finite] = 0.0
        acc[:, -3:-1] = np.where(is_fix[:, None], disp, 0.0)
        acc[:, -1] = is_fix
        seg = np.zeros((steps, acc.shape[1]))
        full = count > 0
        if full.any():  # consecutive non-empty segments are contiguous, so reduceat sums each one
            seg[full] = np.add.reduceat(acc, b[:-1][full], axis=0)
        sums, counts = seg[:, :EYE_DIM], seg[:, EYE_DIM:2 * EYE_DIM]
        eye = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan if v2 else 0.0)
        eye[:, _PER_SAMPLE_COLS] = sums[:, _PER_SAMPLE_COLS] / np.maximum(count, 1)[:, None]
        nf = seg[:, -1:]
        fixation = np.where(nf > 0, seg[:, -3:-1] / np.maximum(nf, 1), np.nan)
    # a step with no fixation holds the last known one
    last = np.asarray(fix_before, np.float64)
    for k in range(steps):
        if np.isfinite(fixation[k]).all():
            last = fixation[k]
        else:
            fixation[k] = last
    fixation = np.where(np.isfinite(fixation), fixation, _NO_FIXATION)
    if v2:
        eye[:, _REL_COLS_V2] -= baseline[_REL_COLS_V2]
        if schema == "eye-v3":
            eye = np.nan_to_num(eye, nan=0.0, posinf=0.0, neginf=0.0)
        else:
            eye[:, _LEFT_OUT_V2] = np.nan
    else:
        eye[:, _TRACKBOX_SLOTS] = np.nan  # never measured (see _validate): absent, not 0
    return EyeWindow(
        eye=eye.astype(np.float32),
        fixation=np.clip(fixation, 0.0, 1.0).astype(np.float32),
        valid_fraction=float(valid.mean()) if n else 0.0,
        n_samples=n,
    )


def encode_window(p: ProcessedGaze, end_ns: int, window_s: float, encoding: str = "segment", steps: int = STEPS) -> EyeWindow:
    """Encode the window (end_ns - window_s, end_ns] of processed gaze (see the module docstring)."""
    start_ns = int(end_ns) - int(round(window_s * 1e9))
    lo = np.searchsorted(p.t_ns, start_ns, "right")
    hi = np.searchsorted(p.t_ns, int(end_ns), "right")
    before = p.fix[lo - 1] if lo > 0 else (np.nan, np.nan)
    baseline = None
    if p.params.schema in BASELINE_SCHEMAS:
        b0 = np.searchsorted(p.t_ns, int(end_ns) - int(round(p.params.baseline_s * 1e9)), "right")
        baseline = baseline_of(p.vec[b0:hi])
    return _encode(p.t_ns[lo:hi], p.vec[lo:hi], p.fix[lo:hi], p.valid[lo:hi], p.event[lo:hi], before,
                   start_ns, int(end_ns), encoding, steps, baseline, p.params.schema)
