"""Start the desktop app: QApplication, main window, optional presentation mode and screenshot."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from emer_live.ui.controller import SourceChoice, real_controller
from emer_live.ui.fit import PREFERRED, fit_to_screen, keep_frame_inside
from emer_live.ui.main_window import MainWindow, load_choice

FIRST_PAINT_WAIT_MS = 1000  # a platform that never reports the first paint still starts by then


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("EMER Live")
    app.setApplicationName("emer-live")
    if not hasattr(app, "_gui_thread_gc"):
        app._gui_thread_gc = _GuiThreadCollector(app)
    return app


class _GuiThreadCollector(QObject):
    """Python's cycle collector runs in whichever thread happens to allocate; when that is a worker
    (the session writer, the live runner's threads) and the garbage holds Qt widgets, their
    destructors run off the GUI thread and can deadlock or crash Qt. So automatic collection is
    off, and this collects on a GUI timer, each generation once its count passes the threshold the
    automatic collector would have used. (pyqtgraph has the same helper; importing pyqtgraph for
    it would delay the first paint.)"""

    def __init__(self, parent: QObject, interval_ms: int = 1000):
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self, interval=interval_ms, timeout=self._collect)
        self._timer.start()

    def _collect(self) -> None:
        oldest = None  # the oldest generation due: each is due once it and all younger ones are over
        for generation, (count, threshold) in enumerate(zip(gc.get_count(), self._thresholds)):
            if count <= threshold:
                break
            oldest = generation
        if oldest is not None:
            gc.collect(oldest)


class _FirstPaint(QObject):
    """Calls `then` once, right after `widget` has been painted for the first time: loading the model
    and opening the sources block for seconds, and a window must not stay black meanwhile."""

    def __init__(self, widget: QWidget, then):
        super().__init__(widget)
        self._then = then
        widget.installEventFilter(self)
        QTimer.singleShot(FIRST_PAINT_WAIT_MS, self._fire)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint and self._then is not None:
            QTimer.singleShot(0, self._fire)  # after this paint reaches the screen
        return False

    def _fire(self):
        then, self._then = self._then, None
        if then is not None:
            then()


def after_first_paint(widget: QWidget, then) -> QObject:
    return _FirstPaint(widget, then)


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
                          model if model is not None else remembered.model, remembered.max_faces, remembered.fer_box,
                          "" if gaze else remembered.gaze_columns)
    win = MainWindow(real_controller(choice, gaze_columns, eye_params), settings=settings)
    win.load_in_background = True  # the window stays responsive while the model loads
    if app.platformName() == "offscreen":  # a picture with no screen: the layout's own size
        win.resize(PREFERRED)
    else:
        fit_to_screen(win)
    win.headline.setText("Opening " + ("the session" if review else "the sources and loading the model") + "…")
    win.show()

    def begin():
        win.timeseries.build()  # the plots (pyqtgraph) once the window is on screen
        if app.platformName() != "offscreen":
            keep_frame_inside(win)  # the frame's borders are known now
        if review:  # a session that cannot be opened is said in a box; nothing else starts
            if win.open_session(review) and review_speed:
                win.review.speed.setCurrentText(review_speed)
        else:
            win.start()
        if presentation:
            win.toggle_presentation()

    after_first_paint(win, begin)  # the window is on screen first, then the slow start
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
