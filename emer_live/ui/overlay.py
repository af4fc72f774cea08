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
        p.setPen(qcolor(theme.TEXT))
        p.setFont(theme.font(26, True))
        top = max(30, (self.height() - 44 * (len(self.rows) + 2)) // 2)
        p.drawText(0, top, self.width(), 40, Qt.AlignCenter, "Keyboard shortcuts")
        col = self.width() // 2
        for i, (key, what) in enumerate(self.rows):
            y = top + 60 + i * 38
            p.setFont(theme.font(20, True))
            p.setPen(qcolor(theme.ER))
            p.drawText(col - 320, y, 300, 34, Qt.AlignRight | Qt.AlignVCenter, key)
            p.setFont(theme.font(20))
            p.setPen(qcolor(theme.TEXT))
            p.drawText(col + 20, y, 600, 34, Qt.AlignLeft | Qt.AlignVCenter, what)
        p.setFont(theme.font(15))
        p.setPen(qcolor(theme.MUTED))
        p.drawText(0, top + 70 + len(self.rows) * 38, self.width(), 30, Qt.AlignCenter, "any key or click closes this")

    def keyPressEvent(self, _):
        self.hide()

    def mousePressEvent(self, _):
        self.hide()
