"""Face pipeline, per frame: landmarks -> eye-corner alignment -> illumination normalisation -> crop.

- Landmarks: MediaPipe face mesh (legacy solution, 478 points with iris). Video mode tracks
  landmarks from frame to frame; static mode detects anew on every image. Up to max_num_faces
  faces are found; the largest (landmark bounding box area) is used and the result says so.
- Alignment: a similarity transform (rotation, uniform scale, translation) maps the outer eye
  corners (landmarks 33 and 263) onto fixed points of the crop, so the eyes are level, at the
  same height and the same distance apart in every crop (EYE_LEFT/EYE_RIGHT below, in crop
  fractions: the face from forehead to chin fits).
- Illumination normalisation: CLAHE on the L channel of Lab, applied to the aligned crop. The
  paper normalises before aligning; on the crop the histogram comes from the face alone rather
  than the room behind it, and it costs a 112x112 image instead of a full frame.
- Status: "ok"; "no_face"; "too_small" (outer eye corners closer than min_eye_distance_px in the
  frame: the crop would be upsampled noise, so none is given); "cut_off" (some landmarks lie
  outside the frame: the crop is given when both eye corners are inside and at most
  max_outside_fraction of the landmarks are out, its missing part filled by replicating the
  border; otherwise no crop). The message says which. Nothing is zero-filled silently.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from emer_live.errors import SourceError

RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the subject's right eye is on the image's left
# where the outer eye corners land in the crop, as fractions of its size (x, y)
EYE_LEFT = (0.28, 0.40)
EYE_RIGHT = (0.72, 0.40)


@dataclass
class FaceResult:
    status: str  # "ok" | "no_face" | "too_small" | "cut_off"
    n_faces: int
    box: Optional[tuple]  # (x0, y0, x1, y1) of the chosen face's landmarks, image px
    landmarks: Optional[np.ndarray]  # (478, 3) float32 px (z on the x scale)
    crop: Optional[np.ndarray]  # (S, S, 3) uint8 RGB, aligned and normalised
    message: str
    eye_distance_px: Optional[float] = None  # outer eye corners, in the frame
    roll_deg: Optional[float] = None  # head roll removed by the alignment

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def alignment_matrix(p_right: np.ndarray, p_left: np.ndarray, size: int) -> np.ndarray:
    """2x3 similarity transform taking the image's eye corners (33, 263) to the crop's template points."""
    src = np.array([p_right, p_left], np.float64)
    dst = np.array([EYE_LEFT, EYE_RIGHT], np.float64) * size
    vs, vd = src[1] - src[0], dst[1] - dst[0]
    scale = np.hypot(*vd) / np.hypot(*vs)
    ang = np.arctan2(vd[1], vd[0]) - np.arctan2(vs[1], vs[0])
    c, s = scale * np.cos(ang), scale * np.sin(ang)
    rot = np.array([[c, -s], [s, c]])
    t = dst[0] - rot @ src[0]
    return np.hstack([rot, t[:, None]])


@contextlib.contextmanager
def _native_stderr_silenced(active: bool):
    """MediaPipe's C++ graph prints INFO/W lines to fd 2 while it initialises (first frames);
    they mean nothing to a user and bury real messages, so fd 2 is muted for those calls."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FaceProcessor:
    def __init__(
        self,
        crop_size: int = 112,
        static_image_mode: bool = False,
        max_num_faces: int = 4,
        min_eye_distance_px: float = 20.0,
        max_outside_fraction: float = 0.15,
        min_detection_confidence: float = 0.5,
        clahe_clip: float = 2.0,
    ):
        self.crop_size = crop_size
        self.static_image_mode = static_image_mode
        self.min_eye_distance_px = min_eye_distance_px
        self.max_outside_fraction = max_outside_fraction
        with _native_stderr_silenced(True):
            try:
                import mediapipe as mp
            except ImportError as e:  # a broken install; say what is missing
                raise SourceError(f"face landmarks need the mediapipe package (0.10.21): {e}") from e
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static_image_mode,
                max_num_faces=max_num_faces,
                refine_landmarks=True,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=0.5,
            )
            # One run on a blank image makes the graph start its calculators now, inside the muted
            # block, instead of printing from its threads on the first real frame.
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))
        self._clahe = cv2.createCLAHE(clipLimit=clahe_clip, tileGridSize=(4, 4))
        self._graph_warmed = False

    def process(self, image_bgr: np.ndarray) -> FaceResult:
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            shape = None if image_bgr is None else (image_bgr.shape, image_bgr.dtype)
            raise ValueError(f"face pipeline needs an HxWx3 uint8 BGR image, got {shape}")
        h, w = image_bgr.shape[:2]
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        with _native_stderr_silenced(not self._graph_warmed):
            found = self._mesh.process(rgb).multi_face_landmarks or []
        self._graph_warmed = self._graph_warmed or bool(found)  # landmark model initialised
        if not found:
            return FaceResult("no_face", 0, None, None, None, "no face in the frame")
        faces = [np.array([(p.x * w, p.y * h, p.z * w) for p in f.landmark], np.float32) for f in found]
        areas = [np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]
        lm = faces[int(np.argmax(areas))]
        n = len(faces)
        several = f"{n} faces, the largest used; " if n > 1 else ""
        box = (float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max()))
        pr, pl = lm[RIGHT_EYE_OUTER, :2], lm[LEFT_EYE_OUTER, :2]
        iod = float(np.hypot(*(pl - pr)))
        roll = float(np.degrees(np.arctan2(pl[1] - pr[1], pl[0] - pr[0])))
        res = FaceResult("ok", n, box, lm, None, "", iod, roll)
        if iod < self.min_eye_distance_px:
            res.status = "too_small"
            res.message = f"{several}face too small: eyes {iod:.0f} px apart, need {self.min_eye_distance_px:.0f}; no crop"
            return res
        outside = (lm[:, 0] < 0) | (lm[:, 0] > w - 1) | (lm[:, 1] < 0) | (lm[:, 1] > h - 1)
        frac = float(outside.mean())
        if frac > 0:
            res.status = "cut_off"
            eyes_in = not (outside[RIGHT_EYE_OUTER] or outside[LEFT_EYE_OUTER])
            if not eyes_in or frac > self.max_outside_fraction:
                res.message = f"{several}face cut off by the frame edge ({frac:.0%} of landmarks outside); no crop"
                return res
            res.message = f"{several}face cut off by the frame edge ({frac:.0%} of landmarks outside); crop given, edge replicated"
        else:
            res.message = f"{n} faces, the largest used" if n > 1 else "face found"
        res.crop = self._crop(rgb, pr, pl)
        return res

    def _crop(self, rgb: np.ndarray, pr: np.ndarray, pl: np.ndarray) -> np.ndarray:
        s = self.crop_size
        m = alignment_matrix(pr, pl, s)
        crop = cv2.warpAffine(rgb, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)
        lab[:, :, 0] = self._clahe.apply(lab[:, :, 0])
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
