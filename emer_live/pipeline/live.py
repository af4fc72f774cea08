"""Live runner: real-time sources through the Pipeline on worker threads.

Threads: capture (reads the frame source, only enqueues), face (landmarks + crop + face encoder
on the newest frame), gaze intake (drains the gaze source promptly so a fast tracker never backs
up), window (builds a window at the update rate, once both streams have delivered past its end)
and inference (runs the model). The window and
inference threads meet at a one-slot mailbox: a window not yet taken when the next one arrives is
dropped and counted stale, so a slow or frozen model never delays capture or piles up work.

The runner is the one owner of its stages (pipeline/stage.py): it opens the sources, and close()
joins its threads and closes the sources, the face step and, when handed over, the engine, so a
window that starts and stops the live view a hundred times keeps no threads or sessions. Every
stage failure is logged with its traceback and shown on that stage's panel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from emer_live.clock import now_ns
from emer_live.errors import EmerError
from emer_live.pipeline.core import Pipeline
from emer_live.pipeline.sinks import SinkSet
from emer_live.pipeline.stage import StageOwner, release_freed_memory
from emer_live.types import Frame, Prediction, SourceEvent

GAZE_RECENT_S = 2.0
# A window waits for both streams to pass its end (so it holds what a replay would), but no longer
# than this: a late or silent stream must not stall the predictions.
MAX_WAIT_NS = 500_000_000
EYE_AHEAD_POLL_S = 0.002  # while a due window waits for gaze to pass its end (tracker bursts: a few ms)
EYE_AHEAD_GIVE_UP_NS = 50_000_000  # ... for at most this long
FRAME_BACKLOG = 8  # frames waiting for the face thread before the oldest is dropped
LOG_EVERY = 100  # a stage failing again and again: its traceback is logged once per this many

log = logging.getLogger(__name__)


@dataclass
class LiveState:
    """A copy of what a UI draws; taken under the runner's lock, safe to keep."""

    frame: Optional[Frame]
    face: object  # FaceResult | None
    gaze_recent: np.ndarray  # (K, 3): t_s relative to now, x, y on the display in [0, 1] (NaN if invalid)
    prediction: Optional[Prediction]
    stats: dict
    frame_fer: object = None  # FrameFER of the newest face-processed frame (None before the first)
    # Review only: the newest FrameFER with a face at or before frame_fer in its run (None: none
    # yet), since a seek skips readings the window never drew. Live, the window keeps its own.
    fer_last_face: object = None
    events: list = field(default_factory=list)
    panels: dict = field(default_factory=dict)


class _Mailbox:
    """One slot: put() replaces what is there (returning it), get() waits for an item; the taker
    calls done() when finished with it, so idle() means nothing waiting and nothing in hand."""

    def __init__(self):
        self._item = None
        self._taken = 0
        self._cond = threading.Condition()

    def put(self, item):
        with self._cond:
            old, self._item = self._item, item
            self._cond.notify()
            return old

    def idle(self) -> bool:
        with self._cond:
            return self._item is None and self._taken == 0

    def done(self) -> None:
        with self._cond:
            self._taken -= 1

    def get(self, timeout: float):
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            self._taken += item is not None
            return item


def _gaze_xy(values: np.ndarray) -> tuple[float, float]:
    """Mean of the valid eyes' display points (left at columns 0-1, right at 15-16).
    Plain float arithmetic: this runs for every sample on the gaze thread (up to 1200 Hz)."""
    left, right = values[5] == 1.0, values[20] == 1.0
    if left and right:
        return float(values[0] + values[15]) / 2, float(values[1] + values[16]) / 2
    if left:
        return float(values[0]), float(values[1])
    if right:
        return float(values[15]), float(values[16])
    return float("nan"), float("nan")


