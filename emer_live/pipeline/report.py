"""Per-prediction records and the end-of-run summary, as plain dicts (JSON lines, UI, bench).

Every count of lost or refused input comes with the reason it happened, so a summary has no
unexplained drops.
"""

from __future__ import annotations

from typing import Optional

from emer_live.types import Prediction

DROP_REASONS = {
    "frames_source_dropped": "frames the source skipped (camera gaps, or real-time playback falling behind: passed over undecoded)",
    "frames_backlog_full": "frames lost because the face stage fell more than a few frames behind",
    "frames_face_skipped": "frames recorded without face processing: the face stage took the newest frame instead",
    "gaze_source_dropped": "gaps in the device's timestamps longer than 1.5 sample periods (samples the tracker lost)",
    "gaze_source_invalid": "gaze rows the source refused (unreadable, repeated or backward timestamps)",
    "frame_time_not_increasing": "frames whose host time did not advance (refused by the pipeline)",
    "gaze_time_backwards": "gaze samples whose host time went backwards (refused by the pipeline)",
    "gaze_time_repeat": "gaze samples repeating the previous host time (refused by the pipeline)",
    "inputs_after_end": "an item read past the end of the run (frame stream ended or duration reached), not used",
    "windows_stale": "windows superseded by a newer one before the model was free (latest window wins)",
}


def prediction_record(p: Prediction, t0_ns: int, flags: dict) -> dict:
    """One JSON line: the prediction plus its time from the run's start and the input flags."""
    return {"type": "prediction", "t_s": round((p.window_end_ns - t0_ns) / 1e9, 3), **p.as_dict(), **flags}


def drops(frame_source, gaze_source, pipeline_summary: dict, runner_drops: Optional[dict] = None) -> dict:
    counts = {"frames_source_dropped": frame_source.stats.dropped}
    if gaze_source is not None:
        counts["gaze_source_dropped"] = gaze_source.stats.dropped
        counts["gaze_source_invalid"] = gaze_source.stats.invalid
    counts.update(pipeline_summary["inputs_rejected"])
    counts.update(runner_drops or {})
    return {k: {"count": int(n), "reason": DROP_REASONS.get(k, k)} for k, n in counts.items() if n}


def no_prediction_note(ps: dict, trials: Optional[dict] = None) -> str:
    """Why a run made no prediction although windows were due (e.g. a folder of trial files where
    every window spans a break between two trials), with the counts; "" otherwise. `trials`: the
    gaze source's trial seams (sources/trial_joins.py), whose breaks are then said with their why."""
    if ps.get("predictions") or not ps.get("windows_skipped"):
        return ""
    why = "; ".join(f"{n} x {ps.get('windows_skipped_why', {}).get(k, k)}" for k, n in ps["windows_skipped"].items())
    note = f"no prediction: every window was refused ({why})"
    if isinstance(trials, dict) and trials.get("breaks") and ps["windows_skipped"].get("eye_stream_break"):
        kept = [f"{x['next']} {x['why']}" for x in trials.get("seams", []) if not x.get("joined")]
        note += (f"; gaze files: {trials.get('joined', 0)} joined, {trials['breaks']} not joined ("
                 + "; ".join(kept[:3]) + ("; ..." if len(kept) > 3 else "") + ")")
    return note


def run_summary(*, pipeline, engine, frame_source, gaze_source, mode: str, stopped_by: str, wall_s: float,
                input_s: float, events: list, stream_errors: dict, sink_errors: dict,
                runner_drops: Optional[dict] = None, worker_errors: Optional[dict] = None) -> dict:
    ps = pipeline.summary()
    n = ps["predictions"]
    notes = []
    if input_s > 0:
        notes.append(f"no prediction during the first {engine.window_s:g} s: the model needs a full window of input"
                     + ("; the per-frame FER starts at the first face frame" if pipeline.fer_reader is not None else ""))
    if gaze_source is None:
        notes.append("no gaze source: the eye input was held at its training mean (eye_valid_fraction 0)")
    if frame_source.simulated:
        notes.append(f"frames are demo input: {frame_source.label}")
    if gaze_source is not None and gaze_source.simulated:
        notes.append(f"gaze is simulated: {gaze_source.label}")
    for which, msg in stream_errors.items():
        notes.append(f"{which} stream failed and was marked missing from then on: {msg}")
    for where, n in (worker_errors or {}).items():
        notes.append(f"the {where} stage failed {n} time(s); see events")
    if engine.provider_note:
        notes.append(engine.provider_note)
    if no_prediction_note(ps):
        notes.append(no_prediction_note(ps, gaze_source.info().get("trials") if gaze_source is not None else None))
    return {
        "type": "summary",
        "mode": mode,
        "stopped_by": stopped_by,
        "wall_s": round(wall_s, 3),
        "input_s": round(input_s, 3),
        "predictions_per_s": round(n / wall_s, 2) if wall_s > 0 else None,
        "latency_basis": ("newest input's capture -> prediction available" if mode == "realtime" else
                          "compute time per window (window assembly + its share of the batched model run)"),
        **{k: ps[k] for k in ("frames", "samples", "face_found_pct", "face_status", "faces_encoded", "windows",
                              "windows_skipped", "windows_skipped_why", "predictions", "latency_p50_ms",
                              "latency_p95_ms", "inference_p50_ms", "inference_p95_ms", "per_frame_fer",
                              "fer_frames", "fer_frames_no_face")},
        **{k: ps[k] for k in ("fer_box", "fer_crops_placed_by", "face_landmarks_by") if k in ps},
        "windows_stale": int((runner_drops or {}).get("windows_stale", 0)),
        "drops": drops(frame_source, gaze_source, ps, runner_drops),
        "provider": engine.provider,
        "model": {k: v for k, v in engine.info().items() if k != "provider"},
        "frame_source": {**frame_source.info(), "stats": frame_source.stats.as_dict()},
        "gaze_source": ({**gaze_source.info(), "stats": gaze_source.stats.as_dict()} if gaze_source is not None else None),
        "demo_input": bool(frame_source.simulated),
        "simulated_gaze": bool(gaze_source is not None and gaze_source.simulated),
        "stream_errors": stream_errors,
        "sink_errors": sink_errors,
        "worker_errors": dict(worker_errors or {}),
        "events": [{"t_ns": e.host_ns, "source": e.source, "kind": e.kind, "message": e.message}
                   for e in events if e.kind not in ("info",)][-50:],
        "notes": notes,
    }
