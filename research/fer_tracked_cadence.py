"""How often must the live framing run the detector, and what should carry its box between?

    python research/fer_tracked_cadence.py CLIP... [--reference-dir DIR] [--every 1,2,3,4,6] [--json OUT]

For each clip and cadence, the app's face step with fer_box "tracked" (landmark tracker, as live
input runs) is compared with the original (its recorded Keras run where REFERENCE_DIR holds
NAME_fer_keras.csv, else `fer`'s pipeline reproduced: emer_live.bench.fer_agreement). Two anchors
carry the detector's box between its runs: the outer eye corners (midpoint and distance; the
product's) and the landmark bounding box (centre and width).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emer_live.bench import fer_agreement as fa  # noqa: E402
from emer_live.features.face_box import TrackedPlacement  # noqa: E402


class BoxAnchored(TrackedPlacement):
    """The detector's box kept relative to the landmark bounding box instead of the eye corners."""

    def __call__(self, image_bgr, landmark_box, p_right, p_left, crop_at):
        x0, y0, x1, y1 = landmark_box
        mid, d = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), max(x1 - x0, 1e-6)
        self._since += 1
        if self._held is None or self._since >= self.every:
            self._since = 0
            box = self.placement.find(image_bgr, landmark_box)
            if box is not None:
                self._held = ((box[0] - mid[0]) / d, (box[1] - mid[1]) / d, box[2] / d)
                return self.placement.crop(image_bgr, box, crop_at), "detector", None, None
        if self._held is None:
            return None, "template", None, None
        u, v, side = self._held
        return self.placement.crop(image_bgr, (mid[0] + u * d, mid[1] + v * d, side * d), crop_at), "tracked", None, None


def run(video: Path, engine, placement) -> dict:
    from emer_live.features.face import FaceProcessor
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.offline import run_offline
    from emer_live.sources.factory import make_frame_source

    fp = FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe, fer_box="tracked", tracker=True)
    fp._placement = placement
    pipe = Pipeline(engine, face_processor=fp, use_eye=False)
    placement.check = None  # the cadence alone (the pipeline attaches the near-tie check)
    got = fa._Collect()
    try:
        run_offline(make_frame_source(f"video:{video}", False), None, engine, [got], pipeline=pipe)
    finally:
        pipe.close()
    return got.top


def main() -> None:
    from emer_live.pipeline.engine import InferenceEngine

    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--reference-dir", type=Path)
    ap.add_argument("--every", default="1,2,3,4,6")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    engine = InferenceEngine(None, prefer_gpu=False)
    card = engine.card
    out = {}
    for clip in a.clips:
        keras = a.reference_dir / f"{clip.stem}_fer_keras.csv" if a.reference_dir else None
        ref = fa.read_reference(keras) if keras and keras.is_file() else fa.reproduced_reference(clip, engine)
        row = {}
        for every in (int(e) for e in a.every.split(",")):
            for anchor, cls in (("eyes", TrackedPlacement), ("landmark box", BoxAnchored)):
                r = fa.agreement(run(clip, engine, cls(card.crop_recipe, card.crop_size, every)), ref)
                row[f"every {every}, {anchor}"] = r["agreement"]
                print(f"{clip.name}: detector every {every}, anchored on the {anchor}: {r['agreement']:.1%}", flush=True)
        out[clip.name] = row
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
