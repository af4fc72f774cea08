"""Label sets shared by the runtime and the training package (the paper's order, Sec. III)."""

EMOTIONS_7 = ("happiness", "sadness", "fear", "surprise", "disgust", "anger", "neutral")
CLASSES_3 = ("positive", "negative", "neutral")

# 7-class -> 3-class coarse label. Surprise counts as positive, as in the paper's Fig. 7 grouping
# of coarse labels (positive: happiness, surprise; neutral: neutral; the rest negative).
SEVEN_TO_THREE = {
    "happiness": "positive",
    "surprise": "positive",
    "sadness": "negative",
    "fear": "negative",
    "disgust": "negative",
    "anger": "negative",
    "neutral": "neutral",
}
SEVEN_TO_THREE_INDEX = tuple(CLASSES_3.index(SEVEN_TO_THREE[e]) for e in EMOTIONS_7)

# Typical circumplex position of each basic emotion (valence, arousal) in [-1, 1]; used by the
# simulator and the synthetic data generator, never as a prediction (see CIRCUMPLEX_ANGLE_DEG for
# the mapping a class distribution is read with).
CIRCUMPLEX = {
    "happiness": (0.8, 0.5),
    "sadness": (-0.7, -0.4),
    "fear": (-0.6, 0.7),
    "surprise": (0.3, 0.8),
    "disgust": (-0.6, 0.3),
    "anger": (-0.7, 0.7),
    "neutral": (0.0, 0.0),
}

# Names labs write for the seven emotions (questionnaires, experiment software), read as the paper's.
EMOTION_SYNONYMS = {"happy": "happiness", "joy": "happiness", "joyful": "happiness", "sad": "sadness",
                    "afraid": "fear", "fearful": "fear", "scared": "fear", "surprised": "surprise",
                    "disgusted": "disgust", "angry": "anger", "neutrality": "neutral"}


def canonical_emotion(name: str) -> str | None:
    """A 7-class emotion name (case-insensitive, common synonyms accepted), or None if unknown."""
    n = name.strip().lower()
    n = EMOTION_SYNONYMS.get(n, n)
    return n if n in EMOTIONS_7 else None


# The one mapping from a class distribution to valence and arousal (used for every FER readout that
# has no trained valence/arousal output): each class sits on the unit circle at the angle its
# affect word has in Russell's circumplex (J. A. Russell, "A circumplex model of affect", J. Pers.
# Soc. Psychol. 39(6):1161-1178, 1980, direct circular scaling of 28 affect words; 0 deg = pleasure,
# 90 deg = arousal): happy 7.8, astonished 69.8 (surprise), angry 99.0, afraid 116.0, sad 207.5.
# Disgust is not among Russell's 28 words; it takes "annoyed" (123.0), the nearest unpleasant,
# moderately aroused word. Neutral sits at the origin. A distribution's valence and arousal are
# the probability-weighted mean of these positions, so a face read as 100% happiness has valence
# +0.99 and arousal +0.14, and a flat distribution sits near the centre.
CIRCUMPLEX_ANGLE_DEG = {
    "happiness": 7.8,
    "surprise": 69.8,
    "anger": 99.0,
    "fear": 116.0,
    "disgust": 123.0,
    "sadness": 207.5,
    "neutral": None,  # origin
}


def _positions():
    import numpy as np

    pos = np.zeros((len(EMOTIONS_7), 2))
    for i, e in enumerate(EMOTIONS_7):
        a = CIRCUMPLEX_ANGLE_DEG[e]
        if a is not None:
            pos[i] = np.cos(np.radians(a)), np.sin(np.radians(a))
    return pos


CIRCUMPLEX_POSITIONS = _positions()  # (7, 2) valence, arousal per EMOTIONS_7 class


def probs3_of(probs7):
    """The 3-class summary of a 7-class distribution: each coarse class is the sum of its members
    (SEVEN_TO_THREE: positive = happiness + surprise, neutral = neutral, negative = the rest)."""
    import numpy as np

    p = np.asarray(probs7, np.float64)
    out = np.zeros(p.shape[:-1] + (len(CLASSES_3),))
    for i, j in enumerate(SEVEN_TO_THREE_INDEX):
        out[..., j] += p[..., i]
    return out


def valence_arousal_of(probs7) -> tuple[float, float]:
    """Valence and arousal of a 7-class distribution by CIRCUMPLEX_ANGLE_DEG (probability-weighted)."""
    import numpy as np

    va = np.asarray(probs7, np.float64) @ CIRCUMPLEX_POSITIONS
    return float(va[0]), float(va[1])
