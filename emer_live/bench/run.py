"""The whole benchmark in one call: run_bench(BenchConfig) -> the report's data (a dict)."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

from emer_live.bench import inputs
from emer_live.bench.live import live_run
from emer_live.bench.machine import describe_machine
from emer_live.bench.report import evaluate_targets
from emer_live.bench.stages import eye_stages, face_stages, window_stages
from emer_live.bench.stats import ratio


@dataclass
class BenchConfig:
    video: Optional[Path] = None  # None: the built-in demo input
    tsv: Optional[Path] = None  # a Tobii TSV file or folder; None: simulated gaze
    model: Optional[Path] = None  # a model card; None: the default model
    gaze_rates: tuple = (250.0, 600.0, 1200.0)
    seconds: float = 20.0  # length of each live run
    soak_minutes: float = 1.0
    rss_every_s: float = 60.0
    fps: float = 30.0
    update_hz: float = 10.0
    stage_frames: int = 300
    replay_seconds: float = 20.0  # offline replay length when the input is the endless demo
    draw_seconds: float = 5.0  # 0: no UI draw-rate measurement
    fer_box: str = "template"  # "detector": also time the detector-placed FER crop (face_box.py)
    soak_gaze_hz: float = 250.0


def _ui_draw(cfg: BenchConfig) -> dict:
    """measure_draw_rate in a child process (offscreen Qt), so Qt never shares this process."""
    missing = [m for m in ("PySide6", "pyqtgraph") if importlib.util.find_spec(m) is None]
    if missing:  # looked up without importing: Qt must not load into this process
        return {"skipped": f"UI draw-rate needs {', '.join(missing)}, not installed"}
    cmd = [sys.executable, "-m", "emer_live.ui.drawrate", "--seconds", str(cfg.draw_seconds)]
    if cfg.model is not None:
        cmd += ["--model", str(cfg.model)]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=cfg.draw_seconds + 120, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": "draw-rate measurement timed out"}
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"skipped": f"draw-rate measurement failed: {tail[0]}"}
    try:
        return json.loads(res.stdout[res.stdout.index("{"):])
    except ValueError:
        return {"skipped": "draw-rate measurement printed no JSON"}


def _replay(engine, cfg: BenchConfig) -> dict:
    """Offline replay (as fast as the machine goes) of the frames and gaze, vs their real duration."""
    from emer_live.pipeline.offline import run_offline
    from emer_live.sources.factory import make_gaze_source
    from emer_live.sources.simulated_gaze import SimulatedGazeSource

    def once(recorded: bool):
        frames = inputs.frame_source(cfg.video, cfg.fps, duration_s=cfg.replay_seconds)
        gaze = (make_gaze_source(f"tsv:{cfg.tsv}", realtime=False) if recorded
                else SimulatedGazeSource(rate_hz=cfg.soak_gaze_hz, realtime=False))
        res = run_offline(frames, gaze, engine, update_hz=cfg.update_hz,
                          duration_s=cfg.replay_seconds if cfg.video is None else None)
        res.pipeline.close()
        return res

    res, gaze_used = once(cfg.tsv is not None), "recorded files" if cfg.tsv is not None else "simulated"
    if cfg.tsv is not None and not res.predictions:
        # Separate recordings are separate segments and no window spans two: recordings shorter
        # than the model's window give none, so the fusion would go untimed. Simulated gaze then.
        res, gaze_used = once(False), (f"simulated (the recorded files gave no prediction: each is shorter than "
                                       f"the {engine.card.window_s:g} s window, and no window spans two)")
    n = len(res.predictions)
    return {"media_s": round(res.media_s, 2), "wall_s": round(res.wall_s, 2),
            "x_real_time": ratio(res.media_s, res.wall_s), "predictions": n,
            "predictions_per_wall_s": ratio(n, res.wall_s, 1), "stopped_by": res.stopped_by,
            "frames": res.pipeline.counts["frames"], "samples": res.pipeline.counts["samples"], "gaze": gaze_used}


def _soak(engine, cfg: BenchConfig, gaze_raw) -> dict:
    run = live_run(engine, inputs.frame_source(cfg.video, cfg.fps, loop=True), gaze_raw, cfg.soak_gaze_hz,
                   cfg.soak_minutes * 60.0, fps=cfg.fps, update_hz=cfg.update_hz, rss_every_s=cfg.rss_every_s)
    rss = run["rss_mb"]
    first, last = rss[0], rss[-1]
    warm = next((p for p in rss if p[0] >= 60.0), None)
    base = warm if warm is not None and last[0] - warm[0] >= 60.0 else first
    per_h = round((last[1] - base[1]) / ((last[0] - base[0]) / 3600.0), 1) if last[0] > base[0] else None
    note = ("slope after the first minute (buffers filled)" if base is warm else
            "soak shorter than 2 minutes: slope from the start, warm-up included")
    return {"minutes": cfg.soak_minutes, "gaze_rate_hz": cfg.soak_gaze_hz, "rss_mb": rss,
            "growth_mb": round(last[1] - first[1], 1),
            "growth_after_warmup_mb": round(last[1] - warm[1], 1) if warm is not None else None,
            "growth_mb_per_hour": per_h, "note": note,
            "predictions": run["predictions"], "frames": run["frames"], "gaze": run["gaze"],
            "capture_to_prediction": run["capture_to_prediction"]}


def run_bench(cfg: BenchConfig, log: Callable[[str], None] = lambda s: None) -> dict:
    from emer_live.pipeline.engine import InferenceEngine

    t_all = time.perf_counter()
    engine = InferenceEngine(cfg.model, prefer_gpu=True)
    data = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            # file names only: the report is shared (docs/bench.json), the folders are this machine's
            "config": {k: (v.name if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
            "machine": describe_machine(engine.provider), "notes": [],
            "model": {**engine.info(), "model_card": Path(engine.card.path).name}}
    if engine.provider_note:
        data["notes"].append(engine.provider_note)
    gaze_t, gaze_raw, gaze_hz, gaze_label = inputs.recorded_gaze(cfg.tsv, seconds=max(60.0, cfg.seconds))
    frames_label = str(cfg.video.name) if cfg.video is not None else "built-in demo input (still photo, animated)"
    data["inputs"] = {"frames": frames_label, "gaze": gaze_label}

    log("stages: face")
    face, crops = face_stages(engine, inputs.frame_source(cfg.video, cfg.fps, duration_s=cfg.stage_frames / cfg.fps),
                              cfg.stage_frames, cfg.fer_box)
    log("stages: eye")
    eye, windows = eye_stages(engine, gaze_t, gaze_raw, cfg.update_hz)
    log("stages: model windows")
    win = window_stages(engine, crops, windows)
    data["stages"] = {"face": face, "eye": eye, "window": win}

    log("offline replay")
    data["replay"] = _replay(engine, cfg)

    runs = []
    for rate in cfg.gaze_rates:
        log(f"live run, gaze {rate:g} Hz, {cfg.seconds:g} s")
        runs.append(live_run(engine, inputs.frame_source(cfg.video, cfg.fps, loop=True), gaze_raw, float(rate),
                             cfg.seconds, fps=cfg.fps, update_hz=cfg.update_hz))
    data["live"] = {"runs": runs}
    if cfg.soak_minutes > 0:
        log(f"soak, {cfg.soak_minutes:g} min")
        data["soak"] = _soak(engine, cfg, gaze_raw)
    if cfg.draw_seconds > 0:
        log("UI draw rate")
        data["ui_draw"] = _ui_draw(cfg)

    ratios = {}
    w = data["stages"]["window"]
    if w.get("full_over_incremental_p50") is not None:
        ratios["incremental"] = {"name": "full window (8 crops re-encoded) / incremental update (cached embeddings)",
                                 "ratio": w["full_over_incremental_p50"],
                                 "detail": f"p50 {w['full_window_8_crops']['p50_ms']} ms vs {w['fusion_window']['p50_ms']} ms"}
    if w.get("eye_withheld_cost_ratio_p50") is not None:
        ratios["eye_effect"] = {"name": "fusion per window with its eye-withheld run (eye_effect) / the single run",
                                "ratio": w["eye_withheld_cost_ratio_p50"],
                                "detail": f"p50 {w['fusion_window_with_eye_withheld']['p50_ms']} ms vs "
                                          f"{w['fusion_window']['p50_ms']} ms, measured in the same loop"}
    fs = data["stages"]["face"]
    for key, other, what in (("face_path", "face_step_fer_earlier", "earlier face path"),
                             ("landmark_tracker", "face_step_fer_mesh_graph", "face mesh graph in video mode")):
        if fs.get("face_step_fer", {}).get("p50_ms") and fs.get(other, {}).get("p50_ms"):
            ratios[key] = {"name": f"{what} / this face step (face step + per-frame FER, p50)",
                           "ratio": ratio(fs[other]["p50_ms"], fs["face_step_fer"]["p50_ms"]),
                           "detail": f"p50 {fs[other]['p50_ms']} ms vs {fs['face_step_fer']['p50_ms']} ms, "
                                     "same frames, one pass after the other"}
    tracked, template = fs.get("face_step_fer_tracked_pass", {}), fs.get("face_step_fer_template_pass", {})
    if tracked.get("p50_ms") and template.get("p50_ms"):
        ratios["live_framing"] = {"name": "live FER framing (tracked detector box) / landmark template "
                                          "(face step + per-frame FER, p50)",
                                  "ratio": ratio(tracked["p50_ms"], template["p50_ms"]),
                                  "detail": f"p50 {tracked['p50_ms']} ms vs {template['p50_ms']} ms (p95 "
                                            f"{tracked['p95_ms']} vs {template['p95_ms']} ms), same frames, taking "
                                            "turns on each frame"}
        if tracked.get("mean_ms_per_frame_all_threads") and template.get("mean_ms_per_frame_all_threads"):
            a, b = tracked["mean_ms_per_frame_all_threads"], template["mean_ms_per_frame_all_threads"]
            ratios["live_framing_all_threads"] = {
                "name": "live FER framing / landmark template (mean ms per frame, the detector thread's runs included)",
                "ratio": ratio(a, b), "detail": f"{a} ms vs {b} ms per frame, same frames, taking turns on each frame"}
    if fs.get("fer_box_detector", {}).get("p50_ms") and fs.get("face_mesh", {}).get("p50_ms"):
        det, mesh = fs["fer_box_detector"]["p50_ms"], fs["face_mesh"]["p50_ms"]
        ratios["fer_box_detector"] = {"name": "--fer-box detector: the detector / the face landmarks step (p50)",
                                      "ratio": ratio(det, mesh),
                                      "detail": f"p50 {det} ms vs {mesh} ms, same frames, one after the other"}
    if data["replay"].get("x_real_time") is not None:
        r = data["replay"]
        ratios["replay"] = {"name": "offline replay throughput / real time", "ratio": r["x_real_time"],
                            "detail": f"{r['media_s']} s of input in {r['wall_s']} s"}
    ui = data.get("ui_draw") or {}
    if "fps" in ui:
        ratios["ui"] = {"name": "UI draw rate / 30 fps camera", "ratio": ratio(ui["fps"], 30.0),
                        "detail": f"{ui['fps']} frames per second drawn, all panels live"}
    data["ratios"] = ratios
    if data["machine"]["provider_in_use"] != "CUDAExecutionProvider":
        data["notes"].append("no GPU in use: every figure is CPU-only (docs/performance.md says how to measure on a GPU)")
    if cfg.video is None:
        data["notes"].append("frames are the built-in demo input (a still portrait, animated), not a camera")
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    data["machine"]["load_avg_1min_end"] = round(load_end, 2) if load_end is not None else None
    busy = max(data["machine"]["load_avg_1min"] or 0.0, load_end or 0.0)
    if busy > 0.75 * (data["machine"]["cores_usable"] or 1):
        data["notes"].append(f"the machine was shared: 1-minute load average up to {busy:.1f} on "
                             f"{data['machine']['cores_usable']} cores during the run (this process included), "
                             "so figures are pessimistic")
    data["targets"] = evaluate_targets(data)
    data["wall_s"] = round(time.perf_counter() - t_all, 1)
    return data
