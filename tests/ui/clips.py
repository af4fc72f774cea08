"""Real face videos for review tests: the frames of a shared clip, and a clip written from frames."""

from __future__ import annotations

from pathlib import Path

import cv2


def read_frames(path: Path) -> list:
    """Every frame (BGR) of a video file."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def write_video(path: Path, frames: list, fps: float) -> Path:
    """The frames as an MJPG .avi (what any OpenCV build can write)."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    for img in frames:
        out.write(img)
    out.release()
    return path
