"""Stages with a lifecycle: each live stage is opened and closed by one owner.

A stage is anything with open() and close() (Pupil Capture's plugins have init/cleanup the same
way): a camera or gaze source, the face step (MediaPipe's graph and the landmark network's ONNX
session), the inference engine (its ONNX sessions and their thread pools). The owner opens them
in order and closes them in reverse, every one even when another fails, so stopping and starting
the live view again and again leaves no threads, sessions or device handles behind.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Stage(Protocol):
    def open(self) -> None: ...

    def close(self) -> None: ...


class StageOwner:
    """Opens stages and remembers them; close() closes what was opened, newest first, once."""

    def __init__(self, name: str = "live pipeline"):
        self.name = name
        self._opened: list[tuple[str, object]] = []

    def open(self, label: str, stage) -> None:
        """Open a stage (a stage with nothing to open, e.g. a loaded engine, is only adopted).
        A failure propagates; what was opened before stays owned, for close() to undo."""
        opener = getattr(stage, "open", None)
        if opener is not None:
            opener()
        self._opened.append((label, stage))

    def adopt(self, label: str, stage) -> None:
        """Own a stage that is already open (built before the owner existed)."""
        self._opened.append((label, stage))

    @property
    def stages(self) -> list[str]:
        return [label for label, _ in self._opened]

    def close(self, only: tuple = ()) -> list[str]:
        """Close every owned stage (or those labelled in `only`), newest first, and forget them;
        a stage that fails to close is logged with its traceback and the rest are closed anyway.
        Returns the labels that failed."""
        failed = []
        chosen = [(label, stage) for label, stage in self._opened if not only or label in only]
        self._opened = [item for item in self._opened if item not in chosen]
        while chosen:
            label, stage = chosen.pop()
            closer = getattr(stage, "close", None)
            if closer is None:
                continue
            try:
                closer()
            except Exception:  # closing must finish: one broken stage must not keep the others open
                log.exception("%s: closing the %s failed", self.name, label)
                failed.append(label)
        return failed


def release_freed_memory() -> None:
    """After closing a pipeline: collect its cycles and hand the freed heap back to the system.
    glibc keeps what worker threads freed in per-thread arenas; without a trim a process that
    restarts its pipeline keeps growing though nothing is referenced any more."""
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass
