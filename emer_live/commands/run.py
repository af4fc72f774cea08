"""`emer-live run --headless`: run the pipeline on chosen sources, print JSON lines.

One line per face-processed frame ({"type": "fer", ...}: the face network's per-frame FER, or
"no face"; preceded once by {"type": "fer_format", ...} saying how to read them), one line per
prediction ({"type": "prediction", ...}) and a final {"type": "summary", ...}.
Files run as fast as possible by default (deterministic), devices in real time. With no source
named and no camera present, the built-in demo input and simulated gaze run, labelled as such.
"""

from __future__ import annotations

import json
import sys
import threading
import time

DEMO_FAST_DURATION_S = 60.0  # the demo input never ends: a fast run on it stops here unless told


def add_arguments(parser) -> None:
    from emer_live.commands.arg_types import int_range, nonnegative_float, positive_float

    parser.add_argument("--headless", action="store_true", help="no window: JSON lines on stdout")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="PATH", help="a video file")
    src.add_argument("--camera", metavar="N", type=int_range(0, 1023), help="camera index")
    src.add_argument("--demo", action="store_true", help="the built-in demo input (a still portrait, animated)")
    src.add_argument("--frames", metavar="SPEC", help="any frame source: demo, camera[:N], video:PATH, replay:SESSION")
    parser.add_argument("--gaze", metavar="SPEC", default=None,
                        help="simulated[:EMOTION[=S],...] | tobii[:SERIAL_OR_ADDRESS] | tsv:PATH[#participant=ID] (a "
                             "Tobii Pro Lab or Studio export or SDK log, or a folder of them; #participant=ID or "
                             "#recording=NAME picks one recording, else all play one after another) | replay:SESSION | "
                             "none (default: simulated for the demo input, else the first Tobii tracker found, else "
                             "simulated)")
    parser.add_argument("--gaze-columns", metavar="JSON", default=None,
                        help="column mapping for a gaze file of a layout not detected (see emer-live gaze-info)")
    parser.add_argument("--model", metavar="CARD", default=None,
                        help="model card (NAME.card.json); default: the bundled model")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--fast", action="store_true", help="as fast as possible (default for files)")
    pace.add_argument("--realtime", action="store_true", help="at the input's own pace (default for devices)")
    parser.add_argument("--duration", metavar="S", type=positive_float, default=None, help="stop after S seconds of input")
    parser.add_argument("--update-hz", metavar="HZ", type=positive_float, default=10.0, help="predictions per second (default 10)")
    parser.add_argument("--min-face-frames", metavar="K", type=int_range(1, 8), default=4,
                        help="emit a window only when at least K of its 8 face frames found a face (default 4)")
    parser.add_argument("--fer-smoothing", metavar="S", type=nonnegative_float, default=None,
                        help="time constant of the per-frame FER's causal smoothing for display, seconds "
                             "(default 0.25; 0 = none)")
    parser.add_argument("--no-frame-fer", action="store_true", help="leave the per-frame FER lines out of the output")
    parser.add_argument("--max-faces", metavar="N", type=int_range(1, 64), default=1,
                        help="faces the landmark tracker looks for (default 1: one participant; more costs time "
                             "on every frame); the largest is used")
    parser.add_argument("--fer-box", choices=("auto", "template"), default="auto",
                        help="what places the FER crop. auto (default): the network's own framing, for a model whose "
                             "crop recipe is FER2013 framing (the `fer` package's face detector near the landmarks: on "
                             "every frame for input run --fast, a file's default; for live input on a new face and, on "
                             "a thread of its own, wherever the reading of its box carried by the landmarks is close), "
                             "else the landmark template. template: the landmark template alone (the cheapest, one "
                             "thread; less like the original network)")
    parser.add_argument("--cpu", action="store_true", help="run the model on the CPU even where CUDA is available")
    parser.add_argument("--out", metavar="FILE", default=None,
                        help="write the JSON lines to FILE (stdout then gets only the summary); - for stdout")
    from emer_live.pipeline.eye_geometry import add_geometry_arguments
    from emer_live.recording.run_hooks import add_recording_arguments

    add_geometry_arguments(parser)
    add_recording_arguments(parser)


