"""FER annotation of a recorded session, after the paper's ALA (Fig. 5):

1. Model auto-annotation: each ER segment gets the FER label of the per-frame face network the
   app showed while recording: the mean of the session's frame_fer.csv over the segment. A
   session recorded before per-frame FER existed is read by the face network of the session's
   own model (session.json model, checked by the card's hash) on the recorded face crops.
   The EMERT fusion head's FER is not used: it also sees the eyes, and a label of the face alone
   is what the annotators review.
2. Expert review: segments whose auto FER label disagrees with the participant's ER label are
   disputed; each annotator accepts or relabels them in a file of their own
   (annotations/annotator_NAME.csv), so annotators never see or overwrite each other.
3. Reliability: Dawid-Skene EM weights every annotator (the model included) by its estimated
   accuracy; the fused 7-class label is the EM posterior's argmax, continuous ratings are the
   reliability-weighted mean (the paper's f_j = sum_i alpha_i / sum alpha * t_j^i). Agreement
   between the raters is Krippendorff's alpha (the `krippendorff` package): nominal for the
   7-class label, interval for valence, arousal and intensity; it allows missing ratings.
The fused FER labels are written into labels.csv beside the ER labels: a labelled session the
training package reads.

Files (annotations/): auto.csv, annotator_NAME.csv, reliability.json.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from emer_live.errors import RecordingError
from emer_live.labels import EMOTIONS_7, SEVEN_TO_THREE, valence_arousal_of
from emer_live.recording import layout as L
from emer_live.recording.filelayer import FileLayer
from emer_live.recording.untrusted import check_within
from emer_live.recording.session_reader import SessionReader

AUTO_CSV = "auto.csv"
RELIABILITY_JSON = "reliability.json"
AUTO_COLUMNS = ("segment", "start_ns", "end_ns", "er7", "fer7", "fer_valence", "fer_arousal", "fer_intensity",
                "n_crops", *(f"p_{e}" for e in EMOTIONS_7))
ANNOTATOR_COLUMNS = ("segment", "start_ns", "end_ns", "decision", "fer7", "fer_valence", "fer_arousal",
                     "fer_intensity", "annotated_utc")
MODEL = "model"


def _csv_bytes(header, rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def _f(x) -> str:
    return "" if x is None or not np.isfinite(x) else repr(float(x))


def _nan(s: str) -> float:
    return float(s) if s not in ("", None) else float("nan")


# --- 1. model auto-annotation ---------------------------------------------------------------
@dataclass
class AutoLabel:
    segment: int
    start_ns: int
    end_ns: int
    er7: Optional[str]
    fer7: Optional[str]  # None when the segment has no face crop
    probs7: np.ndarray
    valence: float
    arousal: float
    intensity: float
    n_crops: int


FaceReader = Callable[[np.ndarray], np.ndarray]  # (N, H, W, 3) uint8 RGB crops -> (N, 7) probs over EMOTIONS_7


def face_network_reader(engine) -> FaceReader:
    """The model's per-frame face network (face encoder + card face.expression) as a FaceReader."""
    from emer_live.pipeline.frame_fer import ExpressionReader

    reader = ExpressionReader.for_engine(engine)
    if reader is None:
        raise RecordingError(f"Model {engine.card.name} has no per-frame face expression output "
                             "(card face.expression with separate face encoder): it cannot label faces")
    return lambda crops: reader.probs(engine.embed_faces(crops))


def _segment_probs(frame_fer: dict, start_ns: int, end_ns: int) -> tuple[np.ndarray, int]:
    """Mean of the recorded per-frame FER over the frames in [start, end) that had a face crop."""
    t, p = frame_fer["host_ns"], frame_fer["probs7"]
    rows = p[(t >= start_ns) & (t < end_ns)]
    rows = rows[np.isfinite(rows).all(axis=1)]
    return (rows.mean(axis=0), len(rows)) if len(rows) else (np.full(7, np.nan), 0)


