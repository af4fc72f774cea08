"""Real faces through the real face network, for the demo model's training: step 1 of
`emer-train build-demo`, which runs it with the app environment (MediaPipe) against the face
network it has just exported; by hand:

    .venv/bin/python scripts/make_real_face_logits.py --video A.mp4 [--video B.mp4 ...] [--model CARD] [--out FILE]

Every frame of each video (and skimage's astronaut photo) goes through the runtime's own face
pipeline (FaceProcessor with the FER2013 crop recipe the demo model's card asks for), and each
crop through the demo model's face encoder (the frozen FER2013 mini-Xception, models/emert-demo.face.onnx):
its 7 pre-softmax logits, FER2013 order, are what the fusion sees at run time. Written to
training/data/real_face_logits.npz (logits (K, 7), source index, frame index, source names), which
training.default_model reads; the training environment needs neither MediaPipe nor the videos.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "training" / "data" / "real_face_logits.npz"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", action="append", default=[], help="a real face video (repeatable)")
    ap.add_argument("--model", default=str(REPO / "models" / "emert-demo.card.json"))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    import onnxruntime as ort
    from skimage import data as skdata

    from emer_live.features.face_cache import _frames
    from emer_live.features.face import FaceProcessor
    from emer_live.features.face_crop import recipe_of_card

    card = json.loads(Path(args.model).read_text())
    face = card["face"]
    proc = FaceProcessor(crop_size=face["crop_size"], static_image_mode=True, recipe=recipe_of_card(face))
    sess = ort.InferenceSession(str(Path(args.model).with_name(card["graphs"]["face_encoder"])),
                                providers=["CPUExecutionProvider"])
    mean, std = np.asarray(face["mean"], np.float32), np.asarray(face["std"], np.float32)
    names, logits, src, frame = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        astro = Path(tmp) / "astronaut"
        astro.mkdir()
        cv2.imwrite(str(astro / "0.png"), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
        sources = [Path(v) for v in args.video] + [astro]
        for s, path in enumerate(sources):
            names.append(path.stem if path.is_file() else "skimage.data.astronaut")
            for i, img in _frames(path, 100000):
                res = proc.process(img)
                if res.crop is None:
                    continue
                x = ((res.crop.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)[None]
                logits.append(sess.run(None, {sess.get_inputs()[0].name: x})[0][0])
                src.append(s)
                frame.append(i)
    np.savez_compressed(args.out, logits=np.asarray(logits, np.float32), source=np.asarray(src, np.int64),
                        frame=np.asarray(frame, np.int64), names=np.asarray(names),
                        classes=np.asarray(face["expression"]["classes"]))
    top = np.asarray(logits).argmax(1)
    print(f"wrote {args.out}: {len(logits)} crops from {names}; top classes",
          {face["expression"]["classes"][k]: int((top == k).sum()) for k in range(7)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
