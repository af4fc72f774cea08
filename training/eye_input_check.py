"""How a model's ER behaves on real eye recordings, across file layouts, and what its guard says.

    python -m training.eye_input_check [--card models/emert-demo.card.json] [--data DIR] [--json OUT]

numpy + ONNX Runtime only (runs in either environment). For each real Tobii TX300 participant
(DIR/i2mc_tobii_tx300/participant*/, the public I2MC example data) the five trials are joined
into one stream (each trial starts one sample period after the previous one ends), then written
as three layouts the way a reader leaves them (values a layout lacks are NaN):

    sdk            every SDK value
    no-trackbox    without the track-box eye positions
    display-pupil  display point, pupil diameter and validity only (what Pro Lab and Studio
                   exports carry)

Eye windows (the card's schema, encoding and window_s) end every 0.25 s. The face input is held
fixed per run at a clear expression of each of the 7 classes (FER2013-order logits, the target
7 above the rest, as the mini-Xception gives on a clear face), so ER differences come from the eyes.
Reported: ER top-class agreement of each layout with sdk; the guard's unfamiliar rate per layout;
ER top == FER top and the ER top probability where they differ; the guard on simulated gaze at
the demo's 120 Hz and on corrupted copies of the SDK layout (CORRUPTIONS), which it should flag; and the SDK layout
with the participant seated 200, 400 and 700 mm further back (eye positions moved in z).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emer_live.features.eye_norm import eye_check
from emer_live.features.eye_v1 import EYE_SCHEMAS, EyeParams, encode_window, process_gaze
from emer_live.labels import EMOTIONS_7
from emer_live.sources.simulated_gaze import simulate_raw
from emer_live.sources.tobii_tsv import read_tobii_tsv
from emer_live.types import GAZE_COL
from training.data.real_eye import FILE_LAYOUTS as LAYOUTS
from training.data.real_eye import drop_columns, moved_seat

REPO = Path(__file__).resolve().parents[1]
FER2013_ORDER = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
STEP_S = 0.25
_DISPLAY = [GAZE_COL[f"{e}_gaze_point_on_display_area_{a}"] for e in ("left", "right") for a in "xy"]
_PUPIL = [GAZE_COL[f"{e}_pupil_diameter"] for e in ("left", "right")]


def _shift_display(raw):  # a display-geometry mix-up: gaze 0.9 display widths right of where it was
    r = raw.copy()
    r[:, _DISPLAY[0::2]] += 0.9
    return r


def _pupil_px(raw):  # pupil diameter in camera pixels (about 10 per mm) instead of mm
    r = raw.copy()
    r[:, _PUPIL] *= 10.0
    return r


SEATED_FURTHER_MM = (200, 400, 700)  # the TX300 participants sat about 65 cm away; 700 mm more is 1.35 m


def seated_further_back(raw, mm: float):
    """The eyes `mm` further from the tracker: the same gaze on the display, a participant who sits
    further back."""
    return moved_seat(raw, (0.0, 0.0, mm))


CORRUPTIONS = {"display shifted 0.9 widths": _shift_display, "pupil in pixels": _pupil_px}


def joined_participant(files) -> tuple[np.ndarray, np.ndarray]:
    """The trials of one participant as one stream (t_ns, raw)."""
    ts, raws, offset = [], [], 0
    for f in sorted(files):
        rec = read_tobii_tsv(f)
        t = rec.t_us.astype(np.int64) * 1000
        period = int(np.median(np.diff(t)))
        t = t - t[0] + offset
        ts.append(t)
        raws.append(rec.raw)
        offset = int(t[-1]) + period
    return np.concatenate(ts), np.concatenate(raws)


def face_logits(expression: str) -> np.ndarray:
    logits = np.zeros((8, 7), np.float32)
    logits[:, FER2013_ORDER.index(expression)] = 7.0
    return logits


def windows_of(t_ns, raw, card, stems) -> list[np.ndarray]:
    params = EyeParams(schema=card.eye_schema)
    p = process_gaze(t_ns, drop_columns(raw, stems), params)
    ends = np.arange(t_ns[0] + card.window_s * 1e9, t_ns[-1] + 1, STEP_S * 1e9).astype(np.int64)
    return [encode_window(p, int(e), card.window_s, card.eye_encoding) for e in ends]


def run(card_path: Path, data_dir: Path) -> dict:
    from emer_live.pipeline.engine import InferenceEngine

    eng = InferenceEngine(card_path, prefer_gpu=False)
    card = eng.card
    guard, columns = card.eye_guard, EYE_SCHEMAS[card.eye_schema]
    parts = sorted((data_dir / "i2mc_tobii_tx300").glob("participant*"))
    inputs = {name: (stems, None) for name, stems in LAYOUTS.items()}
    inputs.update({f"sdk, seated {mm} mm further back": ((), mm) for mm in SEATED_FURTHER_MM})
    per_layout = {name: {"er_top": [], "er_p": [], "fer_top": [], "unfamiliar": []} for name in inputs}
    for part in parts:
        t, raw = joined_participant(part.glob("*.tsv"))
        for name, (stems, back_mm) in inputs.items():
            ws = windows_of(t, raw if back_mm is None else seated_further_back(raw, back_mm), card, stems)
            eye = np.stack([w.eye for w in ws])
            fix = np.stack([w.fixation for w in ws])
            flags = [eye_check(w.eye, guard, columns)["unfamiliar"] for w in ws] if guard else [False] * len(ws)
            for expr in FER2013_ORDER:
                heads, _ = eng.predict_batch(np.broadcast_to(face_logits(expr), (len(ws), 8, 7)), eye, fix)
                rec = per_layout[name]
                rec["er_top"] += [int(np.argmax(er.probs7)) for er, _ in heads]
                rec["er_p"] += [float(np.max(er.probs7)) for er, _ in heads]
                rec["fer_top"] += [int(np.argmax(fer.probs7)) for _, fer in heads]
                rec["unfamiliar"] += flags
    out = {"card": card.name, "eye_schema": card.eye_schema, "guard": bool(guard), "participants": len(parts),
           "windows_per_layout": len(per_layout["sdk"]["er_top"]) // 7, "faces": len(FER2013_ORDER), "layouts": {}}
    sdk_top = np.array(per_layout["sdk"]["er_top"])
    for name, rec in per_layout.items():
        er, fer, p = np.array(rec["er_top"]), np.array(rec["fer_top"]), np.array(rec["er_p"])
        differ = er != fer
        out["layouts"][name] = {
            "er_top_same_as_sdk": float((er == sdk_top).mean()),
            "unfamiliar_rate": float(np.mean(rec["unfamiliar"])),
            "er_top_equals_fer_top": float((~differ).mean()),
            "er_top_prob_where_differs_mean": float(p[differ].mean()) if differ.any() else None,
            "er_top_prob_where_differs_max": float(p[differ].max()) if differ.any() else None,
            "er_top_classes": {EMOTIONS_7[k]: int(v) for k, v in zip(*np.unique(er, return_counts=True))},
        }
    if guard:  # corrupted real input, which the guard should flag
        out["corrupted_unfamiliar_rate"] = {}
        for name, corrupt in CORRUPTIONS.items():
            flags = []
            for part in parts:
                t, raw = joined_participant(part.glob("*.tsv"))
                flags += [eye_check(w.eye, guard, columns)["unfamiliar"] for w in windows_of(t, corrupt(raw), card, ())]
            out["corrupted_unfamiliar_rate"][name] = float(np.mean(flags))
    if guard:  # the demo's simulated gaze, at the demo's rate
        flags = []
        for i, emo in enumerate(EMOTIONS_7 * 3):
            t, raw = simulate_raw(emo, card.window_s + 62.0, 120, np.random.default_rng([7, i]))
            p = process_gaze(t, raw, EyeParams(schema=card.eye_schema))
            flags.append(eye_check(encode_window(p, int(t[-1]), card.window_s, card.eye_encoding).eye, guard,
                                   columns)["unfamiliar"])
        out["simulated_120hz_unfamiliar_rate"] = float(np.mean(flags))
    return out


# Item "the person's own pupil": a sustained dilation against the person's own baseline, beside
# what differs between real people. DILATION_MM: within the 0.1-0.5 mm that arousing pictures
# dilate the pupil by against neutral ones (Bradley et al. 2008, docs/training.md).
DILATION_MM = 0.3
ORDINARY_S = 60.0  # ordinary eyes before the dilation: a full rolling baseline (eye-v2/v3: 60 s)
DILATED_S = 30.0  # then the pupil stays DILATION_MM larger
LAGS_S = (8.0, 15.0, 30.0)  # windows ending this long after the onset (8 s: the first wholly dilated window)


def looped(t_ns, raw, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The stream repeated (each copy one sample period after the previous one ends) to `seconds`."""
    period = int(np.median(np.diff(t_ns)))
    span = int(t_ns[-1] - t_ns[0]) + period
    copies = int(np.ceil(seconds * 1e9 / span))
    t = np.concatenate([t_ns - t_ns[0] + k * span for k in range(copies)])
    keep = t <= seconds * 1e9
    return t[keep], np.tile(raw, (copies, 1))[keep]


