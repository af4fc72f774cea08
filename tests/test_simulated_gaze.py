"""Simulated gaze: plausible events, emotion-dependent behaviour, determinism, labelling."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.labels import EMOTIONS_7
from emer_live.sources.simulated_gaze import BEHAVIOURS, SimulatedGazeSource, simulate_raw
from emer_live.types import GAZE_COL, GazeSample, SourceEvent


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of True runs."""
    d = np.diff(np.r_[0, mask.astype(int), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - np.flatnonzero(d == 1)))


def test_shapes_timestamps_and_ranges():
    t, raw = simulate_raw("neutral", 8.0, 60, np.random.default_rng(0), t0_ns=5_000)
    assert t.dtype == np.int64 and t.shape == (480,) and raw.shape == (480, 30)
    assert t[0] == 5_000 and np.all(np.diff(t) > 0)
    valid = raw[:, GAZE_COL["left_gaze_point_validity"]] == 1.0
    pupil = raw[valid, GAZE_COL["left_pupil_diameter"]]
    assert 2.5 <= pupil.min() and pupil.max() <= 5.0
    xy = raw[valid][:, [0, 1]]
    assert np.all((xy > -0.1) & (xy < 1.1))
    z = raw[valid, GAZE_COL["left_gaze_origin_in_user_coordinate_system_z"]]
    assert 500 < z.min() and z.max() < 700  # eyes about 60 cm from the tracker
    tb = raw[valid][:, [11, 12, 13]]
    assert np.all((tb >= 0) & (tb <= 1))
    # Invalid samples carry NaN, with both validity flags down (binocular blinks).
    inv = ~valid
    assert np.isnan(raw[inv, 0]).all() and (raw[inv, GAZE_COL["right_gaze_point_validity"]] == 0).all()


def test_blinks_fixations_and_saccades_are_plausible():
    rng = np.random.default_rng(1)
    t, raw = simulate_raw("neutral", 120.0, 300, rng)
    blink = raw[:, 5] == 0.0
    runs = _runs(blink)
    durs_ms = np.array([n for _, n in runs]) / 300 * 1000
    # Blinks that overlap merge, so allow a little beyond 300 ms.
    assert len(runs) > 15 and durs_ms.min() >= 95 and durs_ms.max() <= 600
    # Velocity over 10-sample (33 ms) spans, which averages out tracker noise as real I-VT
    # filters do: fixations slow, saccade peaks fast (deg/s; 1 deg ~ 0.02 display widths).
    x, y = raw[:, 0] / 0.02, raw[:, 1] / 0.0355
    v = np.hypot(x[10:] - x[:-10], y[10:] - y[:-10]) * 30
    v = v[~np.isnan(v)]
    assert np.median(v) < 40
    assert np.percentile(v, 99) > 150


def test_emotion_changes_behaviour_in_the_documented_direction():
    def stats(emotion):
        t, raw = simulate_raw(emotion, 300.0, 60, np.random.default_rng(2))
        valid = raw[:, 5] == 1.0
        blinks = len(_runs(~valid)) / 5.0
        return np.nanmean(raw[:, 6]), np.nanmean(raw[:, 1]), blinks, np.nanstd(raw[:, 0])

    fear, sad, neutral = stats("fear"), stats("sadness"), stats("neutral")
    assert fear[0] > neutral[0] > sad[0]  # pupil grows with arousal
    assert sad[1] > neutral[1]  # sadness looks lower (y grows downward)
    assert fear[2] > neutral[2]  # more blinks per minute under fear
    assert fear[3] > sad[3]  # fear scans wider than sadness
    assert set(BEHAVIOURS) == set(EMOTIONS_7)


def test_deterministic_for_a_seed():
    a = simulate_raw("anger", 8.0, 60, np.random.default_rng(7))[1]
    b = simulate_raw("anger", 8.0, 60, np.random.default_rng(7))[1]
    np.testing.assert_array_equal(a, b)


def test_unknown_emotion_is_refused():
    with pytest.raises(ValueError, match="unknown emotion"):
        simulate_raw("joy", 1.0, 60, np.random.default_rng(0))


def test_offline_source_follows_script_and_is_labelled():
    src = SimulatedGazeSource(rate_hz=100, script=[("happiness", 1.0), ("sadness", 0.5)], seed=3,
                              realtime=False, t0_ns=1_000_000, duration_s=3.0)
    with src:
        items = list(src.samples())
    samples = [i for i in items if isinstance(i, GazeSample)]
    events = [i for i in items if isinstance(i, SourceEvent)]
    assert len(samples) == 300 and src.stats.delivered == 300
    t = np.array([s.host_ns for s in samples])
    assert t[0] == 1_000_000 and np.all(np.diff(t) == 10_000_000)
    emotions = [e.data["emotion"] for e in events if e.kind == "info"]
    assert emotions == ["happiness", "sadness", "happiness", "sadness"]
    assert events[-1].kind == "end_of_stream"
    assert src.simulated and src.label == "simulated gaze" and src.info()["simulated"]


def test_offline_runs_are_identical():
    def run():
        src = SimulatedGazeSource(rate_hz=60, seed=5, realtime=False, duration_s=2.0)
        with src:
            return np.array([s.values for s in src.samples() if isinstance(s, GazeSample)])
    np.testing.assert_array_equal(run(), run())


def test_realtime_source_is_paced_to_the_wall_clock():
    import time
    src = SimulatedGazeSource(rate_hz=100, seed=1, realtime=True, duration_s=0.3)
    t0 = time.monotonic()
    with src:
        n = sum(isinstance(i, GazeSample) for i in src.samples())
    assert n == 30 and time.monotonic() - t0 >= 0.25


def test_pupil_is_continuous_within_a_script_step():
    src = SimulatedGazeSource(rate_hz=60, script=[("neutral", 30.0)], seed=2, realtime=False, duration_s=10.0)
    with src:
        pupil = np.array([s.values[GAZE_COL["left_pupil_diameter"]] for s in src.samples()
                          if isinstance(s, GazeSample)])
    step = np.abs(np.diff(pupil))
    assert np.nanmax(step) < 0.1  # mm per sample: no jumps, only slow fluctuation and noise
