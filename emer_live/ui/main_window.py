"""The experimenter's window. A QTimer polls LiveRunner.snapshot() and predictions_since() (in
review, the SessionPlayer's), hands them to the window's models (emer_live/window_model/: what
each panel, the headline and the recording bar must say) and draws their answers; capture, face,
gaze and inference run in the runner's threads, so a slow model or a lost device never blocks
drawing. Every failure lands in the affected panel with a one-click recovery."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

from emer_live.clock import now_ns
from emer_live.types import SourceEvent
from emer_live.ui import theme
from emer_live.ui.controller import LiveController, SwitchableSink
from emer_live.ui.loading import BackgroundStart
from emer_live.ui.presentation import PresentationWindow
from emer_live.ui.recording_actions import RecordingActions
from emer_live.ui.review_actions import ReviewActions
from emer_live.ui.settings import load_choice, rememberable, save_choice  # noqa: F401  (imported from here too)
from emer_live.ui.setup_actions import SetupActions
from emer_live.window_model.text import model_caveat
from emer_live.ui.window_layout import WindowLayout
from emer_live.window_model.panels import FER_STALE_S, PanelModel, start_failure_headline
from emer_live.window_model.recording import RecordingModel


class MainWindow(WindowLayout, BackgroundStart, RecordingActions, ReviewActions, SetupActions, QMainWindow):
    # Errors raised on worker threads reach the GUI thread through this queued signal.
    worker_error = Signal(str)
    background_done = Signal(str)
    # A recording that stops on a write error (disk full, folder gone), told from the writer thread.
    recording_failed = Signal(str)

    def __init__(self, controller: LiveController, settings: QSettings | None = None, draw_hz: float = 30.0,
                 tracker_provider: Callable | None = None, calibration_factory: Callable | None = None,
                 discover: Callable | None = None, fer_stale_s: float = FER_STALE_S):
        super().__init__()
        self.model = PanelModel(fer_stale_s)  # every panel's state: the window only draws it
        self.recording = RecordingModel()
        self.worker_error.connect(self.show_error)
        self.background_done.connect(lambda text: self.say(text, 15000))
        self.recording_failed.connect(self.show_recording_failed)
        self.setWindowTitle("EMER Live")
        self.setStyleSheet(theme.STYLESHEET)
        self.controller = controller
        self.settings = settings or QSettings("EMER Live", "emer-live")
        self.sink = SwitchableSink()
        if self.sink not in controller.sinks:
            controller.sinks.append(self.sink)
        self.tracker_provider = tracker_provider or self._tracker_from_source
        self.calibration_factory = calibration_factory  # None: the SDK's ScreenBasedCalibration
        self.discover = discover
        self.session = None  # RecordingSession while recording
        self.calibration_result: dict | None = None
        self.presentation: PresentationWindow | None = None
        self.calibration_window = None
        self.dialog = None  # the open non-modal dialog, if any
        self.frames_drawn = 0
        self._last_frame = None
        self.prediction_state = None  # the ER panels' state as last drawn
        self.replay: dict | None = None  # {"name", "devices", "path"} while a recorded session plays
        self.player = None  # SessionPlayer in review mode: it stands in for the runner
        self.review_model = None  # ReviewModel in review mode: feeds the player into self.model
        self._closers: list[threading.Thread] = []  # sessions being closed off the GUI thread
        self._window_closing = False
        self.review = None  # ReviewPanel in review mode
        self._rec_dock_before_review = False
        self._build()
        self._build_actions()
        self.timer = QTimer(self, interval=max(1, int(1000 / draw_hz)), timeout=self.tick)
        self.resize(1600, 940)

    # --- running -------------------------------------------------------------------------
    def start(self, background: bool | None = None) -> bool:
        """background (default: load_in_background): the model loads off the GUI thread and this
        returns False at once; the outcome lands in _started."""
        self._reset_views()
        was_running = self.controller.running
        if self.session is not None:
            if was_running:
                self._session_event("paused", "the sources restart (same set-up)")
            self.sink.new_run()  # frame_index goes on rising in the session
        if self.load_in_background if background is None else background:
            self.start_in_background()
            return False
        return self._started(self.controller.start())

    def _started(self, ok: bool) -> bool:
        if self.session is not None:
            self._session_event("resumed" if ok else "paused",
                                "the sources run again" if ok else "the sources could not be restarted")
        self.actions_by_name["start"].setChecked(ok)
        self._show_start_notices()
        self.timer.start()
        return ok

    def stop(self) -> None:
        self.controller.stop()
        if self.session is not None:
            self._session_event("paused", "live view stopped by the experimenter; the recording holds no data until it resumes")
        self.actions_by_name["start"].setChecked(False)
        self.headline.setText("Stopped — Space starts again")

    def _session_event(self, kind: str, message: str) -> None:
        """A pause or restart is part of the recorded session (events.jsonl) and of its list here."""
        t = now_ns()
        self.session.sink.on_event(SourceEvent(t, "app", kind, message))
        self.log_session_item(t, kind, message)

    def restart(self) -> bool:
        if self.player is not None:  # "Play again" in a review: from the start
            self.player.seek(0.0)
            self.player.play()
            return True
        return self.start()

    def toggle_running(self) -> None:
        if self.player is not None:  # Space pauses and resumes a review
            self.player.toggle()
            self.actions_by_name["start"].setChecked(self.player.playing)
            return
        if self.controller.running or self.controller.loading:  # Space while loading: cancelled
            self.stop()
        else:
            self.start()

    def _reset_views(self) -> None:
        """Forget everything drawn from the previous run, so nothing old reads as current."""
        self._last_frame = None
        self.model.reset()
        self.fer_head.three_caption = self.model.fer.caption
        self.timeseries.reset()
        self.circumplex.clear()
        self.video.clear()
        self.gaze.clear()
        self.fer_head.set_head(None)
        self.er_head.set_head(None)
        self.headline.setText("Starting…")
        if self.presentation is not None:
            self.presentation.clear()

    def _show_start_notices(self) -> None:
        for key in ("camera", "gaze"):
            n = self.controller.notices.get(key)
            self.panels[key].set_notice(n.text if n else "", n.action if n else None)
            if n:
                self._warn(self.panels[key].notice)
        m = self.controller.notices.get("model")
        self._set_model_notice(m.text if m else "", m.action if m else None)
        if self.controller.notices:
            self.headline.setText(start_failure_headline(self.controller.notices))
            self.show_error(next(iter(self.controller.notices.values())).text)

    def _model_action(self) -> None:
        if self.model_button.text() == "Use default model":
            self.controller.choice = replace(self.controller.choice, model="")
        self.start()

    # --- drawing: the runner's (or the review player's) snapshot into self.model, its answers onto the widgets
    def _running(self) -> bool:
        return self.player is not None or self.controller.running

    @property
    def last_prediction(self):
        return self.model.last_prediction

    def tick(self) -> None:
        if self.review_model is not None:
            if self.review_model.advance():  # into another run, a pause, or sought back...
                self._reset_views()  # ...redraws from scratch
            self._draw(*self.review_model.feed())
        elif self.controller.runner is not None:
            runner = self.controller.runner
            state, predictions = runner.snapshot(), runner.predictions_since(self.model.seq)
            self._draw(state, predictions, self.model.feed(state, predictions, time.monotonic()))
            self._check_busy()
        self.timeseries.flush()
        self.update_states()
        self._update_rec_label()
        if self.review is not None:
            self.review.refresh()
        self.frames_drawn += 1

    def _draw(self, state, predictions, said: list[str]) -> None:
        """A snapshot and its new predictions onto the widgets, as self.model (already fed) reads them."""
        if state.frame is not None and state.frame is not self._last_frame:
            self._last_frame = state.frame
            self.video.set_frame(state.frame, state.face)
        if state.gaze_recent is not None:
            self.gaze.set_gaze(state.gaze_recent)
        for text in said:
            self.say(text)
        for p in predictions:
            self.timeseries.add(p)
            self.circumplex.add(p)
        if predictions:
            self.timeseries.redraw_soon()
        self._draw_reading(self.fer_head, self.model.fer)
        self.er_head.set_head(self.model.er.head)
        for key in ("camera", "gaze"):
            text, action, bad = self.model.source_notice(key)
            self.panels[key].set_notice(text, action)
            if bad:
                self._warn(self.panels[key].notice)
            else:
                self.panels[key].notice.setStyleSheet(f"color: {theme.MUTED}; background: transparent;")
        model_problem = self.model.problems.get("model")
        if model_problem:
            self._set_model_notice(*model_problem)
        elif not self.model_button.isVisible() or self.model_button.text() != "Use default model":
            self._set_model_notice(self.model.panels.get("model", ""), None, bad=False)
        for key, text in self.model.status_texts(self._busy_s()).items():
            if self.status_labels[key].text() != text:
                self.status_labels[key].setText(text)
                if key == "model":
                    self.status_labels[key].setToolTip(str(self.model.stats.get("model_provenance") or ""))

    @staticmethod
    def _draw_reading(canvas, reading) -> None:
        canvas.three_caption = reading.caption
        canvas.set_head(reading.head, stale=reading.stale, note=reading.note)

    def banner_text(self) -> str:
        r = self.controller.resolved
        return self.model.banner(r.frame if r else "", r.gaze if r else "", self.replay)

    def update_states(self) -> None:
        """Give every panel the state self.model says; values that are not current are greyed with
        the reason, so nothing old or waiting reads as now."""
        if self.controller.loading and self.review_model is None:  # every panel says so (ui/loading.py)
            return self.show_loading()
        if self.review_model is not None:
            view = self.review_model.view()
        else:
            view = self.model.view(running=self._running(), now_s=time.monotonic(), replay=self.replay is not None,
                                   notices=self.controller.notices)
        if not view.running:
            self._clear_live_figures()
        self.prediction_state = view.er
        for key, state in view.states.items():
            self.panels[key].set_state(state)
        if view.headline is not None and self.headline.text() != view.headline:
            self.headline.setText(view.headline)
        title, tip = view.er_title
        if self.panels["er"].title.toolTip() != tip:
            self.panels["er"].title.setText(title.upper())
            self.panels["er"].title.setToolTip(tip)
        banner = self.banner_text()
        self.banner.setText(banner)
        self.banner.setVisible(bool(banner))
        if self.presentation is not None:
            self.presentation.show_state(view.er, self.model.last_prediction, banner, model_caveat(self.model.stats))

    def _clear_live_figures(self) -> None:
        """Stopped: no rate, latency or "live" note stays on screen as if it were current."""
        for key in ("camera", "gaze", "latency", "inference"):
            if self.status_labels[key].text():
                self.status_labels[key].setText("")
        for key in ("camera", "gaze"):
            if key not in self.model.problems and key not in self.controller.notices:
                self.panels[key].set_notice("")

    def _busy_s(self) -> float | None:
        """Seconds without a new prediction while the live inputs still run (None: not busy)."""
        if self.controller.runner is None or self.player is not None:
            return None
        return self.model.busy_s(time.monotonic())

    def _check_busy(self) -> None:
        busy = self._busy_s()
        if busy is not None and "model" not in self.model.problems:
            self._set_model_notice(f"model busy for {busy:.1f} s", None)

    def _set_model_notice(self, text: str, action: str | None, bad: bool = True) -> None:
        self.model_notice.setText(text)
        self.model_notice.setStyleSheet(f"color: {theme.WARN if bad else theme.MUTED};")
        self.model_button.setVisible(bool(action))
        if action:
            self.model_button.setText(action)

    def say(self, text: str, ms: int = 6000) -> None:
        """Feedback to the experimenter on its own full-width line (never cut by the status bar's
        figures); it fades after `ms`. The last messages stay in its tooltip."""
        self._show_feedback(text)
        self._said.append(time.strftime("%H:%M:%S ") + text)
        del self._said[:-8]
        self.feedback.setToolTip("\n".join(self._said))
        self._feedback_timer.start(ms)

    def _show_feedback(self, text: str) -> None:
        self.feedback.setText(text)
        self.feedback.setVisible(bool(text))

    @staticmethod
    def _warn(label: QLabel) -> None:
        label.setStyleSheet(f"color: {theme.WARN}; background: transparent; font-weight: 600;")

    def show_error(self, text: str) -> None:
        """A non-blocking message box: the live view keeps drawing behind it. One at a time: a
        second message replaces the first instead of stacking boxes."""
        box = getattr(self, "last_error_box", None)
        try:
            if box is not None and box.isVisible():
                box.setText(text)
                box.raise_()
                return
        except RuntimeError:  # deleted on close
            pass
        box = QMessageBox(QMessageBox.Warning, "EMER Live", text, QMessageBox.Ok, self)
        box.setModal(False)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.show()
        self.last_error_box = box

    def show_recording_failed(self, text: str) -> None:
        """A recording that stopped: a red banner across the window (until the next recording)
        and a message box, the moment the writer fails."""
        self.recording_banner = text
        self.rec_banner.setText(f"RECORDING FAILED: {text}")
        self.rec_banner.show()
        self.show_error(text)

    # --- experimenter actions --------------------------------------------------------------
    def toggle_landmarks(self) -> None:
        self.video.show_landmarks = not self.video.show_landmarks
        self.actions_by_name["landmarks"].setChecked(self.video.show_landmarks)
        self.video.update()

    def toggle_heatmap(self) -> None:
        self.gaze.heatmap = not self.gaze.heatmap
        self.actions_by_name["heatmap"].setChecked(self.gaze.heatmap)
        self.gaze.update()

    def toggle_help(self) -> None:
        self.help.toggle()

    def toggle_presentation(self) -> None:
        if self.presentation is not None:
            self.presentation.close()
            return
        self.presentation = PresentationWindow()
        self.presentation.closed.connect(self._presentation_closed)
        if self.last_prediction is not None:
            self.update_states()
        self.presentation.showFullScreen()
        self.actions_by_name["present"].setChecked(True)

    def _presentation_closed(self) -> None:
        self.presentation = None
        self.actions_by_name["present"].setChecked(False)

    # --- lifetime ------------------------------------------------------------------------
    COMPACT_BELOW_PX = 1500  # narrower: toolbar buttons drop their key hints (kept in the tooltips)

    def resizeEvent(self, event):
        compact = event.size().width() < self.COMPACT_BELOW_PX
        for name, act in self.actions_by_name.items():
            data = act.data()
            if data and name != "quit":
                act.setText(data[0] if compact else f"{data[0]}  [{data[1]}]")
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.centralWidget().rect())

    def closeEvent(self, event):
        self.timer.stop()
        self._window_closing = True
        for closer in self._closers:
            closer.join(10.0)
        if self.player is not None:
            self.player.close()
        if self.session is not None:
            session, self.session = self.session, None
            self.sink.target = None
            self._close_session(session)
        self.controller.stop()
        for w in (self.presentation, self.calibration_window):
            if w is not None:
                w.close()
        super().closeEvent(event)
