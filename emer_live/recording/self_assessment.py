"""Self-Assessment Manikin (SAM) answers, turned into the session's ER labels.

As in the paper's ER labelling, the participant rates valence and arousal on the 9-point SAM
scales after a stimulus and picks one of the 7 emotions; the answer labels the stimulus
segment (onset to offset). Scores map linearly onto the paper's [-1, 1]: 1 -> -1, 5 -> 0, 9 -> 1.
"""

from __future__ import annotations

import numpy as np

from emer_live.errors import RecordingError
from emer_live.labels import EMOTIONS_7, SEVEN_TO_THREE
from emer_live.recording.layout import LabelledSegment

SAM_MIN, SAM_MAX = 1, 9


def sam_to_unit(score: int) -> float:
    return (float(score) - 5.0) / 4.0


def check_answer(valence: int, arousal: int, emotion7: str) -> None:
    for name, v in (("valence", valence), ("arousal", arousal)):
        if not (isinstance(v, (int, np.integer)) and SAM_MIN <= v <= SAM_MAX):
            raise RecordingError(f"SAM {name} must be a whole number from {SAM_MIN} to {SAM_MAX}, got {v!r}")
    if emotion7 not in EMOTIONS_7:
        raise RecordingError(f"Emotion {emotion7!r} is not one of {list(EMOTIONS_7)}")


def er_segment(start_ns: int, end_ns: int, valence: int, arousal: int, emotion7: str) -> LabelledSegment:
    """The ER label of one stimulus segment from one SAM answer."""
    check_answer(valence, arousal, emotion7)
    if end_ns <= start_ns:
        raise RecordingError(f"Self-assessment segment ends ({end_ns}) before it starts ({start_ns})")
    return LabelledSegment(start_ns=int(start_ns), end_ns=int(end_ns), er7=emotion7, er3=SEVEN_TO_THREE[emotion7],
                           er_va=np.array([sam_to_unit(valence), sam_to_unit(arousal)]), source="self_assessment")
