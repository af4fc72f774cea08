"""Crop variants for the FER2013 mini-Xception, measured against the original network's per-frame
outputs: can a crop placed from landmarks alone (what a live app has: no Haar detector per frame)
reach the agreement of the `fer` package's own detector box?

    python research/fer_crop_variants.py [--model CARD] [--data DIR] [--json OUT] [--quick]

Data as for research/fer_template_study.py (video/ and reference/fer_original/ under DIR). Landmarks come
from the app's face step (MediaPipe face mesh, tracking mode, one face), once per frame.

Every variant gives, per frame, a square crop box (centre x, centre y, side, in frame pixels),
cut out upright with the card recipe's sampling and padding, through the model's face encoder;
its top class is compared with the Keras run's (frames where both have a face).

- fer box: the reference's own box (Haar box squared, 10 px added each side): the ceiling.
- card template: the card's eye-corner template, as the app crops.
- box model, pixel intercepts: each of centre x, centre y, side is a least-squares linear function
  of landmark measures in pixels (with a constant), fitted to the Haar-derived box.
- box model, face units: the centre's offset from the eye-corner midpoint and the side are linear
  in face measures with no constant, so the model does not depend on how big the face is.
- "+ EMA": the box geometry smoothed causally (exponential, weight 0.5 on the new frame).
- "+ gray first, fer pad": the frame turned gray before sampling and off-frame parts filled with
  the mean of the frame's bottom two rows, as `fer` does.
- "exact input": `fer`'s own 64x64 network input (its gray conversion, padding by the bottom rows'
  mean, integer box, cv2.resize), lifted to the face graph's crop size by a right inverse of the
  graph's bilinear resize and fed as float gray levels, so the network gets exactly that input:
  how closely this encoder reproduces the Keras run when the input is the same. "lifted" does the
  same, as a uint8 crop (approximate: rounding, clipping), with the recipe's own 64x64 gray
  samples instead of the recipe's nearest-sample layout. Both are the product's
  (emer_live/features/fer_input.py: the face step's crop wherever fer_box = "detector" finds the face).
- "corrected by the detector every N frames": a live app could afford the detector now and then;
  the template's box is corrected by the running median of how the detector's box (the
  reference's, on those frames) sits relative to it.
- "+ 5 shifts": the mean probability over the box and the box moved 2 px left, right, up and down
  (test-time averaging over the detector's jitter; five encoder runs a frame).
- "Haar in the landmark ROI": `fer`'s own detector (OpenCV's frontal-face Haar cascade, scale
  factor 1.1, 5 neighbours, 50 px minimum, as `fer` calls it) run only near the face: at the
  detector's own scales whose window is within a band of the landmark box's width, and only at
  window positions whose centre lies within a margin of where the landmarks put the face. "step 1"
  reads every window position the full-frame detector reads there (each scale's image is the
  full frame's, doubled by pixel repetition and scanned at scale 2, where the cascade steps by one
  pixel), so its box equals the full-frame one when the face's candidates all fall in the band and
  ROI; "step 2" scans the same images at every second position (a quarter of the work); "ROI
  downscaled" cuts the ROI from the frame and halves it before one ordinary detector call. Where
  it finds nothing, the card's template places the crop. The step-1 detector is the product's
  (emer_live/features/face_box.py, the face step's fer_box = "detector"). Its cost is timed per
  frame beside the MediaPipe step (FaceProcessor.process) in the same process, and reported as their ratio.

Fits use the Haar boxes (geometry), never the reference classes. Each box model is fitted on one
video and validated on the other, and fitted on both (then in-sample: there is no held-out video).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "research"))

from fer_template_study import VIDEOS, read_reference  # noqa: E402

from emer_live.features.face_box import RoiHaarDetector, eye_points_of_box, fer_crop_box  # noqa: E402
from emer_live.features.fer_input import ExactLift, fer_input64  # noqa: E402

PX, SF = VIDEOS
SHIFTS = ((0, 0), (-2, 0), (2, 0), (0, -2), (0, 2))

# landmark measures (MediaPipe face mesh indices): outer eye corners 33/263, inner lips 13/14,
# forehead top 10, chin 152
MEASURES = ("emx", "emy", "iod", "emd", "fh", "bw", "bh", "bcx", "bcy")


def measures(lm: np.ndarray) -> dict:
    pr, pl = lm[33], lm[263]
    em, mouth = (pr + pl) / 2, (lm[13] + lm[14]) / 2
    lo, hi = lm.min(0), lm.max(0)
    return dict(emx=em[0], emy=em[1], iod=float(np.hypot(*(pl - pr))), emd=float(np.hypot(*(mouth - em))),
                fh=lm[152, 1] - lm[10, 1], bw=hi[0] - lo[0], bh=hi[1] - lo[1], bcx=(lo[0] + hi[0]) / 2,
                bcy=(lo[1] + hi[1]) / 2)


# name -> (kind, columns for centre x, centre y, side). "pixel": targets in pixels with a constant;
# "face": targets relative to the eye-corner midpoint, no constant.
BOX_MODELS = {
    "pixel: eyes + iod": ("pixel", ["emx"], ["emy", "iod"], ["iod"]),
    "pixel: eyes + iod + eye-mouth": ("pixel", ["emx"], ["emy", "iod", "emd"], ["iod", "emd"]),
    "pixel: landmark extent": ("pixel", ["bcx"], ["bcy", "bh"], ["bw", "bh"]),
    "pixel: extent + eyes + iod + eye-mouth": ("pixel", ["bcx", "emx"], ["bcy", "emy", "bh", "iod", "emd"],
                                               ["bw", "bh", "iod", "emd"]),
    "face units: iod": ("face", ["iod"], ["iod"], ["iod"]),
    "face units: iod + eye-mouth": ("face", ["iod", "emd"], ["iod", "emd"], ["iod", "emd"]),
    "face units: iod + eye-mouth + face height + width": ("face", *[["iod", "emd", "fh", "bw"]] * 3),
}


class BoxModel:
    def __init__(self, name: str):
        self.name = name
        self.kind, *self.cols = BOX_MODELS[name]
        self.coef = None

    def _row(self, m: dict, t: int) -> list:
        return ([1.0] if self.kind == "pixel" else []) + [m[c] for c in self.cols[t]]

    def _target(self, m: dict, box, t: int) -> float:
        if self.kind == "pixel" or t == 2:
            return box[t]
        return box[t] - (m["emx"], m["emy"])[t]

    def fit(self, samples):  # [(measures, fer box)]
        self.coef = [np.linalg.lstsq(np.array([self._row(m, t) for m, _ in samples]),
                                     np.array([self._target(m, b, t) for m, b in samples]), rcond=None)[0]
                     for t in range(3)]
        return self

    def box(self, m: dict) -> tuple:
        v = [float(np.dot(self.coef[t], self._row(m, t))) for t in range(3)]
        if self.kind == "face":
            v[0], v[1] = v[0] + m["emx"], v[1] + m["emy"]
        return tuple(v)


class RoiHaarDownscaled(RoiHaarDetector):
    """The ROI cut from the frame, halved, one ordinary detector call with the band as min/max size."""

    def __call__(self, gray: np.ndarray, landmark_box):
        import cv2

        h, w = gray.shape
        lx0, ly0, lx1, ly1 = landmark_box
        cx, cy, bw = (lx0 + lx1) / 2, (ly0 + ly1) / 2 - 0.08 * (ly1 - ly0), lx1 - lx0
        half = self.margin * bw + self.band[1] * bw / 2
        x0, x1 = max(0, int(cx - half)), min(w, int(cx + half))
        y0, y1 = max(0, int(cy - half)), min(h, int(cy + half))
        sub = cv2.resize(gray[y0:y1, x0:x1], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        lo, hi = max(self.WINDOW, int(self.band[0] * bw / 2)), int(self.band[1] * bw / 2)
        f = self.cascade.detectMultiScale(sub, self.SCALE_FACTOR, self.MIN_NEIGHBORS, minSize=(lo, lo), maxSize=(hi, hi))
        if not len(f):
            return None
        x, y, s, _ = max(f, key=lambda r: r[2] * r[3])
        return (int(x) * 2 + x0, int(y) * 2 + y0, int(s) * 2, int(s) * 2)


# name -> detector run in the landmark ROI. The ROI: window centres within 0.05 x the landmark
# width + 5 of the scale's own pixels of where the landmarks put the face.
ROI_DETECTORS = {
    "Haar in the landmark ROI, step 1, window 0.6-2.0 x landmark width (11 scales)":
        lambda: RoiHaarDetector((0.6, 2.0), 0.05, spread=5),
    "Haar in the landmark ROI, step 1, window 0.8-1.6 x (7-8 scales)": lambda: RoiHaarDetector((0.8, 1.6), 0.05, spread=5),
    "Haar in the landmark ROI, step 1, window 1.0-1.4 x (3-4 scales)": lambda: RoiHaarDetector((1.0, 1.4), 0.05, spread=5),
    "Haar in the landmark ROI, step 2, window 0.6-2.0 x": lambda: RoiHaarDetector((0.6, 2.0), 0.05, step=2, spread=5),
    "Haar in the landmark ROI, step 2, window 0.8-1.6 x": lambda: RoiHaarDetector((0.8, 1.6), 0.05, step=2, spread=5),
    "Haar in the landmark ROI downscaled by 2, window 0.6-2.0 x": lambda: RoiHaarDownscaled((0.6, 2.0)),
    "Haar in the landmark ROI downscaled by 2, window 0.8-1.6 x": lambda: RoiHaarDownscaled((0.8, 1.6)),
}
EXACT_ROI, BAND_ROI = list(ROI_DETECTORS)[:2]


class _Timed:
    """The face step's landmark call (MediaPipe's landmark model), timed into a list."""

    def __init__(self, run, into: list):
        self.run, self.into = run, into

    def __call__(self, image_bgr):
        t = time.perf_counter()
        out = self.run(image_bgr)
        self.into.append(time.perf_counter() - t)
        return out


def load(video: Path, ref_csv: Path, crop_size: int, detectors: dict | None = None):
    import cv2

    from emer_live.features.face import FaceProcessor

    ref, boxes = read_reference(ref_csv, True)
    fer_box = {i: (x0 + s / 2, y0 + s / 2, s) for i, (x0, y0, s) in boxes.items()}
    haar = read_haar_boxes(ref_csv)
    frames, meas = [], {}
    detectors = detectors or {}
    found = {k: {} for k in detectors}  # detector -> frame -> Haar box (x, y, w, h)
    times = {k: [] for k in ["face step", "MediaPipe", *detectors]}
    cap = cv2.VideoCapture(str(video))
    with FaceProcessor(crop_size=crop_size) as fp:
        fp._landmarks = _Timed(fp._landmarks, times["MediaPipe"])  # the landmark model's own call, timed alone
        while True:
            ok, img = cap.read()
            if not ok:
                break
            t = time.perf_counter()
            r = fp.process(img)
            times["face step"].append(time.perf_counter() - t)
            if r.landmarks is not None:
                i = len(frames)
                meas[i] = measures(r.landmarks[:, :2].astype(np.float64))
                for k, det in detectors.items():  # timed right after the face step, on the same frame
                    t = time.perf_counter()
                    b = det(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), r.box)
                    times[k].append(time.perf_counter() - t)
                    if b is not None:
                        found[k][i] = b
            frames.append(img)
    cap.release()
    return dict(frames=frames, ref=ref, fer_box=fer_box, meas=meas, found=found, times=times, haar=haar)


class Scorer:
    def __init__(self, engine):
        from emer_live.features.face_crop import FaceCropper
        from emer_live.labels import EMOTIONS_7
        from emer_live.pipeline.frame_fer import ExpressionReader

        self.engine, self.labels = engine, EMOTIONS_7
        self.reader = ExpressionReader.for_engine(engine)
        self.recipe, self.size = engine.card.crop_recipe, engine.card.crop_size
        self.cropper = FaceCropper(self.recipe, self.size)
        self._make_cropper = FaceCropper

    def crop(self, img, box, gray_first=False, fer_pad=False):
        """The box cut out by the card recipe: two stand-in eye points placed so that the recipe's
        template maps the box onto the crop."""
        import cv2

        p_r, p_l = eye_points_of_box(self.recipe, box)
        cropper = self.cropper
        if gray_first or fer_pad:
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if fer_pad:
            pad = int(round(cv2.mean(gray[-2:])[0]))
            cropper = self._make_cropper(dataclasses.replace(self.recipe, pad_value=pad), self.size)
        rgb = np.repeat(gray[:, :, None], 3, 2) if gray_first else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return cropper(rgb, p_r, p_l)

    def agreement(self, d: dict, boxes: dict, shifts=((0, 0),), make=None, **kw) -> dict:
        """make: (frame, box) -> crop, instead of the recipe's crop."""
        idx = [i for i in sorted(boxes) if i in d["ref"]]
        make = make or (lambda img, b: self.crop(img, b, **kw))
        crops = [make(d["frames"][i], (boxes[i][0] + dx, boxes[i][1] + dy, boxes[i][2]))
                 for i in idx for dx, dy in shifts]
        p = np.concatenate([self.reader.probs(self.engine.embed_faces(np.stack(crops[k:k + 64])))
                            for k in range(0, len(crops), 64)])
        p = p.reshape(len(idx), len(shifts), -1).mean(1)
        same = sum(self.labels[int(np.argmax(row))] == d["ref"][i] for row, i in zip(p, idx))
        return {"agree": int(same), "frames_compared": len(idx), "agreement": round(same / len(idx), 4)}


