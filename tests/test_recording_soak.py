"""Memory stays flat while recording: a stream of frames (30 fps), gaze (300 Hz), face crops
(1 per second, as the model caches them) and predictions (10 Hz) into one session, sampling the
process's resident memory as it goes. By default 20 s of media, fed as fast as the writer takes
it; EMER_SOAK_S=3600 records an hour's worth (a soak run, minutes long)."""

from __future__ import annotations

import os

import numpy as np
import psutil

from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.types import Frame, GazeSample
from test_recording_session import _pred

FPS, GAZE_HZ = 30, 300


def test_memory_stays_flat(tmp_path):
    media_s = float(os.environ.get("EMER_SOAK_S", "20"))
    size = tuple(int(v) for v in os.environ.get("EMER_SOAK_SIZE", "320x240").split("x"))
    proc = psutil.Process()
    s = RecordingSession(tmp_path / "soak", "P01", consent=True, block_when_full=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    crop = rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)
    values = rng.random(30)
    rss = []
    n_frames = int(media_s * FPS)
    for i in range(n_frames):
        t = 1_000_000_000 + i * 1_000_000_000 // FPS
        img = base.copy()
        img[:8, : 8 + i % 100] = i % 255  # frames differ, as a camera's do
        s.sink.on_frame(Frame(host_ns=t, index=i, image=img, media_ms=i * 1000 / FPS), None)
        for k in range(GAZE_HZ // FPS):
            s.sink.on_gaze(GazeSample(host_ns=t + k * 1_000_000_000 // GAZE_HZ, values=values, device_us=i * 10 + k))
        if i % FPS == 0:
            s.sink.on_face_crop(i, t, crop)
        if i % (FPS // 10) == 0:
            s.sink.on_prediction(_pred(i))
        if i % FPS == 0:  # every second of media, so even a short run has samples to compare
            rss.append(proc.memory_info().rss / 2**20)
    rss.append(proc.memory_info().rss / 2**20)  # before close: close may hand memory back and hide a leak
    stats = s.close()
    assert stats["dropped"] == {} and stats["written"]["frame"] == n_frames
    assert len(SessionReader(tmp_path / "soak").frames()["host_ns"]) == n_frames
    # Warm: a quarter of the way in (at least 2 s of media), once the writer's queue is full and
    # the imports are done. A leak grows with the media after that; flat memory does not.
    k = max(2, len(rss) // 4)
    warm = rss[k]
    growth = max(rss[k:]) - warm
    print(f"soak: media {media_s:.0f} s, {stats['bytes_written'] / 2**20:.0f} MiB written, "
          f"RSS MiB start {rss[0]:.0f} warm {warm:.0f} max {max(rss[k:]):.0f} end {rss[-1]:.0f}")
    assert growth < 40, [round(v) for v in rss]
