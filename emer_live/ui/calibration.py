"""Eye tracker set-up on the participant's screen: the user position guide (where the eyes are
in the track box), screen-based calibration through the Tobii SDK's ScreenBasedCalibration
(5 points, or 9), then validation with accuracy and precision in degrees per point.

Runs on the GUI thread, one step per timer tick; SDK callbacks (other threads) only append to
deques. The result dict is emitted with `finished` for the recorder to store with the session."""

from __future__ import annotations

from collections import deque

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QWidget

from emer_live.clock import now_ns
from emer_live.types import raw_from_sdk_dict
from emer_live.ui import theme
from emer_live.ui.theme import qcolor
from emer_live.ui.validation import POINTS, summarise, validate_point

try:
    import tobii_research as tr

    GAZE_DATA, USER_POSITION = tr.EYETRACKER_GAZE_DATA, tr.EYETRACKER_USER_POSITION_GUIDE
    SUCCESS = tr.CALIBRATION_STATUS_SUCCESS
except ImportError:  # SDK wheels exist for Python 3.10 only; these are its constant values
    tr = None
    GAZE_DATA, USER_POSITION = "eyetracker_gaze_data", "eyetracker_user_position_guide"
    SUCCESS = "calibration_status_success"


def sdk_calibration(eyetracker):
    """The real calibration object for a tobii_research.EyeTracker."""
    if tr is None:
        raise RuntimeError("the Tobii Pro SDK (tobii-research) is not installed")
    return tr.ScreenBasedCalibration(eyetracker)


