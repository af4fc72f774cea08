"""Issue 22: the window on a 1280x720 laptop and a 4K screen (nothing off screen, nothing widens the
window), states that name the right cause, and a sources dialog that does what its errors advise."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QRect, QSize

from emer_live.ui.dialogs import SourceDialog
from emer_live.ui.controller import SourceChoice
from emer_live.ui.fit import breakable_path, fit_to_screen, frame_inside, initial_geometry
from emer_live.ui.gaze_file_check import check_gaze_file
from emer_live.ui.main_window import load_choice
from emer_live.ui.presentation import PresentationWindow
from emer_live.window_model.states import ENDED
from tests.ui.doubles import FakeRunner, ManualClock, state
from tests.ui.test_review import session  # noqa: F401  (a recorded session to review)

LAPTOP = (1280, 720)


def _run(win, qtbot, n=6):
    for _ in range(n):
        win.tick()
    qtbot.wait(20)


# --- 2. a window that fits --------------------------------------------------------------------
@pytest.mark.parametrize("screen", [(1280, 720), (1366, 768), (1920, 1080), (3840, 2160)])
def test_first_geometry_lies_inside_the_free_area_and_grows_on_large_screens(screen):
    avail = QRect(0, 0, screen[0], screen[1] - 40)  # a task bar
    g = initial_geometry(avail)
    assert avail.contains(g.adjusted(0, 0, 0, 32))  # with the window manager's title bar above it
    if screen[0] <= 1366:
        assert g.width() == avail.width()  # a laptop: all of the width, not 1600 px
    if screen == (3840, 2160):
        assert g.width() > 2500 and g.height() > 1500  # not a small window in the middle of a 4K screen


def test_a_window_managers_borders_are_kept_inside_too():
    """openbox at 1280x720: a window of the whole free width gets a 1 px border each side (frame 1282 px)."""
    avail = QRect(0, 0, 1280, 720)
    place = frame_inside(avail, QRect(0, 0, 1282, 713), QRect(1, 24, 1280, 688))
    assert place == QRect(0, 0, 1278, 688)
    assert frame_inside(avail, QRect(100, 10, 802, 625), QRect(101, 34, 800, 600)) == QRect(100, 10, 800, 600)
    assert frame_inside(avail, QRect(900, 300, 802, 625), QRect(901, 324, 800, 600)) == QRect(478, 95, 800, 600)


def test_window_opens_inside_its_screen(make_window):
    win = make_window()  # offscreen's screen is 800x600: smaller than any laptop
    rect = fit_to_screen(win)
    assert win.screen().availableGeometry().contains(rect)
    assert win.size() == rect.size().expandedTo(win.minimumSizeHint())  # 800x600 is below the window's minimum


def test_long_session_paths_wrap_and_never_widen_the_window(make_window, qtbot, tmp_path, session):  # noqa: F811
    win = make_window()
    win.start()
    win.resize(1280, 690)
    _run(win, qtbot)
    root = tmp_path / ("a_long_folder_name_without_spaces_" * 4)
    widths = {}
    win.start_recording("P01", True, str(root))
    _run(win, qtbot)
    widths["recording"] = win.width()
    win.stop_recording()
    _run(win, qtbot)
    widths["stopped"] = win.width()
    assert "last session:" in win.rec_panel.disk.toolTip() and "\u200b" in win.rec_panel.disk.text()
    win.open_session(str(session), clock=ManualClock())
    _run(win, qtbot)
    widths["review"] = win.width()
    assert win.minimumSizeHint().width() <= 1280 and win.minimumSizeHint().height() <= 690
    win.close_session(start_live=False)
    _run(win, qtbot)
    widths["after review"] = win.width()
    assert set(widths.values()) == {1280}, widths
    assert win.minimumSizeHint().width() <= 1280


def test_breakable_path_keeps_the_path():
    p = "/home/lab/EMER Live sessions/P01_20260101-120000"
    assert breakable_path(p).replace("\u200b", "") == p and breakable_path(p).count("\u200b") == 4


def test_presentation_fits_a_projector_and_scales_its_type(qtbot):
    from tests.ui.doubles import prediction

    win = PresentationWindow()
    qtbot.addWidget(win)
    win.show_prediction(prediction(1, "happiness", "happiness", 9.0))
    win.resize(*LAPTOP)
    win.show()
    qtbot.wait(20)
    hint = win.minimumSizeHint()
    assert hint.width() <= LAPTOP[0] and hint.height() <= LAPTOP[1]
    assert win.width() == LAPTOP[0]
    small = win.face_value.font().pixelSize()
    assert small < 110 and win.face_value.sizeHint().width() < LAPTOP[0] / 2  # both readings side by side
    win.resize(3840, 2160)
    qtbot.wait(20)
    assert win.face_value.font().pixelSize() > 110  # larger on 4K


def test_help_overlay_footer_stays_inside_at_720(make_window, qtbot):
    win = make_window()
    win.start()
    win.resize(*LAPTOP)
    win.toggle_help()
    qtbot.wait(20)
    win.help.grab()  # paints
    assert 0 < win.help.footer_y and win.help.footer_y + 30 <= win.help.height()


def test_sources_dialog_fits_the_screen_height(qtbot):
    dialog = SourceDialog(SourceChoice("demo", "tsv:/nowhere.tsv", ""))
    qtbot.addWidget(dialog)
    dialog.show()
    avail = dialog.screen().availableGeometry()  # offscreen: 800x600, lower than a 720 laptop
    assert dialog.height() <= avail.height() and dialog.width() <= avail.width()


def test_head_panel_class_name_shrinks_before_it_runs_into_its_percentage(qtbot):
    from emer_live.ui.panels import HeadCanvas, _fitting_font
    from PySide6.QtGui import QFontMetrics
    from tests.ui.doubles import head

    c = HeadCanvas("#fff")
    qtbot.addWidget(c)
    c.resize(210, 300)
    c.set_head(head("happiness", 1.0))
    c.grab()
    font = _fitting_font("happiness", 210 - 8 - 70, 30, 16, bold=True)
    assert QFontMetrics(font).horizontalAdvance("happiness") <= 210 - 8 - 70


# --- 3. every state says the right thing --------------------------------------------------------
def test_short_gaze_beside_a_long_video_names_the_gaze(make_window, qtbot):
    stats = {"window_s": 8.0, "collected_s": 2.2}
    steps = ([(state(i, stats={**stats, "gaze_ended": True, "frames_ended": False}), []) for i in range(3)]
             + [(state(i, stats={**stats, "gaze_ended": True, "frames_ended": True}), []) for i in range(3, 8)])
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    _run(win, qtbot, 8)
    st = win.prediction_state
    assert st.state == ENDED and st.progress is None
    assert st.reason.startswith("the gaze ended after 2.2 s") and "video ended" not in st.reason


def test_stopped_shows_no_live_figures(make_window, qtbot):
    win = make_window()
    win.start()
    _run(win, qtbot)
    assert "fps" in win.status_labels["camera"].text() and win.panels["camera"].notice.text()
    win.stop()
    _run(win, qtbot, 2)
    for key in ("camera", "gaze", "latency", "inference"):
        assert win.status_labels[key].text() == "", key
    assert win.panels["camera"].notice.text() == "" and win.panels["gaze"].notice.text() == ""
    assert win.panels["er"].chip.text() == "STOPPED"


def test_fer_before_the_first_face_does_not_wait_for_the_model_window(make_window, qtbot):
    steps = [(state(i, stats={"window_s": 8.0, "collected_s": 0.0}), []) for i in range(5)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    _run(win, qtbot)
    assert win.panels["fer"].chip.text() == "COLLECTING"
    assert "first face" in win.panels["fer"].body.state.reason and "8 s" not in win.panels["fer"].body.state.reason


def test_r_after_every_input_ended_says_why_it_does_not_record(make_window, qtbot):
    steps = [(state(i, stats={"frames_ended": True, "gaze_ended": True}), []) for i in range(5)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    _run(win, qtbot)
    win.toggle_recording()
    assert win.session is None and win.dialog is None
    assert win.feedback.text().startswith("Nothing to record: the video and the gaze have ended")


def test_the_two_fer_readings_are_named_apart(make_window, qtbot):
    win = make_window()
    win.start()
    _run(win, qtbot)
    assert "per frame" in win.panels["fer"].title.text().lower()
    assert win.circumplex.fer_label() == "FER, 8 s mean ●"  # the circumplex's FER dot: the window's mean


# --- 4. the sources dialog does what the errors advise ------------------------------------------
def test_an_unreadable_gaze_file_is_neither_accepted_nor_remembered(qtbot, tmp_path):
    bad = tmp_path / "notes.tsv"
    bad.write_text("a\tb\tc\n1\t2\t3\n")
    dialog = SourceDialog(SourceChoice("demo", f"tsv:{bad}", ""))
    qtbot.addWidget(dialog)
    got = []
    dialog.accepted_choice.connect(got.append)
    dialog.show()
    dialog.accept()
    assert got == [] and dialog.isVisible()
    note = dialog.gaze_note.text()
    assert note.startswith("Cannot use this gaze file") and "Column mapping" in note and "--gaze-columns" not in note


def test_a_column_mapping_makes_an_unknown_layout_readable_and_is_remembered(qtbot, tmp_path, settings, make_window):
    data = tmp_path / "lab.csv"
    rows = ["ms;lx;ly;rx;ry"] + [f"{i * 4};0.5;0.5;0.52;0.5" for i in range(400)]
    data.write_text("\n".join(rows) + "\n")
    mapping = tmp_path / "lab.json"
    mapping.write_text(json.dumps({"time": "ms", "time_unit": "ms", "left_x": "lx", "left_y": "ly",
                                   "right_x": "rx", "right_y": "ry", "gaze_units": "norm"}))
    assert not check_gaze_file(str(data)).ok
    dialog = SourceDialog(SourceChoice("demo", f"tsv:{data}", ""))
    qtbot.addWidget(dialog)
    dialog.gaze_columns.setText(str(mapping))
    assert dialog.check_gaze().ok, dialog.gaze_note.text()
    chosen = dialog.choice()
    assert chosen.gaze == f"tsv:{data}" and chosen.gaze_columns == str(mapping)
    win = make_window()
    builds = win.builds
    win.switch_sources(chosen)
    assert builds[-1].gaze_columns == str(mapping)
    assert load_choice(settings).gaze_columns == str(mapping)


def test_one_recording_of_several_can_be_picked(qtbot, tx300_files):
    folder = tx300_files[0].parent.parent  # the real recordings: two participants, several trials each
    dialog = SourceDialog(SourceChoice("demo", f"tsv:{folder}", ""))
    qtbot.addWidget(dialog)
    result = dialog.check_gaze()
    assert result.ok and len(result.recordings) == len(tx300_files)
    assert dialog.recording.isVisibleTo(dialog) and dialog.recording.count() == len(tx300_files) + 1
    assert dialog.choice().gaze == f"tsv:{folder}"  # first entry: all of them, one after another
    dialog.recording.setCurrentIndex(2)
    picked = dialog.choice().gaze
    assert picked == f"tsv:{tx300_files[1]}"
    assert check_gaze_file(picked[len("tsv:"):]).ok


def test_review_timeline_spans_the_recording_not_its_last_sample(tmp_path, make_window, qtbot):
    """Inputs that ran out after 5 s of a session in which a marker (12 s) and an answer (10 s) came
    later: both are on the timeline, and the stretch after the video is 'input ended', as it was live."""
    import numpy as np

    from emer_live.recording.session import RecordingSession
    from emer_live.types import Frame, GazeSample
    from emer_live.window_model.player import SessionPlayer
    from tests.ui.doubles import FakeFace

    t0, s_ns = 10_000_000_000, 1_000_000_000
    folder = tmp_path / "P02_20260101-120000"
    s = RecordingSession(folder, "P02", consent=True, devices={"frame": "demo", "gaze": "simulated"},
                         block_when_full=True)
    img = np.zeros((60, 80, 3), np.uint8)
    for i in range(50):
        s.sink.on_frame(Frame(host_ns=t0 + i * s_ns // 10, index=i, image=img.copy()), FakeFace())
    for i in range(250):
        v = np.zeros(30)
        v[[0, 1, 15, 16]] = 0.5
        v[[5, 20]] = 1.0
        s.sink.on_gaze(GazeSample(host_ns=t0 + i * s_ns // 50, values=v))
    s.add_self_assessment(3, 5, "sadness", host_ns=t0 + 10 * s_ns, start_ns=t0, end_ns=t0 + 10 * s_ns)
    s.add_marker("late note", host_ns=t0 + 12 * s_ns)
    s.close()
    player = SessionPlayer(folder, clock=ManualClock())
    assert player.duration_s >= 12.0
    win = make_window()
    win.open_session(str(folder), clock=ManualClock())
    assert {"marker", "answer"} <= {m.kind for m in win.review.timeline.marks}
    win.player.seek(8.0)
    _run(win, qtbot, 3)
    assert win.panels["camera"].body.state.state == ENDED
    assert win.prediction_state.state == ENDED


def test_a_gap_label_never_names_an_eye_class_the_headline_calls_unclear():
    from emer_live.window_model.text import disagreement_label, gap_headline
    from tests.ui.doubles import head

    er, fer = head("sadness", 0.34), head("happiness", 0.9)
    assert "unclear" in gap_headline(er, fer)
    assert disagreement_label(er, fer) == "face: happiness / eyes: unclear"
    assert disagreement_label(head("sadness", 0.6), fer) == "face: happiness / eyes: sadness"


def test_time_series_labels_keep_off_the_gap_curve_and_off_each_other(qtbot):
    from emer_live.ui.timeseries import GAP_TOP, TimeSeries
    from tests.ui.doubles import prediction

    ts = TimeSeries()
    qtbot.addWidget(ts)
    ts.resize(700, 240)  # the plots' height at 1280x720
    ts.show()
    for i in range(60):
        ts.add(prediction(i, "sadness", "happiness", 10 + i * 0.1))
    for k in range(4):  # four marks within 0.6 s: their labels would stack
        ts.add_mark(int((11 + 0.2 * k) * 1e9), f"stimulus {k}")
    ts.redraw()
    qtbot.wait(20)
    gap_vb = ts.plots["gap"].getViewBox()
    label = next(t for t in ts._texts if t.isVisible())
    top_px = gap_vb.mapViewToScene(label.pos()).y()
    curve_px = gap_vb.mapViewToScene(type(label.pos())(label.pos().x(), GAP_TOP)).y()
    assert curve_px - top_px >= label.boundingRect().height()  # the whole label above the curve's band
    rows = ts.mark_rows([(1 + 0.2 * k, f"stimulus {k}") for k in range(4)])
    drawn = [r for r in rows if r is not None]
    assert rows[0] == 0 and len(set(drawn)) == len(drawn)  # close marks: one row each, or no label
    assert len(drawn) * ts._mark_label_px() <= ts.plots["valence"].getViewBox().height()  # rows that fit


def test_a_long_error_shrinks_to_fit_its_panel(qtbot):
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QFontMetrics

    from emer_live.ui.panels import wrapped_font

    box = QRect(0, 0, 196, 180)  # a head panel at 1280x720
    text = "error: model failed to load: " + "the card names an input the runtime cannot feed; " * 6
    font = wrapped_font(text, box)
    need = QFontMetrics(font).boundingRect(box, int(Qt.AlignCenter | Qt.TextWordWrap), text)
    assert font.pixelSize() < 14 and need.height() <= box.height()
    assert wrapped_font("stopped: Space starts again", box).pixelSize() == 14  # short text keeps its size


def test_a_wider_earlier_span_keeps_its_label_when_a_later_one_is_drawn(qtbot):
    from emer_live.ui.timeseries import TimeSeries

    ts = TimeSeries()
    qtbot.addWidget(ts)
    ts.resize(700, 240)
    ts.show()
    ts.plots["valence"].setXRange(0, 60, padding=0)
    qtbot.wait(20)
    wide = (10.0, 16.0, "face: happiness / eyes: sadness")
    alone = ts.label_layout([wide])
    both = ts.label_layout([wide, (16.0, 17.0, "face: happiness / eyes: fear")])
    assert alone[0] is not None and both[0] is not None  # the later, narrower span never takes it away
