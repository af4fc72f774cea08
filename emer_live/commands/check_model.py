"""`emer-live check-model --video VIDEO --tx300 DIR [--model CARD]`: the model-acceptance check.
Runs the model headless on a video with each participant's real eye recordings (trials joined)
and exits 1 when it misses a target (ER agrees with FER in >= 90 % of windows; no contradiction
above 0.6), 0 when it meets them all. See emer_live/model_check.py."""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    parser.add_argument("--video", required=True, help="the video the face comes from")
    parser.add_argument("--tx300", required=True, metavar="DIR", help="folder holding participant*/ Tobii TSV trials")
    parser.add_argument("--model", metavar="CARD", help="model card (default: the bundled model)")
    parser.add_argument("--participant", action="append", metavar="NAME", help="only this participant folder; repeatable")
    parser.add_argument("--min-agree", type=float, default=0.90, help="target: share of windows where ER top == FER top")
    parser.add_argument("--max-differ-p", type=float, default=0.6,
                        help="target: largest ER top probability where ER and FER differ")
    parser.add_argument("--no-simulated", action="store_true", help="skip the simulated-gaze demo run")
    parser.add_argument("--json", metavar="OUT", help="also write the figures here")


def main(args) -> int:
    import math
    import sys
    from pathlib import Path

    from emer_live.errors import EmerError
    from emer_live.model_check import Targets, check_model

    for name in ("min_agree", "max_differ_p"):
        if not math.isfinite(getattr(args, name)):
            raise EmerError(f"--{name.replace('_', '-')} must be a finite number")
    res = check_model(Path(args.video), Path(args.tx300), Path(args.model) if args.model else None,
                      Targets(min_agree=args.min_agree, max_differ_p=args.max_differ_p),
                      participants=args.participant, simulated=not args.no_simulated)
    text = json.dumps(res, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    for who, why in res["missed"].items():
        for w in why:
            print(f"emer-live check-model: {who}: missed: {w}", file=sys.stderr)
    print(f"emer-live check-model: {'all targets met' if res['passed'] else 'targets missed'}", file=sys.stderr)
    return 0 if res["passed"] else 1
