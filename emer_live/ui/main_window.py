"""The experimenter's window. A QTimer polls LiveRunner.snapshot() and predictions_since() and
draws only the latest state; capture, face, gaze and inference run in the runner's threads, so
a slow model or a lost device never blocks drawing. Every failure lands in the affected panel
with a one-click recovery."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout, QHBoxLayout,
                               QLabel, QLineEdit, QMainWindow, QMessageBox, QPushButton, QVBoxLayout, QWidget)

from emer_live.clock import now_ns
from emer_live.errors import EmerError, RecordingError
from emer_live.pipeline.frame_fer import head_of
from emer_live.ui import theme
from emer_live.ui.controller import LiveController, SourceChoice, SwitchableSink
from emer_live.ui.dialogs import SelfAssessmentDialog, SourceDialog
from emer_live.ui.overlay import HelpOverlay
from emer_live.ui.panels import CircumplexCanvas, ElidedLabel, GazeCanvas, HeadCanvas, Panel, VideoCanvas
from emer_live.ui.presentation import PresentationWindow
from emer_live.ui.text import gap_headline, input_banner, status_texts
from emer_live.ui.timeseries import LEGEND_HTML, TimeSeries

# Which panel a SourceEvent belongs to, by the source that reported it.
_EVENT_PANEL = {"camera": "camera", "video": "camera", "demo": "camera", "frame": "camera",
                "tobii": "gaze", "tsv": "gaze", "simulated": "gaze", "gaze": "gaze", "replay": "gaze",
                "model": "model", "engine": "model", "inference": "model"}
_PROBLEM = {"connection_lost": "Reconnect", "error": "Restart", "end_of_stream": "Play again"}
BUSY_AFTER_S = 2.0  # no new prediction for this long (after the first) = the model is busy
FER_STALE_S = 1.0  # no face for this long: the FER panel greys (its last reading is no longer current)

SETTINGS_KEYS = ("frame", "gaze", "model")


def load_choice(settings: QSettings) -> SourceChoice:
    """The sources of the last run (QSettings), "auto" when none was remembered."""
    return SourceChoice(**{k: str(settings.value(f"sources/{k}", SourceChoice().as_dict()[k])) for k in SETTINGS_KEYS})


def save_choice(settings: QSettings, choice: SourceChoice) -> None:
    for k, v in choice.as_dict().items():
        settings.setValue(f"sources/{k}", v)
    settings.sync()


class RecordDialog(QDialog):
    """Participant pseudonym and consent, asked before a recording starts."""

    def __init__(self, participant: str, root: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Record a session")
        self.participant = QLineEdit(participant)
        self.root = QLineEdit(root)
        self.consent = QCheckBox("The participant gave informed consent to be recorded")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Participant pseudonym", self.participant)
        form.addRow("Sessions folder", self.root)
        form.addRow(self.consent)
        form.addRow(buttons)


class MainWindow(QMainWindow):
    # Errors raised on worker threads reach the GUI thread through this queued signal.
    worker_error = Signal(str)
    # A recording that stops on a write error (disk full, folder gone), told from the writer thread.
    recording_failed = Signal(str)

    def __init__(self, controller: LiveController, settings: QSettings | None = None, draw_hz: float = 30.0,
                 tracker_provider: Callable | None = None, calibration_factory: Callable | None = None,
                 discover: Callable | None = None, fer_stale_s: float = FER_STALE_S):
        super().__init__()
        self.fer_stale_s = fer_stale_s
        self._frame_fer = None  # the per-frame FER last drawn
        self._last_face_fer = None  # the newest per-frame FER that had a face
        self.worker_error.connect(self.show_error)
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
            "fer": Panel("FER · what the face shows", self.fer_head),
            "er": Panel("ER · what face + eyes reveal", self.er_head),
            "circumplex": Panel("Valence · arousal", self.circumplex),
            "timeseries": Panel("ER vs FER over time · gap", self.timeseries, legend=LEGEND_HTML),
        }
        self.panels["fer"].title.setStyleSheet(f"color: {theme.FER};")
        self.panels["er"].title.setStyleSheet(f"color: {theme.ER};")
        self.panels["camera"].action.connect(self.restart)
        self.panels["gaze"].action.connect(self.restart)
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.hide()
        self.headline = ElidedLabel("Starting…", Qt.AlignLeft | Qt.AlignVCenter)
        self.headline.setObjectName("headline")
        self.model_notice = ElidedLabel("")
        self.model_button = QPushButton("")
        self.model_button.hide()
        self.model_button.clicked.connect(self._model_action)
        head = QHBoxLayout()
        head.addWidget(self.headline, 3)
        head.addWidget(self.model_notice, 2)
        head.addWidget(self.model_button)
        head.addWidget(self.banner)
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
        grid.setRowStretch(0, 5)
        grid.setRowStretch(1, 4)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addLayout(head)
        lay.addLayout(grid, 1)
        self.setCentralWidget(central)
        self.status_labels = {k: QLabel("") for k in ("camera", "gaze", "latency", "inference", "provider", "model")}
        self.rec_label = QLabel("")
        self.rec_label.setStyleSheet(f"color: {theme.BAD}; font-weight: 700;")
        for lab in (self.rec_label, *self.status_labels.values()):
            self.statusBar().addPermanentWidget(lab)
        self.help = HelpOverlay(central)

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
            ("landmarks", "Landmarks", "L", self.toggle_landmarks, "face landmarks on / off"),
            ("heatmap", "Heatmap", "G", self.toggle_heatmap, "gaze heatmap / trail"),
            ("help", "Help", "?", self.toggle_help, "this help"),
            ("quit", "Quit", "Ctrl+Q", self.close, "quit"),
        ]
        toolbar = self.addToolBar("Session")
        toolbar.setMovable(False)
        self.actions_by_name: dict[str, QAction] = {}
        rows = []
        for name, text, key, slot, what in spec:
            act = QAction(f"{text}  [{key}]" if name != "quit" else text, self)
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
        self.help.set_rows(rows)

    # --- running -------------------------------------------------------------------------
    def start(self) -> bool:
        self._reset_views()
        ok = self.controller.start()
        if self.controller.resolved is not None:
            save_choice(self.settings, self.controller.choice)
        self.actions_by_name["start"].setChecked(ok)
        self._show_start_notices()
        self.timer.start()
        return ok

    def stop(self) -> None:
        self.controller.stop()
        self.actions_by_name["start"].setChecked(False)
        self.headline.setText("Stopped — Space starts again")

    def restart(self) -> bool:
        return self.start()

    def toggle_running(self) -> None:
        if self.controller.running:
            self.stop()
        else:
            self.start()

    def _reset_views(self) -> None:
        self._seq, self._last_frame, self._last_pred_wall = -1, None, None
        self._frame_fer = self._last_face_fer = None
        self.fer_head.set_head(None)
        self._problems.clear()
        self._seen_event_ns = -1
        self.timeseries.reset()
        self.circumplex.clear()

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
            self.controller.choice = SourceChoice(self.controller.choice.frame, self.controller.choice.gaze, "")
        self.start()

    # --- drawing -------------------------------------------------------------------------
    def tick(self) -> None:
        runner = self.controller.runner
        if runner is not None:
            self.apply_state(runner.snapshot())
            self.apply_predictions(runner.predictions_since(self._seq))
            self._check_busy()
        self.frames_drawn += 1

    def apply_state(self, state) -> None:
        if state.frame is not None and state.frame is not self._last_frame:
            self._last_frame = state.frame
            self.video.set_frame(state.frame, state.face)
        if state.gaze_recent is not None:
            self.gaze.set_gaze(state.gaze_recent)
        self._apply_frame_fer(getattr(state, "frame_fer", None))
        self._apply_events(state.events or [])
        panels = state.panels or {}
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
        stats = state.stats or {}
        banner = input_banner(stats)
        self.banner.setText(banner)
        self.banner.setVisible(bool(banner))
        busy = self._busy_s()
        for key, text in status_texts(stats, busy).items():
            if self.status_labels[key].text() != text:
                self.status_labels[key].setText(text)
        if self.presentation is not None:
            self.presentation.set_banner(banner)
        self._update_rec_label()

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
        if self._frame_fer is None:  # no per-frame FER from this model: the window's FER fills the panel
            self.fer_head.set_head(p.fer)
        self.er_head.set_head(p.er)
        self.headline.setText(gap_headline(p.er, p.fer))
        self.timeseries.redraw()
        if self.presentation is not None:
            self.presentation.show_prediction(p, self.banner.text())

    def _apply_frame_fer(self, fer) -> None:
        """The FER panel follows the face frame by frame (smoothed); after fer_stale_s without a
        face it greys and says for how long, so an old reading never passes for the current one."""
        if fer is None or fer is self._frame_fer:
            return
        self._frame_fer = fer
        if fer.has_face:
            self._last_face_fer = fer
            note = f"{fer.n_faces} faces: the largest is read" if fer.n_faces > 1 else ""
            self.fer_head.set_head(head_of(fer.smoothed7), note=note)
            return
        last = self._last_face_fer
        if last is None:
            self.fer_head.set_head(None, stale=f"no face ({fer.face.replace('_', ' ')})")
            return
        gone_s = (fer.host_ns - last.host_ns) / 1e9
        if gone_s >= self.fer_stale_s:
            self.fer_head.set_head(self.fer_head.head, stale=f"no face for {gone_s:.1f} s")

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
                self.statusBar().showMessage(f"{ev.source}: {ev.message}", 8000)

    def _busy_s(self) -> float | None:
        if self.controller.runner is None or self._last_pred_wall is None:
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

    @staticmethod
    def _warn(label: QLabel) -> None:
        label.setStyleSheet(f"color: {theme.WARN}; background: transparent; font-weight: 600;")

    def show_error(self, text: str) -> None:
        """A non-blocking message box: the live view keeps drawing behind it."""
        box = QMessageBox(QMessageBox.Warning, "EMER Live", text, QMessageBox.Ok, self)
        box.setModal(False)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.show()
        self.last_error_box = box

    def show_recording_failed(self, text: str) -> None:
        """The banner for a recording that stopped: in the status bar until recording is stopped,
        and in a message box, the moment the writer fails."""
        self.recording_banner = text
        self.statusBar().showMessage(f"⚠ {text}")
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
            self.presentation.show_prediction(self.last_prediction, self.banner.text())
        self.presentation.showFullScreen()
        self.actions_by_name["present"].setChecked(True)

    def _presentation_closed(self) -> None:
        self.presentation = None
        self.actions_by_name["present"].setChecked(False)

    def open_sources(self) -> None:
        dialog = SourceDialog(self.controller.choice, discover=self.discover, parent=self)
        dialog.accepted_choice.connect(self.switch_sources)
        dialog.open()
        self.dialog = dialog

    def switch_sources(self, choice: SourceChoice) -> bool:
        self.controller.choice = choice
        save_choice(self.settings, choice)
        return self.start()

    def _tracker_from_source(self):
        """The SDK EyeTracker of the running Tobii source: its own if it exposes one, else the
        same device found again through the SDK (SDK handles to one device can coexist)."""
        built, resolved = self.controller.built, self.controller.resolved
        tracker = getattr(built.gaze_source, "eyetracker", None) if built is not None else None
        if tracker is not None or resolved is None or not resolved.gaze.startswith("tobii"):
            return tracker
        from emer_live.sources.tobii import import_sdk

        target = resolved.gaze.partition(":")[2]
        found = import_sdk().find_all_eyetrackers()
        return next((t for t in found if not target or target in (t.serial_number, t.address)), None)

    def open_calibration(self, n_points: int | None = None) -> None:
        try:
            tracker = self.tracker_provider()
        except EmerError as e:
            self.show_error(str(e))
            return
        if tracker is None:
            self.show_error("Calibration needs a Tobii eye tracker. Choose one under Sources (O); "
                            "the current gaze source is " + (self.controller.resolved.gaze if self.controller.resolved else "not running") + ".")
            return
        from emer_live.ui.calibration import CalibrationWindow

        n = n_points or int(self.settings.value("calibration/points", 5))
        try:
            calibration = self.calibration_factory(tracker) if self.calibration_factory else None
            win = CalibrationWindow(tracker, calibration, n_points=n)
        except Exception as e:  # SDK refuses (no screen-based calibration on this tracker, not connected)
            self.show_error(f"Cannot calibrate this tracker: {e}")
            return
        win.finished.connect(self.on_calibrated)
        win.start()
        win.showFullScreen()
        self.calibration_window = win

    def on_calibrated(self, result: dict) -> None:
        self.calibration_result = result
        self.settings.setValue("calibration/points", result["n_points"])
        if self.session is not None:
            self.session.add_calibration("validation", result)
        self.statusBar().showMessage(
            f"calibration: accuracy {result['mean_accuracy_deg']:.2f}°, precision {result['mean_precision_rms_deg']:.2f}°"
            + ("" if self.session is not None else " (stored with the next recording)"), 15000)

    # --- recording -----------------------------------------------------------------------
    def toggle_recording(self) -> None:
        if self.session is not None:
            self.stop_recording()
            return
        dialog = RecordDialog(str(self.settings.value("recording/participant", "P01")),
                              str(self.settings.value("recording/root", "sessions")), self)
        dialog.accepted.connect(lambda: self.start_recording(dialog.participant.text().strip(),
                                                             dialog.consent.isChecked(), dialog.root.text().strip()))
        dialog.open()
        self.dialog = dialog
        self.actions_by_name["record"].setChecked(False)

    def start_recording(self, participant: str, consent: bool, root: str) -> bool:
        from emer_live.features.eye_v1 import EyeParams
        from emer_live.pipeline.eye_geometry import geometry_dict
        from emer_live.recording.session import RecordingSession, new_session_folder

        built = self.controller.built
        try:
            session = RecordingSession(new_session_folder(root, participant), participant=participant, consent=consent,
                                       devices=self.controller.resolved.as_dict() if self.controller.resolved else {},
                                       model_card=getattr(getattr(built, "engine", None), "card", None),
                                       pipeline={"eye_geometry": geometry_dict(self.controller.eye_params or EyeParams())},
                                       on_error=lambda err: self.recording_failed.emit(str(err)))
        except EmerError as e:
            self.show_error(str(e))
            return False
        self.settings.setValue("recording/participant", participant)
        self.settings.setValue("recording/root", root)
        if self.calibration_result is not None:
            session.add_calibration("validation", self.calibration_result)
        self.session, self.sink.target = session, session.sink
        self.stimulus_open = False
        self._rec_started = time.monotonic()
        self._mark_ns = now_ns()
        self.actions_by_name["record"].setChecked(True)
        self.statusBar().showMessage(f"recording to {session.folder}", 8000)
        return True

    def stop_recording(self) -> None:
        session, self.session = self.session, None
        self.sink.target = None
        self.actions_by_name["record"].setChecked(False)
        self.rec_label.setText("")
        # closing flushes and syncs files: off the GUI thread
        threading.Thread(target=self._close_session, args=(session,), daemon=True).start()
        self.last_session_folder = Path(session.folder)

    def _close_session(self, session) -> None:
        try:
            session.close()
        except EmerError as e:
            self.worker_error.emit(str(e))

    def _update_rec_label(self) -> None:
        if self.session is None:
            return
        s = int(time.monotonic() - self._rec_started)
        err = self.session.error
        self.rec_label.setText(f"● REC {s // 60:02d}:{s % 60:02d}" + (f"  — {err}" if err else ""))

    def _need_session(self, what: str) -> bool:
        if self.session is None:
            self.statusBar().showMessage(f"{what}: not recording (press R to record)", 5000)
            return False
        return True

    def add_marker(self, label: str) -> None:
        if self._need_session("marker"):
            self._mark_ns = self.session.add_marker(label)
            self.markers_placed += 1
            self.statusBar().showMessage(f"marker '{label}' placed", 4000)

    def add_hotkey_marker(self, key: str) -> None:
        if self._need_session("marker"):
            t = self.session.add_hotkey(key)
            if t is not None:
                self._mark_ns = t
                self.markers_placed += 1
                self.statusBar().showMessage(f"marker '{self.session.markers.label_for_key(key)}' placed", 4000)

    def toggle_stimulus(self) -> None:
        if not self._need_session("stimulus"):
            return
        if not self.stimulus_open:
            self.stimulus_open = True
            self.stimulus_n += 1
            self.session.begin_stimulus(f"stimulus {self.stimulus_n}")
            self.statusBar().showMessage(f"stimulus {self.stimulus_n} began (N ends it)", 5000)
        else:
            self.stimulus_open = False
            self.session.end_stimulus()
            self.statusBar().showMessage(f"stimulus {self.stimulus_n} ended: A for the self-assessment", 8000)

    def open_self_assessment(self) -> None:
        if not self._need_session("self-assessment"):
            return
        dialog = SelfAssessmentDialog(self)
        dialog.answered.connect(self.record_self_assessment)
        dialog.open()
        self.dialog = dialog

    def record_self_assessment(self, answer: dict) -> None:
        """Rates the last ended stimulus, or else the time since the last marker / answer."""
        if self.session is None:
            return
        try:
            try:
                self.session.add_self_assessment(**answer)
            except RecordingError:
                end = now_ns()
                self.session.add_self_assessment(**answer, start_ns=self._mark_ns or end, end_ns=end)
                self._mark_ns = end
        except EmerError as e:
            self.show_error(str(e))
            return
        self.statusBar().showMessage(f"self-assessment stored: {answer['emotion7']}, valence {answer['valence']}, "
                                     f"arousal {answer['arousal']}", 6000)

    # --- lifetime ------------------------------------------------------------------------
    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.centralWidget().rect())

    def closeEvent(self, event):
        self.timer.stop()
        if self.session is not None:
            session, self.session = self.session, None
            self.sink.target = None
            self._close_session(session)
        self.controller.stop()
        for w in (self.presentation, self.calibration_window):
            if w is not None:
                w.close()
        super().closeEvent(event)
