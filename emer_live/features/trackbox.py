"""Track-box coordinates of the gaze origin, computed from its user coordinates.

tobii-research 2.x sends no `*_gaze_origin_in_trackbox_coordinate_system` (SDK 1.x and the
trackers' own logs did), and its Python EyeTracker has no get_track_box(). So eye-v1, whose
features hold the track-box origin, derives it from the gaze origin in user coordinates (mm) for
every sample, whatever the source sent: a live 2.x sample and the same sample read from a file
give the same features, and a recording without those columns gives the same ER as one with them.

The box: Tobii's track-box coordinates run from (0, 0, 0) at the top right corner nearest the
tracker to (1, 1, 1) at the bottom left furthest away, over a frustum that widens with distance.
Its shape here was estimated from the public I2MC Tobii TX300 recordings, which hold both
coordinate systems for 19 223 valid eye samples: depth 450-750 mm; half-width and half-height
growing linearly with distance. Against the tracker's own values the estimate is off by 0.004 on
average (0.012 at most), well inside the spread of a seated person's head positions.
"""

from __future__ import annotations

import numpy as np

# x_tb = 0.5 - (x - X0) / (XA + XB * z);  y_tb = 0.5 - (y - Y0) / (YA + YB * z);  z_tb = (z - Z0) / ZD
X0, XA, XB = 12.76, -27.61, 0.5143
Y0, YA, YB = -0.194, -172.15, 0.5486
Z0, ZD = 450.0, 300.0

# What a session's metadata says about the track box (the gaze source's info()).
ESTIMATE = {"coordinates": "derived from the gaze origin in user coordinates (emer_live.features.trackbox)",
            "box": "Tobii TX300 track box estimated from recordings holding both coordinate systems",
            "x": [X0, XA, XB], "y": [Y0, YA, YB], "z": [Z0, ZD]}
_CORNERS = ("back_lower_left", "back_lower_right", "back_upper_left", "back_upper_right",
            "front_lower_left", "front_lower_right", "front_upper_left", "front_upper_right")


def tracker_box(tracker) -> dict | None:
    """The tracker's own track box (corners in user coordinates, mm) where its SDK offers
    get_track_box() (1.x did; the Python 2.x EyeTracker does not), else None."""
    get = getattr(tracker, "get_track_box", None)
    if not callable(get):
        return None
    try:
        box = get()
        return {c: [float(v) for v in getattr(box, c)] for c in _CORNERS}
    except Exception:  # a tracker that cannot say: the estimate stands
        return None


_OFFSETS = (0, 15)  # left, right eye in the 30 raw values
_UCS, _TBCS = 8, 11  # gaze origin: user coordinates, track-box coordinates (offsets within an eye)


def trackbox_from_user(origin_ucs: np.ndarray) -> np.ndarray:
    """(N, 3) gaze origin in user coordinates (mm) -> (N, 3) track-box coordinates; NaN stays NaN."""
    o = np.asarray(origin_ucs, np.float64)
    x, y, z = o[:, 0], o[:, 1], o[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack([0.5 - (x - X0) / (XA + XB * z), 0.5 - (y - Y0) / (YA + YB * z), (z - Z0) / ZD])


def with_derived_trackbox(raw: np.ndarray) -> np.ndarray:
    """A copy of raw (N, 30) whose track-box origin columns are derived from the user-coordinate
    origin (NaN where that is absent), replacing whatever the source sent."""
    out = np.array(raw, np.float64, copy=True)
    for o in _OFFSETS:
        out[:, o + _TBCS:o + _TBCS + 3] = trackbox_from_user(out[:, o + _UCS:o + _UCS + 3])
    return out
