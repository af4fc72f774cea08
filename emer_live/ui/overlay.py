"""The help overlay: every shortcut, drawn over the window; any key or click hides it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QWidget

from emer_live.ui import theme
from emer_live.ui.theme import qcolor


class HelpOverlay(QWidget):
    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.rows: list[tuple[str, str]] = []
        self.footer_y = 0
        self.setFocusPolicy(Qt.StrongFocus)
        self.hide()

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.setGeometry(self.parentWidget().rect())
            self.show()
            self.raise_()
            self.setFocus()

    def paintEvent(self, _):
        p = QPainter(self)
        p.fillRect(self.rect(), qcolor("#0c0d0f", 225))
        # rows shrink to the height there is (a 1280x720 laptop), so the footer stays inside
        n = len(self.rows)
        row = int(max(16, min(38, (self.height() - 130) / max(n, 1))))
        scale = row / 38
        top = max(8, (self.height() - row * n - 130) // 2)
        col = self.width() // 2
        p.setPen(qcolor(theme.TEXT))
        p.setFont(theme.font(max(14, round(26 * scale)), True))
        p.drawText(0, top, self.width(), 40, Qt.AlignCenter, "Keyboard shortcuts")
        for i, (key, what) in enumerate(self.rows):
            y = top + 56 + i * row
            p.setFont(theme.font(max(11, round(20 * scale)), True))
            p.setPen(qcolor(theme.ER))
            p.drawText(col - 320, y, 300, row, Qt.AlignRight | Qt.AlignVCenter, key)
            p.setFont(theme.font(max(11, round(20 * scale))))
            p.setPen(qcolor(theme.TEXT))
            p.drawText(col + 20, y, max(100, self.width() - col - 30), row, Qt.AlignLeft | Qt.AlignVCenter, what)
        p.setFont(theme.font(15))
        p.setPen(qcolor(theme.MUTED))
        self.footer_y = top + 66 + n * row  # where the footer is drawn (tests check it stays inside)
        p.drawText(0, self.footer_y, self.width(), 30, Qt.AlignCenter, "any key or click closes this")

    def keyPressEvent(self, _):
        self.hide()

    def mousePressEvent(self, _):
        self.hide()
