"""Face pipeline, per frame: landmarks -> crop by the model's recipe.

- Landmarks: MediaPipe's face landmark model. 468 points; 478 with the iris-refined model, used
  only when asked for (iris_landmarks=True: nothing in the app reads the iris points, and the
  refined model costs more per frame). One face is tracked by default (video input, one face, no
  iris): face_landmarks.LandmarkTracker runs the face mesh's landmark network from frame to frame
  itself (about 1.5 ms a frame less than the face mesh graph, the same landmarks to a fraction of
  a pixel) and the face mesh in static mode only to find a face (up to FIND_FACES of them, the
  largest followed); tracker=False runs the face mesh
  graph in video mode instead (what input run as fast as possible uses: Pipeline track_landmarks).
  With more faces allowed, the face mesh graph runs (it keeps running its face detector on every
  frame while fewer faces than the maximum are in view); the largest face (landmark bounding box
  area) is used and the result says how many there were. Static mode detects anew on every image.
- Crop: emer_live.features.face_crop, by the recipe the model card gives (eye-corner template,
  rotation or not, illumination normalisation, padding of off-frame parts): each face encoder
  gets the crop it was trained on. Placed by the landmarks through the recipe's template. With
  fer_box="detector" (FER2013 framing only; slower, see docs/performance.md; not for live input by
  default) the per-frame FER gets a second crop (fer_crop) placed by `fer`'s Haar detector run in
  the landmark ROI (face_box.py), the template's where it finds nothing there (FaceResult.placed_by
  says which). Where the detector found the face and the face graph resizes to 64x64 (recipe
  sample_grid 64), that crop is `fer`'s own 64x64 input lifted exactly (fer_input.py): float32 gray
  levels, the same in all three channels, which the graph turns back into that input to float
  precision. The window model reads the template's uint8 crop either way. With fer_box="tracked"
  (the live framing, face_box.TrackedPlacement) that detector runs for a new face and on any
  frame whose FER reading of the carried box is a near tie (with a FER reader attached:
  attach_fer_reader, which the pipeline does; without one, at a fixed cadence); its box is carried
  by the eye corners on the other frames. The near-tie runs go to a detector thread of their own
  (detector_thread, on by default): the frame's result then carries fer_pending, and the pipeline
  writes that frame's FER from the run once it is done, in frame order. With either detector
  setting a frame where the landmarks find no face runs `fer`'s detector over the whole frame and
  reads the face it finds.
  new_face marks a face's first frame (after none, or where the box jumped: another person).
- Status: "ok"; "no_face"; "too_small" (outer eye corners closer than min_eye_distance_px in the
  frame: the crop would be upsampled noise, so none is given); "cut_off" (some landmarks lie
  outside the frame: the crop is given when both eye corners are inside and at most
  max_outside_fraction of the landmarks are out, its missing part filled as the recipe says;
  otherwise no crop). The message says which. Nothing is zero-filled silently.
"""

from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from emer_live.errors import SourceError

from emer_live.features.face_box import (DEFAULT_FER_BOX, DetectorPlacement, FerTieCheck, TrackedPlacement,
                                         check_fer_box, eye_points_of_box, fer_crop_box)
from emer_live.features.face_crop import LEFT_EYE_OUTER, LEGACY_RECIPE, RIGHT_EYE_OUTER, CropRecipe, FaceCropper
from emer_live.features.face_landmarks import LandmarkTracker

__all__ = ["FaceProcessor", "FaceResult", "LEFT_EYE_OUTER", "RIGHT_EYE_OUTER"]

FIND_FACES = 4  # faces the landmark tracker's finder considers, to follow the largest


@dataclass
class FaceResult:
    status: str  # "ok" | "no_face" | "too_small" | "cut_off"
    n_faces: int
    box: Optional[tuple]  # (x0, y0, x1, y1) of the chosen face's landmarks, image px
    landmarks: Optional[np.ndarray]  # (468, 3) or (478, 3) with iris, float32 px (z on the x scale)
    # (S, S, 3) uint8 RGB by the model's crop recipe and its landmark template: what the window
    # model reads and a recording keeps.
    crop: Optional[np.ndarray]
    message: str
    eye_distance_px: Optional[float] = None  # outer eye corners, in the frame
    roll_deg: Optional[float] = None  # head roll removed by the alignment
    # A replay hands back the per-frame FER it recorded (fer_recorded True; fer_probs None = no face).
    fer_recorded: bool = False
    fer_probs: Optional[np.ndarray] = None
    # With fer_box "detector" or "tracked": which box placed the per-frame FER's crop: "detector"
    # (this frame's detector box), "tracked" (the detector's box carried by the landmarks), or
    # "template" (no detector box for this face); None when the template places every crop.
    placed_by: Optional[str] = None
    # The crop the per-frame FER reads where it is not `crop`: the detector-placed FER2013 crop
    # (float32 gray levels, fer_input.ExactLift; show it through fer_input.crop_image). The window
    # model keeps reading `crop`, the crop it was trained on, so the setting moves the FER only.
    fer_crop: Optional[np.ndarray] = None
    # fer_box "tracked" with a FER reader attached: the face encoder's embedding of fer_crop, where
    # the placement already computed it (so the per-frame FER does not run the encoder twice).
    fer_embedding: Optional[np.ndarray] = None
    # fer_box "tracked", a near tie sent to the detector thread: a Future of its run (face_box.
    # DetectorRead, or None where it found nothing). This frame's per-frame FER is then read from
    # it once done (fer_crop and fer_embedding being the carried box's until then).
    fer_pending: Optional[Future] = None
    # True on the first frame of a face: after a frame without one, or where the face's box jumped
    # (another person took its place): the per-frame FER's smoothing restarts there.
    new_face: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# A NormalizedLandmarkList on the wire, when every landmark holds exactly x, y and z (what the face
