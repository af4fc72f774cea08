"""Source choice, recording and self-assessment dialogs. All are non-modal (open()), so the live view keeps
drawing while they are up, and report through `accepted_choice` / `answered` signals."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPointF, QRectF, QStandardPaths, Qt, Signal
from PySide6.QtGui import QGuiApplication, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from emer_live.labels import EMOTIONS_7
from emer_live.ui import theme
from emer_live.ui.controller import MAX_FACES, SourceChoice
from emer_live.ui.fit import never_widens
from emer_live.ui.gaze_file_check import GazeFileCheck, check_gaze_file
from emer_live.ui.theme import qcolor


def _tracker_label(t) -> tuple[str, str]:
    """(shown text, spec target) for one discovered tracker, whatever shape discovery returns."""
    get = t.get if isinstance(t, dict) else lambda k, d=None: getattr(t, k, d)
    serial = get("serial_number") or get("serial") or get("address") or str(t)
    model = get("model") or get("device_name") or "Tobii"
    return f"{model} · {serial}", str(serial)


def _default_discover():
    from emer_live.sources.tobii import find_trackers

    return find_trackers()


def _path_row(edit: QLineEdit, caption: str, pattern: str) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    browse = QPushButton("Browse…")
    browse.clicked.connect(lambda: edit.setText(QFileDialog.getOpenFileName(w, caption, edit.text(), pattern)[0]
                                                or edit.text()))
    lay.addWidget(browse)
    return w


class SourceDialog(QDialog):
    accepted_choice = Signal(object)  # SourceChoice

    def __init__(self, choice: SourceChoice, discover: Callable | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Sources")
        self.discover = discover or _default_discover
        # --- video ---
        self.frame_group = QButtonGroup(self)
        self.r_auto = QRadioButton("Automatic: camera 0 if present, else the demo input")
        self.r_demo = QRadioButton("Demo input (built-in still photo)")
        self.r_camera = QRadioButton("Camera")
        self.r_video = QRadioButton("Video file")
        self.camera_index = QSpinBox()
        self.camera_index.setRange(0, 15)
        self.video_path = QLineEdit()
        frame_box = QGroupBox("Face video")
        fl = QGridLayout(frame_box)
        for i, (r, extra) in enumerate(((self.r_auto, None), (self.r_demo, None), (self.r_camera, self.camera_index),
                                        (self.r_video, _path_row(self.video_path, "Video file", "Video (*.mp4 *.avi *.mov *.mkv)")))):
            self.frame_group.addButton(r, i)
            fl.addWidget(r, i, 0)
            if extra is not None:
                fl.addWidget(extra, i, 1)
        # --- gaze ---
        self.gaze_group = QButtonGroup(self)
        self.g_auto = QRadioButton("Automatic: first Tobii tracker found, else simulated gaze")
        self.g_tobii = QRadioButton("Tobii eye tracker")
        self.g_tsv = QRadioButton("Recorded gaze (Tobii Pro Lab / Studio export)")
        self.g_sim = QRadioButton("Simulated gaze")
        self.g_none = QRadioButton("No gaze")
        self.trackers = QComboBox()
        self.trackers.setMinimumWidth(220)
        self.find_button = QPushButton("Find trackers")
        self.find_button.clicked.connect(self.find_trackers)
        self.tracker_note = QLabel("")
        tracker_row = QWidget()
        tl = QHBoxLayout(tracker_row)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.trackers, 1)
        tl.addWidget(self.find_button)
        self.tsv_path = QLineEdit()
        self.tsv_path.setPlaceholderText("export.tsv, or export.csv#participant=07 for one participant")
        # what the reader's errors advise, here rather than on a command line: a column mapping,
        # one recording of several, and a check before the file is accepted or remembered
        self.gaze_columns = QLineEdit()
        self.gaze_columns.setPlaceholderText("only for a layout not detected: a column mapping .json")
        self.recording = QComboBox()
        self.recording.hide()  # shown when the checked file holds several recordings
        self.check_button = QPushButton("Check")
        self.check_button.clicked.connect(self.check_gaze)
        self.gaze_note = never_widens(QLabel(""))
        self.gaze_check: GazeFileCheck | None = None
        for edit in (self.tsv_path, self.gaze_columns):
            edit.textChanged.connect(self._gaze_changed)
        tsv_box = QWidget()
        tv = QVBoxLayout(tsv_box)
        tv.setContentsMargins(0, 0, 0, 0)
        tv.addWidget(_path_row(self.tsv_path, "Recorded gaze", "Tobii exports (*.tsv *.csv *.txt)"))
        mapping = QHBoxLayout()
        mapping.addWidget(QLabel("Column mapping"))
        mapping.addWidget(_path_row(self.gaze_columns, "Column mapping", "Column mapping (*.json)"), 1)
        tv.addLayout(mapping)
        pick = QHBoxLayout()
        pick.addWidget(self.recording, 1)
        pick.addWidget(self.check_button)
        tv.addLayout(pick)
        tv.addWidget(self.gaze_note)
        self.sim_script = QLineEdit()
        self.sim_script.setPlaceholderText("e.g. happiness,sadness (empty: cycle all)")
        gaze_box = QGroupBox("Gaze")
        gl = QGridLayout(gaze_box)
        for i, (r, extra) in enumerate(((self.g_auto, None), (self.g_tobii, tracker_row), (self.g_tsv, tsv_box),
                                        (self.g_sim, self.sim_script), (self.g_none, None))):
            self.gaze_group.addButton(r, i)
            gl.addWidget(r, i, 0)
            if extra is not None:
                gl.addWidget(extra, i, 1)
        gl.addWidget(self.tracker_note, 5, 1)
        # --- model ---
        self.model_path = QLineEdit()
        self.model_path.setPlaceholderText("default model")
        model_box = QGroupBox("Model card")
        ml = QFormLayout(model_box)
        ml.addRow(_path_row(self.model_path, "Model card", "Model card (*.card.json)"))
        # --- faces ---
        self.max_faces = QSpinBox()
        self.max_faces.setRange(1, MAX_FACES)
        faces_box = QGroupBox("Faces")
        fal = QFormLayout(faces_box)
        fal.addRow("Faces to track", self.max_faces)
        faces_note = QLabel("1 (one participant) costs least but cannot tell when someone else comes into view. "
                            "With 2 or more, the largest face is read and the window says when a second face appears.")
        faces_note.setWordWrap(True)
        fal.addRow(faces_note)
        self.fer_box = QComboBox()
        self.fer_box.addItem("The network's own framing (default)", "auto")
        self.fer_box.addItem("Face landmarks alone (cheapest)", "template")
        fal.addRow("FER crop placed by", self.fer_box)
        fer_box_note = QLabel("The network's own framing places the crop where the FER2013 network's face detector "
                              "would, agreeing with that network on nearly every frame; live, the detector runs on "
                              "a thread of its own, only where the reading is close. The landmarks alone cost least "
                              "but agree less. Other models always use their own landmark crop.")
        fer_box_note.setWordWrap(True)
        fal.addRow(fer_box_note)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        # the choices scroll inside the screen's height (a 1280x720 laptop); OK / Cancel stay in view
        body = QWidget()
        bl = QVBoxLayout(body)
        for w in (frame_box, gaze_box, faces_box, model_box):
            bl.addWidget(w)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self.scroll = scroll
        lay = QVBoxLayout(self)
        lay.addWidget(scroll, 1)
        lay.addWidget(buttons)
        self.set_choice(choice)
        self._fit_screen()

    def _fit_screen(self) -> None:
        """As tall as the choices need, but never taller than the screen's free area."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        body = self.scroll.widget().sizeHint()
        want_h = body.height() + 70
        want_w = min(max(body.width() + 40, 640), 900)
        if screen is not None:
            room = screen.availableGeometry()
            want_h = min(want_h, room.height() - 40)
            want_w = min(want_w, room.width() - 20)
        self.resize(want_w, want_h)

    def _gaze_changed(self) -> None:
        """A new file or mapping has not been checked yet: the old list and verdict go."""
        self.gaze_check = None
        self.recording.clear()
        self.recording.hide()
        self.gaze_note.setText("")

    def check_gaze(self) -> GazeFileCheck:
        """Read the gaze file as the source would; list its recordings when it holds several."""
        result = check_gaze_file(self.tsv_path.text(), self.gaze_columns.text())
        self.gaze_check = result
        self.recording.clear()
        if result.ok and len(result.recordings) > 1:
            self.recording.addItem(f"all {len(result.recordings)} recordings, one after another", "")
            for label, spec in result.recordings:
                self.recording.addItem(label, spec)
        self.recording.setVisible(self.recording.count() > 0)
        self.gaze_note.setText(result.message if result.ok else f"Cannot use this gaze file: {result.message}")
        self.gaze_note.setToolTip(result.message)
        self.gaze_note.setStyleSheet(f"color: {theme.MUTED if result.ok else theme.WARN}; background: transparent;")
        return result

    def set_choice(self, c: SourceChoice) -> None:
        kind, _, arg = c.frame.partition(":")
        {"auto": self.r_auto, "demo": self.r_demo, "camera": self.r_camera}.get(kind, self.r_video).setChecked(True)
        if kind == "camera":
            self.camera_index.setValue(int(arg or 0))
        elif kind not in ("auto", "demo"):
            self.video_path.setText(arg if kind == "video" else c.frame)
        kind, _, arg = c.gaze.partition(":")
        {"auto": self.g_auto, "tobii": self.g_tobii, "tsv": self.g_tsv, "simulated": self.g_sim,
         "none": self.g_none}.get(kind, self.g_auto).setChecked(True)
        if kind == "tobii" and arg:
            self.trackers.addItem(arg, arg)
        elif kind == "tsv":
            self.tsv_path.setText(arg)
            self.gaze_columns.setText(c.gaze_columns)
        elif kind == "simulated":
            self.sim_script.setText(arg)
        self.model_path.setText(c.model)
        self.max_faces.setValue(c.max_faces)
        self.fer_box.setCurrentIndex(max(0, self.fer_box.findData(c.fer_box)))

    def find_trackers(self) -> None:
        self.trackers.clear()
        try:
            found = list(self.discover())
        except Exception as e:  # discovery is best effort: the SDK may be missing on this machine
            self.tracker_note.setText(f"discovery failed: {e}")
            return
        for t in found:
            text, target = _tracker_label(t)
            self.trackers.addItem(text, target)
        self.tracker_note.setText(f"{len(found)} tracker(s) found" if found else "no tracker found")

    def choice(self) -> SourceChoice:
        frame = {0: "auto", 1: "demo", 2: f"camera:{self.camera_index.value()}",
                 3: f"video:{self.video_path.text().strip()}"}[self.frame_group.checkedId()]
        target = self.trackers.currentData()
        script = self.sim_script.text().replace(" ", "")
        picked = self.recording.currentData() if self.recording.count() else ""
        gaze = {0: "auto", 1: f"tobii:{target}" if target else "tobii", 2: picked or f"tsv:{self.tsv_path.text().strip()}",
                3: f"simulated:{script}" if script else "simulated", 4: "none"}[self.gaze_group.checkedId()]
        columns = self.gaze_columns.text().strip() if gaze.startswith("tsv") else ""
        return SourceChoice(frame, gaze, self.model_path.text().strip(), self.max_faces.value(),
                            self.fer_box.currentData(), columns)

    def accept(self) -> None:
        """A recorded gaze file is read first: one that cannot be used is neither accepted nor
        remembered, and the dialog stays open saying why."""
        if self.g_tsv.isChecked() and not (self.gaze_check or self.check_gaze()).ok:
            self.tsv_path.setFocus()
            return
        self.accepted_choice.emit(self.choice())
        super().accept()


