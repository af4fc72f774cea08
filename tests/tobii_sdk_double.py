"""The one test double of tobii-research 2.x gaze samples: every gaze sample a test sends through
TobiiGazeSource is made here and checked by the SDK's own GazeData class, so it holds exactly the
keys and types the pinned SDK (2.1.0) delivers: no track-box coordinates."""

from __future__ import annotations

import math

import numpy as np

from emer_live.types import GAZE_COL

_NAN2, _NAN3 = (math.nan, math.nan), (math.nan, math.nan, math.nan)


def sdk_gaze_dict(device_us: int, system_us: int, eyes: dict) -> dict:
    """The SDK's dictionary form of one gaze sample. eyes: {"left"/"right": {"display": (x, y),
    "gaze_ucs": (x, y, z), "pupil": mm, "origin_ucs": (x, y, z)}}, None for an eye not found
    (values NaN, validity 0), as the SDK sends it. Checked by tobii_research's GazeData."""
    from tobiiresearch.implementation.GazeData import GazeData

    d = {"device_time_stamp": int(device_us), "system_time_stamp": int(system_us)}
    for eye in ("left", "right"):
        e = eyes.get(eye)
        gaze_ok = e is not None and e.get("display") is not None
        pupil_ok = e is not None and e.get("pupil") is not None
        origin_ok = e is not None and e.get("origin_ucs") is not None
        d.update({
            f"{eye}_gaze_point_on_display_area": tuple(map(float, e["display"])) if gaze_ok else _NAN2,
            f"{eye}_gaze_point_in_user_coordinate_system":
                tuple(map(float, e.get("gaze_ucs") or _NAN3)) if gaze_ok else _NAN3,
            f"{eye}_gaze_point_validity": int(gaze_ok),
            f"{eye}_pupil_diameter": float(e["pupil"]) if pupil_ok else math.nan,
            f"{eye}_pupil_validity": int(pupil_ok),
            f"{eye}_gaze_origin_in_user_coordinate_system": tuple(map(float, e["origin_ucs"])) if origin_ok else _NAN3,
            f"{eye}_gaze_origin_validity": int(origin_ok),
        })
    g = GazeData(d)  # raises on a key or type the SDK would not send
    assert g.device_time_stamp == d["device_time_stamp"]
    return d


def _triple(raw, eye, key, axes="xyz"):
    v = tuple(raw[GAZE_COL[f"{eye}_{key}_{a}"]] for a in axes)
    return v if all(np.isfinite(v)) else None


def dicts_from_recording(t_us: np.ndarray, raw: np.ndarray, system_offset_us: int = 0) -> list[dict]:
    """Real recorded samples (device times in µs, the 30 raw values) as the SDK 2.x would send them."""
    out = []
    for t, r in zip(t_us, raw):
        eyes = {}
        for eye in ("left", "right"):
            ok = r[GAZE_COL[f"{eye}_gaze_point_validity"]] == 1
            pup_ok = r[GAZE_COL[f"{eye}_pupil_validity"]] == 1 and np.isfinite(r[GAZE_COL[f"{eye}_pupil_diameter"]])
            org_ok = r[GAZE_COL[f"{eye}_gaze_origin_validity"]] == 1
            display = _triple(r, eye, "gaze_point_on_display_area", "xy") if ok else None
            eyes[eye] = {"display": display,
                         "gaze_ucs": _triple(r, eye, "gaze_point_in_user_coordinate_system") if ok else None,
                         "pupil": float(r[GAZE_COL[f"{eye}_pupil_diameter"]]) if pup_ok else None,
                         "origin_ucs": _triple(r, eye, "gaze_origin_in_user_coordinate_system") if org_ok else None}
        out.append(sdk_gaze_dict(int(t), int(t) + system_offset_us, eyes))
    return out
