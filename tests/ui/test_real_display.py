"""The app through Qt's xcb platform on a real X server (Xvfb), as on a lab desktop: it must come up
(every system library the xcb plugin needs is installed), paint its window before the slow start
(model, sources), load the model off the GUI thread and open inside the screen's free area. scripts/setup-env installs Xvfb; the test
is skipped only where the Xvfb program is absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs in a child process (the test process's Qt is offscreen): it notes when the main window is
# first painted and when the slow start begins, then runs the app exactly as `emer-live` does.
DRIVER = r"""
import json, sys, threading, time
t0 = time.monotonic()
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QMainWindow
import emer_live.ui.app as A
from emer_live.ui.controller import LiveController

marks = {"ticks_while_loading": 0}
opening = threading.Event()
open_ = LiveController._open
def noted_open(self, *a):
    marks.setdefault("start_s", time.monotonic() - t0)
    marks["load_thread"] = threading.current_thread().name
    opening.set()
    try:
        return open_(self, *a)
    finally:
        opening.clear()
        marks["loaded_s"] = time.monotonic() - t0
LiveController._open = noted_open

last_beat = [None]
def heartbeat():  # the GUI thread's event loop turning while the model loads
    now = time.monotonic()
    if opening.is_set():
        if not marks["ticks_while_loading"]:  # the window's place once the slow start has begun
            win = next(w for w in A.QApplication.topLevelWidgets() if isinstance(w, QMainWindow))
            g = win.frameGeometry()
            marks["frame_at_start"] = [g.x(), g.y(), g.width(), g.height()]
        marks["ticks_while_loading"] += 1
        if last_beat[0] is not None:  # its longest stall during the load (reported, not asserted)
            marks["longest_stall_s"] = max(marks.get("longest_stall_s", 0.0), now - last_beat[0])
        last_beat[0] = now
beat = QTimer(interval=20, timeout=heartbeat)

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint and isinstance(obj, QMainWindow) and "paint_s" not in marks:
            marks["paint_s"] = time.monotonic() - t0
            g, a = obj.frameGeometry(), obj.screen().availableGeometry()
            marks["frame"] = [g.x(), g.y(), g.width(), g.height()]
            marks["available"] = [a.x(), a.y(), a.width(), a.height()]
        return False

app = A.application()
spy = FirstPaint()
app.installEventFilter(spy)
beat.start()
rc = A.run_app(frame="demo", gaze="simulated", screenshot=sys.argv[1], after_s=float(sys.argv[2]))
marks["platform"], marks["rc"] = app.platformName(), rc
print("RESULT " + json.dumps(marks))
"""


@pytest.fixture
def xvfb(tmp_path):
    """An X server of 1280x720 (a lab laptop); yields its DISPLAY."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (scripts/setup-env installs it): the xcb start is not checked here")
    r, w = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(w), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    wm = None
    try:
        assert number, "Xvfb did not start"
        if shutil.which("openbox"):  # with a window manager where there is one: its frame must fit too
            wm = subprocess.Popen(["openbox"], env={**os.environ, "DISPLAY": f":{number}"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        yield f":{number}"
    finally:
        for p in (wm, proc):
            if p is not None:
                p.terminate()
                p.wait(10)


def test_app_comes_up_through_xcb_and_paints_before_the_slow_start(xvfb, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    env.update(DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "config"),
               HOME=str(tmp_path))
    shot = tmp_path / "window.png"
    out = subprocess.run([sys.executable, "-c", DRIVER, str(shot), "3"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and result, f"the app did not come up through xcb:\n{out.stderr[-3000:]}"
    marks = json.loads(result[0][len("RESULT "):])
    print(marks)
    assert marks["platform"] == "xcb" and marks["rc"] == 0
    assert shot.stat().st_size > 10_000  # the window rendered
    # the window is on screen before the model and sources load (first paint <= 1 s is benchmarked)
    assert marks["paint_s"] < marks["start_s"]
    # ...and the load runs on a worker thread while the GUI thread goes on turning its event loop
    assert marks["load_thread"] == "emer-live-load" and marks["ticks_while_loading"] > 0, marks
    fx, fy, fw, fh = marks["frame_at_start"]  # the frame kept inside once its borders are known
    ax, ay, aw, ah = marks["available"]
    assert ax <= fx and ay <= fy and fx + fw <= ax + aw and fy + fh <= ay + ah, marks
