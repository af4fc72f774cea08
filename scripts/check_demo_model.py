"""Does a model's ER stay honest on real eyes? Run with the app environment:

    .venv/bin/python scripts/check_demo_model.py --video VIDEO --tx300 DIR [--model CARD] [--json OUT]

For each participant folder of the real TX300 recordings (DIR/participant*/), its trials (about
4 s each) are joined into one continuous recording in the same SDK layout (each trial's times
shifted to start one 300 Hz sample period after the previous trial's end: the app treats separate
files as separate segments and no 8 s window spans two), and the app runs headless on VIDEO (the shared Pexels
clip: a woman going from crying to laughing) and writes JSON lines. Per window:

- agree: ER top class == the window's FER top class (targets: >= 90 % of windows);
- where they differ, the ER top probability (target: <= 0.6);
- the eye guard's verdict (eye_check.unfamiliar), when the card has a guard.

The same joined recording is also written as a Tobii Pro Lab and a Tobii Studio export would hold
it (tests/tobii_exports.py: display point in pixels, pupil diameter and validity only, each
tool's rounding) and run the same way; per tool, the share of windows whose ER top class equals
the SDK layout's (target: >= 95 %) beside the figures above.

Then the simulated-gaze demo: the same video with simulated gaze whose genuine emotion is
sadness (a masked emotion, the README screenshot); reported: share of windows where ER says
sadness while FER says something else (the gap the demo should show) and how many are flagged.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import tobii_exports as tx  # noqa: E402  (writes a recording in each tool's layout)


def run_app(video: Path, gaze: str, model: Path | None, out: Path) -> list[dict]:
    cmd = [sys.executable, "-m", "emer_live", "run", "--headless", "--video", str(video), "--gaze", gaze,
           "--fast", "--cpu", "--out", str(out)]
    if model:
        cmd += ["--model", str(model)]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]


def join_trials(files, out: Path) -> Path:
    """The trials as one TSV: same header and values, the Time column (µs) made continuous."""
    lines, offset = [], 0
    for f in sorted(files):
        rows = Path(f).read_text().splitlines()
        if not lines:
            lines.append(rows[0])
        t = [int(r.split("\t", 1)[0]) for r in rows[1:]]
        for r, ti in zip(rows[1:], t):
            lines.append(f"{ti - t[0] + offset}\t{r.split(chr(9), 1)[1]}")
        offset += t[-1] - t[0] + 3333
    out.write_text("\n".join(lines) + "\n")
    return out


def tool_layouts(sdk_log: Path, out_dir: Path) -> dict[str, Path]:
    """The SDK log as written by each tool: {"sdk", "pro-lab", "studio"} -> file."""
    d = tx.tx300(sdk_log)
    return {"sdk": sdk_log,
            "pro-lab": tx.write(out_dir / f"{sdk_log.stem}.prolab.tsv", tx.PRO_LAB_NEW,
                                tx.pro_lab_rows(d, "P1", "R1", tx.PRO_LAB_NEW)),
            "studio": tx.write(out_dir / f"{sdk_log.stem}.studio.csv", tx.STUDIO, tx.studio_rows(d, "P1", "R1"),
                               delimiter=",")}


def same_as(preds: list[dict], ref: list[dict]) -> float:
    """Share of ref's windows (by time) whose ER top class preds repeats (a missing window counts as different)."""
    mine = {round(p["t_s"], 2): p["er"]["top7"] for p in preds if "er" in p}
    ref = [p for p in ref if "er" in p]
    return round(sum(mine.get(round(p["t_s"], 2)) == p["er"]["top7"] for p in ref) / max(len(ref), 1), 3)


def summarise(preds: list[dict]) -> dict:
    preds = [p for p in preds if "er" in p and "fer" in p]
    agree = [p["er"]["top7"] == p["fer"]["top7"] for p in preds]
    differ_p = [max(p["er"]["probs7"].values()) for p, a in zip(preds, agree) if not a]
    flags = [bool((p.get("eye_check") or {}).get("unfamiliar")) for p in preds]
    reasons = sorted({(p.get("eye_check") or {}).get("reason", "").split(": ")[-1] for p in preds if p.get("eye_check")})
    return {
        "windows": len(preds),
        "er_top_equals_fer_top": round(sum(agree) / max(len(preds), 1), 3),
        "er_top_prob_where_differs_max": round(max(differ_p), 3) if differ_p else None,
        "er_top_prob_where_differs_mean": round(sum(differ_p) / len(differ_p), 3) if differ_p else None,
        "differing_windows_over_0_6": sum(p > 0.6 for p in differ_p),
        "unfamiliar_rate": round(sum(flags) / max(len(preds), 1), 3),
        "artefact_rate": round(sum(bool((p.get("eye_check") or {}).get("artefacts")) for p in preds) / max(len(preds), 1), 3),
        "confident_contradictions_not_flagged": sum(1 for p, a, f in zip(preds, agree, flags)
                                                   if not a and not f and max(p["er"]["probs7"].values()) > 0.6),
        "er_top_classes": {k: sum(p["er"]["top7"] == k for p in preds) for k in sorted({p["er"]["top7"] for p in preds})},
        "example_reasons": reasons[:3],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", required=True)
    ap.add_argument("--tx300", required=True, help="folder holding participant*/ TSV trials")
    ap.add_argument("--model", help="model card (default: the bundled model)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    model = Path(args.model) if args.model else None
    res = {"model": str(model or "bundled"), "real_eyes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        res["tool_layouts"] = {}
        for part in sorted(Path(args.tx300).glob("participant*")):
            joined = join_trials(part.glob("*.tsv"), Path(tmp) / f"{part.name}.tsv")
            runs = {tool: run_app(Path(args.video), f"tsv:{f}", model, Path(tmp) / "p.jsonl")
                    for tool, f in tool_layouts(joined, Path(tmp)).items()}
            res["real_eyes"][part.name] = summarise(runs["sdk"])
            res["tool_layouts"][part.name] = {tool: {"er_top_same_as_sdk": same_as(preds, runs["sdk"]), **summarise(preds)}
                                              for tool, preds in runs.items() if tool != "sdk"}
        sim = run_app(Path(args.video), "simulated:sadness=60", model, Path(tmp) / "s.jsonl")
    s = summarise(sim)
    sim = [p for p in sim if "er" in p and "fer" in p]  # predictions (not the per-frame FER lines)
    s["er_sadness_while_fer_not"] = round(sum(p["er"]["top7"] == "sadness" and p["fer"]["top7"] != "sadness"
                                              for p in sim) / max(len(sim), 1), 3)
    res["simulated_sadness"] = s
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
