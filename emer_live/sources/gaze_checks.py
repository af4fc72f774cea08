"""Plausibility checks shared by every gaze source.

A value that cannot be real (NaN under a 'valid' flag, a negative or absurd pupil, a gaze point
far off any display, a validity flag that is not 0/1) is marked invalid rather than passed
through, so the eye pipeline treats it as missing. Works in place on (30,) or (N, 30) arrays
laid out as types.RAW_GAZE_COLUMNS.
"""

from __future__ import annotations

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


def sanitize_gaze(raw: np.ndarray) -> np.ndarray:
    """Mark impossible values invalid, in place. Returns a bool per row: True where a value
    that claimed to be valid was rejected (count these as bad values)."""
    a = raw if raw.ndim == 2 else raw[None, :]
    bad_row = np.zeros(len(a), dtype=bool)
    for off in EYE_OFFSETS:
        for vcol in (GAZE_VALID, PUPIL_VALID, ORIGIN_VALID):
            flag = a[:, off + vcol]
            odd = ~((flag == 0.0) | (flag == 1.0))
            bad_row |= odd & ~np.isnan(flag)
            flag[odd] = 0.0

        disp = a[:, off + DISPLAY.start: off + DISPLAY.stop]
        with np.errstate(invalid="ignore"):
            out = ((disp < DISPLAY_RANGE[0]) | (disp > DISPLAY_RANGE[1])).any(axis=1)
        # The 3D gaze point may be absent (exports that only carry display coordinates).
        broken = np.isnan(disp).any(axis=1) | out
        _reject(a, off, GAZE_VALID, (DISPLAY, GAZE_UCS), broken, bad_row)

        pupil = a[:, off + PUPIL]
        with np.errstate(invalid="ignore"):
            broken = np.isnan(pupil) | (pupil <= PUPIL_RANGE_MM[0]) | (pupil > PUPIL_RANGE_MM[1])
        _reject(a, off, PUPIL_VALID, (slice(PUPIL, PUPIL + 1),), broken, bad_row)

        origin = a[:, off + ORIGIN_UCS.start: off + ORIGIN_UCS.stop]
        broken = np.isnan(origin).any(axis=1)
        _reject(a, off, ORIGIN_VALID, (ORIGIN_UCS, ORIGIN_TBOX), broken, bad_row)
    return bad_row


def _reject(a, off, vcol, value_slices, broken, bad_row) -> None:
    valid = a[:, off + vcol] == 1.0
    rejected = valid & broken
    bad_row |= rejected
    a[rejected, off + vcol] = 0.0
    # Whatever is flagged invalid carries no numbers: the SDK's own convention (NaN).
    invalid = a[:, off + vcol] != 1.0
    for s in value_slices:
        a[invalid, off + s.start: off + s.stop] = np.nan
