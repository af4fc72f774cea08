"""Source choice and self-assessment dialogs. Both are non-modal (open()), so the live view keeps
drawing while they are up, and report through `accepted_choice` / `answered` signals."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from emer_live.labels import EMOTIONS_7
from emer_live.ui.controller import SourceChoice


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
        self.sim_script = QLineEdit()
        self.sim_script.setPlaceholderText("e.g. happiness,sadness (empty: cycle all)")
        gaze_box = QGroupBox("Gaze")
        gl = QGridLayout(gaze_box)
        for i, (r, extra) in enumerate(((self.g_auto, None), (self.g_tobii, tracker_row), (self.g_tsv, _path_row(
                self.tsv_path, "Recorded gaze", "Tobii exports (*.tsv *.csv *.txt)")), (self.g_sim, self.sim_script), (self.g_none, None))):
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
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (frame_box, gaze_box, model_box, buttons):
            lay.addWidget(w)
        self.set_choice(choice)

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
        elif kind == "simulated":
            self.sim_script.setText(arg)
        self.model_path.setText(c.model)

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
        gaze = {0: "auto", 1: f"tobii:{target}" if target else "tobii", 2: f"tsv:{self.tsv_path.text().strip()}",
                3: f"simulated:{script}" if script else "simulated", 4: "none"}[self.gaze_group.checkedId()]
        return SourceChoice(frame, gaze, self.model_path.text().strip())

    def accept(self) -> None:
        self.accepted_choice.emit(self.choice())
        super().accept()


class SelfAssessmentDialog(QDialog):
    """The participant's own rating: SAM valence and arousal (1-9) and one of the 7 emotions."""

    answered = Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Self-assessment")
        self.valence = self._slider()
        self.arousal = self._slider()
        self.emotion = QComboBox()
        self.emotion.addItems(EMOTIONS_7)
        self.emotion.setCurrentText("neutral")
        form = QFormLayout()
        form.addRow("Valence (1 unpleasant … 9 pleasant)", self.valence)
        form.addRow("Arousal (1 calm … 9 excited)", self.arousal)
        form.addRow("Emotion", self.emotion)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    @staticmethod
    def _slider() -> QSlider:
        s = QSlider(Qt.Horizontal)
        s.setRange(1, 9)
        s.setValue(5)
        s.setTickPosition(QSlider.TicksBelow)
        s.setMinimumWidth(220)
        return s

    def answer(self) -> dict:
        return {"valence": self.valence.value(), "arousal": self.arousal.value(), "emotion7": self.emotion.currentText()}

    def accept(self) -> None:
        self.answered.emit(self.answer())
        super().accept()
