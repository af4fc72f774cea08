"""The live framing's check: which cadence, margin and class-change check, at what share of detector frames?

    python research/fer_tie_check.py CLIP... [--reference-dir DIR] [--every 3,6,1000]
        [--margin 0,0.2,0.3,0.4] [--on-change 0,1] [--json OUT]

For each clip, cadence (the detector every N frames; 1000 = only for a new face), tie margin
(the detector also runs where the carried box's two most likely FER classes are closer than this
in probability; 0 = never) and class-change check (it also runs where the carried box's top class
differs from the face's last detector box's), the app's face step with fer_box "tracked" (landmark tracker, as live
input runs, the pipeline's own FER reader attached) is compared with the original (its recorded
Keras run where REFERENCE_DIR holds NAME_fer_keras.csv, else `fer`'s pipeline reproduced:
emer_live.bench.fer_agreement), with the share of face frames that ran the detector.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emer_live.bench import fer_agreement as fa  # noqa: E402


def run(video: Path, engine, every: int, margin: float, on_change: bool) -> fa._Collect:
    from emer_live.features.face import FaceProcessor
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.offline import run_offline
    from emer_live.sources.factory import make_frame_source

    fp = FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe, fer_box="tracked", tracker=True,
                       detector_thread=False)  # the check itself, each frame as if the detector were free
    fp._placement.every = every
    pipe = Pipeline(engine, face_processor=fp, use_eye=False)  # attaches its FER reader: the tie check
    if margin <= 0 and not on_change:
        fp._placement.check = None
    else:
        fp._placement.check.margin = margin
        fp._placement.check.on_change = on_change
    got = fa._Collect()
    try:
        run_offline(make_frame_source(f"video:{video}", False), None, engine, [got], pipeline=pipe)
    finally:
        pipe.close()
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--reference-dir", type=Path, default=None)
    ap.add_argument("--every", default="3,6,1000")
    ap.add_argument("--margin", default="0,0.2,0.3,0.4")
    ap.add_argument("--on-change", default="0,1", help="with the class-change check: 0 no, 1 yes, or both")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(None, prefer_gpu=False)
    out = []
    for clip in a.clips:
        keras = a.reference_dir / f"{clip.stem}_fer_keras.csv" if a.reference_dir else None
        ref = fa.read_reference(keras) if keras is not None and keras.is_file() else fa.reproduced_reference(clip, engine)
        for every in (int(e) for e in a.every.split(",")):
            for margin, change in ((float(m), c == "1") for m in a.margin.split(",") for c in a.on_change.split(",")):
                got = run(clip, engine, every, margin, change)
                ag = fa.agreement(got.top, ref)
                faces = sum(got.placed.values())
                row = {"clip": clip.name, "every": every, "margin": margin, "on_change": change, **ag,
                       "detector_share": round(got.placed.get("detector", 0) / faces, 4) if faces else None,
                       "crops_placed_by": dict(got.placed)}
                out.append(row)
                print(f"{clip.name} every {every} margin {margin} on_change {int(change)}: agrees {ag['agreement']:.1%} "
                      f"({ag['agree']}/{ag['frames_compared']}), detector on {row['detector_share']:.0%} of face frames",
                      flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