def _pick_frame_spec(args) -> tuple[str, list[str]]:
    """The frame source spec, and notes for stderr about choices made for the user."""
    if args.video:
        return f"video:{args.video}", []
    if args.camera is not None:
        return f"camera:{args.camera}", []
    if args.demo:
        return "demo", []
    if args.frames:
        return args.frames, []
    from emer_live.errors import SourceError
    from emer_live.sources.camera import CameraSource

    cam = CameraSource(index=0)
    try:
        cam.open()
    except SourceError:
        return "demo", ["no camera found: running on the built-in demo input (a still portrait) with simulated gaze"]
    finally:
        cam.close()
    return "camera:0", []


def _pick_gaze_spec(args, frame_spec: str) -> tuple[str, list[str]]:
    if args.gaze:
        return args.gaze, []
    if frame_spec == "demo":
        return "simulated", []
    from emer_live.sources.tobii import find_trackers

    try:
        found = find_trackers()
    except Exception:  # no SDK on this Python, or its library fails to load
        found = []
    if found:
        return "tobii", []
    return "simulated", ["no eye tracker found: using simulated gaze (labelled as such in every output)"]


def main(args) -> int:
    from emer_live.errors import EmerError
    from emer_live.features.face_box import AUTO_FER_BOX, resolve_fer_box
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.sources.factory import make_frame_source, make_gaze_source

    if not args.headless:
        print("emer-live run: add --headless for JSON output; the live window is `emer-live app`", file=sys.stderr)
        return 2
    if args.update_hz <= 0 or (args.duration is not None and args.duration <= 0) or not 1 <= args.min_face_frames <= 8:
        print("emer-live run: --update-hz and --duration must be positive, --min-face-frames 1 to 8", file=sys.stderr)
        return 2
    if (args.fer_smoothing is not None and args.fer_smoothing < 0) or args.max_faces < 1:
        print("emer-live run: --fer-smoothing must be >= 0, --max-faces at least 1", file=sys.stderr)
        return 2

    engine = InferenceEngine(args.model, prefer_gpu=not args.cpu)
    refusal = fer_box_refusal(args.fer_box, engine) if args.fer_box != AUTO_FER_BOX else ""
    if refusal:
        print(f"emer-live run: {refusal}", file=sys.stderr)
        return 2
    frame_spec, notes = _pick_frame_spec(args)
    gaze_spec, more = _pick_gaze_spec(args, frame_spec)
    for line in notes + more:
        print(f"emer-live: {line}", file=sys.stderr)

    device = frame_spec.startswith("camera") or gaze_spec.startswith("tobii")
    if device and args.fast:
        print("emer-live: a live device runs in real time; --fast ignored", file=sys.stderr)
    # The demo input stands in for a camera, so it runs live unless --fast is asked for.
    realtime = device or args.realtime or (frame_spec == "demo" and not args.fast)
    if args.fer_box == AUTO_FER_BOX:
        args.fer_box = resolve_fer_box(args.fer_box, offline=not realtime, recipe=engine.card.crop_recipe)
        if args.fer_box == "detector":
            print("emer-live: FER crop placed by the face detector, as the original network's (input run as fast "
                  "as possible; --fer-box template for the landmark template)", file=sys.stderr)
    frame_source = make_frame_source(frame_spec, realtime)
    gaze_source = make_gaze_source(gaze_spec, realtime, columns=args.gaze_columns)
    duration = args.duration
    if not realtime and frame_source.kind == "demo" and duration is None:
        duration = DEMO_FAST_DURATION_S
        print(f"emer-live: demo input runs {duration:g} s of input (set --duration to change)", file=sys.stderr)

    try:
        out = open(args.out, "w", encoding="utf-8") if args.out and args.out != "-" else sys.stdout
    except OSError as e:
        raise EmerError(f"cannot write the output file {args.out}: {e.strerror}") from None
    flags = {"demo_input": bool(frame_source.simulated),
             "simulated_gaze": bool(gaze_source is not None and gaze_source.simulated)}
    from emer_live.commands.stop_signals import received_signal
    from emer_live.recording.run_hooks import make_recorder

    # A failed recording is said at once (from the writer thread), not when the run ends; headless
    # runs stop with it unless --no-stop-on-record-error.
    stop_on_error = args.stop_on_record_error if args.stop_on_record_error is not None else True
    record_failed = threading.Event()

    def on_record_error(err) -> None:
        print(f"emer-live: {err}", file=sys.stderr, flush=True)
        if stop_on_error:
            print("emer-live: stopping the run (--no-stop-on-record-error would keep it running unrecorded)",
                  file=sys.stderr, flush=True)
        record_failed.set()

    # Session recorder and LSL outlets (--record, --lsl) are sinks fed from the pipeline's workers.
    hooks = make_recorder(args, engine.card, (frame_source, gaze_source), update_hz=args.update_hz,
                          on_error=on_record_error)
    should_stop = (lambda: record_failed.is_set()) if stop_on_error else (lambda: False)
    writer = _Lines(out)
    sinks = list(hooks.sinks)
    if not args.no_frame_fer:
        sinks.append(_FerLines(writer))
    failed_start, stop_reason = True, "error"
    try:
        run = _run_live if realtime else _run_fast
        summary = run(args, engine, frame_source, gaze_source, sinks, duration, flags, writer, should_stop)
        failed_start = bool(summary["stream_errors"].get("frames"))
        stop_reason = summary.get("stopped_by") or "end_of_input"
    except KeyboardInterrupt:
        stop_reason = "interrupted"
        raise
    except BrokenPipeError:
        stop_reason = "output_closed"
        raise
    finally:
        if received_signal():
            stop_reason = f"signal {received_signal()}"
        recorded = hooks.close(failed_start=failed_start, stop_reason=stop_reason)
        if recorded.get("recording", {}).get("removed"):
            print(f"emer-live: no session kept: the run failed before anything was recorded "
                  f"(removed {recorded['recording']['removed']})", file=sys.stderr)
        if out is not sys.stdout:
            out.flush()
    summary.update(recorded)
    for e in summary.get("events", []):  # e.g. a video that ends early (truncated): said, not only listed
        if e.get("kind") == "warning":
            print(f"emer-live: warning: {e['source']}: {e['message']}", file=sys.stderr)
    if received_signal():
        summary["stopped_by"] = f"signal {received_signal()}"
    line = json.dumps(summary)
    print(line, file=out, flush=True)
    if out is not sys.stdout:
        out.close()
        print(line, flush=True)
    from emer_live.pipeline.report import no_prediction_note

    if no_prediction_note(summary):  # e.g. trial files where every window spans a break between trials
        print(f"emer-live: {no_prediction_note(summary, (summary.get('gaze_source') or {}).get('trials'))}",
              file=sys.stderr)
    if hooks.session is not None and hooks.session.error:
        return 2
    if summary["stream_errors"].get("frames"):
        print(f"emer-live: frame source failed: {summary['stream_errors']['frames']}", file=sys.stderr)
        return 2
    return 0


