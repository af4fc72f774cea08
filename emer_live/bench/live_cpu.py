"""CPU of one live run, thread by thread: the bench's live run alone, for before/after pairs.

Runs `emer_live.bench.live.live_run` (every LiveRunner thread, frames paced at 30 fps, gaze
through TobiiGazeSource fed by the simulated SDK, 10 predictions a second) on the recorded
inputs, and prints one JSON line: the bench's CPU seconds per wall second of the whole process
after warm-up, and each thread's share over the same span, read from /proc here (Linux) so the
same command measures any checkout that has the bench's live run. To compare two versions, run it
alternately with each checkout first on PYTHONPATH, several times, and compare pair by pair:

    PYTHONPATH=OLD python -m emer_live bench live-cpu --video V.mp4 --tsv TSV_FOLDER --seconds 20 --tag old
    PYTHONPATH=NEW python -m emer_live bench live-cpu --video V.mp4 --tsv TSV_FOLDER --seconds 20 --tag new

(Checkouts from before this command existed had it as scripts/live-cpu.)
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path


def threads_cpu() -> dict:
    """{thread id: (name, CPU seconds)}; threads native code started go by the kernel's name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        name = names.get(int(tid)) or "native: " + re.sub(r"[/:]?\d+$", "", comm)
        out[int(tid)] = (name, (int(rest[11]) + int(rest[12])) / tick)
    return out


def add_arguments(parser) -> None:
    parser.add_argument("--video", type=Path, default=None, help="video file (default: the built-in demo input)")
    parser.add_argument("--tsv", type=Path, default=None, help="Tobii TSV file or folder (default: simulated gaze)")
    parser.add_argument("--gaze-rate", type=float, default=250.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup-s", type=float, default=2.0, help="as the bench: start-up left out")
    parser.add_argument("--model", default=None)
    parser.add_argument("--fer-box", default="auto", help="the per-frame FER crop's placement (default: the live framing, as the app)")
    parser.add_argument("--tag", default="")


def main(args) -> int:

    from emer_live.bench import inputs
    from emer_live.bench.live import live_run
    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(args.model, prefer_gpu=True)
    _, raw, _, _ = inputs.recorded_gaze(args.tsv, seconds=max(60.0, args.seconds))
    snaps: dict = {}
    seen: dict = {}

    def sample() -> None:  # the same span as the bench's figure: warm-up to (almost) the end
        time.sleep(args.warmup_s + 0.3)
        snaps["start"] = (time.monotonic(), threads_cpu())
        end = time.monotonic() + args.seconds - args.warmup_s - 0.6
        while time.monotonic() < end:
            seen.update(threads_cpu())  # the latest reading of a thread that ends early counts
            time.sleep(0.25)
        snaps["end"] = (time.monotonic(), {**seen, **threads_cpu()})

    sampler = threading.Thread(target=sample, name="cpu-sampler", daemon=True)
    sampler.start()
    load = os.getloadavg()[0]
    run = live_run(engine, inputs.frame_source(args.video, 30.0, loop=True), raw, args.gaze_rate, args.seconds,
                   fer_box=args.fer_box)
    sampler.join()
    (t0, a), (t1, b) = snaps["start"], snaps["end"]
    per: dict = {}
    for tid, (name, cpu) in b.items():
        per[name] = per.get(name, 0.0) + (cpu - a.get(tid, (name, 0.0))[1]) / (t1 - t0)
    print(json.dumps({
        "tag": args.tag, "fer_box": args.fer_box, "gaze_rate_hz": args.gaze_rate, "seconds": args.seconds,
        "load_avg_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
        "cpu_s_per_wall_s": run["cpu_s_per_wall_s"],
        "cpu_by_thread": {k: round(v, 3) for k, v in sorted(per.items(), key=lambda kv: -kv[1])},
        "frames_dropped_pct": run["frames"]["dropped_pct"],
        "capture_to_prediction_p95_ms": run["capture_to_prediction"].get("p95_ms"),
        "predictions_per_s": run["predictions"]["per_s"],
    }))
    return 0

