"""Online eye pipeline: push raw gaze samples one by one, ask for an eye window at any time.

It runs the very code of eye_v1 on the recent samples, so a window holds the same numbers as
process_gaze + encode_window over the same samples (tested to be identical). How:

- push() only appends the raw values to a buffer (microseconds).
- Processing is incremental. Samples older than blink_max_s + blink_edge_s before the newest
  are final: no later sample can change them (a gap still open that long can no longer become
  a blink, a closed blink looks at most blink_edge_s past its end, everything else is causal).
  Each update re-processes the samples from the first non-final one, with enough earlier raw
  samples in front (that settling time + smoothing + velocity windows) for every look-back to
  see what the batch run sees, and carries the fixation stream's state across.
- Processed samples are kept for history_s (the longest window asked for), raw samples only as
  long as the look-back needs them: memory is bounded by the data rate times history_s.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from emer_live.features.eye_v1 import (
    BASELINE_SCHEMAS,
    EYE_DIM,
    STEPS,
    EyeParams,
    EyeWindow,
    FixationState,
    _encode,
    _fixation_stream,
    _samples,
    _state_at,
    column_sums,
    mean_of_sums,
)
from emer_live.types import GazeSample

_PROCESS_EVERY = 2048  # pending raw samples that trigger processing without a window() call
_BASELINE_BLOCK = 1024  # final rows whose column sums the rolling baseline keeps, summed once


class _Rows:
    """Columns of rows addressed by a global index; old rows dropped by compaction (amortised O(1))."""

    def __init__(self, columns: dict, capacity: int = 1024):
        self.cols = {k: np.empty((capacity, *shape), dtype) for k, (shape, dtype) in columns.items()}
        self.base = 0  # global index of row 0
        self.size = 0
        self.last_dropped = None  # the newest row dropped so far, per column

    @property
    def end(self) -> int:
        return self.base + self.size

    def reserve(self, n_new: int, keep_from: int) -> None:
        """Make room for n_new rows, dropping the rows before global index keep_from if needed."""
        cap = len(self.cols["t"])
        if self.size + n_new <= cap:
            return 0
        drop = min(max(keep_from - self.base, 0), self.size)
        if drop:
            self.last_dropped = {k: a[drop - 1].copy() for k, a in self.cols.items()}
            for a in self.cols.values():
                a[: self.size - drop] = a[drop : self.size]
            self.base += drop
            self.size -= drop
        if self.size + n_new > cap // 2:
            new_cap = max(2 * cap, 2 * (self.size + n_new))
            for k, a in self.cols.items():
                b = np.empty((new_cap, *a.shape[1:]), a.dtype)
                b[: self.size] = a[: self.size]
                self.cols[k] = b

    def view(self, name: str, g0: int, g1: int) -> np.ndarray:
        return self.cols[name][g0 - self.base : g1 - self.base]


@dataclass
class EyeStats:
    pushed: int = 0
    accepted: int = 0
    rejected_time: int = 0  # time equal to or before the previous sample's
    rejected_shape: int = 0  # not 30 raw values
    windows: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class EyeProcessor:
    """Thread-safe for one pushing thread and any number of threads asking for windows."""

    def __init__(self, params: EyeParams = EyeParams(), history_s: float = 130.0):
        self.params = params
        if params.schema in BASELINE_SCHEMAS:
            history_s = max(history_s, params.baseline_s)
        self.history_ns = int(history_s * 1e9)
        self._settle_ns = int((params.blink_max_s + params.blink_edge_s) * 1e9)  # older samples are final
        self._lookback_ns = self._settle_ns + int((params.smoothing_window_s + params.velocity_window_s + 0.05) * 1e9)
        self._raw = _Rows({"t": ((), np.int64), "raw": ((30,), np.float64)})
        self._out = _Rows({"t": ((), np.int64), "vec": ((EYE_DIM,), np.float32), "fix": ((2,), np.float32),
                           "valid": ((), bool), "event": ((), np.int8)})
        self._final = 0  # global index of the first sample that may still change
        self._raw_keep = 0  # raw rows before this global index are no longer needed
        self._state = FixationState()  # fixation stream after sample _final - 1
        self._last_t = None
        self._block_sums: dict = {}  # block k (rows k*_BASELINE_BLOCK onwards) -> column_sums of its final rows
        self._lock = threading.Lock()
        self.stats = EyeStats()

    def push(self, sample: GazeSample) -> bool:
        """Append one raw sample; False (and counted) if its time does not increase or its shape is wrong."""
        self.stats.pushed += 1
        t = sample.host_ns
        if self._last_t is not None and t <= self._last_t:
            self.stats.rejected_time += 1
            return False
        v = sample.values
        if np.shape(v) != (30,):
            self.stats.rejected_shape += 1
            return False
        with self._lock:
            r = self._raw
            r.reserve(1, self._raw_keep)
            r.cols["t"][r.size] = t
            r.cols["raw"][r.size] = v
            r.size += 1
            if r.end - self._final > _PROCESS_EVERY:
                self._advance()
        self._last_t = t
        self.stats.accepted += 1
        return True

    def _advance(self) -> None:
        """Process every sample from the first non-final one to the newest."""
        r = self._raw
        g_end = r.end
        if self._out.end == g_end:
            return
        g_ctx = self._context_start()
        t = r.view("t", g_ctx, g_end)
        vec, event, display = _samples(t, r.view("raw", g_ctx, g_end), self.params)
        k = self._final - g_ctx  # first row to keep
        fix, run = _fixation_stream(event[k:], display[k:], self._state)
        self._write(self._final, t[k:], vec[k:], fix, event[k:])
        # advance the final point and carry the fixation state to it
        new_final = g_ctx + int(np.searchsorted(t, t[-1] - self._settle_ns, "left"))
        if new_final > self._final:
            self._state = _state_at(new_final - 1 - self._final, fix, run)
            self._final = new_final
            self._raw_keep = self._context_start()

    def _context_start(self) -> int:
        """First raw sample that the look-backs of sample _final and the one before it can reach."""
        r = self._raw
        ref = max(self._final - 1, r.base)
        t_raw = r.view("t", r.base, r.end)
        g = r.base + int(np.searchsorted(t_raw, t_raw[ref - r.base] - self._lookback_ns, "left"))
        return min(g, ref)

    def _write(self, g0: int, t, vec, fix, event) -> None:
        o = self._out
        g1 = g0 + len(t)
        t_all = o.view("t", o.base, o.end)
        keep = o.base + int(np.searchsorted(t_all, t[-1] - self.history_ns, "left")) if len(t_all) else o.base
        keep = min(keep, g0)
        if o.end < g1:
            o.reserve(g1 - o.end, keep)
        o.size = g1 - o.base
        o.view("t", g0, g1)[:] = t
        o.view("vec", g0, g1)[:] = vec
        o.view("fix", g0, g1)[:] = fix
        o.view("event", g0, g1)[:] = event
        o.view("valid", g0, g1)[:] = event >= 0

    def window(self, end_ns: int, window_s: float, encoding: str = "segment", steps: int = STEPS) -> EyeWindow:
        """The eye window (end_ns - window_s, end_ns] over the samples pushed so far."""
        with self._lock:
            return self._window(int(end_ns), window_s, encoding, steps)

    def _window(self, end_ns: int, window_s: float, encoding: str, steps: int) -> EyeWindow:
        self._advance()
        o = self._out
        start_ns = end_ns - int(round(window_s * 1e9))
        t_all = o.view("t", o.base, o.end)
        lo = int(np.searchsorted(t_all, start_ns, "right"))
        hi = int(np.searchsorted(t_all, end_ns, "right"))
        if lo > 0:
            before = o.cols["fix"][lo - 1]
        else:  # the stream value before the window was dropped with the history
            before = o.last_dropped["fix"] if o.last_dropped else (np.nan, np.nan)
        g0, g1 = o.base + lo, o.base + hi
        self.stats.windows += 1
        baseline = None
        if self.params.schema in BASELINE_SCHEMAS:  # the rolling baseline: processed samples are kept long enough
            b0 = o.base + int(np.searchsorted(t_all, end_ns - int(round(self.params.baseline_s * 1e9)), "right"))
            baseline = self._baseline(b0, g1)
        return _encode(t_all[lo:hi], o.view("vec", g0, g1), o.view("fix", g0, g1), o.view("valid", g0, g1),
                       o.view("event", g0, g1), before, start_ns, end_ns, encoding, steps, baseline, self.params.schema)

    def _baseline(self, g0: int, g1: int) -> np.ndarray:
        """baseline_of over the processed rows g0..g1, from the cached sums of the whole final
        blocks inside and the rows at either end: a minute at 1200 Hz is 72,000 rows, which cost
        about 17 ms to sum for every window. The same mean as the batch run's, to rounding."""
        B = _BASELINE_BLOCK
        k0, k1 = -(-g0 // B), min(g1, self._final) // B  # whole final blocks: [k0 * B, k1 * B)
        if k1 <= k0:
            return mean_of_sums(*column_sums(self._out.view("vec", g0, g1)))
        for k in [k for k in self._block_sums if k < k0]:  # fallen out of the baseline (rows only move on)
            del self._block_sums[k]
        total, n = column_sums(self._out.view("vec", g0, k0 * B))
        tail = column_sums(self._out.view("vec", k1 * B, g1))
        total, n = total + tail[0], n + tail[1]
        for k in range(k0, k1):
            if k not in self._block_sums:  # final rows are never rewritten: their sums stay right
                self._block_sums[k] = column_sums(self._out.view("vec", k * B, (k + 1) * B))
            total, n = total + self._block_sums[k][0], n + self._block_sums[k][1]
        return mean_of_sums(total, n)