def fer_box_refusal(fer_box: str, engine) -> str:
    """Why this model's crops cannot be placed by `fer_box` ("" when they can)."""
    from emer_live.features.face_box import check_fer_box

    try:
        check_fer_box(fer_box, engine.card.crop_recipe, f"model {engine.card.name!r}")
    except ValueError as e:
        return str(e).replace("fer_box 'detector'", "--fer-box detector").replace("fer_box 'template'", "--fer-box template")
    return ""


class _Lines:
    """JSON lines to one stream from several threads (per-frame FER comes from the face thread)."""

    def __init__(self, out):
        self.out, self._lock = out, threading.Lock()
        self.t0_ns = 0

    def write(self, record: dict, flush: bool = True) -> None:
        line = json.dumps(record, separators=(",", ":")) if record.get("type") == "fer" else json.dumps(record)
        with self._lock:
            self.out.write(line + "\n")
            if flush:
                self.out.flush()


class _FerLines:
    """Sink: one compact line per face-processed frame, after one fer_format line."""

    def __init__(self, writer: _Lines):
        self.writer, self.started = writer, False
        self.smoothing_s, self.source, self.crop_box = None, "", "template"

    def on_frame_fer(self, fer) -> None:
        from emer_live.pipeline.frame_fer import fer_format_record

        if not self.started:
            self.started = True
            self.writer.write(fer_format_record(self.smoothing_s, self.source, self.crop_box), flush=False)
        # Flushed with the next prediction (or at the end): a flush per frame costs a system call.
        self.writer.write(fer.record(self.writer.t0_ns), flush=False)


