"""Per-frame FER: the face network's own expression output on every frame that yields a face crop.

This is what the FER panel, the FER time series and the gap use. It depends on the face crop
alone (the eye input never reaches it), arrives at camera rate from the first face frame, and
needs no window of input. The EMERT model's FER head (a window output that also sees the eyes)
is kept apart, under its own name (Prediction.fer_head).

- ExpressionReader: the card's face.expression -> 7-class probabilities in labels.EMOTIONS_7
  order from the face encoder's embedding (softmax, classes reordered).
- FrameFER: one frame's result. A frame without a usable crop carries no probabilities and says
  why (its face status): never the previous frame's value.
- FerSmoother: causal exponential smoothing with a time constant (seconds) for display; it
  restarts at the first face after any frame without one and where the face read changes (its box
  jumps: FaceResult.new_face), so nothing from before a gap or from another face shows.
- smooth_recorded: the smoothed readings rebuilt from recorded rows (frame_fer.csv), for review.
- FerTrack: the recent per-frame FER by host time, for the window mean the gap compares ER with.
- head_of(probs7): a HeadOutput whose 3-class summary and valence/arousal are derived from the
  7-class distribution by the one documented mapping (labels.probs3_of, labels.valence_arousal_of).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Optional

import numpy as np

from emer_live.labels import EMOTIONS_7, probs3_of, valence_arousal_of
from emer_live.types import HeadOutput

DEFAULT_SMOOTHING_S = 0.25  # display time constant: follows a change of expression within ~0.5 s


def smoothing_from_args(args) -> float:
    """The --fer-smoothing option, or the default when it was not given."""
    v = getattr(args, "fer_smoothing", None)
    return DEFAULT_SMOOTHING_S if v is None else float(v)


def recorded_smoothing_s(meta: dict) -> float:
    """The FER display time constant a session was recorded with (session.json pipeline.
    fer_smoothing_s), for replay and review; sessions that did not store it used the default."""
    v = (meta.get("pipeline") or {}).get("fer_smoothing_s")
    try:
        return DEFAULT_SMOOTHING_S if v is None or float(v) < 0 else float(v)
    except (TypeError, ValueError):
        return DEFAULT_SMOOTHING_S


JSON_SCALE = 1000  # JSON lines carry probabilities as integers per mille (compact: ~70 bytes a frame)


class ExpressionReader:
    """Turns face embeddings into 7-class FER probabilities as the card's face.expression says."""

    def __init__(self, expression: dict):
        classes = list(expression["classes"])
        self.source = expression.get("source", "the model's face encoder")
        self._order = np.array([classes.index(e) for e in EMOTIONS_7])

    @classmethod
    def for_engine(cls, engine) -> Optional["ExpressionReader"]:
        """None when the model's face encoder declares no expression output or is not a separate graph."""
        x = engine.card.expression
        return cls(x) if x is not None and engine.split else None

    def probs(self, embeddings: np.ndarray) -> np.ndarray:
        z = np.asarray(embeddings, np.float64)[..., self._order]
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)


@dataclass(slots=True)
class FrameFER:
    frame_index: int
    host_ns: int
    face: str  # the frame's face status: "ok", "cut_off" (crop given, padded), "no_face", "too_small", ...
    probs7: Optional[np.ndarray]  # over EMOTIONS_7; None = no face crop in this frame
    smoothed7: Optional[np.ndarray]  # causal smoothing of probs7; None with it
    n_faces: int = 0
    # what placed the crop the FER read: "detector" (this frame's detector box), "tracked" (the
    # detector's box carried by the landmarks), "template" (the landmark template); None = the template
    placed_by: Optional[str] = None

    @property
    def has_face(self) -> bool:
        return self.probs7 is not None

    @property
    def top7(self) -> Optional[str]:
        return None if self.probs7 is None else EMOTIONS_7[int(np.argmax(self.probs7))]

    def record(self, t0_ns: int) -> dict:
        """The compact JSON line: p = probabilities per mille in EMOTIONS_7 order (see fer_format),
        n_faces = faces in the frame (the largest is read), fer_crop = what placed the crop read."""
        d = {"type": "fer", "frame": self.frame_index, "t_s": round((self.host_ns - t0_ns) / 1e9, 3), "face": self.face,
             "n_faces": self.n_faces}
        if self.probs7 is not None:
            d["p"] = np.rint(self.probs7 * JSON_SCALE).astype(int).tolist()
            d["fer_crop"] = self.placed_by or "template"
        return d