class LiveRunner:
    def __init__(self, frame_source, gaze_source, engine, sinks=(), update_hz: float = 10.0, *,
                 face_processor=None, pipeline: Optional[Pipeline] = None, keep_predictions_s: float = 60.0,
                 own_engine: bool = False):
        """own_engine: the runner closes the engine with everything else (the window's runners,
        each built with its own engine); left False, the caller keeps it (a shared engine)."""
        self.frame_source, self.gaze_source, self.engine = frame_source, gaze_source, engine
        self.sinks = sinks if isinstance(sinks, SinkSet) else SinkSet(sinks)
        self.sinks.on_error = self._sink_failed
        self.pipeline = pipeline or Pipeline(engine, update_hz, face_processor, use_eye=gaze_source is not None)
        self._owner = StageOwner("live pipeline")
        if own_engine:
            self._owner.adopt("inference engine", engine)
        self._owner.adopt("face step", self.pipeline)  # the pipeline closes its face processor
        self.pipeline.gaze_source = gaze_source  # its nominal rate, for the eye artefact check
        self.pipeline.on_crop_cached = lambda idx, t, crop: self.sinks.emit("on_face_crop", idx, t, crop)
        self.pipeline.on_frame_fer = lambda fer: self.sinks.emit("on_frame_fer", fer)
        self.pipeline.on_window_skipped = lambda reason, end_ns: self.sinks.emit("on_window_skipped", reason, end_ns)
        self.update_s = 1.0 / update_hz
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._frame_done = threading.Event()  # set by the face thread after each frame
        self._frames: deque = deque()
        self._overflow: list = []  # frames pushed out of a full backlog, for the sinks only
        self._frames_cond = threading.Condition()
        self._fer_run_done = False  # a detector run finished: the face thread emits the FER lines it held
        self.pipeline.on_fer_run_done = self._wake_for_fer
        self._mailbox = _Mailbox()
        self._threads: list[threading.Thread] = []
        # Readers (the window, the run command) poll many times a second for new predictions, so a
        # minute is plenty; bounded by time, not count, so memory stays flat at any update rate.
        self._predictions: deque = deque()
        self._keep_predictions_ns = int(keep_predictions_s * 1e9)
        self._events: deque = deque(maxlen=200)
        self._gaze_recent: deque = deque()
        self._frame_times: deque = deque(maxlen=60)
        self._frame: Optional[Frame] = None
        self._face = None
        self.drops = Counter()  # frames_face_skipped, frames_backlog_full, windows_stale
        self.worker_errors = Counter()  # stage -> failures caught in the worker threads
        self.ended = {"frames": False, "gaze": gaze_source is None}
        self.stream_errors: dict[str, str] = {}
        self.panels = {"camera": "starting", "gaze": "none" if gaze_source is None else "starting",
                       "model": f"{engine.card.name} on {engine.provider}"}
        self._face_busy = False
        self.started_ns: Optional[int] = None

    # --- control ----------------------------------------------------------------------
    def start(self) -> None:
        """Open the sources here (so a bad device raises at once), then start the threads. On a
        failure whatever was opened is closed again before the error propagates."""
        try:
            self._owner.open("frame source", self.frame_source)
            if self.gaze_source is not None:
                self._owner.open("gaze source", self.gaze_source)
        except Exception as e:
            log.error("live pipeline: opening the sources failed: %s", e, exc_info=not isinstance(e, EmerError))
            self.close()
            raise
        self.started_ns = now_ns()
        targets = [("capture", self._capture), ("face", self._face_loop), ("window", self._window_loop),
                   ("inference", self._inference_loop)]
        if self.gaze_source is not None:
            targets.append(("gaze", self._gaze_loop))
        for name, fn in targets:
            t = threading.Thread(target=fn, name=f"emer-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._owner.close(only=("gaze source", "frame source"))  # unblocks their iterators
        with self._frames_cond:
            self._frames_cond.notify_all()
        for t in self._threads:
            t.join(timeout)
            if t.is_alive():
                log.warning("live pipeline: thread %s did not stop within %.1f s", t.name, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop, then close every stage the runner owns (sources, face step, engine), newest
        first. After close() the runner holds no threads, sessions or devices; it cannot restart."""
        self.stop(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._owner.close()
        release_freed_memory()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def finished(self) -> bool:
        """The frame stream ended and every window built has been predicted (or dropped)."""
        with self._lock:
            window_thread_alive = any(t.name == "emer-window" and t.is_alive() for t in self._threads)
            return (self.ended["frames"] and not self._frames and not self._face_busy
                    and self._mailbox.idle() and not window_thread_alive)

    # --- threads ----------------------------------------------------------------------
    def _event(self, ev: SourceEvent) -> None:
        with self._lock:
            self._events.append(ev)
        self.sinks.emit("on_event", ev)

    def _wake_for_fer(self) -> None:
        """Called on the detector thread when a run is done: the face thread, waiting for a frame,
        emits the FER lines that waited for it now rather than with the next frame."""
        with self._frames_cond:
            self._fer_run_done = True
            self._frames_cond.notify_all()

    def _stream_failed(self, which: str, source, err: Exception) -> None:
        detail = str(err) if isinstance(err, EmerError) else f"unexpected {type(err).__name__}: {err}"
        msg = f"{source.label}: {detail}"
        log.error("%s stream failed: %s", which, msg, exc_info=err)
        self.stream_errors[which] = msg
        self._event(SourceEvent(now_ns(), source.kind, "error", msg))

    def _stream_ended(self, which: str, panel: str) -> None:
        """A source's iteration is over: mark it ended and say why on its panel."""
        with self._lock:
            self.ended[which] = True
            err = self.stream_errors.get(which)
            self.panels[panel] = "ended" if err is None else "missing: " + err

    def _worker_error(self, where: str, err: Exception) -> None:
        """A bug or a failing stage in a worker: counted, reported once, the thread goes on."""
        with self._lock:
            self.worker_errors[where] += 1
            count = self.worker_errors[where]
            self.panels[where] = f"error: {where} stage failed: {type(err).__name__}: {err}"
        if count == 1 or count % LOG_EVERY == 0:
            log.error("%s stage failed (%d so far): %s", where, count, err, exc_info=err)
        if count == 1:
            self._event(SourceEvent(now_ns(), where, "error", f"{where} stage failed: {type(err).__name__}: {err}"))

    def _stage_ok(self, where: str) -> None:
        """The stage worked again after failing: its panel is live again."""
        if self.panels.get(where, "").startswith("error"):
            with self._lock:
                self.panels[where] = "live"

    def _sink_failed(self, key: str, err: Exception) -> None:
        """A sink (the recorder, LSL, the JSON output) raised: logged with its traceback and sent
        to the window as an event, once per sink method; the pipeline goes on."""
        log.error("sink %s failed: %s", key, err, exc_info=err)
        with self._lock:
            self.panels["sinks"] = f"error: {key} failed: {type(err).__name__}: {err}"
        self._event(SourceEvent(now_ns(), "sink", "error", f"{key} failed: {type(err).__name__}: {err}"))

    def _capture(self) -> None:
        try:
            for item in self.frame_source.frames():
                if self._stop.is_set():
                    break
                if isinstance(item, SourceEvent):
                    if item.kind == "stream_break":
                        self.pipeline.on_gaze_break(item.host_ns)
                    self._event(item)
                    continue
                with self._frames_cond:
                    if len(self._frames) >= FRAME_BACKLOG:
                        # the face thread hands it to the sinks, so recorders get frames in order
                        self._overflow.append(self._frames.popleft())
                        self.drops["frames_backlog_full"] += 1
                    self._frames.append(item)
                    self._frames_cond.notify()
                with self._lock:
                    self._frame = item
                    self._frame_times.append(time.monotonic())
                    self.panels["camera"] = "live"
        except Exception as e:  # device errors (EmerError) and anything unexpected alike
            self._stream_failed("frames", self.frame_source, e)
        finally:
            self._stream_ended("frames", "camera")
            with self._frames_cond:
                self._frames_cond.notify_all()

    def _face_loop(self) -> None:
        while not self._stop.is_set():
            with self._frames_cond:
                while not (self._frames or self._fer_run_done or self._stop.is_set() or self.ended["frames"]):
                    self._frames_cond.wait(0.2)
                self._fer_run_done = False
                overflow, self._overflow = self._overflow, []
                idle = not self._frames
                if idle:
                    for old in overflow:
                        self.sinks.emit("on_frame", old, None)
                    if self.ended["frames"]:
                        break
                else:
                    # Only the newest frame gets face processing; older ones go on to the sinks as is.
                    with self._lock:
                        self._face_busy = True
                    backlog = list(self._frames)
                    self._frames.clear()
            if idle:
                try:
                    self.pipeline.emit_ready_fer()  # a detector run done while no frame came
                except Exception as e:
                    self._worker_error("face", e)
                self._frame_done.set()  # the frame stream's watermark may have moved on
                continue
            # One thread hands every frame to the sinks, oldest first: frames.csv stays in time order.
            for old in overflow:
                self.sinks.emit("on_frame", old, None)
            for old in backlog[:-1]:
                self.drops["frames_face_skipped"] += 1
                self.sinks.emit("on_frame", old, None)
            frame = backlog[-1]
            try:
                res = self.pipeline.on_frame(frame)
                self._stage_ok("face")
            except Exception as e:
                self._worker_error("face", e)
                res = None
            self._frame_done.set()
            self.sinks.emit("on_frame", frame, res)
            with self._lock:
                self._face = res
                self._face_busy = False
        with self._lock:  # the stream ended or the runner stops: the frames still waiting for
            self._face_busy = True  # the detector thread get their FER before the face thread ends
        try:
            self.pipeline.emit_ready_fer(wait=True)
        except Exception as e:
            self._worker_error("face", e)
        finally:
            with self._lock:
                self._face_busy = False
        with self._frames_cond:  # stopped: what was pushed out of the backlog still reaches the sinks
            overflow, self._overflow = self._overflow, []
        for old in overflow:
            self.sinks.emit("on_frame", old, None)

    def _gaze_loop(self) -> None:
        keep_ns = int(GAZE_RECENT_S * 1e9)
        try:
            for item in self.gaze_source.samples():
                if self._stop.is_set():
                    break
                if isinstance(item, SourceEvent):
                    if item.kind == "stream_break":
                        self.pipeline.on_gaze_break(item.host_ns)
                    self._event(item)
                    with self._lock:
                        if item.kind in ("connection_lost", "connection_restored", "error"):
                            self.panels["gaze"] = f"{item.kind.replace('_', ' ')}: {item.message}"
                    continue
                if self.pipeline.on_gaze(item):
                    self.sinks.emit("on_gaze", item)
                    x, y = _gaze_xy(item.values)
                    with self._lock:
                        self._gaze_recent.append((item.host_ns, x, y))
                        while self._gaze_recent and self._gaze_recent[0][0] < item.host_ns - keep_ns:
                            self._gaze_recent.popleft()
                        if not self.panels["gaze"].startswith("connection lost"):
                            self.panels["gaze"] = "live"
        except Exception as e:  # device errors (EmerError) and anything unexpected alike
            self._stream_failed("gaze", self.gaze_source, e)
        finally:
            self._stream_ended("gaze", "gaze")

    def _ready_ns(self, now: int) -> int:
        """The newest time both streams have delivered past (or gave up on): windows end there or earlier."""
        frame_mark, gaze_mark = self.pipeline.watermarks
        floor = now - MAX_WAIT_NS
        marks = [now if self.ended["frames"] else max(frame_mark or floor, floor)]
        if self.gaze_source is not None:
            marks.append(now if self.ended["gaze"] else max(gaze_mark or floor, floor))
        return min(now, *marks)

    def _window_loop(self) -> None:
        # No window can be built before the clock reaches the next end on the update grid: until
        # then the thread sleeps (at most half a period, since an earlier first input can still move
        # the grid at start-up). From then on it is woken as soon as a frame has been through the
        # face step (the input a window waits for last), and polled several times per update
        # period besides, so no end slips by while gaze is the stream that lags. (Waking with
        # every frame all the time cost about 80 wake-ups a second for 10 windows.)
        poll_s = min(self.update_s / 4, 0.02)
        nap_max_s = self.update_s / 2
        while not self._stop.is_set():
            # Input over: the last frame has been through the face step too. Decided before this
            # pass, so the pass still builds every window that frame completes (the final one).
            with self._lock:
                done = self.ended["frames"] and not self._frames and not self._face_busy
            self._frame_done.clear()
            while True:
                ready = self._ready_ns(now_ns())
                if done:  # no window past the last frame: the input ended there
                    ready = min(ready, self.pipeline.watermarks[0] or ready)
                try:
                    w = self.pipeline.next_window(ready)
                except Exception as e:
                    self._worker_error("window", e)
                    w = None
                if w is not None and self._mailbox.put(w) is not None:
                    self.drops["windows_stale"] += 1
                if w is None or not done:
                    break
            if done and self._ready_ns(now_ns()) >= (self.pipeline.watermarks[0] or 0):
                return  # every window up to the last frame is built (gaze that lags is waited for, up to MAX_WAIT_NS)
            if done:
                self._stop.wait(poll_s)
                continue
            due = self.pipeline.next_due_ns
            now = now_ns()
            ahead_s = (due - now) / 1e9 if due is not None else 0.0
            if ahead_s > 0:
                self._stop.wait(min(ahead_s, nap_max_s))
            elif self._prepare_eye(due, now):
                self._frame_done.wait(poll_s)
            else:  # gaze has not passed the end yet: look again soon, to prepare it while the frame comes
                self._frame_done.wait(min(poll_s, EYE_AHEAD_POLL_S))

    def _prepare_eye(self, due: Optional[int], now: int) -> bool:
        """A window is due and waits for its last frame: compute its eye half meanwhile. True
        when done or not needed. Only the due end itself: the eye pipeline must never hold samples
        past the end of a window still to be built (the thread fallen behind builds a later one)."""
        if due is None or not self.pipeline.use_eye or self.ended["gaze"]:
            return True
        if now - due > EYE_AHEAD_GIVE_UP_NS:
            return True  # gaze that lags this much, or a thread behind: the build does it all, as before
        try:
            return self.pipeline.prepare_eye(due)
        except Exception as e:  # the build will meet the same input and say so
            self._worker_error("window", e)
            return True

    def _inference_loop(self) -> None:
        while not self._stop.is_set():
            w = self._mailbox.get(timeout=0.2)
            if w is None:
                window_thread_alive = any(t.name == "emer-window" and t.is_alive() for t in self._threads)
                if self.ended["frames"] and not self._frames and not window_thread_alive:
                    return  # the window thread has put its last window; none is left
                continue
            try:
                pred = self.pipeline.predict([w], clock=now_ns)[0]
            except Exception as e:  # the model failing mid-run: say so, keep capturing
                self._worker_error("inference", e)
                with self._lock:
                    self.panels["model"] = f"error: {e}"
                self._mailbox.done()
                continue
            if self.panels.get("inference", "").startswith("error"):
                with self._lock:
                    self.panels["inference"] = "live"
                    self.panels["model"] = f"{self.engine.card.name} on {self.engine.provider}"
            self.sinks.emit("on_prediction", pred)
            with self._lock:
                self._predictions.append(pred)
                while self._predictions[0].window_end_ns < pred.window_end_ns - self._keep_predictions_ns:
                    self._predictions.popleft()
            self._mailbox.done()

    # --- reading ----------------------------------------------------------------------
    def predictions_since(self, seq: int) -> list[Prediction]:
        with self._lock:
            return [p for p in self._predictions if p.seq > seq]

    def stats(self) -> dict:
        ps = self.pipeline.summary()
        with self._lock:
            ft = list(self._frame_times)
            fps = (len(ft) - 1) / (ft[-1] - ft[0]) if len(ft) > 1 and ft[-1] > ft[0] else 0.0
            g = list(self._gaze_recent)
            gaze_hz = (len(g) - 1) / ((g[-1][0] - g[0][0]) / 1e9) if len(g) > 1 and g[-1][0] > g[0][0] else 0.0
            last = self._predictions[-1] if self._predictions else None
        gs = self.gaze_source.stats if self.gaze_source is not None else None
        return {
            "camera_fps": round(fps, 2),
            "gaze_hz": round(gaze_hz, 1),
            "gaze_dropped": (gs.dropped if gs else 0) + sum(v for k, v in ps["inputs_rejected"].items() if k.startswith("gaze")),
            "frames_dropped": self.frame_source.stats.dropped + self.drops["frames_backlog_full"],
            "frames_face_skipped": self.drops["frames_face_skipped"],
            "latency_p50_ms": ps["latency_p50_ms"],
            "latency_p95_ms": ps["latency_p95_ms"],
            "inference_ms": round(last.inference_ms, 3) if last else None,
            "provider": self.engine.provider,
            "model_name": self.engine.card.name,
            "model_provenance": self.engine.card.provenance_summary,
            "model_provenance_kind": self.engine.card.data.get("provenance", {}).get("kind", ""),
            "windows": ps["windows"],
            "windows_stale": self.drops["windows_stale"],
            # what a UI needs to say why no prediction is shown yet (see window_model/states.py)
            "window_s": self.pipeline.window_s,
            "collected_s": round(self.pipeline.collected_s(), 2),
            "windows_skipped": dict(ps["windows_skipped"]),
            "frames_ended": self.ended["frames"],
            "gaze_ended": self.ended["gaze"] if self.gaze_source is not None else None,
            "frame_source": self.frame_source.label,
            "gaze_source": self.gaze_source.label if self.gaze_source is not None else "none",
            "demo_input": bool(self.frame_source.simulated),
            "simulated_gaze": bool(self.gaze_source is not None and self.gaze_source.simulated),
        }

    def snapshot(self) -> LiveState:
        stats = self.stats()
        t_now = now_ns()
        with self._lock:
            g = np.array(self._gaze_recent, dtype=np.float64).reshape(-1, 3)
            if len(g):
                g[:, 0] = (g[:, 0] - t_now) / 1e9
            return LiveState(frame=self._frame, face=self._face, gaze_recent=g,
                             prediction=self._predictions[-1] if self._predictions else None,
                             stats=stats, events=list(self._events), panels=dict(self.panels),
                             # a failing face step has no reading: the last one must not pass for now
                             frame_fer=None if self.panels.get("face", "").startswith("error") else self.pipeline.last_fer)