# mesh gives): per landmark a length-delimited field 1 of 15 bytes, three 32-bit floats tagged 1-3.
_WIRE_LANDMARK = np.dtype([("tag", "u1"), ("len", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"),
                           ("tz", "u1"), ("z", "<f4")])
_WIRE_TAGS = {"tag": 0x0A, "len": 15, "tx": 0x0D, "ty": 0x15, "tz": 0x1D}


def landmarks_from_wire(wire: bytes, n: int) -> Optional[np.ndarray]:
    """(n, 3) float32 normalised x, y, z from a serialised NormalizedLandmarkList of n landmarks,
    or None when its layout is not the plain one (a value left unset, extra fields)."""
    if len(wire) != _WIRE_LANDMARK.itemsize * n:
        return None
    rec = np.frombuffer(wire, _WIRE_LANDMARK)
    if not all((rec[k] == v).all() for k, v in _WIRE_TAGS.items()):
        return None
    return np.stack([rec["x"], rec["y"], rec["z"]], axis=1)


def landmark_array(landmark_list) -> np.ndarray:
    """(n, 3) float32 normalised x, y, z of a MediaPipe landmark list. Read from its serialised
    form in a few numpy calls (reading 468 protobuf objects one attribute at a time costs about
    0.3 ms a frame); a list in any other form (a value left unset, extra fields) is read point by
    point, with the same result."""
    n = len(landmark_list.landmark)
    fast = landmarks_from_wire(landmark_list.SerializeToString(), n)
    if fast is not None:
        return fast
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], np.float32).reshape(n, 3)


_LANDMARKS_STREAM = "multi_face_landmarks"
_LANDMARK_LIST_TYPE = "mediapipe.NormalizedLandmarkList"


