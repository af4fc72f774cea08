"""Presentation mode for events: full screen, large type, the two predictions and the gap
headline. No experimenter controls; Esc leaves."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from emer_live.ui import theme
from emer_live.ui.text import gap_headline


def _label(text: str, size: int, colour: str, bold: bool = True) -> QLabel:
    lab = QLabel(text)
    lab.setAlignment(Qt.AlignCenter)
    lab.setFont(theme.font(size, bold))
    lab.setStyleSheet(f"color: {colour}; background: transparent;")
    return lab


class PresentationWindow(QWidget):
    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent, Qt.Window)
        self.setWindowTitle("EMER Live — presentation")
        self.setStyleSheet(f"background: {theme.BG};")
        self.headline = _label("Waiting for the first reading…", 56, theme.TEXT)
        self.headline.setWordWrap(True)
        self.face_title = _label("THE FACE SHOWS", 26, theme.MUTED, False)
        self.eyes_title = _label("THE EYES SAY", 26, theme.MUTED, False)
        self.face_value = _label("–", 110, theme.FER)
        self.eyes_value = _label("–", 110, theme.ER)
        self.face_conf = _label("", 30, theme.FER, False)
        self.eyes_conf = _label("", 30, theme.ER, False)
        self.gap = _label("", 30, theme.GAP, False)
        self.banner = _label("", 20, theme.WARN, False)
        self.hint = _label("Esc to leave", 14, theme.GRID, False)
        grid = QGridLayout()
        grid.setHorizontalSpacing(80)
        for col, widgets in enumerate(((self.face_title, self.face_value, self.face_conf),
                                       (self.eyes_title, self.eyes_value, self.eyes_conf))):
            for row, w in enumerate(widgets):
                grid.addWidget(w, row, col)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(60, 40, 60, 20)
        lay.addWidget(self.banner)
        lay.addStretch(1)
        lay.addWidget(self.headline)
        lay.addSpacing(40)
        lay.addLayout(grid)
        lay.addSpacing(30)
        lay.addWidget(self.gap)
        lay.addStretch(1)
        lay.addWidget(self.hint)

    def show_prediction(self, prediction, banner: str = "") -> None:
        er, fer = prediction.er, prediction.fer
        self.headline.setText(gap_headline(er, fer))
        self.face_value.setText(fer.top7)
        self.eyes_value.setText(er.top7)
        self.face_conf.setText(f"{float(fer.probs7.max()) * 100:.0f}% sure · valence {fer.valence:+.1f}")
        self.eyes_conf.setText(f"{float(er.probs7.max()) * 100:.0f}% sure · valence {er.valence:+.1f}")
        self.gap.setText(f"emotion gap {prediction.gap.jsd:.2f}  (0 = same, 1 = opposite)")
        self.set_banner(banner)

    def set_banner(self, banner: str) -> None:
        self.banner.setText(banner)

    def keyPressEvent(self, event):
        if event.key() == Qt.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event):
        self.closed.emit()
        super().closeEvent(event)
