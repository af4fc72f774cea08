"""Tobii Pro eye trackers through the tobii-research SDK, as a gaze source.

The SDK calls our callbacks on its own thread. Those callbacks only append the raw dict to a
deque (and bump an arrival counter): no conversion, no locks held, no disk. Python callers of
this SDK are known to lose samples when their callbacks do more. Everything else happens on
the consumer side, in samples(): conversion to the 30 raw values, mapping of the SDK's
system_time_stamp onto the host clock, gap detection in device_time_stamp (so drops are
measured, not guessed), notifications turned into SourceEvents.

tobii-research ships wheels for CPython 3.10 only; it is imported in open(), and its absence is
reported as a SourceError that says so.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Iterator, Optional, Union

import numpy as np

from emer_live.clock import ClockMapping, now_ns
from emer_live.errors import SourceError
from emer_live.sources.base import GazeSource
from emer_live.sources.gaze_checks import sanitize_gaze, sanitize_gaze_row
from emer_live.sources.timestamps import DUPLICATE, KEPT, NEW_SEGMENT, TimestampGuard
from emer_live.types import GazeSample, SourceEvent, raw_list_from_sdk_dict

RESYNC_S = 10.0  # re-measure the clock mapping this often, to follow drift
MAX_QUEUE_S = 10.0  # a consumer this far behind loses the oldest samples (counted)
# The consumer wakes this often and hands on, as one block, what has queued since: a tracker calls
# back once per sample, and each block's conversion and checks cost the same fixed numpy overhead
# whatever its size (a sample waits at most this long; windows wait longer for their last frame).
POLL_S = 0.008
CONVERT_BATCH = 256  # most queued samples converted as one block
# Blocks up to this size are checked sample by sample in plain Python (gaze_checks.sanitize_gaze_row),
# larger ones in one vectorised pass: the same result, whichever is cheaper for the size.
ROW_CHECK_MAX = 12

# SDK notification -> (event kind, message). Connection lost/restored are handled on their own.
_NOTES = {
    "EYETRACKER_NOTIFICATION_CONNECTION_LOST": ("connection_lost", "eye tracker connection lost"),
    "EYETRACKER_NOTIFICATION_CONNECTION_RESTORED": ("connection_restored", "eye tracker connection restored"),
    "EYETRACKER_NOTIFICATION_GAZE_OUTPUT_FREQUENCY_CHANGED": ("frequency_changed", "gaze output frequency changed"),
    "EYETRACKER_NOTIFICATION_STREAM_BUFFER_OVERFLOW": ("buffer_overflow",
                                                       "the SDK's stream buffer overflowed: samples lost"),
    "EYETRACKER_NOTIFICATION_CALIBRATION_CHANGED": ("info", "calibration changed"),
    "EYETRACKER_NOTIFICATION_CALIBRATION_MODE_ENTERED": ("info", "calibration mode entered"),
    "EYETRACKER_NOTIFICATION_CALIBRATION_MODE_LEFT": ("info", "calibration mode left"),
    "EYETRACKER_NOTIFICATION_DISPLAY_AREA_CHANGED": ("info", "display area changed"),
    "EYETRACKER_NOTIFICATION_EYE_TRACKING_MODE_CHANGED": ("info", "eye tracking mode changed"),
    "EYETRACKER_NOTIFICATION_DEVICE_FAULTS": ("error", "device faults"),
    "EYETRACKER_NOTIFICATION_DEVICE_WARNINGS": ("warning", "device warnings"),
}


def import_sdk():
    """The tobii_research module, or a SourceError saying why it cannot be used here."""
    if sys.version_info[:2] != (3, 10):
        raise SourceError(f"Tobii eye trackers need the tobii-research SDK, which exists for Python 3.10 only; "
                          f"this is Python {sys.version_info.major}.{sys.version_info.minor}. "
                          f"Run emer-live from a Python 3.10 environment with the 'tobii' extra.")
    try:
        import tobii_research
    except Exception as e:  # ImportError, or its native library failing to load
        raise SourceError(f"the tobii-research SDK cannot be loaded ({e}); install it with "
                          f"pip install 'emer-live[tobii]' (Python 3.10)") from None
    return tobii_research


def describe_tracker(t) -> dict:
    try:
        freqs = [float(f) for f in t.get_all_gaze_output_frequencies()]
    except Exception:
        freqs = []
    return {"serial": t.serial_number, "address": t.address, "model": t.model,
            "name": t.device_name, "frequencies": freqs}


_TRACK_BOX_CORNERS = ("back_lower_left", "back_lower_right", "back_upper_left", "back_upper_right",
                      "front_lower_left", "front_lower_right", "front_upper_left", "front_upper_right")


def track_box_info(t) -> dict:
    """For the session's metadata: the tracker's own track box (corners in user coordinates, mm)
    where its SDK offers get_track_box() (1.x did; the Python EyeTracker of 2.x does not), and
    that the samples carry no track-box coordinates (2.x sends none; the eye features use none)."""
    own = None
    get = getattr(t, "get_track_box", None)
    if callable(get):
        try:
            box = get()
            own = {c: [float(v) for v in getattr(box, c)] for c in _TRACK_BOX_CORNERS}
        except Exception:  # a tracker that cannot say: nothing stored
            own = None
    return {"tracker_track_box": own,
            "sample_coordinates": "none: tobii-research 2.x sends no gaze origin in track-box coordinates"}


def find_trackers(sdk=None) -> list[dict]:
    """Eye trackers the SDK finds (takes about 2 s): serial, address, model, name, frequencies."""
    tr = sdk or import_sdk()
    return [describe_tracker(t) for t in tr.find_all_eyetrackers()]


class TobiiGazeSource(GazeSource):
    kind = "tobii"
    realtime = True

    def __init__(self, target=None, frequency: Optional[float] = None, *, sdk=None):
        """target: serial number or address ("tet-tcp://..."), None = the first tracker found.
        frequency: gaze output frequency to set (Hz), None = leave the tracker's setting.
        sdk: the tobii_research module (imported in open() when None)."""
        super().__init__()
        self.target = target
        self.frequency = frequency
        self._sdk = sdk
        self._tracker = None
        self._subs: list = []
        self._gaze: deque = deque()
        self._openness: deque = deque()
        self._notes: deque = deque()
        self.arrived = 0  # gaze dicts the SDK handed us (written by the SDK thread only)
        self.device: dict = {}
        self.track_box: Optional[dict] = None  # for the session's metadata (track_box_info)
        self.mapping: Optional[ClockMapping] = None
        self.nominal_hz = 0.0
        self._closed = False
        self._lost = False
        self._clock_history: list = []

    @property
    def eyetracker(self):
        """The SDK's EyeTracker object while open (calibration and the position guide use it)."""
        return self._tracker

    @property
    def label(self) -> str:
        return f"Tobii {self.device.get('model', 'eye tracker')} {self.device.get('serial', '')}".strip()

    def info(self) -> dict:
        return {**super().info(), "device": self.device, "nominal_hz": self.nominal_hz,
                "clock_mapping": self.mapping.as_dict() if self.mapping else None,
                "clock_drift_us": self._clock_history[-5:], "arrived": self.arrived,
                "track_box": self.track_box}

    # --- SDK thread: enqueue only -------------------------------------------------------------
    def _on_gaze(self, d):
        self._gaze.append(d)
        self.arrived += 1

    def _on_openness(self, d):
        self._openness.append(d)

    def _on_note(self, d):
        self._notes.append(("note", d))

    def _on_stream_error(self, d):
        self._notes.append(("stream_error", d))

    # --- open / close -------------------------------------------------------------------------
    def _connect(self, tr):
        target = self.target
        if target is not None and "://" in str(target):
            try:
                return tr.EyeTracker(str(target))
            except Exception as e:
                raise SourceError(f"Tobii eye tracker at {target} cannot be connected ({e})") from None
        found = tr.find_all_eyetrackers()
        if not found:
            raise SourceError("no Tobii eye tracker found (is it plugged in, powered, and its runtime/service "
                              "running?)" + (f"; looked for serial {target}" if target else ""))
        if target is None:
            return found[0]
        for t in found:
            if t.serial_number == str(target):
                return t
        raise SourceError(f"Tobii eye tracker with serial {target} not found; found: "
                          f"{[t.serial_number for t in found]}")

    def open(self) -> None:
        tr = self._sdk = self._sdk or import_sdk()
        t = self._connect(tr)
        self.device = describe_tracker(t)
        self.track_box = track_box_info(t)
        if self.frequency is not None:
            if self.device["frequencies"] and float(self.frequency) not in self.device["frequencies"]:
                raise SourceError(f"Tobii {self.device['serial']}: {self.frequency} Hz not supported; "
                                  f"choose one of {self.device['frequencies']}")
            t.set_gaze_output_frequency(float(self.frequency))
        self.nominal_hz = float(t.get_gaze_output_frequency())
        self._measure_clock()
        self._tracker, self._closed, self._lost = t, False, False
        self._subscribe(tr.EYETRACKER_GAZE_DATA, self._on_gaze)
        self._subscribe(tr.EYETRACKER_STREAM_ERRORS, self._on_stream_error)
        for name in _NOTES:
            self._subscribe(getattr(tr, name), self._on_note)
        if tr.CAPABILITY_HAS_EYE_OPENNESS_DATA in (getattr(t, "device_capabilities", ()) or ()):
            try:
                self._subscribe(tr.EYETRACKER_EYE_OPENNESS_DATA, self._on_openness)
            except Exception as e:  # e.g. a licence the tracker lacks: gaze still works
                self._notes.append(("info", {"message": f"eye openness unavailable ({e})"}))

    def _subscribe(self, kind, callback) -> None:
        self._tracker.subscribe_to(kind, callback, as_dictionary=True)
        self._subs.append((kind, callback))

    def close(self) -> None:
        self._closed = True
        t, subs, self._subs = self._tracker, self._subs, []
        for kind, cb in subs:
            try:
                t.unsubscribe_from(kind, cb)
            except Exception:  # tracker already gone: nothing left to unsubscribe
                pass

    def _measure_clock(self) -> None:
        m = ClockMapping.measure(self._sdk.get_system_time_stamp, source="tobii system_time_stamp")
        if self.mapping is not None:
            # How far the device clock moved against the host clock since the last measurement.
            drift_us = (m.host_ref_ns - self.mapping.to_host_ns(m.device_ref_us)) / 1000.0
            self._clock_history.append(round(drift_us, 1))
        self.mapping = m
        self._last_sync_ns = now_ns()

    # --- consumer side ------------------------------------------------------------------------
    def samples(self) -> Iterator[Union[GazeSample, SourceEvent]]:
        if self._tracker is None and not self._closed:
            self.open()
        period_us = 1e6 / self.nominal_hz if self.nominal_hz else 0.0
        self._last_dev = None
        self._guard = TimestampGuard()  # the same timestamp rules as recorded gaze files
        self._episodes_told = 0
        self._openness_by_ts: dict = {}
        last_arrival = now_ns()
        while True:
            closing = self._closed  # read first: a final pass drains what arrived before close()
            yield from self._drain_notes()
            period_us = 1e6 / self.nominal_hz if self.nominal_hz else period_us
            self._drain_openness()
            self._trim_queue(period_us)
            got = False
            while self._gaze:
                got = True
                # What has queued up is converted as one block (_convert: checked sample by sample
                # as plain floats when small, in one vectorised pass when large).
                batch = []
                while self._gaze and len(batch) < CONVERT_BATCH:
                    batch += self._accept(self._gaze.popleft(), period_us)
                yield from self._convert(batch)
                yield from self._timestamp_warnings(final=False)
            t = now_ns()
            if got:
                last_arrival = t
                if self._lost:
                    self._lost = False
                    yield SourceEvent(t, self.kind, "connection_restored", "eye tracker: gaze data flowing again")
            elif not self._lost and t - last_arrival > max(0.5e9, 20 * period_us * 1e3):
                self._lost = True
                self.stats.extra["connection_lost"] = self.stats.extra.get("connection_lost", 0) + 1
                yield SourceEvent(t, self.kind, "connection_lost",
                                  f"eye tracker: no gaze data for {(t - last_arrival) / 1e9:.1f} s; gaze marked missing")
            if closing:
                self.stats.invalid += len(self._guard.flush())  # a jump at the very end: nothing confirms it
                yield from self._timestamp_warnings(final=True)
                yield from self._drain_notes()  # warnings raised while converting the last batch
                return
            if t - self._last_sync_ns > RESYNC_S * 1e9 and not self._lost:
                self._measure_clock()
            # After a block too: what arrived while it was handed on waits for the next wake-up
            # (at most POLL_S, as before) instead of a pass that mostly finds nothing.
            time.sleep(POLL_S)

    def _trim_queue(self, period_us: float) -> None:
        limit = int(MAX_QUEUE_S * 1e6 / period_us) if period_us else 100_000
        over = len(self._gaze) - limit
        if over > 0:
            for _ in range(over):
                self._gaze.popleft()
            self.stats.dropped += over
            self.stats.extra["consumer_overflow"] = self.stats.extra.get("consumer_overflow", 0) + over
            self._notes.append(("info", {"message": f"consumer fell {MAX_QUEUE_S:.0f} s behind: "
                                                    f"{over} oldest gaze samples discarded"}))

    def _drain_openness(self) -> None:
        while self._openness:
            d = self._openness.popleft()
            ts = d.get("device_time_stamp")
            pair = tuple(float(d[f"{e}_eye_openness_value"]) if d.get(f"{e}_eye_validity") else float("nan")
                         for e in ("left", "right"))
            self._openness_by_ts[ts] = pair
        if len(self._openness_by_ts) > 4096:  # unmatched leftovers: keep the newest
            for k in sorted(self._openness_by_ts)[:-1024]:
                del self._openness_by_ts[k]

    def _accept(self, d: dict, period_us: float) -> list:
        """Timestamp checks (timestamps.TimestampGuard on device_time_stamp): the gaze dicts now
        decided and kept, in order. A sample after a jump waits for the next one, which tells a
        spike (that sample rejected) from a clock step (a new segment, the stream goes on)."""
        if d.get("system_time_stamp") is None:
            self.stats.invalid += 1
            return []
        kept = []
        for item, kind in self._guard.feed(d.get("device_time_stamp"), d):
            if kind not in KEPT:
                self.stats.invalid += 1
                if kind == DUPLICATE:
                    self.stats.extra["duplicates"] = self.stats.extra.get("duplicates", 0) + 1
                continue
            dev = item["device_time_stamp"]
            if kind == NEW_SEGMENT:
                self.stats.extra["clock_steps"] = self.stats.extra.get("clock_steps", 0) + 1
            elif self._last_dev is not None and period_us and dev - self._last_dev > 1.5 * period_us:
                self.stats.dropped += int(round((dev - self._last_dev) / period_us)) - 1
                self.stats.gaps += 1
            self._last_dev = dev
            kept.append(item)
        return kept

    def _timestamp_warnings(self, final: bool) -> Iterator[SourceEvent]:
        """One warning per episode of timestamp trouble, with its count, once it is complete."""
        g = self._guard
        done = len(g.episodes) - (1 if not final and g.open_episode() else 0)
        for e in g.episodes[self._episodes_told:done]:
            yield SourceEvent(now_ns(), self.kind, "warning", f"eye tracker: {e.message()}",
                              {"problem": e.kind, "count": e.count})
        self._episodes_told = max(self._episodes_told, done)

    def _convert(self, batch: list) -> Iterator[GazeSample]:
        """Accepted gaze dicts -> GazeSamples, impossible values marked invalid over the whole block."""
        if not batch:
            return
        rows = [raw_list_from_sdk_dict(d) for d in batch]
        if len(rows) <= ROW_CHECK_MAX:
            bad = sum(map(sanitize_gaze_row, rows))
            values = np.array(rows, np.float64)
        else:
            values = np.array(rows, np.float64)
            bad = int(sanitize_gaze(values).sum())
        if bad:
            self.stats.extra["bad_values"] = self.stats.extra.get("bad_values", 0) + bad
        for d, v in zip(batch, values):
            dev, sys_us = d["device_time_stamp"], d["system_time_stamp"]
            self.stats.delivered += 1
            yield GazeSample(host_ns=self.mapping.to_host_ns(sys_us), values=v, device_us=int(dev),
                             system_us=int(sys_us), eye_openness=self._openness_by_ts.pop(dev, None))

    def _drain_notes(self) -> Iterator[SourceEvent]:
        tr = self._sdk
        while self._notes:
            kind, d = self._notes.popleft()
            host = self.mapping.to_host_ns(d["system_time_stamp"]) if "system_time_stamp" in d else now_ns()
            if kind in ("info", "warning"):
                yield SourceEvent(host, self.kind, kind, f"eye tracker: {d['message']}")
                continue
            if kind == "stream_error":
                self.stats.extra["stream_errors"] = self.stats.extra.get("stream_errors", 0) + 1
                yield SourceEvent(host, self.kind, "error",
                                  f"eye tracker stream error {d.get('error')} from {d.get('source')}: "
                                  f"{d.get('message')}", dict(d))
                continue
            name = next((n for n in _NOTES if getattr(tr, n, None) == d.get("notification_type")), None)
            if name is None:
                continue
            ev_kind, text = _NOTES[name]
            if ev_kind == "frequency_changed" and d.get("gaze_output_frequency"):
                self.nominal_hz = float(d["gaze_output_frequency"])
                text += f" to {self.nominal_hz:g} Hz"
            if ev_kind == "connection_lost":
                if self._lost:
                    continue  # already reported (no data); one event per outage
                self._lost = True
                text += "; gaze marked missing until it returns"
            if ev_kind == "connection_restored":
                if not self._lost:
                    continue
                self._lost = False
                self._measure_clock()
            counter = {"connection_lost": "connection_lost", "buffer_overflow": "sdk_buffer_overflows"}.get(ev_kind)
            if counter:
                self.stats.extra[counter] = self.stats.extra.get(counter, 0) + 1
            yield SourceEvent(host, self.kind, ev_kind, f"eye tracker: {text}", dict(d))