def sampled_input64(img: np.ndarray, box) -> np.ndarray:
    """The card recipe's 64x64 samples of a box (bilinear at pixel centres, constant padding), gray."""
    import cv2

    cx, cy, s = box
    k = 64 / s
    m = np.array([[k, 0, 32 - k * cx + k * 0.5 - 0.5], [0, k, 32 - k * cy + k * 0.5 - 0.5]])
    return cv2.warpAffine(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), m, (64, 64), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def calibrated(d: dict, boxes: dict, every: int) -> dict:
    """The boxes corrected by the detector run on every `every`-th frame only (its box there, taken
    from the reference): the running median of the detector's box relative to ours (offset and
    side, in units of our side), applied causally from the first such frame on."""
    out, seen = {}, []
    for i in sorted(boxes):
        cx, cy, s = boxes[i]
        if i % every == 0 and i in d["fer_box"]:
            bx, by, bs = d["fer_box"][i]
            seen.append(((bx - cx) / s, (by - cy) / s, bs / s))
        if seen:
            dx, dy, k = np.median(seen, 0)
            out[i] = (cx + dx * s, cy + dy * s, s * k)
        else:
            out[i] = (cx, cy, s)
    return out


def ema(boxes: dict, alpha: float = 0.5) -> dict:
    out, prev = {}, None
    for i in sorted(boxes):
        b = np.array(boxes[i])
        prev = b if prev is None else alpha * b + (1 - alpha) * prev
        out[i] = tuple(prev)
    return out


