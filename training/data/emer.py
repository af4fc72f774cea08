"""The EMER release as an EMERT dataset.

The official loader is only sent on request, so the layout and column names are configurable
(EMERLayout). The default layout:

    ROOT/
      labels.csv            one row per sample (comma-separated, header row):
                            sample_id, participant, er7, fer7 (emotion names or 0-6 in the order
                            happiness, sadness, fear, surprise, disgust, anger, neutral), optional
                            er3, fer3 (positive/negative/neutral or 0-2; derived from the 7-class
                            label when absent), er_valence, er_arousal, fer_valence, fer_arousal
                            (in va_range, mapped to [-1, 1]), fer_intensity (0-3). Empty = unknown.
      participants.csv      optional: column "participant"; everyone listed must have samples
      faces/SAMPLE_ID/      the sample's face frames as images (sorted by name), or
      faces/SAMPLE_ID.mp4   its face video (.mp4/.avi/.mov); 8 frames are taken evenly spaced
      eye/SAMPLE_ID.tsv     the sample's recorded gaze: a Tobii Pro Lab or Studio export or SDK log

Eye data is read by the runtime's own gaze file reader (emer_live.sources.tobii_tsv: layout
detected, or EMERLayout.eye_columns as a column mapping) into the 30 raw Tobii SDK columns, then
processed by the runtime's eye-v1 code, like live gaze. Pro Lab and Studio exports carry no 3D
gaze vectors in user coordinates, so those columns stay empty and eye-v1's I-VT uses the display
geometry. The fixation stream is eye-v1's, from the same samples.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from emer_live.errors import EmerError, SourceError
from emer_live.labels import CLASSES_3, EMOTIONS_7, canonical_emotion
from training.data.common import (FACE_MEAN, FACE_STD, eye_stats_of, make_item, normalise_crops, seven_to_three)

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_EXT = (".mp4", ".avi", ".mov", ".mkv")


@dataclass
class EMERLayout:
    """Where the release's parts are, relative to its root (absolute paths also work); load one
    from JSON with `EMERLayout.from_json` (`emer:ROOT,layout=FILE.json` on the command line)."""

    labels_file: str = "labels.csv"
    participants_file: str = "participants.csv"
    faces_dir: str = "faces"
    eye_dir: str = "eye"
    eye_ext: str = ".tsv"
    # "prolab": a Tobii Pro Lab export per sample, through the app's eye-v1 code (deployable);
    # "arrays": the release's preprocessed arrays, eye_dir/ID.npy (32, 39) and fixation_dir/ID.npy
    # (32, 2), used as they are (for reproducing the paper; the app cannot compute them live)
    eye_format: str = "prolab"
    fixation_dir: str = "fixation"
    # the reference code's predefined test sets: a folder of files (sorted by name), one per fold,
    # each listing the fold's test sample ids (one per line, or a CSV with a sample_id column)
    test_sets: str | None = None
    # face crops made by the app's face pipeline (`emer-live faces cache FACES_DIR --out DIR`): the
    # faces the deployed model will see. None: whole frames resized, which the app never feeds.
    face_crops: str | None = "face_crops"
    label_columns: dict = field(default_factory=lambda: {
        "sample_id": "sample_id", "participant": "participant", "er7": "er7", "fer7": "fer7", "er3": "er3",
        "fer3": "fer3", "er_valence": "er_valence", "er_arousal": "er_arousal", "fer_valence": "fer_valence",
        "fer_arousal": "fer_arousal", "fer_intensity": "fer_intensity"})
    va_range: tuple = (-1.0, 1.0)  # the labels' valence/arousal scale, mapped to [-1, 1]
    # How to read the eye files: None detects the layout (Pro Lab, Studio, SDK log); else a column
    # mapping (dict, or the path of a --gaze-columns JSON file), as for `emer-live --gaze-columns`.
    eye_columns: object = None

    @classmethod
    def from_json(cls, path: str | Path) -> "EMERLayout":
        import json

        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EmerError(f"layout file {path} does not exist") from None
        except (OSError, ValueError) as e:
            raise EmerError(f"layout file {path} is not readable JSON: {e}") from None
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(d) - known)
        if bad:
            raise EmerError(f"layout file {path}: unknown key(s) {bad}; known: {sorted(known)}")
        if "label_columns" in d:
            d["label_columns"] = {**cls().label_columns, **d["label_columns"]}
        if "va_range" in d:
            d["va_range"] = tuple(d["va_range"])
        layout = cls(**d)
        if layout.eye_format not in ("prolab", "arrays"):
            raise EmerError(f"layout file {path}: eye_format must be prolab or arrays, got {layout.eye_format!r}")
        return layout


def _class_index(value: str, names: tuple, where: str) -> int:
    v = value.strip()
    if v == "":
        return -1
    if v.lstrip("-").isdigit():
        i = int(v)
        if not 0 <= i < len(names):
            raise EmerError(f"{where}: label {i} is out of range 0-{len(names) - 1}")
        return i
    name = (canonical_emotion(v) if names == EMOTIONS_7 else None) or v.lower()
    if name not in names:
        raise EmerError(f"{where}: unknown label {v!r}; expected one of {', '.join(names)} or 0-{len(names) - 1}")
    return names.index(name)


def _number(value: str, lo: float, hi: float, where: str) -> float:
    v = value.strip()
    if v == "":
        return float("nan")
    try:
        x = float(v)
    except ValueError:
        raise EmerError(f"{where}: {v!r} is not a number") from None
    if not lo <= x <= hi:
        raise EmerError(f"{where}: {x} is out of range [{lo}, {hi}]")
    return x


def read_eye_recordings(path: Path, columns=None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every recording in a recorded gaze file, read by the runtime's reader (one implementation):
    [(name, t_ns int64 from the recording's start, raw float32 (N, 30) in RAW_GAZE_COLUMNS order)].
    Segments after a clock step continue the recording's time axis one sample period later."""
    from emer_live.sources.tobii_tsv import read_gaze_file

    try:
        gf = read_gaze_file(path, columns)
    except SourceError as e:
        raise EmerError(f"eye data: {e}") from None
    out = []
    for r in gf.recordings:
        t = r.timeline_us()
        out.append((r.name, (t - t[0]) * 1000, r.raw))
    return out


