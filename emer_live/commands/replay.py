"""`emer-live replay SESSION`: a recorded session again.

With a display it opens the window in review mode: the session's frames, gaze and recorded
predictions in step with a timeline (play / pause / seek / speed; --fast starts at the highest
speed). --headless feeds the session back through the pipeline instead: --fast as fast as the
machine goes, otherwise at the recorded pace, one JSON line per prediction and a summary
comparing them with the predictions recorded live (same windows, largest difference).
"""

from __future__ import annotations

import json
import sys


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION", help="a recorded session folder")
    parser.add_argument("--fast", action="store_true", help="as fast as possible instead of real time")
    parser.add_argument("--headless", action="store_true", help="no window: JSON lines on stdout")
    parser.add_argument("--model", metavar="CARD", help="model card (default: the session's own model if unchanged, else the default model)")
    parser.add_argument("--reprocess-faces", action="store_true",
                        help="re-detect faces in the (JPEG) video instead of using the recorded face crops")
    parser.add_argument("--update-hz", type=float, help="prediction rate (default: the recorded one)")
    parser.add_argument("--quiet", action="store_true", help="only the summary line")


def replay_model(reader, explicit: str | None):
    """The card to replay with and a note on how it was chosen."""
    from pathlib import Path

    from emer_live.model_card import file_sha256, load_card
    from emer_live.pipeline.engine import default_model_path

    if explicit:
        return load_card(explicit), "given with --model"
    rec = reader.meta.get("model") or {}
    src = rec.get("source_path")
    if src and Path(src).exists() and file_sha256(Path(src)) == rec.get("card_sha256"):
        return load_card(src), "the session's own model"
    return load_card(default_model_path()), (
        "the default model" + (" (the session's model is missing or changed: predictions may differ)" if rec else ""))


def compare(recorded: list[dict], replayed: list, shift_ns: int = 0) -> dict:
    """Match windows by end time (replayed times minus shift_ns); the largest absolute
    difference over every output."""
    import numpy as np

    from emer_live.labels import CLASSES_3, EMOTIONS_7

    def vec(d: dict) -> np.ndarray:
        out = []
        for h in ("er", "fer"):
            out += [d[h]["probs7"][e] for e in EMOTIONS_7] + [d[h]["probs3"][c] for c in CLASSES_3]
            out += [d[h]["valence"], d[h]["arousal"]]
        return np.array(out + [d["fer"].get("intensity", 0.0), d["gap"]["jsd"]], dtype=float)

    rec = {d["window_end_ns"]: d for d in recorded}
    rep = {p.window_end_ns - shift_ns: p.as_dict() for p in replayed}
    both = sorted(set(rec) & set(rep))
    diff = max((float(np.abs(vec(rec[t]) - vec(rep[t])).max()) for t in both), default=None)
    return {"recorded": len(rec), "replayed": len(rep), "matched_windows": len(both), "max_abs_diff": diff}


def main(args) -> int:
    from emer_live.clock import now_ns
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.offline import run_offline
    from emer_live.recording.session_reader import SessionReader
    from emer_live.sources.replay import ReplayFrameSource, ReplayGazeSource, StoredFaceProcessor

    if not args.headless:
        from emer_live.commands.app import has_display

        if has_display():
            from emer_live.ui.app import run_app

            from emer_live.ui.player import SPEEDS

            if args.model or args.reprocess_faces or args.update_hz:
                print("emer-live replay: the window shows the session's recorded predictions; --model, "
                      "--reprocess-faces and --update-hz apply with --headless", file=sys.stderr)
            return run_app(review=args.session, review_speed=list(SPEEDS)[-1] if args.fast else None)
        print("emer-live replay: no display found, replaying headless (JSON lines)", file=sys.stderr)
    reader = SessionReader(args.session)
    card, how = replay_model(reader, args.model)
    engine = InferenceEngine(card.path)
    pipe_meta = reader.meta.get("pipeline") or {}
    update_hz = args.update_hz or pipe_meta.get("update_hz", 10.0)
    # Real time: both sources share one start, shifted by whole seconds so the windows fall on
    # the recorded update grid (same windows, later times); --fast keeps the recorded times.
    shift = 0
    if not args.fast:
        start = reader.time_range_ns()[0]
        shift = -(-(now_ns() + 200_000_000 - start) // 1_000_000_000) * 1_000_000_000
    t0 = reader.time_range_ns()[0] + shift
    frames = ReplayFrameSource(reader, realtime=not args.fast, t0_ns=t0, face_processed_only=not args.reprocess_faces)
    gaze = ReplayGazeSource(reader, realtime=not args.fast, t0_ns=t0) if len(reader.gaze()[0]) else None
    faces = None if args.reprocess_faces else StoredFaceProcessor(frames)

    def show(p):
        if not args.quiet:
            print(json.dumps(p.as_dict()), flush=True)

    result = run_offline(frames, gaze, engine, update_hz=update_hz, face_processor=faces, on_prediction=show)
    summary = {"summary": {"session": str(reader.path), "model": card.name, "model_choice": how,
                           "update_hz": update_hz, "faces": "re-detected" if args.reprocess_faces else "recorded crops",
                           "wall_s": round(result.wall_s, 3), "media_s": round(result.media_s, 3),
                           "vs_recorded": compare(reader.predictions(), result.predictions, shift),
                           "pipeline": result.pipeline.summary()}}
    print(json.dumps(summary), file=sys.stdout, flush=True)
    return 0

