"""Where the FER crop sits: by the landmark template (default) or by a face detector's box.

The FER2013 mini-Xception was used with the `fer` package's crop: OpenCV's frontal-face Haar box,
squared, 10 px added on each side. The card's eye-corner template places a crop like it from the
landmarks alone (cheap, 93.8% / 98.6% per-frame agreement with the original network's Keras run
on the shared Pexels / single_face videos); the detector's own box, with the network fed `fer`'s
exact input for it (fer_input.py), reaches 100% / 100% (471/471, 72/72; 98.3% / 98.6% when the
box was cut out by the recipe's uint8 sampling), at about 6-9 ms a frame on a 2-core machine
(3-4 times the landmark step). So live input (a camera, anything run at its own pace) gets the
live framing (TrackedPlacement: the detector for a new face in the face step and, on its own
thread, for each near-tie reading, whose frame is read from the detector's box once the run is
done; its box carried by the eye corners between); input processed as fast as possible (a
recorded video through `emer-live run`) gets the detector on every frame, where the model's
recipe is FER2013 framing: fer_box "auto" (resolve_fer_box). See docs/architecture.md.

- RoiHaarDetector: `fer`'s detector (the same cascade file and parameters: scale factor 1.1,
  5 neighbours, 50 px minimum) run only where the landmarks put the face: at the full-frame
  detector's scales whose window is 0.6-2.0 times the landmark box width, on each scale's own
  image of the whole frame, at every window position the full-frame scan reads near the face.
  It returns the full-frame detector's box to the pixel on every frame of both shared videos.
- fer_crop_box: `fer`'s crop box of a detector box (squared, padded 10 px).
- The crop of a detector box: `fer`'s own 64x64 input for it, lifted exactly through the face
  graph's resize (fer_input.py; FaceProcessor), for a recipe whose graph resizes to 64x64 itself.
- eye_points_of_box: for any other recipe, the box turned into the crop by the recipe's own
  sampling and padding: two points standing in for the eye corners, placed so that the recipe's
  upright template maps the box onto the crop.
- DetectorPlacement: the above as one step, what the face step (and the bench) runs.
- check_fer_box: the detector box stands for FER2013 framing; any other recipe is refused.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, NamedTuple, Optional

import cv2
import numpy as np

from emer_live.features.face_crop import FER2013_RECIPE, CropRecipe
from emer_live.features.fer_input import FER_INPUT, ExactLift, fer_input64

FER_BOX_CHOICES = ("template", "detector", "tracked")
DEFAULT_FER_BOX = "template"
# tracked: when the detector runs on a face already held (face_box.TrackedPlacement). Chosen on the
# two shared videos alone (research/fer_tie_check.py; the rule, fixed before the held-out clips were
# run: agreement with the original at least 99.5% on both, then the fewest detector frames): no
# fixed cadence, and the detector's own box wherever the carried box's two most likely FER classes
# are less than 0.7 apart (Pexels 100% with the detector on 38% of face frames, single_face 100%
# on 6%; every 6th frame with 0.6: 99.6%, 41%; every 3rd frame and no check: 96.4%, 33%). Chosen
# again by a second rule fixed before its run (within 1 point of the detector path on both shared
# videos, then the fewest detector frames), over margins 0-0.7 with and without a class-change
# check (on_change): 0.7 again, the class-change check adding nothing there, so it stays off.
DEFAULT_DETECT_EVERY = None  # frames between detector runs by cadence; None: none with a tie check,
UNCHECKED_DETECT_EVERY = 3  # and every 3rd frame (the earlier live framing) without one
DEFAULT_TIE_MARGIN = 0.7
DEFAULT_ON_CHANGE = False
AUTO_FER_BOX = "auto"  # resolve_fer_box: the detector offline, tracked live (FER2013 framing)
DETECTOR_THREAD = "emer-fer-detector"  # the live framing's detector thread (its name's prefix)
CASCADE_FILE = "haarcascade_frontalface_default.xml"  # bundled with OpenCV (cv2.data.haarcascades)


def check_fer_box(choice: str, recipe: CropRecipe, model_name: str = "this model") -> None:
    """Raises ValueError, saying why, unless `choice` can place this recipe's crop."""
    if choice not in FER_BOX_CHOICES:
        raise ValueError(f"fer_box {choice!r} is unknown; choose one of {', '.join(FER_BOX_CHOICES)}")
    if choice in ("detector", "tracked") and not stands_for_fer2013(recipe):
        raise ValueError(
            f"fer_box {choice!r} places the crop where the `fer` package's Haar detector boxes the face "
            f"(FER2013 framing, an upright box); the crop recipe of {model_name} frames the face differently "
            f"(eye template {[list(p) for p in recipe.eye_template]}, rotate {str(recipe.rotate).lower()}), so its "
            f"face encoder would get a crop it was not trained on: use fer_box 'template'")


