"""eye-v3: eye-v1's windows with the eye position and the pupil diameter taken relative to the
participant's own rolling baseline. On the real TX300 recordings: a pupil larger for the whole
session or a seat further back changes nothing, a sustained dilation against the person's own
pupil shows at its size, a file without the track box gives the SDK log's windows, every other
column is eye-v1's, and the online processor gives the batch windows."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.features.eye import EyeProcessor
from emer_live.features.eye_v1 import EYE_V1_COLUMNS, EYE_V3_COLUMNS, EyeParams, encode_window, process_gaze
from emer_live.model_card import SUPPORTED
from emer_live.sources.tobii_tsv import read_tobii_tsv
from emer_live.types import GAZE_COL, GazeSample

V3 = EyeParams(schema="eye-v3")
COL = {c: i for i, c in enumerate(EYE_V3_COLUMNS)}
PUPIL_REL = [COL["left_pupil_diameter_rel"], COL["right_pupil_diameter_rel"]]
ORIGIN_REL = [COL[f"{e}_origin_ucs_rel_{a}"] for e in ("left", "right") for a in "xyz"]
TRACK_BOX = [COL[f"{e}_unused_{k}"] for e in ("left", "right") for k in "ab"]
PUPIL_RAW = [GAZE_COL[f"{e}_pupil_diameter"] for e in ("left", "right")]


def _looped(files, seconds):
    """One participant's trials joined and repeated (each one sample period after the last) to `seconds`."""
    ts, raws, end = [], [], 0
    while end < seconds * 1e9:
        for f in files:
            rec = read_tobii_tsv(f)
            t = rec.t_us.astype(np.int64) * 1000
            period = int(np.median(np.diff(t)))
            ts.append(t - t[0] + (end + period if ts else 0))
            raws.append(rec.raw.astype(np.float64))
            end = int(ts[-1][-1])
    return np.concatenate(ts), np.concatenate(raws)


@pytest.fixture(scope="module")
def people(tx300_files):
    """{participant: (t_ns, raw)}: 70 s of each participant's real eyes."""
    names = sorted({f.parent.name for f in tx300_files})
    return {n: _looped([f for f in tx300_files if f.parent.name == n], 70.0) for n in names}


def _windows(t, raw, params=V3, ends=None):
    p = process_gaze(t, raw, params)
    ends = ends if ends is not None else np.linspace(t[0] + 10e9, t[-1], 5).astype(np.int64)
    return np.stack([encode_window(p, int(e), 8.0, "segment").eye for e in ends])


def test_every_column_but_the_relative_ones_and_the_track_box_is_eye_v1s(people):
    assert EYE_V3_COLUMNS[:8] == EYE_V1_COLUMNS[:8] and EYE_V3_COLUMNS[30:] == EYE_V1_COLUMNS[30:]
    for name, (t, raw) in people.items():
        v1 = _windows(t, raw, EyeParams(schema="eye-v1"))
        v3 = _windows(t, raw)
        same = np.setdiff1d(np.arange(39), PUPIL_REL + ORIGIN_REL + TRACK_BOX)
        np.testing.assert_allclose(v3[..., same], v1[..., same], atol=1e-6, err_msg=name)
        assert (v3[..., TRACK_BOX] == 0).all() and np.isfinite(v3).all()


def test_a_larger_pupil_all_session_long_or_a_seat_further_back_change_nothing(people):
    """Pupil size and seating between people and rooms fall out against the person's own baseline."""
    for name, (t, raw) in people.items():
        moved = raw.copy()
        moved[:, PUPIL_RAW] += 2.0  # a 2 mm larger pupil (another person, a darker room)
        for e in ("left", "right"):
            for a, mm in zip("xyz", (40.0, -30.0, 300.0)):
                moved[:, GAZE_COL[f"{e}_gaze_origin_in_user_coordinate_system_{a}"]] += mm
        a, b = _windows(t, raw), _windows(t, moved)
        np.testing.assert_allclose(b[..., PUPIL_REL + ORIGIN_REL], a[..., PUPIL_REL + ORIGIN_REL], atol=1e-4,
                                   err_msg=name)


def test_a_sustained_dilation_shows_at_its_size_against_the_rolling_baseline(people):
    """After 60 s of ordinary eyes the pupil stays 0.3 mm larger: the window ending 8 s later reads
    0.3 mm less what the 60 s baseline has already taken in (8 of its 60 s: 0.04 mm)."""
    for name, (t, raw) in people.items():
        onset = t[0] + int(60e9)
        dilated = raw.copy()
        dilated[:, PUPIL_RAW] += np.where((t[:, None] >= onset) & (raw[:, PUPIL_RAW] > 0), 0.3, 0.0)
        end = [onset + int(8e9)]
        d = _windows(t, dilated, ends=end)[0] - _windows(t, raw, ends=end)[0]
        rel = d[:, PUPIL_REL]
        present = _windows(t, raw, ends=end)[0][:, [COL["left_pupil_validity"], COL["right_pupil_validity"]]] > 0.5
        assert present.mean() > 0.8, name
        # every sample of the baseline and the window moved by the same shares: an exact figure
        share = ((t > end[0] - 60e9) & (t <= end[0]) & (t >= onset)).sum() / ((t > end[0] - 60e9) & (t <= end[0])).sum()
        np.testing.assert_allclose(rel[present], 0.3 * (1 - share), atol=0.01, err_msg=name)
        assert 0.25 < 0.3 * (1 - share) < 0.27
        # eye-v1 sees nothing of it once the onset's single step (at a gap: its first sample after
        # the gap) has left the window
        v1, later = EyeParams(schema="eye-v1"), [onset + int(15e9)]
        np.testing.assert_array_equal(_windows(t, dilated, v1, later), _windows(t, raw, v1, later))


def test_a_file_without_the_track_box_gives_the_sdk_windows(people):
    for name, (t, raw) in people.items():
        no_tb = raw.copy()
        no_tb[:, [i for n, i in GAZE_COL.items() if "trackbox" in n]] = np.nan
        np.testing.assert_array_equal(_windows(t, no_tb), _windows(t, raw), err_msg=name)


@pytest.mark.parametrize("encoding", ["segment", "point"])
def test_online_windows_equal_batch_windows(people, encoding):
    params = EyeParams(schema="eye-v3", baseline_s=10.0)
    t, raw = next(iter(people.values()))
    keep = t <= 25e9
    t, raw = t[keep], raw[keep].copy()
    batch = process_gaze(t, raw, params)
    proc = EyeProcessor(params, history_s=12.0)
    k = 0
    for end in np.linspace(t[0] + 3e9, t[-1] - 1e9, 6).astype(np.int64):
        while k < len(t) and t[k] <= end + 0.5e9:  # samples settle once blink_max + edge have passed
            proc.push(GazeSample(int(t[k]), raw[k]))
            k += 1
        np.testing.assert_allclose(proc.window(int(end), 2.0, encoding).eye,
                                   encode_window(batch, int(end), 2.0, encoding).eye, rtol=1e-5, atol=1e-5)


def test_the_app_accepts_eye_v3_cards():
    assert "eye-v3" in SUPPORTED["eye_schemas"]
