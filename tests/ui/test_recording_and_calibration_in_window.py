"""The window's session actions reach a real recording session; calibration results go with it."""

from __future__ import annotations

import csv
import json

from PySide6.QtCore import Qt

from tests.ui.doubles import FakeCalibration, FakeTracker


def test_record_marker_self_assessment_and_calibration(make_window, qtbot, tmp_path):
    holder = {}
    tracker = FakeTracker(look_at=lambda: getattr(holder.get("cal"), "current_target", None))
    win = make_window(tracker_provider=lambda: tracker, calibration_factory=lambda t: FakeCalibration())
    try:
        win.start()
        win.tick()
        win.open_calibration()
        cal = win.calibration_window
        holder["cal"] = cal
        cal.dwell_ms, cal.collect_ms = 10, 60
        with qtbot.waitSignal(cal.finished, timeout=10000):
            qtbot.keyClick(cal, Qt.Key_Space)
        assert win.calibration_result["n_points"] == 5
        assert "stored with the next recording" in win.feedback.text()
        cal.close()

        assert win.start_recording("P07", True, str(tmp_path))
        folder = win.session.folder
        win.add_marker("note")
        win.add_hotkey_marker("F3")  # "artifact" in the default marker configuration
        win.toggle_stimulus()
        win.toggle_stimulus()
        win.record_self_assessment({"valence": 3, "arousal": 7, "emotion7": "sadness"})
        win.record_self_assessment({"valence": 6, "arousal": 4, "emotion7": "happiness"})
        win.tick()
        assert win.rec_label.text().startswith("● REC")
        win.stop_recording()
        qtbot.waitUntil(lambda: json.loads((folder / "session.json").read_text()).get("closed"), timeout=10000)
    finally:
        tracker.close()
    markers = (folder / "markers.csv").read_text()
    assert "note" in markers and "artifact" in markers and "stimulus 1" in markers
    with open(folder / "self_assessment.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["emotion7"] for r in rows] == ["sadness", "happiness"]
    calib = [json.loads(line) for line in (folder / "calibration.jsonl").read_text().splitlines()]
    assert calib[0]["kind"] == "validation" and calib[0]["n_points"] == 5
    assert 0.3 < calib[0]["mean_accuracy_deg"] < 0.7


def test_recording_needs_consent(make_window, tmp_path):
    win = make_window()
    win.start()
    assert not win.start_recording("P07", False, str(tmp_path))
    assert "consent" in win.last_error_box.text()
    assert win.session is None


def test_calibration_without_tracker_says_what_to_do(make_window):
    win = make_window(tracker_provider=lambda: None)
    win.start()
    win.open_calibration()
    assert "needs a Tobii eye tracker" in win.last_error_box.text()


def test_recording_failure_shows_a_banner_at_once(make_window, qtbot, tmp_path):
    from emer_live.errors import RecordingError

    win = make_window()
    try:
        win.start()
        assert win.start_recording("P07", True, str(tmp_path))
        # what the session's writer thread reports on a full disk
        win.session._writer_failed(RecordingError("Recording stopped: the disk is full (No space left on device)"))
        qtbot.waitUntil(lambda: getattr(win, "last_error_box", None) is not None, timeout=1000)
        assert "the disk is full" in win.last_error_box.text()
        assert win.rec_banner.isVisible() and "the disk is full" in win.rec_banner.text()
        win.stop_recording()
    finally:
        win.close()
