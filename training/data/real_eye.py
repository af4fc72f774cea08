"""Training windows for the demo model from REAL eye behaviour and real face-network outputs.

Eye windows are cut from real Tobii TX300 recordings (the public I2MC example data: two
participants, five trials each, 300 Hz) and go through the runtime's own eye code
(emer_live.features.eye_v1.process_gaze + encode_window), so the model sees real eyes as the app
will give them. One participant's trials are joined in a random order (each trial one sample
period after the previous one ends, as emer_live/model_check.py joins them) and varied so
that the windows are many and distinct (AUGMENT): where the window starts, playback speed,
left-right mirroring, where the participant sits (eye position offsets) and the pupil's baseline
and gain.

Labels. Unmasked samples: the ER label is the displayed face's class and the eyes carry no
emotion signal at all, so the model learns that ordinary eyes mean "follow the face". Masked
samples (the genuine emotion hidden by the face): the eyes get emotion-dependent changes sized
from published findings where a size is published (EFFECTS; docs/training.md cites each), and
the ER label is the genuine emotion.

Faces: half the samples take 8 frames of the real FER2013 mini-Xception's logits on real faces
(training/data/real_face_logits.npz, made by `emer-live faces logits` through the
runtime's face pipeline); their displayed class is the class those frames' mean probabilities
favour. The other half use SyntheticEMER's simulated logits (for classes real faces here rarely show).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emer_live.labels import CIRCUMPLEX, EMOTIONS_7
from emer_live.types import GAZE_COL

REPO = Path(__file__).resolve().parents[2]
FACE_LOGITS = Path(__file__).with_name("real_face_logits.npz")
# The shared real recordings beside the checkout (as the tests find them), or $EMER_SHARED_DATA.
SHARED_DATA = Path(os.environ.get("EMER_SHARED_DATA", REPO.parent / "shared" / "data"))
TX300_DIR = SHARED_DATA / "eyetracking" / "i2mc_tobii_tx300"

# Natural variation added to every window (masked or not): none of it says anything about emotion.
AUGMENT = {
    "speed": (0.9, 1.1),  # playback speed factor
    "seat_offset_sd_mm": (25.0, 15.0, 45.0),  # eye position x, y, z: where people sit
    "pupil_offset_sd_mm": 0.4,  # between-person and lighting differences in pupil size
    "pupil_gain": (0.85, 1.2),  # scale of pupil changes around the person's mean
    "mirror_p": 0.5,  # left-right mirror of the whole scene
    # Where on the display the gaze lands, per window (DISPLAY_LAYOUT): the display point is moved
    # by x' = 0.5 + scale * (x - 0.5) + shift, per axis, and the 3D gaze point with it (so the gaze
    # directions and I-VT follow). Sized from the data: the two participants' overall mean gaze lies
    # within about 0.1 of each other (0.56, 0.59 and 0.46, 0.69), while their single trials' means
    # already range over 0.39-0.63 (x) and 0.36-0.89 (y) and their spreads over 0.04-0.38 of the
    # screen; another task (reading, a video, a dashboard) moves both further. A shift of up to 0.2
    # of the screen per axis and a scale of 0.7-1.3 cover that range while keeping most of a
    # window on the display; none of it depends on the label.
    "display_shift": 0.2,  # uniform in +-shift, fraction of the display, x and y independently
    "display_scale": (0.7, 1.3),  # uniform, x and y independently, about the display centre
    # What the stimuli do to the pupil, with no emotion involved (luminance, contrast, near work):
    # a level that changes with each stimulus, per stretch of stimulus_s seconds, by N(0, sd).
    # Sized from the data: the mean pupil of one person's 4 s trials varies by sd 0.16 mm
    # (participant 1) and 0.10 mm (participant 2). eye-v3 reads the pupil against the person's
    # baseline, so without this the model took those stimulus changes for arousal.
    "stimulus_pupil_sd_mm": 0.13,
    "stimulus_s": (2.0, 6.0),
}
# Two label-neutral variations against the held-out-person gap (docs/training.md, "Varying gaze
# layout and blink rate"): together they met the agreement targets on each participant held out
# of the build, which the recipe without them did not (69 % one way). Chosen on those same two
# held-out checks, with no third person to confirm them.
# DISPLAY_LAYOUT: real_eye_window applies the display-layout change above.
DISPLAY_LAYOUT = True
# NATURAL_BLINKS_PER_MIN: (low, high) natural blinks per minute added to every window of a virtual
# person (uniform per person), on top of the recording's own; None = none. The two participants
# blink about 3/min (participant 1) and 10/min (participant 2) in these trials, and resting rates
# differ between people far more than that, so (0, 12): a model trained on one person's few blinks
# otherwise reads another person's ordinary blinks as the extra blinks of an emotion.
NATURAL_BLINKS_PER_MIN = (0.0, 12.0)
# What a file layout carries (the values a layout lacks, as the app's readers leave them: NaN),
# by the stems of the raw columns it lacks. Pro Lab and Studio exports carry the display point,
# pupil diameter and validity only.
FILE_LAYOUTS = {"sdk": (), "no-trackbox": ("trackbox",), "display-pupil": ("user_coordinate", "trackbox")}
# LAYOUT_MIX: the share of windows written as each file layout would leave them (None = all SDK).
# eye-v1 and eye-v3 turn what a layout lacks into 0 with validity 0, a pattern the model otherwise never
# sees (a lost eye origin, no 3D gaze); windows in every layout, with the same labels, teach it
# that the layout says nothing about emotion. Shares chosen on the held-out checks
# (docs/training.md, "File layouts in training"): more dropped windows cost SDK-layout agreement.
LAYOUT_MIX = {"sdk": 0.6, "no-trackbox": 0.2, "display-pupil": 0.2}

# Emotion-dependent changes applied to MASKED samples only (genuine emotion hidden by the face).
# pupil: arousal-driven phasic dilations, peak 0.25 mm x arousal (arousal > 0 only); Bradley et al.
#   2008 (Psychophysiology 45:602): pictures rated arousing dilated the pupil by about 0.1-0.3 mm
#   more than neutral ones. eye-v1 keeps only the pupil's sample-to-sample change, so this barely
#   shows in its windows (the 300 Hz measurement noise is larger); eye-v3 keeps the diameter against
#   the person's own rolling baseline, where it shows.
# extra_blinks_per_min: fear clips inhibit spontaneous blinking least (Maffei & Angrilli 2019,
#   Physiol Behav 204:256); the size (+6/min, against a resting 15-20/min) is our assumption.
# fixation_scale: sad mood lengthens and anxious vigilance shortens fixations (direction from the
#   attention-bias literature); the sizes (0.85-1.15 of the person's own durations) are our assumption.
EFFECTS = {
    "pupil_peak_mm_per_arousal": 0.25,  # eye-v3 sees it against the person's own baseline (eye-v1 barely did)
    "extra_blinks_per_min": {"fear": 6.0, "anger": 4.0, "disgust": 4.0, "sadness": 2.0},
    "fixation_scale": {"sadness": 1.15, "fear": 0.85, "anger": 0.9, "surprise": 0.92, "disgust": 1.05,
                       "happiness": 1.0, "neutral": 1.0},
}

# Where each size comes from; written into the model card beside EFFECTS.
EFFECT_SOURCES = {
    "pupil_peak_mm_per_arousal": "Bradley, Miccoli, Escrig & Lang (2008), The pupil as a measure of emotional arousal "
                                 "and autonomic activation, Psychophysiology 45(4):602-607, doi:10.1111/j.1469-8986."
                                 "2008.00654.x: after the light reflex the pupil dilates more to arousing pictures, "
                                 "pleasant or unpleasant, than to neutral ones (about 0.1-0.3 mm in its Fig. 1)",
    "extra_blinks_per_min": "direction: Maffei & Angrilli (2019), Physiol Behav 204:256-263 (fear clips inhibit "
                            "spontaneous blinking least); sizes: our assumption",
    "fixation_scale": "direction: the attention-bias literature (sad mood dwells, anxious vigilance scans); sizes: "
                      "our assumption",
}

_ORIGIN_UCS = [[GAZE_COL[f"{e}_gaze_origin_in_user_coordinate_system_{a}"] for a in "xyz"]
               for e in ("left", "right")]
_ORIGIN_TB = [[GAZE_COL[f"{e}_gaze_origin_in_trackbox_coordinate_system_{a}"] for a in "xyz"] for e in ("left", "right")]
_GAZE_UCS_X = [GAZE_COL[f"{e}_gaze_point_in_user_coordinate_system_x"] for e in ("left", "right")]
_DISPLAY_X = [GAZE_COL[f"{e}_gaze_point_on_display_area_x"] for e in ("left", "right")]
_DISPLAY_XY = [[GAZE_COL[f"{e}_gaze_point_on_display_area_{a}"] for a in "xy"] for e in ("left", "right")]
_GAZE_UCS = [[GAZE_COL[f"{e}_gaze_point_in_user_coordinate_system_{a}"] for a in "xyz"] for e in ("left", "right")]
_PUPIL = [GAZE_COL[f"{e}_pupil_diameter"] for e in ("left", "right")]
_VALIDITY = [GAZE_COL[f"{e}_{k}"] for e in ("left", "right")
             for k in ("gaze_point_validity", "pupil_validity", "gaze_origin_validity")]
_TRACKBOX_MM = np.array([340.0, 260.0, 300.0])  # about how many mm one track-box unit spans (x, y, z)


def drop_columns(raw: np.ndarray, stems) -> np.ndarray:
    """raw with the columns a layout lacks (any column whose name holds one of `stems`) set to NaN."""
    r = raw.copy()
    for name, i in GAZE_COL.items():
        if any(s in name for s in stems):
            r[:, i] = np.nan
    return r


def load_tx300(folder: Path = TX300_DIR) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """{participant folder name: [(t_ns from 0, raw (N, 30)) per trial]} with the app's own file reader."""
    from emer_live.sources.tobii_tsv import read_gaze_file

    folder = Path(folder)
    parts = {}
    for p in sorted(folder.glob("participant*")):
        trials = []
        for f in sorted(p.glob("*.tsv")):
            for rec in read_gaze_file(f).recordings:
                t = rec.timeline_us().astype(np.int64) * 1000
                trials.append((t - t[0], rec.raw.astype(np.float64)))
        if trials:
            parts[p.name] = trials
    if not parts:
        raise FileNotFoundError(f"no TX300 recordings (participant*/*.tsv) under {folder}; set EMER_SHARED_DATA "
                                "or pass the folder")
    return parts


