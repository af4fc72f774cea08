"""Resident memory of a recording run over time.

Runs `emer-live run --headless --realtime --record` (by default on the built-in demo input with
simulated gaze, which never ends; any other source arguments can be given after --) for the given
minutes, samples the process's RSS every few seconds, and reports the growth after the first
minute (the buffers fill during it: eye history, face cache, prediction history).

    emer-live bench record-soak --minutes 10 [--model CARD] [--json OUT] [-- --video V.mp4 ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding emer_live: the child imports this code


def add_arguments(parser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every-s", type=float, default=5.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("source", nargs="*", help="source arguments for `emer-live run` (default: --demo --gaze simulated)")


def main(args) -> int:
    import psutil

    root = Path(tempfile.mkdtemp(prefix="record-soak-"))
    source = args.source or ["--demo", "--gaze", "simulated"]
    cmd = [sys.executable, "-m", "emer_live", "run", "--headless", "--realtime", *source, "--duration",
           str(args.minutes * 60), "--record", str(root), "--participant", "S01", "--consent", "--out", os.devnull]
    cmd += ["--model", args.model] if args.model else []
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "QT_QPA_PLATFORM": "offscreen"}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(p.pid)
    t0, rss = time.monotonic(), []
    while p.poll() is None:
        try:
            rss.append((round(time.monotonic() - t0, 1), round(proc.memory_info().rss / 2**20, 1)))
        except psutil.NoSuchProcess:
            break
        time.sleep(args.every_s)
    out, err = p.communicate()
    summary = json.loads(out.splitlines()[-1]) if out.strip() else {}
    after = [v for t, v in rss if t >= 60.0]
    result = {
        "minutes": args.minutes, "source": source, "returncode": p.returncode,
        "rss_mb_start": rss[0][1] if rss else None,
        "rss_mb_at_1min": after[0] if after else None,
        "rss_mb_end": rss[-1][1] if rss else None,
        "rss_mb_max_after_1min": max(after) if after else None,
        "growth_after_1min_mb": round(max(after) - after[0], 1) if after else None,
        "frames": summary.get("frames"), "predictions": summary.get("predictions"),
        "recording": {k: summary.get("recording", {}).get(k) for k in ("written", "dropped", "error", "peak_pending_heavy")},
        "load_avg_1min": os.getloadavg()[0],
    }
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "rss_mb": rss}, indent=1))
    if p.returncode not in (0, None):
        print(err[-2000:], file=sys.stderr)
    return 0 if p.returncode == 0 else 1

