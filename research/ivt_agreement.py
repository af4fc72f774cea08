"""Fixation agreement of the project's I-VT with a reference classifier, per recording.

    python research/ivt_agreement.py [GAZE_FILES_OR_FOLDER ...] [--json OUT.json]

Reference: a Tobii export's own labels ("Eye movement type" / "GazeEventType") where a file has
them (give its display with --screen-mm W H --viewing-distance-mm D), else I2MC (pip install I2MC; the set-up of its TX300 example: 1920x1080 px display,
50.9 x 28.6 cm at 65 cm, minimum fixation 60 ms). Ours, on the same samples:
  causal   the former online classifier (causal 20 ms smoothing and velocity window)
  centred  eye-v1's classifier (windows centred on the sample, as Tobii's I-VT filter)
  tobii    centred plus Tobii's optional steps at Tobii's defaults (gap fill-in 75 ms, merge
           fixations within 75 ms and 0.5 deg, discard fixations under 60 ms)
Figures per recording: Cohen's kappa of fixation vs not (samples where both have gaze), ratio of
fixation counts (ours / reference, fixations of 60 ms or more), median fixation durations; and
the lag of the causal labels: the shift (samples, ms) that best aligns them with the centred ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emer_live.errors import SourceError  # noqa: E402
from emer_live.features import ivt  # noqa: E402
from emer_live.features.eye_v1 import EyeParams, MISSING, _binocular, _display_mean, process_gaze  # noqa: E402
from emer_live.sources.tobii_tsv import gaze_files, read_gaze_file  # noqa: E402
from emer_live.types import GAZE_COL  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "eyetracking" / "i2mc_tobii_tx300"
SCREEN_PX, SCREEN_CM, DISTANCE_CM = (1920.0, 1080.0), (50.9174, 28.6411), 65.0


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two boolean label sequences."""
    po = float(np.mean(a == b))
    pa, pb = float(a.mean()), float(b.mean())
    pe = pa * pb + (1 - pa) * (1 - pb)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def fixations_ms(t_ns: np.ndarray, is_fix: np.ndarray, min_ms: float = 60.0) -> np.ndarray:
    d = np.diff(np.concatenate(([0], is_fix.astype(np.int8), [0])))
    s, e = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    period = float(np.median(np.diff(t_ns)))
    dur = (t_ns[e - 1] - t_ns[s] + period) / 1e6
    return dur[dur >= min_ms]


