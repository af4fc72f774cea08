"""The main window drawn from LiveStates and Predictions (served by a test-double runner)."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt

from emer_live.errors import ModelError, SourceError
from emer_live.ui.controller import Built, SourceChoice
from emer_live.ui.main_window import load_choice
from tests.ui.doubles import FakeRunner, lost_event, prediction, state


def activate(win, qtbot):
    win.windowHandle().requestActivate()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)


def run_ticks(win, n):
    for _ in range(n):
        win.tick()


def test_widgets_update_from_state_and_predictions(make_window):
    win = make_window()
    assert win.start()
    run_ticks(win, 5)
    assert win.er_head.head.top7 == "sadness" and win.fer_head.head.top7 == "happiness"
    assert win.headline.text() == "Smile on the face, sadness in the eyes — the eyes moved ER from happiness to sadness"
    assert win.video.image is not None and (win.video.image.width(), win.video.image.height()) == (640, 360)
    assert win.gaze.gaze.shape == (120, 3)
    assert len(win.circumplex.trails["er"]) == 5
    assert len(win.timeseries._cols["t"]) == 5
    assert all(c.scene() is not None for c in win.timeseries.curves.values())  # plots survive a restart
    spans = win.timeseries.disagreement_spans()
    assert spans and spans[0][2] == "face: happiness / eyes: sadness"
    assert win.status_labels["camera"].text() == "camera 29.8 fps"
    assert win.status_labels["gaze"].text() == "gaze 120 Hz · dropped 3"
    assert win.status_labels["provider"].text() == "CPU"
    assert win.status_labels["model"].text() == "emert-demo (demo model)"
    assert "DEMO INPUT" in win.banner.text() and "SIMULATED GAZE" in win.banner.text()
    assert win.panels["camera"].notice.text() == "demo input"
    # the window renders with everything live
    assert not win.grab().isNull()


def test_agreement_draws_no_disagreement_span(make_window):
    steps = [(state(i), [prediction(i, "happiness", "happiness", i * 0.1)]) for i in range(5)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    run_ticks(win, 5)
    assert win.timeseries.disagreement_spans() == []
    # the eyes barely moved an ER that agrees with the face: the reading is the face's
    assert win.headline.text().startswith("The face shows happiness; the eyes add no gap")


def test_a_model_without_fer_shows_none_and_claims_no_gap(make_window):
    """A model whose FER head was never trained and that has no per-frame FER: its windows carry
    fer_source "none"; the FER panel says there is no FER and the headline claims no gap."""
    from dataclasses import replace

    from emer_live.pipeline.gap import no_fer_gap

    steps = [(state(i), [replace(prediction(i, "sadness", "fear", i * 0.1), fer_source="none", gap=no_fer_gap())])
             for i in range(5)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    run_ticks(win, 5)
    assert win.fer_head.head is None and "FER head was never trained" in win.fer_head.stale
    assert win.headline.text() == "This model reads no FER, so no gap is claimed; the eyes show sadness"
    assert win.timeseries.disagreement_spans() == []
    # the untrained head's output is drawn nowhere: no FER curves, no gap curve, no FER dot; it says so
    win.timeseries.redraw()
    finite = {k: int(np.isfinite(c.getData()[1]).sum()) if c.getData()[1] is not None else 0
              for k, c in win.timeseries.curves.items()}
    assert finite == {"er_v": 5, "fer_v": 0, "er_a": 5, "fer_a": 0, "jsd": 0}
    assert win.timeseries.no_fer_note.isVisible() and "never trained" in win.timeseries.no_fer_note.toPlainText()
    assert not win.circumplex.trails["fer"] and win.circumplex.fer_label() == "no FER"
    win.toggle_presentation()
    assert win.presentation.face_value.text() == "no FER" and "no FER" in win.presentation.gap.text()
    win.presentation.close()


def test_a_model_with_per_frame_fer_draws_it_whatever_its_fer_head(make_window):
    """The FER curves and dot of a model whose face network reads FER (fer_source "face_network") are
    that reading, drawn even where its own FER head was never trained."""
    from dataclasses import replace

    steps = [(state(i), [replace(prediction(i, "sadness", "fear", i * 0.1), fer_source="face_network")])
             for i in range(5)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    run_ticks(win, 5)
    win.timeseries.redraw()
    assert np.isfinite(win.timeseries.curves["fer_v"].getData()[1]).sum() == 5
    assert not win.timeseries.no_fer_note.isVisible()
    assert len(win.circumplex.trails["fer"]) == 5 and win.circumplex.fer_label().startswith("FER")


def test_shortcuts_act(make_window, qtbot):
    win = make_window()
    win.start()
    activate(win, qtbot)
    qtbot.keyClick(win, Qt.Key_L)
    assert win.video.show_landmarks
    qtbot.keyClick(win, Qt.Key_G)
    assert win.gaze.heatmap
    win.tick()
    assert not win.gaze.grab().isNull()  # heatmap paints
    qtbot.keyClick(win, "?")
    assert win.help.isVisible()
    win.help.hide()
    qtbot.keyClick(win, Qt.Key_P)
    assert win.presentation is not None and win.presentation.isVisible()
    run_ticks(win, 2)
    assert win.presentation.headline.text() == "Smile on the face, sadness in the eyes — the eyes moved ER from happiness to sadness"
    assert win.presentation.face_title.text() == "THE FACE SHOWS · LAST 8 S"  # the window, not this frame
    assert win.presentation.face_value.text() == "happiness" and win.presentation.eyes_value.text() == "sadness"
    qtbot.keyClick(win.presentation, Qt.Key_Escape)
    assert win.presentation is None
    activate(win, qtbot)
    qtbot.keyClick(win, Qt.Key_Space)
    assert not win.controller.running
    qtbot.keyClick(win, Qt.Key_Space)
    assert win.controller.running
    qtbot.keyClick(win, Qt.Key_M)  # marker while not recording: said on the feedback line
    assert "not recording" in win.feedback.text()
    every = {a.shortcut().toString() for a in win.actions_by_name.values()}
    assert {"Space", "R", "M", "N", "A", "P", "C", "O", "L", "G", "?", "F1", "F5"} <= every


def test_source_switching_rebuilds_and_is_remembered(make_window, settings, qtbot):
    win = make_window()
    win.start()
    win.open_sources()
    dialog = win.dialog
    dialog.r_video.setChecked(True)
    dialog.video_path.setText("/data/clip.mp4")
    dialog.g_sim.setChecked(True)
    dialog.sim_script.setText("happiness, sadness")
    dialog.accept()
    want = SourceChoice("video:/data/clip.mp4", "simulated:happiness,sadness", "")
    assert win.builds[-1] == want
    assert win.controller.running
    assert load_choice(settings) == want


def test_source_dialog_lists_discovered_trackers_by_serial(qtbot):
    from emer_live.ui.dialogs import SourceDialog

    d = SourceDialog(SourceChoice("camera:2", "tobii", ""),
                     discover=lambda: [{"serial_number": "TPF-01", "model": "Tobii Pro Fusion"}])
    qtbot.addWidget(d)
    assert d.camera_index.value() == 2 and d.r_camera.isChecked()
    d.find_trackers()
    assert d.trackers.currentText() == "Tobii Pro Fusion · TPF-01"
    assert d.choice() == SourceChoice("camera:2", "tobii:TPF-01", "")


def test_model_that_fails_to_load_keeps_window_up_with_one_click_recovery(make_window):
    def build(c):
        if c.model:
            raise ModelError(f"Model card not found: {c.model}")
        return Built(None, None, None)

    win = make_window(build=build, choice=SourceChoice("demo", "simulated", "broken.card.json"))
    assert not win.start()
    assert win.isVisible()
    assert "model failed to load" in win.model_notice.text() and "broken.card.json" in win.model_notice.text()
    assert win.model_button.isVisible() and win.model_button.text() == "Use default model"
    assert win.last_error_box.isVisible() and not win.last_error_box.isModal()
    win.model_button.click()
    assert win.controller.running and win.controller.choice.model == ""


def test_no_camera_is_shown_on_the_camera_panel(make_window):
    def build(c):
        raise SourceError("camera 3 could not be opened (no such device)")

    win = make_window(build=build, choice=SourceChoice("camera:3", "simulated", ""))
    assert not win.start()
    assert "camera 3 could not be opened" in win.panels["camera"].notice.text()
    assert win.panels["camera"].button.text() == "Retry"


def test_camera_lost_and_back_and_video_ending(make_window):
    steps = [(state(0), [prediction(0, "sadness", "happiness", 0)]),
             (state(1, events=[lost_event(10, "camera")]), []),
             (state(2, events=[lost_event(10, "camera"), lost_event(20, "camera", "connection_restored")]), []),
             (state(3, events=[lost_event(30, "video", "end_of_stream")]), []),
             (state(4, events=[lost_event(40, "tobii")]), [])]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    win.tick()
    win.tick()
    cam = win.panels["camera"]
    assert "connection lost" in cam.notice.text() and cam.button.text() == "Reconnect"
    win.tick()
    assert cam.button.isHidden() and cam.notice.text() == "demo input"
    win.tick()
    assert cam.button.text() == "Play again" and not cam.button.isHidden()
    win.tick()
    assert win.panels["gaze"].button.text() == "Reconnect"
    n = len(win.builds)
    cam.button.click()  # one click restarts
    assert len(win.builds) == n + 1 and win.controller.running


def test_busy_model_is_reported_not_frozen(make_window):
    steps = [(state(0), [prediction(0, "sadness", "happiness", 0)])] + [(state(i), []) for i in range(1, 4)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    win.tick()
    win.model.received_s -= 3.2  # as if the last prediction came 3.2 s ago
    win.tick()
    assert win.model_notice.text().startswith("model busy for 3.")
    assert win.status_labels["latency"].text().startswith("model busy for 3.")


def test_timeseries_scrolls_over_the_last_60_s(make_window):
    steps = [(state(i), [prediction(i, "sadness" if i % 200 < 100 else "happiness", "happiness", i * 0.5)])
             for i in range(300)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    run_ticks(win, 300)
    time.sleep(0.21)  # new points are drawn at most every REDRAW_S: the next tick draws the rest
    win.tick()
    lo, hi = win.timeseries.plots["valence"].viewRange()[0]
    assert hi == np.float64(149.5) and abs((hi - lo) - 60) < 1e-6
    x, _ = win.timeseries.curves["er_v"].getData()
    assert x.min() >= lo - 1.01
    assert all(s >= lo - 1e-9 for s, _, _ in win.timeseries.disagreement_spans())


def test_fer_panel_follows_the_per_frame_fer_and_greys_without_a_face(make_window):
    from emer_live.labels import EMOTIONS_7
    from emer_live.pipeline.frame_fer import FrameFER

    def fer(i, top=None, n_faces=1):
        if top is None:
            return FrameFER(i, int(i * 33e6), "no_face", None, None, 0)
        p = np.full(7, 0.02)
        p[EMOTIONS_7.index(top)] = 0.88
        return FrameFER(i, int(i * 33e6), "ok", p, p, n_faces)

    script = [fer(0, "surprise"), fer(1, "surprise", 2), fer(2), fer(20), fer(60), fer(61, "fear")]
    steps = []
    for i, f in enumerate(script):
        st = state(i)
        st.frame_fer = f
        steps.append((st, [prediction(i, "sadness", "happiness", i * 0.1)]))
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    seen, fer_states = [], []
    for _ in script:
        win.tick()
        seen.append((win.fer_head.head.top7 if win.fer_head.head is not None else None, win.fer_head.stale,
                     win.fer_head.note))
        fer_states.append(win.panels["fer"].state.state)
    # per-frame FER, not the window prediction ("happiness"), shows in the panel
    assert seen[0] == ("surprise", "", "")
    assert seen[1] == ("surprise", "", "2 faces: the largest is read")
    assert seen[2][1] == "" and seen[3][1] == ""  # a short gap (< 1 s) does not grey the panel
    assert seen[4][0] == "surprise" and seen[4][1] == "no face for 1.9 s"  # greyed, says how long
    assert seen[5] == ("fear", "", "")  # the face is back: its own reading at once
    # the panel's state follows the face, not the model's window
    assert fer_states == ["live", "live", "live", "live", "no face", "live"]
    assert win.fer_head.three_caption == "3-class: the 7 classes summed"
    # the gap still uses the window FER, and says so when the face now shows something else
    assert win.headline.text() == "Last 8 s: smile on the face, sadness in the eyes (the face now shows fear) — the eyes moved ER from happiness to sadness"
    assert not win.grab().isNull()


def test_the_headline_has_the_width_while_nothing_else_is_said(make_window, qtbot):
    """The feedback line beside the headline takes room only while it says something, so a long
    headline ("... the eyes' reading is unclear (no class above 40%)") is not cut for nothing."""
    win = make_window()
    win.resize(1600, 900)
    win.show()
    qtbot.waitExposed(win)
    assert win.feedback.isHidden()
    qtbot.waitUntil(lambda: win.headline.width() > 0.6 * win.width(), timeout=2000)
    win.say("marker 1 set", ms=50)
    qtbot.waitUntil(lambda: win.feedback.isVisible(), timeout=2000)
    assert win.headline.width() > 0.45 * win.width() and win.feedback.text() == "marker 1 set"
    qtbot.waitUntil(lambda: win.feedback.isHidden() and win.headline.width() > 0.6 * win.width(), timeout=2000)


def test_a_demo_model_says_so_on_the_er_panel_and_every_headline(make_window):
    """A card whose provenance kind is 'demo': the ER panel title and the gap headline say that its
    eye effects are assumed, in the main window (not only in presentation mode)."""
    demo = {"model_provenance_kind": "demo"}
    steps = [(state(i, stats=demo), [prediction(i, "sadness", "happiness", i * 0.1)]) for i in range(5)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    assert win.start()
    run_ticks(win, 5)
    assert win.headline.text() == ("Demo model · Smile on the face, sadness in the eyes"
                                   " — the eyes moved ER from happiness to sadness")
    assert win.panels["er"].title.text() == "ER · DEMO MODEL"
    assert "demo model: eye effects assumed" in win.panels["er"].title.toolTip()


def test_a_model_of_another_kind_keeps_the_plain_er_title(make_window):
    win = make_window()
    assert win.start()
    run_ticks(win, 5)
    assert win.headline.text() == "Smile on the face, sadness in the eyes — the eyes moved ER from happiness to sadness"
    assert win.panels["er"].title.text() == "ER · WHAT FACE + EYES REVEAL"
