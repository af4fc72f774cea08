"""`emer-live app` (the default command): the desktop window.

With no display (Linux without DISPLAY / WAYLAND_DISPLAY and no QT_QPA_PLATFORM) it says so and
runs the same sources headless for a while instead of crashing; `--screenshot` renders offscreen.
"""

from __future__ import annotations

import json
import os
import sys
import time

HEADLESS_S = 15.0


def add_arguments(parser) -> None:
    from emer_live.commands.arg_types import int_range, nonnegative_float

    src = parser.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="PATH", help="face video from a file instead of a camera")
    src.add_argument("--camera", metavar="N", type=int_range(0, 1023), help="camera index (default: camera 0 if present, else demo input)")
    src.add_argument("--demo", action="store_true", help="the built-in demo input, even if a camera is attached")
    parser.add_argument("--gaze", metavar="SPEC",
                        help='"simulated[:EMOTION,...]", "tobii[:SERIAL]", "tsv:PATH[#participant=ID]" '
                             '(a Tobii Pro Lab / Studio export or SDK log) or "none" '
                             "(default: a Tobii tracker if found, else simulated gaze)")
    parser.add_argument("--gaze-columns", metavar="JSON", default=None,
                        help="column mapping for a gaze file of a layout not detected (see emer-live gaze-info)")
    parser.add_argument("--model", metavar="CARD", help="model card (default: the bundled demo model)")
    parser.add_argument("--presentation", action="store_true", help="start in full-screen presentation mode")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to PNG after --after seconds, then exit")
    parser.add_argument("--after", metavar="S", type=nonnegative_float, default=5.0, help="seconds before --screenshot (default 5)")
    from emer_live.pipeline.eye_geometry import add_geometry_arguments

    add_geometry_arguments(parser)


def _frame_spec(args) -> str | None:
    if args.video:
        return f"video:{args.video}"
    if args.camera is not None:
        return f"camera:{args.camera}"
    return "demo" if args.demo else None


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(args) -> int:
    from emer_live.pipeline.eye_geometry import eye_params_from_args

    frame = _frame_spec(args)
    eye_params = eye_params_from_args(args)
    if args.screenshot and not has_display():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a picture needs no screen
    if not has_display():
        print("emer-live: no display found (DISPLAY / WAYLAND_DISPLAY unset), so the window cannot open.\n"
              f"  Running the same sources headless for {HEADLESS_S:.0f} s instead (one JSON line per second).\n"
              "  For a picture of the window: QT_QPA_PLATFORM=offscreen emer-live app --screenshot window.png\n"
              "  For longer headless runs: emer-live run --headless", file=sys.stderr)
        return headless(frame or "auto", args.gaze or "auto", args.model or "", HEADLESS_S,
                        getattr(args, "gaze_columns", None), eye_params)
    from emer_live.ui.app import run_app

    return run_app(frame, args.gaze, args.model, presentation=args.presentation,
                   screenshot=args.screenshot, after_s=args.after, gaze_columns=getattr(args, "gaze_columns", None),
                   eye_params=eye_params)


def headless(frame: str, gaze: str, model: str, seconds: float, gaze_columns=None, eye_params=None) -> int:
    """The window's fallback: same controller, no Qt; prints the latest prediction each second."""
    from emer_live.ui.controller import SourceChoice, real_controller

    ctl = real_controller(SourceChoice(frame, gaze, model), gaze_columns, eye_params)
    if not ctl.start():
        for panel, notice in ctl.notices.items():
            print(f"emer-live: {panel}: {notice.text}", file=sys.stderr)
        return 2
    seq, end = -1, time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            time.sleep(1.0)
            preds = ctl.runner.predictions_since(seq)
            if preds:
                seq = preds[-1].seq
                print(json.dumps(preds[-1].as_dict()), flush=True)
    finally:
        ctl.stop()
    return 0
