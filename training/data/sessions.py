"""Sessions recorded by emer_live as an EMERT dataset: one sample per labelled segment.

Read through emer_live.recording.session_reader.SessionReader (the session format of
docs/session-format.md). Per segment (labels.csv row): 8 of the face crops the model saw,
evenly spaced in time over the segment; the eye window from the session's raw gaze through the
runtime's eye-v1 code (ending at the segment's end, window_s long, or the whole segment when
window_s is None); ER labels (from the participant's self-assessment) and FER labels (from
annotation), -1 / NaN where unknown. The participant id is the session's pseudonym, so sessions of
one person stay in one fold.

Segments with no face crop at all, or with neither an ER nor a FER label, cannot train anything:
they are skipped and listed in `skipped` (and in the provenance), never filled with zeros. Windows
the app would refuse (across a break between gaze recordings, gaze valid in under MIN_EYE_VALID of
the window) are refused here too, counted by reason in the provenance (`refused_windows`), which
the exported card keeps.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from emer_live.errors import EmerError
from emer_live.labels import CLASSES_3, EMOTIONS_7
from emer_live.pipeline.core import MIN_EYE_VALID
from emer_live.sources.trial_joins import window_spans_break
from training.data.common import (FACE_MEAN, FACE_STD, eye_stats_of, make_item, normalise_crops, seven_to_three)

log = logging.getLogger("training")


def _index(name, names) -> int:
    return names.index(name) if name in names else -1


def _trials_of(reader) -> dict:
    """How the session's gaze files were joined at record time (trial_joins' rule): the same seams
    decide the breaks no training window spans."""
    trials = reader.meta.get("devices")
    for key in ("gaze_source", "trials"):  # a session is untrusted input: anything but a dict is no record
        trials = trials.get(key) if isinstance(trials, dict) else None
    trials = trials if isinstance(trials, dict) else {}
    count = {k: trials.get(k) for k in ("joined", "breaks")}
    return {k: v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0 for k, v in count.items()}


class SessionsDataset(Dataset):
    face_mode = "image"

    crop_recipe = None  # the crop recipe every session's face crops were made with (one for all)

    def _note_recipe(self, path: Path, reader) -> None:
        """A model trained on these crops must be fed the same crop: all sessions must share one
        recipe, and the exporter writes it into the card. Sessions recorded before recipes were
        recorded have the legacy crop."""
        from emer_live.features.face_crop import recipe_of_card

        recipe = recipe_of_card({"crop": (reader.meta.get("face_crops") or {}).get("recipe")})
        if self.crop_recipe is not None and recipe != self.crop_recipe:
            raise EmerError(f"session {path} has face crops made with a different crop recipe than the sessions "
                            f"before it ({recipe.to_card()} vs {self.crop_recipe.to_card()}): a model must be "
                            "trained on one kind of crop; train on sessions recorded with one model")
        self.crop_recipe = recipe

    def __init__(self, paths, window_s: float | None = None, encoding: str = "segment", crop_size: int = 112,
                 face_mean=FACE_MEAN, face_std=FACE_STD):
        from emer_live.features.eye_v1 import encode_window, process_gaze
        from emer_live.recording import layout as L
        from emer_live.recording.session_reader import SessionReader

        self.window_s, self.encoding, self.crop_size = window_s, encoding, crop_size
        self.face_mean, self.face_std = tuple(face_mean), tuple(face_std)
        self.readers, self.skipped = [], []
        self.refused = {"eye_stream_break": 0, "eye_invalid": 0}  # windows the app would refuse, by reason
        samples = []  # (reader index, frame indices (8,), participant name, segment)
        eyes, fixes = [], []
        for path in map(Path, paths):
            if not path.is_dir():
                raise EmerError(f"session folder {path} does not exist")
            reader = SessionReader(path)
            segs = reader.labels()
            if not segs:
                raise EmerError(f"session {path} has no labelled segments (labels.csv): label it first "
                                "(self-assessment, then `emer-live annotate`)")
            t_ns, raw = reader.gaze()
            if len(t_ns) < 2:
                raise EmerError(f"session {path} has no gaze samples (gaze.csv)")
            gaze = process_gaze(t_ns, raw)
            breaks = [int(e["host_ns"]) for e in reader.events() if e.get("kind") == "stream_break"]
            frames = reader.frames()
            has_crop = np.array([(path / L.FACE_CROPS_DIR / L.crop_file_name(int(i))).exists()
                                 for i in frames["frame_index"]], bool)
            participant = str(reader.meta.get("participant") or path.name)
            self._note_recipe(path, reader)
            self.readers.append(reader)
            for seg in segs:
                where = f"{path} segment {seg.start_ns}-{seg.end_ns}"
                sel = np.flatnonzero(has_crop & (frames["host_ns"] >= seg.start_ns) & (frames["host_ns"] < seg.end_ns))
                if not len(sel):
                    self.skipped.append(f"{where}: no face crop")
                    continue
                if seg.er7 is None and seg.fer7 is None and seg.er3 is None and seg.fer3 is None:
                    self.skipped.append(f"{where}: no ER or FER label")
                    continue
                pick = sel[np.linspace(0, len(sel) - 1, 8).round().astype(int)]
                w_s = window_s or (seg.end_ns - seg.start_ns) / 1e9
                w = encode_window(gaze, int(seg.end_ns), w_s, encoding=encoding)
                # the windows the app refuses are not trained on either (emer_live.pipeline.core)
                w_start = int(seg.end_ns) - int(round(w_s * 1e9))
                if window_spans_break(w_start, int(seg.end_ns), breaks):
                    self._refuse("eye_stream_break", f"{where}: the window spans a break between two gaze "
                                                     "recordings (the app makes no window across one)")
                    continue
                if w.valid_fraction < MIN_EYE_VALID:
                    self._refuse("eye_invalid", f"{where}: gaze valid in {w.valid_fraction:.0%} of the window "
                                                f"(the app refuses below {MIN_EYE_VALID:.0%})")
                    continue
                eyes.append(w.eye)
                fixes.append(w.fixation)
                samples.append((len(self.readers) - 1, frames["frame_index"][pick], participant, seg))
        for s in self.skipped:
            log.warning("skipped %s", s)
        if not samples:
            raise EmerError(f"no usable labelled segments in {', '.join(map(str, paths))}: " + "; ".join(self.skipped[:3]))
        self._samples = samples
        self.eye, self.fixation = np.stack(eyes), np.stack(fixes)
        names = sorted({s[2] for s in samples})
        self.participant_names = names
        self.participants = np.array([names.index(s[2]) for s in samples], np.int64)
        segs = [s[3] for s in samples]
        self.durations_s = np.array([(g.end_ns - g.start_ns) / 1e9 for g in segs])
        er7 = np.array([_index(g.er7, EMOTIONS_7) for g in segs], np.int64)
        fer7 = np.array([_index(g.fer7, EMOTIONS_7) for g in segs], np.int64)
        er3 = np.array([_index(g.er3, CLASSES_3) for g in segs], np.int64)
        fer3 = np.array([_index(g.fer3, CLASSES_3) for g in segs], np.int64)
        self.targets = {
            "er7": er7, "fer7": fer7,
            "er3": np.where(er3 >= 0, er3, seven_to_three(er7)), "fer3": np.where(fer3 >= 0, fer3, seven_to_three(fer7)),
            "er_va": np.array([np.asarray(g.er_va, float) for g in segs], np.float32).reshape(-1, 2),
            "fer_va": np.array([np.asarray(g.fer_va, float) for g in segs], np.float32).reshape(-1, 2),
            "fer_int": np.array([[g.fer_intensity] for g in segs], np.float32),
        }
        self.masked = (er7 >= 0) & (fer7 >= 0) & (er7 != fer7)
        self.paths = [str(p) for p in paths]
        self.eye_mean, self.eye_std = self.eye_stats()

    def _refuse(self, reason: str, text: str) -> None:
        self.refused[reason] += 1
        self.skipped.append(text)

    def eye_stats(self) -> tuple[np.ndarray, np.ndarray]:
        return eye_stats_of(self.eye)

    @property
    def provenance(self) -> dict:
        import hashlib

        from emer_live.recording import layout as L

        # which recordings and which labels: two models trained on relabelled sessions differ here
        ids = [str(r.meta.get("session_id", "")) for r in self.readers]
        sums = [hashlib.sha256((r.path / L.LABELS_CSV).read_bytes()).hexdigest() for r in self.readers]
        return {"kind": "sessions", "sessions": [Path(p).name for p in self.paths], "session_ids": ids,
                "labels_csv_sha256": sums, "n": len(self._samples),
                "n_participants": len(self.participant_names), "window_s": self.window_s,
                "eye_encoding": self.encoding, "skipped": self.skipped,
                "gaze_trials": [_trials_of(r) for r in self.readers],
                "refused_windows": {"counts": dict(self.refused),
                                    "why": "windows the app refuses (emer_live.pipeline.core SKIP_REASONS) are not "
                                           "trained on"}}

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        r, frame_idx, _, _ = self._samples[i]
        reader = self.readers[r]
        crops = []
        for f in frame_idx:
            c = reader.face_crop(int(f))
            if c is None:
                raise EmerError(f"session {reader.path}: face crop of frame {int(f)} vanished or is unreadable")
            if c.shape[0] != self.crop_size:
                import cv2

                c = cv2.resize(c, (self.crop_size, self.crop_size), interpolation=cv2.INTER_AREA)
            crops.append(c)
        face = normalise_crops(np.stack(crops), self.face_mean, self.face_std)
        return make_item(face, self.eye[i], self.fixation[i], self.targets, i, self.participants[i],
                         self.masked[i], self.eye_mean, self.eye_std)