def auto_annotate(session: str | Path, face_reader: Optional[FaceReader] = None) -> list[AutoLabel]:
    """FER labels per ER segment from the per-frame face network; writes annotations/auto.csv.

    Segments with recorded frame_fer rows use them (what the app showed); the others, when
    face_reader is given, read the segment's recorded face crops with it. n_crops counts the
    frames (or crops) behind the label. Intensity stays empty: the face network gives none."""
    reader = SessionReader(session)
    segs = reader.labels()
    if not segs:
        raise RecordingError(f"Session {reader.path} has no labelled segments (labels.csv): "
                             "record self-assessments after stimuli first")
    frame_fer = reader.frame_fer()
    out = []
    for i, seg in enumerate(segs):
        p7, n = _segment_probs(frame_fer, seg.start_ns, seg.end_ns)
        if not n and face_reader is not None:
            crops = [c for _, c in reader.face_crops_between(seg.start_ns, seg.end_ns)]
            if crops:
                p7, n = face_reader(np.stack(crops)).mean(axis=0), len(crops)
        if not n:
            out.append(AutoLabel(i, seg.start_ns, seg.end_ns, seg.er7, None, p7, np.nan, np.nan, np.nan, 0))
            continue
        valence, arousal = valence_arousal_of(p7)
        out.append(AutoLabel(i, seg.start_ns, seg.end_ns, seg.er7, EMOTIONS_7[int(np.argmax(p7))], p7,
                             float(valence), float(arousal), np.nan, n))
    rows = [[a.segment, a.start_ns, a.end_ns, a.er7 or "", a.fer7 or "", _f(a.valence), _f(a.arousal),
             _f(a.intensity), a.n_crops, *(_f(p) for p in a.probs7)] for a in out]
    FileLayer().replace_atomic(annotations_dir(reader.path) / AUTO_CSV, _csv_bytes(AUTO_COLUMNS, rows))
    return out


def needs_face_network(session: str | Path) -> bool:
    """True when some labelled segment has no recorded per-frame FER (auto must read crops)."""
    reader = SessionReader(session)
    ff = reader.frame_fer()
    return any(not _segment_probs(ff, s.start_ns, s.end_ns)[1] for s in reader.labels())


def session_model_card(session: str | Path, given: Optional[str | Path] = None) -> Path:
    """The card of the model the session was recorded with: the recorded card's source path, or
    the given card, or the default model, whichever has the recorded card's SHA-256. A given card
    that differs from the recorded one is refused (it would label with another model)."""
    from emer_live.model_card import file_sha256
    from emer_live.pipeline.engine import default_model_path

    reader = SessionReader(session)
    rec = reader.meta.get("model") or {}
    want = rec.get("card_sha256")
    if not want:
        if given is None:
            raise RecordingError(f"Session {reader.path} records no model: name the one it was recorded with (--model CARD)")
        return Path(given)
    if given is not None:
        if file_sha256(Path(given)) != want:
            raise RecordingError(f"{given} is not the model session {reader.path} was recorded with "
                                 f"({rec.get('name')}, card SHA-256 {want[:12]}...)")
        return Path(given)
    for cand in (rec.get("source_path"), default_model_path()):
        if cand and Path(cand).is_file() and file_sha256(Path(cand)) == want:
            return Path(cand)
    raise RecordingError(f"The session's model {rec.get('name')} ({rec.get('source_path')}) is not here or has "
                         "changed: name its card with --model CARD")


def auto_annotate_session(session: str | Path, model: Optional[str | Path] = None) -> tuple[list[AutoLabel], Optional[str], str]:
    """auto_annotate with the session's own model loaded only when some segment has no recorded
    per-frame FER. Returns the labels, the model's name and where the labels came from."""
    face_reader, name = None, (SessionReader(session).meta.get("model") or {}).get("name")
    if needs_face_network(session):
        from emer_live.model_card import load_card
        from emer_live.pipeline.engine import InferenceEngine

        engine = InferenceEngine(load_card(session_model_card(session, model)).path)
        face_reader, name = face_network_reader(engine), engine.card.name
    labels = auto_annotate(session, face_reader)
    return labels, name, "face network on recorded crops" if face_reader else "recorded frame_fer"


def annotations_dir(session: Path) -> Path:
    """The session's annotations/ folder, created if needed; refused when it is a link leading
    outside the session (a session folder is untrusted, see untrusted.py)."""
    path = Path(session) / L.ANNOTATIONS_DIR
    try:
        FileLayer().makedirs(path)
    except OSError as e:
        raise RecordingError(f"cannot create {path}: {e.strerror or e}") from None
    check_within(session, path)
    return path