class _MeshRunner:
    """Runs the legacy face mesh graph on one RGB image as its process() does (the same packet,
    the same simulated 30 fps timestamps, the same wait), and reads the landmark lists straight
    from their serialised form. process() also builds a new namedtuple class on every call and
    turns each list into protobuf objects, which the face step would serialise again to read:
    about 0.5 ms of one core a frame, for the very same values. If this MediaPipe's solution
    object lacks what this relies on, process() is used instead."""

    def __init__(self, mesh):
        self.mesh = mesh
        try:
            from mediapipe.python._framework_bindings import _packet_getter

            types = mesh._input_stream_type_info
            self._stream = next(iter(types))
            self._type = types[self._stream]
            self._size = _packet_getter._get_proto_vector_size
            self._type_name = _packet_getter._get_proto_vector_element_type_name
            self._blobs = _packet_getter._get_serialized_proto_list
            ok = (len(types) == 1 and list(mesh._output_stream_type_info) == [_LANDMARKS_STREAM]
                  and all(hasattr(mesh, a) for a in ("_graph", "_graph_outputs", "_simulated_timestamp",
                                                     "_make_packet")))
        except (AttributeError, ImportError, StopIteration):
            ok = False
        self.direct = ok

    def __call__(self, image_bgr: np.ndarray) -> list[np.ndarray]:
        """The (n, 3) normalised landmarks of each face found, in the graph's order."""
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        if not self.direct:
            return [landmark_array(f) for f in self.mesh.process(rgb).multi_face_landmarks or []]
        m = self.mesh
        m._graph_outputs.clear()
        m._simulated_timestamp += 33333
        m._graph.add_packet_to_input_stream(stream=self._stream,
                                            packet=m._make_packet(self._type, rgb).at(m._simulated_timestamp))
        m._graph.wait_until_idle()
        out = m._graph_outputs.get(_LANDMARKS_STREAM)
        if out is None or out.is_empty() or self._size(out) == 0:
            return []
        if self._type_name(out) != _LANDMARK_LIST_TYPE:
            raise SourceError(f"face mesh gave {self._type_name(out)}, expected {_LANDMARK_LIST_TYPE}")
        faces = []
        for wire in self._blobs(out):
            lm = landmarks_from_wire(wire, len(wire) // _WIRE_LANDMARK.itemsize)
            if lm is None:  # not the plain layout: read it as process() would
                from mediapipe.framework.formats import landmark_pb2

                lm = landmark_array(landmark_pb2.NormalizedLandmarkList.FromString(wire))
            faces.append(lm)
        return faces


def native_work_in_calling_thread() -> None:
    """Make OpenCV and numpy's BLAS run every call in the thread that makes it. Their worker pools
    split a small call across the cores and then keep their workers spinning for a while after
    each call: at 30 frames a second OpenCV's spinning took about 2% of a core on a 2-core
    machine, and BLAS's, after the small matrix products of the live FER framing's crop lift
    (fer_input.ExactLift), a whole second core, for no gain in speed. The pipeline already gives
    each stage a thread of its own. (Process-wide: each library has one setting for it.)"""
    if cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # stays set: only restore_original_limits() undoes it


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
        max_num_faces: int = 1,
        min_eye_distance_px: float = 20.0,
        max_outside_fraction: float = 0.15,
        min_detection_confidence: float = 0.5,
        recipe: CropRecipe = LEGACY_RECIPE,
        iris_landmarks: bool = False,
        fer_box: str = DEFAULT_FER_BOX,
        tracker: bool = True,
        detector_thread: bool = True,
    ):
        if max_num_faces < 1:
            raise ValueError("max_num_faces must be at least 1")
        check_fer_box(fer_box, recipe)
        self.fer_box = fer_box
        self._placement = (DetectorPlacement(recipe, crop_size) if fer_box == "detector"
                           else TrackedPlacement(recipe, crop_size, background=detector_thread)
                           if fer_box == "tracked" else None)
        self._last_box = None  # the face read on the previous frame (identity check)
        self.crop_size = crop_size
        self.max_num_faces = max_num_faces
        self.iris_landmarks = iris_landmarks
        self.recipe = recipe
        self.static_image_mode = static_image_mode
        self.min_eye_distance_px = min_eye_distance_px
        self.max_outside_fraction = max_outside_fraction
        native_work_in_calling_thread()
        with _native_stderr_silenced(True):
            try:
                import mediapipe as mp
            except ImportError as e:  # a broken install; say what is missing
                raise SourceError(f"face landmarks need the mediapipe package (0.10.21): {e}") from e

            def face_mesh(static: bool, faces: int = max_num_faces):
                mesh = mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=static,
                    max_num_faces=faces,
                    refine_landmarks=iris_landmarks,
                    min_detection_confidence=min_detection_confidence,
                    min_tracking_confidence=0.5,
                )
                # One run on a blank image makes the graph start its calculators now, inside the
                # muted block, instead of printing from its threads on the first real frame.
                mesh.process(np.zeros((64, 64, 3), np.uint8))
                return mesh

            track = tracker and not static_image_mode and max_num_faces == 1 and not iris_landmarks
            # The tracker's finder looks for up to FIND_FACES faces (only on the frames where it
            # searches) so that the largest one in view is the one followed, not the first found.
            self._mesh = face_mesh(static_image_mode or track, FIND_FACES if track else max_num_faces)
            self._landmarks = _MeshRunner(self._mesh)
            self.landmarks_by = "face mesh (static)" if static_image_mode else "face mesh (video)"
            if track:
                try:
                    self._landmarks = LandmarkTracker(self._landmarks)
                    self.landmarks_by = "landmark model tracked, face mesh to find"
                except Exception as e:  # noqa: BLE001 - any failure (a mediapipe without the model
                    # file, a file that does not convert or load) leaves the face mesh graph, which
                    # does the same work; the reason is kept in landmarks_by.
                    self._mesh.close()
                    self._mesh = face_mesh(False)
                    self._landmarks = _MeshRunner(self._mesh)
                    self.landmarks_by = f"face mesh (video): the landmark model cannot be run directly: {e}"
        self._cropper = FaceCropper(recipe, crop_size)
        self._graph_warmed = False

    def process(self, image_bgr: np.ndarray) -> FaceResult:
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            shape = None if image_bgr is None else (image_bgr.shape, image_bgr.dtype)
            raise ValueError(f"face pipeline needs an HxWx3 uint8 BGR image, got {shape}")
        h, w = image_bgr.shape[:2]
        with _native_stderr_silenced(not self._graph_warmed):
            found = self._landmarks(image_bgr)
        self._graph_warmed = self._graph_warmed or bool(found)  # landmark model initialised
        if not found:
            self._last_box = None
            return self._detector_only(image_bgr)
        scale = np.array([w, h, w], np.float32)
        faces = [f * scale for f in found]
        areas = [np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]
        lm = faces[int(np.argmax(areas))]
        n = len(faces)
        several = f"{n} faces, the largest used; " if n > 1 else ""
        box = (float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max()))
        pr, pl = lm[RIGHT_EYE_OUTER, :2], lm[LEFT_EYE_OUTER, :2]
        iod = float(np.hypot(*(pl - pr)))
        roll = float(np.degrees(np.arctan2(pl[1] - pr[1], pl[0] - pr[0])))
        res = FaceResult("ok", n, box, lm, None, "", iod, roll, new_face=self._is_new_face(box))
        if res.new_face and isinstance(self._placement, TrackedPlacement):
            self._placement.reset()
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
            res.message = f"{several}face cut off by the frame edge ({frac:.0%} of landmarks outside); crop given, off-frame part {self._fill}"
        else:
            res.message = f"{n} faces, the largest used" if n > 1 else "face found"
        res.crop = self._crop(image_bgr, pr, pl)
        crop_at = lambda right, left: self._crop(image_bgr, right, left)  # noqa: E731
        if isinstance(self._placement, TrackedPlacement):
            res.fer_crop, res.placed_by, res.fer_embedding, res.fer_pending = self._placement(
                image_bgr, box, pr, pl, crop_at)
        elif self._placement is not None:
            res.fer_crop = self._placement(image_bgr, box, crop_at)
            res.placed_by = "template" if res.fer_crop is None else "detector"
        return res

    def attach_fer_reader(self, embed, probs) -> None:
        """Let the live framing read the per-frame FER of the crops it carries (face_box.FerTieCheck:
        embed = the face encoder on crops, probs = an embedding's 7 class probabilities): a near tie
        gets the detector's own box. The embedding it computed comes back as FaceResult.fer_embedding."""
        if isinstance(self._placement, TrackedPlacement):
            self._placement.check = FerTieCheck(embed, probs)

    def _is_new_face(self, box) -> bool:
        """Another face than the previous frame's: none then, or its landmark box moved by more than
        half its width or changed size by more than half (a face moves far less in a frame)."""
        last, self._last_box = self._last_box, box
        if last is None:
            return True
        w0, w1 = last[2] - last[0], box[2] - box[0]
        jump = np.hypot((box[0] + box[2] - last[0] - last[2]) / 2, (box[1] + box[3] - last[1] - last[3]) / 2)
        return bool(jump > 0.5 * w0 or not 2 / 3 <= w1 / max(w0, 1e-6) <= 1.5)

    def _detector_only(self, image_bgr: np.ndarray) -> FaceResult:
        """A frame where the landmarks find no face: with a detector setting, `fer`'s own detector
        over the whole frame (what the original runs on every frame), so a face it finds (a small
        face, one just entering) is read from the first frame: its box places both crops (through
        stand-in eye points for the window model's) and the result says the detector alone found it."""
        if self._placement is None:
            return FaceResult("no_face", 0, None, None, None, "no face in the frame")
        tracked = isinstance(self._placement, TrackedPlacement)
        placement = self._placement.placement if tracked else self._placement
        if tracked:
            self._placement.reset()
        rects = placement.detector.all_faces(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY))
        if not rects:
            return FaceResult("no_face", 0, None, None, None, "no face in the frame (landmarks and detector)")
        x, y, w, h = max(rects, key=lambda r: r[2] * r[3])
        box = fer_crop_box((x, y, w, h))
        crop_at = lambda right, left: self._crop(image_bgr, right, left)  # noqa: E731
        n = len(rects)
        several = f"{n} faces, the largest used; " if n > 1 else ""
        res = FaceResult("ok", n, (float(x), float(y), float(x + w), float(y + h)), None,
                         crop_at(*eye_points_of_box(self.recipe, box)),
                         f"{several}face found by the detector only (no landmarks)", new_face=True)
        res.fer_crop, res.placed_by = placement.crop(image_bgr, box, crop_at), "detector"
        return res

    @property
    def _fill(self) -> str:
        return "edge replicated" if self.recipe.padding == "replicate" else "filled with a constant"

    def _crop(self, image_bgr: np.ndarray, pr: np.ndarray, pl: np.ndarray) -> np.ndarray:
        return self._cropper(image_bgr, pr, pl, bgr=True)

    def close(self) -> None:
        """Close MediaPipe's graph, the landmark network's session and the live framing's detector
        thread (their threads go too)."""
        if isinstance(self._placement, TrackedPlacement):
            self._placement.close()
        model = getattr(getattr(self, "_landmarks", None), "model", None)
        if model is not None and hasattr(model, "close"):
            model.close()
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
