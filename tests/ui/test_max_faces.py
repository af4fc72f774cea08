"""Faces to track: a setting of the sources dialog, remembered, that reaches the face step; with
more than one face allowed, the window says when a second face is in view."""

from __future__ import annotations

from emer_live.ui.controller import Built, SourceChoice
from emer_live.ui.main_window import load_choice
from emer_live.window_model.text import face_notice
from tests.ui.doubles import FakeFace, FakeRunner, pipeline_settings, state


def test_faces_to_track_is_set_in_the_sources_dialog_and_remembered(make_window, settings):
    win = make_window()
    win.start()
    assert load_choice(settings).max_faces == 1  # one participant by default
    win.open_sources()
    assert win.dialog.max_faces.value() == 1
    win.dialog.max_faces.setValue(2)
    win.dialog.accept()
    assert win.builds[-1].max_faces == 2 and win.controller.running
    assert load_choice(settings).max_faces == 2
    win.open_sources()
    assert win.dialog.max_faces.value() == 2  # the dialog opens on what was chosen


def test_a_bad_remembered_value_falls_back_to_one_face(settings):
    settings.setValue("faces/max", "lots")
    assert load_choice(settings).max_faces == 1
    settings.setValue("faces/max", 99)
    assert load_choice(settings).max_faces == 4


def test_the_setting_reaches_the_face_step(monkeypatch):
    assert pipeline_settings(monkeypatch, Built(None, None, None, max_faces=3))["max_faces"] == 3
    # one face and no eye settings: the runner builds its default pipeline (one face)
    assert pipeline_settings(monkeypatch, Built(None, None, None)) == {}


class TwoFaces(FakeFace):
    n_faces, message = 2, "2 faces, the largest used"


def test_the_window_says_when_a_second_face_appears(make_window):
    steps = [(state(i), []) for i in range(3)] + [(state(3 + i, face=TwoFaces()), []) for i in range(3)]
    win = make_window(runner_factory=lambda: FakeRunner(steps),
                      choice=SourceChoice("demo", "simulated", "", max_faces=2))
    win.start()
    for _ in range(3):
        win.tick()
    assert face_notice(win.video.face) == ("", "")
    for _ in range(3):
        win.tick()
    text, severity = face_notice(win.video.face)  # drawn under the face video
    assert text.startswith("2 faces in view: the largest is used") and severity == "info"
