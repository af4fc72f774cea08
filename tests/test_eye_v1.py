"""Eye-v1 batch pipeline on constructed gaze, where the right answer is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.features.eye_v1 import (
    BLINK,
    EYE_V1_COLUMNS,
    FIXATION,
    MISSING,
    SACCADE,
    EyeParams,
    encode_window,
    process_gaze,
)
from emer_live.types import GAZE_COL, RAW_GAZE_COLUMNS

# the track-box origin's slots: no schema uses it (tobii-research 2.x sends none), windows mark it absent
TRACKBOX = [EYE_V1_COLUMNS.index(f"{e}_origin_tbcs_{a}") for e in ("left", "right") for a in "xyz"]

RATE = 300
COL = {c: i for i, c in enumerate(EYE_V1_COLUMNS)}


def make_raw(display_xy: np.ndarray, pupil: float = 3.0) -> np.ndarray:
    """Valid binocular samples looking at display points (N, 2), with consistent 3D geometry."""
    n = len(display_xy)
    raw = np.zeros((n, 30))
    for eye, dx in (("left", -30.0), ("right", 30.0)):
        p = f"{eye}_"
        raw[:, GAZE_COL[p + "gaze_point_on_display_area_x"]] = display_xy[:, 0]
        raw[:, GAZE_COL[p + "gaze_point_on_display_area_y"]] = display_xy[:, 1]
        raw[:, GAZE_COL[p + "gaze_point_in_user_coordinate_system_x"]] = (display_xy[:, 0] - 0.5) * 531
        raw[:, GAZE_COL[p + "gaze_point_in_user_coordinate_system_y"]] = (0.5 - display_xy[:, 1]) * 299 + 180
        raw[:, GAZE_COL[p + "gaze_point_in_user_coordinate_system_z"]] = 0.0
        raw[:, GAZE_COL[p + "pupil_diameter"]] = pupil + 0.01 * np.arange(n)
        for a, v in zip("xyz", (dx, 180.0, 650.0)):
            raw[:, GAZE_COL[f"{p}gaze_origin_in_user_coordinate_system_{a}"]] = v
        for a in "xyz":
            raw[:, GAZE_COL[f"{p}gaze_origin_in_trackbox_coordinate_system_{a}"]] = 0.5
        for flag in ("gaze_point_validity", "pupil_validity", "gaze_origin_validity"):
            raw[:, GAZE_COL[p + flag]] = 1.0
    return raw


def times(n: int, rate: float = RATE) -> np.ndarray:
    return 10**12 + (np.arange(n) * 1e9 / rate).astype(np.int64)


def drop_both(raw: np.ndarray, sl: slice) -> None:
    for eye in ("left", "right"):
        for flag in ("gaze_point_validity", "pupil_validity", "gaze_origin_validity"):
            raw[sl, GAZE_COL[f"{eye}_{flag}"]] = 0.0
        raw[sl, GAZE_COL[f"{eye}_gaze_point_on_display_area_x"]] = -1.0


def test_columns_follow_the_design():
    assert len(EYE_V1_COLUMNS) == 39
    # the first 30 follow the raw SDK order, pupil diameter replaced by its fluctuation
    for i, raw_name in enumerate(RAW_GAZE_COLUMNS):
        eye = raw_name.split("_")[0]
        assert EYE_V1_COLUMNS[i].startswith(eye)
    assert EYE_V1_COLUMNS[6] == "left_pupil_fluctuation" and EYE_V1_COLUMNS[21] == "right_pupil_fluctuation"
    assert EYE_V1_COLUMNS[30:36] == tuple(f"{e}_direction_{a}" for e in ("left", "right") for a in "xyz")
    assert EYE_V1_COLUMNS[36:] == ("event_fixation", "event_saccade", "event_blink")


def test_invalid_values_are_masked_per_group():
    raw = make_raw(np.full((10, 2), 0.5))
    raw[2, GAZE_COL["left_pupil_diameter"]] = -1.0  # negative pupil, flag still 1
    raw[3, GAZE_COL["left_gaze_point_on_display_area_x"]] = np.nan  # NaN under a valid flag
    raw[4, GAZE_COL["left_gaze_point_on_display_area_y"]] = 7.0  # far off any display
    raw[5, GAZE_COL["left_gaze_origin_validity"]] = 0.0  # flag 0, numbers present
    p = process_gaze(times(10), raw)
    v = p.vec
    assert v[2, COL["left_pupil_validity"]] == 0 and np.isnan(v[2, COL["left_pupil_fluctuation"]])
    for i in (3, 4):
        assert v[i, COL["left_gaze_validity"]] == 0 and np.isnan(v[i, COL["left_gaze_display_x"]])
        assert v[i, COL["right_gaze_validity"]] == 1  # the other eye still counts
    assert v[5, COL["left_origin_validity"]] == 0 and np.isnan(v[5, COL["left_origin_ucs_z"]])
    assert np.isnan(v[5, COL["left_direction_x"]]) and np.isfinite(v[5, COL["right_direction_x"]])
    assert p.valid.all() and (p.event >= 0).all()  # one good eye keeps a sample valid


def test_blink_gap_is_interpolated_and_labelled():
    n = 300
    xy = np.column_stack([np.linspace(0.2, 0.3, n), np.full(n, 0.5)])
    raw = make_raw(xy)
    drop_both(raw, slice(100, 130))  # 30 samples: 31 intervals = 103 ms from last to next valid
    p = process_gaze(times(n), raw)
    assert (p.event[100:130] == BLINK).all() and p.valid[100:130].all()
    assert (p.vec[100:130, COL["event_blink"]] == 1).all()
    assert (p.vec[100:130, COL["left_gaze_validity"]] == 0).all()  # interpolated, not measured
    np.testing.assert_allclose(p.vec[100:130, COL["left_gaze_display_x"]], xy[100:130, 0], atol=1e-6)
    # the pupil is interpolated too, so its fluctuation runs straight through the blink
    np.testing.assert_allclose(p.vec[100:131, COL["left_pupil_fluctuation"]], 0.01, atol=1e-5)


@pytest.mark.parametrize("n_gap", [10, 150])  # 37 ms and 503 ms: not blinks
def test_short_and_long_gaps_stay_missing(n_gap):
    n = 400
    raw = make_raw(np.full((n, 2), 0.5))
    drop_both(raw, slice(100, 100 + n_gap))
    p = process_gaze(times(n), raw)
    gap = slice(100, 100 + n_gap)
    assert (p.event[gap] == MISSING).all() and not p.valid[gap].any()
    assert np.isnan(p.vec[gap][:, :30][:, [c for c in range(30) if "validity" not in EYE_V1_COLUMNS[c]]]).all()
    assert (p.vec[gap][:, [COL["left_gaze_validity"], COL["right_origin_validity"]]] == 0).all()
    assert (p.vec[gap, 36:] == 0).all()


def test_gaps_at_the_edges_are_not_blinks():
    raw = make_raw(np.full((200, 2), 0.5))
    drop_both(raw, slice(0, 40))
    drop_both(raw, slice(170, 200))
    p = process_gaze(times(200), raw)
    assert (p.event[:40] == MISSING).all() and (p.event[170:] == MISSING).all()


def test_pupil_fluctuation_is_first_difference():
    raw = make_raw(np.full((50, 2), 0.5))
    d = 3.0 + np.sin(np.arange(50) / 5)
    raw[:, GAZE_COL["right_pupil_diameter"]] = d
    p = process_gaze(times(50), raw)
    assert np.isnan(p.vec[0, COL["right_pupil_fluctuation"]])
    np.testing.assert_allclose(p.vec[1:, COL["right_pupil_fluctuation"]], np.diff(d), atol=1e-6)


def test_ivt_labels_a_jump_as_saccade_and_holds_the_fixation_centroid():
    n = 600
    xy = np.full((n, 2), 0.3)
    xy[300:] = 0.7  # a jump of about 26 degrees between two fixations
    xy[300:306] = np.linspace(0.3, 0.7, 8)[1:7, None]  # 20 ms of flight
    p = process_gaze(times(n), make_raw(xy))
    assert (p.event[:292] == FIXATION).all() and (p.event[314:] == FIXATION).all()
    assert (p.event[300:306] == SACCADE).all()
    # Centred windows: the saccade label is centred on the flight, not late.
    sac = np.flatnonzero(p.event == SACCADE)
    assert abs((sac[0] + sac[-1]) / 2 - 302.5) <= 1.0
    np.testing.assert_allclose(p.fix[299], (0.3, 0.3), atol=1e-6)
    np.testing.assert_allclose(p.fix[303], (0.3, 0.3), atol=1e-3)  # held through the saccade
    np.testing.assert_allclose(p.fix[-1], (0.7, 0.7), atol=1e-6)
    # a small fixational drift stays below the threshold
    drift = np.column_stack([0.5 + 0.002 * np.sin(np.arange(n) / 30), np.full(n, 0.5)])
    assert (process_gaze(times(n), make_raw(drift)).event == FIXATION).all()


def test_display_only_data_uses_the_screen_geometry():
    n = 600
    xy = np.full((n, 2), 0.3)
    xy[300:] = 0.7
    raw = make_raw(xy)
    for eye in ("left", "right"):  # a Pro Lab style export: no 3D gaze point
        for a in "xyz":
            raw[:, GAZE_COL[f"{eye}_gaze_point_in_user_coordinate_system_{a}"]] = np.nan
    p = process_gaze(times(n), raw)
    assert p.valid.all()
    # an instant jump: labelled saccade on both sides of it, the label centred on it
    sac = np.flatnonzero(p.event == SACCADE)
    assert len(sac) and (p.event[sac[0]:sac[-1] + 1] == SACCADE).all() and abs((sac[0] + sac[-1]) / 2 - 299.5) <= 1.0
    assert (p.event[:290] == FIXATION).all() and (p.event[310:] == FIXATION).all()
    assert np.isnan(p.vec[:, COL["left_direction_x"]]).all()


def test_times_that_do_not_increase_are_dropped():
    raw = make_raw(np.full((10, 2), 0.5))
    t = times(10)
    t[4] = t[3]  # repeat
    t[7] = t[2]  # backwards
    p = process_gaze(t, raw)
    assert p.dropped == 2 and len(p.t_ns) == 8 and (np.diff(p.t_ns) > 0).all()
    with pytest.raises(ValueError, match="raw"):
        process_gaze(t, raw[:, :20])


def test_segment_encoding_keeps_rates_and_never_nan():
    n = 8 * RATE
    xy = np.full((n, 2), 0.4)
    xy[n // 2:] = 0.6
    raw = make_raw(xy)
    drop_both(raw, slice(100, 130))  # a blink in the first segment-ish region
    drop_both(raw, slice(1000, 1300))  # a 1 s loss: missing
    t = times(n)
    p = process_gaze(t, raw)
    w = encode_window(p, int(t[-1]), 8.0, "segment")
    assert w.eye.shape == (32, 39) and w.fixation.shape == (32, 2)
    assert np.isfinite(np.delete(w.eye, TRACKBOX, axis=1)).all() and np.isfinite(w.fixation).all()
    assert np.isnan(w.eye[:, TRACKBOX]).all()  # never measured (SDK 2.x sends none): absent
    assert w.n_samples == n  # 2400 samples span 7.997 s
    assert w.valid_fraction == pytest.approx(p.valid.mean())
    step = 8.0 / 32
    k_blink = int((t[115] - (t[-1] - 8e9)) / 1e9 / step)
    assert w.eye[k_blink, COL["event_blink"]] > 0.3  # 30 of 75 samples
    k_lost = int((t[1150] - (t[-1] - 8e9)) / 1e9 / step)
    assert (np.delete(w.eye[k_lost], TRACKBOX) == 0).all()  # a fully lost segment: nothing, validity 0
    np.testing.assert_allclose(w.fixation[k_lost], w.fixation[k_lost - 1])  # held
    np.testing.assert_allclose(w.fixation[0], (0.4, 0.4), atol=1e-5)
    np.testing.assert_allclose(w.fixation[-1], (0.6, 0.6), atol=1e-5)
    full = w.eye[3]
    assert full[COL["left_gaze_validity"]] == 1 and full[COL["event_fixation"]] == 1
    assert full[COL["left_gaze_display_x"]] == pytest.approx(0.4, abs=1e-6)
    assert full[COL["left_pupil_fluctuation"]] == pytest.approx(0.01, abs=1e-5)  # mean |diff|


def test_point_encoding_takes_the_nearest_sample():
    n = 8 * RATE
    xy = np.column_stack([np.linspace(0, 1, n), np.full(n, 0.5)])
    t = times(n)
    p = process_gaze(t, make_raw(xy))
    w = encode_window(p, int(t[-1]), 8.0, "point")
    step_times = t[-1] - 8e9 + np.arange(1, 33) * 8e9 / 32
    nearest = np.abs(t[None, :] - step_times[:, None]).argmin(axis=1)
    np.testing.assert_allclose(w.eye[:, COL["left_gaze_display_x"]], xy[nearest, 0], atol=1e-6)
    assert set(np.unique(w.eye[:, 36:].sum(axis=1))) <= {1.0}


def test_window_without_samples_is_empty_not_nan():
    p = process_gaze(np.zeros(0, np.int64), np.zeros((0, 30)))
    for enc in ("segment", "point"):
        w = encode_window(p, 5 * 10**9, 8.0, enc)
        assert (np.delete(w.eye, TRACKBOX, axis=1) == 0).all() and (w.fixation == 0.5).all()
        assert w.valid_fraction == 0 and w.n_samples == 0
    with pytest.raises(ValueError, match="encoding"):
        encode_window(p, 0, 8.0, "mean")


def test_params_change_the_blink_band():
    raw = make_raw(np.full((400, 2), 0.5))
    drop_both(raw, slice(100, 130))
    assert (process_gaze(times(400), raw, EyeParams(blink_min_s=0.2)).event[100:130] == MISSING).all()
