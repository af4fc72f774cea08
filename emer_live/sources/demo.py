"""The built-in demo input: a public-domain portrait, gently animated, as a frame source.

Used when no camera or video is named (and none is present), so the whole pipeline runs out of
the box. It is a still photo moved by a slow head sway, a small zoom and a little sensor noise,
enough for a face tracker to follow; it is always labelled "demo input (still photo, public
domain)" and flagged simulated.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Iterator, Optional, Union

import cv2
import numpy as np

from emer_live.clock import now_ns
from emer_live.errors import SourceError
from emer_live.sources.base import FrameSource, frame_host_ns
from emer_live.types import Frame, SourceEvent

LABEL = "demo input (still photo, public domain)"
ASSET = "astronaut.jpg"


def load_demo_image() -> np.ndarray:
    """The bundled portrait, BGR uint8."""
    data = resources.files("emer_live.assets").joinpath(ASSET).read_bytes()
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"the bundled demo image emer_live/assets/{ASSET} cannot be decoded; reinstall emer-live")
    return img


class DemoFrameSource(FrameSource):
    kind = "demo"
    simulated = True

    def __init__(self, realtime: bool = True, fps: float = 30, t0_ns: int = 0,
                 size: tuple[int, int] = (640, 480), duration_s: Optional[float] = None, seed: int = 0):
        super().__init__()
        if fps <= 0:
            raise ValueError(f"demo input fps must be > 0, got {fps}")
        self.realtime = realtime
        self.fps = float(fps)
        self.t0_ns = t0_ns
        self.size = size
        self.duration_s = duration_s  # None: endless
        self.seed = seed
        self._image: Optional[np.ndarray] = None
        self._closed = False

    @property
    def label(self) -> str:
        return LABEL

    def info(self) -> dict:
        return {**super().info(), "fps": self.fps, "width": self.size[0], "height": self.size[1],
                "image": ASSET, "duration_s": self.duration_s}

    def open(self) -> None:
        self._image = load_demo_image()
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def render(self, t_s: float, noise: Optional[np.ndarray] = None) -> np.ndarray:
        """The frame at time t_s: the portrait filling the frame height, swaying and zooming."""
        if self._image is None:
            self.open()
        w, h = self.size
        src = self._image
        angle = 4.0 * math.sin(2 * math.pi * 0.15 * t_s)  # degrees
        scale = h / src.shape[0] * (1.0 + 0.04 * math.sin(2 * math.pi * 0.11 * t_s))
        m = cv2.getRotationMatrix2D((src.shape[1] / 2, src.shape[0] * 0.4), angle, scale)
        m[0, 2] += w / 2 - src.shape[1] / 2 + 12.0 * math.sin(2 * math.pi * 0.2 * t_s)
        m[1, 2] += h * 0.4 - src.shape[0] * 0.4 + 6.0 * math.sin(2 * math.pi * 0.13 * t_s)
        frame = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if noise is not None:  # a little sensor noise, so consecutive frames are never identical
            frame = cv2.subtract(cv2.add(frame, noise[0]), noise[1])
        return frame

    def frames(self) -> Iterator[Union[Frame, SourceEvent]]:
        if self._image is None:
            self.open()
        # A small bank of noise pairs (added, subtracted), cycled: drawing fresh noise per frame
        # would cost more CPU than the rest of the rendering.
        rng = np.random.default_rng(self.seed)
        shape = (self.size[1], self.size[0], 3)
        bank = [rng.integers(0, 4, (2, *shape), dtype=np.uint8) for _ in range(7)]
        period_ns = 1e9 / self.fps
        base = now_ns() if self.realtime else self.t0_ns
        limit = None if self.duration_s is None else int(round(self.duration_s * self.fps))
        index = 0
        while not self._closed and (limit is None or index < limit):
            media_ns = int(round(index * period_ns))
            img = self.render(media_ns / 1e9, bank[index % len(bank)])
            host_ns = frame_host_ns(base, media_ns, self.realtime)
            self.stats.delivered += 1
            yield Frame(host_ns=host_ns, index=index, image=img, media_ms=media_ns / 1e6)
            index += 1
        if limit is not None and index >= limit:
            yield SourceEvent(base + int(round(index * period_ns)), self.kind, "end_of_stream",
                              "demo input: end of the requested duration")
