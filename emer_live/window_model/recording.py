"""RecordingModel: the window's recording bookkeeping, Qt-free. Whether R can record now (and why
not), the session's markers, stimuli and the span a free self-assessment rates, the REC line and
the last session's folder. The window opens and closes the RecordingSession and draws what this
says."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def why_not_record(stats: dict, running: bool, loading: bool = False) -> str:
    """Why R cannot record now ('' when it can): the model is still loading, or every input has
    ended, so a session would hold nothing."""
    if loading:
        return "The model is still loading: R records once the live view runs."
    stats = stats if running else {}
    if stats.get("frames_ended") and (stats.get("gaze_ended") or stats.get("gaze_ended") is None):
        return ("Nothing to record: the video" + (" and the gaze have" if stats.get("gaze_ended") else " has")
                + " ended. Space plays the inputs again; O chooses other sources.")
    return ""


class RecordingModel:
    def __init__(self):
        self.recording = False
        self.started_s: Optional[float] = None  # when the recording began, on the caller's clock
        self.mark_ns: Optional[int] = None  # start of the segment a free self-assessment rates
        self.markers_placed = 0
        self.stimulus_n = 0  # stimuli begun over the window's life: each has its own number
        self.stimulus_open = False
        self.last_session: Optional[Path] = None

    def began(self, now_s: float, now_ns: int) -> None:
        self.recording, self.started_s, self.mark_ns, self.stimulus_open = True, now_s, now_ns, False

    def ended(self, folder) -> str:
        """The recording panel's last line once the session is closed."""
        self.recording, self.stimulus_open = False, False
        self.last_session = Path(folder)
        return f"last session: {folder}"

    def need_session(self, what: str) -> str:
        """What to say when a session action comes while nothing records ('' while recording)."""
        return "" if self.recording else f"{what}: not recording (press R to record)"

    def marker_placed(self, t_ns: int) -> None:
        """A marker also starts the segment the next free self-assessment rates."""
        self.mark_ns = t_ns
        self.markers_placed += 1

    def toggle_stimulus(self) -> tuple[bool, str]:
        """N: (True, its label) when a stimulus begins, (False, the open one's label) when it ends."""
        if not self.stimulus_open:
            self.stimulus_n += 1
        self.stimulus_open = not self.stimulus_open
        return self.stimulus_open, f"stimulus {self.stimulus_n}"

    @staticmethod
    def stimulus_texts(began: bool, label: str) -> tuple[str, str]:
        """(the recording panel's stimulus line, what the window says)."""
        if began:
            return f"▶ {label} running (N ends it)", f"{label} began (N ends it)"
        return "", f"{label} ended: A for the self-assessment"

    def free_assessment_span(self, end_ns: int) -> tuple[int, int]:
        """A self-assessment with no ended stimulus to rate rates the time since the last marker or
        answer (or the recording's start); the next one starts where it ends."""
        start = self.mark_ns or end_ns
        self.mark_ns = end_ns
        return start, end_ns

    def rec_label(self, now_s: float, error: object = None) -> str:
        """The status bar's REC line: elapsed time, and a failure that must not pass unseen."""
        if not self.recording or self.started_s is None:
            return ""
        s = int(now_s - self.started_s)
        return f"● REC {s // 60:02d}:{s % 60:02d}" + ("  — RECORDING FAILED" if error else "")
