"""The demo model's training windows from real eye recordings (training/data/real_eye.py)."""

import numpy as np
import pytest

from emer_live.features.eye_norm import eye_check, guard_statistics
from emer_live.features.eye_v1 import EYE_V1_COLUMNS, EyeParams
from training.data import real_eye


@pytest.fixture(scope="module")
def recordings(shared_data):
    return real_eye.load_tx300(shared_data / "eyetracking" / "i2mc_tobii_tx300")


def test_reads_every_trial_of_both_participants(recordings):
    assert sorted(recordings) == ["participant1", "participant2"]
    assert [len(v) for v in recordings.values()] == [5, 5]
    for trials in recordings.values():
        for t, raw in trials:
            assert raw.shape == (len(t), 30) and t[0] == 0 and np.all(np.diff(t) > 0)


def test_mirroring_twice_gives_the_recording_back(recordings):
    _, raw = recordings["participant1"][1]
    assert np.allclose(real_eye._mirror(real_eye._mirror(raw)), raw, equal_nan=True)
    m = real_eye._mirror(raw)
    assert np.allclose(m[:, 15], 1.0 - raw[:, 0], equal_nan=True)  # right eye now holds the left one, mirrored


def test_moving_the_display_gaze_keeps_the_3d_gaze_point_on_the_display(recordings):
    """The layout change moves the display point and the 3D gaze point with it: the moved 3D points
    lie where the recording's own display-to-3D map puts the moved display points, so no column
    (3D point, gaze direction) still tells where the person originally looked."""
    _, raw = recordings["participant1"][1]
    assert np.allclose(real_eye._move_display_gaze(raw, np.zeros(2), np.ones(2)), raw, equal_nan=True)
    moved = real_eye._move_display_gaze(raw, np.array([0.2, -0.15]), np.array([1.3, 0.8]))
    for disp, ucs in zip(real_eye._DISPLAY_XY, real_eye._GAZE_UCS):
        ok = np.isfinite(raw[:, disp]).all(1)
        design = np.c_[raw[ok][:, disp], np.ones(ok.sum())]
        plane = np.linalg.lstsq(design, raw[ok][:, ucs], rcond=None)[0]
        assert np.allclose(moved[ok][:, disp], 0.5 + np.array([1.3, 0.8]) * (raw[ok][:, disp] - 0.5)
                           + np.array([0.2, -0.15]))
        assert np.abs(np.c_[moved[ok][:, disp], np.ones(ok.sum())] @ plane - moved[ok][:, ucs]).max() < 0.5  # mm
        assert np.abs(moved[ok][:, ucs] - raw[ok][:, ucs]).max() > 50.0  # it did move
    other = [c for c in range(30) if c not in sum(real_eye._DISPLAY_XY + real_eye._GAZE_UCS, [])]
    assert np.array_equal(moved[:, other], raw[:, other], equal_nan=True)


def _windows(trials, genuine, n, seed):
    person = real_eye.make_person(np.random.default_rng(seed))
    return np.stack([real_eye.real_eye_window(trials, np.random.default_rng([seed, i]), person, genuine, 8.0,
                                              "segment", EyeParams()).eye for i in range(n)])


def test_windows_are_finite_and_distinct(recordings):
    w = _windows(recordings["participant2"], None, 6, 1)
    tb = [i for i, c in enumerate(EYE_V1_COLUMNS) if "tbcs" in c]  # the track box: never measured (SDK 2.x)
    assert w.shape == (6, 32, 39) and np.isfinite(np.delete(w, tb, axis=2)).all() and np.isnan(w[..., tb]).all()
    assert len({x.tobytes() for x in w}) == 6


def test_masked_fear_adds_blinks_unmasked_eyes_carry_none(recordings):
    blink = EYE_V1_COLUMNS.index("event_blink")
    plain = _windows(recordings["participant2"], None, 12, 2)[..., blink].mean()
    fear = _windows(recordings["participant2"], "fear", 12, 2)[..., blink].mean()
    assert fear > plain


