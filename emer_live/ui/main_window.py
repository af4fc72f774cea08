"""The experimenter's window. A QTimer polls LiveRunner.snapshot() and predictions_since() and
draws only the latest state; capture, face, gaze and inference run in the runner's threads, so
a slow model or a lost device never blocks drawing. Every failure lands in the affected panel
with a one-click recovery."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (QDockWidget, QGridLayout, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from emer_live.clock import now_ns
from emer_live.types import SourceEvent
from emer_live.pipeline.frame_fer import head_of
from emer_live.ui import theme
from emer_live.ui.controller import LiveController, SwitchableSink
from emer_live.ui.loading import BackgroundStart
from emer_live.ui.overlay import HelpOverlay
from emer_live.ui.panels import CircumplexCanvas, ElidedLabel, GazeCanvas, HeadCanvas, Panel, VideoCanvas
from emer_live.ui.presentation import PresentationWindow
from emer_live.ui.recording_actions import RecordingActions
from emer_live.ui.recording_panel import RecordingPanel
from emer_live.ui.review_actions import ReviewActions
from emer_live.ui.settings import load_choice, rememberable, save_choice  # noqa: F401  (imported from here too)
from emer_live.ui.setup_actions import SetupActions
from emer_live.ui.states import (COLLECTING, ENDED, ERROR, LIVE, NO_FACE, REPLAY, UNRELIABLE, PanelState,
                                 prediction_state, source_state, stopped)
from emer_live.ui.text import (er_title, input_banner, model_caveat, no_fer_headline, paused_reason, reading_headline,
                               status_texts, with_model_note)
from emer_live.ui.timeseries import LEGEND_HTML, TimeSeries

# Which panel a SourceEvent belongs to, by the source that reported it.
_EVENT_PANEL = {"camera": "camera", "video": "camera", "demo": "camera", "frame": "camera",
                "tobii": "gaze", "tsv": "gaze", "simulated": "gaze", "gaze": "gaze", "replay": "gaze",
                "model": "model", "engine": "model", "inference": "model"}
_PROBLEM = {"connection_lost": "Reconnect", "error": "Restart", "end_of_stream": "Play again"}
BUSY_AFTER_S = 2.0  # no new prediction for this long (after the first) = the model is busy
FER_STALE_S = 1.0  # no face for this long: the FER panel greys (its last reading is no longer current)

PLOTS_MIN_PX = 230  # the three time-series plots keep a useful height even at 1280x720


class MainWindow(BackgroundStart, RecordingActions, ReviewActions, SetupActions, QMainWindow):
    # Errors raised on worker threads reach the GUI thread through this queued signal.
    worker_error = Signal(str)
    background_done = Signal(str)
    # A recording that stops on a write error (disk full, folder gone), told from the writer thread.
    recording_failed = Signal(str)

    def __init__(self, controller: LiveController, settings: QSettings | None = None, draw_hz: float = 30.0,
                 tracker_provider: Callable | None = None, calibration_factory: Callable | None = None,
                 discover: Callable | None = None, fer_stale_s: float = FER_STALE_S):
        super().__init__()
        self.fer_stale_s = fer_stale_s
        self._frame_fer = None  # the per-frame FER last drawn
        self._last_face_fer = None  # the newest per-frame FER that had a face
        self._last_face_head = None  # its readout, as drawn
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
        self.markers_placed = 0
        self.stimulus_n = 0
        self.stimulus_open = False
        self.last_prediction = None
        self._seq = -1
        self._last_frame = None
        self._last_pred_wall: float | None = None
        self._seen_event_ns = -1
        self._problems: dict[str, tuple[str, str]] = {}
        self._mark_ns: int | None = None  # start of the segment a self-assessment rates
        self._stats: dict = {}
        self._panels: dict = {}
        self._skips: dict = {}
        self._skip_reason = ""
        self._ended: list[str] = []  # the inputs seen to end, in order ("video", "gaze")
        self.prediction_state = None
        self.replay: dict | None = None  # {"name", "devices", "path"} while a recorded session plays
        self.player = None  # SessionPlayer in review mode: it stands in for the runner
        self._closers: list[threading.Thread] = []  # sessions being closed off the GUI thread
        self._window_closing = False
        self.review = None  # ReviewPanel in review mode
        self._rec_dock_before_review = False
        self._generation = 0
        self._build()
        self._build_actions()
        self.timer = QTimer(self, interval=max(1, int(1000 / draw_hz)), timeout=self.tick)
        self.resize(1600, 940)

    # --- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.video = VideoCanvas()
        self.gaze = GazeCanvas()
        self.fer_head = HeadCanvas(theme.FER, empty_text="no face yet")
        self.er_head = HeadCanvas(theme.ER)
        self.circumplex = CircumplexCanvas()
        self.timeseries = TimeSeries()
        self.panels = {
            "camera": Panel("Face video", self.video),
            "gaze": Panel("Participant screen · gaze", self.gaze),
            "fer": Panel("FER · per frame", self.fer_head),
            "er": Panel(er_title({})[0], self.er_head),
            "circumplex": Panel("Valence · arousal", self.circumplex),
            "timeseries": Panel("ER vs FER over time · gap", self.timeseries, legend=LEGEND_HTML),
        }
        self.panels["fer"].title.setStyleSheet(f"color: {theme.FER};")
        self.panels["er"].title.setStyleSheet(f"color: {theme.ER};")
        self.panels["camera"].action.connect(self.restart)
        self.panels["gaze"].action.connect(self.restart)
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.rec_banner = QLabel("")  # a recording that failed: impossible to miss
        self.rec_banner.setObjectName("failure")
        self.rec_banner.setWordWrap(True)
        self.rec_banner.hide()
        self.headline = ElidedLabel("Starting…", Qt.AlignLeft | Qt.AlignVCenter)
        self.headline.setObjectName("headline")
        self.feedback = QLabel("")
        self.feedback.setObjectName("feedback")
        self.feedback.setWordWrap(True)
        self.feedback.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.feedback.setMinimumWidth(200)
        self.feedback.hide()  # shown only while it has something to say: the headline gets its room
        self._said: list[str] = []
        self._feedback_timer = QTimer(self, singleShot=True, timeout=lambda: self._show_feedback(""))
        self.model_notice = ElidedLabel("")
        self.model_button = QPushButton("")
        self.model_button.hide()
        self.model_button.clicked.connect(self._model_action)
        head = QHBoxLayout()
        head.addWidget(self.headline, 5)  # the line a glance reads: most of the width
        head.addWidget(self.feedback, 2)  # beside the headline: up to two lines, never cut
        head.addWidget(self.model_notice, 2)
        head.addWidget(self.model_button)
        grid = QGridLayout()
        grid.setSpacing(8)
        grid.addWidget(self.panels["camera"], 0, 0)
        grid.addWidget(self.panels["fer"], 0, 1)
        grid.addWidget(self.panels["er"], 0, 2)
        grid.addWidget(self.panels["circumplex"], 0, 3)
        grid.addWidget(self.panels["gaze"], 1, 0)
        grid.addWidget(self.panels["timeseries"], 1, 1, 1, 3)
        for col, stretch in enumerate((4, 3, 3, 3)):
            grid.setColumnStretch(col, stretch)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        self.timeseries.setMinimumHeight(PLOTS_MIN_PX)  # three plots of a useful height, even at 1280x720
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.rec_banner)
        lay.addWidget(self.banner)  # DEMO / SIMULATED / RECORDED GAZE / REPLAY: its own full-width line
        lay.addLayout(head)
        lay.addLayout(grid, 1)
        self.setCentralWidget(central)
        self.status_labels = {k: QLabel("") for k in ("camera", "gaze", "latency", "inference", "provider")}
        # the model's name shrinks (with "…" and a tooltip) before the window has to grow
        self.status_labels["model"] = ElidedLabel("", Qt.AlignLeft | Qt.AlignVCenter)
        self.status_labels["model"].setMinimumWidth(120)
        self.rec_label = QLabel("")
        self.rec_label.setStyleSheet(f"color: {theme.BAD}; font-weight: 700;")
        # no messages in the status bar (they have their own line): its width goes to the figures
        self.statusBar().setSizeGripEnabled(False)
        self.statusBar().addWidget(self.rec_label)
        for key, lab in self.status_labels.items():
            self.statusBar().addWidget(lab, 1 if key == "model" else 0)
        self.help = HelpOverlay(central)
        self.rec_panel = RecordingPanel()
        self.rec_dock = QDockWidget("Recording", self)
        self.rec_dock.setObjectName("recording")
        self.rec_dock.setWidget(self.rec_panel)
        self.rec_dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable)
        self.addDockWidget(Qt.RightDockWidgetArea, self.rec_dock)
        self.rec_dock.hide()  # shown while recording
        self.review_dock = QDockWidget("Review", self)
        self.review_dock.setObjectName("review")
        self.review_dock.setFeatures(QDockWidget.NoDockWidgetFeatures)
        self.review_dock.setTitleBarWidget(QWidget())  # the bar says what it is; no title line
        self.addDockWidget(Qt.BottomDockWidgetArea, self.review_dock)
        self.review_dock.hide()  # shown in review mode
        self.answers_dock = QDockWidget("Self-assessment vs model", self)
        self.answers_dock.setObjectName("answers")
        self.answers_dock.setFeatures(QDockWidget.NoDockWidgetFeatures)
        self.answers_dock.setTitleBarWidget(QWidget())
        self.addDockWidget(Qt.RightDockWidgetArea, self.answers_dock)
        self.answers_dock.hide()  # shown in review mode

    def _build_actions(self) -> None:
        spec = [
            ("start", "Start / stop", "Space", self.toggle_running, "start or stop the live view"),
            ("record", "Record", "R", self.toggle_recording, "start or stop recording a session"),
            ("marker", "Marker", "M", lambda: self.add_marker("note"), "place a marker ('note')"),
            ("stimulus", "Stimulus", "N", self.toggle_stimulus, "begin / end a stimulus"),
            ("assess", "Self-assessment", "A", self.open_self_assessment, "participant's self-assessment (SAM)"),
            ("present", "Presentation", "P", self.toggle_presentation, "presentation mode (Esc leaves)"),
            ("calibrate", "Calibrate", "C", self.open_calibration, "eye tracker: position, calibration, validation"),
            ("sources", "Sources…", "O", self.open_sources, "choose camera, video, tracker, gaze, model"),
            ("open", "Open session…", "Ctrl+O", self.choose_session, "review a recorded session"),
            ("landmarks", "Landmarks", "L", self.toggle_landmarks, "face landmarks on / off"),
            ("heatmap", "Heatmap", "G", self.toggle_heatmap, "gaze heatmap / trail"),
            ("help", "Help", "?", self.toggle_help, "this help"),
            ("quit", "Quit", "Ctrl+Q", self.close, "quit"),
        ]
        toolbar = self.addToolBar("Session")
        toolbar.setMovable(False)
        self.toolbar = toolbar
        self.actions_by_name: dict[str, QAction] = {}
        rows = []
        for name, text, key, slot, what in spec:
            act = QAction(f"{text}  [{key}]" if name != "quit" else text, self)
            act.setData((text, key))
            act.setToolTip(f"{text} ({key}): {what}")
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.WindowShortcut)
            act.triggered.connect(slot)
            if name in ("start", "record", "present", "landmarks", "heatmap"):
                act.setCheckable(True)
            if name != "quit":
                toolbar.addAction(act)
            self.addAction(act)
            self.actions_by_name[name] = act
            rows.append((key, what))
        for i in range(5):  # F1-F5: the recorder's configured marker labels
            act = QAction(self, shortcut=QKeySequence(f"F{i + 1}"))
            act.triggered.connect(lambda _=False, k=f"F{i + 1}": self.add_hotkey_marker(k))
            self.addAction(act)
            self.actions_by_name[f"F{i + 1}"] = act
        rows.insert(3, ("F1–F5", "the configured markers"))
        self._style_overflow(toolbar)
        self.help.set_rows(rows)

    @staticmethod
    def _style_overflow(toolbar) -> None:
        """Qt's overflow button (actions that do not fit) is a dark arrow on a dark bar: give it a
        visible face, so at 1280 px nothing just vanishes."""
        from PySide6.QtWidgets import QToolButton

        ext = toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
        if ext is None:
            return
        pix = QPixmap(12, 24)
        pix.fill(Qt.transparent)
        p = QPainter(pix)
        p.setPen(theme.qcolor(theme.TEXT))
        p.setFont(theme.font(16, True))
        p.drawText(pix.rect(), Qt.AlignCenter, "»")
        p.end()
        ext.setIcon(QIcon(pix))
        ext.setToolTip("more actions")
        ext.setStyleSheet(f"background: {theme.GRID}; border-radius: 3px;")

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
        self._seq, self._last_frame, self._last_pred_wall = -1, None, None
        self._frame_fer = self._last_face_fer = self._last_face_head = None
        self.fer_head.three_caption = "3-class output (its own head)"
        self._problems.clear()
        self._seen_event_ns = -1
        self._skips, self._skip_reason = {}, ""
        self._ended = []
        self.last_prediction = None
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
            panel, first = next(iter(self.controller.notices.items()))
            what = {"model": "the model failed to load", "gaze": "the gaze source cannot be opened"}
            self.headline.setText("Not running: " + what.get(panel, "the face video cannot be opened"))
            self.show_error(first.text)

    def _model_action(self) -> None:
        if self.model_button.text() == "Use default model":
            self.controller.choice = replace(self.controller.choice, model="")
        self.start()

    # --- drawing -------------------------------------------------------------------------
    def _running(self) -> bool:
        return self.player is not None or self.controller.running

    def tick(self) -> None:
        runner = self.player or self.controller.runner
        if self.player is not None:
            self.player.position_s()  # move first: into another run or a pause, or sought back...
            if self.player.generation != self._generation:  # ...redraws from scratch
                self._generation = self.player.generation
                self._reset_views()
        if runner is not None:
            self.apply_state(runner.snapshot())
            self.apply_predictions(runner.predictions_since(self._seq))
            self._check_busy()
        self.timeseries.flush()
        self.update_states()
        self._update_rec_label()
        if self.review is not None:
            self.review.refresh()
        self.frames_drawn += 1

    def apply_state(self, state) -> None:
        if state.frame is not None and state.frame is not self._last_frame:
            self._last_frame = state.frame
            self.video.set_frame(state.frame, state.face)
        if state.gaze_recent is not None:
            self.gaze.set_gaze(state.gaze_recent)
        self._apply_frame_fer(getattr(state, "frame_fer", None), getattr(state, "fer_last_face", None))
        self._apply_events(state.events or [])
        panels = self._panels = state.panels or {}
        stats = self._stats = state.stats or {}
        self._note_skips(stats)
        for which, flag in (("video", "frames_ended"), ("gaze", "gaze_ended")):
            if stats.get(flag) and which not in self._ended:
                self._ended.append(which)
        for key in ("camera", "gaze"):
            problem = self._problems.get(key)
            if problem:
                self.panels[key].set_notice(problem[0], problem[1])
                self._warn(self.panels[key].notice)
            else:
                self.panels[key].set_notice(panels.get(key, ""))
                self.panels[key].notice.setStyleSheet(f"color: {theme.MUTED}; background: transparent;")
        model_problem = self._problems.get("model")
        if model_problem:
            self._set_model_notice(*model_problem)
        elif not self.model_button.isVisible() or self.model_button.text() != "Use default model":
            self._set_model_notice(panels.get("model", ""), None, bad=False)
        busy = self._busy_s()
        texts = status_texts(stats, busy)
        if stats.get("frames_ended"):
            texts["camera"] = "video: input ended"
        if stats.get("gaze_ended"):
            texts["gaze"] = "gaze: input ended"
        for key, text in texts.items():
            if self.status_labels[key].text() != text:
                self.status_labels[key].setText(text)
                if key == "model":
                    self.status_labels[key].setToolTip(str(stats.get("model_provenance") or ""))

    def _note_skips(self, stats: dict) -> None:
        """The pipeline's reason for the newest skipped window, from its growing skip counters."""
        skipped = stats.get("windows_skipped") or {}
        grew = [k for k, v in skipped.items() if k != "superseded" and v > self._skips.get(k, 0)]
        if grew:
            self._skip_reason = grew[-1]
        self._skips = dict(skipped)

    def banner_text(self) -> str:
        r = self.controller.resolved
        return input_banner(self._stats, r.frame if r else "", r.gaze if r else "", self.replay)

    def update_states(self) -> None:
        """Give every panel its state (ui/states.py); values that are not current are greyed with
        the reason, so nothing old or waiting reads as now."""
        if self.controller.loading and self.player is None:  # every panel says so (ui/loading.py)
            return self.show_loading()
        # a reviewed position inside a pause of the recording: stopped, as the live view was then
        paused = self._stats.get("recording_paused") if self.player is not None else None
        stopped_reason = paused_reason(*paused) if paused else ""
        running, replay = self._running() and not paused, self.replay is not None
        stats, panels = self._stats if running else {}, self._panels
        notices = self.controller.notices
        for key in ("camera", "gaze"):
            problem = self._problems.get(key)
            if notices.get(key) is not None:
                st = PanelState(ERROR, notices[key].text)
            elif problem and problem[1] == "Play again":
                st = PanelState(ENDED, problem[0])
            else:
                st = source_state(panels.get(key, ""), running, replay, problem[0] if problem else "", stopped_reason)
            self.panels[key].set_state(st)
        model_text = panels.get("model", "") if running else ""
        model_error = (notices["model"].text if "model" in notices else
                       self._problems.get("model", ("",))[0] or (model_text if model_text.startswith("error") else ""))
        if not running and notices and not model_error:
            model_error = "not running: " + next(iter(notices.values())).text
        if self.player is not None:  # session time, so a paused review stays current
            age = self.player.prediction_age_s() if self.last_prediction is not None else None
        else:
            age = None if self._last_pred_wall is None else time.monotonic() - self._last_pred_wall
        common = dict(running=running, age_s=age, replay=replay, skip_reason=self._skip_reason, model_error=model_error,
                      stopped_reason=stopped_reason, ended_first=self._ended[0] if self._ended else "")
        face_error = panels.get("face", "") if running and not replay else ""
        if face_error.startswith("error"):  # no reading now: the last one must not stay marked live
            fer_state = PanelState(ERROR, face_error.removeprefix("error: "))
        elif self._frame_fer is not None:
            fer_state = self._frame_fer_state(running, replay, stopped_reason)
        elif running and not model_error and self.last_prediction is None and not self._stats.get("frames_ended"):
            # the face is read frame by frame: before the first frame there is nothing to wait 8 s for
            fer_state = PanelState(COLLECTING, "waiting for the first face frame")
        else:
            fer_state = prediction_state(stats, **common)
        if not running:
            self._clear_live_figures()
        er_state = prediction_state(stats, prediction=self.last_prediction, **common)
        self.prediction_state = er_state
        self.panels["fer"].set_state(fer_state)
        for key in ("er", "circumplex", "timeseries"):
            self.panels[key].set_state(er_state)
        p = self.last_prediction
        if er_state.current and p is not None and getattr(p, "fer_source", "") == "none":
            text = no_fer_headline(p.er)
        elif er_state.current and p is not None:
            now = self._last_face_head.top7 if self._frame_fer is not None and self._frame_fer.has_face \
                and self._last_face_head is not None else None
            text = with_model_note(reading_headline(p, now), self._stats)
        elif er_state.state == UNRELIABLE and p is not None:
            text = with_model_note(f"The face shows {p.fer.top7}; the eyes' reading is unreliable, so no gap is claimed",
                                   self._stats)
        elif not running and notices:
            text = self.headline.text()
        else:
            text = er_state.line[0].upper() + er_state.line[1:]
        if self.headline.text() != text:
            self.headline.setText(text)
        title, tip = er_title(self._stats)
        if self.panels["er"].title.toolTip() != tip:
            self.panels["er"].title.setText(title.upper())
            self.panels["er"].title.setToolTip(tip)
        banner = self.banner_text()
        self.banner.setText(banner)
        self.banner.setVisible(bool(banner))
        if self.presentation is not None:
            self.presentation.show_state(er_state, p, banner, model_caveat(self._stats))

    def _clear_live_figures(self) -> None:
        """Stopped: no rate, latency or "live" note stays on screen as if it were current."""
        for key in ("camera", "gaze", "latency", "inference"):
            if self.status_labels[key].text():
                self.status_labels[key].setText("")
        for key in ("camera", "gaze"):
            if key not in self._problems and key not in self.controller.notices:
                self.panels[key].set_notice("")

    def _frame_fer_state(self, running: bool, replay: bool, stopped_reason: str = "") -> PanelState:
        """The FER panel when it follows the face frame by frame (not the model's window)."""
        if not running:
            return stopped(stopped_reason)
        if self._stats.get("frames_ended"):
            return PanelState(ENDED, "the video is over; the last reading is greyed")
        if self.fer_head.stale:  # the canvas says for how long; the veil says what is greyed
            last = self._last_face_fer
            return PanelState(NO_FACE, "nothing to read yet" if self.fer_head.head is None or last is None else
                              f"the last face reading ({(self._frame_fer.host_ns - last.host_ns) / 1e9:.1f} s ago) is greyed")
        return PanelState(REPLAY if replay else LIVE)

    def apply_predictions(self, predictions) -> None:
        if not predictions:
            return
        for p in predictions:
            self.timeseries.add(p)
            self.circumplex.add(p)
        p = predictions[-1]
        self._seq = p.seq
        self.last_prediction = p
        self._last_pred_wall = time.monotonic()
        self._skip_reason = ""
        if self._frame_fer is None:  # no per-frame FER from this model: the window's FER fills the panel
            self.fer_head.three_caption = ("3-class: the 7 classes summed" if getattr(p, "fer_source", "") == "face_network"
                                           else "3-class output (its own head)")
            # a reviewed session recorded without per-frame FER: say which FER this is
            old = self.player is not None and not self.player.has_frame_fer
            if getattr(p, "fer_source", "") == "none":  # an untrained FER head is no reading: show none
                self.fer_head.set_head(None, stale="no FER: this model's FER head was never trained")
            else:
                self.fer_head.set_head(p.fer, note=f"{p.window_s:g} s window FER, not per frame" if old else "")
        self.er_head.set_head(p.er)
        self.timeseries.redraw_soon()

    def _apply_frame_fer(self, fer, last_face=None) -> None:
        """The FER panel follows the face frame by frame (smoothed); after fer_stale_s without a
        face it greys and says for how long, so an old reading never passes for the current one.
        In review the player names the newest face reading (`last_face`): a seek skips readings
        the window never drew; live, the window keeps its own."""
        if fer is None or fer is self._frame_fer:
            return
        self._frame_fer = fer
        self.fer_head.three_caption = "3-class: the 7 classes summed"
        if fer.has_face:
            last_face = fer
        elif self.player is None:
            last_face = self._last_face_fer
        if last_face is None:
            self._last_face_fer = None
            self.fer_head.set_head(None, stale=f"no face ({fer.face.replace('_', ' ')})")
            return
        if last_face is not self._last_face_fer:
            self._last_face_fer, self._last_face_head = last_face, head_of(last_face.smoothed7)
        note = f"{last_face.n_faces} faces: the largest is read" if last_face.n_faces > 1 else ""
        gone_s = (fer.host_ns - last_face.host_ns) / 1e9
        stale = f"no face for {gone_s:.1f} s" if gone_s >= self.fer_stale_s else ""
        self.fer_head.set_head(self._last_face_head, stale=stale, note=note)

    def _apply_events(self, events) -> None:
        for ev in events:
            if ev.host_ns <= self._seen_event_ns:
                continue
            self._seen_event_ns = ev.host_ns
            panel = _EVENT_PANEL.get(ev.source)
            if ev.kind == "connection_restored" and panel:
                self._problems.pop(panel, None)
            elif ev.kind in _PROBLEM and panel:
                self._problems[panel] = (ev.message, _PROBLEM[ev.kind])
            if ev.kind not in ("info",):
                self.say(f"{ev.source}: {ev.message}")

    def _busy_s(self) -> float | None:
        """Seconds without a new prediction while the inputs still run (None: not busy)."""
        if self.controller.runner is None or self._last_pred_wall is None or self.player is not None:
            return None
        if self._stats.get("frames_ended") or self._stats.get("gaze_ended"):
            return None
        idle = time.monotonic() - self._last_pred_wall
        return idle if idle > BUSY_AFTER_S else None

    def _check_busy(self) -> None:
        busy = self._busy_s()
        if busy is not None and "model" not in self._problems:
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
