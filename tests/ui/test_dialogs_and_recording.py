"""Items 6, 8 and 9: recordings stay right through pauses and source switches, the recording
panel shows what the session holds, and the dialogs guard consent and show SAM values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox

from emer_live.types import Frame
from emer_live.ui.controller import SourceChoice, SwitchableSink
from emer_live.ui.dialogs import RecordDialog, SamScale, SelfAssessmentDialog, default_sessions_root
from emer_live.ui.recording_panel import disk_line


def _events(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def _closed(folder: Path) -> bool:
    try:
        return json.loads((folder / "session.json").read_text()).get("closed", False)
    except (OSError, ValueError):
        return False


# --- item 6 -------------------------------------------------------------------------------------
class _Recorder:
    def __init__(self):
        self.frames, self.crops = [], []

    def on_frame(self, frame, face_result=None):
        self.frames.append((frame.index, frame.host_ns))

    def on_face_crop(self, frame_index, host_ns, crop):
        self.crops.append(frame_index)


def test_frame_index_keeps_rising_across_runs_of_one_session():
    sink, rec = SwitchableSink(), _Recorder()
    sink.target = rec
    img = np.zeros((2, 2, 3), np.uint8)
    for i in range(5):
        sink.on_frame(Frame(host_ns=100 + i, index=i, image=img))
    sink.new_run()  # "Play again" / Space: the source counts from 0 again
    for i in range(3):
        sink.on_face_crop(i, 200 + i, img)
        sink.on_frame(Frame(host_ns=200 + i, index=i, image=img))
    idx = [i for i, _ in rec.frames]
    assert idx == list(range(8)) and rec.crops == [5, 6, 7]
    sink.target = _Recorder()  # a new session counts from its own first frame
    sink.on_frame(Frame(host_ns=300, index=9, image=img))
    assert sink.target.frames == [(9, 300)]


def test_pause_is_an_event_and_the_rec_clock_keeps_running(make_window, tmp_path):
    win = make_window()
    win.start()
    assert win.start_recording("P07", True, str(tmp_path))
    folder = win.session.folder
    win.stop()  # Space during a recording
    win.recording.started_s -= 23  # 23 s later, still paused
    win.tick()
    assert win.rec_label.text().startswith("● REC 00:23")
    win.start()
    items = [win.rec_panel.items.item(i).text() for i in range(win.rec_panel.items.count())]
    assert any("paused" in t for t in items) and any("resumed" in t for t in items)
    win.stop_recording()
    assert win.rec_panel.session is None
    import time
    for _ in range(100):
        if _closed(folder):
            break
        time.sleep(0.05)
    kinds = [e["kind"] for e in _events(folder) if e["source"] == "app"]
    assert kinds == ["paused", "resumed"]


def test_switching_sources_while_recording_starts_a_new_session(make_window, tmp_path):
    win = make_window()
    win.start()
    assert win.start_recording("P07", True, str(tmp_path))
    first = win.session.folder
    win.switch_sources(SourceChoice("video:/tmp/other.mp4", "simulated", ""))
    second = win.session.folder
    assert second != first and second.parent == first.parent
    meta = json.loads((second / "session.json").read_text())
    assert meta["devices"]["frame"] == "video:/tmp/other.mp4" and first.name in meta["notes"]
    assert meta["pipeline"]["fer_smoothing_s"] == 0.25  # the FER panel's smoothing, for a review to redraw
    assert "recording goes on in" in win.feedback.text()
    win.stop_recording()


def test_recording_panel_lists_markers_stimuli_and_answers(make_window, tmp_path):
    win = make_window()
    win.start()
    win.start_recording("P07", True, str(tmp_path))
    assert win.rec_dock.isVisible() and str(win.session.folder) in win.rec_panel.path.text()
    win.add_marker("note")
    win.toggle_stimulus()
    assert "stimulus 1 running" in win.rec_panel.stimulus.text()
    win.toggle_stimulus()
    win.record_self_assessment({"valence": 3, "arousal": 8, "emotion7": "fear"})
    items = [win.rec_panel.items.item(i).text() for i in range(win.rec_panel.items.count())]
    assert [t.split("  ", 1)[1].split(":")[0] for t in items] == ["marker", "stimulus began", "stimulus ended",
                                                                   "self-assessment"]
    assert "fear, valence 3, arousal 8" in items[-1]
    win.rec_panel.refresh()
    assert "free" in win.rec_panel.disk.text()
    win.stop_recording()


def test_disk_line_estimates_time_left():
    assert disk_line(100, 100_000_000, 3_600_000_000) == "3.6 GB free · about 1:00:00 left at 1.0 MB/s"
    assert disk_line(1, 0, 5_000_000) == "5.0 MB free"


# --- item 9 -------------------------------------------------------------------------------------
def test_record_dialog_needs_consent_and_a_pseudonym(qtbot):
    d = RecordDialog("", default_sessions_root())
    qtbot.addWidget(d)
    ok = d.buttons.button(QDialogButtonBox.Ok)
    assert d.participant.text() == "" and not ok.isEnabled()
    d.participant.setText("P08")
    assert not ok.isEnabled() and "consent" in d.why.text()
    d.consent.setChecked(True)
    assert ok.isEnabled() and d.why.text() == ""
    d.participant.setText("Jane Doe")  # not a pseudonym
    assert not ok.isEnabled()


def test_default_sessions_folder_is_in_documents_not_the_code():
    root = Path(default_sessions_root())
    assert root.is_absolute() and root.name == "EMER Live sessions"
    assert not str(root).startswith(str(Path(__file__).resolve().parents[2]))


def test_window_record_dialog_does_not_prefill_the_last_participant(make_window, tmp_path, settings):
    win = make_window()
    win.start()
    settings.setValue("recording/participant", "P01")
    win.toggle_recording()
    assert win.dialog.participant.text() == ""
    win.dialog.reject()


def test_sam_scales_show_their_values_and_store_what_is_shown(qtbot):
    d = SelfAssessmentDialog()
    qtbot.addWidget(d)
    d.show()
    assert d.valence_value.text() == "5 of 9" and d.arousal_value.text() == "5 of 9"
    cell = d.arousal.width() / 9
    qtbot.mouseClick(d.arousal, Qt.LeftButton, pos=QPoint(int(cell * 8.5), 20))  # the ninth choice
    assert d.arousal_value.text() == "9 of 9 (excited)"
    d.valence.setFocus()
    qtbot.keyClick(d.valence, Qt.Key_2)
    assert d.valence_value.text() == "2 of 9"
    assert d.answer() == {"valence": 2, "arousal": 9, "emotion7": "neutral"}
    img = d.arousal.grab().toImage()
    assert img.width() > 0  # the manikins paint


def test_sam_scale_keys(qtbot):
    s = SamScale("valence")
    qtbot.addWidget(s)
    qtbot.keyClick(s, Qt.Key_Right)
    assert s.value() == 6
    for _ in range(10):
        qtbot.keyClick(s, Qt.Key_Left)
    assert s.value() == 1 and s.text() == "1 of 9 (unpleasant)"


def test_repeated_errors_reuse_one_box(make_window):
    win = make_window(tracker_provider=lambda: None)
    win.start()
    for _ in range(3):
        win.open_calibration()
    from PySide6.QtWidgets import QMessageBox
    boxes = [w for w in win.findChildren(QMessageBox) if w.isVisible()]
    assert len(boxes) == 1


def test_markers_and_stimuli_are_drawn_on_the_time_series(make_window, tmp_path):
    win = make_window()
    win.start()
    for _ in range(3):
        win.tick()
    win.start_recording("P07", True, str(tmp_path))
    t0 = win.timeseries.t0_ns
    win.log_session_item(t0 + 100_000_000, "marker", "note")
    win.log_session_item(t0 + 150_000_000, "stimulus began", "stimulus 1")
    lines = [line for line in win.timeseries._mark_lines if line.isVisible()]
    assert [round(line.value(), 2) for line in lines] == [0.1, 0.15]
    labels = [t.toPlainText() for t in win.timeseries._mark_texts if t.isVisible()]
    assert labels == ["note", "▶ stimulus 1"]
    win.stop_recording()
