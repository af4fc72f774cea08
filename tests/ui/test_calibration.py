"""Calibration flow against test doubles of the Tobii SDK's tracker and calibration objects."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from emer_live.ui.calibration import CalibrationWindow
from emer_live.ui.validation import POINTS, display_to_ucs, validate_point
from tests.ui.doubles import DisplayArea, FakeCalibration, FakeTracker


@pytest.fixture
def tracker_and_window(qtbot):
    made = []

    def make(calibration, n_points=5):
        holder = {}
        tracker = FakeTracker(look_at=lambda: holder["win"].current_target)
        win = CalibrationWindow(tracker, calibration, n_points=n_points, dwell_ms=10, collect_ms=300)  # long enough for >3 samples on a busy machine
        holder["win"] = win
        qtbot.addWidget(win)
        made.append(tracker)
        return tracker, win

    yield make
    for t in made:
        t.close()


@pytest.mark.parametrize("n_points", [5, 9])
def test_calibration_then_validation_completes(tracker_and_window, qtbot, n_points):
    cal = FakeCalibration()
    tracker, win = tracker_and_window(cal, n_points=5)
    win.resize(800, 450)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: win.position is not None, timeout=2000)  # user position guide stream
    assert not win.grab().isNull()
    qtbot.keyClick(win, Qt.Key_9 if n_points == 9 else Qt.Key_5)
    with qtbot.waitSignal(win.finished, timeout=10000) as sig:
        qtbot.keyClick(win, Qt.Key_Space)
    result = sig.args[0]
    collected = [c[1:] for c in cal.calls if isinstance(c, tuple)]
    assert collected == list(POINTS[n_points])
    assert cal.calls[0] == "enter" and "compute" in cal.calls and cal.calls[-1] == "leave"
    assert result["n_points"] == n_points and len(result["points"]) == n_points
    # the double looks 5 mm right of each target from ~600 mm: about 0.45-0.5 degrees off
    for p in result["points"]:
        assert p["n_samples"] > 3
        assert 0.3 < p["accuracy_deg"] < 0.7
        assert 0 < p["precision_rms_deg"] < 0.3
    assert 0.3 < result["mean_accuracy_deg"] < 0.7
    assert tracker.subs == {}  # every SDK subscription released
    assert win.stage == "done" and not win.grab().isNull()


def test_failed_calibration_says_so_and_can_retry(tracker_and_window, qtbot):
    cal = FakeCalibration(succeed=False)
    _, win = tracker_and_window(cal)
    win.show()
    win.start()
    win.begin_calibration()
    qtbot.waitUntil(lambda: win.stage == "failed", timeout=5000)
    assert "did not succeed" in win.message
    assert cal.calls[-1] == "leave"
    cal.succeed = True
    with qtbot.waitSignal(win.finished, timeout=10000):
        qtbot.keyClick(win, Qt.Key_R)


def test_validation_figures_on_known_geometry():
    target = (0.5, 0.5)
    t = display_to_ucs(target, DisplayArea())
    raw = np.full((10, 30), np.nan)
    from emer_live.types import GAZE_COL

    for eye, x in (("left", -30.0), ("right", 30.0)):
        for i, a in enumerate("xyz"):
            raw[:, GAZE_COL[f"{eye}_gaze_origin_in_user_coordinate_system_{a}"]] = (x, 150.0, 600.0)[i]
            raw[:, GAZE_COL[f"{eye}_gaze_point_in_user_coordinate_system_{a}"]] = t[i] + (10.0 if a == "x" else 0)
        raw[:, GAZE_COL[f"{eye}_gaze_point_validity"]] = 1
        raw[:, GAZE_COL[f"{eye}_gaze_origin_validity"]] = 1
    v = validate_point(raw, target, DisplayArea())
    # exact angle between the two directions, computed independently for the left eye
    o = np.array([-30.0, 150.0, 600.0])
    a, b = t + [10, 0, 0] - o, t - o
    want = math.degrees(math.acos(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    assert v["left_accuracy_deg"] == pytest.approx(want, abs=1e-6)
    assert v["precision_rms_deg"] == pytest.approx(0.0, abs=1e-5)
    raw[:5, GAZE_COL["right_gaze_point_validity"]] = 0
    assert validate_point(raw, target, DisplayArea())["right_n_valid"] == 5
