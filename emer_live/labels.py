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
# simulator and the synthetic data generator, never as a prediction.
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
EMOTION_SYNONYMS = {"happy": "happiness", "sad": "sadness", "afraid": "fear", "fearful": "fear",
                    "scared": "fear", "surprised": "surprise", "disgusted": "disgust", "angry": "anger",
                    "neutrality": "neutral"}


def canonical_emotion(name: str) -> str | None:
    """A 7-class emotion name (case-insensitive, common synonyms accepted), or None if unknown."""
    n = name.strip().lower()
    n = EMOTION_SYNONYMS.get(n, n)
    return n if n in EMOTIONS_7 else None
