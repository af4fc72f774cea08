"""The live path under load: LiveRunner (capture, face, gaze intake, window and inference
threads) on recorded frames paced at a camera's rate and the real TobiiGazeSource fed by the
simulated SDK at a tracker's rate. Measures what arrives and what gets through, prediction rate,
capture-to-prediction latency, and (for a soak) resident memory over time."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Optional

import numpy as np

from emer_live.bench.feeds import PacedFrameSource, SimulatedTobiiSdk
from emer_live.bench.stats import summarize_ms


# Skip reasons that are not about the input: the start-up window, and windows the live run was
# too late to build (superseded by a newer one).
SPEED_SKIPS = ("warming_up", "superseded")


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used, all threads."""
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def _threads_cpu_s() -> Optional[dict]:
    """{thread id: (name, CPU seconds)} of this process's threads, from /proc (None elsewhere).
    Python threads by their name; threads native code started (MediaPipe's graph, FFmpeg's
    decoders, ONNX Runtime's pool) by the kernel's name for them, numbers dropped."""
    task = "/proc/self/task"
    if not os.path.isdir(task):
        return None
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir(task):
        try:
            with open(f"{task}/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        name = names.get(int(tid)) or "native: " + re.sub(r"[/:]?\d+$", "", comm)
        out[int(tid)] = (name, (int(rest[11]) + int(rest[12])) / tick)
    return out


def cpu_by_thread(before: Optional[dict], after: Optional[dict], wall_s: float) -> Optional[dict]:
    """CPU seconds per wall second of each thread (threads of one name summed), largest first."""
    if not before or not after or wall_s <= 0:
        return None
    per: dict = {}
    for tid, (name, cpu) in after.items():
        per[name] = per.get(name, 0.0) + (cpu - before.get(tid, (name, 0.0))[1]) / wall_s
    return {k: round(v, 3) for k, v in sorted(per.items(), key=lambda kv: -kv[1])}


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def live_run(engine, inner_frames, gaze_raw: np.ndarray, gaze_rate_hz: float, seconds: float, *,
             fps: float = 30.0, update_hz: float = 10.0, rss_every_s: Optional[float] = None,
             burst_ms: float = 4.0, face_processor=None, drain_s: float = 5.0, warmup_s: float = 2.0,
             fer_box: str = "auto") -> dict:
    """Run the live pipeline for `seconds`; returns counts, rates and percentiles. Frame drops are
    given for the whole run and for the steady state after warmup_s (start-up loads the face
    landmark model on the first frame, which takes a few frame periods). fer_box: the per-frame
    FER crop's placement, resolved for live input as the app does ("auto": the live framing)."""
    from emer_live.features.face import FaceProcessor
    from emer_live.features.face_box import resolve_fer_box
    from emer_live.pipeline.live import LiveRunner
    from emer_live.sources.tobii import TobiiGazeSource

    if face_processor is None:
        recipe = engine.card.crop_recipe
        face_processor = FaceProcessor(crop_size=engine.card.crop_size, recipe=recipe, tracker=True,
                                       fer_box=resolve_fer_box(fer_box, offline=False, recipe=recipe))

    frames = PacedFrameSource(inner_frames, fps=fps)
    sdk = SimulatedTobiiSdk(gaze_rate_hz, burst_ms=burst_ms)
    sdk.prepare(gaze_raw)
    gaze = TobiiGazeSource(sdk=sdk)
    runner = LiveRunner(frames, gaze, engine, update_hz=update_hz, face_processor=face_processor)
    pipe = runner.pipeline

    def pending() -> int:  # handed to the source's callback, not yet taken off its queue
        st = gaze.stats
        return gaze.arrived - st.delivered - st.invalid - st.extra.get("consumer_overflow", 0)

    def frame_counts() -> tuple[int, int]:  # (offered, lost) so far
        lost = frames.stats.dropped + runner.drops["frames_backlog_full"] + runner.drops["frames_face_skipped"]
        return frames.stats.delivered + frames.stats.dropped, lost

    rss = [(0.0, round(_rss_mb(), 1))]
    at_warm = None
    threads_seen: dict = {}
    cpu_warm = threads_warm = None  # (wall, cpu) once warm: the steady-state CPU share leaves the start-up out
    runner.start()
    t_start = time.monotonic()
    sdk.start(seconds, pending)
    pred_times, last_seq = [], 0
    decided = []  # (t, windows predicted or skipped for their content) after warm-up
    next_rss = rss_every_s
    try:
        while (elapsed := time.monotonic() - t_start) < seconds:
            time.sleep(min(0.5, max(0.0, seconds - elapsed)))
            if at_warm is None and time.monotonic() - t_start >= warmup_s:
                at_warm = frame_counts()
                cpu_warm = (time.monotonic(), _cpu_s())
                threads_warm = _threads_cpu_s()
            elif threads_warm:  # each thread's latest reading: one that ends early (the feed) still counts
                threads_seen.update(_threads_cpu_s() or {})
            new = runner.predictions_since(last_seq)
            if new:
                last_seq = new[-1].seq
                pred_times.extend(p.window_end_ns / 1e9 - t_start for p in new)
            n_dec = pipe.counts["predictions"] + sum(v for k, v in pipe.skipped.items() if k not in SPEED_SKIPS)
            if n_dec:
                decided.append((time.monotonic() - t_start, n_dec))
            if next_rss is not None and elapsed >= next_rss:
                rss.append((round(elapsed, 1), round(_rss_mb(), 1)))
                next_rss += rss_every_s
        cpu_end = (time.monotonic(), _cpu_s())
        threads_end = {**threads_seen, **(_threads_cpu_s() or {})} if threads_warm else None
        sdk.stop()
        wait_until = time.monotonic() + drain_s  # let the consumer take what the feed handed over
        while pending() > 0 and time.monotonic() < wait_until:
            time.sleep(0.01)
        time.sleep(0.05)
        stats = runner.stats()
        rss.append((round(time.monotonic() - t_start, 1), round(_rss_mb(), 1)))
    finally:
        runner.stop()
        pipe.close()
    wall = time.monotonic() - t_start
    summ = pipe.summary()
    offered, lost_frames = frame_counts()
    w_off, w_lost = at_warm or (0, 0)
    steady_offered = offered - w_off
    processed_gaze = summ["samples"]
    # Prediction rate over the span of window ends predicted (the first window needs window_s of input).
    n_pred = summ["predictions"]
    span = (pred_times[-1] - pred_times[0]) if len(pred_times) > 1 else 0.0
    lat = list(pipe.latency_ms)
    # Windows decided per second: predicted, or skipped because the input had no face / no valid
    # gaze (content, not speed); windows superseded or dropped as stale are what speed costs.
    upd = ((decided[-1][1] - decided[0][1]) / (decided[-1][0] - decided[0][0])
           if len(decided) > 1 and decided[-1][0] > decided[0][0] else None)
    return {
        "seconds": round(wall, 2),
        "fps_target": fps,
        "gaze_rate_hz": gaze_rate_hz,
        "fer_box": getattr(face_processor, "fer_box", None),  # the per-frame FER crop's placement
        "frames": {
            "offered": offered,
            "face_processed": summ["frames"],
            "face_fps": round(summ["frames"] / seconds, 2),
            "dropped_by_capture": frames.stats.dropped,
            "dropped_backlog_full": runner.drops["frames_backlog_full"],
            "skipped_by_face_stage": runner.drops["frames_face_skipped"],
            "dropped_pct": round(100.0 * (lost_frames - w_lost) / steady_offered, 3) if steady_offered else None,
            "dropped_pct_with_startup": round(100.0 * lost_frames / offered, 3) if offered else None,
            "warmup_s": warmup_s if at_warm else 0.0,
            "face_found_pct": summ["face_found_pct"],
        },
        "gaze": {
            "delivered_by_sdk": sdk.sent,
            "arrived_in_callback": gaze.arrived,
            "processed": processed_gaze,
            "dropped": int(sdk.sent - processed_gaze),
            "source_dropped": gaze.stats.dropped,
            "worst_queue_depth": sdk.worst_depth,
            "worst_queue_ms": round(1000.0 * sdk.worst_depth / gaze_rate_hz, 1),
            "feed_late_bursts": sdk.late_bursts,
            "measured_hz": round(processed_gaze / seconds, 1),
        },
        "predictions": {
            "count": n_pred,
            "per_s": round((len(pred_times) - 1) / span, 2) if span > 0 else None,
            "first_window_end_s": round(pred_times[0], 2) if pred_times else None,
            "update_per_s": round(upd, 2) if upd is not None else None,
            "update_span_s": round(decided[-1][0] - decided[0][0], 2) if len(decided) > 1 else None,
            "windows": summ["windows"],
            "windows_stale": stats["windows_stale"],
            "windows_superseded": summ["windows_skipped"].get("superseded", 0),
            "windows_skipped": summ["windows_skipped"],
        },
        "capture_to_prediction": summarize_ms(lat, "prediction"),
        # CPU seconds per wall second of the whole process after warm-up: every pipeline thread,
        # plus the frame decoding and the simulated tracker feed that stand in for the devices.
        "cpu_s_per_wall_s": (round((cpu_end[1] - cpu_warm[1]) / (cpu_end[0] - cpu_warm[0]), 3)
                             if cpu_warm and cpu_end[0] > cpu_warm[0] else None),
        # The same after warm-up, thread by thread (Linux; None elsewhere).
        "cpu_by_thread": (cpu_by_thread(threads_warm, threads_end, cpu_end[0] - cpu_warm[0])
                          if cpu_warm and threads_end else None),
        "inference_p50_ms": summ["inference_p50_ms"],
        "inference_p95_ms": summ["inference_p95_ms"],
        "worker_errors": dict(runner.worker_errors),
        "rss_mb": rss,
        "frame_source": frames.label,
        "gaze_source": f"TobiiGazeSource fed by {sdk.tracker.model} at {gaze_rate_hz:g} Hz",
    }