def i2mc_labels(t_ns: np.ndarray, raw: np.ndarray) -> np.ndarray:
    import I2MC
    import pandas as pd

    d = {"time": (t_ns - t_ns[0]) / 1e6}
    for e, eye in (("L", "left"), ("R", "right")):
        ok = raw[:, GAZE_COL[f"{eye}_gaze_point_validity"]] == 1
        d[f"{e}_X"] = np.where(ok, raw[:, GAZE_COL[f"{eye}_gaze_point_on_display_area_x"]] * SCREEN_PX[0], np.nan)
        d[f"{e}_Y"] = np.where(ok, raw[:, GAZE_COL[f"{eye}_gaze_point_on_display_area_y"]] * SCREEN_PX[1], np.nan)
    rate = 1e9 / float(np.median(np.diff(t_ns)))
    nominal = int(round(rate / 10) * 10)  # I2MC wants the nominal rate (298.3 -> 300)
    opt = dict(xres=SCREEN_PX[0], yres=SCREEN_PX[1], freq=nominal, missingx=-SCREEN_PX[0], missingy=-SCREEN_PX[1],
               scrSz=list(SCREEN_CM), disttoscreen=DISTANCE_CM, minFixDur=60.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fix = I2MC.I2MC(pd.DataFrame(d), opt, logging=False)[0]
    ref = np.zeros(len(t_ns), bool)
    for a, b in zip(fix["start"], fix["end"]):
        ref[int(a):int(b) + 1] = True
    return ref


def our_labels(t_ns: np.ndarray, raw: np.ndarray, params: EyeParams) -> dict:
    """Labels of the three variants on the same samples, and which samples have gaze."""
    p = process_gaze(t_ns, raw, params)
    n = len(p.t_ns)
    dirs = p.vec[:, 30:36].astype(np.float64).reshape(n, 2, 3)
    both = _binocular(dirs, _display_mean(p.vec.astype(np.float64)), params)
    both[p.event == MISSING] = np.nan  # what eye-v1 leaves missing (short gaps, lost eyes)
    both[p.event == 2] = np.nan  # blinks: interpolated, not gaze (the reference has none there)
    common = dict(threshold_deg_s=params.ivt_threshold_deg_s, window_s=params.velocity_window_s,
                  smoothing_s=params.smoothing_window_s)
    return {
        "t_ns": p.t_ns, "has_gaze": p.event != MISSING,
        "causal": ivt.classify(p.t_ns, both, steps=None, centred=False, **common) == ivt.FIXATION,
        "centred": p.event == ivt.FIXATION,
        "tobii": ivt.classify(p.t_ns, both, steps=ivt.TobiiSteps(), **common) == ivt.FIXATION,
    }


def best_shift(a: np.ndarray, b: np.ndarray, usable: np.ndarray, max_shift: int = 15) -> int:
    """The shift k (samples) maximising agreement of a[i + k] with b[i]: how late a runs."""
    scores = {}
    for k in range(-max_shift, max_shift + 1):
        i = np.arange(max(0, -k), min(len(a), len(a) - k))
        ok = usable[i] & usable[i + k]
        scores[k] = float(np.mean(a[i + k][ok] == b[i][ok]))
    return max(scores, key=scores.get)


@np.errstate(invalid="ignore", divide="ignore")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_DATA])
    ap.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    ap.add_argument("--screen-mm", nargs=2, type=float, default=[SCREEN_CM[0] * 10, SCREEN_CM[1] * 10],
                    metavar=("WIDTH", "HEIGHT"), help="display size for gaze without 3D vectors (default: the TX300 set-up)")
    ap.add_argument("--viewing-distance-mm", type=float, default=DISTANCE_CM * 10, metavar="MM")
    args = ap.parse_args(argv)
    params = EyeParams(screen_width_mm=args.screen_mm[0], screen_height_mm=args.screen_mm[1],
                       screen_distance_mm=args.viewing_distance_mm)
    rows = []
    for f in [g for p in args.paths for g in gaze_files(p)]:
        try:
            recordings = read_gaze_file(f).recordings
        except SourceError as e:
            print(f"skipped: {str(e)[:120]}", file=sys.stderr)
            continue
        for rec in recordings:
            t_ns, raw = rec.timeline_us() * 1000, rec.raw
            ours = our_labels(t_ns, raw, params)
            if rec.movement is not None and set(rec.movement) & {"Fixation", "Saccade"}:
                ref, ref_name = np.asarray(rec.movement) == "Fixation", "tool labels"
            else:
                ref, ref_name = i2mc_labels(t_ns, raw), "I2MC"
            usable = ours["has_gaze"]
            row = {"file": str(f.relative_to(f.parents[1])) if len(f.parents) > 1 else f.name, "recording": rec.name,
                   "reference": ref_name, "samples": int(usable.sum()), "ref_fixations": int(len(fixations_ms(t_ns, ref))),
                   "ref_median_ms": float(np.median(fixations_ms(t_ns, ref))) if ref.any() else None}
            for v in ("causal", "centred", "tobii"):
                fx = fixations_ms(t_ns, ours[v])
                row[v] = {"kappa": round(kappa(ours[v][usable], ref[usable]), 3),
                          "count_ratio": round(len(fx) / max(row["ref_fixations"], 1), 3),
                          "median_ms": round(float(np.median(fx)), 1) if len(fx) else None}
            lag = best_shift(ours["causal"], ours["centred"], usable)
            row["causal_lag_samples"] = lag
            row["causal_lag_ms"] = round(lag * float(np.median(np.diff(t_ns))) / 1e6, 2)
            rows.append(row)
    print(f"{'recording':32} {'ref':>5} {'ref med':>8} | {'kappa causal':>12} {'centred':>8} {'tobii':>6} | "
          f"{'count ratio c/t':>15} | {'median ms c/t':>13} | lag")
    for r in rows:
        print(f"{r['file'][:32]:32} {r['ref_fixations']:5d} {r['ref_median_ms'] or 0:8.0f} | {r['causal']['kappa']:12.3f} "
              f"{r['centred']['kappa']:8.3f} {r['tobii']['kappa']:6.3f} | {r['centred']['count_ratio']:7.2f}/"
              f"{r['tobii']['count_ratio']:<7.2f} | {r['centred']['median_ms'] or 0:6.0f}/{r['tobii']['median_ms'] or 0:<6.0f} | "
              f"{r['causal_lag_samples']} ({r['causal_lag_ms']} ms)")
    summary = {v: {"kappa_mean": round(float(np.mean([r[v]["kappa"] for r in rows])), 3),
                   "kappa_min": round(float(np.min([r[v]["kappa"] for r in rows])), 3),
                   "count_ratio_mean": round(float(np.mean([r[v]["count_ratio"] for r in rows])), 3),
                   "median_ms_mean": round(float(np.mean([r[v]["median_ms"] or 0 for r in rows])), 1)}
               for v in ("causal", "centred", "tobii")}
    summary["reference_median_ms_mean"] = round(float(np.mean([r["ref_median_ms"] or 0 for r in rows])), 1)
    summary["causal_lag_ms_median"] = float(np.median([r["causal_lag_ms"] for r in rows]))
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"recordings": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
