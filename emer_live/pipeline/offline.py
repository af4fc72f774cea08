"""Offline runner: two offline sources merged by host time into one Pipeline, as fast as the
machine goes. Deterministic: the same inputs give the same predictions (replay relies on it)."""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from emer_live.errors import SourceError
from emer_live.pipeline.core import Pipeline
from emer_live.pipeline.sinks import SinkSet
from emer_live.types import Prediction, SourceEvent

GAZE, FRAME = 0, 1  # at equal times gaze goes first: a window then sees both


@dataclass
class RunResult:
    predictions: list[Prediction]
    pipeline: Pipeline
    events: list[SourceEvent] = field(default_factory=list)
    wall_s: float = 0.0
    media_s: float = 0.0  # span of host time the inputs covered
    stopped_by: str = ""  # "end_of_stream", "duration", "interrupted", "frame_source_error", "recording_error"
    sinks: Optional[SinkSet] = None
    stream_errors: dict = field(default_factory=dict)  # "frames"/"gaze" -> why it ended early
    unused_after_end: int = 0  # the item read past the run's end (merge look-ahead), not fed


def _tagged(source, items, tag: int, done: dict):
    """(host_ns, tag, n, item) tuples for heapq.merge; a source failing mid-stream becomes an
    'error' event and the end of that stream, so the other stream goes on."""
    n, t = 0, 0
    try:
        for item in items:
            t = item.host_ns
            yield t, tag, n, item
            n += 1
    except SourceError as e:
        done[f"error{tag}"] = str(e)
        yield t, tag, n, SourceEvent(host_ns=t, source=source.kind, kind="error", message=str(e))
    done[tag] = True


def run_offline(frame_source, gaze_source, engine, sinks=(), update_hz: float = 10.0, *, duration_s: Optional[float] = None,
                batch: int = 16, face_processor=None, pipeline: Optional[Pipeline] = None,
                on_prediction: Optional[Callable[[Prediction], None]] = None,
                should_stop: Optional[Callable[[], bool]] = None) -> RunResult:
    """Open both sources (gaze_source may be None: face only, eyes marked missing), run to the end
    of the frame stream or duration_s of host time, close them. Windows are predicted in batches.
    should_stop, asked before every input, ends the run early (stopped_by "recording_error":
    its only caller is a run whose recording failed)."""
    sinkset = sinks if isinstance(sinks, SinkSet) else SinkSet(sinks)
    pipe = pipeline or Pipeline(engine, update_hz, face_processor, use_eye=gaze_source is not None, track_landmarks=False)
    pipe.on_crop_cached = lambda idx, t, crop: sinkset.emit("on_face_crop", idx, t, crop)
    pipe.on_frame_fer = lambda fer: sinkset.emit("on_frame_fer", fer)
    pipe.on_window_skipped = lambda reason, end_ns: sinkset.emit("on_window_skipped", reason, end_ns)
    result = RunResult([], pipe, sinks=sinkset)
    pending = []

    def flush():
        preds = pipe.predict(pending)
        pending.clear()
        for p in preds:
            sinkset.emit("on_prediction", p)
            if on_prediction:
                on_prediction(p)
        result.predictions.extend(preds)

    done: dict[int, bool] = {}
    opened = []
    t_wall = time.perf_counter()
    try:
        for src in (frame_source, gaze_source):
            if src is not None:
                src.open()
                opened.append(src)
        streams = [_tagged(frame_source, frame_source.frames(), FRAME, done)]
        if gaze_source is not None:
            streams.append(_tagged(gaze_source, gaze_source.samples(), GAZE, done))
        first = last = None
        result.stopped_by = "end_of_stream"
        for t, tag, _, item in heapq.merge(*streams):
            if done.get(FRAME):  # the video ended: a longer (or endless) gaze stream stops with it
                if f"error{FRAME}" in done:
                    result.stopped_by = "frame_source_error"
                result.unused_after_end += not isinstance(item, SourceEvent)
                break
            first = t if first is None else first
            if duration_s is not None and t - first > duration_s * 1e9:
                result.stopped_by = "duration"
                result.unused_after_end += not isinstance(item, SourceEvent)
                break
            if should_stop is not None and should_stop():
                result.stopped_by = "recording_error"
                break
            last = t
            if isinstance(item, SourceEvent):
                if item.kind == "stream_break" and tag == GAZE:
                    pipe.on_gaze_break(item.host_ns)
                result.events.append(item)
                sinkset.emit("on_event", item)
                continue
            if tag == FRAME:
                res = pipe.on_frame(item)
                sinkset.emit("on_frame", item, res)
            elif pipe.on_gaze(item):
                sinkset.emit("on_gaze", item)
            due = pipe.next_due_ns
            if due is not None and due <= t:  # the windows' FER means hold every frame up to their ends
                pipe.emit_ready_fer(wait_until_ns=t)
            pending.extend(pipe.next_windows(t))
            if len(pending) >= batch:
                flush()
        pipe.emit_ready_fer(wait=True)  # the frames still waiting for the detector thread
        flush()
        result.media_s = (last - first) / 1e9 if first is not None else 0.0
    except KeyboardInterrupt:
        result.stopped_by = "interrupted"
    finally:
        for tag, which in ((FRAME, "frames"), (GAZE, "gaze")):
            if f"error{tag}" in done:
                result.stream_errors[which] = done[f"error{tag}"]
        for src in opened:
            src.close()
        result.wall_s = time.perf_counter() - t_wall
    return result
