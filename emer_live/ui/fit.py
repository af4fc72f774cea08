"""The window on the screen it opens on: its first size comes from the screen's free area (a 1280x720
laptop, a projector, a 4K monitor), never a fixed size that puts panels off screen."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

PREFERRED = QSize(1600, 940)  # the layout's comfortable size on a 1080p monitor
FILL_LARGE = 0.8  # on larger screens the window takes this share of the free area, so it scales up
TITLE_BAR_PX = 32  # a window manager's frame, not yet known before the first show


def initial_geometry(available: QRect, preferred: QSize = PREFERRED) -> QRect:
    """The first geometry inside `available` (the screen less task bars): the preferred size where it
    fits, the whole free area where it does not, a share of it on large screens; centred. The
    rect's top-left is the frame's (Qt's move()), its size the window's without the title bar."""
    room_w, room_h = available.width(), max(1, available.height() - TITLE_BAR_PX)
    w = min(room_w, max(preferred.width(), int(room_w * FILL_LARGE)))
    h = min(room_h, max(preferred.height(), int(room_h * FILL_LARGE)))
    x = available.x() + (available.width() - w) // 2
    y = available.y() + (room_h - h) // 2  # where the frame's top goes: the title bar lies below it
    return QRect(x, y, w, h)


def fit_to_screen(win: QWidget, preferred: QSize = PREFERRED) -> QRect:
    """Size and place `win` within its screen's available geometry (call before show)."""
    screen = win.screen() or QGuiApplication.primaryScreen()
    if screen is None:  # no screen at all (an odd platform): keep the preferred size
        win.resize(preferred)
        return QRect(0, 0, preferred.width(), preferred.height())
    rect = initial_geometry(screen.availableGeometry(), preferred)
    win.resize(rect.size())
    win.move(rect.topLeft())  # the frame's position: the title bar fits between it and the window
    return rect


def frame_inside(available: QRect, frame: QRect, inner: QRect) -> QRect:
    """Where the window goes (frame's top-left, window's size) so its whole frame, the window
    manager's borders included, lies inside `available`: openbox adds 1 px each side, so a window
    of the whole width overflows by 2 px."""
    extra_w, extra_h = frame.width() - inner.width(), frame.height() - inner.height()
    w = min(inner.width(), available.width() - extra_w)
    h = min(inner.height(), available.height() - extra_h)
    x = min(max(frame.x(), available.x()), available.right() + 1 - (w + extra_w))
    y = min(max(frame.y(), available.y()), available.bottom() + 1 - (h + extra_h))
    return QRect(x, y, w, h)


def keep_frame_inside(win: QWidget) -> bool:
    """Once shown (the frame is known): moves and shrinks `win` as frame_inside says; True if it did."""
    screen = win.screen()
    if screen is None or not win.isVisible() or win.isFullScreen() or win.isMaximized():
        return False
    frame, inner = win.frameGeometry(), win.geometry()
    place = frame_inside(screen.availableGeometry(), frame, inner)
    if place == QRect(frame.topLeft(), inner.size()):
        return False
    win.resize(place.size())
    win.move(place.topLeft())
    return True


def never_widens(label: QLabel) -> QLabel:
    """A label whose text wraps within the width it is given instead of asking for more (a long path,
    an error message): the window never grows to fit one line."""
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    label.setMinimumWidth(0)
    return label


def breakable_path(text: str) -> str:
    """A path that may wrap after any separator (a zero-width space after each '/' or '\\'): a word-
    wrapped label cannot break a path that has no spaces, and would widen the window instead."""
    return text.replace("/", "/\u200b").replace("\\", "\\\u200b")
