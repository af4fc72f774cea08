"""The main window's drawing panels. Each draws what it is given (a LiveState part or a
Prediction) and computes nothing about emotions; painting is plain QPainter for speed."""

from __future__ import annotations

from collections import deque

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from emer_live.labels import CIRCUMPLEX_POSITIONS, CLASSES_3, EMOTIONS_7
from emer_live.ui import theme
from emer_live.window_model.text import face_notice, reads_fer
from emer_live.ui.theme import qcolor


class ElidedLabel(QLabel):
    """A one-line label that never widens its window: long text ends in "…", the whole text is
    in the tooltip."""

    def __init__(self, text: str = "", align=Qt.AlignRight | Qt.AlignVCenter, parent=None):
        super().__init__(text, parent)
        self.align = align
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text if len(text) > 60 else "")  # and whenever paintEvent has to cut it

    def minimumSizeHint(self):
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, _):
        p = QPainter(self)
        p.setFont(self.font())
        p.setPen(self.palette().color(self.foregroundRole()))
        whole = self.text().replace("\n", " ")
        shown = self.fontMetrics().elidedText(whole, Qt.ElideRight, self.width())
        if shown != whole and not self.toolTip():
            self.setToolTip(self.text())
        p.drawText(self.rect(), self.align, shown)


class Panel(QFrame):
    """A titled card with a one-line notice (what went wrong) and an optional recovery button."""

    action = Signal()

    def __init__(self, title: str, body: QWidget, legend: str = "", parent=None):
        super().__init__(parent)
        self.setObjectName("panel")
        self.body = body
        self.title = ElidedLabel(title.upper(), Qt.AlignLeft | Qt.AlignVCenter)  # shrinks before the window must grow
        self.title.setObjectName("title")
        self.title.setMinimumWidth(min(60, self.title.fontMetrics().horizontalAdvance(title.upper())))
        self.title.setToolTip(title)
        self.title.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        self.notice = ElidedLabel("")
        self.notice.setStyleSheet(f"color: {theme.WARN}; background: transparent;")
        self.button = QPushButton("")
        self.button.hide()
        self.button.clicked.connect(self.action)
        self.chip = QLabel("")  # the panel's state (window_model/states.py): live, collecting 3.1 / 8 s, ...
        self.chip.setObjectName("chip")
        self.state = None
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title)
        head.addWidget(self.chip)
        head.addWidget(self.notice, 1)
        if legend:
            head.addWidget(QLabel(legend))
        head.addWidget(self.button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.setSpacing(6)
        lay.addLayout(head)
        lay.addWidget(body, 1)

    def set_state(self, state) -> None:
        """Show the panel's PanelState as a coloured tag; the body is veiled when not current."""
        if state == self.state:
            return
        self.state = state
        self.chip.setText(state.chip.upper())
        self.chip.setToolTip(state.line)
        colour = theme.STATE_COLOURS.get(state.state, theme.MUTED)
        self.chip.setStyleSheet(f"color: {colour}; border: 1px solid {colour}; border-radius: 4px; "
                                f"padding: 0 4px; font-size: 10px; font-weight: 700; background: transparent;")
        if isinstance(self.body, Canvas):
            self.body.set_state(state)

    def set_notice(self, text: str, button: str | None = None) -> None:
        """Show what happened to this panel; `button` offers a one-click recovery."""
        if self.notice.text() != text:
            self.notice.setText(text)
        if button:
            self.button.setText(button)
            self.button.show()
        else:
            self.button.hide()


class Canvas(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.state = None  # PanelState; None: not told (drawn as current)

    def set_state(self, state) -> None:
        self.state = state
        self.update()

    @property
    def current(self) -> bool:
        return self.state is None or self.state.current

    def paint_veil(self, p: QPainter, has_value: bool) -> None:
        """Over a value that is not current: grey it out and say why, so it never reads as now."""
        if self.current:
            return
        r = QRectF(self.rect())
        if has_value:
            p.fillRect(r, qcolor(theme.PANEL, 190))
        else:
            p.fillRect(r, qcolor(theme.PANEL, 150))
        text = self.state.line
        colour = theme.STATE_COLOURS.get(self.state.state, theme.MUTED)
        prog = self.state.progress
        bar_room = 24 if prog is not None and prog[1] > 0 else 0
        box = r.adjusted(12, 4, -12, -4 - bar_room)
        flags = Qt.AlignCenter | Qt.TextWordWrap
        # a long message (an error's whole text) shrinks to its panel, and never spills out of it
        p.setFont(wrapped_font(text, box.toRect()))
        p.setPen(qcolor(colour))
        p.save()
        p.setClipRect(box)
        p.drawText(box, flags, text)
        p.restore()
        if bar_room:
            bar = QRectF(r.center().x() - 80, min(r.center().y() + 34, r.bottom() - 14), 160, 6)
            p.fillRect(bar, qcolor(theme.GRID))
            p.fillRect(QRectF(bar.x(), bar.y(), bar.width() * min(1.0, prog[0] / prog[1]), bar.height()), qcolor(colour))

    def _begin(self) -> QPainter:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), qcolor(theme.PANEL))
        return p


