"""The experimenter's quick check of the model against the participant's own report: for each
self-assessment answer, the ER the model gave over the segment it rates, side by side, and the
agreement over the session.

The model's ER over a segment is the mean of its 7-class ER probabilities (and valence, arousal)
over every prediction whose window ends inside the segment; SAM scores map to [-1, 1] as in
self_assessment.py. A segment with no prediction inside is reported as such, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from emer_live.labels import EMOTIONS_7
from emer_live.recording.self_assessment import sam_to_unit


NEUTRAL_BAND = 0.125  # |valence| below this counts as neutral (SAM 5 maps to 0, 4 and 6 to -/+0.25)


def _sign(v: float) -> int:
    return 0 if abs(v) < NEUTRAL_BAND else (1 if v > 0 else -1)


@dataclass
class AnswerVsModel:
    host_ns: int
    start_ns: int
    end_ns: int
    stimulus: str
    emotion7: str  # the participant's answer
    valence: float  # SAM mapped to [-1, 1]
    arousal: float
    n_predictions: int
    model_emotion7: Optional[str] = None  # None: no prediction in the segment
    model_valence: Optional[float] = None
    model_arousal: Optional[float] = None

    @property
    def emotion_match(self) -> Optional[bool]:
        return None if self.model_emotion7 is None else self.model_emotion7 == self.emotion7

    @property
    def valence_same_sign(self) -> Optional[bool]:
        if self.model_valence is None:
            return None
        return _sign(self.valence) == _sign(self.model_valence)


def compare_answers(answers: list[dict], predictions: list[dict]) -> list[AnswerVsModel]:
    """answers: SessionReader.self_assessment() rows; predictions: recorded prediction dicts."""
    ends = np.array([p["window_end_ns"] for p in predictions], dtype=np.int64)
    out = []
    for a in answers:
        start, end = int(a["onset_ns"]), int(a["offset_ns"])
        idx = np.flatnonzero((ends > start) & (ends <= end))
        row = AnswerVsModel(int(a["host_ns"]), start, end, a.get("stimulus", "") or "", a["emotion7"],
                            sam_to_unit(a["valence"]), sam_to_unit(a["arousal"]), len(idx))
        if len(idx):
            er = [predictions[i]["er"] for i in idx]
            probs = np.mean([[e["probs7"][k] for k in EMOTIONS_7] for e in er], axis=0)
            row.model_emotion7 = EMOTIONS_7[int(np.argmax(probs))]
            row.model_valence = float(np.mean([e["valence"] for e in er]))
            row.model_arousal = float(np.mean([e["arousal"] for e in er]))
        out.append(row)
    return out


def session_agreement(rows: list[AnswerVsModel]) -> dict:
    """Counts over the answers that had model output: emotion matches, valence of the same sign,
    mean absolute valence and arousal differences (on [-1, 1])."""
    rated = [r for r in rows if r.model_emotion7 is not None]
    n = len(rated)
    return {
        "answers": len(rows),
        "with_model_output": n,
        "emotion_matches": sum(bool(r.emotion_match) for r in rated),
        "valence_same_sign": sum(bool(r.valence_same_sign) for r in rated),
        "mean_abs_valence_diff": float(np.mean([abs(r.valence - r.model_valence) for r in rated])) if n else None,
        "mean_abs_arousal_diff": float(np.mean([abs(r.arousal - r.model_arousal) for r in rated])) if n else None,
    }


def agreement_sentence(summary: dict) -> str:
    n = summary["with_model_output"]
    if not summary["answers"]:
        return "No self-assessment in this session."
    if not n:
        return f"{summary['answers']} answer(s), none with model output over its segment."
    return (f"Model ER vs the participant: emotion matches {summary['emotion_matches']} of {n}, valence of the same "
            f"sign {summary['valence_same_sign']} of {n}; mean |difference| valence "
            f"{summary['mean_abs_valence_diff']:.2f}, arousal {summary['mean_abs_arousal_diff']:.2f} (scale -1..1)"
            + (f"; {summary['answers'] - n} answer(s) without model output" if summary["answers"] > n else ""))
