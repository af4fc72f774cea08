"""A synthetic EMER-like set with a controllable emotion gap.

Every sample has a GENUINE emotion, which drives the eye behaviour, and a DISPLAYED expression,
which drives the face input. In a chosen fraction of samples the two differ (masked=True: a
smile while sad, a neutral face while afraid). Eye data are made by the runtime's own code:
emer_live.sources.simulated_gaze.simulate_raw (raw Tobii samples) then
emer_live.features.eye_v1.process_gaze + encode_window, so training and runtime share one eye
implementation. Samples belong to synthetic participants with their own baselines (pupil size,
pupil variability, blink rate, gaze noise, face-network bias), so participant-independent CV
means something.

This set exists to test the pipeline and to show the mechanism. Scores on it are never real
accuracy, and every result that uses it says so (see PROVENANCE).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from emer_live.labels import CIRCUMPLEX, EMOTIONS_7
from emer_live.types import GAZE_COL
from training.data.common import (FACE_MEAN, FACE_STD, eye_stats_of, make_item, normalise_crops,
                                  seven_to_three)
from training.data.schematic_faces import draw_face, participant_look

GENERATOR_VERSION = 1
PROVENANCE_NOTE = ("synthetic data (simulated eye behaviour, schematic or simulated face-network "
                   "outputs): shows the mechanism only, never real accuracy")

# The FER2013 mini-Xception's class order; its 7 pre-softmax logits are the face embedding.
FER2013_ORDER = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
_EMER_TO_FER2013 = np.array([FER2013_ORDER.index(e) for e in EMOTIONS_7])

# What a masked sample's face shows, given the genuine emotion: mostly a smile or a neutral
# face (social masking), sometimes another expression. Weights over EMOTIONS_7.
#                        hap   sad   fear  surp  disg  ang   neu
_MASK_WEIGHTS = {
    "happiness": (0.00, 0.05, 0.00, 0.15, 0.00, 0.00, 0.80),
    "sadness":   (0.50, 0.00, 0.00, 0.00, 0.05, 0.05, 0.40),
    "fear":      (0.30, 0.05, 0.00, 0.15, 0.00, 0.00, 0.50),
    "surprise":  (0.25, 0.00, 0.05, 0.00, 0.00, 0.00, 0.70),
    "disgust":   (0.40, 0.05, 0.00, 0.00, 0.00, 0.10, 0.45),
    "anger":     (0.40, 0.05, 0.00, 0.00, 0.10, 0.00, 0.45),
    "neutral":   (0.60, 0.10, 0.00, 0.20, 0.00, 0.10, 0.00),
}

_VALIDITY = [GAZE_COL[f"{e}_{k}"] for e in ("left", "right")
             for k in ("gaze_point_validity", "pupil_validity", "gaze_origin_validity")]
_PUPIL = [GAZE_COL["left_pupil_diameter"], GAZE_COL["right_pupil_diameter"]]
_DISPLAY_XY = [GAZE_COL[f"{e}_gaze_point_on_display_area_{a}"] for e in ("left", "right") for a in "xy"]


def _participant(rng: np.random.Generator) -> dict:
    return {
        "pupil_offset_mm": rng.normal(0.0, 0.4),
        "pupil_gain": rng.uniform(0.7, 1.4),
        "extra_blinks_per_s": rng.uniform(0.0, 0.3),
        "gaze_noise": rng.uniform(0.0, 0.01),
        "face_bias": rng.normal(0.0, 0.5, size=7),
        "look": participant_look(rng),
    }


def _apply_participant(raw: np.ndarray, t_ns: np.ndarray, part: dict, rng: np.random.Generator) -> np.ndarray:
    """Individual baselines on top of the emotion-driven simulation (on raw Tobii values)."""
    raw = raw.copy()
    for c in _PUPIL:
        m = np.nanmean(raw[:, c]) if np.isfinite(raw[:, c]).any() else 0.0
        raw[:, c] = m + part["pupil_offset_mm"] + part["pupil_gain"] * (raw[:, c] - m)
    raw[:, _DISPLAY_XY] += rng.normal(0.0, part["gaze_noise"], size=(len(raw), 4))
    dur_s = (t_ns[-1] - t_ns[0]) / 1e9 if len(t_ns) > 1 else 0.0
    for _ in range(rng.poisson(part["extra_blinks_per_s"] * dur_s)):
        start = t_ns[0] + rng.uniform(0.0, dur_s) * 1e9
        gone = (t_ns >= start) & (t_ns < start + rng.uniform(0.1, 0.3) * 1e9)
        raw[gone] = np.nan
        raw[np.ix_(gone, _VALIDITY)] = 0.0
    return raw


# eye-v2 only: what the real Tobii TX300 recordings (the public I2MC example data, 10 trials of 2
# participants) show and the simulator lacks. Between trials the eye position moved by tens of mm
# (per-trial means: x -18..50, y -22..15, z 606..676 mm); within a 4 s trial its sd was 3-17 mm;
# the pupil diameter's sample-to-sample difference had an sd of 0.025-0.10 mm at 300 Hz
# (measurement noise about 0.02-0.07 mm per sample).
_ORIGIN_UCS = [GAZE_COL[f"{e}_gaze_origin_in_user_coordinate_system_{a}"] for e in ("left", "right") for a in "xyz"]
_HEAD_SHIFT_SD_MM = np.array([20.0, 12.0, 20.0])  # position change between the context and the window
_HEAD_SWAY_SD_MM = 8.0  # random-walk sway reached over a window


def _participant_v2(rng: np.random.Generator) -> dict:
    return {"pupil_noise_mm": rng.uniform(0.015, 0.07)}


def _real_recording_effects(raw: np.ndarray, t_ns: np.ndarray, window_from: int, part: dict,
                            rng: np.random.Generator, window_s: float) -> np.ndarray:
    """Head moves and pupil measurement noise sized from the real TX300 recordings (see above)."""
    raw = raw.copy()
    n = len(raw)
    shift = np.zeros((n, 3))
    shift[window_from:] = rng.normal(0.0, _HEAD_SHIFT_SD_MM)
    dt = np.diff(t_ns, prepend=t_ns[0]) * 1e-9
    shift += np.cumsum(rng.normal(0.0, 1.0, (n, 3)) * np.sqrt(dt)[:, None], axis=0) * (_HEAD_SWAY_SD_MM / np.sqrt(window_s))
    raw[:, _ORIGIN_UCS] += np.tile(shift, 2)
    for c in _PUPIL:
        raw[:, c] += rng.normal(0.0, part["pupil_noise_mm"], n)
    return raw


class SyntheticEMER(Dataset):
    """n synthetic samples; see the module doc. Deterministic given `seed`.

    face_mode "embedding": face is (8,7), FER2013 mini-Xception-like logits of the displayed
    expression (confident, as the real net is on a clear face), with a per-participant bias and
    per-frame noise. face_mode "image": face is (8,3,112,112), schematic drawn faces.
    """

    def __init__(self, n: int, gap_fraction: float = 0.3, face_mode: str = "embedding",
                 window_s: float = 8.0, encoding: str = "segment", gaze_rate_hz: float = 60,
                 n_participants: int = 40, seed: int = 0, cache_dir: str | Path | None = None,
                 crop_size: int = 112, face_mean=FACE_MEAN, face_std=FACE_STD, eye_schema: str = "eye-v1"):
        if face_mode not in ("embedding", "image"):
            raise ValueError(f"face_mode must be 'embedding' or 'image', not {face_mode!r}")
        if not 0.0 <= gap_fraction <= 1.0:
            raise ValueError(f"gap_fraction must be in [0, 1], not {gap_fraction}")
        if n < 1 or n_participants < 1:
            raise ValueError("n and n_participants must be at least 1")
        self.n, self.face_mode, self.window_s, self.encoding = n, face_mode, window_s, encoding
        self.gaze_rate_hz, self.seed, self.crop_size = gaze_rate_hz, seed, crop_size
        self.gap_fraction, self.n_participants = gap_fraction, n_participants
        self.eye_schema = eye_schema
        self.face_mean, self.face_std = tuple(face_mean), tuple(face_std)
        self._make_labels()
        self._make_eye(cache_dir)
        self.eye_mean, self.eye_std = self.eye_stats()

    # ---- labels -----------------------------------------------------------------------------
    def _make_labels(self) -> None:
        rng = np.random.default_rng([self.seed, 0])
        n = self.n
        self._parts = [_participant(np.random.default_rng([self.seed, 1, p])) for p in range(self.n_participants)]
        # every participant gets samples: ids cycled then shuffled
        self.participants = rng.permutation(np.arange(n) % self.n_participants).astype(np.int64)
        genuine = rng.integers(0, 7, size=n)
        self.masked = np.zeros(n, bool)
        self.masked[rng.permutation(n)[: int(round(self.gap_fraction * n))]] = True
        displayed = genuine.copy()
        for i in np.flatnonzero(self.masked):
            w = np.asarray(_MASK_WEIGHTS[EMOTIONS_7[genuine[i]]])
            displayed[i] = rng.choice(7, p=w / w.sum())
        circ = np.array([CIRCUMPLEX[e] for e in EMOTIONS_7])
        # expression intensity 0-3: a neutral face is faint; a mask is held back a little
        intensity = np.where(displayed == EMOTIONS_7.index("neutral"), rng.uniform(0.0, 0.7, n),
                             rng.uniform(1.2, 3.0, n))
        intensity = np.where(self.masked, intensity * 0.8, intensity)
        self.targets = {
            "er7": genuine.astype(np.int64),
            "er3": seven_to_three(genuine),
            "er_va": np.clip(circ[genuine] + rng.normal(0, 0.1, (n, 2)), -1, 1).astype(np.float32),
            "fer7": displayed.astype(np.int64),
            "fer3": seven_to_three(displayed),
            "fer_va": np.clip(circ[displayed] * (0.5 + intensity[:, None] / 6) + rng.normal(0, 0.1, (n, 2)),
                              -1, 1).astype(np.float32),
            "fer_int": intensity.astype(np.float32)[:, None],
        }

    # ---- eye windows (the costly part: cached) ------------------------------------------------
    def _cache_key(self) -> str:
        cfg = dict(v=GENERATOR_VERSION, n=self.n, gap=self.gap_fraction, w=self.window_s,
                   enc=self.encoding, hz=self.gaze_rate_hz, p=self.n_participants, seed=self.seed)
        if self.eye_schema != "eye-v1":
            cfg["schema"] = self.eye_schema
        return hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]

    def _make_eye(self, cache_dir) -> None:
        path = Path(cache_dir) / f"synthetic-eye-{self._cache_key()}.npz" if cache_dir else None
        if path is not None and path.is_file():
            with np.load(path) as z:
                self.eye, self.fixation, self.eye_valid = z["eye"], z["fixation"], z["valid"]
            self.gen_stats = {"samples": self.n, "seconds": 0.0, "samples_per_s": None, "cached": True}
            return
        from emer_live.features.eye_v1 import BASELINE_SCHEMAS, EyeParams, encode_window, process_gaze
        from emer_live.sources.simulated_gaze import simulate_raw

        params = EyeParams(schema=self.eye_schema)
        v2 = self.eye_schema in BASELINE_SCHEMAS
        # eye-v2 and eye-v3 windows are relative to a rolling baseline: each sample gets the baseline's worth
        # of gaze before its window, from another state of the same participant (neutral half the time)
        context_s = max(params.baseline_s - self.window_s, 0.0) if v2 else 0.0
        parts_v2 = [_participant_v2(np.random.default_rng([self.seed, 5, p])) for p in range(self.n_participants)]
        t0 = time.perf_counter()
        eye = np.empty((self.n, 32, 39), np.float32)
        fix = np.empty((self.n, 32, 2), np.float32)
        valid = np.empty(self.n, np.float32)
        for i in range(self.n):
            rng = np.random.default_rng([self.seed, 2, i])
            t_ns, raw = simulate_raw(EMOTIONS_7[self.targets["er7"][i]], self.window_s + 0.5,
                                     self.gaze_rate_hz, rng, t0_ns=0)
            window_from = 0
            if context_s:
                ctx = "neutral" if rng.random() < 0.5 else EMOTIONS_7[rng.integers(7)]
                tc, rc = simulate_raw(ctx, context_s, self.gaze_rate_hz, rng, t0_ns=0)
                t_ns = np.concatenate([tc, t_ns + tc[-1] + int(1e9 / self.gaze_rate_hz)])
                raw = np.concatenate([rc, raw])
                window_from = len(tc)
            raw = _apply_participant(raw, t_ns, self._parts[self.participants[i]], rng)
            if v2:
                raw = _real_recording_effects(raw, t_ns, window_from, parts_v2[self.participants[i]], rng,
                                              self.window_s)
            w = encode_window(process_gaze(t_ns, raw, params), int(t_ns[-1]), self.window_s, encoding=self.encoding)
            eye[i], fix[i], valid[i] = w.eye, w.fixation, w.valid_fraction
        self.eye, self.fixation, self.eye_valid = eye, fix, valid
        dt = time.perf_counter() - t0
        self.gen_stats = {"samples": self.n, "seconds": round(dt, 3),
                          "samples_per_s": round(self.n / max(dt, 1e-9), 1), "cached": False}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, eye=eye, fixation=fix, valid=valid)
            tmp.replace(path)

    def eye_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean (39,), std (39,)) of the raw eye vectors: the normalisation the card carries."""
        return eye_stats_of(self.eye)

    # ---- faces ----------------------------------------------------------------------------------
    def face_embeddings(self, i: int) -> np.ndarray:
        """(8,7) float32 logits in FER2013 order for sample i's displayed expression."""
        rng = np.random.default_rng([self.seed, 3, i])
        part = self._parts[self.participants[i]]
        k = float(self.targets["fer_int"][i, 0]) / 3.0
        logits = part["face_bias"] + rng.normal(0.0, 0.6, size=(8, 7))
        # a clear expression wins by ~6-8 logits (softmax ~0.99); a faint one by much less
        target = _EMER_TO_FER2013[self.targets["fer7"][i]]
        logits[:, target] += (2.0 + 5.5 * k) * rng.uniform(0.85, 1.15, size=8)
        if self.targets["fer7"][i] == EMOTIONS_7.index("neutral"):
            logits[:, target] += 3.0
        return logits.astype(np.float32)

    def face_images(self, i: int) -> np.ndarray:
        """(8,S,S,3) uint8 RGB schematic faces for sample i's displayed expression."""
        rng = np.random.default_rng([self.seed, 4, i])
        part = self._parts[self.participants[i]]
        expr = EMOTIONS_7[self.targets["fer7"][i]]
        inten = float(self.targets["fer_int"][i, 0])
        return np.stack([draw_face(expr, inten * rng.uniform(0.8, 1.1), part["look"], rng, self.crop_size)
                         for _ in range(8)])

    # ---- Dataset ------------------------------------------------------------------------------
    @property
    def provenance(self) -> dict:
        return {"kind": "synthetic", "note": PROVENANCE_NOTE, "n": self.n, "seed": self.seed,
                "gap_fraction": self.gap_fraction, "face_mode": self.face_mode,
                "window_s": self.window_s, "eye_encoding": self.encoding,
                "gaze_rate_hz": self.gaze_rate_hz, "n_participants": self.n_participants,
                "eye_schema": self.eye_schema,
                "generator_version": GENERATOR_VERSION}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        if self.face_mode == "embedding":
            face = torch.from_numpy(self.face_embeddings(i))
        else:
            face = normalise_crops(self.face_images(i), self.face_mean, self.face_std)
        return make_item(face, self.eye[i], self.fixation[i], self.targets, i,
                         self.participants[i], self.masked[i], self.eye_mean, self.eye_std)