def read_haar_boxes(ref_csv: Path) -> dict:
    """frame -> the reference's Haar box (x, y, w, h) as the full-frame detector gave it."""
    import csv

    with open(ref_csv, newline="") as f:
        return {int(r["frame"]): tuple(int(r[k]) for k in ("box_x", "box_y", "box_w", "box_h"))
                for r in csv.DictReader(f) if r["face_found"] == "1"}


def detector_boxes(d: dict, name: str, template: dict) -> dict:
    """The ROI detector's crop box where it found a face, else the template's."""
    return {i: fer_crop_box(d["found"][name][i]) if i in d["found"][name] else b for i, b in template.items()}


def detector_every(d: dict, name: str, every: int, template: dict, phase: int = 0) -> dict:
    """The ROI detector run on every `every`-th frame only; between runs its last crop box is carried
    by the landmark box (its offset from the landmark box centre and its side, in landmark widths).
    The template until the first detection."""
    out, rel = {}, None
    for i in sorted(template):
        m = d["meas"][i]
        if i % every == phase and i in d["found"][name]:
            cx, cy, s = fer_crop_box(d["found"][name][i])
            rel = ((cx - m["bcx"]) / m["bw"], (cy - m["bcy"]) / m["bw"], s / m["bw"])
        out[i] = template[i] if rel is None else (m["bcx"] + rel[0] * m["bw"], m["bcy"] + rel[1] * m["bw"], rel[2] * m["bw"])
    return out