def read_auto(session: str | Path) -> list[AutoLabel]:
    reader = SessionReader(session)
    rows = reader.table(f"{L.ANNOTATIONS_DIR}/{AUTO_CSV}", ints=("segment", "start_ns", "end_ns", "n_crops"),
                        floats=("fer_valence", "fer_arousal", "fer_intensity", *(f"p_{e}" for e in EMOTIONS_7)))
    if not rows:
        raise RecordingError(f"Session {reader.path} is not auto-annotated yet (run `emer-live annotate SESSION auto`)")
    return [AutoLabel(r["segment"], r["start_ns"], r["end_ns"], r["er7"] or None, r["fer7"] or None,
                      np.array([_nan(r[f"p_{e}"]) for e in EMOTIONS_7]), _nan(r["fer_valence"]),
                      _nan(r["fer_arousal"]), _nan(r["fer_intensity"]), r["n_crops"]) for r in rows]


# --- 2. expert review -------------------------------------------------------------------------
@dataclass
class ReviewItem:
    auto: AutoLabel
    decision: str = ""  # "", "accept" or "relabel"
    fer7: Optional[str] = None
    valence: float = float("nan")  # [-1, 1]
    arousal: float = float("nan")
    intensity: float = float("nan")  # [0, 3]


def check_annotator(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", name or ""):
        raise RecordingError(f"Annotator name {name!r} must be 1-32 letters, digits, '_' or '-'")
    if name == MODEL:
        raise RecordingError(f"Annotator name {MODEL!r} is reserved for the model")
    return name


class ReviewSession:
    """One annotator's review of the disputed segments (auto FER != ER). Qt-free: the CLI and the
    UI both drive it. Answers go to annotations/annotator_NAME.csv on save()."""

    def __init__(self, session: str | Path, annotator: str):
        self.reader = SessionReader(session)
        self.annotator = check_annotator(annotator)
        self.path = self.reader.path / L.ANNOTATIONS_DIR / f"annotator_{annotator}.csv"
        self.items = [ReviewItem(a) for a in read_auto(session) if a.fer7 is not None and a.er7 and a.fer7 != a.er7]
        for r in self.reader.table(f"{L.ANNOTATIONS_DIR}/{self.path.name}", ints=("segment",),  # resume earlier work
                                   floats=("fer_valence", "fer_arousal", "fer_intensity")):
            for it in self.items:
                if it.auto.segment == r["segment"]:
                    it.decision, it.fer7 = r["decision"], r["fer7"] or None
                    it.valence, it.arousal, it.intensity = _nan(r["fer_valence"]), _nan(r["fer_arousal"]), _nan(r["fer_intensity"])

    def crops(self, i: int) -> list[np.ndarray]:
        """The segment's face crops (RGB), to show the reviewer what the face did."""
        a = self.items[i].auto
        return [c for _, c in self.reader.face_crops_between(a.start_ns, a.end_ns)]

    def accept(self, i: int) -> None:
        """Agree with the model's proposed FER label (and its ratings)."""
        it = self.items[i]
        it.decision, it.fer7 = "accept", it.auto.fer7
        it.valence, it.arousal, it.intensity = it.auto.valence, it.auto.arousal, it.auto.intensity

    def relabel(self, i: int, fer7: str, valence: float = float("nan"), arousal: float = float("nan"),
                intensity: float = float("nan")) -> None:
        if fer7 not in EMOTIONS_7:
            raise RecordingError(f"FER label {fer7!r} is not one of {list(EMOTIONS_7)}")
        for name, v, lo, hi in (("valence", valence, -1, 1), ("arousal", arousal, -1, 1), ("intensity", intensity, 0, 3)):
            if np.isfinite(v) and not lo <= v <= hi:
                raise RecordingError(f"FER {name} {v} lies outside [{lo}, {hi}]")
        it = self.items[i]
        it.decision, it.fer7, it.valence, it.arousal, it.intensity = "relabel", fer7, valence, arousal, intensity

    @property
    def remaining(self) -> int:
        return sum(not it.decision for it in self.items)

    def save(self) -> Path:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        rows = [[it.auto.segment, it.auto.start_ns, it.auto.end_ns, it.decision, it.fer7 or "", _f(it.valence),
                 _f(it.arousal), _f(it.intensity), now] for it in self.items if it.decision]
        FileLayer().replace_atomic(annotations_dir(self.reader.path) / self.path.name, _csv_bytes(ANNOTATOR_COLUMNS, rows))
        return self.path


# --- 3. reliability and fusion ------------------------------------------------------------------
@dataclass
class DawidSkene:
    posterior: np.ndarray  # (items, K)
    confusion: np.ndarray  # (annotators, K, K): P(annotator says l | true k)
    prior: np.ndarray  # (K,)
    reliability: np.ndarray  # (annotators,): P(annotator is right) = sum_k prior_k confusion[k, k]
    iterations: int

    @property
    def labels(self) -> np.ndarray:
        return np.argmax(self.posterior, axis=1)


def ds_e_step(labels: np.ndarray, prior: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Posterior over the true class of each item given every annotator's label (-1 = none)."""
    logp = np.tile(np.log(prior), (labels.shape[0], 1))
    for a in range(labels.shape[1]):
        seen = labels[:, a] >= 0
        logp[seen] += np.log(confusion[a][:, labels[seen, a]]).T
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


def dawid_skene(labels: np.ndarray, n_classes: int, max_iter: int = 200, tol: float = 1e-7,
                smoothing: float = 0.01, diag_prior: float = 1.0) -> DawidSkene:
    """EM estimate of each annotator's confusion matrix and each item's true class
    (Dawid & Skene 1979). labels: (items, annotators) int class indices, -1 where not labelled.
    diag_prior pseudo-counts on each confusion diagonal (annotators are more often right than
    wrong) keep a few items from producing degenerate matrices: with little data the result
    tends to the majority vote, with much data the prior fades."""
    labels = np.asarray(labels, dtype=int)
    n, A = labels.shape
    K = n_classes
    if n == 0:
        raise RecordingError("No labelled items to fuse")
    # Start from the (soft) majority vote.
    post = np.full((n, K), 1e-9)
    for a in range(A):
        seen = labels[:, a] >= 0
        post[np.flatnonzero(seen), labels[seen, a]] += 1.0
    post /= post.sum(axis=1, keepdims=True)
    it = 0
    for it in range(1, max_iter + 1):
        prior = (post.sum(axis=0) + smoothing) / (n + K * smoothing)
        conf = np.full((A, K, K), smoothing) + diag_prior * np.eye(K)
        for a in range(A):
            seen = labels[:, a] >= 0
            np.add.at(conf[a].T, labels[seen, a], post[seen])
        conf /= conf.sum(axis=2, keepdims=True)
        new = ds_e_step(labels, prior, conf)
        delta = np.abs(new - post).max()
        post = new
        if delta < tol:
            break
    reliability = np.einsum("k,akk->a", prior, conf)
    return DawidSkene(post, conf, prior, reliability, it)


def krippendorff_alpha(ratings: np.ndarray, level: str) -> float:
    """Krippendorff's alpha of an (items, raters) matrix, NaN = not rated; level "nominal" for
    class labels, "interval" for ratings. NaN when undefined (one value in all, or too few
    pairable ratings)."""
    import krippendorff

    x = np.asarray(ratings, dtype=float)
    if x.size == 0 or np.isfinite(x).sum() < 2:
        return float("nan")
    try:
        return float(krippendorff.alpha(reliability_data=x.T, level_of_measurement=level))
    except ValueError:  # a single value in the domain
        return float("nan")


def finite_json(obj):
    """NaN is not JSON: write null."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def read_annotators(reader: SessionReader) -> dict[str, dict[int, dict]]:
    out = {}
    for p in sorted((reader.path / L.ANNOTATIONS_DIR).glob("annotator_*.csv")):
        name = p.stem[len("annotator_"):]
        out[name] = {r["segment"]: r for r in reader.table(f"{L.ANNOTATIONS_DIR}/{p.name}", ints=("segment",))
                     if r["fer7"]}
    return out


def fuse_session(session: str | Path) -> dict:
    """Fuse the model's and every annotator's FER labels into labels.csv; write reliability.json.

    Segments where the model agrees with the ER label keep the model's label (the paper stores
    them directly); disputed ones are decided by Dawid-Skene over model + annotators. Returns the
    reliability report."""
    reader = SessionReader(session)
    autos = read_auto(session)
    segs = reader.labels()
    if len(segs) != len(autos) or any(s.start_ns != a.start_ns for s, a in zip(segs, autos)):
        raise RecordingError(f"labels.csv of {reader.path} changed since auto-annotation: run `annotate auto` again")
    experts = read_annotators(reader)
    names = [MODEL, *experts]
    n, K = len(autos), len(EMOTIONS_7)
    lab = np.full((n, len(names)), -1)
    ratings = {k: np.full((n, len(names)), np.nan) for k in ("valence", "arousal", "intensity")}
    for j, a in enumerate(autos):
        if a.fer7:
            lab[j, 0] = EMOTIONS_7.index(a.fer7)
            ratings["valence"][j, 0], ratings["arousal"][j, 0], ratings["intensity"][j, 0] = a.valence, a.arousal, a.intensity
        for i, name in enumerate(names[1:], start=1):
            r = experts[name].get(a.segment)
            if r:
                lab[j, i] = EMOTIONS_7.index(r["fer7"])
                for k, col in (("valence", "fer_valence"), ("arousal", "fer_arousal"), ("intensity", "fer_intensity")):
                    ratings[k][j, i] = _nan(r[col])
    n_labels = (lab >= 0).sum(axis=1)
    if not n_labels.any():
        raise RecordingError(f"Session {reader.path}: no segment has a FER label (no faces recorded?)")
    # Annotator weights come from segments with two or more labels: a segment only the model
    # labelled says nothing about anyone's reliability (it would only confirm the model).
    multi = n_labels >= 2
    fused7 = np.where(n_labels == 1, lab.max(axis=1), -1)
    if multi.any():
        ds = dawid_skene(lab[multi], K)
        fused7[multi] = ds.labels
        reliability, iterations = ds.reliability, ds.iterations
    else:
        reliability, iterations = np.ones(len(names)), 0
    weights = np.clip(reliability, 1e-6, None)
    fused = {}
    for k, m in ratings.items():
        w = np.where(np.isfinite(m), weights[None, :], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            fused[k] = np.nansum(np.nan_to_num(m) * w, axis=1) / w.sum(axis=1)
    disputed = np.array([bool(a.fer7 and a.er7 and a.fer7 != a.er7) for a in autos])
    out_rows = []
    for j, (seg, a) in enumerate(zip(segs, autos)):
        if not disputed[j] and a.fer7:  # consistent with ER: the model's label stands
            f7, va, ar, inten, how = a.fer7, a.valence, a.arousal, a.intensity, "model"
        elif fused7[j] >= 0:
            f7, how = EMOTIONS_7[fused7[j]], "ala" if n_labels[j] >= 2 else "model_unreviewed"
            va, ar, inten = fused["valence"][j], fused["arousal"][j], fused["intensity"][j]
        else:
            f7, va, ar, inten, how = None, np.nan, np.nan, np.nan, ""
        seg.fer7, seg.fer3 = f7, SEVEN_TO_THREE[f7] if f7 else None
        seg.fer_va, seg.fer_intensity = np.array([va, ar]), float(inten)
        seg.source = "+".join(x for x in (seg.source.split("+")[0], f"fer:{how}" if how else "") if x)
        out_rows.append(seg.as_row())
    report = {
        "annotators": names,
        "segments": n,
        "disputed": int(disputed.sum()),
        "reviewed": {name: len(v) for name, v in experts.items()},
        "dawid_skene": {"reliability": dict(zip(names, np.round(reliability, 4).tolist())),
                        "iterations": iterations, "segments_used": int(multi.sum())},
        "krippendorff_alpha": {
            "emotion7": krippendorff_alpha(np.where(lab >= 0, lab, np.nan), "nominal"),
            **{k: krippendorff_alpha(m, "interval") for k, m in ratings.items()},
        },
        "note": "Krippendorff's alpha over the raters (model + annotators), missing ratings allowed; "
                "null when undefined",
    }
    fs = FileLayer()
    fs.replace_atomic(reader.path / L.LABELS_CSV, _csv_bytes(L.LABELS_COLUMNS, out_rows))
    fs.replace_atomic(annotations_dir(reader.path) / RELIABILITY_JSON,
                      (json.dumps(finite_json(report), indent=2) + "\n").encode())
    return report