class CalibrationWindow(QWidget):
    finished = Signal(dict)

    def __init__(self, eyetracker, calibration=None, n_points: int = 5, dwell_ms: int = 800,
                 collect_ms: int = 1000, parent=None):
        super().__init__(parent, Qt.Window)
        self.setWindowTitle("EMER Live — eye tracker set-up")
        self.tracker = eyetracker
        self.calibration = calibration if calibration is not None else sdk_calibration(eyetracker)
        self.n_points = n_points
        self.dwell_ms, self.collect_ms = dwell_ms, collect_ms
        self.stage = "position"
        self.message = ""
        self.current_target: tuple[float, float] | None = None
        self.position = None  # latest user position guide dict
        self.gaze: deque = deque(maxlen=4000)
        self.validation: list[dict] = []
        self.result: dict | None = None
        self._queue: list = []
        self._subscribed: set = set()
        self._calibrating = False
        self.setFocusPolicy(Qt.StrongFocus)

    # --- SDK plumbing --------------------------------------------------------------------
    def _subscribe(self, what, cb) -> None:
        self.tracker.subscribe_to(what, cb, as_dictionary=True)
        self._subscribed.add((what, cb))

    def _unsubscribe_all(self) -> None:
        for what, cb in list(self._subscribed):
            try:
                self.tracker.unsubscribe_from(what, cb)
            except Exception:  # tracker already gone: nothing left to release
                pass
        self._subscribed.clear()

    def _on_position(self, d) -> None:  # SDK thread
        self.position = d

    def _on_gaze(self, d) -> None:  # SDK thread
        self.gaze.append(raw_from_sdk_dict(d))

    # --- flow --------------------------------------------------------------------------
    def start(self) -> None:
        self.stage = "position"
        self.start_message()
        self._subscribe(USER_POSITION, self._on_position)
        self._poll = QTimer(self, interval=50, timeout=self.update)
        self._poll.start()

    def begin_calibration(self) -> None:
        self._unsubscribe_all()
        self.validation.clear()
        try:
            self.calibration.enter_calibration_mode()
            self._calibrating = True
        except Exception as e:
            return self._fail(f"could not enter calibration mode: {e}")
        self.stage = "calibrating"
        self.message = "Look at the dot"
        self._queue = list(POINTS[self.n_points])
        self._next_calibration_point()

    def _next_calibration_point(self) -> None:
        if not self._queue:
            return self._compute()
        self.current_target = self._queue[0]
        self.update()
        QTimer.singleShot(self.dwell_ms, self._collect_calibration_point)

    def _collect_calibration_point(self) -> None:
        if self.stage != "calibrating":
            return
        x, y = self._queue.pop(0)
        try:
            if self.calibration.collect_data(x, y) != SUCCESS:  # the SDK's advice: try a point twice
                self.calibration.collect_data(x, y)
        except Exception as e:
            return self._fail(f"collecting calibration data failed: {e}")
        self._next_calibration_point()

    def _compute(self) -> None:
        self.stage, self.current_target, self.message = "computing", None, "Computing calibration…"
        self.update()
        try:
            result = self.calibration.compute_and_apply()
            status = result.status
        except Exception as e:
            return self._fail(f"computing the calibration failed: {e}")
        finally:
            self._leave()
        if status != SUCCESS:
            return self._fail(f"calibration did not succeed ({status.replace('calibration_status_', '')})")
        self._calibration_status = status
        self.stage, self.message = "validating", "Validation: look at the dot"
        self._subscribe(GAZE_DATA, self._on_gaze)
        self._queue = list(POINTS[self.n_points])
        self._next_validation_point()

    def _leave(self) -> None:
        if self._calibrating:
            self._calibrating = False
            try:
                self.calibration.leave_calibration_mode()
            except Exception:  # connection lost: calibration mode ends with it
                pass

    def _next_validation_point(self) -> None:
        if not self._queue:
            return self._done()
        self.current_target = self._queue[0]
        self.update()
        # settle for dwell_ms, then keep collect_ms of samples
        QTimer.singleShot(self.dwell_ms, self.gaze.clear)
        QTimer.singleShot(self.dwell_ms + self.collect_ms, self._validate_point)

    def _validate_point(self) -> None:
        if self.stage != "validating":
            return
        point = self._queue.pop(0)
        raw = np.array(list(self.gaze)) if self.gaze else np.zeros((0, 30))
        self.validation.append(validate_point(raw, point, self.tracker.get_display_area()))
        self._next_validation_point()

    def _done(self) -> None:
        self._unsubscribe_all()
        self.stage, self.current_target = "done", None
        summary = summarise(self.validation)
        self.result = {"host_ns": now_ns(), "n_points": self.n_points, "status": self._calibration_status,
                       "tracker": str(getattr(self.tracker, "serial_number", "")), **summary}
        self.message = (f"Accuracy {summary['mean_accuracy_deg']:.2f}°, precision (RMS) "
                        f"{summary['mean_precision_rms_deg']:.2f}°  ·  Space: done · R: calibrate again")
        self.update()
        self.finished.emit(self.result)

    def _fail(self, why: str) -> None:
        self._leave()
        self._unsubscribe_all()
        self.stage, self.current_target = "failed", None
        self.message = f"{why}.  R: try again · Esc: cancel"
        self.update()

    def cancel(self) -> None:
        self.stage = "cancelled"
        self._leave()
        self._unsubscribe_all()
        self.close()

    # --- input and drawing -------------------------------------------------------------
    def keyPressEvent(self, event):
        key = event.key()
        if key == Qt.Key_Escape:
            self.cancel()
        elif key in (Qt.Key_5, Qt.Key_9) and self.stage == "position":
            self.n_points = 5 if key == Qt.Key_5 else 9
            self.start_message()
        elif key == Qt.Key_Space and self.stage == "position":
            self.begin_calibration()
        elif key == Qt.Key_Space and self.stage == "done":
            self.close()
        elif key == Qt.Key_R and self.stage in ("done", "failed"):
            self.begin_calibration()
        else:
            super().keyPressEvent(event)

    def start_message(self) -> None:
        self.message = f"Sit so both eyes are green and centred. Space: calibrate ({self.n_points} points) · 5 / 9: points · Esc: cancel"
        self.update()

    def closeEvent(self, event):
        self._leave()
        self._unsubscribe_all()
        super().closeEvent(event)

    def paintEvent(self, _):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), qcolor("#3b3d42"))  # mid grey: pupils neither huge nor tiny
        w, h = self.width(), self.height()
        if self.stage == "position":
            self._paint_position(p)
        if self.current_target is not None:
            c = QPointF(self.current_target[0] * w, self.current_target[1] * h)
            p.setPen(Qt.NoPen)
            p.setBrush(qcolor(theme.TEXT))
            p.drawEllipse(c, 16, 16)
            p.setBrush(qcolor("#101214"))
            p.drawEllipse(c, 4, 4)
        if self.stage == "done":
            self._paint_results(p)
        p.setPen(qcolor(theme.TEXT))
        p.setFont(theme.font(20, True))
        # below the track box while positioning; else between target rows (0.1 / 0.5 / 0.9)
        y = h - 70 if self.stage == "position" else h * 0.3 - 25
        p.drawText(QRectF(0, y, w, 50), Qt.AlignCenter, self.message)

    def _paint_position(self, p: QPainter) -> None:
        w, h = self.width(), self.height()
        box = QRectF(w * 0.3, h * 0.2, w * 0.4, h * 0.5)
        p.setPen(QPen(qcolor(theme.MUTED), 2))
        p.setBrush(Qt.NoBrush)
        p.drawRect(box)
        p.setFont(theme.font(16))
        p.drawText(QRectF(box.x(), box.y() - 30, box.width(), 24), Qt.AlignCenter, "track box")
        d = self.position or {}
        for eye in ("left", "right"):
            pos, valid = d.get(f"{eye}_user_position"), d.get(f"{eye}_user_position_validity")
            if not valid or pos is None or any(v != v for v in pos):
                continue
            x, y, z = pos
            # x runs to the user's left in track-box coordinates: mirror it, like a mirror image
            c = QPointF(box.x() + (1 - x) * box.width(), box.y() + y * box.height())
            good = abs(z - 0.5) < 0.15 and 0.15 < x < 0.85 and 0.15 < y < 0.85
            p.setBrush(qcolor(theme.OK if good else theme.WARN))
            p.setPen(Qt.NoPen)
            p.drawEllipse(c, 10 + 30 * (1 - z), 10 + 30 * (1 - z))
        if not d:
            p.drawText(box, Qt.AlignCenter, "no eyes found yet")

    def _paint_results(self, p: QPainter) -> None:
        w, h = self.width(), self.height()
        p.setFont(theme.font(15, True))
        for v in self.validation:
            c = QPointF(v["x"] * w, v["y"] * h)
            p.setPen(QPen(qcolor(theme.TEXT), 2))
            p.drawLine(c + QPointF(-10, 0), c + QPointF(10, 0))
            p.drawLine(c + QPointF(0, -10), c + QPointF(0, 10))
            acc, prec = v["accuracy_deg"], v["precision_rms_deg"]
            text = "no data" if acc != acc else f"{acc:.2f}° / {prec:.2f}°"
            p.setPen(qcolor(theme.OK if acc == acc and acc < 1.0 else theme.WARN))
            p.drawText(QRectF(c.x() - 90, c.y() + 14, 180, 22), Qt.AlignCenter, text)
