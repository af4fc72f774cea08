"""`emer-live annotate SESSION STEP`: the FER annotation of a recorded session (the paper's ALA).

  auto                      every ER segment gets the FER label of the per-frame face network the
                            app showed (frame_fer.csv; older sessions: the session's own model
                            reads the recorded face crops)
  review --annotator NAME   go through the segments where that label disagrees with the ER label:
                            accept the proposal or type another label (each annotator has a file)
  fuse                      Dawid-Skene fusion of model + annotators into labels.csv, with
                            annotator reliabilities and Krippendorff's alpha (annotations/reliability.json)
  status                    what is done so far
"""

from __future__ import annotations

import json
import math


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION", help="a recorded session folder")
    parser.add_argument("step", choices=("auto", "review", "fuse", "status"))
    parser.add_argument("--model", metavar="CARD", help="auto: the card of the model the session was recorded with, when it is no longer where "
                             "it was recorded (checked against the session's card hash)")
    parser.add_argument("--annotator", metavar="NAME", help="who reviews (review)")
    parser.add_argument("--sheet", metavar="DIR", help="review: write each segment's face crops as a PNG contact sheet here")


def _contact_sheet(crops, path) -> None:
    import cv2
    import numpy as np

    crops = crops[:: max(1, math.ceil(len(crops) / 16))][:16]
    tiles = [c[..., ::-1] for c in crops] + [np.zeros_like(crops[0])] * ((-len(crops)) % 8)
    rows = [np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles), 8)]
    cv2.imwrite(str(path), np.vstack(rows))


def _review(args) -> int:
    from pathlib import Path

    from emer_live.errors import RecordingError
    from emer_live.labels import EMOTIONS_7
    from emer_live.recording.annotation import ReviewSession

    if not args.annotator:
        raise RecordingError("review needs --annotator NAME")
    rs = ReviewSession(args.session, args.annotator)
    print(f"{len(rs.items)} disputed segments, {rs.remaining} left for {args.annotator}. "
          f"Enter = accept the proposal, a number 1-7 or a label = relabel, s = skip, q = save and quit.")
    print("  " + "  ".join(f"{i + 1}:{e}" for i, e in enumerate(EMOTIONS_7)))
    for i, it in enumerate(rs.items):
        if it.decision:
            continue
        a = it.auto
        extra = ""
        if args.sheet and a.n_crops:
            Path(args.sheet).mkdir(parents=True, exist_ok=True)
            sheet = Path(args.sheet) / f"segment_{a.segment:04d}.png"
            _contact_sheet(rs.crops(i), sheet)
            extra = f", faces: {sheet}"
        print(f"[{i + 1}/{len(rs.items)}] segment {a.segment} ({(a.end_ns - a.start_ns) / 1e9:.1f} s{extra}): "
              f"ER (self-assessed) = {a.er7}, model proposes FER = {a.fer7} (p={max(a.probs7):.2f})")
        while True:
            ans = input("  > ").strip().lower()
            if ans == "q":
                print(f"saved {rs.save()}")
                return 0
            if ans == "s":
                break
            if ans == "":
                rs.accept(i)
                break
            label = EMOTIONS_7[int(ans) - 1] if ans.isdigit() and 1 <= int(ans) <= 7 else ans
            if label in EMOTIONS_7:
                rs.relabel(i, label)
                break
            print(f"  not a label: {ans!r}")
    print(f"saved {rs.save()}; {rs.remaining} left")
    return 0


def main(args) -> int:
    from emer_live.recording import annotation as A

    if args.step == "auto":
        labels, model, source = A.auto_annotate_session(args.session, args.model)
        disputed = sum(1 for a in labels if a.fer7 and a.er7 and a.fer7 != a.er7)
        print(json.dumps({"segments": len(labels), "labelled": sum(a.fer7 is not None for a in labels),
                          "disputed": disputed, "model": model, "source": source}))
    elif args.step == "review":
        return _review(args)
    elif args.step == "fuse":
        print(json.dumps(A.finite_json(A.fuse_session(args.session)), indent=2))
    else:
        autos = A.read_auto(args.session)
        from emer_live.recording.session_reader import SessionReader

        reviewed = {k: len(v) for k, v in A.read_annotators(SessionReader(args.session)).items()}
        print(json.dumps({"segments": len(autos), "disputed": sum(1 for a in autos if a.fer7 and a.er7 and a.fer7 != a.er7),
                          "reviewed": reviewed}))
    return 0
