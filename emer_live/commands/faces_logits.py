"""`emer-live faces logits --video A.mp4 [--video B/ ...] --model CARD --out FILE.npz`: every frame of
real face videos (or image folders, or recorded sessions) through the app's own face pipeline and a
model card's face network, its per-frame expression logits saved for training.

This is the face step of `emer-train build-demo`: the demo model's fusion is trained on what the
frozen FER2013 network says about real faces, and only the app environment has MediaPipe. Every
frame is cut with the card's crop recipe (as the app cuts it at run time, landmarks found anew on
each frame), normalised with the card's face mean and std, and the face encoder's outputs (the 7
pre-softmax logits in the card's `face.expression.classes` order) are written with
numpy.savez_compressed: logits (K, 7) float32, source (K,) index into names, frame (K,) frame
number, names (one per --video: a file's stem, a folder's name), classes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from emer_live.errors import EmerError


def add_arguments(parser) -> None:
    parser.add_argument("--video", action="append", required=True, metavar="PATH",
                        help="a face video, a folder of face images or a recorded session (repeatable)")
    parser.add_argument("--model", required=True, metavar="CARD",
                        help="model card whose face network (face_encoder graph, face.expression) and crop recipe are used")
    parser.add_argument("--out", required=True, metavar="FILE", help="the .npz to write")


def face_logits(videos, card_path, out) -> dict:
    """Write the logits file; returns {"crops", "names", "top_classes", "frames_without_face"}."""
    import onnxruntime as ort

    from emer_live.features.face import FaceProcessor
    from emer_live.features.face_cache import _frames
    from emer_live.model_card import load_card

    card = load_card(card_path)
    expression = card.expression
    if expression is None:
        raise EmerError(f"{card_path}: the card's face network has no per-frame expression output (face.expression)")
    encoder = card.graph_path("face_encoder")
    if encoder is None:
        raise EmerError(f"{card_path}: the card names no separate face_encoder graph")
    sources = [Path(v) for v in videos]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise EmerError(f"face sources not found: {', '.join(missing)}")
    face = card.data["face"]
    proc = FaceProcessor(crop_size=card.crop_size, static_image_mode=True, recipe=card.crop_recipe)
    sess = ort.InferenceSession(str(encoder), providers=["CPUExecutionProvider"])
    name_in = sess.get_inputs()[0].name
    mean, std = np.asarray(face["mean"], np.float32), np.asarray(face["std"], np.float32)
    names = [s.stem if s.is_file() else s.name for s in sources]
    logits, src, frame, no_face = [], [], [], 0
    for k, path in enumerate(sources):
        for i, img in _frames(path, 100_000):  # every frame (at most 100,000 per source)
            res = proc.process(img)
            if res.crop is None:
                no_face += 1
                continue
            x = ((res.crop.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)[None]
            logits.append(sess.run(None, {name_in: x})[0][0])
            src.append(k)
            frame.append(i)
    if not logits:
        raise EmerError(f"no face found in any frame of {', '.join(names)}")
    classes = list(expression["classes"])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, logits=np.asarray(logits, np.float32), source=np.asarray(src, np.int64),
                        frame=np.asarray(frame, np.int64), names=np.asarray(names), classes=np.asarray(classes))
    top = np.asarray(logits).argmax(1)
    return {"crops": len(logits), "names": names, "frames_without_face": no_face,
            "top_classes": {c: int((top == j).sum()) for j, c in enumerate(classes)}}


def main(args) -> int:
    s = face_logits(args.video, args.model, args.out)
    print(f"wrote {args.out}: {s['crops']} crops from {s['names']} ({s['frames_without_face']} frames without a "
          f"face); top classes {s['top_classes']}", file=sys.stdout)
    return 0
