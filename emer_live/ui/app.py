"""Start the desktop app: QApplication, main window, optional presentation mode and screenshot."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from emer_live.ui.controller import LiveController, SourceChoice
from emer_live.ui.main_window import MainWindow, load_choice


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("EMER Live")
    app.setApplicationName("emer-live")
    return app


def replay_info(session: str) -> tuple[dict, bool]:
    """What the window says about a replayed session (its name, recorded sources), and whether
    it holds gaze to replay."""
    from emer_live.recording.session_reader import SessionReader

    try:
        reader = SessionReader(session)
    except Exception:  # unreadable: the replay source reports it on its panel
        return {"name": Path(session).name, "devices": {}, "path": str(session)}, True
    with reader:
        has_gaze = len(reader.gaze()[0]) > 0
        return {"name": reader.path.name, "devices": dict(reader.meta.get("devices") or {}),
                "path": str(reader.path)}, has_gaze


def run_app(frame: str | None = None, gaze: str | None = None, model: str | None = None, presentation: bool = False,
            screenshot: str | None = None, after_s: float = 5.0, replay: str | None = None) -> int:
    """Open the window. Sources not given come from those last chosen in the sources dialog
    (QSettings), else "auto"; sources given here are for this run only and are not remembered.
    replay: a recorded session folder to play in the window instead."""
    app = application()
    settings = QSettings("EMER Live", "emer-live")
    remembered = load_choice(settings)
    info = None
    if replay:
        info, has_gaze = replay_info(replay)
        frame, gaze = f"replay:{replay}", (f"replay:{replay}" if has_gaze else "none")
    choice = SourceChoice(frame or remembered.frame, gaze or remembered.gaze,
                          model if model is not None else remembered.model)
    win = MainWindow(LiveController(choice), settings=settings)
    if info is not None:
        win.enter_replay(info)
    win.show()
    QTimer.singleShot(0, lambda: (win.start(), win.toggle_presentation() if presentation else None))
    if screenshot:
        def shoot():
            target = win.presentation if (presentation and win.presentation is not None) else win
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            ok = target.grab().save(screenshot)
            print(f"screenshot {'written to' if ok else 'FAILED:'} {screenshot}")
            win.close()
            app.exit(0 if ok else 1)

        QTimer.singleShot(int(after_s * 1000), shoot)
    return app.exec()
