"""Real-time feeds for the live benchmark.

PacedFrameSource releases recorded frames at a camera's rate on the host clock, decoding in the
capture thread as a camera read would, and skips (counts) frames the consumer was too slow to
take, as a camera does.

SimulatedTobiiSdk stands in for the tobii_research module on a machine with no tracker: the REAL
TobiiGazeSource subscribes to it, and its feed thread calls the source's gaze callback with SDK
gaze dicts (recorded or simulated values) at the chosen rate, in bursts every few ms as the SDK's
own stream thread does, sleeping between bursts. Its tracker says "simulated" in every name.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator, Optional, Union

import numpy as np

from emer_live.clock import now_ns
from emer_live.sources.base import FrameSource
from emer_live.types import RAW_GAZE_COLUMNS, SDK_GAZE_KEYS, Frame, SourceEvent

SYS_OFFSET_US = 1_000_000_000  # the SDK's clock is not the host clock; the source maps it


def _key_columns() -> list[list[int]]:
    """For each SDK gaze-dict key, the indices of its values among the 30 raw columns."""
    out = []
    for key in SDK_GAZE_KEYS:
        out.append([i for i, c in enumerate(RAW_GAZE_COLUMNS)
                    if c == key or (c.rsplit("_", 1)[0] == key and c.rsplit("_", 1)[1] in ("x", "y", "z"))])
    return out


def sdk_dict_from_raw(raw: np.ndarray, cols: Optional[list] = None) -> dict:
    """The tobii-research gaze dict (as_dictionary=True) holding these 30 raw values."""
    d = {}
    for key, idx in zip(SDK_GAZE_KEYS, cols or _key_columns()):
        vals = [float(raw[i]) for i in idx]
        if len(idx) > 1:
            d[key] = tuple(vals)
        elif key.endswith("validity"):
            d[key] = int(vals[0] == 1.0)
        else:
            d[key] = vals[0]
    return d


class PacedFrameSource(FrameSource):
    """Frames of an offline source (video or demo, looped) released at `fps` in real time."""

    realtime = True

    def __init__(self, inner, fps: float = 30.0, duration_s: Optional[float] = None):
        super().__init__()
        self.inner, self.fps, self.duration_s = inner, float(fps), duration_s
        self.kind, self.simulated = inner.kind, inner.simulated
        self._closed = False

    @property
    def label(self) -> str:
        return f"{self.inner.label}, paced at {self.fps:g} fps"

    def open(self) -> None:
        self.inner.open()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self.inner.close()

    def frames(self) -> Iterator[Union[Frame, SourceEvent]]:
        period_ns = 1e9 / self.fps
        base = now_ns()
        i = 0
        for item in self.inner.frames():
            if self._closed:
                return
            if not isinstance(item, Frame):
                continue
            due = base + int(round(i * period_ns))
            if self.duration_s is not None and due - base > self.duration_s * 1e9:
                break
            late = now_ns() - due
            if late > period_ns:  # the capture thread fell a whole frame behind: a camera drops it
                self.stats.dropped += 1
                i += 1
                continue
            if late < 0:
                time.sleep(-late / 1e9)
            self.stats.delivered += 1
            yield Frame(host_ns=now_ns(), index=i, image=item.image, media_ms=(due - base) / 1e6)
            i += 1
        yield SourceEvent(now_ns(), self.kind, "end_of_stream", f"{self.label}: ended")


class _SimulatedTracker:
    """The part of tobii_research.EyeTracker that TobiiGazeSource uses."""

    serial_number = "SIMULATED-FEED"
    address = "simulated://benchmark-feed"
    model = "simulated tracker (benchmark feed)"
    device_name = "simulated tracker"
    device_capabilities = ()

    def __init__(self, rate_hz: float):
        self.rate_hz = float(rate_hz)
        self.subs: dict = {}
        self._lock = threading.Lock()

    def get_all_gaze_output_frequencies(self):
        return (self.rate_hz,)

    def get_gaze_output_frequency(self):
        return self.rate_hz

    def set_gaze_output_frequency(self, f):
        self.rate_hz = float(f)

    def subscribe_to(self, kind, callback, as_dictionary=False):
        with self._lock:
            self.subs.setdefault(kind, []).append(callback)

    def unsubscribe_from(self, kind, callback=None):
        with self._lock:
            self.subs.pop(kind, None)

    def callbacks(self, kind) -> list:
        with self._lock:
            return list(self.subs.get(kind, ()))


class SimulatedTobiiSdk:
    """Module-like stand-in for tobii_research (constants are their lower-case names, as in the
    real SDK), with a feed thread: start(raw, seconds) plays raw rows, cycled, at the tracker's rate."""

    def __init__(self, rate_hz: float, burst_ms: float = 4.0):
        self.tracker = _SimulatedTracker(rate_hz)
        self.burst_s = burst_ms / 1000.0
        self.sent = 0
        self.worst_depth = 0  # most samples handed over but not yet taken by the consumer
        self.late_bursts = 0  # bursts the feed thread itself started a full period late
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __getattr__(self, name: str):
        if name.isupper():  # EYETRACKER_GAZE_DATA, CAPABILITY_..., notification names
            return name.lower()
        raise AttributeError(name)

    def find_all_eyetrackers(self):
        return (self.tracker,)

    def EyeTracker(self, address):  # noqa: N802 (the SDK's name)
        return self.tracker

    @staticmethod
    def get_system_time_stamp() -> int:
        return time.monotonic_ns() // 1000 + SYS_OFFSET_US

    def prepare(self, raw: np.ndarray, limit: int = 20_000) -> None:
        """Build the gaze dicts to send (cycled) ahead of time, so start() begins at once."""
        cols = _key_columns()
        self._templates = [sdk_dict_from_raw(r, cols) for r in raw[:limit]]

    def start(self, seconds: float, pending=lambda: 0) -> None:
        """Feed the prepared dicts for `seconds` from a thread; pending() says how many samples the
        consumer has not yet taken (sampled after every burst for the worst queue depth)."""
        templates = self._templates
        rate = self.tracker.rate_hz
        period_us = 1e6 / rate
        self._stop.clear()

        def run():
            t0 = time.monotonic_ns()
            sys0 = t0 // 1000 + SYS_OFFSET_US
            n_total = int(seconds * rate)
            i = 0
            while i < n_total and not self._stop.is_set():
                elapsed = time.monotonic_ns() - t0
                due = min(n_total, int(elapsed / 1e9 * rate) + 1)
                if due - i > max(2, rate * self.burst_s * 2):
                    self.late_bursts += 1
                cbs = self.tracker.callbacks("eyetracker_gaze_data")
                while i < due:
                    ts = int(round(i * period_us))
                    d = {**templates[i % len(templates)], "device_time_stamp": 10_000_000 + ts,
                         "system_time_stamp": sys0 + ts}
                    for cb in cbs:
                        cb(d)
                    i += 1
                    self.sent += 1
                self.worst_depth = max(self.worst_depth, int(pending()))
                time.sleep(self.burst_s)

        self._thread = threading.Thread(target=run, name="simulated-tobii-sdk-feed", daemon=True)
        self._thread.start()

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.join(5.0)
