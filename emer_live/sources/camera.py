"""A webcam through OpenCV's VideoCapture, as a frame source.

The requested resolution and rate are asked for; what the driver really gives is read back and
reported in info(). A read that fails repeatedly means the camera is gone (unplugged, taken by
another program): the source emits "connection_lost", keeps trying to reopen it, and emits
"connection_restored" when frames flow again, instead of ending the run.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Iterator, Optional, Union

import cv2

from emer_live.clock import now_ns
from emer_live.errors import SourceError
from emer_live.sources.base import FrameSource
from emer_live.types import Frame, SourceEvent

FAILS_BEFORE_LOST = 10  # consecutive failed reads (about 1/3 s at 30 fps) before "connection_lost"
REOPEN_INTERVAL_S = 1.0

try:  # OpenCV prints a warning line for every index that does not open; we report it ourselves.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:
    pass


def _may_exist(index: int) -> bool:
    """Cheap pre-check: on Linux a camera index is a /dev/videoN node."""
    return not sys.platform.startswith("linux") or os.path.exists(f"/dev/video{index}")


def _open_capture(index: int):
    cap = cv2.VideoCapture(index)
    if cap.isOpened():
        return cap
    cap.release()
    return None


def probe_cameras(indexes=range(5)) -> list[dict]:
    """The camera indexes that open and deliver a frame, with their default resolution."""
    found = []
    for i in indexes:
        if not _may_exist(i):
            continue
        cap = _open_capture(i)
        if cap is None:
            continue
        ok, img = cap.read()
        if ok and img is not None:
            found.append({"index": i, "width": img.shape[1], "height": img.shape[0],
                          "fps": round(float(cap.get(cv2.CAP_PROP_FPS) or 0), 2)})
        cap.release()
    return found


class CameraSource(FrameSource):
    kind = "camera"
    realtime = True

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720, fps: float = 30):
        super().__init__()
        self.index = int(index)
        self.requested = {"width": int(width), "height": int(height), "fps": float(fps)}
        self.actual: dict = {}
        self._cap = None
        self._lock = threading.Lock()  # guards _cap between the reading thread and close()
        self._closed = False
        self._t_first = self._t_last = None  # host times of the first and latest frame

    @property
    def label(self) -> str:
        return f"camera {self.index}"

    def info(self) -> dict:
        d = {**super().info(), "index": self.index, "requested": self.requested, "actual": self.actual}
        n = self.stats.delivered
        if n > 1 and self._t_first is not None:
            d["measured_fps"] = round((n - 1) / max((self._t_last - self._t_first) / 1e9, 1e-9), 2)
        return d

    def _configure(self, cap) -> None:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested["width"])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested["height"])
        cap.set(cv2.CAP_PROP_FPS, self.requested["fps"])
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue of them
        self.actual = {"width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                       "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                       "fps": round(float(cap.get(cv2.CAP_PROP_FPS) or 0), 2),
                       "backend": cap.getBackendName() if hasattr(cap, "getBackendName") else ""}

    def open(self) -> None:
        cap = _open_capture(self.index) if _may_exist(self.index) else None
        if cap is None:
            others = [c["index"] for c in probe_cameras() if c["index"] != self.index]
            hint = f"cameras that do open: {others}" if others else "no camera opens on this computer"
            raise SourceError(f"camera {self.index} cannot be opened (not present, or in use by another "
                              f"program); {hint}")
        self._configure(cap)
        with self._lock:
            self._cap, self._closed = cap, False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()

    def _read(self):
        with self._lock:
            cap = self._cap
        if cap is None:
            return None
        ok, img = cap.read()
        return img if ok and img is not None and img.ndim == 3 and img.size else None

    def _reopen(self) -> bool:
        cap = _open_capture(self.index) if _may_exist(self.index) else None
        if cap is None:
            return False
        self._configure(cap)
        with self._lock:
            if self._closed:
                cap.release()
                return False
            old, self._cap = self._cap, cap
        if old is not None:
            old.release()
        return True

    def frames(self) -> Iterator[Union[Frame, SourceEvent]]:
        if self._cap is None and not self._closed:
            self.open()
        index = 0
        fails = 0
        last_ns: Optional[int] = None
        while not self._closed:
            img = self._read()
            host_ns = now_ns()  # right after read(): the closest the host sees to exposure time
            if img is not None:
                fails = 0
                period_ns = 1e9 / (self.actual.get("fps") or self.requested["fps"])
                if last_ns is not None:
                    # A gap of k periods means k-1 frames the driver never handed over.
                    missed = int(round((host_ns - last_ns) / period_ns)) - 1
                    if missed > 0:
                        self.stats.dropped += missed
                        self.stats.gaps += 1
                        index += missed
                last_ns = host_ns
                self._t_first = self._t_first or host_ns
                self._t_last = host_ns
                self.stats.delivered += 1
                yield Frame(host_ns=host_ns, index=index, image=img)
                index += 1
                continue
            if self._closed:
                return
            fails += 1
            self.stats.extra["read_failures"] = self.stats.extra.get("read_failures", 0) + 1
            if fails < FAILS_BEFORE_LOST:
                continue
            yield SourceEvent(host_ns, self.kind, "connection_lost",
                              f"camera {self.index}: no frames (unplugged or taken by another program); "
                              f"retrying every {REOPEN_INTERVAL_S:.0f} s")
            self.stats.extra["connection_lost"] = self.stats.extra.get("connection_lost", 0) + 1
            while not self._closed and not self._reopen():
                time.sleep(REOPEN_INTERVAL_S)
            if self._closed:
                return
            fails, last_ns = 0, None
            yield SourceEvent(now_ns(), self.kind, "connection_restored",
                              f"camera {self.index}: reopened ({self.actual.get('width')}x"
                              f"{self.actual.get('height')} @ {self.actual.get('fps')} fps)")
