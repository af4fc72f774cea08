"""Sliding-window buffers on the host clock.

A window is the card's window_s of input ending at `end_ns`: 8 face frames at evenly spaced
target times (both ends included, as the paper takes 8 frames evenly from a clip) and 32 eye steps
(the eye pipeline's own encoder). Face features are cached per frame, at most one per
window_s/32 slot, so a window update never re-encodes old frames.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Optional

import numpy as np

SLOTS_PER_WINDOW = 32


@dataclass
class FacePick:
    features: np.ndarray  # (8, D) embeddings or (8, S, S, 3) crops, as cached
    times_ns: np.ndarray  # (8,) host time of each picked frame
    valid: int  # targets with a cached face within tolerance
    newest_ns: int  # newest picked frame


class FaceBuffer:
    """Time-indexed cache of per-frame face features (only frames where a face was found).

    Thread-safe: the face thread adds while the window thread picks.
    """

    def __init__(self, window_s: float, frames: int = 8, min_valid: int = 4):
        self.window_ns = int(round(window_s * 1e9))
        self.frames = frames
        self.min_valid = min_valid
        self.slot_ns = max(1, self.window_ns // SLOTS_PER_WINDOW)
        # Half the spacing of the targets: a frame farther than this from its target is a stand-in.
        self.tol_ns = self.window_ns // (frames - 1) // 2
        self._times: list[int] = []
        self._feats: list[np.ndarray] = []
        self._last_slot: Optional[int] = None
        # Every processed frame, face or not (coverage of the stream), over the same span.
        self._frame_times: list[int] = []
        self.first_frame_ns: Optional[int] = None
        self.last_frame_ns: Optional[int] = None  # newest processed frame: the face stream's watermark
        self._lock = threading.Lock()

    def note_frame(self, host_ns: int) -> None:
        """Record a processed frame (after its face, if any, was added)."""
        with self._lock:
            if self.first_frame_ns is None:
                self.first_frame_ns = host_ns
            self.last_frame_ns = host_ns
            self._frame_times.append(host_ns)
            cut = bisect_left(self._frame_times, host_ns - 2 * self.window_ns - self.tol_ns)
            if cut:
                del self._frame_times[:cut]

    def newest_frame_until(self, end_ns: int) -> Optional[int]:
        """Host time of the newest processed frame at or before end_ns (None if none is kept)."""
        with self._lock:
            i = bisect_right(self._frame_times, end_ns)
            return self._frame_times[i - 1] if i else None

    def wants(self, host_ns: int) -> bool:
        """True when a face at this time should be encoded and cached (its slot is still empty)."""
        return host_ns // self.slot_ns != self._last_slot

    def add(self, host_ns: int, feature: np.ndarray) -> None:
        with self._lock:
            self._last_slot = host_ns // self.slot_ns
            self._times.append(host_ns)
            self._feats.append(feature)
            # Keep one window plus tolerance behind the newest face, and a little more for lag.
            cut = bisect_left(self._times, host_ns - 2 * self.window_ns - self.tol_ns)
            if cut:
                del self._times[:cut], self._feats[:cut]

    def __len__(self) -> int:
        return len(self._times)

    def pick(self, end_ns: int) -> tuple[Optional[FacePick], str]:
        """The 8 frames for the window ending at end_ns, or (None, reason)."""
        start_ns = end_ns - self.window_ns
        targets = np.linspace(start_ns, end_ns, self.frames).round().astype(np.int64)
        with self._lock:
            lo = bisect_left(self._times, start_ns - self.tol_ns)
            hi = bisect_right(self._times, end_ns)
            times = np.asarray(self._times[lo:hi], dtype=np.int64)
            feats = self._feats[lo:hi]
        if len(times) == 0:
            return None, "no_face"
        idx = np.clip(np.searchsorted(times, targets), 1, max(1, len(times) - 1))
        if len(times) == 1:
            idx = np.zeros(self.frames, dtype=np.int64)
        else:
            left_closer = (targets - times[idx - 1]) <= (times[idx] - targets)
            idx = np.where(left_closer, idx - 1, idx)
        valid = int(np.sum(np.abs(times[idx] - targets) <= self.tol_ns))
        if valid < self.min_valid:
            return None, "too_few_faces"
        return FacePick(np.stack([feats[i] for i in idx]), times[idx], valid, int(times[idx].max())), ""
