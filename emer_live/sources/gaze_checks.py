"""Plausibility checks shared by every gaze source.

A value that cannot be real (NaN under a 'valid' flag, a negative or absurd pupil, a gaze point
far off any display, a validity flag that is not 0/1) is marked invalid rather than passed
through, so the eye pipeline treats it as missing. Works in place on (30,) or (N, 30) arrays
laid out as types.RAW_GAZE_COLUMNS.
"""

from __future__ import annotations

from math import isnan

import numpy as np

# Column offsets inside one eye's 15 values (see types._EYE_KEYS).
DISPLAY = slice(0, 2)
GAZE_UCS = slice(2, 5)
GAZE_VALID = 5
PUPIL = 6
PUPIL_VALID = 7
ORIGIN_UCS = slice(8, 11)
ORIGIN_TBOX = slice(11, 14)
ORIGIN_VALID = 14
EYE_OFFSETS = (0, 15)  # left, right

# Off-screen gaze is real (a participant looks past the edge) and Tobii reports it outside
# [0, 1]; values beyond a full display width/height away are not gaze but garbage.
DISPLAY_RANGE = (-1.0, 2.0)
# Human pupils range about 1.5 to 9 mm; outside (0, 12) mm is a measurement error.
PUPIL_RANGE_MM = (0.0, 12.0)


# Per eye: (validity column, the value columns it covers). Values flagged invalid become NaN.
_VALIDITY = ((GAZE_VALID, (DISPLAY, GAZE_UCS)), (PUPIL_VALID, (slice(PUPIL, PUPIL + 1),)),
             (ORIGIN_VALID, (ORIGIN_UCS, ORIGIN_TBOX)))
_FLAG_COLS = [GAZE_VALID, PUPIL_VALID, ORIGIN_VALID]


def sanitize_gaze(raw: np.ndarray) -> np.ndarray:
    """Mark impossible values invalid, in place. Returns a bool per row: True where a value
    that claimed to be valid was rejected (count these as bad values).

    Both eyes are checked in one pass over an (N, 2, 15) view: a live tracker hands over a sample
    or two at a time, and the fixed cost of each numpy call, not the data, is what this costs."""
    a = raw if raw.ndim == 2 else raw[None, :]
    eyes = a.reshape(len(a), 2, 15)  # a view of a C-contiguous array; else a copy written back below
    with np.errstate(invalid="ignore"):
        flags = eyes[:, :, _FLAG_COLS]
        odd = ~((flags == 0.0) | (flags == 1.0))
        bad = odd & ~np.isnan(flags)
        if odd.any():
            flags[odd] = 0.0
            eyes[:, :, _FLAG_COLS] = flags
        disp = eyes[:, :, DISPLAY]
        # The 3D gaze point may be absent (exports that only carry display coordinates).
        gaze_broken = (np.isnan(disp) | (disp < DISPLAY_RANGE[0]) | (disp > DISPLAY_RANGE[1])).any(axis=2)
        pupil = eyes[:, :, PUPIL]
        pupil_broken = np.isnan(pupil) | (pupil <= PUPIL_RANGE_MM[0]) | (pupil > PUPIL_RANGE_MM[1])
        origin_broken = np.isnan(eyes[:, :, ORIGIN_UCS]).any(axis=2)
    bad_row = bad.any(axis=(1, 2))
    for (vcol, slices), broken in zip(_VALIDITY, (gaze_broken, pupil_broken, origin_broken)):
        flag = eyes[:, :, vcol]  # a view
        rejected = (flag == 1.0) & broken
        if rejected.any():
            bad_row |= rejected.any(axis=1)
            flag[rejected] = 0.0
        # Whatever is flagged invalid carries no numbers: the SDK's own convention (NaN).
        invalid = flag != 1.0
        if invalid.any():
            for s in slices:
                eyes[:, :, s][invalid] = np.nan
    if not np.shares_memory(eyes, a):
        a[:] = eyes.reshape(a.shape)
    return bad_row


_NAN = float("nan")
# Per eye, as plain column lists for sanitize_gaze_row: (validity column, its value columns).
_ROW_VALIDITY = tuple((v, [c for s in slices for c in range(s.start, s.stop)]) for v, slices in _VALIDITY)


def sanitize_gaze_row(row: list) -> bool:
    """sanitize_gaze for one sample held as a list of 30 floats (before it becomes an array), in
    place, with the same result: True where a value that claimed to be valid was rejected. A live
    tracker's consumer takes a sample or two at a time, where plain float arithmetic costs a
    few microseconds against about a hundred for the block version's numpy calls."""
    bad = False
    lo, hi = DISPLAY_RANGE
    p_lo, p_hi = PUPIL_RANGE_MM
    for off in EYE_OFFSETS:
        for c in _FLAG_COLS:
            f = row[off + c]
            if f != 0.0 and f != 1.0:  # not a 0/1 flag (NaN included): invalid
                bad = bad or not isnan(f)
                row[off + c] = 0.0
        x, y = row[off + DISPLAY.start], row[off + DISPLAY.start + 1]
        pupil = row[off + PUPIL]
        broken = (isnan(x) or x < lo or x > hi or isnan(y) or y < lo or y > hi,
                  isnan(pupil) or pupil <= p_lo or pupil > p_hi,
                  any(isnan(row[off + c]) for c in range(ORIGIN_UCS.start, ORIGIN_UCS.stop)))
        for (vcol, cols), is_broken in zip(_ROW_VALIDITY, broken):
            if row[off + vcol] == 1.0 and is_broken:
                bad = True
                row[off + vcol] = 0.0
            if row[off + vcol] != 1.0:
                for c in cols:
                    row[off + c] = _NAN
    return bad
