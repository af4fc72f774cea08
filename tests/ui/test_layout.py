"""Items 7, 8 and 10: the window holds at 1280x720 (and larger), every action stays reachable,
the plots keep a useful height, the face check speaks plainly, outputs are named."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QToolButton

from emer_live.window_model.text import face_notice, status_texts
from tests.ui.doubles import FakeRunner


def _run(win, qtbot, n=5):
    win.start()
    for _ in range(n):
        win.tick()
    qtbot.wait(20)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (3840, 2160)])
def test_window_fits_and_keeps_plots_useful(make_window, qtbot, tmp_path, size):
    from tests.ui.doubles import state

    # every panel waiting, with the widest state tags ("collecting 7.9/8 s")
    collecting = {"window_s": 8.0, "collected_s": 7.94, "frames_ended": False, "gaze_ended": False}
    win = make_window(runner_factory=lambda: FakeRunner([(state(i, stats=collecting), []) for i in range(10)]))
    win.resize(*size)
    _run(win, qtbot)
    assert win.panels["er"].chip.text() == "COLLECTING 7.9/8 S"
    win.start_recording("P01", True, str(tmp_path))  # the recording panel takes room too
    qtbot.wait(20)
    hint = win.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 680  # leaves room for a task bar at 720
    assert win.width() == size[0] and win.height() == size[1]
    for plot in win.timeseries.plots.values():
        assert plot.vb.height() >= 50
    win.stop_recording()


def test_toolbar_overflow_keeps_every_action_reachable(make_window, qtbot):
    win = make_window()
    win.resize(1280, 720)
    _run(win, qtbot)
    ext = win.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
    shown = [a for a in win.toolbar.actions() if win.toolbar.widgetForAction(a).isVisible()]
    hidden = [a for a in win.toolbar.actions() if a not in shown]
    assert not hidden or (ext is not None and ext.isVisible() and not ext.icon().isNull())


def test_status_bar_model_text_is_short_with_the_whole_provenance_in_the_tooltip(make_window, qtbot):
    win = make_window()
    _run(win, qtbot)
    assert win.status_labels["model"].text() == "emert-demo (demo model)"
    long = status_texts({"model_name": "m", "model_provenance": "demo model: FER from X; ER trained on Y"})
    assert long["model"] == "m (demo model)"


class _Face:
    def __init__(self, status, crop=None, n_faces=1):
        self.status, self.crop, self.n_faces = status, crop, n_faces


def test_face_check_in_plain_words_and_warns_only_when_the_face_is_not_used():
    assert face_notice(_Face("ok", crop=object())) == ("", "")
    assert face_notice(_Face("no_face")) == ("No face in view", "warn")
    assert face_notice(_Face("too_small")) == ("Face too small: move closer to the camera", "warn")
    assert face_notice(_Face("cut_off", crop=object())) == ("Face partly outside the picture (still used)", "info")
    assert face_notice(_Face("cut_off")) == ("Face cut off by the picture edge: not used", "warn")
    assert face_notice(_Face("ok", crop=object(), n_faces=2))[0] == "2 faces in view: the largest is used."
    for status in ("no_face", "too_small", "cut_off"):
        text = face_notice(_Face(status))[0]
        assert "landmark" not in text and "px" not in text and "%" not in text


def test_every_panel_has_a_state_tag(make_window, qtbot):
    win = make_window()
    _run(win, qtbot)
    for key, panel in win.panels.items():
        assert panel.chip.text(), key


@pytest.mark.parametrize("height", [195, 240, 320, 600])
def test_head_panel_fits_every_figure_at_any_height(qtbot, height):
    from emer_live.ui import theme
    from emer_live.ui.panels import HeadCanvas
    from tests.ui.doubles import head

    c = HeadCanvas(theme.FER)
    qtbot.addWidget(c)
    c.resize(260, height)
    c.set_head(head("happiness", 0.8, intensity=2.4))
    img = c.grab().toImage()
    # the last drawn line (figures) ends inside the canvas: the bottom 3 px rows are background only
    bg = theme.qcolor(theme.PANEL).rgb()
    assert all(img.pixel(x, img.height() - 2) == bg for x in range(0, img.width(), 4))
