"""Lab Streaming Layer outlets (optional, pylsl): predictions, gap metrics, per-frame FER and markers, so
LabRecorder can record them beside EEG or other devices. docs/lsl.md lists the streams.

A pipeline sink (on_prediction and on_frame_fer only enqueue into liblsl's own buffer) plus push_marker() for the
session's markers. Timestamps are the window end / marker time, mapped from the host clock onto
LSL's clock (pylsl.local_clock), so they line up with other LSL streams on this machine.
"""

from __future__ import annotations

import threading
from typing import Optional

from emer_live.clock import now_ns
from emer_live.errors import EmerError
from emer_live.labels import CLASSES_3, EMOTIONS_7

PREDICTIONS = ("EMERLive-Predictions", "EmotionPrediction")
GAP = ("EMERLive-Gap", "EmotionGap")
FRAME_FER = ("EMERLive-FrameFER", "FacialExpression")
MARKERS = ("EMERLive-Markers", "Markers")


def prediction_channels() -> list[str]:
    chans = []
    for head in ("er", "fer"):
        chans += [f"{head}_p7_{e}" for e in EMOTIONS_7] + [f"{head}_p3_{c}" for c in CLASSES_3]
        chans += [f"{head}_valence", f"{head}_arousal"]
    # fer_* is the face network's FER over the window; the EMERT FER head (which also sees the
    # eyes) follows under its own name, with its intensity. Then the eye guard: eye_unfamiliar 1
    # when the eye input lies outside the model's training data (ER not to be trusted), 0 when
    # familiar, NaN without a guard; eye_check_score the guard's score.
    chans += ["fer_intensity", "face_valid", "eye_valid_fraction"]
    return (chans + [f"fer_head_p7_{e}" for e in EMOTIONS_7] + ["fer_head_valence", "fer_head_arousal"]
            + ["eye_unfamiliar", "eye_check_score"] + EYE_EFFECT_CHANNELS)


# What the eyes added (emer_live.pipeline.eye_effect): the JSD between ER and the eye-withheld ER,
# 1 when the eyes changed ER's top class, ER minus eye-withheld valence and arousal, and
# gap_claimed (1 when the effect is beyond its threshold and the eye check passes).
EYE_EFFECT_CHANNELS = ["eye_effect_jsd", "eye_effect_top_changed", "eye_effect_d_valence", "eye_effect_d_arousal",
                       "gap_claimed"]


# One sample per face-processed frame: the face network's 7 probabilities (NaN when the frame had
# no face crop) and face (1 = a face crop, 0 = none).
FRAME_FER_CHANNELS = [f"p7_{e}" for e in EMOTIONS_7] + ["face"]


GAP_CHANNELS = ["jsd", "top7_disagree", "top3_disagree", "d_valence", "d_arousal"]


def _outlet(pylsl, name: str, type_: str, channels: list[str], fmt, source_id: str):
    info = pylsl.StreamInfo(name, type_, len(channels), pylsl.IRREGULAR_RATE, fmt, f"{source_id}-{name}")
    chns = info.desc().append_child("channels")
    for c in channels:
        ch = chns.append_child("channel")
        ch.append_child_value("label", c)
        ch.append_child_value("unit", "probability" if "_p" in c else "normalised")
    info.desc().append_child_value("manufacturer", "EMER Live")
    return pylsl.StreamOutlet(info)


class LslOutlets:
    def __init__(self, source_id: str = "emer-live", model_name: str = ""):
        try:
            import pylsl
        except ImportError as e:
            raise EmerError(f"Lab Streaming Layer output needs the pylsl package ({e})") from None
        self._pylsl = pylsl
        self._lock = threading.Lock()
        # host clock -> LSL clock, measured once (both are monotonic clocks that do not drift apart).
        self._offset_s = pylsl.local_clock() - now_ns() / 1e9
        self.predictions = _outlet(pylsl, *PREDICTIONS, prediction_channels(), pylsl.cf_float32, source_id)
        self.gap = _outlet(pylsl, *GAP, GAP_CHANNELS, pylsl.cf_float32, source_id)
        self.frame_fer = _outlet(pylsl, *FRAME_FER, FRAME_FER_CHANNELS, pylsl.cf_float32, source_id)
        self.markers = _outlet(pylsl, *MARKERS, ["marker"], pylsl.cf_string, source_id)
        self.model_name = model_name

    def lsl_time(self, host_ns: int) -> float:
        return host_ns / 1e9 + self._offset_s

    def on_prediction(self, p) -> None:
        vals = []
        for head in (p.er, p.fer):
            vals += [float(x) for x in head.probs7] + [float(x) for x in head.probs3] + [float(head.valence), float(head.arousal)]
        head = p.fer_head
        nan = float("nan")
        vals += [float(head.intensity) if head is not None and head.intensity is not None else nan, float(p.face_valid),
                 float(p.eye_valid_fraction)]
        vals += ([float(x) for x in head.probs7] + [float(head.valence), float(head.arousal)] if head is not None
                 else [nan] * 9)
        chk = p.eye_check
        score = chk.get("score") if chk else None  # None: flagged by a rule, not the guard's score
        vals += [float(chk["unfamiliar"]), nan if score is None else float(score)] if chk else [nan, nan]
        fx = p.eye_effect
        vals += ([float(fx.jsd), float(fx.top7 != fx.top7_without), float(fx.d_valence), float(fx.d_arousal)]
                 if fx is not None else [nan] * 4) + [float(p.gap_claimed)]
        g = p.gap
        ts = self.lsl_time(p.window_end_ns)
        with self._lock:
            if self.predictions is None:
                return
            self.predictions.push_sample(vals, ts)
            self.gap.push_sample([float(g.jsd), float(g.top_disagree), float(g.top3_disagree),
                                  float(g.d_valence), float(g.d_arousal)], ts)

    def on_frame_fer(self, fer) -> None:
        vals = [float(x) for x in fer.probs7] + [1.0] if fer.probs7 is not None else [float("nan")] * 7 + [0.0]
        with self._lock:
            if self.frame_fer is None:
                return
            self.frame_fer.push_sample(vals, self.lsl_time(fer.host_ns))

    def push_marker(self, label: str, host_ns: Optional[int] = None) -> None:
        with self._lock:
            if self.markers is None:
                return
            self.markers.push_sample([label], self.lsl_time(host_ns or now_ns()))

    def close(self) -> None:
        # Dropping the outlets unregisters the streams.
        with self._lock:
            self.predictions = self.gap = self.frame_fer = self.markers = None
