"""What the eyes add to a window's ER, and the rule that keeps ER from contradicting the face
without cause.

The fusion model runs each window twice in one batch: with its real eye input and with the eye
input withheld exactly as a window without a gaze stream has it (engine.neutral_eye()). The
divergence between the two ERs is the eyes' own effect. A gap between ER and the face's FER is
the eyes' finding only where that effect is beyond EYE_EFFECT_THRESHOLD and the eye check passes;
otherwise the reading is the face's (Prediction.gap_claimed).
"""

from __future__ import annotations

from typing import Optional

from emer_live.pipeline.gap import js_divergence
from emer_live.types import EyeEffect, HeadOutput

# Jensen-Shannon divergence (bits) between ER and the eye-withheld ER above which the eyes' own
# effect counts. Chosen on eyes that are by construction not the filmed person's: the public TX300
# participant1 recording beside the shared Pexels video moves ER by at most 0.047 as a Tobii SDK log
# and 0.216 as a Pro Lab or Studio export (which columns a file has moves ER more than whose eyes
# they are). An effect unrelated eyes make is no evidence, so the threshold stands above the
# largest of them, rounded up: 0.25. Reported figures come from other people's eyes
# (research/eye_effect_check.py; docs/architecture.md, "What the eyes add").
EYE_EFFECT_THRESHOLD = 0.25
# Above this top probability, an ER that names another class than the face's FER is a confident
# contradiction: claimed only with the eyes' own effect behind it.
CONFIDENT_ER_P = 0.6
CONTRADICTION_REASON = "ER contradicts the face without an eye effect beyond threshold"


def eye_effect(er: HeadOutput, er_without: HeadOutput, threshold: float = EYE_EFFECT_THRESHOLD) -> EyeEffect:
    """ER (with the eyes) against the same window's ER with the eye input withheld."""
    return EyeEffect(jsd=js_divergence(er.probs7, er_without.probs7), top7=er.top7, top7_without=er_without.top7,
                     d_valence=float(er.valence) - float(er_without.valence),
                     d_arousal=float(er.arousal) - float(er_without.arousal), threshold=float(threshold))


def confident_contradiction(er: HeadOutput, fer: HeadOutput) -> bool:
    return er.top7 != fer.top7 and float(er.probs7.max()) > CONFIDENT_ER_P


def check_contradiction(check: Optional[dict], er: HeadOutput, fer: HeadOutput, effect: EyeEffect) -> Optional[dict]:
    """The window's eye check, flagged when ER confidently contradicts the face's FER and neither
    the eyes' own effect nor a passing eye check stands behind it (an already failed check keeps
    its own reason first). A contradiction the eye-withheld ER makes as well is the face path's,
    not the eyes', so it is flagged too."""
    if not confident_contradiction(er, fer):
        return check
    if effect.shown and not (check or {}).get("unfamiliar", False):
        return check
    out = dict(check) if check else {"score": None, "threshold": None, "unfamiliar": False, "reason": ""}
    reasons = [r for r in (out.get("reason"), CONTRADICTION_REASON) if r]
    out.update(unfamiliar=True, reason="; ".join(reasons), contradiction=True)
    return out
