"""Markers from experiment software over Lab Streaming Layer, recorded while a session runs.

PsychoPy, Psychtoolbox and Presentation send event markers as an LSL stream of type "Markers"
(one string per sample, e.g. "trial_1_start"). This inlet resolves such a stream (by name, or the
first of type Markers that is not the app's own outlet), and writes each marker into the session's
markers.csv at its sending time: LSL's clock-synchronised timestamp, mapped onto the host clock.
A marker sent at log time T then ties the experiment's log to the recording with
`emer-live labels import ... --sync MARKER=T`.

Only sessions on the host clock (live devices, files played in real time) can take it: a run as
fast as possible has the files' own timeline, which no sending time maps onto.
"""

from __future__ import annotations

import threading
from typing import Optional

from emer_live.clock import now_ns
from emer_live.errors import RecordingError

OWN_OUTLET = "EMERLive-Markers"


def _resolve(name: Optional[str], timeout_s: float):
    import pylsl

    if name:
        found = pylsl.resolve_byprop("name", name, 1, timeout_s)
    else:
        found = [s for s in pylsl.resolve_byprop("type", "Markers", 0, timeout_s) if s.name() != OWN_OUTLET]
    if not found:
        what = f"named {name!r}" if name else "of type Markers (other than the app's own)"
        raise RecordingError(f"no LSL marker stream {what} found within {timeout_s:g} s; start the experiment's "
                             "marker outlet first")
    return found[0]


class LslMarkerInlet:
    """A thread that records every marker of one LSL stream into a RecordingSession."""

    def __init__(self, name: Optional[str] = None, resolve_timeout_s: float = 5.0):
        """Resolves the stream now (before any session is created, so a missing one leaves none)."""
        try:
            import pylsl  # noqa: F401
        except ImportError:
            raise RecordingError("LSL markers need pylsl (pip install pylsl)") from None
        self.session = None
        self.info = _resolve(name, resolve_timeout_s)
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lsl-markers", daemon=True)

    @property
    def stream_name(self) -> str:
        return self.info.name()

    def start(self, session) -> "LslMarkerInlet":
        """Record into `session` (a RecordingSession) from now on."""
        import pylsl

        self.session = session
        flags = pylsl.proc_clocksync | pylsl.proc_dejitter
        self._inlet = pylsl.StreamInlet(self.info, max_buflen=360, processing_flags=flags)
        self._inlet.open_stream(timeout=5.0)
        self._thread.start()
        return self

    def _run(self) -> None:
        import pylsl

        while not self._stop.is_set():
            try:
                sample, ts = self._inlet.pull_sample(timeout=0.2)
            except Exception as e:  # the stream went away: say so in the session, stop listening
                self.session.sink.on_event(_event(f"LSL marker stream {self.stream_name} lost: {e}"))
                return
            if sample is None:
                continue
            # ts is on this machine's LSL clock (clock sync applied): shift by its age to host time
            host_ns = now_ns() - int(round((pylsl.local_clock() - ts) * 1e9))
            label = str(sample[0]).strip()
            if label:
                try:
                    self.session.add_marker(label, host_ns=host_ns)
                    self.received += 1
                except RecordingError as e:  # e.g. a label the session format cannot hold
                    self.session.sink.on_event(_event(f"LSL marker {label!r} not recorded: {e}"))

    def close(self) -> int:
        """Stop listening; returns how many markers were recorded."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        inlet = getattr(self, "_inlet", None)
        if inlet is not None:
            inlet.close_stream()
        return self.received


def _event(message: str):
    from emer_live.types import SourceEvent

    return SourceEvent(host_ns=now_ns(), source="lsl_markers", kind="warning", message=message)