def detector_stats(d: dict, name: str) -> dict:
    """How the ROI detector's box compares with the full-frame one, and what it costs next to the
    face step (p50 of each, milliseconds, and their ratio)."""
    got, full = d["found"][name], d["haar"]
    both = [i for i in got if i in full]
    err = np.array([[got[i][0] + got[i][2] / 2 - full[i][0] - full[i][2] / 2,
                     got[i][1] + got[i][3] / 2 - full[i][1] - full[i][3] / 2, got[i][2] - full[i][2]] for i in both])
    face, det = float(np.median(d["times"]["face step"])) * 1e3, float(np.median(d["times"][name])) * 1e3
    mesh = float(np.median(d["times"]["MediaPipe"])) * 1e3
    return {"frames_with_landmarks": len(d["meas"]), "found": len(got),
            "fallback_to_template": len(d["meas"]) - len(got),
            "same_as_full_frame_box": int(sum(got[i] == full[i] for i in both)), "compared": len(both),
            "rms_vs_full_frame_px_cx_cy_side": [round(float(v), 2) for v in np.sqrt((err ** 2).mean(0))] if both else None,
            "detector_p50_ms": round(det, 2), "mediapipe_p50_ms": round(mesh, 2), "ratio_to_mediapipe": round(det / mesh, 2),
            "face_step_p50_ms": round(face, 2), "ratio_to_face_step": round(det / face, 2),
            "detector_mean_ms": round(float(np.mean(d["times"][name])) * 1e3, 2)}