def _er(eng, ws, expr) -> tuple[np.ndarray, np.ndarray]:
    """ER arousal and ER top class of each window under one fixed face."""
    heads, _ = eng.predict_batch(np.broadcast_to(face_logits(expr), (len(ws), 8, 7)),
                                 np.stack([w.eye for w in ws]), np.stack([w.fixation for w in ws]))
    return np.array([er.arousal for er, _ in heads]), np.array([int(np.argmax(er.probs7)) for er, _ in heads])


def pupil_effects(card_path: Path, data_dir: Path) -> dict:
    """What a sustained DILATION_MM dilation does to ER arousal, beside the spread between real people.

    Per TX300 participant: the joined trials looped to ORDINARY_S + DILATED_S seconds (SDK layout);
    from ORDINARY_S on, both pupils DILATION_MM larger. ER arousal of the windows ending LAGS_S after
    the onset, dilated minus the same windows without the dilation, under each of the 7 fixed faces.
    Between people: the mean ER arousal over the ordinary part's windows (every STEP_S) per person
    and face, the difference between the people's means, and the window-to-window sd within a person.
    """
    from emer_live.pipeline.engine import InferenceEngine

    eng = InferenceEngine(card_path, prefer_gpu=False)
    card = eng.card
    parts = sorted((data_dir / "i2mc_tobii_tx300").glob("participant*"))
    effect, ordinary, pupil_mm, top_changed = {}, {}, {}, []
    for part in parts:
        t, raw = looped(*joined_participant(part.glob("*.tsv")), ORDINARY_S + DILATED_S)
        onset = int(ORDINARY_S * 1e9)
        dilated = raw.copy()
        # only measured pupils grow (a recorded 0 stays an invalid sample)
        dilated[:, _PUPIL] += np.where((t[:, None] >= onset) & (raw[:, _PUPIL] > 0), DILATION_MM, 0.0)
        pupil_mm[part.name] = float(np.nanmean(np.where(raw[:, _PUPIL] > 0, raw[:, _PUPIL], np.nan)))
        params = EyeParams(schema=card.eye_schema)
        p0, p1 = process_gaze(t, raw, params), process_gaze(t, dilated, params)
        ends = [onset + int(lag * 1e9) for lag in LAGS_S]
        w0 = [encode_window(p0, e, card.window_s, card.eye_encoding) for e in ends]
        w1 = [encode_window(p1, e, card.window_s, card.eye_encoding) for e in ends]
        effect[part.name] = {}
        for expr in FER2013_ORDER:
            (a1, top1), (a0, top0) = _er(eng, w1, expr), _er(eng, w0, expr)
            effect[part.name][expr] = (a1 - a0).tolist()
            top_changed += (top1 != top0).tolist()
        o_ends = np.arange(card.window_s * 1e9, onset + 1, STEP_S * 1e9).astype(np.int64)
        wo = [encode_window(p0, int(e), card.window_s, card.eye_encoding) for e in o_ends]
        ordinary[part.name] = {expr: _er(eng, wo, expr)[0] for expr in FER2013_ORDER}
    eff = np.array([[effect[p][e] for e in FER2013_ORDER] for p in effect])  # (people, faces, lags)
    means = np.array([[ordinary[p][e].mean() for e in FER2013_ORDER] for p in ordinary])  # (people, faces)
    sds = np.array([[ordinary[p][e].std() for e in FER2013_ORDER] for p in ordinary])
    return {
        "card": card.name, "eye_schema": card.eye_schema, "dilation_mm": DILATION_MM, "ordinary_s": ORDINARY_S,
        "lags_s": list(LAGS_S), "faces": list(FER2013_ORDER), "participants": list(effect),
        "mean_pupil_mm": pupil_mm,
        "dilation_arousal_change": {"per_participant_face_lag": effect,
                                    "mean_per_lag": eff.mean(axis=(0, 1)).round(4).tolist(),
                                    "largest": float(np.abs(eff).max()),
                                    "er_top_class_changed": float(np.mean(top_changed))},
        "people": {"mean_arousal_per_participant_face": {p: dict(zip(FER2013_ORDER, m.round(4).tolist()))
                                                         for p, m in zip(ordinary, means)},
                   "between_people_mean_abs_difference": float(np.abs(means.max(0) - means.min(0)).mean()),
                   "between_people_largest_difference": float(np.abs(means.max(0) - means.min(0)).max()),
                   "within_person_window_sd_mean": float(sds.mean())},
    }


