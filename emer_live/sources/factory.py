"""Sources from short text specs, as the command line and the app name them.

Frames: "demo" | "camera[:N]" | "video:PATH" | "replay:SESSION" | PATH (a video file).
Gaze:   "simulated[:EMOTION[=SECONDS],...]" | "tobii[:SERIAL_OR_ADDRESS]" | "tsv:PATH" (a file, or a
        folder whose .tsv files play back to back) | "replay:SESSION" | "none" (returns None).

realtime=None takes each kind's natural pace: devices are always real time, files and the
simulators default to as fast as possible. Offline sources all start at host time t0_ns, so two of
them line up and a run is deterministic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Union

from emer_live.errors import SourceError
from emer_live.labels import EMOTIONS_7
from emer_live.sources.base import GazeSource
from emer_live.types import GazeSample, SourceEvent

SIMULATED_STEP_S = 10.0  # seconds per emotion when a simulated script names none

FRAME_SPECS = '"demo", "camera[:N]", "video:PATH", "replay:SESSION" or a video file path'
GAZE_SPECS = '"simulated[:EMOTION[=SECONDS],...]", "tobii[:SERIAL_OR_ADDRESS]", "tsv:PATH", "replay:SESSION" or "none"'


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


def make_gaze_source(spec: str, realtime: Optional[bool] = None, t0_ns: int = 0):
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

        path = _existing(arg, "gaze file", spec)
        if path.is_dir():
            files = sorted(path.rglob("*.tsv"))
            if not files:
                raise SourceError(f"gaze folder {path} holds no .tsv files")
            parts = [TobiiTsvSource(f, realtime=bool(realtime)) for f in files]
            return ChainedGazeSource(parts, f"{len(files)} gaze files in {path.name}", t0_ns)
        return TobiiTsvSource(path, realtime=bool(realtime), t0_ns=t0_ns)
    if kind == "replay":
        from emer_live.sources.replay import ReplayGazeSource

        return ReplayGazeSource(_existing(arg, "replay", spec), realtime=bool(realtime))
    raise SourceError(f"unknown gaze source {spec!r}: use {GAZE_SPECS}")


class ChainedGazeSource(GazeSource):
    """Several recorded gaze files as one stream, each starting one sample period after the
    previous one ends (recorded trials are often shorter than a model window)."""

    kind = "tsv"

    def __init__(self, parts: list, label: str, t0_ns: int = 0):
        super().__init__()
        self.parts, self._label, self.t0_ns = parts, label, t0_ns
        self.realtime = parts[0].realtime
        self._closed = False

    @property
    def label(self) -> str:
        return self._label

    def info(self) -> dict:
        return {**super().info(), "files": [p.info() for p in self.parts]}

    def open(self) -> None:
        for p in self.parts:
            p.open()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        for p in self.parts:
            p.close()

    def _sum_stats(self) -> None:
        for k in ("delivered", "dropped", "gaps", "invalid"):
            setattr(self.stats, k, sum(getattr(p.stats, k) for p in self.parts))

    def samples(self) -> Iterator[Union[GazeSample, SourceEvent]]:
        t0 = self.t0_ns
        for i, part in enumerate(self.parts):
            if self._closed:
                break
            part.t0_ns = t0
            last = None
            for item in part.samples():
                if isinstance(item, SourceEvent) and item.kind == "end_of_stream" and i < len(self.parts) - 1:
                    continue
                if isinstance(item, GazeSample):
                    last = item.host_ns
                yield item
                self._sum_stats()
            if last is not None:
                period = int(1e9 / part.rec.nominal_hz) if part.rec is not None and part.rec.nominal_hz else 1_000_000
                t0 = last + period
        self._sum_stats()
