"""Recording options of `emer-live run` (and the app): --record DIR --participant P --consent,
plus optional LSL outlets. The run command adds the arguments and passes `hooks.sinks` to the
pipeline; `hooks.close()` at the end syncs and closes the session."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Callable, Optional

from emer_live.errors import RecordingError
from emer_live.pipeline.eye_geometry import eye_params_from_args, geometry_dict
from emer_live.pipeline.frame_fer import smoothing_from_args
from emer_live.recording.lsl_outlets import LslOutlets
from emer_live.recording.markers import MarkerConfig
from emer_live.recording.session import RecordingSession, new_session_folder


def add_recording_arguments(parser) -> None:
    g = parser.add_argument_group("recording")
    g.add_argument("--record", metavar="DIR", help="record the session into a new folder under DIR")
    g.add_argument("--participant", metavar="PSEUDONYM", help="participant pseudonym (never a real name); needed with --record")
    g.add_argument("--consent", action="store_true", help="confirm the participant's informed consent; needed with --record")
    g.add_argument("--markers", metavar="FILE",
                   help='a JSON file naming the marker labels and their hotkeys for the window, holding e.g. '
                        '{"labels": ["start_trigger"], "hotkeys": {"F1": "start_trigger"}}; markers with times '
                        'for a headless recording: emer-live labels markers SESSION FILE')
    g.add_argument("--notes", default="", help="free text stored in the session metadata")
    g.add_argument("--lsl", action="store_true", help="publish predictions, gap metrics and markers as Lab Streaming Layer streams")
    g.add_argument("--lsl-markers", nargs="?", const="", default=None, metavar="STREAM",
                   help="record the markers experiment software sends over LSL (PsychoPy, Psychtoolbox, "
                        "Presentation) into the session: the stream named STREAM, or the first of type Markers")
    g.add_argument("--stop-on-record-error", action=argparse.BooleanOptionalAction, default=None,
                   help="stop the whole run when recording fails, e.g. on a full disk (default: on for headless "
                        "runs: better stopped than an hour run unrecorded)")


@dataclass
class RecordingHooks:
    session: Optional[RecordingSession] = None
    lsl: Optional[LslOutlets] = None
    sinks: list = field(default_factory=list)
    marker_inlet: Optional[object] = None  # lsl_markers.LslMarkerInlet with --lsl-markers

    def close(self, failed_start: bool = False, stop_reason: str = "stopped") -> dict:
        """Close the session and the outlets, noting why the run stopped in session.json. With
        failed_start (the sources failed), a session that recorded no frame and no gaze sample is
        removed rather than left as an empty folder."""
        out = {}
        if self.lsl is not None:
            self.lsl.close()
        if self.marker_inlet is not None:
            out["lsl_markers"] = {"stream": self.marker_inlet.stream_name, "received": self.marker_inlet.close()}
        if self.session is not None:
            if failed_start and self.session.discard():
                return {"recording": {"folder": None, "removed": str(self.session.folder),
                                      "why": "the run failed before anything was recorded"}}
            stats = self.session.close(stop_reason=stop_reason)
            out["recording"] = {"folder": str(self.session.folder), **stats}
        return out


def make_recorder(args, card, sources, update_hz: float = 10.0,
                  on_error: Optional[Callable[[RecordingError], None]] = None) -> RecordingHooks:
    """From parsed args, the model card in use and (frame_source, gaze_source): the session
    (or None without --record), LSL outlets (or None without --lsl) and the sinks to pass on.
    on_error is told, from the writer thread, the moment recording stops on a write error."""
    frame_source, gaze_source = sources
    hooks = RecordingHooks()
    if getattr(args, "lsl", False):
        hooks.lsl = LslOutlets(model_name=card.name if card else "")
        hooks.sinks.append(hooks.lsl)
    if getattr(args, "record", None):
        if not args.participant:
            raise RecordingError("--record needs --participant PSEUDONYM")
        if not args.consent:
            raise RecordingError("--record needs --consent: confirm the participant's informed consent")
        devices = {"frame_source": frame_source.info() if frame_source else None,
                   "gaze_source": gaze_source.info() if gaze_source else None}
        offline = frame_source is not None and not frame_source.realtime
        inlet = None
        if getattr(args, "lsl_markers", None) is not None:  # before the session: a failure leaves no folder
            if offline:
                raise RecordingError("--lsl-markers needs a live run (camera, tracker or --realtime): a run as fast "
                                     "as possible has the files' own timeline, which markers sent now cannot be "
                                     "placed on; add them afterwards with emer-live labels markers")
            from emer_live.recording.lsl_markers import LslMarkerInlet

            inlet = LslMarkerInlet(name=args.lsl_markers or None)
        hooks.session = RecordingSession(
            new_session_folder(args.record, args.participant), args.participant, consent=True, devices=devices,
            model_card=card, marker_config=MarkerConfig.load(args.markers) if args.markers else None,
            notes=args.notes, pipeline={"update_hz": update_hz, "use_eye": gaze_source is not None,
                                        "fer_smoothing_s": smoothing_from_args(args),
                                        "fer_box": getattr(args, "fer_box", None) or "template",
                                        "eye_geometry": geometry_dict(eye_params_from_args(args))},
            block_when_full=offline, on_error=on_error)
        hooks.session.watch_sources(frame_source, gaze_source)
        if hooks.lsl is not None:
            hooks.session.marker_listeners.append(hooks.lsl.push_marker)
        hooks.sinks.append(hooks.session.sink)
        if inlet is not None:
            hooks.marker_inlet = inlet.start(hooks.session)
    elif getattr(args, "lsl_markers", None) is not None:
        raise RecordingError("--lsl-markers records into a session: it needs --record")
    return hooks