def template_boxes(d: dict, recipe) -> dict:
    """The card's eye-corner template as a box: the eye-corner midpoint and distance fix it."""
    (lx, ly), (rx, ry) = recipe.eye_template
    out = {}
    for i, m in d["meas"].items():
        s = m["iod"] / (rx - lx)
        out[i] = (m["emx"] - ((lx + rx) / 2 - 0.5) * s, m["emy"] - (ly - 0.5) * s, s)
    return out


def box_rms(d: dict, boxes: dict) -> list:
    e = np.array([np.subtract(boxes[i], d["fer_box"][i]) for i in boxes if i in d["fer_box"]])
    return [round(float(v), 1) for v in np.sqrt((e ** 2).mean(0))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model card (default: the bundled model)")
    ap.add_argument("--data", default=None, help="folder with video/ and reference/fer_original/")
    ap.add_argument("--json", default=None, help="also write the table here")
    ap.add_argument("--quick", action="store_true", help="the fer box and template rows only, no box models")
    ap.add_argument("--roi-haar", action="store_true",
                    help="only the fer box, the template and the detector run in the landmark ROI")
    args = ap.parse_args(argv)
    base = Path(args.data or os.environ.get("EMER_SHARED_DATA") or ROOT.parent / "shared" / "data")

    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(args.model, prefer_gpu=False)
    scorer = Scorer(engine)
    data = {n: load(base / "video" / f"{n}.mp4", base / "reference" / "fer_original" / f"{n}_fer_keras.csv",
                    engine.card.crop_size, {k: make() for k, make in ROI_DETECTORS.items()}) for n in VIDEOS}
    rows = []

    def row(label, boxes_of, detector=None, **kw):
        r = {"variant": label}
        for n in VIDEOS:
            r[n] = scorer.agreement(data[n], boxes_of[n], **kw)
            if boxes_of[n] is not data[n]["fer_box"]:
                r[n]["box_rms_px_cx_cy_side"] = box_rms(data[n], boxes_of[n])
            if detector:
                r[n]["detector"] = detector_stats(data[n], detector)
        rows.append(r)
        print(f"{label:78s} " + "  ".join(f"{n.split('_')[0][:7]} {r[n]['agree']}/{r[n]['frames_compared']} "
                                          f"{r[n]['agreement']:.1%}" for n in VIDEOS), flush=True)
        if detector:
            for n in VIDEOS:
                ds = r[n]["detector"]
                print(f"    {n.split('_')[0][:7]}: found {ds['found']}/{ds['frames_with_landmarks']}, same box as the "
                      f"full frame {ds['same_as_full_frame_box']}/{ds['compared']}, rms cx/cy/side "
                      f"{ds['rms_vs_full_frame_px_cx_cy_side']} px; p50 {ds['detector_p50_ms']} ms = "
                      f"{ds['ratio_to_mediapipe']} x MediaPipe ({ds['mediapipe_p50_ms']} ms), "
                      f"{ds['ratio_to_face_step']} x the face step ({ds['face_step_p50_ms']} ms)", flush=True)

    fer_box = {n: data[n]["fer_box"] for n in VIDEOS}
    row("fer box (ceiling)", fer_box)
    tpl = {n: template_boxes(data[n], scorer.recipe) for n in VIDEOS}
    row("card template", tpl)
    for name in ROI_DETECTORS:
        row(name + ", else the template", {n: detector_boxes(data[n], name, tpl[n]) for n in VIDEOS}, detector=name)
    for det, tag, cadences in ((EXACT_ROI, "11 scales", (2, 3)), (BAND_ROI, "7-8 scales", (2,))):
        for every in cadences:
            for phase in range(every):
                row(f"Haar in the landmark ROI (step 1, {tag}) on frames {phase} mod {every}, carried by the landmarks between",
                    {n: detector_every(data[n], det, every, tpl[n], phase) for n in VIDEOS})
    if args.roi_haar:
        return _finish(args, engine, rows)
    row("fer box + gray first, fer pad", fer_box, gray_first=True, fer_pad=True)
    lift, exact = ExactLift(engine.card.crop_size, exact=False), ExactLift(engine.card.crop_size)
    row("fer box, exact input (fer's own 64x64, lifted exactly)", fer_box, make=lambda img, b: exact(fer_input64(img, b)))
    row("fer box, recipe's 64x64 samples lifted exactly", fer_box, make=lambda img, b: exact(sampled_input64(img, b)))
    row("card template, recipe's 64x64 samples lifted exactly", tpl, make=lambda img, b: exact(sampled_input64(img, b)))
    row("card template, lifted", tpl, make=lambda img, b: lift(sampled_input64(img, b)))
    row("card template + EMA", {n: ema(tpl[n]) for n in VIDEOS})
    row("card template + gray first, fer pad", tpl, gray_first=True, fer_pad=True)
    row("card template + 5 shifts", tpl, shifts=SHIFTS)
    for every in (90, 30, 10):
        row(f"card template, corrected by the detector every {every} frames",
            {n: calibrated(data[n], tpl[n], every) for n in VIDEOS})
    if args.quick:
        return _finish(args, engine, rows)
    fits = ([SF], [PX], [PX, SF])
    for name in BOX_MODELS:
        for train in fits:
            samples = [(data[n]["meas"][i], data[n]["fer_box"][i]) for n in train for i in data[n]["meas"]
                       if i in data[n]["fer_box"]]
            model = BoxModel(name).fit(samples)
            boxes = {n: {i: model.box(m) for i, m in data[n]["meas"].items()} for n in VIDEOS}
            tag = f"{name}, fit on {' + '.join(t.split('_')[0] for t in train)}"
            row(tag, boxes)
            if len(train) == 2:
                row(tag + " + EMA", {n: ema(boxes[n]) for n in VIDEOS})
                row(tag + " + 5 shifts", boxes, shifts=SHIFTS)
    return _finish(args, engine, rows)


def _finish(args, engine, rows) -> int:
    if args.json:
        Path(args.json).write_text(json.dumps({"model": engine.card.name, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
