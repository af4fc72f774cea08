"""What places the FER crop (the network's own framing by default, or the landmarks alone): a
setting of the sources dialog, remembered, that reaches the face step and is recorded with a
session; a model whose crop recipe is not FER2013 framing gets its landmark crop, and a detector
asked for it is refused, as a model notice."""

from __future__ import annotations

import json

import pytest

from emer_live.errors import ModelError
from emer_live.ui.controller import Built, SourceChoice, build_real
from emer_live.ui.main_window import load_choice
from model_doubles import build_model_double
from tests.ui.doubles import pipeline_settings


def test_the_fer_crop_setting_is_set_in_the_sources_dialog_and_remembered(make_window, settings):
    win = make_window()
    win.start()
    assert load_choice(settings).fer_box == "auto"  # the network's own framing by default
    win.open_sources()
    assert win.dialog.fer_box.currentData() == "auto"
    win.dialog.fer_box.setCurrentIndex(win.dialog.fer_box.findData("template"))
    win.dialog.accept()
    assert win.builds[-1].fer_box == "template" and win.controller.running
    assert load_choice(settings).fer_box == "template"
    win.open_sources()
    assert win.dialog.fer_box.currentData() == "template"  # the dialog opens on what was chosen
    settings.setValue("faces/fer_crop", "haar")  # an unknown remembered value: the default
    assert load_choice(settings).fer_box == "auto"
    settings.setValue("faces/fer_box", "template")  # the earlier key (its default, not a choice): not read
    assert load_choice(settings).fer_box == "auto"


def test_auto_is_the_live_framing_for_the_fer2013_model_and_the_template_for_another():
    from emer_live.pipeline.engine import default_model_path

    built = build_real(SourceChoice("demo", "none", str(default_model_path())))
    try:
        assert built.fer_box == "tracked"  # live input: the detector where the reading needs it
    finally:
        built.engine.close()
    built = build_real(SourceChoice("demo", "none", str(default_model_path())), realtime=False)
    try:
        assert built.fer_box == "detector"
    finally:
        built.engine.close()


def test_the_setting_reaches_the_face_step(monkeypatch):
    assert pipeline_settings(monkeypatch, Built(None, None, None, fer_box="detector"))["fer_box"] == "detector"


def test_a_model_with_another_crop_recipe_is_refused_with_the_reason(tmp_path):
    card = build_model_double(tmp_path)  # no face.crop: the legacy recipe
    with pytest.raises(ModelError, match="FER2013 framing") as e:
        build_real(SourceChoice("demo", "none", str(card), fer_box="detector"))
    assert "face landmarks" in str(e.value)
    built = build_real(SourceChoice("demo", "none", str(card)))  # the default: its own landmark crop
    try:
        assert built.fer_box == "template"
    finally:
        built.engine.close()


def test_the_setting_is_recorded_with_a_session(make_window, tmp_path):
    win = make_window(build=lambda c: Built(None, None, None, fer_box=c.fer_box),
                      choice=SourceChoice("demo", "simulated", "", fer_box="detector"))
    win.start()
    assert win.start_recording("P07", True, str(tmp_path))
    meta = json.loads((win.session.folder / "session.json").read_text())
    assert meta["pipeline"]["fer_box"] == "detector"
    win.stop_recording()