def read_eye_arrays(eye_path: Path, fix_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The release's preprocessed arrays of one sample: eye (32, 39) and fixation (32, 2)."""
    out = []
    for path, shape in ((eye_path, (32, 39)), (fix_path, (32, 2))):
        if not path.is_file():
            raise EmerError(f"preprocessed array {path} not found")
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise EmerError(f"preprocessed array {path} cannot be read as .npy: {e}") from None
        if a.shape != shape:
            raise EmerError(f"preprocessed array {path} has shape {a.shape}, expected {shape}")
        if not np.isfinite(a).all():
            raise EmerError(f"preprocessed array {path} holds {int((~np.isfinite(a)).sum())} NaN/inf values")
        out.append(a.astype(np.float32))
    return out[0], out[1]


def read_test_sets(folder: Path, ids: list[str]) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str], list[str]]:
    """Predefined test sets -> ([(train_idx, test_idx)] per file, file names, notes). Every listed id
    must be a sample; no sample may be in two test sets; samples in none are reported."""
    if not folder.is_dir():
        raise EmerError(f"test-set folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".txt", ".csv", ".lst", ".tsv"))
    if len(files) < 2:
        raise EmerError(f"test-set folder {folder} holds {len(files)} list files (.txt/.csv/.lst/.tsv); cross-validation needs 2 or more")
    where = {sid: i for i, sid in enumerate(ids)}
    owner: dict[str, str] = {}
    folds = []
    for f in files:
        lines = [ln.strip() for ln in f.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
        delim = "\t" if "\t" in lines[0] else ","
        head = [h.strip() for h in lines[0].split(delim)] if lines else []
        col = head.index("sample_id") if "sample_id" in head else None
        rows = lines[1:] if col is not None else lines
        test = [r.split(delim)[col or 0].strip() for r in rows]
        unknown = [t for t in test if t not in where]
        if unknown:
            raise EmerError(f"test set {f}: sample id(s) {unknown[:5]} are not in the labels file")
        twice = [t for t in test if t in owner]
        if twice:
            raise EmerError(f"test set {f}: sample id(s) {twice[:5]} are also in test set {owner[twice[0]]}")
        owner.update({t: f.name for t in test})
        te = np.array(sorted(where[t] for t in set(test)), np.int64)
        if not len(te):
            raise EmerError(f"test set {f} lists no samples")
        folds.append((np.setdiff1d(np.arange(len(ids)), te), te))
    notes = []
    never = [sid for sid in ids if sid not in owner]
    if never:
        notes.append(f"{len(never)} samples are in no test set (trained on in every fold, never tested), e.g. {never[:3]}")
    return folds, [f.name for f in files], notes


def read_face_frames(source: Path, n: int = 8, size: int = 112) -> np.ndarray:
    """n frames evenly spaced over an image folder or a video -> (n,size,size,3) uint8 RGB."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXT)
        if not files:
            raise EmerError(f"face folder {source} holds no images ({', '.join(IMAGE_EXT)})")
        pick = [files[i] for i in np.linspace(0, len(files) - 1, n).round().astype(int)]
        imgs = [cv2.imread(str(p)) for p in pick]
        bad = [p for p, im in zip(pick, imgs) if im is None]
        if bad:
            raise EmerError(f"face image {bad[0]} cannot be decoded")
    else:
        cap = cv2.VideoCapture(str(source))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not cap.isOpened() or count < 1:
            raise EmerError(f"face video {source} cannot be opened or has no frames")
        imgs = []
        for i in np.linspace(0, count - 1, n).round().astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
            ok, im = cap.read()
            if not ok:
                raise EmerError(f"face video {source}: frame {i} cannot be read")
            imgs.append(im)
        cap.release()
    return np.stack([cv2.cvtColor(cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
                     for im in imgs])


class EMERDataset(Dataset):
    """EMER samples: 8 face frames, a 32-step eye-v1 window over the sample (or its last
    window_s seconds), the fixation stream, ER and FER labels. See the module doc."""

    face_mode = "image"
    crop_recipe = None  # the recipe of the cached face crops (None: whole frames)

    def __init__(self, root: str | Path, layout: EMERLayout | None = None, window_s: float | None = None,
                 encoding: str = "segment", crop_size: int = 112, face_mean=FACE_MEAN, face_std=FACE_STD):
        from emer_live.features.eye_v1 import encode_window, process_gaze

        self.root, self.layout = Path(root), layout or EMERLayout()
        self.window_s, self.encoding, self.crop_size = window_s, encoding, crop_size
        self.face_mean, self.face_std = tuple(face_mean), tuple(face_std)
        if not self.root.is_dir():
            raise EmerError(f"EMER folder {self.root} does not exist or is not a folder")
        self._read_labels()
        L = self.layout
        n = len(self.ids)
        self.crop_cache, self.crop_manifest = self._open_crop_cache()
        self.eye, self.fixation = np.empty((n, 32, 39), np.float32), np.empty((n, 32, 2), np.float32)
        self.durations_s = np.empty(n)
        self.faces = []
        for i, sid in enumerate(self.ids):
            self.faces.append(None if self.crop_cache else self._face_source(sid))
            if L.eye_format == "arrays":
                ext = L.eye_ext if L.eye_ext.endswith(".npy") else ".npy"
                self.eye[i], self.fixation[i] = read_eye_arrays(self._path(L.eye_dir) / f"{sid}{ext}",
                                                                self._path(L.fixation_dir) / f"{sid}{ext}")
                self.durations_s[i] = np.nan
                continue
            tsv = self._path(L.eye_dir) / f"{sid}{L.eye_ext}"
            if not tsv.is_file():
                raise EmerError(f"sample {sid!r}: eye data {tsv} not found")
            recs = read_eye_recordings(tsv, L.eye_columns)
            if len(recs) > 1:
                raise EmerError(f"sample {sid!r}: eye data {tsv} holds {len(recs)} recordings "
                                f"({'; '.join(n for n, _, _ in recs)}); a sample needs exactly one")
            _, t_ns, raw = recs[0]
            dur = (t_ns[-1] - t_ns[0]) / 1e9
            self.durations_s[i] = dur
            w = encode_window(process_gaze(t_ns, raw), int(t_ns[-1]), window_s or dur + 1e-9, encoding=encoding)
            self.eye[i], self.fixation[i] = w.eye, w.fixation
        self.eye_mean, self.eye_std = self.eye_stats()
        self.predefined_folds, self.test_set_files, self.split_notes = None, [], []
        if L.test_sets:
            self.predefined_folds, self.test_set_files, self.split_notes = read_test_sets(self._path(L.test_sets), self.ids)
            shared = [n for n, (tr, te) in zip(self.test_set_files, self.predefined_folds)
                      if np.intersect1d(self.participants[tr], self.participants[te]).size]
            if shared:
                self.split_notes.append(f"test sets {shared} share participants with their training folds "
                                        "(not participant-independent)")

    def _open_crop_cache(self):
        """(cache folder, manifest) of the app-pipeline face crops, checked; (None, None) for whole frames."""
        import json

        from emer_live.features.face_cache import MANIFEST
        from emer_live.features.face_crop import CropRecipe

        if not self.layout.face_crops:
            return None, None
        cache = self._path(self.layout.face_crops)
        faces = self._path(self.layout.faces_dir)
        mpath = cache / MANIFEST
        if not mpath.is_file():
            raise EmerError(f"no face-crop cache at {cache} ({MANIFEST} missing): make it once with the app's face "
                            f"pipeline, `emer-live faces cache {faces} --out {cache} --workers 4`, or train on "
                            "whole frames (faces=frames; not what the app feeds the model)")
        manifest = json.loads(mpath.read_text())
        recipe = dict(manifest.get("recipe") or {})
        if recipe.pop("crop_size", None) != self.crop_size:
            raise EmerError(f"{mpath}: crops are not {self.crop_size} px; rebuild the cache")
        try:  # the exporter writes this recipe into the card, so the app crops as the model was trained
            self.crop_recipe = CropRecipe.from_card(recipe)
        except ValueError as e:
            raise EmerError(f"{mpath}: its crop recipe is not one the app can make: {e}") from None
        missing = [sid for sid in self.ids if not (cache / f"{sid}.npz").is_file()]
        if missing:
            failed = manifest.get("failed", {})
            why = "; ".join(f"{sid}: {failed.get(sid, 'not cached')}" for sid in missing[:5])
            raise EmerError(f"{cache}: {len(missing)} labelled sample(s) have no face crops ({why}); rerun "
                            "`emer-live faces cache`, or drop samples with no visible face from the labels file")
        return cache, manifest

    def _path(self, rel: str) -> Path:
        return self.root / rel  # an absolute rel replaces the root

    def _read_labels(self) -> None:
        L, c = self.layout, self.layout.label_columns
        path = self._path(L.labels_file)
        if not path.is_file():
            raise EmerError(f"{path} not found: an EMER folder needs {L.labels_file}, {L.faces_dir}/ and {L.eye_dir}/ "
                            "(see training/data/emer.py for the layout)")
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            head = reader.fieldnames or []
            need = [c["sample_id"], c["participant"], c["er7"], c["fer7"]]
            missing = [k for k in need if k not in head]
            if missing:
                raise EmerError(f"{path} lacks column(s) {missing}; it has {head}")
            rows = list(reader)
        if not rows:
            raise EmerError(f"{path} has no samples")
        lo, hi = L.va_range
        ids, parts, t = [], [], {k: [] for k in ("er7", "fer7", "er3", "fer3", "er_va", "fer_va", "fer_int")}
        for line, r in enumerate(rows, start=2):
            where = f"{path}, line {line}"
            sid = (r.get(c["sample_id"]) or "").strip()
            if not sid:
                raise EmerError(f"{where}: empty sample id")
            ids.append(sid)
            part = (r.get(c["participant"]) or "").strip()
            if not part:
                raise EmerError(f"{where}: sample {sid!r} has no participant")
            parts.append(part)
            for task in ("er", "fer"):
                i7 = _class_index(r.get(c[f"{task}7"]) or "", EMOTIONS_7, f"{where}, column {c[f'{task}7']}")
                i3 = _class_index(r.get(c[f"{task}3"]) or "", CLASSES_3, f"{where}, column {c[f'{task}3']}")
                t[f"{task}7"].append(i7)
                t[f"{task}3"].append(i3 if i3 >= 0 else int(seven_to_three(np.array([i7]))[0]))
                va = [_number(r.get(c[f"{task}_{d}"]) or "", lo, hi, f"{where}, column {c[f'{task}_{d}']}")
                      for d in ("valence", "arousal")]
                t[f"{task}_va"].append([2 * (v - lo) / (hi - lo) - 1 for v in va])
            t["fer_int"].append([_number(r.get(c["fer_intensity"]) or "", 0.0, 3.0, f"{where}, column {c['fer_intensity']}")])
        dup = sorted({s for s in ids if ids.count(s) > 1})
        if dup:
            raise EmerError(f"{path}: sample id(s) {dup[:5]} appear more than once")
        self.ids = ids
        names = sorted(set(parts))
        pfile = self._path(L.participants_file)
        if pfile.is_file():
            with open(pfile, newline="", encoding="utf-8-sig") as f:
                listed = [(r.get("participant") or "").strip() for r in csv.DictReader(f)]
            empty = [p for p in listed if p and p not in names]
            if empty:
                raise EmerError(f"{pfile}: participant(s) {empty[:5]} have no samples in {path}")
        self.participant_names = names
        self.participants = np.array([names.index(p) for p in parts], np.int64)
        self.targets = {k: np.asarray(v, np.float32 if k.endswith(("va", "int")) else np.int64) for k, v in t.items()}
        self.masked = (self.targets["er7"] >= 0) & (self.targets["fer7"] >= 0) & (self.targets["er7"] != self.targets["fer7"])

    def _face_source(self, sid: str) -> Path:
        base = self._path(self.layout.faces_dir) / sid
        if base.is_dir():
            return base
        for ext in VIDEO_EXT:
            if base.with_suffix(ext).is_file():
                return base.with_suffix(ext)
        raise EmerError(f"sample {sid!r}: no face frames at {base}/ nor a video {base}{{{','.join(VIDEO_EXT)}}}")

    def eye_stats(self) -> tuple[np.ndarray, np.ndarray]:
        return eye_stats_of(self.eye)

    @property
    def provenance(self) -> dict:
        arrays = self.layout.eye_format == "arrays"
        prov = {"kind": "emer", "root": self.root.name, "n": len(self.ids),
                "n_participants": int(len(np.unique(self.participants))), "window_s": self.window_s,
                "eye_encoding": "preprocessed arrays" if arrays else self.encoding,
                "eye_source": "arrays" if arrays else "eye-v1",
                "mean_duration_s": None if arrays else round(float(self.durations_s.mean()), 2)}
        prov["faces"] = ({"source": "app face pipeline crops", "recipe": self.crop_manifest["recipe"],
                          "frames_per_sample": self.crop_manifest["frames"]} if self.crop_cache else
                         {"source": "whole frames resized (not the app's face crops: train/serve skew)"})
        if self.predefined_folds is not None:
            prov["split"] = {"test_sets": self.test_set_files, "notes": self.split_notes}
        return prov

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        if self.crop_cache is not None:
            from emer_live.features.face_cache import load_crops

            cached = load_crops(self.crop_cache, self.ids[i])
            crops = cached[np.linspace(0, len(cached) - 1, 8).round().astype(int)]  # 8 spread over the clip
        else:
            crops = read_face_frames(self.faces[i], 8, self.crop_size)
        face = normalise_crops(crops, self.face_mean, self.face_std)
        return make_item(face, self.eye[i], self.fixation[i], self.targets, i, self.participants[i],
                         self.masked[i], self.eye_mean, self.eye_std)

