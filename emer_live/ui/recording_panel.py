"""The recording panel: a large REC indicator with the elapsed time, the participant, the whole
session path (click to open the folder), free disk space and the time left at the current write
rate, and a live list of what the session holds: markers, stimuli, self-assessments, pauses."""

from __future__ import annotations

import html
import shutil
import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QLabel, QListWidget, QVBoxLayout

from emer_live.ui import theme
from emer_live.ui.fit import breakable_path, never_widens


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _duration(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def disk_line(elapsed_s: float, bytes_written: int, free_bytes: int) -> str:
    """'12.3 GB free · about 3:25:10 left at 1.0 MB/s' (the rate so far in this session)."""
    if elapsed_s < 2 or bytes_written <= 0:
        return f"{_size(free_bytes)} free"
    rate = bytes_written / elapsed_s
    return f"{_size(free_bytes)} free · about {_duration(free_bytes / rate)} left at {_size(rate)}/s"


class RecordingPanel(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("panel")
        self.session = None
        self.started = 0.0
        self.rec = QLabel("not recording — R starts")
        self.rec.setFont(theme.font(26, True))
        self.participant = never_widens(QLabel(""))
        self.path = never_widens(QLabel(""))
        self.path.setToolTip("click to open the session folder")
        self.path.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))
        self.disk = never_widens(QLabel(""))  # also "last session: PATH" after a recording
        self.stimulus = never_widens(QLabel(""))
        self.stimulus.setStyleSheet(f"color: {theme.WARN}; font-weight: 700; background: transparent;")
        self.problem = never_widens(QLabel(""))
        self.problem.setStyleSheet(f"color: {theme.BAD}; font-weight: 700; background: transparent;")
        self.problem.hide()
        self.items = QListWidget()
        self.items.setMinimumHeight(80)
        self.items.setWordWrap(True)
        self.items.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 10)
        title = QLabel("RECORDING")
        title.setObjectName("title")
        for w in (title, self.rec, self.participant, self.path, self.disk, self.stimulus, self.problem):
            lay.addWidget(w)
        lay.addWidget(QLabel("In this session:"))
        lay.addWidget(self.items, 1)
        self._idle_style()

    def _idle_style(self) -> None:
        self.rec.setStyleSheet(f"color: {theme.MUTED}; background: transparent;")

    def begin(self, session) -> None:
        self.session, self.started = session, time.monotonic()
        folder = Path(session.folder)
        self.rec.setStyleSheet(f"color: {theme.BAD}; background: transparent;")
        self.participant.setText(f"participant {session.meta.get('participant', '')}")
        self.path.setText(f'<a style="color:{theme.FER}" href="{QUrl.fromLocalFile(str(folder)).toString()}">'
                          f'{html.escape(breakable_path(str(folder)))}</a>')
        self.path.setToolTip(f"{folder}\nclick to open the session folder")
        self.items.clear()
        self.problem.hide()
        self.stimulus.setText("")
        self.refresh()

    def end(self, note: str = "") -> None:
        self.session = None
        self.rec.setText("not recording — R starts")
        self._idle_style()
        self.disk.setText(breakable_path(note))
        self.disk.setToolTip(note)

    def set_stimulus(self, text: str) -> None:
        """The stimulus now running ('' when none), so an open one is never forgotten."""
        self.stimulus.setText(text)

    def add_item(self, elapsed_s: float, kind: str, text: str) -> None:
        self.items.addItem(f"{_duration(elapsed_s)}  {kind}: {text}" if text else f"{_duration(elapsed_s)}  {kind}")
        self.items.scrollToBottom()

    def elapsed(self) -> float:
        return time.monotonic() - self.started if self.session is not None else 0.0

    def refresh(self) -> None:
        """Once a second or so: the clock, the disk figures and any writer failure."""
        session = self.session
        if session is None:
            return
        elapsed = self.elapsed()
        self.rec.setText(f"● REC {_duration(elapsed)}")
        try:
            free = shutil.disk_usage(session.folder).free
            written = int(session.stats().get("bytes_written") or 0)
            self.disk.setText(disk_line(elapsed, written, free))
        except OSError as e:
            self.disk.setText(f"disk space unknown: {e.strerror or e}")
        err = session.error
        if err is not None:
            self.problem.setText(f"RECORDING FAILED: {err}")
            self.problem.show()
