"""What do the eyes add to ER, and does ER contradict the face without cause? Run with the app
environment:

    .venv/bin/python research/eye_effect_check.py --video VIDEO [--video VIDEO2] --tx300 DIR [--json OUT]

Real eyes of people who are not the person in the video: each TX300 participant's trials joined
into one recording (emer_live/model_check.py), written in every file layout the app reads (Tobii
SDK log, Pro Lab and Studio exports: tests/tobii_exports.py) and played beside each video. Those
eyes belong to someone else, so whatever they do to ER is not the filmed person's emotion: their
eye effect is the null the threshold (emer_live/pipeline/eye_effect.py) must stand above. The
threshold was chosen on participant1's recording in every layout beside the Pexels video; those
runs are left out of the held-out totals.

Per run (predictions of `emer-live run --headless`):
- eye effect: JSD between ER and the eye-withheld ER (p50, p99, max), the share of windows beyond
  the threshold (a gap the window would claim for eyes that are not the person's), the share
  where the eyes change ER's top class;
- confident contradictions (ER top != the window's FER top, ER p > 0.6): before the rule (not
  flagged by the eye guard alone) and after it (not flagged at all);
- baseline, the face alone (`--gaze none`, the eye input withheld for the whole run): confident
  contradictions the model makes without any eyes;
- the simulated masked sadness (`--gaze simulated:sadness=60`): a synthetic eye effect, which the
  rule must let through (effect beyond threshold, check passing).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import tobii_exports as tx  # noqa: E402  (the test suite's writer of each tool's layout)
from emer_live.model_check import join_trials  # noqa: E402
from emer_live.pipeline.eye_effect import CONFIDENT_ER_P, CONTRADICTION_REASON, EYE_EFFECT_THRESHOLD  # noqa: E402

CALIBRATION = "participant1"  # the threshold was chosen on its runs (every layout, the Pexels video)


def run_app(video: Path, gaze: str, out: Path) -> list[dict]:
    cmd = [sys.executable, "-m", "emer_live", "run", "--headless", "--video", str(video), "--gaze", gaze,
           "--fast", "--cpu", "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [p for p in map(json.loads, out.read_text().splitlines()) if p.get("type") == "prediction"]


def _confident_contradiction(p: dict) -> bool:
    return p["er"]["top7"] != p["fer"]["top7"] and max(p["er"]["probs7"].values()) > CONFIDENT_ER_P


def _guard_flag(p: dict) -> bool:
    """Flagged by the eye check before the contradiction rule (its own reason, not only the rule's)."""
    chk = p.get("eye_check") or {}
    return bool(chk.get("unfamiliar")) and chk.get("reason", "") != CONTRADICTION_REASON


def summarise(preds: list[dict]) -> dict:
    n = len(preds)
    jsd = np.array([p["eye_effect"]["jsd"] for p in preds]) if n else np.zeros(0)
    contra = [p for p in preds if _confident_contradiction(p)]
    return {
        "windows": n,
        "eye_effect_jsd_p50": round(float(np.percentile(jsd, 50)), 4) if n else None,
        "eye_effect_jsd_p99": round(float(np.percentile(jsd, 99)), 4) if n else None,
        "eye_effect_jsd_max": round(float(jsd.max()), 4) if n else None,
        "effect_beyond_threshold": int(np.sum(jsd > EYE_EFFECT_THRESHOLD)),
        "eyes_change_er_top": sum(p["eye_effect"]["top7"] != p["eye_effect"]["top7_without"] for p in preds),
        "gap_claimed": sum(p["eye_effect"]["shown"] and not (p.get("eye_check") or {}).get("unfamiliar") for p in preds),
        "er_differs_from_fer": sum(p["er"]["top7"] != p["fer"]["top7"] for p in preds),
        "eye_withheld_er_differs_from_fer": sum(p["eye_effect"]["top7_without"] != p["fer"]["top7"] for p in preds),
        "confident_contradictions": len(contra),
        "unflagged_before_rule": sum(not _guard_flag(p) for p in contra),
        "unflagged_after_rule": sum(not (p.get("eye_check") or {}).get("unfamiliar") for p in contra),
        "flagged_by_rule": sum(bool((p.get("eye_check") or {}).get("contradiction")) for p in preds),
    }


def total(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if isinstance(rows[0][k], int)] if rows else []
    out = {k: sum(r[k] for r in rows) for k in keys}
    out["eye_effect_jsd_max"] = max((r["eye_effect_jsd_max"] or 0.0) for r in rows) if rows else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", action="append", required=True, help="a video (repeatable)")
    ap.add_argument("--tx300", required=True, help="folder holding participant*/ TSV trials")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    videos = [Path(v) for v in args.video]
    res = {"threshold_jsd": EYE_EFFECT_THRESHOLD, "confident_er_p": CONFIDENT_ER_P,
           "calibration": CALIBRATION, "real_eyes": {}, "face_only": {}, "simulated_sadness": {}}
    held_out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for part in sorted(Path(args.tx300).glob("participant*")):
            joined = join_trials(part.glob("*.tsv"), tmp / f"{part.name}.tsv")
            for tool, f in tx.tool_layouts(joined, tmp).items():
                for video in videos:
                    s = summarise(run_app(video, f"tsv:{f}", tmp / "p.jsonl"))
                    key = f"{part.name}/{tool}/{video.stem}"
                    res["real_eyes"][key] = s
                    if part.name != CALIBRATION:
                        held_out.append(s)
                    print(key, json.dumps(s), flush=True)
        for video in videos:
            preds = run_app(video, "none", tmp / "f.jsonl")
            res["face_only"][video.stem] = summarise(preds)
            print(f"face only/{video.stem}", json.dumps(res["face_only"][video.stem]), flush=True)
            res["simulated_sadness"][video.stem] = summarise(run_app(video, "simulated:sadness=60", tmp / "s.jsonl"))
            print(f"simulated sadness/{video.stem}", json.dumps(res["simulated_sadness"][video.stem]), flush=True)
    res["real_eyes_held_out_total"] = total(held_out)
    print("held-out real eyes, total:", json.dumps(res["real_eyes_held_out_total"]))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