def print_pupil_effects(res: dict) -> None:
    """The item's figures in one short block."""
    d, pp = res["dilation_arousal_change"], res["people"]
    print(f"{res['card']} ({res['eye_schema']}): sustained {res['dilation_mm']} mm dilation after "
          f"{res['ordinary_s']:.0f} s of ordinary eyes, {len(res['participants'])} TX300 participants x {len(res['faces'])} fixed faces")
    print("  ER arousal change, mean over people and faces, windows ending "
          + ", ".join(f"{lag:.0f} s: {v:+.3f}" for lag, v in zip(res["lags_s"], d["mean_per_lag"]))
          + f" after onset (largest single {d['largest']:.3f}); ER top class changed in "
          f"{100 * d['er_top_class_changed']:.0f} % of those windows")
    print(f"  between the people (ordinary eyes, same faces): mean ER arousal differs by "
          f"{pp['between_people_mean_abs_difference']:.3f} on average "
          f"(largest {pp['between_people_largest_difference']:.3f}); "
          f"window-to-window sd within a person {pp['within_person_window_sd_mean']:.3f}")
    print("  their mean pupil diameters: " + ", ".join(f"{p} {v:.2f} mm" for p, v in res["mean_pupil_mm"].items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.eye_input_check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--card", default=str(REPO / "models" / "emert-demo.card.json"))
    ap.add_argument("--data", required=True, help="folder holding i2mc_tobii_tx300/")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--pupil", action="store_true",
                    help="only the pupil figures: a sustained 0.3 mm dilation's effect on ER arousal and the "
                         "spread between the real people")
    args = ap.parse_args(argv)
    if args.pupil:
        res = pupil_effects(Path(args.card), Path(args.data))
        print_pupil_effects(res)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return 0
    res = run(Path(args.card), Path(args.data))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
