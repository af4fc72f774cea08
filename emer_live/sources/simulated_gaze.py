"""Simulated binocular gaze whose behaviour depends on a genuine emotion.

For demos, tests and the training package's synthetic data; always labelled "simulated gaze".

The signal is built from events, as real screen-viewing gaze is: fixations (200-400 ms, slow
drift plus tracker jitter), saccades between them (duration from the main sequence,
D ~ 2.2 ms/deg * A + 21 ms, 20-80 ms, smooth velocity profile) and blinks (100-300 ms, both
eyes invalid). Pupils sit at 2.5-5 mm and fluctuate slowly. Geometry is Tobii's: gaze points on
a display area (normalised, y down), in the user coordinate system (mm, origin at the tracker,
x right, y up, z toward the user), eye origins about 60 cm away, track-box coordinates in [0, 1].

How the genuine emotion shapes gaze (the direction of published findings, not their sizes):
- pupil size and its fluctuation grow with arousal (Partala & Surakka 2003; Bradley et al. 2008);
- blink rate rises in negative, stressed states and drops with surprise/attentive widening;
- fear scans (shorter fixations, wider dispersion); sadness dwells (longer fixations, narrower
  dispersion) and looks lower on the display; happiness explores moderately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

import numpy as np

from emer_live.clock import now_ns
from emer_live.labels import CIRCUMPLEX, EMOTIONS_7
from emer_live.sources.base import GazeSource, sleep_until
from emer_live.sources.gaze_checks import sanitize_gaze
from emer_live.types import GazeSample, SourceEvent

LABEL = "simulated gaze"


@dataclass(frozen=True)
class GazeBehaviour:
    fixation_ms: float  # mean fixation duration
    dispersion: float  # spread of fixation centres on the display (normalised units)
    centre_y: float  # where on the display gaze settles (0 top, 1 bottom)
    blinks_per_min: float
    pupil_mm: float  # mean pupil diameter
    pupil_fluct_mm: float  # amplitude of slow pupil fluctuation
    drift: float = 0.014  # fixation drift, a random walk (normalised units per sqrt(second))


def _behaviour(emotion: str) -> GazeBehaviour:
    valence, arousal = CIRCUMPLEX[emotion]
    tweaks = {  # fixation_ms, dispersion, centre_y, blinks_per_min
        "happiness": (260, 0.20, 0.48, 15),
        "sadness": (360, 0.11, 0.62, 21),
        "fear": (215, 0.26, 0.47, 25),
        "surprise": (240, 0.22, 0.46, 9),
        "disgust": (280, 0.17, 0.52, 22),
        "anger": (250, 0.18, 0.49, 23),
        "neutral": (290, 0.16, 0.50, 16),
    }[emotion]
    return GazeBehaviour(
        fixation_ms=tweaks[0], dispersion=tweaks[1], centre_y=tweaks[2], blinks_per_min=tweaks[3],
        pupil_mm=3.6 + 0.7 * arousal,
        pupil_fluct_mm=0.08 + 0.12 * max(arousal, 0.0) + 0.03 * abs(valence),
    )


BEHAVIOURS = {e: _behaviour(e) for e in EMOTIONS_7}

# Display and head geometry (a 24" 16:9 display above the tracker, eyes 60 cm away).
DISPLAY_W_MM, DISPLAY_H_MM, DISPLAY_BOTTOM_MM = 527.0, 296.0, 20.0
EYE_HALF_IPD_MM = 31.0
HEAD_MM = np.array([0.0, 320.0, 600.0])
DEG_TO_NORM_X = 10.5 / DISPLAY_W_MM  # 1 degree of visual angle at 60 cm is about 10.5 mm
JITTER_NORM = 0.003  # tracker noise, about 0.15 degrees (as in real 300 Hz recordings)


def simulate_raw(emotion: str, duration_s: float, rate_hz: float, rng: np.random.Generator,
                 t0_ns: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Simulate `duration_s` of gaze at `rate_hz` for a genuine `emotion`.

    Returns (t_ns int64 (N,), raw float64 (N, 30)) in types.RAW_GAZE_COLUMNS order, validity
    flags 1.0/0.0 and NaN where invalid. Deterministic for a given rng state.
    """
    if emotion not in BEHAVIOURS:
        raise ValueError(f"unknown emotion {emotion!r}; expected one of {EMOTIONS_7}")
    b = BEHAVIOURS[emotion]
    n = max(int(round(duration_s * rate_hz)), 0)
    t = np.arange(n) / rate_hz
    t_ns = t0_ns + np.round(t * 1e9).astype(np.int64)
    if n == 0:
        return t_ns, np.zeros((0, 30))

    # Event timeline: fixation k, then saccade k towards fixation k+1.
    k_max = int(duration_s * 1000 / 150) + 3
    fix_ms = np.clip(rng.lognormal(np.log(b.fixation_ms), 0.25, k_max), 200, 400)
    centres = np.column_stack([
        rng.normal(0.5, b.dispersion, k_max + 1),
        rng.normal(b.centre_y, b.dispersion * 0.8, k_max + 1),
    ]).clip(0.04, 0.96)
    step = np.diff(centres, axis=0)
    amp_deg = np.hypot(step[:, 0] / DEG_TO_NORM_X, step[:, 1] / DEG_TO_NORM_X * DISPLAY_H_MM / DISPLAY_W_MM)
    sac_ms = np.clip(2.2 * amp_deg + 21.0, 20.0, 80.0)
    ends = np.cumsum(np.column_stack([fix_ms, sac_ms]).ravel()) / 1000.0  # fix0 end, sac0 end, ...
    ends = ends - rng.uniform(0, fix_ms[0] / 1000.0)  # start mid-fixation, like any real recording
    seg = np.searchsorted(ends, t, side="right")  # segment index per sample
    k = seg // 2
    in_sac = (seg % 2) == 1
    seg_start = np.where(seg > 0, ends[np.maximum(seg - 1, 0)], ends[0] - fix_ms[0] / 1000.0)
    seg_len = ends[seg] - seg_start

    # Drift: a random walk that restarts at every fixation onset.
    walk = np.cumsum(rng.normal(0, b.drift / np.sqrt(rate_hz), (n, 2)), axis=0)
    first = np.searchsorted(seg, seg)  # first sample of each sample's segment
    pos = centres[k] + (walk - walk[first])
    # Saccades: smooth (raised-cosine) position profile from centre k to k+1.
    phase = np.clip((t - seg_start) / seg_len, 0, 1)
    prof = (0.5 - 0.5 * np.cos(np.pi * phase))[:, None]
    sac_pos = centres[k] + (centres[np.minimum(k + 1, k_max)] - centres[k]) * prof
    pos = np.where(in_sac[:, None], sac_pos, pos)

    # Blinks: Poisson onsets, 100-300 ms each, both eyes lost.
    n_blinks = rng.poisson(b.blinks_per_min / 60.0 * duration_s)
    on = rng.uniform(0, duration_s, n_blinks)
    off = on + rng.uniform(0.10, 0.30, n_blinks)
    blink = ((t[:, None] >= on) & (t[:, None] < off)).any(axis=1) if n_blinks else np.zeros(n, bool)

    # Pupil: level from arousal, slow fluctuation as a few low-frequency components.
    freqs = rng.uniform(0.05, 0.6, 4)
    phases = rng.uniform(0, 2 * np.pi, 4)
    fluct = (np.sin(2 * np.pi * freqs[None, :] * t[:, None] + phases).sum(axis=1) / 2.0) * b.pupil_fluct_mm
    pupil = np.clip(b.pupil_mm + rng.normal(0, 0.15) + fluct + rng.normal(0, 0.01, n), 2.5, 5.0)

    # Head: a few mm of slow sway.
    head = HEAD_MM + np.column_stack([
        6.0 * np.sin(2 * np.pi * 0.07 * t + rng.uniform(0, 6.3)),
        4.0 * np.sin(2 * np.pi * 0.05 * t + rng.uniform(0, 6.3)),
        10.0 * np.sin(2 * np.pi * 0.03 * t + rng.uniform(0, 6.3)),
    ])

    raw = np.empty((n, 30))
    for e, (sign, pupil_scale) in enumerate(((-1.0, 1.0), (1.0, 0.97))):
        o = 15 * e
        disp = pos + rng.normal(0, JITTER_NORM, (n, 2))
        origin = head + np.array([sign * EYE_HALF_IPD_MM, 0.0, 0.0])
        raw[:, o:o + 2] = disp
        raw[:, o + 2] = (disp[:, 0] - 0.5) * DISPLAY_W_MM
        raw[:, o + 3] = DISPLAY_BOTTOM_MM + (1.0 - disp[:, 1]) * DISPLAY_H_MM
        raw[:, o + 4] = 0.0
        raw[:, o + 5] = 1.0
        raw[:, o + 6] = pupil * pupil_scale
        raw[:, o + 7] = 1.0
        raw[:, o + 8:o + 11] = origin
        raw[:, o + 11] = 0.5 - origin[:, 0] / 340.0
        raw[:, o + 12] = 0.5 - (origin[:, 1] - HEAD_MM[1]) / 260.0
        raw[:, o + 13] = (origin[:, 2] - 450.0) / 300.0
        raw[:, o + 14] = 1.0
        raw[blink, o:o + 15] = np.nan
        raw[blink, o + 5] = raw[blink, o + 7] = raw[blink, o + 14] = 0.0
    return t_ns, raw


