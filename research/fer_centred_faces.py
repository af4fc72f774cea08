"""The test-set protocol on the real faces at hand: does the app find a small, soft, centred face, and
read it as the network alone does?

    python research/fer_centred_faces.py CLIP... [--every 5] [--json OUT]

A standard FER test set (48x48 gray faces) is run through the app as: each face upscaled x4
(bicubic) and centred on a mid-grey 640x480 frame. No such set with a licence that allows its use
ships in a package registry, so the same protocol is built here from the faces of real clips: on
every `every`-th frame where the original's detector (`fer`'s full-frame Haar call) finds a face,
`fer`'s own 64x64 input for it is shrunk to 48x48 (area average), which stands in for a test-set face.
Each face is one still image for the app (a fresh face step: nothing carried from the last image).

Reported per clip and setting (template, detector):
- found: the share of faces the app gives a FER reading for;
- agrees with the network alone: the app's top class equals the network's on the 48x48 face itself
  (resized to its 64x64 input), the most the crop can give. These faces have no expression labels,
  so accuracy cannot be measured here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emer_live.features.face import FaceProcessor  # noqa: E402
from emer_live.features.face_box import RoiHaarDetector, fer_crop_box  # noqa: E402
from emer_live.features.fer_input import ExactLift, fer_input64  # noqa: E402
from emer_live.pipeline.frame_fer import ExpressionReader  # noqa: E402


def test_faces(clip: Path, every: int) -> list[np.ndarray]:
    """48x48 gray faces from a clip, as above."""
    det, cap, faces, i = RoiHaarDetector(), cv2.VideoCapture(str(clip)), [], 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if i % every == 0:
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            rect = det.full_frame(gray)
            g64 = None if rect is None else fer_input64(gray, fer_crop_box(rect))
            if g64 is not None:
                faces.append(cv2.resize(g64, (48, 48), interpolation=cv2.INTER_AREA))
        i += 1
    cap.release()
    return faces


def on_grey_frame(face48: np.ndarray) -> np.ndarray:
    big = cv2.resize(face48, (192, 192), interpolation=cv2.INTER_CUBIC)
    frame = np.full((480, 640), 128, np.uint8)
    frame[144:336, 224:416] = big
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def main() -> None:
    from emer_live.pipeline.engine import InferenceEngine

    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    engine = InferenceEngine(None, prefer_gpu=False)
    reader, lift = ExpressionReader(engine.card.expression), ExactLift(engine.card.crop_size)

    def top(crop) -> int:
        return int(np.argmax(reader.probs(engine.embed_faces(crop[None]))[0]))

    out, totals = {}, {}
    for clip in a.clips:
        faces = test_faces(clip, a.every)
        alone = [top(lift(cv2.resize(f, (64, 64)))) for f in faces]
        row = {"faces": len(faces)}
        for fer_box in ("template", "detector"):
            found = agree = 0
            # static image mode: the face mesh detects anew on every image; the detector placement
            # keeps nothing from one image to the next
            with FaceProcessor(recipe=engine.card.crop_recipe, fer_box=fer_box, static_image_mode=True) as fp:
                for face, want in zip(faces, alone):
                    r = fp.process(on_grey_frame(face))
                    if r.crop is None:
                        continue
                    found += 1
                    agree += top(r.crop if r.fer_crop is None else r.fer_crop) == want
            row[fer_box] = {"found": found, "agrees_with_network_alone": agree}
            t = totals.setdefault(fer_box, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + len(faces), t[1] + found, t[2] + agree
            print(f"{clip.name}: {fer_box}: found {found}/{len(faces)}, agrees with the network alone on "
                  f"{agree}/{found}", flush=True)
        out[clip.name] = row
    for fer_box, (n, found, agree) in totals.items():
        print(f"all clips, {fer_box}: found {found}/{n} ({found / max(n, 1):.1%}), agrees with the network alone "
              f"{agree}/{found} ({agree / max(found, 1):.1%})")
    if a.json:
        a.json.write_text(json.dumps({"clips": out, "totals": totals}, indent=2) + "\n")


if __name__ == "__main__":
    main()