def _joined(trials, rng: np.random.Generator, need_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Trials in random orders, joined until at least need_s seconds: each trial starts one sample
    period after the previous one ends."""
    ts, raws, end = [], [], 0
    while True:
        for k in rng.permutation(len(trials)):
            t, raw = trials[k]
            period = int(np.median(np.diff(t))) if len(t) > 1 else 3_333_333
            ts.append(t + (end + period if ts else 0))
            raws.append(raw)
            end = int(ts[-1][-1])
            if end / 1e9 >= need_s:
                return np.concatenate(ts), np.concatenate(raws)


def _mirror(raw: np.ndarray) -> np.ndarray:
    """Left-right mirror: x flips sign (user and display coordinates) and the eyes swap roles."""
    out = raw.copy()
    for c in _DISPLAY_X:
        out[:, c] = 1.0 - raw[:, c]
    for c in _GAZE_UCS_X + [o[0] for o in _ORIGIN_UCS]:
        out[:, c] = -raw[:, c]
    for o in _ORIGIN_TB:
        out[:, o[0]] = 1.0 - raw[:, o[0]]
    return np.concatenate([out[:, 15:30], out[:, 0:15]], axis=1)


def _move_display_gaze(raw: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Move where the gaze lands on the display (per axis: 0.5 + scale * (d - 0.5) + shift) and the
    3D gaze point in user coordinates with it, so the raw sample stays self-consistent: the display
    area is a plane in user coordinates, so the 3D point is an affine function of the display point
    (fitted here on the window's own samples; exact to about 0.03 mm on the TX300 files) and moves
    by that map's linear part. The gaze origin (the eye) stays where it is; the gaze direction,
    I-VT and the fixation stream are derived from these columns by the eye code."""
    out = raw.copy()
    for disp, ucs in zip(_DISPLAY_XY, _GAZE_UCS):
        d, u = raw[:, disp], raw[:, ucs]
        new_d = 0.5 + scale * (d - 0.5) + shift
        out[:, disp] = new_d
        ok = np.isfinite(d).all(1) & np.isfinite(u).all(1)
        if ok.sum() >= 3:
            lin = np.linalg.lstsq(np.c_[d[ok], np.ones(ok.sum())], u[ok], rcond=None)[0][:2]  # (2, 3)
            out[:, ucs] = u + (new_d - d) @ lin
    return out


def moved_seat(raw: np.ndarray, offset_mm) -> np.ndarray:
    """raw with the eyes moved by offset_mm (x, y, z in user coordinates): where a person sits.
    The track-box coordinates move with them (its x and y run the other way, in track-box units)."""
    out = raw.copy()
    offset_mm = np.asarray(offset_mm, np.float64)
    for e in range(2):
        out[:, _ORIGIN_UCS[e]] += offset_mm
        out[:, _ORIGIN_TB[e]] += offset_mm * np.array([-1.0, -1.0, 1.0]) / _TRACKBOX_MM
    return out


def _phasic_pupil(t_s: np.ndarray, peak_mm: float, rng: np.random.Generator) -> np.ndarray:
    """Pupil dilation responses (gamma-shaped, peak about 1 s after onset), one every 2-4 s."""
    out = np.zeros_like(t_s)
    onset = rng.uniform(-1.0, 1.0)
    while onset < t_s[-1]:
        x = np.clip(t_s - onset, 0.0, None)
        out += peak_mm * x ** 2 * np.exp(2.0 * (1.0 - x))  # peaks at peak_mm 1 s after onset
        onset += rng.uniform(2.0, 4.0)
    return out


def _stimulus_pupil(t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A pupil level that steps to a new N(0, sd) value with each stimulus (AUGMENT), no emotion involved."""
    out = np.zeros_like(t_s)
    start = t_s[0] - rng.uniform(0.0, AUGMENT["stimulus_s"][1])
    while start <= t_s[-1]:
        end = start + rng.uniform(*AUGMENT["stimulus_s"])
        out[(t_s >= start) & (t_s < end)] = rng.normal(0.0, AUGMENT["stimulus_pupil_sd_mm"])
        start = end
    return out


def _add_blinks(t_ns: np.ndarray, raw: np.ndarray, per_min: float, rng: np.random.Generator) -> np.ndarray:
    dur_s = (t_ns[-1] - t_ns[0]) / 1e9
    for _ in range(rng.poisson(per_min / 60.0 * dur_s)):
        start = t_ns[0] + rng.uniform(0.0, dur_s) * 1e9
        gone = (t_ns >= start) & (t_ns < start + rng.uniform(0.1, 0.3) * 1e9)
        raw[gone] = np.nan
        raw[np.ix_(gone, _VALIDITY)] = 0.0
    return raw


def _cut(trials, rng: np.random.Generator, span_s: float, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """span_s seconds of the person's joined trials played at `speed`, from a random point; t from 0."""
    t_ns, raw = _joined(trials, rng, (span_s * speed) + 0.5)
    t_ns = np.round(t_ns / speed).astype(np.int64)
    start = rng.uniform(0.0, max(t_ns[-1] - span_s * 1e9, 0.0))
    keep = (t_ns >= start) & (t_ns <= start + span_s * 1e9)
    return t_ns[keep] - t_ns[keep][0], raw[keep].copy()


def real_eye_window(trials, rng: np.random.Generator, person: dict, genuine: str | None, window_s: float,
                    encoding: str, params):
    """One eye window (EyeWindow) from a real participant's trials; `genuine` None = no emotion signal.

    eye-v2 and eye-v3 windows are relative to a rolling baseline, so they get the history it would hold in a
    session: 0 to baseline_s - window_s seconds of the same person's ordinary eyes (no emotion
    effect: as at the start of an episode) before the window, as much as a session has."""
    from emer_live.features.eye_v1 import BASELINE_SCHEMAS, encode_window, process_gaze

    base_speed = rng.uniform(*AUGMENT["speed"])
    speed = base_speed / EFFECTS["fixation_scale"].get(genuine, 1.0) if genuine is not None else base_speed
    t_ns, raw = _cut(trials, rng, window_s + 0.5, speed)  # slower playback = longer fixations
    episode = np.ones(len(t_ns), bool)  # the samples an emotion effect applies to
    if params.schema in BASELINE_SCHEMAS:
        hist_s = rng.uniform(0.0, max(params.baseline_s - window_s, 0.0))
        if hist_s >= 0.5:
            th, rh = _cut(trials, rng, hist_s, base_speed)
            period = int(np.median(np.diff(t_ns)))
            t_ns = np.concatenate([th, t_ns + th[-1] + period])
            raw = np.concatenate([rh, raw])
            episode = np.arange(len(t_ns)) >= len(th)
    if person["mirror"]:
        raw = _mirror(raw)
    if DISPLAY_LAYOUT:
        shift = rng.uniform(-AUGMENT["display_shift"], AUGMENT["display_shift"], 2)
        raw = _move_display_gaze(raw, shift, rng.uniform(*AUGMENT["display_scale"], 2))
    raw = moved_seat(raw, person["seat_mm"])
    if NATURAL_BLINKS_PER_MIN:
        raw = _add_blinks(t_ns, raw, person["blinks_per_min"], rng)
    stimulus = _stimulus_pupil(t_ns / 1e9, rng) if AUGMENT.get("stimulus_pupil_sd_mm") else 0.0
    for c in _PUPIL:
        m = np.nanmean(raw[:, c]) if np.isfinite(raw[:, c]).any() else 0.0
        raw[:, c] = m + person["pupil_offset_mm"] + person["pupil_gain"] * (raw[:, c] - m) + stimulus
    if genuine is not None:
        te, re = t_ns[episode], raw[episode]
        arousal = CIRCUMPLEX[genuine][1]
        if arousal > 0:
            dil = _phasic_pupil((te - te[0]) / 1e9, EFFECTS["pupil_peak_mm_per_arousal"] * arousal, rng)
            for c in _PUPIL:
                re[:, c] += dil
        raw[episode] = _add_blinks(te, re, EFFECTS["extra_blinks_per_min"].get(genuine, 0.0), rng)
    if LAYOUT_MIX:
        layout = rng.choice(list(LAYOUT_MIX), p=list(LAYOUT_MIX.values()))
        raw = drop_columns(raw, FILE_LAYOUTS[layout])
    return encode_window(process_gaze(t_ns, raw, params), int(t_ns[-1]), window_s, encoding=encoding)


def make_person(rng: np.random.Generator) -> dict:
    """A virtual participant: where they sit, their pupil baseline, mirrored or not."""
    return {"seat_mm": rng.normal(0.0, AUGMENT["seat_offset_sd_mm"]),
            "pupil_offset_mm": rng.normal(0.0, AUGMENT["pupil_offset_sd_mm"]),
            "pupil_gain": rng.uniform(*AUGMENT["pupil_gain"]),
            "mirror": bool(rng.random() < AUGMENT["mirror_p"]),
            "blinks_per_min": rng.uniform(*NATURAL_BLINKS_PER_MIN) if NATURAL_BLINKS_PER_MIN else 0.0}


def load_face_logits(path: Path = FACE_LOGITS) -> dict:
    """The real face network's logits on real faces: {"clips": [(K, 7) per source], "names": [...]}."""
    with np.load(path, allow_pickle=False) as z:
        logits, source, names = z["logits"], z["source"], [str(n) for n in z["names"]]
    return {"clips": [logits[source == s] for s in range(len(names))], "names": names}


def real_face_clip(clips: list, rng: np.random.Generator, frames: int = 8) -> np.ndarray:
    """(frames, 7) consecutive-in-time frames of one real source (a photo repeats)."""
    src = clips[rng.integers(len(clips))]
    if len(src) < frames:
        return src[rng.integers(len(src), size=frames)].astype(np.float32)
    stride = int(rng.integers(1, max(2, (len(src) - 1) // (frames - 1)) + 1))
    stride = min(stride, (len(src) - 1) // (frames - 1))
    first = int(rng.integers(0, len(src) - stride * (frames - 1)))
    return src[first: first + stride * (frames - 1) + 1: max(stride, 1)][:frames].astype(np.float32)


def clip_class(logits: np.ndarray) -> int:
    """The FER2013-order class the clip's mean probabilities favour."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    return int((p / p.sum(1, keepdims=True)).mean(0).argmax())



class RealEyeEMER:
    """The demo model's training set: `n_real` samples with real eye windows (above) plus `n_sim`
    fully simulated SyntheticEMER samples (the simulated-gaze demo's own eye behaviour, so the
    demo stays familiar to the model and its guard). A torch Dataset like SyntheticEMER; the
    simulated samples come first, participants of the real part are numbered after them."""

    def __init__(self, n_real: int, n_sim: int, gap_fraction: float = 0.3, window_s: float = 8.0,
                 encoding: str = "segment", n_people: int = 30, n_sim_participants: int = 20, seed: int = 0,
                 tx300_dir: Path = TX300_DIR, face_logits: Path = FACE_LOGITS, eye_schema: str = "eye-v1",
                 real_face_fraction: float = 0.5):
        from emer_live.features.eye_v1 import EyeParams
        from training.data.common import eye_stats_of, seven_to_three
        from training.data.synthetic import _EMER_TO_FER2013, _MASK_WEIGHTS, SyntheticEMER

        self.sim = SyntheticEMER(max(n_sim, 1), gap_fraction, "embedding", window_s, encoding,
                                 n_participants=n_sim_participants, seed=seed, eye_schema=eye_schema)
        n_sim = len(self.sim) if n_sim else 0
        recordings = load_tx300(tx300_dir)
        faces = load_face_logits(face_logits)
        names = sorted(recordings)
        rng = np.random.default_rng([seed, 7])
        fer_to_emer = np.argsort(_EMER_TO_FER2013)
        people = [make_person(np.random.default_rng([seed, 8, k])) for k in range(n_people)]
        people_src = [names[k % len(names)] for k in range(n_people)]
        person = rng.permutation(np.arange(n_real) % n_people)
        masked = np.zeros(n_real, bool)
        masked[rng.permutation(n_real)[: int(round(gap_fraction * n_real))]] = True
        real_face = rng.random(n_real) < real_face_fraction
        genuine, displayed = np.empty(n_real, np.int64), np.empty(n_real, np.int64)
        face = np.empty((n_real, 8, 7), np.float32)
        intensity = np.empty(n_real, np.float32)
        mw = np.array([_MASK_WEIGHTS[e] for e in EMOTIONS_7])  # [genuine, displayed]
        for i in range(n_real):
            r = np.random.default_rng([seed, 9, i])
            if real_face[i]:
                face[i] = real_face_clip(faces["clips"], r)
                displayed[i] = fer_to_emer[clip_class(face[i])]
                w = mw[:, displayed[i]]
                genuine[i] = r.choice(7, p=w / w.sum()) if masked[i] and w.sum() > 0 else displayed[i]
                masked[i] = genuine[i] != displayed[i]
                p = np.exp(face[i] - face[i].max(1, keepdims=True))
                intensity[i] = 3.0 * float((p / p.sum(1, keepdims=True)).mean(0).max())
            else:
                genuine[i] = r.integers(7)
                displayed[i] = r.choice(7, p=mw[genuine[i]] / mw[genuine[i]].sum()) if masked[i] else genuine[i]
                intensity[i] = r.uniform(0.0, 0.7) if EMOTIONS_7[displayed[i]] == "neutral" else r.uniform(1.2, 3.0)
                face[i] = self._simulated_logits(displayed[i], intensity[i], people[person[i]], r, _EMER_TO_FER2013)
        params = EyeParams(schema=eye_schema)
        eye = np.empty((n_real, 32, 39), np.float32)
        fix = np.empty((n_real, 32, 2), np.float32)
        for i in range(n_real):
            r = np.random.default_rng([seed, 10, i])
            w = real_eye_window(recordings[people_src[person[i]]], r, people[person[i]],
                                EMOTIONS_7[genuine[i]] if masked[i] else None, window_s, encoding, params)
            eye[i], fix[i] = w.eye, w.fixation
        circ = np.array([CIRCUMPLEX[e] for e in EMOTIONS_7])
        er = genuine  # unmasked: genuine == displayed, the face's class
        real_t = {"er7": er, "er3": seven_to_three(er),
                  "er_va": np.clip(circ[er] + rng.normal(0, 0.1, (n_real, 2)), -1, 1).astype(np.float32),
                  "fer7": displayed, "fer3": seven_to_three(displayed),
                  "fer_va": np.clip(circ[displayed] * (0.5 + intensity[:, None] / 6) + rng.normal(0, 0.1, (n_real, 2)),
                                    -1, 1).astype(np.float32),
                  "fer_int": intensity[:, None]}
        s = self.sim
        take = slice(0, n_sim)
        self.n_sim, self.n_real = n_sim, n_real
        self.targets = {k: np.concatenate([s.targets[k][take], real_t[k]]) for k in real_t}
        self.eye = np.concatenate([s.eye[take], eye])
        self.fixation = np.concatenate([s.fixation[take], fix])
        self.masked = np.concatenate([s.masked[take], masked])
        self.participants = np.concatenate([s.participants[take], n_sim_participants + person]).astype(np.int64)
        self.real = np.concatenate([np.zeros(n_sim, bool), np.ones(n_real, bool)])
        self._face = face
        self.eye_mean, self.eye_std = eye_stats_of(self.eye)
        self.provenance = {
            "kind": "real-eyes+synthetic",
            "note": "eye windows cut from real Tobii TX300 recordings (no emotion labels) with emotion-dependent "
                    "changes added only to masked samples, plus simulated samples; shows the mechanism only, "
                    "never real accuracy",
            "real_eye_recordings": "I2MC example data (github.com/dcnieho/I2MC_Python, example/example_data, MIT; "
                                   "Hessels et al. 2017, doi:10.3758/s13428-016-0822-1): Tobii TX300, 300 Hz, "
                                   + ", ".join(f"{k}: {len(recordings[k])} trials" for k in names),
            "real_eye_samples": n_real, "virtual_people": n_people, "augment": AUGMENT, "effects": EFFECTS,
            "effect_sources": EFFECT_SOURCES,
            "display_layout": DISPLAY_LAYOUT, "natural_blinks_per_min": NATURAL_BLINKS_PER_MIN,
            "file_layout_mix": LAYOUT_MIX,
            "real_face_samples": int(real_face.sum()),
            "real_faces": "FER2013 mini-Xception logits per frame, through the app's face pipeline, of "
                          + ", ".join(f"{n} ({len(c)} crops)" for n, c in zip(faces["names"], faces["clips"])),
            "masked_real_eye_samples": int(masked.sum()),
            "simulated": {**s.provenance, "n": n_sim},
            "window_s": window_s, "eye_encoding": encoding, "eye_schema": eye_schema,
            "gap_fraction": gap_fraction, "seed": seed,
        }

    @staticmethod
    def _simulated_logits(displayed: int, intensity: float, person: dict, r, to_fer) -> np.ndarray:
        """As SyntheticEMER.face_embeddings: a clear expression wins by ~6-8 logits."""
        logits = r.normal(0.0, 0.5, size=7) + r.normal(0.0, 0.6, size=(8, 7))
        k = intensity / 3.0
        logits[:, to_fer[displayed]] += (2.0 + 5.5 * k) * r.uniform(0.85, 1.15, size=8)
        if EMOTIONS_7[displayed] == "neutral":
            logits[:, to_fer[displayed]] += 3.0
        return logits.astype(np.float32)

    def __len__(self) -> int:
        return self.n_sim + self.n_real

    def __getitem__(self, i: int) -> dict:
        import torch

        from training.data.common import make_item

        i = int(i)
        face = self.sim.face_embeddings(i) if i < self.n_sim else self._face[i - self.n_sim]
        return make_item(torch.from_numpy(np.ascontiguousarray(face)), self.eye[i], self.fixation[i], self.targets, i,
                         self.participants[i], self.masked[i], self.eye_mean, self.eye_std)
