"""FaceBuffer: evenly spaced picks over the window, the per-slot encode cache, tolerances."""

import numpy as np
import pytest

from emer_live.pipeline.buffers import FaceBuffer

S = 1_000_000_000


def filled(buf, times_s):
    for t in times_s:
        ns = int(t * S)
        buf.note_frame(ns)
        if buf.wants(ns):
            buf.add(ns, np.array([t], np.float32))
    return buf


def test_picks_eight_evenly_spaced_frames_including_both_ends():
    buf = filled(FaceBuffer(7.0), np.arange(0, 10, 0.04))  # 25 fps for 10 s
    pick, why = buf.pick(9 * S)
    assert why == "" and pick.valid == 8
    np.testing.assert_allclose(pick.times_ns / S, np.arange(2, 10), atol=7.0 / 32)
    assert pick.newest_ns <= 9 * S
    np.testing.assert_allclose(pick.features[:, 0], pick.times_ns / S, atol=1e-6)


def test_encodes_at_most_one_frame_per_slot():
    buf = FaceBuffer(8.0)  # slots of 0.25 s
    wanted = [t for t in np.arange(0, 2, 1 / 30) if buf.wants(int(t * S)) and (buf.add(int(t * S), np.zeros(1)) or True)]
    assert len(wanted) == 8 == len(buf)


def test_missing_faces_use_nearest_and_report_fewer_valid():
    times = [t for t in np.arange(0, 8.01, 0.04) if not 2.0 <= t <= 5.0]  # no face for 3 s
    buf = filled(FaceBuffer(7.0, min_valid=4), times)
    pick, _ = buf.pick(8 * S)
    # targets at 1..8 s, tolerance 0.5 s: 2 and 5 find 1.96 and 5.04; 3 and 4 have only stand-ins
    assert pick.valid == 6
    assert pick.features.shape == (8, 1)
    assert not np.any((pick.times_ns > 2.0 * S) & (pick.times_ns < 5.0 * S))


def test_too_few_faces_and_no_face():
    buf = filled(FaceBuffer(7.0, min_valid=6), [t for t in np.arange(0, 8, 0.04) if t > 6.5])
    assert buf.pick(8 * S) == (None, "too_few_faces")
    assert FaceBuffer(7.0).pick(8 * S) == (None, "no_face")


def test_only_frames_up_to_the_window_end_are_picked():
    buf = filled(FaceBuffer(7.0), np.arange(0, 12, 0.04))
    pick, _ = buf.pick(8 * S)
    assert pick.times_ns.max() <= 8 * S


@pytest.mark.parametrize("window_s", [1.0, 8.0, 60.0])
def test_cache_stays_bounded(window_s):
    buf = filled(FaceBuffer(window_s), np.arange(0, 5 * window_s, window_s / 100))
    assert len(buf) <= 2 * 32 + 8 + 2
