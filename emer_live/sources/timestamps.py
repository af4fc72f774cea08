"""Timestamp rules shared by the gaze file reader and the live Tobii source.

Device timestamps misbehave in three ways, each handled without losing the rest of the stream:

- a repeated timestamp: the sample is a duplicate, dropped (counted);
- one spiked or corrupt timestamp (a jump forward or back that the next sample does not follow):
  that one sample is rejected as bad;
- a clock step (a jump back, or forward by more than STEP_FORWARD_US, that the next sample
  follows): a new segment starts there and the stream goes on.

A forward jump up to STEP_FORWARD_US that the next sample follows is a real gap (samples lost).
Telling a spike from a step needs the next sample, so a suspicious sample waits for it: a live
stream holds back one sample, and only after a jump. Warnings are one episode per run of the
same problem, with counts, never one per sample.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

SPIKE_CHECK_US = 1_000_000  # forward jumps beyond this (and any step back) wait for the next sample
STEP_FORWARD_US = 60_000_000  # a followed forward jump beyond this is a clock step, not lost samples

OK, NEW_SEGMENT, DUPLICATE, SPIKE, UNREADABLE = "ok", "new_segment", "duplicate", "spike", "unreadable"
KEPT = (OK, NEW_SEGMENT)
PROBLEM_TEXT = {
    DUPLICATE: "repeated timestamp(s): duplicate sample(s) dropped",
    SPIKE: "spiked or corrupt timestamp(s): sample(s) rejected",
    UNREADABLE: "unreadable timestamp(s): sample(s) rejected",
    NEW_SEGMENT: "clock step: a new segment starts",
}


@dataclass
class Episode:
    kind: str  # DUPLICATE, SPIKE, UNREADABLE or NEW_SEGMENT
    first: int  # index of the first sample concerned (order fed)
    count: int = 1
    step_us: Optional[float] = None  # NEW_SEGMENT: how far the clock jumped

    def message(self) -> str:
        text = f"{self.count} {PROBLEM_TEXT[self.kind]}"
        if self.kind == NEW_SEGMENT:
            text = f"clock stepped {'back' if self.step_us < 0 else 'forward'} by {abs(self.step_us) / 1e6:.3f} s: " \
                   "a new segment starts, the stream continues"
        return text


@dataclass
class TimestampGuard:
    """Feed timestamps (µs) in arrival order; get each item back with its verdict, in order."""

    spike_check_us: float = SPIKE_CHECK_US
    step_forward_us: float = STEP_FORWARD_US
    last: Optional[float] = None  # newest kept timestamp
    counts: Counter = field(default_factory=Counter)
    episodes: list = field(default_factory=list)
    last_kind: Optional[str] = None  # verdict of the newest sample decided
    _pending: Optional[tuple] = None  # (t, item, index) waiting for the next sample
    _n: int = 0

    def _follows(self, a: float, b: float) -> bool:
        return 0 < b - a <= self.spike_check_us

    def feed(self, t: Any, item: Any = None) -> list[tuple[Any, str]]:
        out: list = []
        index, self._n = self._n, self._n + 1
        t = _number(t)
        if self._pending is not None:
            pt, pitem, pindex = self._pending
            self._pending = None
            if t is not None and self.last is not None and self._follows(self.last, t):
                out.append(self._verdict(pitem, pindex, SPIKE))
            elif t is not None and self._follows(pt, t):
                jump = pt - self.last
                if jump < 0 or jump > self.step_forward_us:
                    out.append(self._verdict(pitem, pindex, NEW_SEGMENT, jump))
                else:  # a real gap: samples were lost, the clock is fine
                    out.append(self._verdict(pitem, pindex, OK))
                self.last = pt
            else:
                out.append(self._verdict(pitem, pindex, SPIKE))
        if t is None:
            out.append(self._verdict(item, index, UNREADABLE))
        elif self.last is None:
            self.last = t
            out.append(self._verdict(item, index, OK))
        elif t == self.last:
            out.append(self._verdict(item, index, DUPLICATE))
        elif self._follows(self.last, t):
            self.last = t
            out.append(self._verdict(item, index, OK))
        else:
            self._pending = (t, item, index)
        return out

    def flush(self) -> list[tuple[Any, str]]:
        """End of stream: a sample still waiting has no successor to confirm it; it is rejected."""
        if self._pending is None:
            return []
        _, item, index = self._pending
        self._pending = None
        return [self._verdict(item, index, SPIKE)]

    def open_episode(self) -> bool:
        """True while the newest episode may still grow (the newest verdict continued it)."""
        return bool(self.episodes) and self._pending is None and self.last_kind == self.episodes[-1].kind \
            and self.last_kind != NEW_SEGMENT

    def _verdict(self, item, index: int, kind: str, step_us: Optional[float] = None) -> tuple:
        self.counts[kind] += 1
        self.last_kind = kind
        if kind != OK:
            e = self.episodes[-1] if self.episodes else None
            if kind != NEW_SEGMENT and e is not None and e.kind == kind and e.first + e.count == index:
                e.count += 1
            else:
                self.episodes.append(Episode(kind, index, 1, step_us))
        return item, kind


def _number(t) -> Optional[float]:
    try:
        v = float(t)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def judge_series(t, guard: TimestampGuard) -> dict:
    """Feed a whole recorded series (µs, a float array) through `guard`, in order, and return
    {index: verdict} for every sample whose verdict is not OK: what feed() one by one would give,
    but clean stretches (each step forward and under the spike check) are passed in bulk, so an
    hour of samples with one spike costs a few numpy calls, not a Python call per sample."""
    import numpy as np

    t = np.asarray(t, dtype=np.float64)
    n = len(t)
    with np.errstate(invalid="ignore"):
        steps = np.diff(t)
        clean = np.isfinite(steps) & (steps > 0) & (steps <= guard.spike_check_us)
    hard = np.flatnonzero(~clean) + 1  # samples whose step from the previous one needs a decision
    out: dict = {}
    i = 0
    while i < n:
        if i and clean[i - 1] and guard._pending is None and guard.last == t[i - 1]:
            k = int(np.searchsorted(hard, i))
            j = int(hard[k]) if k < len(hard) else n
            guard.last = float(t[j - 1])
            guard.counts[OK] += j - i
            guard.last_kind = OK
            guard._n += j - i
            i = j
            continue
        for item, kind in guard.feed(t[i], i):
            if kind != OK:
                out[item] = kind
        i += 1
    for item, kind in guard.flush():
        out[item] = kind
    return out


def spread_repeats(t_us, quantum_us: float):
    """Timestamps written in whole units coarser than the sample period (whole milliseconds at
    1200 Hz) repeat for real samples: 1.2 samples fall in each millisecond. Judged by the file's
    own rate (samples per unit of time on its regular steps), each run of equal timestamps keeps
    up to that many samples rounded up, spread evenly across its unit so time keeps increasing;
    samples beyond that stay on the run's last time and are duplicates to the guard. A file
    whose rate is under one sample per unit (300 Hz in ms) comes back unchanged."""
    import numpy as np

    t = np.asarray(t_us, dtype=np.float64)
    n = len(t)
    if n < 3 or not quantum_us > 0:
        return t
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    lengths = np.diff(np.r_[starts, n])
    if (lengths == 1).all():
        return t
    with np.errstate(invalid="ignore"):
        d = np.diff(t[starts])
        ok = np.isfinite(d) & (d > 0)
        if not ok.any():
            return t
        regular = ok & (d <= 1.5 * np.median(d[ok]))
    per_unit = lengths[:-1][regular].sum() / d[regular].sum() * quantum_us
    cap = math.ceil(per_unit - 0.05)  # a rate at the unit's own (1000 Hz in ms) does not spread
    if cap < 2:
        return t
    kept = np.repeat(np.minimum(lengths, cap), lengths)
    pos = np.arange(n) - np.repeat(starts, lengths)
    return t + np.minimum(pos, kept - 1) * (quantum_us / kept)
