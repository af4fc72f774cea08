"""`emer-live bench`: measure every pipeline stage and the live path, write bench.json + bench.md.

With no files named it runs on the built-in demo input and simulated gaze, so it runs anywhere.
`python -m training.bench --out DIR` (training environment) adds ONNX Runtime vs PyTorch to the
same report. The other measurements are subcommands (TOOLS), each in emer_live/bench/.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

TOOLS = {
    "docs": ("emer_live.bench.docs", "write docs/performance.md from a bench.json"),
    "live-cpu": ("emer_live.bench.live_cpu", "CPU of one live run, thread by thread, for before/after pairs"),
    "record-soak": ("emer_live.bench.record_soak", "resident memory of a recording run over time"),
    "crash-loss": ("emer_live.bench.crash_loss", "how much of each stream a SIGKILL loses while recording"),
    "eye-artefacts": ("emer_live.bench.eye_artefacts",
                      "the eye artefact check on real gaze recordings: per artefact kind built from them, and the people unaltered"),
    "fer-agreement": ("emer_live.bench.fer_agreement",
                      "per-frame FER of the live and file paths against the original FER2013 network, per clip"),
}


def _rates(text: str) -> tuple:
    try:
        rates = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise SystemExit(f"emer-live bench: --gaze-rates wants numbers like 250,600,1200, got {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise SystemExit(f"emer-live bench: --gaze-rates must be positive rates, got {text!r}")
    return rates


def add_arguments(parser) -> None:
    from emer_live.commands.arg_types import int_range, nonnegative_float, positive_float

    parser.add_argument("--video", type=Path, help="a recorded video (default: the built-in demo input)")
    parser.add_argument("--tsv", type=Path, help="Tobii TSV recording, or a folder of them (default: simulated gaze)")
    parser.add_argument("--model", type=Path, help="model card (default: the default model)")
    parser.add_argument("--gaze-rates", default="250,600,1200", help="gaze rates (Hz) for the live runs (default 250,600,1200)")
    parser.add_argument("--seconds", type=positive_float, default=20.0, help="length of each live run (default 20)")
    parser.add_argument("--soak-minutes", type=nonnegative_float, default=1.0, help="real-time soak run for memory (default 1; 0 = none)")
    parser.add_argument("--rss-every", type=positive_float, default=60.0, help="seconds between RSS samples in the soak (default 60)")
    parser.add_argument("--fps", type=positive_float, default=30.0, help="camera rate the frames are paced at (default 30)")
    parser.add_argument("--update-hz", type=positive_float, default=10.0, help="prediction update rate (default 10)")
    parser.add_argument("--stage-frames", type=int_range(1), default=300, help="frames for the per-stage timings (default 300)")
    parser.add_argument("--replay-seconds", type=positive_float, default=20.0,
                        help="offline replay length on the demo input (a video replays whole; default 20)")
    parser.add_argument("--draw-seconds", type=nonnegative_float, default=5.0, help="UI draw-rate measurement (default 5; 0 = none)")
    parser.add_argument("--fer-box", choices=("template", "detector"), default="template",
                        help="detector: also time the detector-placed FER crop on every frame (what a file run gives it) and its "
                             "ratio to the MediaPipe step, on the same frames (default: template, not timed)")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder (default bench-results)")
    sub = parser.add_subparsers(dest="tool", metavar="TOOL",
                                help="another measurement instead of the full bench: " + ", ".join(TOOLS))
    for name, (module, help_text) in TOOLS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_tool=module)


def main(args) -> int:
    if getattr(args, "tool", None):
        return int(importlib.import_module(args._tool).main(args) or 0)
    from emer_live.bench.report import write_report
    from emer_live.bench.run import BenchConfig, run_bench

    if args.seconds <= 0 or args.fps <= 0 or args.update_hz <= 0 or args.stage_frames <= 0:
        print("emer-live bench: --seconds, --fps, --update-hz and --stage-frames must be positive", file=sys.stderr)
        return 2
    cfg = BenchConfig(video=args.video, tsv=args.tsv, model=args.model, gaze_rates=_rates(args.gaze_rates),
                      seconds=args.seconds, soak_minutes=max(0.0, args.soak_minutes), rss_every_s=args.rss_every,
                      fps=args.fps, update_hz=args.update_hz, stage_frames=args.stage_frames,
                      replay_seconds=args.replay_seconds,
                      draw_seconds=max(0.0, args.draw_seconds), fer_box=args.fer_box)
    try:
        data = run_bench(cfg, log=lambda s: print(f"bench: {s}", file=sys.stderr, flush=True))
    except ValueError as e:  # --fer-box detector for a model whose crop recipe is not FER2013 framing
        if "fer_box" not in str(e):
            raise
        print(f"emer-live bench: {e}", file=sys.stderr)
        return 2
    old = args.out / "bench.json"
    if old.is_file():  # keep the ONNX Runtime vs PyTorch section training.bench merged in earlier
        try:
            prev = json.loads(old.read_text(encoding="utf-8"))
            if "ort_vs_torch" in prev:
                data["ort_vs_torch"] = prev["ort_vs_torch"]
        except ValueError:
            pass
    js, md = write_report(args.out, data)
    for t in data["targets"]:
        mark = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        print(f"{mark:>12}  {t['target']}: {t['measured']}")
    print(f"wrote {js} and {md}")
    return 0