def default_sessions_root() -> str:
    """Sessions go to the user's documents folder, never next to the code the app runs from."""
    docs = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or str(Path.home())
    return str(Path(docs) / "EMER Live sessions")


class RecordDialog(QDialog):
    """Participant pseudonym, sessions folder and consent, asked before a recording starts. OK
    stays disabled until consent is ticked and the pseudonym is usable, so nothing typed is lost."""

    def __init__(self, participant: str, root: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Record a session")
        self.participant = QLineEdit(participant)
        self.participant.setPlaceholderText("pseudonym, e.g. P07 (never a real name)")
        self.root = QLineEdit(root)
        self.consent = QCheckBox("The participant gave informed consent to be recorded")
        self.consent.setObjectName("consent")
        self.why = QLabel("")
        self.why.setObjectName("hint")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Participant pseudonym", self.participant)
        form.addRow("Sessions folder", _folder_row(self.root, "Sessions folder"))
        form.addRow(self.consent)
        form.addRow(self.why)
        form.addRow(self.buttons)
        for signal in (self.participant.textChanged, self.root.textChanged, self.consent.toggled):
            signal.connect(self._check)
        self._check()
        self.setMinimumWidth(560)

    def problem(self) -> str:
        """What still stops the recording ('' when OK may be pressed)."""
        from emer_live.recording.session import check_participant

        if not self.participant.text().strip():
            return "Enter the participant's pseudonym."
        try:
            check_participant(self.participant.text().strip())
        except Exception as e:
            return str(e)
        if not self.root.text().strip():
            return "Choose a folder for the sessions."
        if not self.consent.isChecked():
            return "Tick the consent box once the participant has agreed to be recorded."
        return ""

    def _check(self) -> None:
        why = self.problem()
        self.why.setText(why)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(not why)


def _folder_row(edit: QLineEdit, caption: str) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    browse = QPushButton("Choose…")
    browse.clicked.connect(lambda: edit.setText(QFileDialog.getExistingDirectory(w, caption, edit.text()) or edit.text()))
    lay.addWidget(browse)
    return w


# The Self-Assessment Manikin (SAM): Bradley, M. M. & Lang, P. J. (1994). Measuring emotion: the
# Self-Assessment Manikin and the semantic differential. Journal of Behavior Therapy and
# Experimental Psychiatry, 25(1), 49-59. Its 9-point form: five manikins, with a choice on each
# figure and on the space between two figures. Drawn here (not copied); 1 = unpleasant / calm,
# 9 = pleasant / excited, as the session files store it.
SAM_CITATION = "Self-Assessment Manikin (Bradley & Lang, 1994), 9-point scales"
SAM_WORDS = {"valence": ("unpleasant", "pleasant"), "arousal": ("calm", "excited")}


class SamScale(QWidget):
    """One SAM row: nine choices (figures at 1, 3, 5, 7, 9, the spaces between at 2, 4, 6, 8);
    click or arrow keys to choose; the value is always written under it."""

    changed = Signal(int)

    def __init__(self, dimension: str, parent=None):
        super().__init__(parent)
        self.dimension = dimension
        self._value = 5
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMinimumSize(540, 120)

    def value(self) -> int:
        return self._value

    def setValue(self, v: int) -> None:
        v = max(1, min(9, int(v)))
        if v != self._value:
            self._value = v
            self.changed.emit(v)
            self.update()

    def text(self) -> str:
        lo, hi = SAM_WORDS[self.dimension]
        return f"{self._value} of 9" + (f" ({lo})" if self._value == 1 else f" ({hi})" if self._value == 9 else "")

    def _cell(self, i: int) -> QRectF:
        w = self.width() / 9
        return QRectF(i * w, 0, w, self.height() - 22)

    def mousePressEvent(self, e):
        self.setValue(int(e.position().x() // (self.width() / 9)) + 1)

    def keyPressEvent(self, e):
        step = {Qt.Key_Left: -1, Qt.Key_Right: 1}.get(e.key())
        if step:
            self.setValue(self._value + step)
        elif Qt.Key_1 <= e.key() <= Qt.Key_9:
            self.setValue(e.key() - Qt.Key_0)
        else:
            super().keyPressEvent(e)

    def paintEvent(self, _):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        for i in range(9):
            r = self._cell(i)
            chosen = i + 1 == self._value
            if chosen:
                p.setPen(QPen(qcolor(theme.ER), 3))
                p.setBrush(qcolor(theme.ER, 40))
                p.drawRoundedRect(r.adjusted(2, 2, -2, -2), 6, 6)
            if i % 2 == 0:
                self._manikin(p, r, i / 8.0, chosen)
            else:
                p.setPen(Qt.NoPen)
                p.setBrush(qcolor(theme.TEXT if chosen else theme.MUTED))
                p.drawEllipse(r.center(), 5, 5)
            p.setPen(qcolor(theme.TEXT if chosen else theme.MUTED))
            p.setFont(theme.font(13, chosen))
            p.drawText(QRectF(r.x(), self.height() - 20, r.width(), 20), Qt.AlignCenter, str(i + 1))

    def _manikin(self, p: QPainter, r: QRectF, level: float, chosen: bool) -> None:
        """level 0..1 along the scale: the mouth goes from frown to smile (valence); the eyes open
        and a burst in the body grows (arousal)."""
        ink = qcolor(theme.TEXT if chosen else theme.MUTED)
        s = min(r.width(), r.height()) / 100.0
        cx, top = r.center().x(), r.y() + 8 * s
        p.setPen(QPen(ink, 2))
        p.setBrush(Qt.NoBrush)
        head = QRectF(cx - 17 * s, top, 34 * s, 34 * s)
        body = QPolygonF([QPointF(cx - 10 * s, top + 34 * s), QPointF(cx + 10 * s, top + 34 * s),
                          QPointF(cx + 26 * s, top + 86 * s), QPointF(cx - 26 * s, top + 86 * s)])
        p.drawEllipse(head)
        p.drawPolygon(body)
        eye_y = top + 13 * s
        if self.dimension == "valence":
            for dx in (-7, 7):
                p.setBrush(ink)
                p.drawEllipse(QPointF(cx + dx * s, eye_y), 2 * s, 2 * s)
            p.setBrush(Qt.NoBrush)
            bend = (level - 0.5) * 2  # -1 frown .. +1 smile
            mouth = QPainterPath(QPointF(cx - 9 * s, top + 24 * s))
            mouth.quadTo(QPointF(cx, top + 24 * s + bend * 9 * s), QPointF(cx + 9 * s, top + 24 * s))
            p.drawPath(mouth)
        else:
            for dx in (-7, 7):
                h = (0.4 + 3.2 * level) * s
                p.drawEllipse(QPointF(cx + dx * s, eye_y), 3 * s, h)
            p.drawLine(QPointF(cx - 5 * s, top + 25 * s), QPointF(cx + 5 * s, top + 25 * s))
            burst = 3 * s + level * 19 * s  # calm: a dot; excited: a large star
            centre = QPointF(cx, top + 62 * s)
            star = QPolygonF()
            for k in range(16):
                rad = burst if k % 2 == 0 else burst * 0.5
                a = k * math.pi / 8
                star.append(QPointF(centre.x() + rad * math.cos(a), centre.y() + rad * math.sin(a)))
            p.setBrush(ink)
            p.drawPolygon(star)


class SelfAssessmentDialog(QDialog):
    """The participant's own rating: SAM valence and arousal (1-9, drawn as manikins, value always
    shown) and one of the 7 emotions. It can be moved to the participant's screen."""

    answered = Signal(dict)
    screen_chosen = Signal(int)

    def __init__(self, parent=None, screen_index: int = -1):
        super().__init__(parent)
        self.setWindowTitle("How do you feel?")
        self.valence = SamScale("valence")
        self.arousal = SamScale("arousal")
        self.valence_value = QLabel(self.valence.text())
        self.arousal_value = QLabel(self.arousal.text())
        for scale, label in ((self.valence, self.valence_value), (self.arousal, self.arousal_value)):
            label.setFont(theme.font(16, True))
            scale.changed.connect(lambda _v, sc=scale, lab=label: lab.setText(sc.text()))
        self.emotion = QComboBox()
        self.emotion.addItems(EMOTIONS_7)
        self.emotion.setCurrentText("neutral")
        self.screens = QComboBox()
        for i, screen in enumerate(QGuiApplication.screens()):
            g = screen.geometry()
            self.screens.addItem(f"screen {i + 1}: {screen.name()} ({g.width()}x{g.height()})", i)
        self.screen_index = screen_index if 0 <= screen_index < self.screens.count() else -1
        if self.screen_index >= 0:
            self.screens.setCurrentIndex(self.screen_index)
        self.screens.currentIndexChanged.connect(self._screen_changed)
        form = QFormLayout()
        form.addRow(QLabel("How pleasant do you feel? 1 very unpleasant … 9 very pleasant"))
        form.addRow(self.valence)
        form.addRow("Your answer:", self.valence_value)
        form.addRow(QLabel("How calm or excited do you feel? 1 very calm … 9 very excited"))
        form.addRow(self.arousal)
        form.addRow("Your answer:", self.arousal_value)
        form.addRow("Which emotion fits best?", self.emotion)
        cite = QLabel(SAM_CITATION)
        cite.setObjectName("hint")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(cite)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Show on"))
        bottom.addWidget(self.screens, 1)
        bottom.addWidget(buttons)
        lay.addLayout(bottom)

    def _screen_changed(self, i: int) -> None:
        self.screen_index = i
        self.screen_chosen.emit(i)
        self.place()

    def place(self) -> None:
        """Centre the dialog on the chosen screen (the participant's), if one was chosen."""
        screens = QGuiApplication.screens()
        if 0 <= self.screen_index < len(screens):
            g = screens[self.screen_index].availableGeometry()
            self.adjustSize()
            self.move(g.center().x() - self.width() // 2, g.center().y() - self.height() // 2)

    def answer(self) -> dict:
        return {"valence": self.valence.value(), "arousal": self.arousal.value(), "emotion7": self.emotion.currentText()}

    def accept(self) -> None:
        self.answered.emit(self.answer())
        super().accept()
