"""Progress of a whole training run: which method, which fold, which epoch, how much of the run is
done and an ETA. One line per finished epoch on stderr, on a terminal and in a log file alike (a
run of hours under nohup or a batch scheduler says where it is); the per-batch bar of an epoch
stays the trainer's (terminal only).

The run sets the stage (`stage(method, fold, folds)`) before training each model; the trainer
reports each epoch to the active RunProgress (`active()`), so the trainer's signature and the
distributed trainer stay as they are.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Optional

_active: Optional["RunProgress"] = None


def active() -> Optional["RunProgress"]:
    return _active


@contextmanager
def reporting(progress: Optional["RunProgress"]):
    """Make `progress` the run's reporter for the block (None: report nothing)."""
    global _active
    before, _active = _active, progress
    try:
        yield progress
    finally:
        _active = before


def _clock_text(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class RunProgress:
    def __init__(self, total_epochs: int, stream=None, clock=time.monotonic):
        self.total = max(1, int(total_epochs))
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.done = 0
        self.measured_s, self.measured = 0.0, 0  # epochs trained in this process (not resumed ones)
        self.method, self.fold, self.folds = "", None, None

    def stage(self, method: str, fold: Optional[int] = None, folds: Optional[int] = None) -> None:
        self.method, self.fold, self.folds = method, fold, folds

    def epoch_done(self, epoch: int, epochs: int, seconds: Optional[float], loss: Optional[float] = None) -> str:
        """Epoch `epoch` (1-based) of `epochs` finished in `seconds` (None: taken from a checkpoint)."""
        self.done = min(self.total, self.done + 1)
        if seconds is not None:
            self.measured_s += float(seconds)
            self.measured += 1
        where = self.method + (f" fold {self.fold + 1}/{self.folds}" if self.fold is not None else "")
        line = f"{where}: epoch {epoch}/{epochs}"
        if loss is not None:
            line += f", loss {loss:.4f}"
        line += f" | run {self.done}/{self.total} epochs ({100.0 * self.done / self.total:.0f}%)"
        if self.measured:
            eta = self.measured_s / self.measured * (self.total - self.done)
            line += f", ETA {_clock_text(eta)} (mean epoch {self.measured_s / self.measured:.1f} s)"
        self.stream.write(line + "\n")
        self.stream.flush()
        return line