def fer_format_record(smoothing_s: float, source: str, crop_box: str = "template") -> dict:
    """The line that precedes the first per-frame FER line and says how to read them. crop_box: what
    places the crops (the fer_box setting); each line's fer_crop says what placed that frame's crop
    ("detector", "tracked" or "template": with a detector setting, "template" means the detector had
    found no box for this face yet)."""
    return {"type": "fer_format", "classes": list(EMOTIONS_7), "scale": JSON_SCALE, "smoothing_s": smoothing_s,
            "source": source, "crop_box": crop_box}


def smoothing_weight(dt_ns, tau_ns: float):
    """How far one frame moves the smoothed reading towards its own: 1 - exp(-dt / tau); 1 with
    tau 0 (no smoothing). Scalars or arrays; the one formula for live and review."""
    if tau_ns <= 0:
        return np.ones_like(np.asarray(dt_ns, np.float64))
    return 1.0 - np.exp(-np.maximum(np.asarray(dt_ns, np.float64), 0.0) / tau_ns)


class FerSmoother:
    """Causal exponential smoothing: s += (1 - exp(-dt / tau)) * (p - s); tau 0 = no smoothing."""

    def __init__(self, time_constant_s: float = DEFAULT_SMOOTHING_S):
        if time_constant_s < 0:
            raise ValueError("the FER smoothing time constant must be >= 0 s")
        self.tau_ns = time_constant_s * 1e9
        self._state: Optional[np.ndarray] = None
        self._t: Optional[int] = None

    def reset(self) -> None:
        self._state, self._t = None, None

    def update(self, host_ns: int, probs7: np.ndarray) -> np.ndarray:
        if self._state is None or self.tau_ns <= 0:
            self._state = np.array(probs7, np.float64)
        else:
            self._state = self._state + smoothing_weight(host_ns - self._t, self.tau_ns) * (probs7 - self._state)
        self._t = host_ns
        return self._state.copy()


def smooth_recorded(host_ns: np.ndarray, probs7: np.ndarray, time_constant_s: float,
                    restarts: np.ndarray = ()) -> np.ndarray:
    """The smoothed readings the live window drew, rebuilt from recorded per-frame rows (time
    order; NaN rows = no face): FerSmoother's filter, restarted at every row without a face and at
    the rows flagged in `restarts` (the first row of each run: a run starts a fresh pipeline).
    NaN where the row had no face. The weights are computed at once: an hour at 30 fps in ~0.5 s."""
    probs7 = np.asarray(probs7, np.float64)
    out = np.full(probs7.shape, np.nan)
    if not len(probs7):
        return out
    weight = smoothing_weight(np.diff(np.asarray(host_ns, np.int64), prepend=host_ns[0]), time_constant_s * 1e9)
    face = ~np.isnan(probs7).any(axis=1)
    fresh = ~face
    fresh[np.asarray(restarts, int)] = True
    s = None
    for i in range(len(probs7)):
        if fresh[i]:
            s = None
        if face[i]:
            s = probs7[i].copy() if s is None or time_constant_s <= 0 else s + weight[i] * (probs7[i] - s)
            out[i] = s
    return out


class FerTrack:
    """Per-frame FER probabilities by host time (face frames only), over the last `keep_s` seconds.
    Thread-safe: the face thread adds while the window thread averages."""

    def __init__(self, keep_s: float):
        self.keep_ns = int(keep_s * 1e9)
        self._t: list[int] = []
        self._p: list[np.ndarray] = []
        self._lock = threading.Lock()

    def add(self, host_ns: int, probs7: np.ndarray) -> None:
        with self._lock:
            self._t.append(host_ns)
            self._p.append(probs7)
            cut = bisect_left(self._t, host_ns - self.keep_ns)
            if cut:
                del self._t[:cut], self._p[:cut]

    def mean(self, start_ns: int, end_ns: int) -> tuple[Optional[np.ndarray], int]:
        """Mean distribution of the face frames in (start_ns, end_ns], and how many there were."""
        with self._lock:
            lo, hi = bisect_right(self._t, start_ns), bisect_right(self._t, end_ns)
            ps = self._p[lo:hi]
        if not ps:
            return None, 0
        return np.mean(ps, axis=0), len(ps)


def head_of(probs7: np.ndarray) -> HeadOutput:
    """A FER readout from a 7-class distribution: 3-class = sums of members, valence/arousal by the
    circumplex mapping. No intensity: the face network gives none."""
    p = np.asarray(probs7, np.float64)
    v, a = valence_arousal_of(p)
    return HeadOutput(probs7=p, probs3=probs3_of(p), valence=v, arousal=a)
