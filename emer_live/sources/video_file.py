"""Any video file OpenCV decodes, as a frame source.

realtime=True plays at the file's speed: each frame is released when the wall clock reaches
its media time, and when the consumer falls behind, late frames are skipped as a live camera would:
passed over with grab() before they are decoded (decoding a frame only to drop it costs about as
much as the frame period on a busy machine, and playback never caught up), counted as dropped, and
the skipped ones are also counted in stats.extra["skipped_undecoded"]. realtime=False reads as fast as the consumer asks and stamps
host_ns = t0_ns + media time, so offline runs are deterministic.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Iterator, Optional, Union

import cv2

from emer_live.clock import now_ns
from emer_live.errors import SourceError
from emer_live.sources.base import FrameSource, frame_host_ns
from emer_live.types import Frame, SourceEvent


class VideoFileSource(FrameSource):
    kind = "video"

    def __init__(self, path, realtime: bool = True, loop: bool = False, t0_ns: int = 0):
        super().__init__()
        self.path = Path(path)
        self.realtime = realtime
        self.loop = loop
        self.t0_ns = t0_ns
        self._cap: Optional[cv2.VideoCapture] = None
        self._first = None  # first frame, decoded by open() to prove the file is a video
        self._closed = False
        # close() may come from another thread while the reader is inside cap.read(); releasing
        # the capture under a running read aborts natively, so both hold this lock.
        self._cap_lock = threading.Lock()
        self.fps = 0.0
        self.frame_count = 0
        self.size = (0, 0)

    @property
    def label(self) -> str:
        return f"video file {self.path.name}"

    def info(self) -> dict:
        return {**super().info(), "path": str(self.path), "fps": round(self.fps, 3),
                "frame_count": self.frame_count, "width": self.size[0], "height": self.size[1],
                "duration_s": round(self.frame_count / self.fps, 3) if self.fps else None, "loop": self.loop}

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"{self.path}: video file not found")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"{self.path}: not a video OpenCV can open (unknown format or not a video file)")
        ok, img = cap.read()
        if not ok or img is None:
            cap.release()
            raise SourceError(f"{self.path}: the file opens but no frame decodes (truncated or corrupt video)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not (fps and math.isfinite(fps) and 1.0 <= fps <= 1000.0):
            cap.release()
            raise SourceError(f"{self.path}: the video reports no usable frame rate ({fps!r})")
        self.fps = float(fps)
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.size = (img.shape[1], img.shape[0])
        self._cap, self._first, self._closed = cap, img, False

    def close(self) -> None:
        self._closed = True
        with self._cap_lock:
            cap, self._cap = self._cap, None
            if cap is not None:
                cap.release()

    def _read(self):
        if self._first is not None:
            img, self._first = self._first, None
            return img
        with self._cap_lock:
            cap = self._cap
            if cap is None:
                return None
            ok, img = cap.read()
        return img if ok else None

    def _skip(self) -> bool:
        """Pass over the next frame without decoding it; False at the end of the stream."""
        if self._first is not None:
            self._first = None
            return True
        with self._cap_lock:
            return self._cap is not None and self._cap.grab()

    def _rewind(self) -> bool:
        with self._cap_lock:
            return self._cap is not None and self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def frames(self) -> Iterator[Union[Frame, SourceEvent]]:
        if self._cap is None and not self._closed:
            self.open()
        period_ns = 1e9 / self.fps
        base = now_ns() if self.realtime else self.t0_ns
        index = 0  # frames since start, across loops: media time = index / fps
        in_pass = 0  # frames read in the current pass over the file
        while not self._closed:
            if self.realtime and now_ns() - (base + index * period_ns) > period_ns:
                # the consumer fell behind the media clock: skip this frame before decoding it
                if self._skip():
                    self.stats.dropped += 1
                    self.stats.extra["skipped_undecoded"] = self.stats.extra.get("skipped_undecoded", 0) + 1
                    index += 1
                    in_pass += 1
                    continue
            img = self._read()
            if img is None:
                if self._closed:
                    return
                if self.frame_count and in_pass < self.frame_count - 1:
                    yield SourceEvent(base + int(index * period_ns), self.kind, "warning",
                                      f"{self.path.name}: stream ended at frame {in_pass} of {self.frame_count} "
                                      f"(file truncated or damaged)", {"frame": in_pass})
                if self.loop and in_pass > 0 and self._rewind():
                    in_pass = 0
                    self.stats.extra["loops"] = self.stats.extra.get("loops", 0) + 1
                    continue
                yield SourceEvent(base + int(index * period_ns), self.kind, "end_of_stream",
                                  f"{self.path.name}: end of video")
                return
            media_ns = int(round(index * period_ns))
            # A frame decoded is delivered even if decoding made it late: it is the newest there is,
            # and dropping it after paying for it is what kept playback from catching up.
            host_ns = frame_host_ns(base, media_ns, self.realtime)
            self.stats.delivered += 1
            yield Frame(host_ns=host_ns, index=index, image=img, media_ms=media_ns / 1e6)
            index += 1
            in_pass += 1