def _pipeline(args, engine, gaze_source, sinks, live: bool):
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.eye_geometry import eye_params_from_args
    from emer_live.pipeline.frame_fer import smoothing_from_args

    smoothing = smoothing_from_args(args)
    pipe = Pipeline(engine, args.update_hz, use_eye=gaze_source is not None, min_face_frames=args.min_face_frames,
                    fer_smoothing_s=smoothing, max_faces=args.max_faces, eye_params=eye_params_from_args(args),
                    fer_box=args.fer_box, track_landmarks=live)
    for s in sinks:
        if isinstance(s, _FerLines) and pipe.fer_reader is not None:
            s.smoothing_s, s.source, s.crop_box = smoothing, pipe.fer_reader.source, args.fer_box
        elif isinstance(s, _FerLines):
            s.started = True  # this model has no per-frame FER: no lines (the summary says why)
    return pipe


def _emit(out, p, t0_ns, flags) -> None:
    from emer_live.pipeline.report import prediction_record

    out.write(prediction_record(p, t0_ns, flags))


def _run_fast(args, engine, frame_source, gaze_source, sinks, duration, flags, out, should_stop) -> dict:
    from emer_live.pipeline.offline import run_offline
    from emer_live.pipeline.report import run_summary

    pipe = _pipeline(args, engine, gaze_source, sinks, live=False)
    try:
        res = run_offline(frame_source, gaze_source, engine, sinks, args.update_hz, duration_s=duration, pipeline=pipe,
                          on_prediction=lambda p: _emit(out, p, 0, flags), should_stop=should_stop)
    finally:
        pipe.close()
    return run_summary(pipeline=pipe, engine=engine, frame_source=frame_source, gaze_source=gaze_source, mode="fast",
                       stopped_by=res.stopped_by, wall_s=res.wall_s, input_s=res.media_s, events=res.events,
                       stream_errors=res.stream_errors, sink_errors=res.sinks.report(),
                       runner_drops={"inputs_after_end": res.unused_after_end})


def _run_live(args, engine, frame_source, gaze_source, sinks, duration, flags, out, should_stop) -> dict:
    from emer_live.pipeline.live import LiveRunner
    from emer_live.pipeline.report import run_summary

    pipe = _pipeline(args, engine, gaze_source, sinks, live=True)
    runner = LiveRunner(frame_source, gaze_source, engine, sinks, args.update_hz, pipeline=pipe)
    from emer_live.clock import now_ns

    out.t0_ns = now_ns()  # before the threads start: per-frame FER and predictions share this origin
    runner.start()
    t_start = time.monotonic()
    seq, stopped_by = 0, "end_of_stream"
    try:
        while True:
            time.sleep(0.05)
            for p in runner.predictions_since(seq):
                _emit(out, p, out.t0_ns, flags)
                seq = p.seq
            if duration is not None and time.monotonic() - t_start >= duration:
                stopped_by = "duration"
                break
            if runner.finished:
                break
            if should_stop():
                stopped_by = "recording_error"
                break
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    finally:
        runner.stop()
        pipe.close()
    for p in runner.predictions_since(seq):
        _emit(out, p, out.t0_ns, flags)
    wall = time.monotonic() - t_start
    snap = runner.snapshot()
    return run_summary(pipeline=pipe, engine=engine, frame_source=frame_source, gaze_source=gaze_source, mode="realtime",
                       stopped_by=stopped_by, wall_s=wall, input_s=wall, events=snap.events,
                       stream_errors=dict(runner.stream_errors), sink_errors=runner.sinks.report(),
                       runner_drops=dict(runner.drops), worker_errors=dict(runner.worker_errors))
