"""The window on the real pipeline (LiveRunner, real sources, ONNX Runtime) with a test-double
model, the `emer-live app` command's screenshot option and its no-display fallback."""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import Namespace

import pytest

from emer_live.commands import app as app_cmd
from emer_live.ui.controller import LiveController, SourceChoice
from emer_live.ui.main_window import MainWindow
from tests.model_doubles import build_model_double


@pytest.fixture(scope="module")
def model_card(tmp_path_factory):
    return str(build_model_double(tmp_path_factory.mktemp("model"), "double", window_s=1.0))


def test_window_runs_on_demo_input_and_simulated_gaze(qtbot, settings, model_card):
    win = MainWindow(LiveController(SourceChoice("demo", "simulated", model_card)), settings=settings)
    qtbot.addWidget(win)
    win.show()
    try:
        assert win.start()
        qtbot.waitUntil(lambda: win.last_prediction is not None and win.video.image is not None, timeout=30000)
        assert "DEMO INPUT" in win.banner.text() and "SIMULATED GAZE" in win.banner.text()
        assert win.status_labels["provider"].text() == "CPU"
        assert win.status_labels["model"].text().startswith("double (")
        assert win.er_head.head is not None and len(win.timeseries._cols["t"]) >= 1
    finally:
        win.close()
    assert not win.controller.running


def test_video_that_ends_offers_play_again(qtbot, settings, model_card, shared_data):
    clip = shared_data / "video" / "single_face.mp4"  # 2.4 s
    win = MainWindow(LiveController(SourceChoice(f"video:{clip}", "none", model_card)), settings=settings)
    qtbot.addWidget(win)
    win.show()
    try:
        assert win.start()
        qtbot.waitUntil(lambda: not win.panels["camera"].button.isHidden(), timeout=30000)
        assert win.panels["camera"].button.text() == "Play again"
        assert win.isVisible()
        win.panels["camera"].button.click()
        assert win.controller.running and win.panels["camera"].button.isHidden()
    finally:
        win.close()


def test_missing_video_file_is_a_panel_notice(qtbot, settings, model_card, tmp_path):
    win = MainWindow(LiveController(SourceChoice(f"video:{tmp_path / 'nope.mp4'}", "none", model_card)),
                     settings=settings)
    qtbot.addWidget(win)
    assert not win.start()
    assert "nope.mp4" in win.panels["camera"].notice.text()
    win.close()


def test_app_command_screenshot(tmp_path, model_card, repo_root):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "emer_live", "app", "--demo", "--gaze", "simulated", "--model", model_card,
                        "--screenshot", str(out), "--after", "3"], env=env, cwd=repo_root,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1600, 940)


def test_no_display_falls_back_to_headless(monkeypatch, capsys, model_card):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(app_cmd, "HEADLESS_S", 3.0)
    args = Namespace(video=None, camera=None, demo=True, gaze="simulated", model=model_card, presentation=False,
                     screenshot=None, after=5.0)
    assert app_cmd.main(args) == 0
    out = capsys.readouterr()
    assert "no display found" in out.err and "QT_QPA_PLATFORM=offscreen" in out.err
    assert '"er"' in out.out  # prediction lines from the headless run


def test_frozen_model_does_not_freeze_the_window(qtbot, settings, model_card, monkeypatch):
    import threading

    from emer_live.window_model import panels

    monkeypatch.setattr(panels, "BUSY_AFTER_S", 0.5)
    win = MainWindow(LiveController(SourceChoice("demo", "simulated", model_card)), settings=settings)
    qtbot.addWidget(win)
    win.show()
    release = threading.Event()
    try:
        assert win.start()
        qtbot.waitUntil(lambda: win.last_prediction is not None, timeout=30000)
        engine = win.controller.built.engine
        real = engine.predict_batch

        def frozen(*a, **k):  # the model hangs until the test lets it go
            release.wait(20)
            return real(*a, **k)

        monkeypatch.setattr(engine, "predict_batch", frozen)
        drawn = win.frames_drawn
        qtbot.waitUntil(lambda: win.model_notice.text().startswith("model busy for"), timeout=10000)
        assert win.frames_drawn > drawn  # the timer kept drawing while the model hung
        seq = win.model.seq
        release.set()
        qtbot.waitUntil(lambda: win.model.seq > seq, timeout=10000)
    finally:
        release.set()
        win.close()


def test_screenshots_render_main_window_and_presentation(qtbot, model_card, shared_data, tmp_path, monkeypatch):
    from emer_live.ui.screenshots import render

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    # 3.5 s: past the 2.4 s clip's end, so closing never races a frame decode in the video source
    paths = render(str(shared_data / "video" / "single_face.mp4"), tmp_path / "img", gaze="simulated",
                   model=model_card, seconds=3.5)
    from PySide6.QtGui import QImage

    sizes = [(QImage(str(p)).width(), QImage(str(p)).height()) for p in paths]
    assert sizes == [(1600, 940), (1600, 900)]