DEFAULT_SCRIPT = (("neutral", 20.0), ("happiness", 20.0), ("sadness", 20.0), ("fear", 20.0),
                  ("neutral", 10.0), ("anger", 20.0), ("surprise", 20.0), ("disgust", 20.0))


class SimulatedGazeSource(GazeSource):
    """Endless simulated gaze following a script of (genuine_emotion, seconds), cycled."""

    kind = "simulated"
    simulated = True
    # One simulate_raw call per script step (pieces of at most a minute, to bound memory): the
    # signal is continuous within a step and changes character where the genuine emotion does.
    CHUNK_S = 60.0

    def __init__(self, rate_hz: float = 120, script: Optional[Sequence[tuple[str, float]]] = None,
                 seed: int = 0, realtime: bool = True, t0_ns: int = 0, duration_s: Optional[float] = None):
        super().__init__()
        self.rate_hz = float(rate_hz)
        self.script = tuple((str(e), float(s)) for e, s in (script or DEFAULT_SCRIPT))
        for e, s in self.script:
            if e not in BEHAVIOURS or s <= 0:
                raise ValueError(f"bad simulated-gaze script step ({e!r}, {s}): emotion must be one of "
                                 f"{EMOTIONS_7} and seconds > 0")
        if self.rate_hz <= 0:
            raise ValueError(f"simulated gaze rate must be > 0 Hz, got {rate_hz}")
        self.seed = seed
        self.realtime = realtime
        self.t0_ns = t0_ns
        self.duration_s = duration_s  # None: endless
        self.current_emotion = self.script[0][0]
        self._closed = False

    @property
    def label(self) -> str:
        return LABEL

    def info(self) -> dict:
        return {**super().info(), "rate_hz": self.rate_hz, "script": [list(s) for s in self.script],
                "seed": self.seed, "current_emotion": self.current_emotion}

    def open(self) -> None:
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def _chunks(self) -> Iterator[tuple[str, float]]:
        """(emotion, seconds) pieces of the cycled script, at most CHUNK_S long."""
        while True:
            for emotion, seconds in self.script:
                left = seconds
                while left > 1e-9:
                    piece = min(left, self.CHUNK_S)
                    yield emotion, piece
                    left -= piece

    def samples(self) -> Iterator[Union[GazeSample, SourceEvent]]:
        rng = np.random.default_rng(self.seed)
        base_ns = now_ns() if self.realtime else self.t0_ns
        n_done = 0  # samples emitted so far: sample i sits at i / rate on the stream's clock
        period_ns = 1e9 / self.rate_hz
        limit = None if self.duration_s is None else int(round(self.duration_s * self.rate_hz))
        for emotion, seconds in self._chunks():
            if self._closed or (limit is not None and n_done >= limit):
                break
            if emotion != self.current_emotion or n_done == 0:  # a step starts
                self.current_emotion = emotion
                yield SourceEvent(base_ns + int(n_done * period_ns), self.kind, "info",
                                  f"simulated gaze: genuine emotion now {emotion}", {"emotion": emotion})
            n_chunk = int(round((n_done / self.rate_hz + seconds) * self.rate_hz)) - n_done
            _, raw = simulate_raw(emotion, n_chunk / self.rate_hz, self.rate_hz, rng)
            bad = sanitize_gaze(raw)
            self.stats.extra["bad_values"] = self.stats.extra.get("bad_values", 0) + int(bad.sum())
            for row in raw:
                if self._closed or (limit is not None and n_done >= limit):
                    break
                host_ns = base_ns + int(round(n_done * period_ns))
                if self.realtime:
                    sleep_until(host_ns)
                self.stats.delivered += 1
                yield GazeSample(host_ns=host_ns, values=row, device_us=int(round(n_done * 1e6 / self.rate_hz)))
                n_done += 1
        if limit is not None and n_done >= limit:
            yield SourceEvent(base_ns + int(n_done * period_ns), self.kind, "end_of_stream",
                              "simulated gaze: end of the requested duration")
