"""One interface for every source. A source is opened, iterated, closed.

Frame sources yield `Frame`s, gaze sources yield `GazeSample`s; either may also yield
`SourceEvent`s (connection lost, end of stream, ...). Every item is stamped on the host clock.

`realtime` sources block until data arrives (camera, tracker, paced file playback). Offline
sources (`realtime=False`) yield as fast as the consumer reads, with host times derived from
the media timeline, so an offline run is deterministic whatever the machine's speed.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Union

from emer_live.clock import now_ns
from emer_live.types import Frame, GazeSample, SourceEvent


def sleep_until(host_ns: int) -> None:
    """Block until the host clock reaches host_ns: real-time playback of a recorded timeline."""
    wait = host_ns - now_ns()
    if wait > 0:
        time.sleep(wait / 1e9)


def frame_host_ns(base_ns: int, media_ns: int, realtime: bool) -> int:
    """Host time of a played-back frame: offline, its place on the media timeline; in real time,
    the clock read once the frame is due, as a camera stamps a frame when it is captured."""
    if not realtime:
        return base_ns + media_ns
    sleep_until(base_ns + media_ns)
    return now_ns()


@dataclass
class SourceStats:
    delivered: int = 0  # items handed to the consumer
    dropped: int = 0  # items known lost (gaps in device counters/timestamps, queue overflow)
    gaps: int = 0  # number of gap events in device timestamps
    invalid: int = 0  # items rejected as malformed (NaN where impossible, time going backwards)
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"delivered": self.delivered, "dropped": self.dropped, "gaps": self.gaps,
                "invalid": self.invalid, **self.extra}


class Source(ABC):
    kind: str = "source"  # "camera", "video", "demo", "tobii", "tsv", "simulated", "replay"
    realtime: bool = True
    simulated: bool = False  # simulated or demo input: always labelled as such to the user

    def __init__(self) -> None:
        self.stats = SourceStats()

    @property
    def label(self) -> str:
        """Short human description shown in the status bar and the JSON summary."""
        return self.kind

    def info(self) -> dict:
        """Facts about the opened source (resolution, rates requested vs real, serial...)."""
        return {"kind": self.kind, "label": self.label, "simulated": self.simulated, "realtime": self.realtime}

    @abstractmethod
    def open(self) -> None:
        """Acquire the device or file. Raises emer_live.errors.SourceError with a clear message."""

    @abstractmethod
    def close(self) -> None:
        """Release everything; safe to call twice, and from another thread to stop iteration."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


class FrameSource(Source):
    @abstractmethod
    def frames(self) -> Iterator[Union[Frame, SourceEvent]]:
        """Frames in time order; ends at end of stream (after an 'end_of_stream' event)."""


class GazeSource(Source):
    @abstractmethod
    def samples(self) -> Iterator[Union[GazeSample, SourceEvent]]:
        """Gaze samples in time order; ends at end of stream."""
