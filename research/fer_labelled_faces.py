"""Faces found and expression accuracy on labelled photographs whose licence allows it.

    python research/fer_labelled_faces.py IMAGES_DIR LABELS_CSV [--heights 480,240]

LABELS_CSV: file,label with labels among angry, disgust, fear, happy, sad, surprise, neutral
(the FER2013 names). Each photograph is scaled to the given height (aspect kept) and centred on a
mid-grey 640x480 frame (a participant near the camera, then further away), and read four ways:
- original: `fer`'s pipeline reproduced (its full-frame Haar detector, its exact 64x64 input,
  through this face encoder: emer_live.bench.fer_agreement's reference);
- detector / template: the app's face step on the still image (static landmarks), its FER crop
  placed by the detector near the landmarks (the file path) or by the landmark template alone;
Per way: faces found (of all photographs) and accuracy (top class = label, of all photographs: a
face not found counts as wrong), per class and overall.

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("labels", type=Path)
    ap.add_argument("--heights", default="480,240")
    a = ap.parse_args()

    from emer_live.features.face import FaceProcessor
    from emer_live.features.face_box import RoiHaarDetector, fer_crop_box
    from emer_live.features.fer_input import ExactLift, fer_input64
    from emer_live.labels import EMOTIONS_7
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.frame_fer import ExpressionReader

    engine = InferenceEngine(None, prefer_gpu=False)
    reader = ExpressionReader.for_engine(engine)
    lift, detector = ExactLift(engine.card.crop_size), RoiHaarDetector()
    rows = list(csv.DictReader(a.labels.open()))

    def top(crop) -> str:
        return EMOTIONS_7[int(np.argmax(reader.probs(engine.embed_faces(crop[None])[0])))]

    def original(frame):
        rect = detector.full_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        return None if rect is None else top(lift(fer_input64(frame, fer_crop_box(rect))))

    for height in (int(x) for x in a.heights.split(",")):
        procs = {b: FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe,
                                  static_image_mode=True, fer_box=b) for b in ("detector", "template")}
        found, right, per = Counter(), Counter(), Counter()
        total = Counter()
        for row in rows:
            img = cv2.imread(str(a.images / row["file"]))
            if img is None:
                print(f"unreadable: {row['file']}", file=sys.stderr)
                continue
            want = FER_TO_EMER[row["label"]]
            frame = on_grey(img, height)
            total[want] += 1
            got = {"original": original(frame)}
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
        print(f"photographs {height} px tall on a 640x480 mid-grey frame: {n} ({dict(total)})")
        for way in ("original", "detector", "template"):
            classes = ", ".join(f"{c} {per[(way, c)]}/{k}" for c, k in sorted(total.items()))
            print(f"  {way:<9} faces found {found[way]}/{n} ({found[way] / n:.1%}); accuracy {right[way]}/{n} "
                  f"({right[way] / n:.1%}): {classes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
