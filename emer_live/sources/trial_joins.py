"""Which gaze recordings played one after another are one continuous recording, and which windows a
break rules out: the one rule the player, the pipeline and training share.

A folder of trial files (one file per trial, as experiment software often saves them) is one
session cut into pieces. Where the next trial's first device time stamp follows the previous
trial's last one within JOIN_GAP_S, the two are joined: the next plays at its own device time after
the previous (the short gap stays a gap, which the eye pipeline treats as missing gaze), and windows
may span the seam. Otherwise a break is kept and says why: another participant, time the tracker
did not record, or a trial that starts before the previous one ended (overlapping, or saved out of
order). No window spans a break, at run time or in training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Optional, Sequence

# Largest device-time gap between two trials that is joined. Tobii trackers sample at 30-1200 Hz,
# so a trial saved straight after the previous one starts within a few sample periods of its end;
# a second of unrecorded time is still short enough that the window around it is judged by the
# usual missing-gaze rule, while an inter-trial pause of several seconds (unrecorded eyes) is not.
JOIN_GAP_S = 1.0


@dataclass(frozen=True)
class TrialSeam:
    """Where one recording ends and the next begins in a played sequence."""

    previous: str  # name of the recording that ends (file, participant, recording)
    next: str  # name of the one that starts
    joined: bool
    gap_s: Optional[float]  # next's first device time minus previous's last (negative: overlap); None: unknown
    why: str

    def as_dict(self) -> dict:
        return asdict(self)


def seam(previous: str, next: str, prev_end_us: Optional[int], next_start_us: Optional[int],
         same_person: bool = True, max_gap_s: float = JOIN_GAP_S) -> TrialSeam:
    """Join or break between two recordings, from their device time stamps (microseconds)."""
    if not same_person:
        return TrialSeam(previous, next, False, None,
                         "another participant, recording or folder: not one session's trials")
    if prev_end_us is None or next_start_us is None:
        return TrialSeam(previous, next, False, None, "no device time stamps to place one after the other")
    gap_s = (int(next_start_us) - int(prev_end_us)) / 1e6
    if gap_s <= 0:
        return TrialSeam(previous, next, False, round(gap_s, 6),
                         f"starts {-gap_s:.3f} s before the previous trial's last sample (overlapping or out "
                         "of order): one clock cannot place both")
    if gap_s > max_gap_s:
        return TrialSeam(previous, next, False, round(gap_s, 6),
                         f"starts {gap_s:.3f} s after the previous trial ends (more than {max_gap_s:g} s the "
                         "tracker did not record)")
    return TrialSeam(previous, next, True, round(gap_s, 6),
                     f"follows on {gap_s * 1000:.1f} ms after the previous trial (joined)")


def seams_summary(seams: Sequence[TrialSeam]) -> dict:
    """What a session file keeps: how many seams were joined and where breaks remain, with why."""
    return {"join_gap_s": JOIN_GAP_S, "joined": sum(s.joined for s in seams),
            "breaks": sum(not s.joined for s in seams), "seams": [s.as_dict() for s in seams]}


def window_spans_break(start_ns: int, end_ns: int, breaks: Iterable[int]) -> bool:
    """True if a window (start_ns, end_ns] holds the start of a new, unjoined recording or segment."""
    return any(start_ns < b <= end_ns for b in breaks)