def resolve_fer_box(choice: str, offline: bool, recipe: CropRecipe) -> str:
    """The FER crop placement for a run: "auto" is, where the recipe is FER2013 framing, the detector
    on every frame for frames processed offline (no camera to keep up with, so its 6-9 ms a frame only
    lengthens the run) and "tracked" for live input (the detector for a new face and where the
    reading of its box carried by the landmarks is a near tie); the template for any other recipe. Any other choice stands as given."""
    if choice != AUTO_FER_BOX:
        return choice
    if not stands_for_fer2013(recipe):
        return "template"
    return "detector" if offline else "tracked"


def stands_for_fer2013(recipe: CropRecipe) -> bool:
    """The recipe frames the face as FER2013's detector crop (upright, the FER2013 eye template)."""
    return (not recipe.rotate and len(recipe.eye_template) == 2
            and np.allclose(np.array(recipe.eye_template, float), np.array(FER2013_RECIPE.eye_template, float)))


def fer_crop_box(rect) -> tuple:
    """`fer`'s crop box (centre x, centre y, side) of a detector box (x, y, w, h): squared about its
    centre (integer halving, as `fer` does), 10 px added on each side."""
    x, y, w, h = rect
    if h > w:
        x, w = x - (h - w) // 2, h
    elif w > h:
        y, h = y - (w - h) // 2, w
    s = w + 20
    return (x - 10 + s / 2, y - 10 + s / 2, s)


def eye_points_of_box(recipe: CropRecipe, box) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in outer eye corners (image left one first) for a crop box (centre x, centre y, side):
    through the recipe's upright template they map the box exactly onto the crop."""
    (lx, ly), (rx, ry) = recipe.eye_template
    cx, cy, s = box
    return (np.array([cx + (lx - 0.5) * s, cy + (ly - 0.5) * s]),
            np.array([cx + (rx - 0.5) * s, cy + (ry - 0.5) * s]))


