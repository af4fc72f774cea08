"""Start the desktop app: QApplication, main window, optional presentation mode and screenshot."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from emer_live.ui.controller import SourceChoice, real_controller
from emer_live.ui.main_window import MainWindow, load_choice


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("EMER Live")
    app.setApplicationName("emer-live")
    return app


def run_app(frame: str | None = None, gaze: str | None = None, model: str | None = None, presentation: bool = False,
            screenshot: str | None = None, after_s: float = 5.0, gaze_columns=None, eye_params=None,
            review: str | None = None, review_speed: str | None = None) -> int:
    """Open the window. Sources not given come from those last chosen in the sources dialog
    (QSettings), else "auto"; sources given here are for this run only and are not remembered.
    review: a recorded session folder to review in the window instead of running live."""
    app = application()
    settings = QSettings("EMER Live", "emer-live")
    remembered = load_choice(settings)
    choice = SourceChoice(frame or remembered.frame, gaze or remembered.gaze,
                          model if model is not None else remembered.model, remembered.max_faces, remembered.fer_box)
    win = MainWindow(real_controller(choice, gaze_columns, eye_params), settings=settings)
    win.show()

    def begin():
        if review:  # a session that cannot be opened is said in a box; nothing else starts
            if win.open_session(review) and review_speed:
                win.review.speed.setCurrentText(review_speed)
        else:
            win.start()
        if presentation:
            win.toggle_presentation()

    QTimer.singleShot(0, begin)
    if screenshot:
        def shoot():
            target = win.presentation if (presentation and win.presentation is not None) else win
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            win.timeseries.flush(force=True)  # the newest points, not those of the last timed redraw
            ok = target.grab().save(screenshot)
            print(f"screenshot {'written to' if ok else 'FAILED:'} {screenshot}")
            win.close()
            app.exit(0 if ok else 1)

        QTimer.singleShot(int(after_s * 1000), shoot)
    return app.exec()
