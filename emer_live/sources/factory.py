"""Sources from short text specs, as the command line and the app name them.

Frames: "demo" | "camera[:N]" | "video:PATH" | "replay:SESSION" | PATH (a video file).
Gaze:   "simulated[:EMOTION[=SECONDS],...]" | "tobii[:SERIAL_OR_ADDRESS]" | "tsv:PATH[#participant=ID|#recording=NAME]"
        (a Tobii Pro Lab / Studio export or SDK log, or a folder of them; its recordings play one
        after another, separated by stream breaks) | "replay:SESSION" | "none" (returns None).

realtime=None takes each kind's natural pace: devices are always real time, files and the
simulators default to as fast as possible. Offline sources all start at host time t0_ns, so two of
them line up and a run is deterministic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from emer_live.errors import SourceError
from emer_live.labels import EMOTIONS_7

SIMULATED_STEP_S = 10.0  # seconds per emotion when a simulated script names none

FRAME_SPECS = '"demo", "camera[:N]", "video:PATH", "replay:SESSION" or a video file path'
GAZE_SPECS = ('"simulated[:EMOTION[=SECONDS],...]", "tobii[:SERIAL_OR_ADDRESS]", "tsv:PATH[#participant=ID]", '
              '"replay:SESSION" or "none"')


def _split(spec: str) -> tuple[str, str]:
    kind, _, arg = spec.partition(":")
    return kind.strip().lower(), arg.strip()


def _existing(path: str, what: str, spec: str) -> Path:
    if not path:
        raise SourceError(f"{what} spec {spec!r} names no file")
    p = Path(path).expanduser()
    if not p.exists():
        raise SourceError(f"{what}: {p} does not exist")
    return p


def make_frame_source(spec: str, realtime: Optional[bool] = None, t0_ns: int = 0):
    kind, arg = _split(spec)
    if kind == "demo" and not arg:
        from emer_live.sources.demo import DemoFrameSource

        return DemoFrameSource(realtime=bool(realtime), t0_ns=t0_ns)
    if kind == "camera":
        from emer_live.sources.camera import CameraSource

        try:
            index = int(arg) if arg else 0
        except ValueError:
            raise SourceError(f"camera spec {spec!r}: the camera index must be a number, e.g. camera:0") from None
        return CameraSource(index=index)
    if kind == "replay":
        from emer_live.sources.replay import ReplayFrameSource

        return ReplayFrameSource(_existing(arg, "replay", spec), realtime=bool(realtime))
    path = arg if kind == "video" else spec
    if kind != "video" and not Path(spec).expanduser().exists():
        raise SourceError(f"unknown frame source {spec!r}: use {FRAME_SPECS}")
    from emer_live.sources.video_file import VideoFileSource

    return VideoFileSource(_existing(path, "video", spec), realtime=bool(realtime), t0_ns=t0_ns)


def parse_simulated_script(arg: str) -> Optional[list[tuple[str, float]]]:
    """"happiness=5,sadness" -> [("happiness", 5.0), ("sadness", 10.0)]; "" -> None (default script)."""
    if not arg:
        return None
    script = []
    for part in arg.split(","):
        name, _, secs = part.strip().partition("=")
        name = name.strip().lower()
        if name not in EMOTIONS_7:
            raise SourceError(f"simulated gaze: unknown emotion {name!r}; use one of {', '.join(EMOTIONS_7)}")
        try:
            seconds = float(secs) if secs else SIMULATED_STEP_S
        except ValueError:
            raise SourceError(f"simulated gaze: {part!r} needs seconds as a number, e.g. {name}=10") from None
        if not seconds > 0:
            raise SourceError(f"simulated gaze: {part!r}: seconds must be positive")
        script.append((name, seconds))
    return script


def make_gaze_source(spec: str, realtime: Optional[bool] = None, t0_ns: int = 0, columns=None):
    """columns: for "tsv:" files, a --gaze-columns mapping (file path or dict); None detects the layout."""
    kind, arg = _split(spec)
    if kind == "none" and not arg:
        return None
    if kind == "simulated":
        from emer_live.sources.simulated_gaze import SimulatedGazeSource

        return SimulatedGazeSource(script=parse_simulated_script(arg), realtime=bool(realtime), t0_ns=t0_ns)
    if kind == "tobii":
        from emer_live.sources.tobii import TobiiGazeSource

        return TobiiGazeSource(target=arg or None)
    if kind == "tsv":
        from emer_live.sources.tobii_tsv import TobiiTsvSource

        from emer_live.sources.tobii_tsv import gaze_files, split_selector

        file_part, _ = split_selector(arg)
        gaze_files(_existing(file_part, "gaze file", spec))  # a folder without gaze files fails here
        return TobiiTsvSource(arg, realtime=bool(realtime), t0_ns=t0_ns, columns=columns)
    if kind == "replay":
        from emer_live.sources.replay import ReplayGazeSource

        return ReplayGazeSource(_existing(arg, "replay", spec), realtime=bool(realtime))
    raise SourceError(f"unknown gaze source {spec!r}: use {GAZE_SPECS}")
