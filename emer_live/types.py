"""Items that flow through the core: frames, gaze samples, source events, predictions.

Every item carries `host_ns`, a time on the one host clock (emer_live.clock.now_ns), so streams
from different devices line up. Plain dataclasses and numpy only: no Qt, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from emer_live.labels import CLASSES_3, EMOTIONS_7

# The 15 values per eye of one tobii-research gaze sample (GazeData.as_dictionary()), flattened
# in the SDK's own order. GazeSample.values holds these 30 numbers, NaN where the device gave
# none; validity flags are 1.0 (valid) / 0.0 (invalid). Nothing is lost against the SDK dict.
_EYE_KEYS = (
    ("gaze_point_on_display_area", ("x", "y")),
    ("gaze_point_in_user_coordinate_system", ("x", "y", "z")),
    ("gaze_point_validity", None),
    ("pupil_diameter", None),
    ("pupil_validity", None),
    ("gaze_origin_in_user_coordinate_system", ("x", "y", "z")),
    ("gaze_origin_in_trackbox_coordinate_system", ("x", "y", "z")),
    ("gaze_origin_validity", None),
)
SDK_GAZE_KEYS = tuple(f"{eye}_{key}" for eye in ("left", "right") for key, _ in _EYE_KEYS)
RAW_GAZE_COLUMNS = tuple(
    f"{eye}_{key}_{axis}" if axes else f"{eye}_{key}"
    for eye in ("left", "right")
    for key, axes in _EYE_KEYS
    for axis in (axes or (None,))
)
assert len(RAW_GAZE_COLUMNS) == 30
GAZE_COL = {name: i for i, name in enumerate(RAW_GAZE_COLUMNS)}


# (dict key, number of values; 0 for a single number) in RAW_GAZE_COLUMNS order
_SDK_FIELDS = tuple((f"{eye}_{key}", len(axes) if axes else 0) for eye in ("left", "right") for key, axes in _EYE_KEYS)
_NAN = float("nan")


def raw_from_sdk_dict(d: dict) -> np.ndarray:
    """Flatten a tobii-research gaze dict into the 30-value raw vector (NaN for missing)."""
    return np.array(raw_list_from_sdk_dict(d), np.float64)


def raw_list_from_sdk_dict(d: dict) -> list:
    """raw_from_sdk_dict as a list of 30 floats. Called for every sample the tracker sends."""
    vals: list = []
    for key, n in _SDK_FIELDS:
        v = d.get(key)
        if n == 0:
            vals.append(_NAN if v is None else float(v))
        elif v is None:
            vals.extend((_NAN,) * n)
        else:
            t = tuple(map(float, v))
            if len(t) != n:
                raise ValueError(f"gaze field {key} has {len(t)} values, expected {n}")
            vals.extend(t)
    return vals


@dataclass(slots=True)
class Frame:
    """One camera or video frame."""

    host_ns: int  # capture time on the host clock
    index: int  # frame counter of its source (0-based); gaps in it are dropped frames
    image: np.ndarray  # HxWx3 uint8, BGR (OpenCV order)
    media_ms: Optional[float] = None  # position in the file, for video files and replays


@dataclass(slots=True)
class GazeSample:
    """One binocular gaze sample, raw as the device gave it (see RAW_GAZE_COLUMNS)."""

    host_ns: int  # device time mapped onto the host clock
    values: np.ndarray  # shape (30,), float64
    device_us: Optional[int] = None  # device_time_stamp (µs), when the device has one
    system_us: Optional[int] = None  # system_time_stamp (µs), Tobii's host-side clock
    eye_openness: Optional[tuple] = None  # (left_mm, right_mm) where the device reports it


@dataclass(slots=True)
class SourceEvent:
    """Something a source reports besides data: connection lost/restored, overflow, rate change."""

    host_ns: int
    source: str  # which source said it ("tobii", "camera", ...)
    kind: str  # "connection_lost", "connection_restored", "buffer_overflow", "frequency_changed",
    # "end_of_stream", "error", "warning", "info"
    message: str  # readable by an experimenter
    data: dict = field(default_factory=dict)


@dataclass(slots=True)
class HeadOutput:
    """One prediction head (ER or FER)."""

    probs7: np.ndarray  # over labels.EMOTIONS_7
    probs3: np.ndarray  # over labels.CLASSES_3
    valence: float  # [-1, 1]
    arousal: float  # [-1, 1]
    intensity: Optional[float] = None  # FER only, [0, 3]

    @property
    def top7(self) -> str:
        return EMOTIONS_7[int(np.argmax(self.probs7))]

    @property
    def top3(self) -> str:
        return CLASSES_3[int(np.argmax(self.probs3))]

    def as_dict(self) -> dict:
        d = {
            "probs7": dict(zip(EMOTIONS_7, np.round(self.probs7.astype(float), 5).tolist())),
            "probs3": dict(zip(CLASSES_3, np.round(self.probs3.astype(float), 5).tolist())),
            "top7": self.top7,
            "top3": self.top3,
            "valence": round(float(self.valence), 5),
            "arousal": round(float(self.arousal), 5),
        }
        if self.intensity is not None:
            d["intensity"] = round(float(self.intensity), 5)
        return d


@dataclass(slots=True)
class GapMetrics:
    """The emotion gap between what the face shows (FER) and the inferred emotion (ER)."""

    jsd: float  # Jensen-Shannon divergence of the 7-class distributions, base 2, in [0, 1]
    top_disagree: bool  # the 7-class top labels differ
    top3_disagree: bool  # the 3-class top labels differ
    d_valence: float  # ER valence - FER valence
    d_arousal: float  # ER arousal - FER arousal

    def as_dict(self) -> dict:
        def num(x):  # NaN (a window without FER: nothing compared) is null in JSON
            return round(float(x), 5) if np.isfinite(x) else None

        return {
            "jsd": num(self.jsd),
            "top_disagree": bool(self.top_disagree),
            "top3_disagree": bool(self.top3_disagree),
            "d_valence": num(self.d_valence),
            "d_arousal": num(self.d_arousal),
        }


@dataclass(slots=True)
class EyeEffect:
    """What the eyes added to one window's ER: ER against the same window run with the eye input
    withheld (as a window without a gaze stream has it). emer_live.pipeline.eye_effect makes it."""

    jsd: float  # Jensen-Shannon divergence of ER and the eye-withheld ER (7 classes, base 2)
    top7: str  # ER's top class (with the eyes)
    top7_without: str  # the eye-withheld ER's top class
    d_valence: float  # ER valence - eye-withheld ER valence
    d_arousal: float  # ER arousal - eye-withheld ER arousal
    threshold: float  # jsd above this: the eyes' own effect counts (eye_effect.EYE_EFFECT_THRESHOLD)

    @property
    def shown(self) -> bool:
        return self.jsd > self.threshold

    def as_dict(self) -> dict:
        return {"jsd": round(float(self.jsd), 5), "top7": self.top7, "top7_without": self.top7_without,
                "d_valence": round(float(self.d_valence), 5), "d_arousal": round(float(self.d_arousal), 5),
                "threshold": self.threshold, "shown": self.shown}

    @classmethod
    def from_dict(cls, d: dict) -> "EyeEffect":
        return cls(float(d["jsd"]), str(d["top7"]), str(d["top7_without"]), float(d["d_valence"]),
                   float(d["d_arousal"]), float(d["threshold"]))


@dataclass(slots=True)
class Prediction:
    """The model's answer for one window."""

    window_end_ns: int  # host time of the window's end (its newest input)
    window_s: float
    er: HeadOutput
    fer: HeadOutput
    gap: GapMetrics
    provider: str  # execution provider really in use, e.g. "CUDAExecutionProvider"
    latency_ms: float  # newest input's capture time -> prediction available
    inference_ms: float  # model run time alone
    face_valid: int  # how many of the window's face frames had a face (of 8)
    eye_valid_fraction: float  # share of the window's gaze samples that were valid
    seq: int = 0  # window counter
    # `fer` is the face network's FER over the window (the mean of its per-frame FER) when the
    # model has one (fer_source "face_network"), else the model's FER head ("fer_head"). The
    # EMERT FER head, which also sees the eye input, is always kept under its own name.
    fer_head: Optional[HeadOutput] = None
    fer_frames: int = 0  # face frames the window's FER is the mean of
    fer_source: str = "fer_head"
    # How far the eye input lies from the model's training data (emer_live.features.eye_norm):
    # {"score", "threshold", "unfamiliar", "reason"}; None when the card has no guard or no eyes
    # were used. unfamiliar=True: the ER (and so the gap) cannot be trusted for this window.
    eye_check: Optional[dict] = None
    # What the eyes added (ER against the eye-withheld ER); None in sessions recorded before it.
    eye_effect: Optional[EyeEffect] = None

    @property
    def er_reliable(self) -> bool:
        return not (self.eye_check or {}).get("unfamiliar", False)

    @property
    def gap_claimed(self) -> bool:
        """A gap is the eyes' only where their own effect is beyond the threshold and the eye check
        passes; otherwise the reading is the face's."""
        return self.eye_effect is not None and self.eye_effect.shown and self.er_reliable

    def as_dict(self) -> dict:
        return {
            "seq": self.seq,
            "window_end_ns": self.window_end_ns,
            "window_s": self.window_s,
            "er": self.er.as_dict(),
            "fer": self.fer.as_dict(),
            "fer_source": self.fer_source,
            "fer_frames": self.fer_frames,
            **({"fer_head": self.fer_head.as_dict()} if self.fer_head is not None else {}),
            "gap": self.gap.as_dict(),
            "provider": self.provider,
            "latency_ms": round(self.latency_ms, 3),
            "inference_ms": round(self.inference_ms, 3),
            "face_valid": self.face_valid,
            "eye_valid_fraction": round(float(self.eye_valid_fraction), 4),
            "eye_check": self.eye_check,
            "eye_effect": self.eye_effect.as_dict() if self.eye_effect is not None else None,
        }
