"""Faces found and expression accuracy on labelled photographs whose licence allows it.

    python research/fer_labelled_faces.py IMAGES_DIR LABELS_CSV [--heights 480,240]
    python research/fer_labelled_faces.py --fer2013 fer2013.csv [--usage PrivateTest] [--limit N]

LABELS_CSV: file,label with labels among angry, disgust, fear, happy, sad, surprise, neutral
(the FER2013 names). Each photograph is scaled to the given height (aspect kept) and centred on a
mid-grey 640x480 frame (a participant near the camera, then further away), and read four ways:
- original: `fer`'s pipeline reproduced (its full-frame Haar detector, its exact 64x64 input,
  through this face encoder: emer_live.bench.fer_agreement's reference);
- detector / template: the app's face step on the still image (static landmarks), its FER crop
  placed by the detector near the landmarks (the file path) or by the landmark template alone;
Per way: faces found (of all photographs) and accuracy (top class = label, of all photographs: a
face not found counts as wrong), per class and overall.

--fer2013: the standard FER test-set protocol on the FER2013 file (emotion,pixels,Usage; its rows of
one Usage): each 48x48 face upscaled x4 (bicubic) and centred on a mid-grey 640x480 frame, read the
same ways, plus "network alone": the 48x48 face resized to the network's 64x64 input, no framing.
The file's terms are its holder's to check; none is bundled here.

The licensed set at hand is the Face Research Lab London Set (DeBruine & Jones, CC BY 4.0):
102 people, one neutral and one smiling photograph each, so only two of the seven classes can be
scored; its figures are not comparable with a seven-class FER test set's.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FER_TO_EMER = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
               "surprise": "surprise", "neutral": "neutral"}


def on_grey(img: np.ndarray, height: int) -> np.ndarray:
    """The photograph scaled to `height` (at most the frame's), centred on a mid-grey 640x480 frame."""
    h, w = img.shape[:2]
    height = min(height, 480)
    width = min(640, int(round(w * height / h)))
    small = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 128, np.uint8)
    y0, x0 = (480 - height) // 2, (640 - width) // 2
    frame[y0:y0 + height, x0:x0 + width] = small
    return frame


FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # its emotion column


def fer2013_faces(path: Path, usage: str, limit: int = 0):
    """(48x48 uint8 gray face, label name) of the FER2013 file's rows of one Usage."""
    n = 0
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Usage", usage) != usage:
                continue
            face = np.array(row["pixels"].split(), np.uint8).reshape(48, 48)
            yield face, FER2013_CLASSES[int(row["emotion"])]
            n += 1
            if limit and n >= limit:
                return


def on_grey_x4(face48: np.ndarray) -> np.ndarray:
    """The protocol's frame: the 48x48 face upscaled x4 (bicubic), centred on mid-grey 640x480."""
    big = cv2.resize(face48, (192, 192), interpolation=cv2.INTER_CUBIC)
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[144:336, 224:416] = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
    return frame


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path, nargs="?")
    ap.add_argument("labels", type=Path, nargs="?")
    ap.add_argument("--heights", default="480,240")
    ap.add_argument("--fer2013", type=Path, help="the FER2013 file: run the test-set protocol on it")
    ap.add_argument("--usage", default="PrivateTest", help="which of its rows (default: PrivateTest)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many faces (0: all)")
    a = ap.parse_args()
    if (a.fer2013 is None) == (a.images is None or a.labels is None):
        ap.error("give IMAGES_DIR and LABELS_CSV, or --fer2013 FILE")

    from emer_live.features.face import FaceProcessor
    from emer_live.features.face_box import RoiHaarDetector, fer_crop_box
    from emer_live.features.fer_input import ExactLift, fer_input64
    from emer_live.labels import EMOTIONS_7
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.frame_fer import ExpressionReader

    engine = InferenceEngine(None, prefer_gpu=False)
    reader = ExpressionReader.for_engine(engine)
    lift, detector = ExactLift(engine.card.crop_size), RoiHaarDetector()

    def top(crop) -> str:
        return EMOTIONS_7[int(np.argmax(reader.probs(engine.embed_faces(crop[None])[0])))]

    def original(frame):
        rect = detector.full_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        return None if rect is None else top(lift(fer_input64(frame, fer_crop_box(rect))))

    def photographs(height: int):  # (frame, label, 48x48 face or None)
        for row in csv.DictReader(a.labels.open()):
            img = cv2.imread(str(a.images / row["file"]))
            if img is None:
                print(f"unreadable: {row['file']}", file=sys.stderr)
                continue
            yield on_grey(img, height), row["label"], None

    if a.fer2013 is not None:
        runs = [(f"FER2013 {a.usage} faces, 48x48 upscaled x4 (bicubic), on a 640x480 mid-grey frame",
                 ((on_grey_x4(face), label, face) for face, label in fer2013_faces(a.fer2013, a.usage, a.limit)))]
    else:
        runs = [(f"photographs {height} px tall on a 640x480 mid-grey frame", photographs(height))
                for height in (int(x) for x in a.heights.split(","))]
    for title, samples in runs:
        procs = {b: FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe,
                                  static_image_mode=True, fer_box=b) for b in ("detector", "template")}
        found, right, per = Counter(), Counter(), Counter()
        total = Counter()
        for frame, label, face48 in samples:
            want = FER_TO_EMER[label]
            total[want] += 1
            got = {"original": original(frame)}
            if face48 is not None:  # the network on the face itself, no framing
                got["network alone"] = top(lift(cv2.resize(face48, (64, 64))))
            for b, proc in procs.items():
                r = proc.process(frame)
                crop = r.fer_crop if r.fer_crop is not None else r.crop
                got[b] = None if crop is None else top(crop)
            for way, g in got.items():
                found[way] += g is not None
                right[way] += g == want
                per[(way, want)] += g == want
        n = sum(total.values())
        for proc in procs.values():
            proc.close()
        print(f"{title}: {n} ({dict(total)})")
        for way in ("network alone", "original", "detector", "template")[a.fer2013 is None:]:
            classes = ", ".join(f"{c} {per[(way, c)]}/{k}" for c, k in sorted(total.items()))
            print(f"  {way:<9} faces found {found[way]}/{n} ({found[way] / n:.1%}); accuracy {right[way]}/{n} "
                  f"({right[way] / n:.1%}): {classes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
