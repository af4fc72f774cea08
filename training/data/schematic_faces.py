"""Procedurally drawn schematic faces (OpenCV), one look per basic expression.

They let the image path of EMERT (face CNN over 112x112 RGB crops) train end to end on the
synthetic set. Expressions differ the way FACS describes them, coarsely: mouth curvature and
opening, brow height and slant, eye openness. Participants differ in skin tone, face size and
position; frames differ by small jitter and noise.
"""

from __future__ import annotations

import cv2
import numpy as np

# expression -> (mouth_curve, mouth_open, brow_raise, brow_slant, eye_open)
#  mouth_curve > 0: corners up; brow_slant > 0: inner ends raised (sad, afraid), < 0: frown.
_SHAPES = {
    "happiness": (1.0, 0.35, 0.1, 0.0, 0.45),
    "sadness": (-0.8, 0.0, 0.2, 0.9, 0.55),
    "fear": (-0.3, 0.6, 0.8, 0.6, 1.0),
    "surprise": (0.0, 1.0, 1.0, 0.0, 1.0),
    "disgust": (-0.5, 0.15, -0.3, -0.4, 0.4),
    "anger": (-0.4, 0.1, -0.5, -1.0, 0.65),
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.7),
}
_NEUTRAL = np.asarray(_SHAPES["neutral"])


def participant_look(rng: np.random.Generator) -> dict:
    """Per-participant appearance: skin/background colour (BGR), face scale and offset."""
    skin = rng.uniform(110, 250) * np.array([0.6, 0.75, 1.0]) * rng.uniform(0.9, 1.1, size=3)  # BGR, R > G > B
    return {
        "skin": skin,
        "bg": rng.uniform(20, 235, size=3),
        "scale": rng.uniform(0.85, 1.1),
        "offset": rng.uniform(-5, 5, size=2),
    }


def draw_face(expression: str, intensity: float, look: dict, rng: np.random.Generator,
              size: int = 112) -> np.ndarray:
    """One (size,size,3) uint8 RGB face showing `expression` at `intensity` in [0, 3]."""
    k = float(np.clip(intensity / 3.0, 0.0, 1.0))
    mc, mo, br, bs, eo = _NEUTRAL + k * (np.asarray(_SHAPES[expression]) - _NEUTRAL)
    s = size / 112.0 * look["scale"]
    cx, cy = size / 2 + look["offset"][0] + rng.normal(0, 1.5), size / 2 + look["offset"][1] + rng.normal(0, 1.5)

    def p(x, y):
        return int(round(cx + x * s)), int(round(cy + y * s))

    img = np.empty((size, size, 3), np.uint8)
    img[:] = np.clip(look["bg"], 0, 255).astype(np.uint8)
    cv2.ellipse(img, p(0, 0), (int(40 * s), int(50 * s)), 0, 0, 360, look["skin"].tolist(), -1, cv2.LINE_AA)
    dark = (30, 30, 40)
    for side in (-1, 1):
        # eyes: openness sets the vertical radius
        cv2.ellipse(img, p(side * 15, -10), (int(7 * s), max(1, int(6 * eo * s))), 0, 0, 360, (245, 245, 245), -1, cv2.LINE_AA)
        cv2.circle(img, p(side * 15, -10), max(1, int(2.5 * s)), dark, -1, cv2.LINE_AA)
        # brows: inner end (near the nose) moves with slant, whole brow with raise
        y_outer = -22 - 6 * br
        y_inner = y_outer - 5 * bs
        cv2.line(img, p(side * 24, y_outer), p(side * 7, y_inner), dark, max(1, int(2.5 * s)), cv2.LINE_AA)
    # mouth: upper lip a parabola with corners raised by curvature, lower lip opened below it
    xs = np.linspace(-14, 14, 15)
    upper = 25 - 7 * mc * (xs / 14) ** 2
    lower = upper + 12 * mo * (1 - (xs / 14) ** 2)
    up_pts = np.array([p(x, y) for x, y in zip(xs, upper)], np.int32)
    lo_pts = np.array([p(x, y) for x, y in zip(xs, lower)], np.int32)
    if mo > 0.05:
        cv2.fillPoly(img, [np.vstack([up_pts, lo_pts[::-1]])], (40, 20, 60), cv2.LINE_AA)
    cv2.polylines(img, [up_pts], False, (60, 40, 140), max(1, int(2 * s)), cv2.LINE_AA)
    noisy = img.astype(np.float32) * rng.uniform(0.85, 1.15) + rng.normal(0, 6, img.shape)
    return cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)
