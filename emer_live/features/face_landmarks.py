"""Face landmarks from frame to frame: MediaPipe's face landmark model, tracked without its graph.

One participant in front of a camera is the normal case. For that case MediaPipe's legacy face
mesh does, per frame: cut the face region (found from the previous frame's landmarks) out of the
image into 192x192, run its landmark network (face_landmark.tflite) on it, keep the result when
the network's face-presence score is at least the tracking threshold, and place the next frame's
region from the new landmarks. The network is under 2 ms of the about 3.4 ms that takes here; the
rest is the graph's packets, copies and threads. LandmarkTracker does the same steps with the same
network file, converted on load to ONNX (tflite_to_onnx.py) and run by ONNX Runtime on one thread:
on the shared videos, given the same region, its landmarks equal the face mesh's to 0.05 px at
most (tests/test_face_landmarks.py). Followed by itself over a whole video it stays a small
fraction of a pixel from the face mesh on average; the two runtimes' float rounding feeds back
through the region, so it is not the very same numbers.

A face is found (first frame, or after the face was lost) by MediaPipe's face mesh in static mode,
which runs its face detector and then the same landmark network. Unlike the face mesh, a lost face
is searched for again on the same frame, not the next one.

The region, as the face mesh graph places it (face_landmark_landmarks_to_roi): the landmarks'
bounding box, turned so that landmark 33 -> 263 (the outer eye corners) is level, made square on
its longer side in pixels, then scaled by 1.5. Landmarks come back as the face mesh gives them:
x, y normalised by the image width and height, z on the x scale.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

LANDMARK_INPUT = 192  # the network's input side, in pixels
ROI_SCALE = 1.5
TRACKING_THRESHOLD = 0.5  # the face mesh's min_tracking_confidence default
_ROTATION_FROM, _ROTATION_TO = 33, 263
_N_LANDMARKS = 468


@dataclass(frozen=True)
class FaceRegion:
    """A rotated square in the image, normalised by its width and height like MediaPipe's NormalizedRect."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float  # radians, as the face mesh measures it


def region_from_landmarks(lm: np.ndarray, image_w: int, image_h: int) -> FaceRegion:
    """The region the face mesh would search the next frame in, from (468, 3) normalised landmarks."""
    x0, y0 = float(lm[:, 0].min()), float(lm[:, 1].min())
    x1, y1 = float(lm[:, 0].max()), float(lm[:, 1].max())
    a, b = lm[_ROTATION_FROM], lm[_ROTATION_TO]
    rotation = -np.arctan2(-(b[1] - a[1]) * image_h, (b[0] - a[0]) * image_w)
    rotation = float(rotation - 2 * np.pi * np.floor((rotation + np.pi) / (2 * np.pi)))
    side = max((x1 - x0) * image_w, (y1 - y0) * image_h)
    return FaceRegion((x0 + x1) / 2, (y0 + y1) / 2, side / image_w * ROI_SCALE, side / image_h * ROI_SCALE, rotation)


def mediapipe_landmark_model_path() -> str:
    """face_landmark.tflite inside the installed mediapipe package (the model its face mesh runs)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the mediapipe package is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "modules", "face_landmark", "face_landmark.tflite")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"this mediapipe has no {path}")
    return path


@functools.lru_cache(maxsize=2)
def _converted(tflite_path: str) -> bytes:
    """The ONNX form of a landmark network file, converted once per process (0.2 s; the window
    builds a new face step whenever its sources change)."""
    from emer_live.features.tflite_to_onnx import tflite_to_onnx

    with open(tflite_path, "rb") as f:
        return tflite_to_onnx(f.read()).SerializeToString()


class FaceLandmarkModel:
    """MediaPipe's face landmark network through ONNX Runtime (CPU, one thread: it is small, and
    the pipeline gives the face step a thread of its own)."""

    def __init__(self, tflite_path: Optional[str] = None):
        import onnxruntime as ort

        onnx_bytes = _converted(tflite_path or mediapipe_landmark_model_path())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(onnx_bytes, sess_options=opts,
                                             providers=["CPUExecutionProvider"])
        outs = [o.name for o in self._session.get_outputs()]
        shapes = [o.shape for o in self._session.get_outputs()]
        if len(outs) != 2 or int(np.prod(shapes[0])) != _N_LANDMARKS * 3 or int(np.prod(shapes[1])) != 1:
            raise ValueError(f"not the face landmark network: outputs {list(zip(outs, shapes))}")
        self._outputs = outs
        self._input = self._session.get_inputs()[0].name
        s = LANDMARK_INPUT
        self._corners = np.array([[0, s], [0, 0], [s, 0]], np.float32)  # cv2.boxPoints' first three

    def close(self) -> None:
        self._session = None  # the session's thread pool goes with it

    def __call__(self, image_bgr: np.ndarray, region: FaceRegion) -> tuple[np.ndarray, float]:
        """(468, 3) normalised landmarks in the image and the face-presence score (0-1) in region."""
        h, w = image_bgr.shape[:2]
        box = ((region.x_center * w, region.y_center * h), (region.width * w, region.height * h),
               float(np.degrees(region.rotation)))
        warp = cv2.getAffineTransform(cv2.boxPoints(box)[:3].astype(np.float32), self._corners)
        patch = cv2.warpAffine(image_bgr, warp, (LANDMARK_INPUT, LANDMARK_INPUT), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        raw, flag = self._session.run(self._outputs, {self._input: patch[None]})
        score = float(1.0 / (1.0 + np.exp(-float(flag.reshape(-1)[0]))))
        p = raw.reshape(_N_LANDMARKS, 3) * np.float32(1.0 / LANDMARK_INPUT)
        c, s = np.cos(region.rotation), np.sin(region.rotation)
        x, y = p[:, 0] - 0.5, p[:, 1] - 0.5
        out = np.empty_like(p)
        out[:, 0] = (c * x - s * y) * region.width + region.x_center
        out[:, 1] = (s * x + c * y) * region.height + region.y_center
        out[:, 2] = p[:, 2] * region.width
        return out, score


class LandmarkTracker:
    """One face, frame to frame. find(image_bgr) -> list of (468, 3) normalised landmark arrays
    finds faces anew (MediaPipe's face mesh in static mode); the largest found is followed; between
    finds the landmark network follows that face by itself. Call with each frame in order; reset() forgets the face."""

    def __init__(self, find: Callable[[np.ndarray], list], model: Optional[FaceLandmarkModel] = None,
                 threshold: float = TRACKING_THRESHOLD):
        self._find = find
        self.model = model or FaceLandmarkModel()
        self.threshold = threshold
        self._region: Optional[FaceRegion] = None
        self.finds = 0  # how many frames needed a search (for the bench and tests)

    def reset(self) -> None:
        self._region = None

    def __call__(self, image_bgr: np.ndarray) -> list[np.ndarray]:
        """The tracked face's normalised landmarks as a one-element list, or [] with no face."""
        h, w = image_bgr.shape[:2]
        lm = None
        if self._region is not None:
            lm, score = self.model(image_bgr, self._region)
            if score < self.threshold:
                lm = None
        if lm is None:
            self.finds += 1
            found = self._find(image_bgr)
            # several faces found: follow the largest (landmark bounding box area, in pixels)
            lm = max(found, key=lambda f: np.ptp(f[:, 0]) * w * np.ptp(f[:, 1]) * h) if found else None
        self._region = None if lm is None else region_from_landmarks(lm, w, h)
        return [] if lm is None else [lm]
