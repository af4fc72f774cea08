"""`emer-live replay SESSION`: a recorded session again.

With a display it opens the window in review mode: the session's frames, gaze and recorded
predictions in step with a timeline (play / pause / seek / speed; --fast starts at the highest
speed). --headless feeds the session back through the pipeline instead: --fast as fast as the
machine goes, otherwise at the recorded pace; it prints the per-frame FER lines (as `emer-live
run` does; the recorded ones where the session has frame_fer.csv), one JSON line per prediction
and a summary comparing them with the predictions recorded live (same windows, largest
difference).
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
    parser.add_argument("--fer-box", choices=("auto", "template"), default=None,
                        help="with --reprocess-faces: what places the FER crop (see emer-live run --fer-box; default: "
                             "what the session was recorded with)")
    parser.add_argument("--update-hz", type=positive_float, help="prediction rate (default: the recorded one)")
    parser.add_argument("--without-eyes", action="store_true",
                        help="replay even though the session's gaze.csv is missing or empty (face only: the "
                             "predictions will differ from the recorded ones, and the summary says so)")
    parser.add_argument("--quiet", action="store_true", help="only the summary line")


def positive_float(text: str) -> float:
    from emer_live.commands.arg_types import positive_float as checked

    return checked(text)


def warn(lines) -> None:
    for line in lines:
        print(f"emer-live: warning: {line}", file=sys.stderr, flush=True)


def check_inputs(reader, reprocess_faces: bool, without_eyes: bool) -> list[str]:
    """Refuse a replay whose recorded inputs are missing (a clear error, not wrong reasons or
    quietly different results); returns the inputs knowingly left out (--without-eyes)."""
    from emer_live.errors import RecordingError
    from emer_live.recording import layout as L

    frames = reader.frames()
    if not len(frames["host_ns"]):
        raise RecordingError(f"{reader.path} holds no readable video frames ({L.FRAMES_CSV} or video/ missing or empty)")
    found = sum(s == "ok" for s in frames["face_status"])
    if not reprocess_faces and found and not (reader.path / L.FACE_CROPS_DIR).is_dir():
        raise RecordingError(f"{L.FACE_CROPS_DIR}/ is missing from {reader.path}: the faces the model saw cannot be "
                             "replayed; --reprocess-faces detects them again in the video (close, not identical)")
    pipe = reader.meta.get("pipeline") or {}
    if not len(reader.gaze()[0]) and pipe.get("use_eye", True):
        bad = reader.skipped.get(L.GAZE_CSV, 0)
        state = (f"unreadable (none of its rows parse: {bad} skipped)" if bad else
                 "empty" if (reader.path / L.GAZE_CSV).exists() else "missing")
        what = f"{L.GAZE_CSV} is {state}"
        if not without_eyes:
            raise RecordingError(f"{what} in {reader.path}, but the session was recorded with gaze: replaying "
                                 "without eyes would give different results; --without-eyes does it anyway, marked")
        warn([f"{what}: replaying WITHOUT EYES, results will differ from the recorded predictions"])
        return [L.GAZE_CSV]
    return []


def replay_model(reader, explicit: str | None):
    """The card to replay with and a note on how it was chosen."""
    from pathlib import Path

    from emer_live.model_card import file_sha256, load_card
    from emer_live.pipeline.engine import default_model_path

    if explicit:
        return load_card(explicit), "given with --model"
    rec = reader.meta.get("model") or {}
    src = rec.get("source_path")
    if _plausible_card(src) and file_sha256(Path(src)) == rec.get("card_sha256"):
        return load_card(src), "the session's own model"
    return load_card(default_model_path()), (
        "the default model" + (" (the session's model is missing or changed: predictions may differ)" if rec else ""))


def _plausible_card(src) -> bool:
    """The session names the card it ran with; it is followed only to a plain model card file of
    card size (never to a FIFO, a device or /dev/zero, which would block or never end a hash)."""
    import os
    import stat

    if not isinstance(src, str) or not src.endswith(".card.json"):
        return False
    try:
        st = os.stat(src)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size <= 1 << 20


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

    rec = {}
    for d in recorded:
        try:
            rec[d["window_end_ns"]] = (d, vec(d))
        except (KeyError, TypeError, ValueError):
            continue  # a recorded line without the fields (counted by the reader's warnings)
    rep = {p.window_end_ns - shift_ns: p.as_dict() for p in replayed}
    both = sorted(set(rec) & set(rep))
    diff = max((float(np.abs(rec[t][1] - vec(rep[t])).max()) for t in both), default=None)
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

            from emer_live.window_model.player import SPEEDS

            if args.model or args.reprocess_faces or args.update_hz or args.fer_box:
                print("emer-live replay: the window shows the session's recorded predictions; --model, "
                      "--reprocess-faces, --fer-box and --update-hz apply with --headless", file=sys.stderr)
            return run_app(review=args.session, review_speed=list(SPEEDS)[-1] if args.fast else None)
        print("emer-live replay: no display found, replaying headless (JSON lines)", file=sys.stderr)
    if args.fer_box and not args.reprocess_faces:
        print("emer-live replay: --fer-box places the crops of re-detected faces: add --reprocess-faces (without it "
              "the recorded crops are replayed)", file=sys.stderr)
        return 2
    from emer_live.errors import RecordingError

    reader = SessionReader(args.session)
    try:
        missing = check_inputs(reader, args.reprocess_faces, args.without_eyes)
    except RecordingError:
        warn(reader.warnings())  # the damage behind the refusal (a link, a FIFO, malformed rows)
        raise
    card, how = replay_model(reader, args.model)
    engine = InferenceEngine(card.path)
    pipe_meta = reader.meta.get("pipeline") or {}
    from emer_live.features.face_box import resolve_fer_box

    # "auto": the network's own framing, as a file run gets it (live: as live input does)
    fer_box = resolve_fer_box(args.fer_box or pipe_meta.get("fer_box") or "template", offline=args.fast,
                              recipe=engine.card.crop_recipe)
    if args.reprocess_faces:
        from emer_live.commands.run import fer_box_refusal

        refusal = fer_box_refusal(fer_box, engine)
        if refusal:
            print(f"emer-live replay: {refusal}" + ("" if args.fer_box else " (the session was recorded with it)"),
                  file=sys.stderr)
            return 2
    update_hz = args.update_hz or pipe_meta.get("update_hz", 10.0)
    if not isinstance(update_hz, (int, float)) or not update_hz > 0:
        from emer_live.errors import RecordingError

        raise RecordingError(f"session.json gives update_hz {update_hz!r}; give a positive --update-hz")
    # Real time: both sources share one start, shifted by whole seconds so the windows fall on
    # the recorded update grid (same windows, later times); --fast keeps the recorded times.
    shift = 0
    if not args.fast:
        start = reader.time_range_ns()[0]
        shift = -(-(now_ns() + 200_000_000 - start) // 1_000_000_000) * 1_000_000_000
    t0 = reader.time_range_ns()[0] + shift
    frames = ReplayFrameSource(reader, realtime=not args.fast, t0_ns=t0, face_processed_only=not args.reprocess_faces)
    gaze = ReplayGazeSource(reader, realtime=not args.fast, t0_ns=t0) if not missing else None
    faces = None if args.reprocess_faces else StoredFaceProcessor(frames)

    def show(p):
        if not args.quiet:
            print(json.dumps({"type": "prediction", **p.as_dict()}), flush=True)

    class FerLines:
        started = False

        def on_frame_fer(self, fer):
            from emer_live.pipeline.frame_fer import fer_format_record

            if args.quiet:
                return
            if not self.started:
                self.started = True
                print(json.dumps(fer_format_record(pipe.fer_smoothing_s, (reader.meta.get("frame_fer") or {}).get("source") or "",
                                                   fer_box)))
            print(json.dumps(fer.record(t0), separators=(",", ":")))

    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.eye_geometry import eye_params_from_meta
    from emer_live.pipeline.frame_fer import recorded_smoothing_s

    # The recorded display geometry, so gaze without 3D vectors is classified as it was live.
    pipe = Pipeline(engine, update_hz, faces, use_eye=gaze is not None, eye_params=eye_params_from_meta(pipe_meta),
                    fer_smoothing_s=recorded_smoothing_s(reader.meta), fer_box=fer_box, track_landmarks=not args.fast)
    try:
        result = run_offline(frames, gaze, engine, [FerLines()], update_hz=update_hz, pipeline=pipe, on_prediction=show)
    finally:
        pipe.close()
    recorded = reader.predictions()
    pipeline = result.pipeline.summary()
    if faces is not None:  # as the live run counted it (see StoredFaceProcessor.face_found_pct)
        pipeline["face_found_pct"] = faces.face_found_pct()
    unreadable = frames.stats.invalid
    if unreadable:
        warn([f"{unreadable} of {unreadable + frames.stats.delivered} video frames could not be decoded (damaged "
              "JPEG data): windows that needed them are missing or counted under other reasons"])
    warn(reader.ending_warnings() + reader.warnings())
    damaged = faces.damaged_note() if faces is not None else ""
    if damaged:
        warn([damaged])
    summary = {"summary": {"session": str(reader.path), "recorded_end": reader.how_it_ended(),
                           "model": card.name, "model_choice": how,
                           "update_hz": update_hz, "faces": "re-detected" if args.reprocess_faces else "recorded crops",
                           "wall_s": round(result.wall_s, 3), "media_s": round(result.media_s, 3),
                           "stopped_by": result.stopped_by, "missing_inputs": missing,
                           "unreadable_frames": unreadable, "skipped_rows": dict(reader.skipped),
                           "damaged_face_crops": reader.crops_damaged,
                           "vs_recorded": compare(recorded, result.predictions, shift),
                           "pipeline": pipeline}}
    print(json.dumps(summary), file=sys.stdout, flush=True)
    if damaged and faces.all_damaged():
        print(f"emer-live: {damaged}: the faces cannot be replayed (--reprocess-faces detects them again "
              "in the video)", file=sys.stderr)
        return 2
    if frames.stats.delivered == 0:
        print(f"emer-live: none of the {unreadable} recorded video frames could be decoded: nothing to replay",
              file=sys.stderr)
        return 2
    return 0

