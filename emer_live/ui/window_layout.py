"""The main window's widgets, docks, toolbar and shortcuts: built once, wired to nothing but the
window's own slots. A mixin of MainWindow (it sets the widgets MainWindow draws into)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QDockWidget, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from emer_live.ui import theme
from emer_live.ui.overlay import HelpOverlay
from emer_live.ui.panels import CircumplexCanvas, ElidedLabel, GazeCanvas, HeadCanvas, Panel, VideoCanvas
from emer_live.ui.recording_panel import RecordingPanel
from emer_live.window_model.text import er_title

PLOTS_MIN_PX = 230  # the three time-series plots keep a useful height even at 1280x720


class DeferredTimeSeries(QWidget):
    """The time series' place in the window until its plots are built: on the first use of
    anything of theirs, or by build() once the window is on screen. Importing pyqtgraph takes
    0.1-0.25 s, which the first paint need not wait for."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._plots = None

    def build(self):
        if self._plots is None:
            from emer_live.ui.timeseries import TimeSeries

            self._plots = TimeSeries()
            self._lay.addWidget(self._plots)
        return self._plots

    def __getattr__(self, name):  # only what the widget itself lacks: the plots' attributes
        if name in ("_lay", "_plots") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.build(), name)


class WindowLayout:
    def _build(self) -> None:
        self.video = VideoCanvas()
        self.gaze = GazeCanvas()
        self.fer_head = HeadCanvas(theme.FER, empty_text="no face yet")
        self.er_head = HeadCanvas(theme.ER)
        self.circumplex = CircumplexCanvas()
        self.timeseries = DeferredTimeSeries()
        self.panels = {
            "camera": Panel("Face video", self.video),
            "gaze": Panel("Participant screen · gaze", self.gaze),
            "fer": Panel("FER · per frame", self.fer_head),
            "er": Panel(er_title({})[0], self.er_head),
            "circumplex": Panel("Valence · arousal", self.circumplex),
            "timeseries": Panel("ER vs FER over time · gap", self.timeseries, legend=theme.LEGEND_HTML),
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