class DetectorPlacement:
    """fer_box="detector": (BGR frame, landmark box, crop_at) -> the crop the detector's box places,
    or None where the detector finds no face near the landmarks (the template then places it).
    For a recipe whose face graph resizes to the 64x64 grid itself, the crop is `fer`'s own input
    for the box, lifted exactly (float gray levels); otherwise crop_at(right, left) cuts the box
    out by the recipe's own sampling, through stand-in eye points. The face step and the bench both
    place crops through this, so the bench times what the face step does."""

    def __init__(self, recipe: CropRecipe, crop_size: int):
        self.recipe = recipe
        self.detector = RoiHaarDetector()
        self.lift = ExactLift(crop_size) if recipe.sample_grid == FER_INPUT else None

    def find(self, image_bgr: np.ndarray, landmark_box) -> Optional[tuple]:
        """`fer`'s crop box (centre x, centre y, side) of the detector's face near the landmarks, or None."""
        rect = self.detector(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY), landmark_box)
        return None if rect is None else fer_crop_box(rect)

    def crop(self, image_bgr: np.ndarray, box, crop_at: Callable[[np.ndarray, np.ndarray], np.ndarray]):
        """The FER crop of a crop box: `fer`'s exact input lifted, or cut by the recipe's sampling."""
        g64 = fer_input64(image_bgr, box) if self.lift is not None else None
        if g64 is not None:  # the network gets exactly `fer`'s input
            return self.lift(g64)
        return crop_at(*eye_points_of_box(self.recipe, box))

    def __call__(self, image_bgr: np.ndarray, landmark_box,
                 crop_at: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Optional[np.ndarray]:
        box = self.find(image_bgr, landmark_box)
        return None if box is None else self.crop(image_bgr, box, crop_at)


class FerTieCheck:
    """What the live framing asks of a carried crop: the per-frame FER's own reading of it, and
    whether that reading needs the detector's own box. It does where the reading is a near tie (its
    two most likely classes less than `margin` apart in probability) and, with `on_change`, where
    its top class differs from the face's last reading of a detector box: those are the frames
    where a box a few pixels off the detector's reads another class; elsewhere it reads the same
    (research/README.md, "Live FER framing"). embed: crops (N, S, S, 3) -> face embeddings, the face
    encoder; probs: an embedding -> the 7 class probabilities."""

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray], probs: Callable[[np.ndarray], np.ndarray],
                 margin: float = None, on_change: bool = None):
        self.embed, self.probs = embed, probs
        self.margin = DEFAULT_TIE_MARGIN if margin is None else float(margin)
        self.on_change = DEFAULT_ON_CHANGE if on_change is None else bool(on_change)

    def _reading(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the crop's embedding, its 7 class probabilities)."""
        emb = self.embed(crop[None])[0]
        return emb, np.asarray(self.probs(emb), np.float64)

    def top(self, crop: np.ndarray) -> tuple[np.ndarray, int]:
        """(the crop's embedding, its top class)."""
        emb, p = self._reading(crop)
        return emb, int(np.argmax(p))

    def __call__(self, crop: np.ndarray, detector_top: Optional[int] = None) -> tuple[np.ndarray, bool]:
        """(the crop's embedding, does its reading need the detector's box?); detector_top: the top
        class of the face's last detector box, None when unknown."""
        emb, p = self._reading(crop)
        top2 = np.sort(p)[-2:]
        changed = self.on_change and detector_top is not None and int(np.argmax(p)) != detector_top
        return emb, bool(top2[1] - top2[0] < self.margin or changed)


class DetectorRead(NamedTuple):
    """A detector run of the live framing: the crop its box places, the face encoder's embedding of
    it and its top class (None without a FER reader), and its box in the face's own units."""
    crop: np.ndarray
    embedding: Optional[np.ndarray]
    top: Optional[int]
    held: tuple


class TrackedPlacement:
    """fer_box="tracked", the live framing: the detector's own box on the frames whose reading
    depends on it, the detector's box carried by the landmarks on the others.

    The detector runs near the landmarks (DetectorPlacement) on a face's first frame (a new face,
    or one whose landmark box jumped, see FaceProcessor), every `every` frames after that, and on
    any frame where the carried box's FER reading needs it (FerTieCheck, given by the face step's
    user through FaceProcessor.attach_fer_reader; without one, every 3rd frame unless `every` says
    otherwise). Its crop box is kept in the face's own units: its centre's offset from the outer
    eye corners' midpoint and its side, divided by their distance. That is the face's correction
    from landmarks to the detector's box, learned on this face, not fitted offline. On the other
    frames the box is that correction applied to the frame's own eye corners, and the network gets
    `fer`'s exact input for it. Where the detector finds nothing, the last correction stays; with
    none yet the landmark template places the crop and says so.

    background=True (the live face step's choice): the near-tie runs go to a detector thread of
    their own, so the face step does not wait for them. That frame's reading is then pending: the
    caller reads the frame's FER from the run's result when it is done (the detector's crop; the
    carried one where it found nothing), in frame order, and later frames use its correction once
    it is in. At most MAX_PENDING runs wait; a face step that finds that many waits for the oldest
    (a machine too slow for the runs is slowed, never given an unbounded backlog).

    (frame, landmark box, eye corners, crop_at) -> (crop or None, placed_by, embedding or None,
    pending or None): placed_by "detector" (this frame's detector box), "tracked" (the correction
    carried), or "template" (crop None: the caller's template crop stands); the embedding is the
    face encoder's of the crop where the placement computed it (so the encoder runs once on it);
    pending: a Future of this frame's background detector run (a DetectorRead, or None where it
    found nothing), the crop and embedding returned being the carried box's meanwhile."""

    MAX_PENDING = 2

    def __init__(self, recipe: CropRecipe, crop_size: int, every: int = None, check: FerTieCheck = None,
                 background: bool = False):
        self.placement, self.crop_size = DetectorPlacement(recipe, crop_size), crop_size
        self.every = DEFAULT_DETECT_EVERY if every is None else int(every)
        if self.every is not None and self.every < 1:
            raise ValueError("the detector cadence must be at least every frame (1)")
        self.check = check
        # the background runs cut `fer`'s input from the frame alone (no crop_at from another thread)
        self.background = background and self.placement.lift is not None
        self._worker: Optional[ThreadPoolExecutor] = None
        self._pending: deque = deque()  # (face generation, Future), oldest first
        self._generation = 0
        self.reset()

    def reset(self) -> None:
        """Forget the face's correction (another face is being read): the next frame runs the detector.
        Background runs still pending for the earlier face stay its frames' readings, nothing more."""
        self._held, self._since, self._detector_top = None, 0, None
        self._generation += 1

    def _read(self, image_bgr, landmark_box, mid, d, crop_at) -> Optional[DetectorRead]:
        """A detector run near the landmarks (crop_at None: `fer`'s input cut from the frame itself)."""
        box = self.placement.find(image_bgr, landmark_box)
        if box is None:
            return None
        crop = self.placement.crop(image_bgr, box, crop_at)
        emb, top = self.check.top(crop) if self.check is not None else (None, None)
        return DetectorRead(crop, emb, top, ((box[0] - mid[0]) / d, (box[1] - mid[1]) / d, box[2] / d))

    def _keep(self, read: Optional[DetectorRead]) -> None:
        self._since = 0
        if read is not None:
            self._held = read.held
            self._detector_top = read.top if read.top is not None else self._detector_top

    def _collect(self, wait_for_room: bool = False) -> None:
        """Take in the background runs that are done (oldest first; an earlier face's are only
        dropped); with wait_for_room, wait for the oldest until fewer than MAX_PENDING wait."""
        while self._pending and (self._pending[0][1].done() or (wait_for_room and len(self._pending) >= self.MAX_PENDING)):
            generation, job = self._pending.popleft()
            try:
                read = job.result()
            except Exception:  # noqa: BLE001 - the caller that reads this frame's FER reports it
                read = None
            if generation == self._generation:
                self._keep(read)

    def _submit(self, image_bgr, landmark_box, mid, d) -> Future:
        self._collect(wait_for_room=True)
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix=DETECTOR_THREAD)
        # The frame's own array (each frame comes in a new one; the caller keeps it until the frame's
        # FER is written): the run makes its gray image itself, off the face step.
        job = self._worker.submit(self._read, image_bgr, landmark_box, mid, d, None)
        self._pending.append((self._generation, job))
        return job

    def __call__(self, image_bgr: np.ndarray, landmark_box, p_right: np.ndarray, p_left: np.ndarray,
                 crop_at: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> tuple:
        self._collect()
        mid = (np.asarray(p_right, float) + np.asarray(p_left, float)) / 2
        d = max(float(np.hypot(*(np.asarray(p_left, float) - p_right))), 1e-6)
        self._since += 1
        every = self.every if self.every is not None or self.check is not None else UNCHECKED_DETECT_EVERY
        ran = self._held is None or (every is not None and self._since >= every)
        if ran:
            read = self._read(image_bgr, landmark_box, mid, d, crop_at)
            self._keep(read)
            if read is not None:
                return read.crop, "detector", read.embedding, None
        if self._held is None:
            return None, "template", None, None
        u, v, side = self._held
        crop = self.placement.crop(image_bgr, (mid[0] + u * d, mid[1] + v * d, side * d), crop_at)
        if self.check is None:
            return crop, "tracked", None, None
        emb, needs = self.check(crop, self._detector_top)
        if needs and not ran:  # the reading hangs on the box: this frame gets the detector's own
            if self.background:
                return crop, "tracked", emb, self._submit(image_bgr, landmark_box, mid, d)
            read = self._read(image_bgr, landmark_box, mid, d, crop_at)
            self._keep(read)
            if read is not None:
                return read.crop, "detector", read.embedding, None
        return crop, "tracked", emb, None

    def close(self) -> None:
        """Let the pending background runs finish, then stop the detector thread."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        self._pending.clear()


class RoiHaarDetector:
    """`fer`'s Haar face detector, run only where the landmarks put the face: (gray frame, landmark
    box x0, y0, x1, y1) -> the detector's box (x, y, w, h, frame pixels), or None.

    band: the detector's scales kept, as window sides relative to the landmark box width (the
    full-frame detector's face cluster spans about 0.7-1.9 of it on the shared videos). margin and
    spread: window centres scanned, +- (margin x landmark width + spread of the scale's own pixels)
    around the landmark box centre, raised by 0.08 of its height (the Haar box sits higher than the
    landmarks). step: 1 reads every position the full-frame detector reads at these scales (it
    steps by 1 at window sides >= 48), 2 every second one (cheaper, not the same box). lead_in:
    positions scanned left of the ROI and discarded, so that the cascade's row skipping (a window
    rejected by the first stage skips the next) is in phase with the full-frame scan by the time it
    reaches the ROI. The defaults give the full-frame box."""

    WINDOW, SCALE_FACTOR, MIN_NEIGHBORS, MIN_SIZE, GROUP_EPS = 24, 1.1, 5, 50, 0.2

    def __init__(self, band=(0.6, 2.0), margin=0.05, step=1, lead_in=8, spread=5.0):
        self.band, self.margin, self.step, self.lead_in, self.spread = band, margin, step, lead_in, spread
        path = cv2.data.haarcascades + CASCADE_FILE
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV's face detector could not be loaded from {path}")
        self._scales: dict = {}

    def scales(self, w: int, h: int) -> list:
        """The full-frame detector's scales for a w x h image (float32, as OpenCV keeps them)."""
        if (w, h) not in self._scales:
            f, out = 1.0, []
            while int(np.rint(self.WINDOW * f)) <= min(w, h):
                if int(np.rint(self.WINDOW * f)) >= self.MIN_SIZE:
                    out.append(np.float32(f))
                f *= self.SCALE_FACTOR
            self._scales[(w, h)] = out
        return self._scales[(w, h)]

    def all_faces(self, gray: np.ndarray) -> list:
        """Every box (x, y, w, h) of the detector over the whole frame, as `fer` calls it."""
        found = self.cascade.detectMultiScale(gray, self.SCALE_FACTOR, self.MIN_NEIGHBORS,
                                              minSize=(self.MIN_SIZE, self.MIN_SIZE))
        return [tuple(int(v) for v in b) for b in found]

    def full_frame(self, gray: np.ndarray) -> Optional[tuple]:
        """The largest box of the detector over the whole frame, as `fer` keeps it (the reference)."""
        found = self.all_faces(gray)
        return max(found, key=lambda b: b[2] * b[3]) if found else None

    def __call__(self, gray: np.ndarray, landmark_box) -> Optional[tuple]:
        h, w = gray.shape
        x0_, y0_, x1_, y1_ = landmark_box
        bw, bh = x1_ - x0_, y1_ - y0_
        cx, cy = (x0_ + x1_) / 2, (y0_ + y1_) / 2 - 0.08 * bh
        rects, win = [], self.WINDOW
        for sc in self.scales(w, h):
            ws = int(np.rint(win * sc))
            if not self.band[0] * bw <= ws <= self.band[1] * bw:
                continue
            sw, sh = int(np.rint(np.float32(w) / sc)), int(np.rint(np.float32(h) / sc))
            # the detector's own image of this scale (it resizes bit-exactly; plain INTER_LINEAR
            # differs by a gray level here and there, enough to lose a candidate)
            small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_LINEAR_EXACT)
            r = self.margin * bw / sc + self.spread  # in the scale's own pixels
            x0, x1 = max(0, int(np.floor((cx - ws / 2) / sc - r))), min(sw - win, int(np.ceil((cx - ws / 2) / sc + r)))
            y0, y1 = max(0, int(np.floor((cy - ws / 2) / sc - r))), min(sh - win, int(np.ceil((cy - ws / 2) / sc + r)))
            if x1 < x0 or y1 < y0:
                continue
            xs = max(0, x0 - self.lead_in) if self.step == 1 else x0
            sub = small[y0:y1 + win, xs:x1 + win]
            if self.step == 1:  # scale 2 on the doubled ROI reads the ROI itself, stepping by 1
                sub = cv2.resize(sub, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
                found = self.cascade.detectMultiScale(sub, 2.0, 0, minSize=(2 * win,) * 2, maxSize=(2 * win,) * 2)
                pos = [(x // 2 + xs, y // 2 + y0) for x, y, _, _ in found if x // 2 + xs >= x0]
            else:  # scale 1: the cascade steps by 2
                found = self.cascade.detectMultiScale(sub, 1.1, 0, minSize=(win, win), maxSize=(win, win))
                pos = [(x + xs, y + y0) for x, y, _, _ in found]
            rects += [[int(np.rint(np.float32(x) * sc)), int(np.rint(np.float32(y) * sc)), ws, ws] for x, y in pos]
        if not rects:
            return None
        got, _ = cv2.groupRectangles(rects, self.MIN_NEIGHBORS, self.GROUP_EPS)
        return tuple(int(v) for v in max(got, key=lambda r: r[2] * r[3])) if len(got) else None