def test_natural_blink_option_adds_blinks_to_ordinary_eyes(recordings, monkeypatch):
    """On in the shipped recipe (each virtual person draws a natural blink rate); more natural
    blinks, and a person blinks more often with no emotion involved."""
    blink = EYE_V1_COLUMNS.index("event_blink")
    assert real_eye.NATURAL_BLINKS_PER_MIN is not None and "blinks_per_min" in real_eye.make_person(np.random.default_rng(0))
    monkeypatch.setattr(real_eye, "NATURAL_BLINKS_PER_MIN", None)
    plain = _windows(recordings["participant1"], None, 10, 3)[..., blink].mean()
    monkeypatch.setattr(real_eye, "NATURAL_BLINKS_PER_MIN", (20.0, 20.0))
    more = _windows(recordings["participant1"], None, 10, 3)[..., blink].mean()
    assert more > plain


def test_guard_from_real_windows_accepts_another_person_and_flags_corrupt_input(recordings):
    train = np.concatenate([_windows(recordings[p], None, 25, k) for k, p in enumerate(sorted(recordings))])
    guard = guard_statistics(train)
    other = _windows(recordings["participant1"], None, 5, 99)  # another seat, pupil and cut
    assert not any(eye_check(w, guard)["unfamiliar"] for w in other)
    broken = other[0].copy()
    broken[:, :30] = 0.0  # every eye value lost to 0, as a layout without those columns used to give
    assert eye_check(broken, guard, EYE_V1_COLUMNS)["unfamiliar"]


@pytest.mark.parametrize("schema", ["eye-v2", "eye-v3"])
def test_baseline_windows_hold_a_baseline_history_and_show_dilation_against_it(recordings, schema):
    """eye-v2 and eye-v3 windows are relative to the person's rolling baseline: the window gets
    ordinary eyes before it, so an arousing masked emotion's dilation shows against them."""
    from emer_live.features.eye_v1 import EYE_SCHEMAS

    params = EyeParams(schema=schema)
    person = real_eye.make_person(np.random.default_rng(4))

    def pupil_rel(genuine):
        ws = [real_eye.real_eye_window(recordings["participant1"], np.random.default_rng([4, i]), person, genuine,
                                       8.0, "segment", params).eye for i in range(10)]
        cols = [EYE_SCHEMAS[schema].index(f"{e}_pupil_diameter_rel") for e in ("left", "right")]
        return np.nanmean(np.stack(ws)[..., cols])

    plain, fear = pupil_rel(None), pupil_rel("fear")
    assert abs(plain) < 0.1 and fear > plain + 0.05


def test_windows_come_in_every_file_layout_with_the_same_labels(recordings):
    """Part of the training windows are written as a file layout would leave them (LAYOUT_MIX):
    without the track-box origin (which no schema uses) or with the display point and
    pupil only; the person and the label are the same, so the layout carries no emotion."""
    assert set(real_eye.LAYOUT_MIX) == set(real_eye.FILE_LAYOUTS) and abs(sum(real_eye.LAYOUT_MIX.values()) - 1) < 1e-9
    cols = EYE_V1_COLUMNS
    w = _windows(recordings["participant1"], None, 40, 5)
    origin_valid = w[..., cols.index("left_origin_validity")].max(axis=1) > 0
    gaze_3d = np.abs(w[..., cols.index("left_gaze_ucs_z")]).max(axis=1) > 0
    display_valid = w[..., cols.index("left_gaze_validity")].max(axis=1) > 0
    assert display_valid.all()
    assert origin_valid.any() and (~origin_valid).any()  # some windows lack the track box
    assert (~gaze_3d & ~origin_valid).any()  # some carry the display point and pupil only
    assert not (~gaze_3d & origin_valid).any()  # no layout has an origin but no 3D gaze point


def test_drop_columns_leaves_what_a_layout_lacks_as_nan(recordings):
    _, raw = recordings["participant2"][0]
    pl = real_eye.drop_columns(raw, real_eye.FILE_LAYOUTS["display-pupil"])
    kept = [i for n, i in real_eye.GAZE_COL.items() if "user_coordinate" not in n and "trackbox" not in n]
    assert np.isnan(pl[:, [i for i in range(30) if i not in kept]]).all()
    assert np.array_equal(pl[:, kept], raw[:, kept], equal_nan=True)
