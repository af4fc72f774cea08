"""Presentation mode for events: full screen, large type, the two predictions and the gap
headline. No experimenter controls; Esc leaves."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from emer_live.ui import theme
from emer_live.window_model.text import NO_FER, no_fer_headline, reading_headline, reads_fer


# Type sizes are for a 1920x1080 screen and scale with the window, so a 1280x720 projector shows
# everything and a 4K screen is not left with small type in the middle.
DESIGN_SIZE = (1920, 1080)


def _label(text: str, size: int, colour: str, bold: bool = True) -> QLabel:
    lab = QLabel(text)
    lab.setAlignment(Qt.AlignCenter)
    lab.setFont(theme.font(size, bold))
    lab.setProperty("design_px", (size, bold))
    lab.setStyleSheet(f"color: {colour}; background: transparent;")
    lab.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # long words never widen the window
    lab.setMinimumWidth(0)
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
        self.banner = _label("", 22, theme.WARN)
        self.banner.setWordWrap(True)
        self.caveat = _label("", 18, theme.MUTED, False)
        self.caveat.setWordWrap(True)
        self.state = None
        self._shown = None
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
        lay.addWidget(self.caveat)
        lay.addStretch(1)
        lay.addWidget(self.headline)
        lay.addSpacing(40)
        lay.addLayout(grid)
        lay.addSpacing(30)
        lay.addWidget(self.gap)
        lay.addStretch(1)
        lay.addWidget(self.hint)
        self._layout, self._scale = lay, 1.0

    def resizeEvent(self, event):
        self.scale_to(event.size().width(), event.size().height())
        super().resizeEvent(event)

    def scale_to(self, width: int, height: int) -> None:
        """Every type size, margin and gap in proportion to the window (DESIGN_SIZE = 1)."""
        scale = max(0.4, min(width / DESIGN_SIZE[0], height / DESIGN_SIZE[1]))
        if abs(scale - self._scale) < 0.01:
            return
        self._scale = scale
        for lab in self.findChildren(QLabel):
            size, bold = lab.property("design_px")
            lab.setFont(theme.font(max(10, round(size * scale)), bold))
        self._layout.setContentsMargins(*(round(v * scale) for v in (60, 40, 60, 20)))

    def show_prediction(self, prediction, banner: str = "") -> None:
        er, fer = prediction.er, prediction.fer
        self.headline.setText(reading_headline(prediction) if reads_fer(prediction) else no_fer_headline(er))
        # both sides are the model's window (FER: its mean over the window's frames), so say so
        span = f" · LAST {prediction.window_s:g} S"
        self.face_title.setText("THE FACE SHOWS" + span)
        self.eyes_title.setText("THE EYES SAY" + span)
        self.face_value.setText(fer.top7 if reads_fer(prediction) else "no FER")
        self.eyes_value.setText(er.top7)
        self.face_conf.setText(f"{float(fer.probs7.max()) * 100:.0f}% sure · valence {fer.valence:+.1f}"
                               if reads_fer(prediction) else NO_FER[len("no FER: "):])
        self.eyes_conf.setText(f"{float(er.probs7.max()) * 100:.0f}% sure · valence {er.valence:+.1f}")
        self.gap.setText("no gap: this model reads no FER" if not reads_fer(prediction)
                         else f"emotion gap {prediction.gap.jsd:.2f}  (0 = same, 1 = opposite)" if prediction.gap_claimed
                         else "no gap claimed: the reading is the face's")
        self.set_banner(banner)
        self._shown = prediction

    def set_banner(self, banner: str, caveat: str = "") -> None:
        self.banner.setText(banner)
        self.banner.setVisible(bool(banner))
        self.caveat.setText(caveat)
        self.caveat.setVisible(bool(caveat))

    def clear(self) -> None:
        self.headline.setText("Waiting for the first reading…")
        for lab in (self.face_value, self.eyes_value):
            lab.setText("–")
        for lab in (self.face_conf, self.eyes_conf, self.gap):
            lab.setText("")

    def show_state(self, state, prediction, banner: str = "", caveat: str = "") -> None:
        """The reading only while it is current; otherwise the state in words and the last values
        greyed (an audience must never take an old reading for now)."""
        self.set_banner(banner, caveat)
        if state is not None and state.current and prediction is not None:
            if self.state is None or not self.state.current or self._shown is not prediction:
                self.show_prediction(prediction, banner)
                self.set_banner(banner, caveat)
                self._colour(True)
        elif state != self.state:
            self.headline.setText(state.line[0].upper() + state.line[1:] if state else "")
            if state is not None and state.state == "unreliable" and prediction is not None:
                self.show_prediction(prediction, banner)
                self.set_banner(banner, caveat)
                self.headline.setText("The eyes' reading is unreliable: no gap is claimed")
                self.eyes_value.setText("unreliable")
                self.gap.setText("")
            self._colour(False)
        self.state = state

    def _colour(self, current: bool) -> None:
        for lab, colour in ((self.face_value, theme.FER), (self.eyes_value, theme.ER),
                            (self.face_conf, theme.FER), (self.eyes_conf, theme.ER)):
            lab.setStyleSheet(f"color: {colour if current else theme.GRID}; background: transparent;")
        self.gap.setStyleSheet(f"color: {theme.GAP if current else theme.GRID}; background: transparent;")

    def keyPressEvent(self, event):
        if event.key() == Qt.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event):
        self.closed.emit()
        super().closeEvent(event)
