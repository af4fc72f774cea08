"""Review mode's controls: a timeline of the whole session with its markers, stimuli and
self-assessment answers drawn on it (click or drag to seek), play / pause, speed, export and
annotation, and the participant's answers beside the model's ER with the session's agreement."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QListWidget, QPushButton, QSizePolicy,
                               QVBoxLayout, QWidget)

from emer_live.recording.agreement import agreement_sentence
from emer_live.ui import theme
from emer_live.window_model.text import clock_text
from emer_live.ui.theme import qcolor
from emer_live.window_model.player import SPEEDS
from emer_live.window_model.review import session_marks


_COLOURS = {"marker": theme.WARN, "stimulus": theme.REPLAY, "answer": theme.ER, "pause": theme.MUTED}


class Timeline(QWidget):
    """The whole session; the position is a line; click or drag anywhere to seek."""

    seek = Signal(float)  # seconds

    def __init__(self, player, parent=None):
        super().__init__(parent)
        self.player = player
        self.marks = session_marks(player)
        self.setMinimumHeight(50)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMouseTracking(False)

    def _x(self, s: float) -> float:
        return 8 + (self.width() - 16) * (s / max(self.player.duration_s, 1e-9))

    def seek_to_fraction(self, f: float) -> None:
        self.seek.emit(max(0.0, min(1.0, f)) * self.player.duration_s)

    def _seek_at(self, x: float) -> None:
        self.seek_to_fraction((x - 8) / max(1.0, self.width() - 16))

    def mousePressEvent(self, e):
        self._seek_at(e.position().x())

    def mouseMoveEvent(self, e):
        if e.buttons() & Qt.LeftButton:
            self._seek_at(e.position().x())

    def paintEvent(self, _):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        h = self.height()
        track = QRectF(8, h / 2 - 3, self.width() - 16, 6)
        p.fillRect(self.rect(), qcolor(theme.PANEL))
        p.fillRect(track, qcolor(theme.GRID))
        p.setFont(theme.font(11))
        free = [-1e9, -1e9]  # where the labels above / below the track are free again
        for m in self.marks:
            c = qcolor(_COLOURS[m.kind])
            x0 = self._x(m.start_s)
            if m.kind == "stimulus":
                p.fillRect(QRectF(x0, h / 2 - 9, max(2.0, self._x(m.end_s) - x0), 18), qcolor(_COLOURS[m.kind], 110))
            elif m.kind == "pause":  # a hatched grey span: the recording holds nothing there
                span = QRectF(x0, h / 2 - 9, max(2.0, self._x(m.end_s) - x0), 18)
                p.fillRect(span, qcolor(theme.PANEL))
                p.fillRect(span, QBrush(c, Qt.BDiagPattern))
            elif m.kind == "answer":
                p.setPen(Qt.NoPen)
                p.setBrush(c)
                p.drawPolygon(QPolygonF([QPointF(x0, h / 2 - 12), QPointF(x0 + 6, h / 2), QPointF(x0, h / 2 + 12),
                                         QPointF(x0 - 6, h / 2)]))
            else:
                p.setPen(QPen(c, 2))
                p.drawLine(QPointF(x0, h / 2 - 12), QPointF(x0, h / 2 + 12))
            if m.kind != "pause":  # a label that would run into the one before goes below the track
                w = p.fontMetrics().horizontalAdvance(m.text) + 8
                row = 0 if x0 >= free[0] else 1
                if row == 1 and x0 < free[1]:
                    continue
                free[row] = x0 + w
                p.setPen(c)
                box = QRectF(x0 + 3, 0, w, h / 2 - 10) if row == 0 else QRectF(x0 + 3, h / 2 + 10, w, h / 2 - 10)
                p.drawText(box, Qt.AlignLeft | (Qt.AlignBottom if row == 0 else Qt.AlignTop), m.text)
        x = self._x(self.player.position_s())
        p.setPen(QPen(qcolor(theme.TEXT), 2))
        p.drawLine(QPointF(x, 4), QPointF(x, h - 4))
        p.setPen(qcolor(theme.MUTED))
        p.drawText(QRectF(8, h / 2 + 8, self.width() - 16, h / 2 - 8), Qt.AlignLeft | Qt.AlignVCenter, "0:00")
        p.drawText(QRectF(8, h / 2 + 8, self.width() - 16, h / 2 - 8), Qt.AlignRight | Qt.AlignVCenter,
                   clock_text(self.player.duration_s))


class ReviewPanel(QFrame):
    """The controls of one reviewed session (a bar under the panels) and its answers beside the
    model (`answers`, a narrow panel for the window's right side)."""

    play_toggled = Signal()
    export_requested = Signal()
    annotate_requested = Signal()
    close_requested = Signal()

    def __init__(self, player, parent=None):
        super().__init__(parent)
        self.setObjectName("panel")
        self.player = player
        self.play = QPushButton("Pause")
        self.play.clicked.connect(self.play_toggled)
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.currentTextChanged.connect(lambda t: player.set_speed(SPEEDS[t]))
        self.position = QLabel("")
        self.position.setFont(theme.font(15, True))
        self.timeline = Timeline(player)
        self.timeline.seek.connect(player.seek)
        export = QPushButton("Export…")
        export.clicked.connect(self.export_requested)
        annotate = QPushButton("Annotate (auto)")
        annotate.setToolTip("the model labels every self-assessed segment's facial expression (emer-live annotate auto)")
        annotate.clicked.connect(self.annotate_requested)
        close = QPushButton("Close session")
        close.clicked.connect(self.close_requested)
        controls = QHBoxLayout(self)
        controls.setContentsMargins(8, 4, 8, 4)
        for w in (self.play, QLabel("speed"), self.speed, self.position):
            controls.addWidget(w)
        controls.addWidget(self.timeline, 1)
        for w in (export, annotate, close):
            controls.addWidget(w)
        self.answers = AnswersPanel(player)
        self.summary, self.answer_list = self.answers.summary, self.answers.list
        self.refresh()

    def refresh(self) -> None:
        self.play.setText("Pause" if self.player.playing else "Play")
        self.position.setText(f"{clock_text(self.player.position_s())} / {clock_text(self.player.duration_s)}")
        self.timeline.update()


def answer_text(r, t0_ns: int) -> str:
    """One self-assessment answer beside the model's ER over the segment it rates."""
    seg = f"{clock_text((r.start_ns - t0_ns) / 1e9)}–{clock_text((r.end_ns - t0_ns) / 1e9)}"
    head = f"{clock_text((r.host_ns - t0_ns) / 1e9)}  rates {seg}" + (f" ({r.stimulus})" if r.stimulus else "")
    said = f"participant: {r.emotion7} · valence {r.valence:+.2f} · arousal {r.arousal:+.2f}"
    if r.model_emotion7 is None:
        return f"{head}\n{said}\nmodel: no prediction in this segment"
    model = (f"model ER: {r.model_emotion7} · valence {r.model_valence:+.2f} · arousal {r.model_arousal:+.2f}"
             f" ({r.n_predictions} windows)")
    agree = ("emotion ✓" if r.emotion_match else "emotion ✗") + (" · valence ✓" if r.valence_same_sign else " · valence ✗")
    return f"{head}\n{said}\n{model}\n{agree}"


class AnswersPanel(QFrame):
    """The participant's answers beside the model's ER, and the agreement over the session."""

    def __init__(self, player, parent=None):
        super().__init__(parent)
        self.setObjectName("panel")
        title = QLabel("SELF-ASSESSMENT VS MODEL")
        title.setObjectName("title")
        self.summary = QLabel(agreement_sentence(player.agreement))
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        for r in player.comparison:
            self.list.addItem(answer_text(r, player.start_ns))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 10)
        for w in (title, self.summary):
            lay.addWidget(w)
        lay.addWidget(self.list, 1)
        self.setMinimumWidth(260)
        self.setMaximumWidth(360)