def _fit(src_w: float, src_h: float, rect: QRectF) -> QRectF:
    s = min(rect.width() / src_w, rect.height() / src_h)
    w, h = src_w * s, src_h * s
    return QRectF(rect.x() + (rect.width() - w) / 2, rect.y() + (rect.height() - h) / 2, w, h)


class VideoCanvas(Canvas):
    """The camera/video frame with the face box and, optionally, the 478 landmarks."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.face = None
        self.show_landmarks = False
        self.message = "waiting for video…"
        self.setMinimumSize(240, 150)

    def set_frame(self, frame, face) -> None:
        img = np.ascontiguousarray(frame.image)
        h, w = img.shape[:2]
        # copy(): the QImage must own its pixels, the frame buffer is reused by the source
        self.image = QImage(img.data, w, h, img.strides[0], QImage.Format_BGR888).copy()
        self.face = face
        self.update()

    def paintEvent(self, _):
        p = self._begin()
        if self.image is None:
            if self.current:
                p.setPen(qcolor(theme.MUTED))
                p.setFont(theme.font(15))
                p.drawText(self.rect(), Qt.AlignCenter, self.message)
            self.paint_veil(p, False)
            return
        self._paint_frame(p)
        self.paint_veil(p, True)

    def clear(self) -> None:
        self.image, self.face = None, None
        self.update()

    def _paint_frame(self, p: QPainter) -> None:
        w, h = self.image.width(), self.image.height()
        target = _fit(w, h, QRectF(self.rect()))
        p.drawImage(target, self.image)
        s = target.width() / w
        face = self.face
        if face is not None and getattr(face, "box", None) is not None:
            x0, y0, x1, y1 = face.box
            p.setPen(QPen(qcolor(theme.FER), 2))
            p.setBrush(Qt.NoBrush)
            p.drawRect(QRectF(target.x() + x0 * s, target.y() + y0 * s, (x1 - x0) * s, (y1 - y0) * s))
        if self.show_landmarks and face is not None and getattr(face, "landmarks", None) is not None:
            lm = np.asarray(face.landmarks)[:, :2] * s
            pts = QPolygonF([QPointF(target.x() + x, target.y() + y) for x, y in lm])
            p.setPen(QPen(qcolor(theme.FER, 150), 1.5))
            p.drawPoints(pts)
        msg, severity = face_notice(face)
        if msg:
            p.setFont(theme.font(13, severity == "warn"))
            flags = Qt.AlignCenter | Qt.TextWordWrap
            need = p.fontMetrics().boundingRect(target.adjusted(8, 0, -8, 0).toRect(), flags, msg).height() + 8
            r = QRectF(target.x(), target.bottom() - need, target.width(), need)
            p.fillRect(r, qcolor("#000000", 160))
            p.setPen(qcolor(theme.WARN if severity == "warn" else theme.TEXT))
            p.drawText(r.adjusted(8, 0, -8, 0), flags, msg)


_HEAT_LUT = np.array([  # dark -> rose -> amber -> white, alpha rising with density
    np.interp(np.linspace(0, 1, 256), [0, .4, .75, 1], c) for c in ([36, 224, 242, 255], [39, 96, 165, 255],
                                                                   [45, 126, 65, 240], [0, 150, 210, 240])
]).T.astype(np.uint8)


class GazeCanvas(Canvas):
    """The participant's screen as a thumbnail: current gaze point and trail, or a heatmap."""

    TRAIL_S = 1.5

    def __init__(self, parent=None):
        super().__init__(parent)
        self.gaze = np.zeros((0, 3))
        self.heatmap = False
        self.message = "no gaze yet"
        self.setMinimumSize(200, 120)

    def clear(self) -> None:
        self.gaze = np.zeros((0, 3))
        self.update()

    def set_gaze(self, gaze_recent) -> None:
        self.gaze = np.asarray(gaze_recent, dtype=float).reshape(-1, 3)
        self.update()

    def paintEvent(self, _):
        p = self._begin()
        screen = _fit(16, 9, QRectF(self.rect()).adjusted(6, 6, -6, -6))
        p.fillRect(screen, qcolor("#15171a"))
        p.setPen(QPen(qcolor(theme.GRID), 1))
        p.drawRect(screen)
        g = self.gaze
        ok = np.isfinite(g[:, 1]) & np.isfinite(g[:, 2]) if len(g) else np.zeros(0, bool)
        if not ok.any():
            if self.current:
                p.setPen(qcolor(theme.MUTED))
                p.drawText(screen, Qt.AlignCenter, self.message)
            self.paint_veil(p, False)
            return
        self._paint_points(p, screen, g[ok])
        self.paint_veil(p, True)

    def _paint_points(self, p: QPainter, screen: QRectF, g: np.ndarray) -> None:
        if self.heatmap:
            self._paint_heat(p, screen, g)
        recent = g[g[:, 0] >= g[-1, 0] - self.TRAIL_S]
        trail = recent[:: max(1, len(recent) // 60)]  # at most ~60 dots, older ones fainter
        p.setPen(Qt.NoPen)
        for i, (_, x, y) in enumerate(trail):
            a = int(40 + 140 * i / max(1, len(trail) - 1))
            p.setBrush(qcolor(theme.GAZE, a))
            p.drawEllipse(QPointF(screen.x() + x * screen.width(), screen.y() + y * screen.height()), 3, 3)
        _, x, y = g[-1]
        c = QPointF(screen.x() + np.clip(x, 0, 1) * screen.width(), screen.y() + np.clip(y, 0, 1) * screen.height())
        p.setBrush(qcolor(theme.GAZE, 90))
        p.setPen(QPen(qcolor(theme.GAZE), 2))
        p.drawEllipse(c, 9, 9)

    def _paint_heat(self, p: QPainter, screen: QRectF, g: np.ndarray) -> None:
        h, _, _ = np.histogram2d(g[:, 2], g[:, 1], bins=(18, 32), range=((0, 1), (0, 1)))
        for axis in (0, 1):  # light smoothing: two box passes
            h = (np.roll(h, 1, axis) + h + np.roll(h, -1, axis)) / 3
        if h.max() <= 0:
            return
        rgba = np.ascontiguousarray(_HEAT_LUT[(h / h.max() * 255).astype(np.uint8)])
        img = QImage(rgba.data, 32, 18, 32 * 4, QImage.Format_RGBA8888).copy()
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.drawImage(screen, img)


def wrapped_font(text: str, box, sizes=(14, 13, 12, 11, 10)):
    """The largest bold font of `sizes` in which `text`, word-wrapped, fits `box` (a QRect); the
    smallest when none does (the text is then clipped to the box)."""
    for size in sizes:
        font = theme.font(size, True)
        need = QFontMetrics(font).boundingRect(box, int(Qt.AlignCenter | Qt.TextWordWrap), text)
        if need.height() <= box.height() and need.width() <= box.width():
            return font
    return theme.font(sizes[-1], True)


def _fitting_font(text: str, width: int, size: int, smallest: int, bold: bool = False):
    """The largest font from `size` down to `smallest` points in which `text` fits `width` pixels."""
    for pt in range(size, smallest - 1, -1):
        font = theme.font(pt, bold)
        if QFontMetrics(font).horizontalAdvance(text) <= width:
            return font
    return theme.font(smallest, bold)


class HeadCanvas(Canvas):
    """One head (ER or FER): big top label, 7-class bars, 3-class summary, valence/arousal."""

    def __init__(self, colour: str, parent=None, empty_text: str = "no prediction yet"):
        super().__init__(parent)
        self.colour = colour
        self.head = None
        self.empty_text = empty_text
        self.stale = ""  # non-empty: the shown head is old; drawn greyed with this note
        self.note = ""  # a line under the readout (e.g. "2 faces: the largest is read")
        # what the 3-class bar is: a head of the model's own, or the 7 classes summed
        self.three_caption = "3-class output (its own head)"
        self.setMinimumSize(200, 195)

    def set_head(self, head, stale: str = "", note: str = "") -> None:
        if head is self.head and stale == self.stale and note == self.note:
            return
        self.head, self.stale, self.note = head, stale, note
        self.update()

    def paintEvent(self, _):
        p = self._begin()
        r = QRectF(self.rect()).adjusted(4, 2, -4, -4)
        head = self.head
        colour = theme.MUTED if self.stale else self.colour
        col = qcolor(colour)
        if head is None:
            if self.current:
                p.setPen(qcolor(theme.MUTED))
                p.setFont(theme.font(15))
                p.drawText(r, Qt.AlignCenter | Qt.TextWordWrap, self.stale or self.empty_text)  # never cut at both ends
            self.paint_veil(p, False)
            return
        self._paint_head(p, r, head, col)
        if self.stale or self.note:
            p.setFont(theme.font(13, True))
            p.setPen(qcolor(theme.WARN if self.stale else theme.MUTED))
            p.drawText(QRectF(r.x(), r.y() + 30, r.width(), 20), Qt.AlignLeft | Qt.AlignVCenter, self.stale or self.note)
        self.paint_veil(p, True)

    def _paint_head(self, p: QPainter, r: QRectF, head, col) -> None:
        probs7 = np.asarray(head.probs7, float)
        top = int(np.argmax(probs7))
        p.setPen(col)
        percent = f"{probs7[top] * 100:.0f}%"
        p.setFont(theme.font(24, True))
        percent_w = p.fontMetrics().horizontalAdvance(percent) + 8
        p.drawText(QRectF(r.x(), r.y(), r.width(), 40), Qt.AlignRight | Qt.AlignVCenter, percent)
        # the class name never runs into its percentage: a smaller size first, then "…"
        name_w = int(r.width() - percent_w)
        p.setFont(_fitting_font(EMOTIONS_7[top], name_w, 30, 16, bold=True))
        p.drawText(QRectF(r.x(), r.y(), name_w, 40), Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(EMOTIONS_7[top], Qt.ElideRight, name_w))
        y = r.y() + 44
        # below the bars: caption 15 + 3-class bar 26 + one or two lines of figures
        has_intensity = getattr(head, "intensity", None) is not None
        tight = r.height() < 44 + 7 * 16 + 45 + 46  # then the figures share one line
        below = 45 + (22 if tight else 24 + 22 * has_intensity)
        row = max(12.0, min(30.0, (r.height() - 44 - below) / 7))
        # the longest class name, a short bar and the figure always fit side by side
        p.setFont(_fitting_font("happiness", int(r.width()) - 40 - 30 - 10, max(11, int(row * 0.62) + 1), 8))
        label_w = p.fontMetrics().horizontalAdvance("happiness") + 10
        for i, name in enumerate(EMOTIONS_7):
            yy = y + i * row
            p.setPen(qcolor(theme.TEXT if i == top else theme.MUTED))
            p.drawText(QRectF(r.x(), yy, label_w, row), Qt.AlignLeft | Qt.AlignVCenter, name)
            bar = QRectF(r.x() + label_w, yy + row * 0.2, r.width() - label_w - 40, row * 0.6)
            p.fillRect(bar, qcolor(theme.GRID))
            p.fillRect(QRectF(bar.x(), bar.y(), bar.width() * float(probs7[i]), bar.height()),
                       qcolor(col.name(), 255 if i == top else 150))
            p.drawText(QRectF(bar.right(), yy, 40, row), Qt.AlignRight | Qt.AlignVCenter, f"{probs7[i] * 100:.0f}")
        y += 7 * row + 4
        # Whether the 3-class bar is a head of its own or the 7 classes summed is said, so the two
        # never read as one contradictory result.
        p.setFont(theme.font(11))
        p.setPen(qcolor(theme.MUTED))
        p.drawText(QRectF(r.x(), y, r.width(), 14), Qt.AlignLeft | Qt.AlignVCenter, self.three_caption)
        y += 15
        self._paint_three(p, QRectF(r.x(), y, r.width(), 20), np.asarray(head.probs3, float))
        y += 26
        p.setPen(qcolor(theme.TEXT))
        va = f"valence {head.valence:+.2f}    arousal {head.arousal:+.2f}"
        if tight:
            line = va + (f"    intensity {head.intensity:.1f}/3" if has_intensity else "")
            p.setFont(_fitting_font(line, int(r.width()), 13, 9, bold=True))
            p.drawText(QRectF(r.x(), y, r.width(), 22), Qt.AlignLeft | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(line, Qt.ElideRight, int(r.width())))
            return
        va = va.replace("    ", "  ") if r.width() < 260 else va  # arousal stays whole in a narrow panel
        p.setFont(_fitting_font(va, int(r.width()), 15, 9, bold=True))
        p.drawText(QRectF(r.x(), y, r.width(), 22), Qt.AlignLeft | Qt.AlignVCenter, va)
        if has_intensity:
            p.drawText(QRectF(r.x(), y + 24, r.width(), 22), Qt.AlignLeft | Qt.AlignVCenter,
                       f"expression intensity {head.intensity:.1f} / 3")

    def _paint_three(self, p: QPainter, r: QRectF, probs3: np.ndarray) -> None:
        shades = {"positive": theme.OK, "negative": theme.BAD, "neutral": theme.MUTED}
        x = r.x()
        p.setFont(theme.font(12, True))
        for name, v in zip(CLASSES_3, probs3):
            w = r.width() * float(v)
            seg = QRectF(x, r.y(), w, r.height())
            p.fillRect(seg, qcolor(shades[name], 170))
            label = f"{name} {v * 100:.0f}%"
            if p.fontMetrics().horizontalAdvance(label) + 8 < w:
                p.setPen(qcolor("#101214"))
                p.drawText(seg, Qt.AlignCenter, label)
            x += w


# Class labels sit where a 100% reading of the class lands (labels.CIRCUMPLEX_ANGLE_DEG), drawn a
# little inside the rim; anger, fear and disgust lie close together and are pulled apart.
_LABEL_NUDGE = {"anger": (16, -2), "fear": (-4, 12), "disgust": (-30, 26)}


class CircumplexCanvas(Canvas):
    """Valence (x) against arousal (y): ER and FER now, with trails, and the gap between them."""

    TRAIL = 40

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trails = {"er": deque(maxlen=self.TRAIL), "fer": deque(maxlen=self.TRAIL)}
        self.window_s = 8.0  # the model's window, from the newest prediction
        self.no_fer = False  # the model reads no FER (fer_source "none")
        self.setMinimumSize(180, 180)

    def add(self, prediction) -> None:
        self.window_s = float(getattr(prediction, "window_s", self.window_s) or self.window_s)
        self.trails["er"].append((prediction.er.valence, prediction.er.arousal))
        if reads_fer(prediction):  # an untrained FER head's output is no reading: no FER dot
            self.trails["fer"].append((prediction.fer.valence, prediction.fer.arousal))
        else:
            self.trails["fer"].clear()
        self.no_fer = not reads_fer(prediction)
        self.update()

    def fer_label(self) -> str:
        return "no FER" if self.no_fer else f"FER, {self.window_s:g} s mean ●"

    def clear(self) -> None:
        for t in self.trails.values():
            t.clear()
        self.no_fer = False
        self.update()

    def paintEvent(self, _):
        p = self._begin()
        side = min(self.width(), self.height()) - 28
        box = QRectF((self.width() - side) / 2, 6, side, side)
        cx, cy, rad = box.center().x(), box.center().y(), side / 2

        def pt(v, a):
            return QPointF(cx + float(np.clip(v, -1, 1)) * rad, cy - float(np.clip(a, -1, 1)) * rad)

        p.setPen(QPen(qcolor(theme.GRID), 1))
        p.setBrush(Qt.NoBrush)
        p.drawEllipse(box)
        p.drawLine(QPointF(box.left(), cy), QPointF(box.right(), cy))
        p.drawLine(QPointF(cx, box.top()), QPointF(cx, box.bottom()))
        p.setFont(theme.font(11))
        p.setPen(qcolor(theme.MUTED))
        p.drawText(QRectF(box.left(), box.bottom() + 2, box.width(), 18), Qt.AlignCenter, "valence →")
        p.save()
        p.translate(box.left() - 4, cy)
        p.rotate(-90)
        p.drawText(QRectF(-60, -14, 120, 14), Qt.AlignCenter, "arousal →")
        p.restore()
        er, fer = self.trails["er"], self.trails["fer"]
        if er and fer:
            p.setPen(QPen(qcolor(theme.GAP), 2, Qt.DashLine))
            p.drawLine(pt(*er[-1]), pt(*fer[-1]))
        for key, colour in (("fer", theme.FER), ("er", theme.ER)):
            trail = list(self.trails[key])
            if not trail:
                continue
            p.setPen(QPen(qcolor(colour, 110), 2))
            p.drawPolyline(QPolygonF([pt(v, a) for v, a in trail]))
            p.setPen(QPen(qcolor("#101214"), 2))
            p.setBrush(qcolor(colour))
            p.drawEllipse(pt(*trail[-1]), 8, 8)
        # emotion names last, on a dark halo, so a dot sitting on its anchor never hides one
        p.setFont(theme.font(11))
        for name, (v, a) in zip(EMOTIONS_7, CIRCUMPLEX_POSITIONS):
            if name != "neutral":
                q = pt(0.82 * v, 0.82 * a)
                dx, dy = _LABEL_NUDGE.get(name, (0, 0))
                r = QRectF(q.x() - 40 + dx, q.y() - 8 + dy, 80, 16)
                w = p.fontMetrics().horizontalAdvance(name) + 6
                p.fillRect(QRectF(r.center().x() - w / 2, r.y() + 1, w, 14), qcolor(theme.PANEL, 170))
                p.setPen(qcolor(theme.MUTED))
                p.drawText(r, Qt.AlignCenter, name)
        # both dots are the model's window: its FER is the mean over the window's frames, not the
        # FER panel's per-frame reading, so the two are named apart
        fer_label = self.fer_label()
        p.setFont(_fitting_font(fer_label, int(box.width() * 0.7), 12, 9, bold=True))
        p.setPen(qcolor(theme.ER))
        p.drawText(QRectF(box.left(), box.top(), box.width() * 0.3, 16), Qt.AlignLeft, "● ER")
        p.setPen(qcolor(theme.FER))
        p.drawText(QRectF(box.right() - box.width() * 0.7, box.top(), box.width() * 0.7, 16), Qt.AlignRight, fer_label)
        self.paint_veil(p, bool(er and (fer or self.no_fer)))
