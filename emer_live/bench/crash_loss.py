"""How much of each stream a SIGKILL loses, measured on the real recorder.

Starts `emer-live run --headless --realtime --record` (the real model, the real face stage, a real
video and simulated gaze) again and again, kills each run with SIGKILL at a random moment once it
is recording, then reopens every session and measures, per stream, the time between the kill and
the newest item on disk (frames, gaze, predictions). Face crops are stored one per face-cache slot
(window_s / 32), so a time since the last crop says little; instead every crop the frame rows on
disk imply must be on disk. It also checks that the streams are in step (no prediction on disk
ends after the newest input row) and replays every killed session: each recorded prediction must
come back within 1e-5 (predictions are stored rounded to 5 decimals, so that is the precision).

    emer-live bench crash-loss --kills 20 --parallel 2 --video VIDEO [--model CARD] [--json OUT]

Prints one line per kill and a summary (p50 and max per stream); exit code 1 if a check fails.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding emer_live: children import this code


def child_cmd(args, root: Path, n: int) -> list[str]:
    cmd = [sys.executable, "-m", "emer_live", "run", "--headless", "--video", args.video, "--realtime",
           "--gaze", "simulated", "--record", str(root), "--participant", f"K{n:02d}", "--consent",
           "--out", os.devnull]
    return cmd + (["--model", args.model] if args.model else [])


def recording(root: Path) -> bool:
    """True once a session under root has a frame row on disk."""
    for folder in root.glob("*"):
        f = folder / "frames.csv"
        if f.exists() and f.read_bytes().count(b"\n") >= 2:
            return True
    return False


def measure(folder: Path, kill_ns: int) -> dict:
    import numpy as np

    from emer_live.recording.session_reader import SessionReader

    r = SessionReader(folder)
    frames = r.frames()
    gaze_t = r.gaze()[0]
    preds = r.predictions()
    from emer_live.pipeline.buffers import SLOTS_PER_WINDOW

    # The first frame with a usable face in each cache slot is the one whose crop the model cached.
    slot_ns = int(round(r.meta["model"]["window_s"] * 1e9)) // SLOTS_PER_WINDOW
    expected = {}
    for idx, t, had in zip(frames["frame_index"], frames["host_ns"], frames["face_crop"]):
        if had == 1:
            expected.setdefault(int(t) // slot_ns, int(idx))
    missing = [i for i in expected.values() if r.face_crop(i) is None]
    last = {
        "frames": int(frames["host_ns"][-1]) if len(frames["host_ns"]) else None,
        "gaze": int(gaze_t[-1]) if len(gaze_t) else None,
        "predictions": max(p["window_end_ns"] for p in preds) if preds else None,
    }
    loss = {k: (kill_ns - v) / 1e9 if v is not None else None for k, v in last.items()}
    newest_input = max(v for v in (last["frames"], last["gaze"]) if v is not None) if last["frames"] or last["gaze"] else None
    ahead = (last["predictions"] - newest_input) / 1e9 if last["predictions"] and newest_input else None
    return {"loss_s": loss, "predictions_past_newest_input_s": ahead, "predictions_past_last_frame_s":
            (last["predictions"] - last["frames"]) / 1e9 if last["predictions"] and last["frames"] else None, "n_predictions": len(preds),
            "face_crops_expected": len(expected), "face_crops_missing": len(missing),
            "n_frames": int(len(frames["host_ns"])), "trimmed": r.trimmed,
            "frames_s": float((frames["host_ns"][-1] - frames["host_ns"][0]) / 1e9) if len(frames["host_ns"]) > 1 else 0.0}


def replay(folder: Path, model) -> dict:
    cmd = [sys.executable, "-m", "emer_live", "replay", str(folder), "--fast", "--headless", "--quiet"]
    cmd += ["--model", model] if model else []
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)})
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout.splitlines()[-1])["summary"]["vs_recorded"]


def add_arguments(parser) -> None:
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--video", required=True, help="a video file played in real time as the camera")
    parser.add_argument("--model", default=None, help="model card (default: the bundled model)")
    parser.add_argument("--max-wait-s", type=float, default=20.0, help="kill 0 to this many seconds after recording starts")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--json", default=None, help="write every measurement here")


def main(args) -> int:
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "QT_QPA_PLATFORM": "offscreen"}
    work = Path(tempfile.mkdtemp(prefix="crash-loss-"))
    print(f"sessions go to {work}", flush=True)
    runs, n = [], 0
    while n < args.kills:
        batch = []
        for _ in range(min(args.parallel, args.kills - n)):
            root = work / f"k{n:02d}"
            p = subprocess.Popen(child_cmd(args, root, n), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            batch.append((n, p, root))
            n += 1
        deadlines = []
        for i, p, root in batch:
            t_end = time.monotonic() + 120
            while not recording(root) and p.poll() is None and time.monotonic() < t_end:
                time.sleep(0.02)
            if p.poll() is not None or not recording(root):
                print(f"kill {i}: the run never started recording: {p.stderr.read()[-500:] if p.poll() is not None else ''}")
                p.kill()
                return 1
            # each run is killed at its own random moment after it started recording
            deadlines.append((time.monotonic() + rng.uniform(0.0, args.max_wait_s), i, p, root))
        for t_kill, i, p, root in sorted(deadlines, key=lambda d: d[0]):
            time.sleep(max(0.0, t_kill - time.monotonic()))
            kill_ns = time.monotonic_ns()
            p.send_signal(signal.SIGKILL)
            p.wait()
            runs.append((i, root, kill_ns))
    import numpy as np

    results, failures = [], []
    for i, root, kill_ns in runs:
        (folder,) = root.iterdir()
        m = measure(folder, kill_ns)
        m["replay"] = replay(folder, args.model)
        m["kill"] = i
        results.append(m)
        rep = m["replay"]
        ok_replay = "error" not in rep and rep["matched_windows"] == rep["recorded"] and \
            (rep["max_abs_diff"] is None or rep["max_abs_diff"] <= 1e-5 + 1e-9)
        in_step = m["predictions_past_newest_input_s"] is None or m["predictions_past_newest_input_s"] <= 0
        if not ok_replay or not in_step or m["face_crops_missing"]:
            failures.append(i)
        loss = "  ".join(f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in m["loss_s"].items())
        print(f"kill {i:2d} after {m['frames_s']:5.2f} s of frames: loss_s {loss}  crops missing "
              f"{m['face_crops_missing']}/{m['face_crops_expected']}  replay {rep}"
              + ("" if in_step else f"  OUT OF STEP by {m['predictions_past_newest_input_s']:.3f} s"), flush=True)
    summary = {}
    for k in ("frames", "gaze", "predictions"):
        v = [m["loss_s"][k] for m in results if m["loss_s"][k] is not None]
        summary[k] = {"n": len(v), "p50_s": round(float(np.median(v)), 3), "max_s": round(float(max(v)), 3)} if v else None
    matched = sum(m["replay"].get("matched_windows", 0) for m in results)
    recorded = sum(m["replay"].get("recorded", 0) for m in results)
    diffs = [m["replay"]["max_abs_diff"] for m in results if m["replay"].get("max_abs_diff") is not None]
    crops = f"{sum(m['face_crops_missing'] for m in results)}/{sum(m['face_crops_expected'] for m in results)}"
    out = {"kills": len(results), "loss": summary, "face_crops_missing": crops,
           "replay_windows_matched": f"{matched}/{recorded}",
           "replay_max_abs_diff": max(diffs) if diffs else None, "failed_kills": failures,
           "cpu_count": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]}
    print(json.dumps(out))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": out, "kills": results}, indent=1, default=str))
    return 1 if failures else 0

