"""Pictures for the README: the main window and presentation mode from a real run (a video file
played in real time through the real pipeline and model, with simulated gaze), offscreen.

    python -m emer_live.ui.screenshots --video clip.mp4 --out docs/images
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def render(video: str, out: str | Path, gaze: str = "simulated:sadness=30", model: str = "", seconds: float = 15.0,
           size: tuple[int, int] = (1600, 940)) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from emer_live.ui.app import application
    from emer_live.ui.controller import LiveController, SourceChoice
    from emer_live.ui.main_window import MainWindow

    app = application()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = QSettings(QSettings.IniFormat, QSettings.UserScope, "EMER Live", "emer-live-screenshots")
    win = MainWindow(LiveController(SourceChoice(f"video:{video}", gaze, model)), settings=settings)
    win.resize(*size)
    win.show()
    if not win.start():
        raise SystemExit("screenshots: the pipeline did not start: "
                         + "; ".join(n.text for n in win.controller.notices.values()))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    win.tick()
    win.timeseries.flush(force=True)  # the newest points, not those of the last timed redraw
    written = [out / "main-window.png", out / "presentation.png"]
    win.grab().save(str(written[0]))
    win.toggle_presentation()
    win.presentation.showNormal()  # offscreen "full screen" is the virtual screen's size: fix it
    win.presentation.resize(size[0], size[1] - 40)
    app.processEvents()
    win.presentation.grab().save(str(written[1]))
    win.close()
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", required=True, help="face video to play through the pipeline")
    ap.add_argument("--out", default="docs/images", help="folder for the PNG files")
    ap.add_argument("--gaze", default="simulated:sadness=30", help="gaze source spec (default: simulated, sad eyes)")
    ap.add_argument("--model", default="", help="model card (default: the bundled model)")
    ap.add_argument("--seconds", type=float, default=15.0, help="how long to run before the pictures")
    a = ap.parse_args(argv)
    for path in render(a.video, a.out, a.gaze, a.model, a.seconds):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
