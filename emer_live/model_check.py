"""Does a model's ER stay honest on real eyes? The acceptance check behind `emer-live check-model`.

For each participant folder of real Tobii TX300 recordings (DIR/participant*/), its trials (about
4 s each) are joined into one continuous recording in the same SDK layout (each trial's times
shifted to start one 300 Hz sample period after the previous trial's end: the app treats separate
files as separate segments and no window spans two), and the app runs headless on a video (e.g. a
person going from crying to laughing). Per participant, over the model's windows:

- agree: ER top class == the window's FER top class (target: >= 90 % of windows);
- where they differ and the window is not flagged, the largest ER top probability (target: <= 0.6:
  no confident contradiction of the face without a stated reason);
- at least `min_windows` windows (a run that makes none proves nothing and fails);
- the eye guard's verdict (eye_check.unfamiliar), reported when the card has a guard.

Then the simulated-gaze demo: the same video with simulated gaze whose genuine emotion is sadness
(a masked emotion); reported, without a target: the share of windows where ER says sadness while
FER says something else (the gap the demo should show).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from emer_live.errors import EmerError

TRIAL_GAP_US = 3333  # one 300 Hz sample period between joined trials


@dataclass
class Targets:
    min_agree: float = 0.90  # ER top == FER top, share of windows
    max_differ_p: float = 0.6  # largest ER top probability where ER and FER differ
    min_windows: int = 1


def join_trials(files, out: Path) -> Path:
    """The trials as one TSV: same header and values, the Time column (µs) made continuous."""
    files = sorted(map(Path, files))
    if not files:
        raise EmerError("no trial files to join")
    lines, offset = [], 0
    for f in files:
        rows = f.read_text().splitlines()
        if len(rows) < 2:
            raise EmerError(f"trial file {f} holds no samples")
        if not lines:
            lines.append(rows[0])
        try:
            t = [int(r.split("\t", 1)[0]) for r in rows[1:]]
        except ValueError:
            raise EmerError(f"trial file {f}: the first column is not a whole-number time in µs") from None
        for r, ti in zip(rows[1:], t):
            lines.append(f"{ti - t[0] + offset}\t{r.split(chr(9), 1)[1]}")
        offset += t[-1] - t[0] + TRIAL_GAP_US
    out.write_text("\n".join(lines) + "\n")
    return out


def run_headless(video: Path, gaze: str, model: Optional[Path], out: Path) -> list[dict]:
    """The app's own headless run (`emer-live run --fast --cpu`), in this process; its predictions."""
    from emer_live import cli

    argv = ["run", "--headless", "--video", str(video), "--gaze", gaze, "--fast", "--cpu", "--no-frame-fer",
            "--out", str(out)]
    if model:
        argv += ["--model", str(model)]
    with contextlib.redirect_stdout(io.StringIO()):  # the summary line; the predictions go to `out`
        rc = cli.main(argv)
    if rc != 0:
        raise EmerError(f"the headless run on {video} with gaze {gaze} failed (exit {rc})")
    return [p for p in map(json.loads, out.read_text().splitlines()) if p.get("type") == "prediction"]


def summarise(preds: list[dict]) -> dict:
    preds = [p for p in preds if "er" in p and "fer" in p]
    agree = [p["er"]["top7"] == p["fer"]["top7"] for p in preds]
    differ_p = [max(p["er"]["probs7"].values()) for p, a in zip(preds, agree) if not a]
    flags = [bool((p.get("eye_check") or {}).get("unfamiliar")) for p in preds]
    unflagged_p = [max(p["er"]["probs7"].values()) for p, a, f in zip(preds, agree, flags) if not a and not f]
    return {
        "windows": len(preds),
        "er_top_equals_fer_top": round(sum(agree) / len(preds), 3) if preds else None,
        "er_top_prob_where_differs_max": round(max(differ_p), 3) if differ_p else None,
        "er_top_prob_where_differs_mean": round(sum(differ_p) / len(differ_p), 3) if differ_p else None,
        "unflagged_differs_max": round(max(unflagged_p), 3) if unflagged_p else None,
        "confident_contradictions_not_flagged": sum(q > 0.6 for q in unflagged_p),
        "unfamiliar_rate": round(sum(flags) / len(preds), 3) if preds else None,
        "artefact_rate": round(sum(bool((p.get("eye_check") or {}).get("artefacts")) for p in preds) / len(preds), 3)
        if preds else None,
        "er_top_classes": {k: sum(p["er"]["top7"] == k for p in preds) for k in sorted({p["er"]["top7"] for p in preds})},
    }


def misses(summary: dict, targets: Targets) -> list[str]:
    """Each target a participant's summary misses, in words ([] when all are met)."""
    out = []
    n = summary["windows"]
    if n < targets.min_windows:
        out.append(f"{n} windows, fewer than {targets.min_windows}")
    agree = summary["er_top_equals_fer_top"]
    if agree is None or agree < targets.min_agree:
        out.append(f"ER top == FER top in {agree if agree is not None else 'no'} of the windows, "
                   f"target >= {targets.min_agree}")
    worst = summary["unflagged_differs_max"]
    if worst is not None and worst > targets.max_differ_p:
        out.append(f"ER top probability {worst} where ER and FER differ and nothing is flagged, "
                   f"target <= {targets.max_differ_p}")
    return out


def check_model(video: Path, tx300_dir: Path, model: Optional[Path] = None, targets: Targets = Targets(),
                participants: Optional[list[str]] = None, simulated: bool = True) -> dict:
    """Run the check (see the module doc); returns the figures, the targets and what was missed."""
    video, tx300_dir = Path(video), Path(tx300_dir)
    if not video.is_file():
        raise EmerError(f"video {video} not found")
    folders = sorted(p for p in tx300_dir.glob("participant*") if p.is_dir())
    if participants:
        folders = [p for p in folders if p.name in participants]
    if not folders:
        raise EmerError(f"no participant*/ folders{' named ' + ', '.join(participants) if participants else ''} "
                        f"in {tx300_dir}")
    res = {"model": str(model or "bundled"), "targets": asdict(targets), "real_eyes": {}, "missed": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for part in folders:
            joined = join_trials(part.glob("*.tsv"), Path(tmp) / f"{part.name}.tsv")
            s = summarise(run_headless(video, f"tsv:{joined}", model, Path(tmp) / "p.jsonl"))
            res["real_eyes"][part.name] = s
            if misses(s, targets):
                res["missed"][part.name] = misses(s, targets)
        if simulated:
            sim = run_headless(video, "simulated:sadness=60", model, Path(tmp) / "s.jsonl")
            s = summarise(sim)
            s["er_sadness_while_fer_not"] = round(sum(p["er"]["top7"] == "sadness" and p["fer"]["top7"] != "sadness"
                                                      for p in sim) / max(len(sim), 1), 3)
            res["simulated_sadness"] = s
    res["passed"] = not res["missed"]
    return res
