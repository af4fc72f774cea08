"""Recorded inputs for the benchmark: a video file or the built-in demo input, and gaze from
Tobii TSV recordings or the gaze simulator. Frame sources here are offline (as fast as asked);
feeds.py paces them in real time."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from emer_live.errors import SourceError


def frame_source(video: Optional[Path], fps: float = 30.0, loop: bool = False, duration_s: Optional[float] = None):
    """An offline frame source over the video (looped if asked), or the demo input at fps."""
    if video is not None:
        from emer_live.sources.video_file import VideoFileSource

        return VideoFileSource(video, realtime=False, loop=loop)
    from emer_live.sources.demo import DemoFrameSource

    return DemoFrameSource(realtime=False, fps=fps, duration_s=None if loop else duration_s)


def tsv_files(path: Path) -> list[Path]:
    from emer_live.sources.tobii_tsv import gaze_files

    path = Path(path)
    if not path.exists():
        raise SourceError(f"gaze file {path} does not exist")
    return gaze_files(path)


def recorded_gaze(tsv: Optional[Path], seconds: float = 60.0, sim_rate_hz: float = 300.0, seed: int = 0):
    """(t_ns (N,) int64 from 0, raw (N, 30) float64, rate_hz, label): the recordings of the gaze
    files laid end to end (each one period after the previous one ends: a load to measure
    throughput with, not one timeline), or simulated gaze when none is named."""
    if tsv is None:
        from emer_live.sources.simulated_gaze import simulate_raw

        rng = np.random.default_rng(seed)
        t, raw = simulate_raw("happiness", seconds, sim_rate_hz, rng)
        t = np.asarray(t, np.int64)
        return t - t[0], np.asarray(raw, np.float64), float(sim_rate_hz), f"simulated gaze at {sim_rate_hz:g} Hz"
    from emer_live.sources.tobii_tsv import read_gaze_file

    files = tsv_files(tsv)
    recordings = []
    for f in files:
        try:
            recordings += read_gaze_file(f).recordings
        except SourceError:
            if len(files) == 1:
                raise  # a folder may hold notes and licences beside the gaze files
    ts, raws, rates = [], [], []
    t0 = 0
    for rec in recordings:
        tl = rec.timeline_us()
        t = (tl - tl[0]) * 1000 + t0
        period = int(1e9 / rec.nominal_hz) if rec.nominal_hz else 1_000_000
        ts.append(t.astype(np.int64))
        raws.append(rec.raw)
        rates.append(rec.nominal_hz)
        t0 = int(t[-1]) + period
    if not ts:
        raise SourceError(f"no gaze samples in {tsv}")
    rate = float(np.median(rates))
    return (np.concatenate(ts), np.concatenate(raws), rate,
            f"{len(files)} recorded Tobii file(s) from {Path(tsv).name} at {rate:g} Hz")
