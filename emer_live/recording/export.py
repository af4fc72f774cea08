"""Export a session as one table per stream (CSV or Parquet, host timestamps in every table) and,
optionally, its video as an ordinary AVI with the faces blurred for sharing.

Each file is written under a temporary name (.NAME.partial.EXT) and renamed when complete, so an
export cut short never leaves a file that reads as whole but is not; export.json in the folder
lists the files that are complete and says whether the export finished.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from emer_live.errors import RecordingError
from emer_live.recording import layout as L
from emer_live.recording.session_reader import SessionReader

FORMATS = ("csv", "parquet")
MANIFEST = "export.json"


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """write(tmp) writes the whole file at a temporary name; it becomes `path` only when done."""
    tmp = _partial(path)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class _Manifest:
    """export.json: which files of this folder are complete, and whether the export finished."""

    def __init__(self, out: Path, session: Path, fmt: str):
        self.path = out / MANIFEST
        self.data = {"session": str(session), "format": fmt, "started_utc": _utc(), "finished": False,
                     "complete": [], "note": "only the files listed in 'complete' are whole; any other file "
                                             "in this folder is from an earlier or interrupted export"}
        self._save()

    def done(self, path: Path) -> None:
        self.data["complete"].append(path.name)
        self._save()

    def finish(self, **extra) -> None:
        self.data.update(finished=True, finished_utc=_utc(), **extra)
        self._save()

    def _save(self) -> None:
        text = json.dumps(self.data, indent=2) + "\n"
        write_atomic(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "_"))
        else:
            out[key] = v
    return out


def _json_frame(rows: list[dict]):
    """A table of flattened JSON objects. A column whose values mix kinds (a number here, text
    there, as a hand-edited or foreign file may have) is kept as text, so Parquet can store it."""
    import pandas as pd

    df = pd.DataFrame(rows)
    for c in df.columns:
        kinds = {type(v) for v in df[c] if v is not None and not (isinstance(v, float) and np.isnan(v))}
        if len(kinds - {int, float}) and len(kinds) > 1 or kinds & {list, dict}:
            df[c] = [None if v is None else json.dumps(v) if isinstance(v, (list, dict)) else str(v) for v in df[c]]
    return df


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df):
    """A copy where no text cell can run as a formula when the CSV is opened in a spreadsheet
    (OWASP CSV injection): text starting with = + - @ tab or CR gets a leading apostrophe.
    Numbers are untouched; only what a person or a foreign file put in a text column changes."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = [("'" + v) if isinstance(v, str) and v.startswith(_FORMULA_START) else v for v in out[c]]
    return out


def session_tables(reader: SessionReader) -> dict:
    """Every stream of the session as a pandas DataFrame, keyed by table name."""
    import pandas as pd

    f = reader.frames()
    frames = pd.DataFrame({
        "frame_index": f["frame_index"], "host_ns": f["host_ns"], "media_ms": f["media_ms"],
        "face_status": f["face_status"], "n_faces": f["n_faces"],
        **{k: f["box"][:, i] for i, k in enumerate(("box_x0", "box_y0", "box_x1", "box_y1"))},
        "face_crop": f["face_crop"],
        "video_frame": np.arange(len(f["host_ns"])),  # row in the exported video.avi
    })
    g = reader.gaze_table()
    gaze = pd.DataFrame({"host_ns": g["host_ns"], "device_us": g["device_us"], "system_us": g["system_us"],
                         **{c: g["raw"][:, i] for i, c in enumerate(L.GAZE_COLUMNS[3:])}})
    recorded = {L.PREDICTIONS_JSONL: reader.predictions()}  # only windows with a valid end time
    jsonl = {name: [_flatten({**r, "data": json.dumps(r["data"])} if "data" in r else r)
                    for r in recorded.get(src) or reader.jsonl(src)]
             for name, src in (("predictions", L.PREDICTIONS_JSONL), ("events", L.EVENTS_JSONL),
                               ("calibration", L.CALIBRATION_JSONL), ("clock", L.CLOCK_JSONL))}
    ff = reader.frame_fer()  # the face network's per-frame FER (NaN where no face crop)
    frame_fer = pd.DataFrame({"frame_index": ff["frame_index"], "host_ns": ff["host_ns"], "face_status": ff["face_status"],
                              "n_faces": ff["n_faces"],
                              **{c: ff["probs7"][:, i] for i, c in enumerate(L.FRAME_FER_COLUMNS[4:])}})
    tables = {"frames": frames, "frame_fer": frame_fer, "gaze": gaze}
    # An empty stream still gets its time column, so every exported file has a header.
    tables.update({k: _json_frame(v) if v else pd.DataFrame(columns=["window_end_ns" if k == "predictions" else "host_ns"])
                   for k, v in jsonl.items()})
    for name, src, ints in (("markers", L.MARKERS_CSV, ("host_ns",)),
                            ("self_assessment", L.SELF_ASSESSMENT_CSV, ("host_ns", "onset_ns", "offset_ns", "valence", "arousal")),
                            ("labels", L.LABELS_CSV, ("start_ns", "end_ns"))):
        cols = L.CSV_HEADERS[src]
        df = pd.DataFrame(reader.table(src, ints=ints), columns=list(cols))
        for c in cols:
            if c in ints:
                df[c] = df[c].astype("int64")
            elif c.endswith(("valence", "arousal", "intensity")):
                df[c] = pd.to_numeric(df[c], errors="coerce")
        tables[name] = df
    return tables


def export_session(session: str | Path, out_dir: str | Path, fmt: str = "csv", video: bool = False,
                   blur_faces: bool = False) -> dict:
    """Write OUT_DIR/<table>.<csv|parquet> for every stream, session.json, and with video or
    blur_faces OUT_DIR/video.avi. Returns {"tables": {name: path}, "video": path|None, ...}."""
    if fmt not in FORMATS:
        raise RecordingError(f"Export format {fmt!r} is unknown; choose one of {FORMATS}")
    reader = SessionReader(session)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        manifest = _Manifest(out, reader.path, fmt)
        written = {}
        for name, df in session_tables(reader).items():
            path = out / f"{name}.{fmt}"
            if fmt == "csv":
                safe = spreadsheet_safe(df)
                write_atomic(path, lambda tmp: safe.to_csv(tmp, index=False))
            else:
                write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False))
            manifest.done(path)
            written[name] = str(path)
        meta_text = json.dumps(reader.meta, indent=2) + "\n"  # the checked metadata, never a file a link points to
        write_atomic(out / L.SESSION_JSON, lambda tmp: tmp.write_text(meta_text, encoding="utf-8"))
        manifest.done(out / L.SESSION_JSON)
        result = {"tables": written, "video": None}
        if video or blur_faces:
            path = out / "video.avi"
            write_atomic(path, lambda tmp: result.update(export_video(reader, tmp, blur_faces=blur_faces)))
            result["video"] = str(path)
            manifest.done(path)
        if result.get("unreadable_frames"):
            n = result["unreadable_frames"]
            reader.problems.append(f"video: {n} of {len(reader.frames()['host_ns'])} recorded frames could not be "
                                   "decoded (damaged JPEG data); video.avi has a black frame in their place")
        result["recorded_end"] = reader.how_it_ended()
        result["warnings"] = reader.ending_warnings() + reader.warnings()
        result["skipped_rows"] = dict(reader.skipped)
        manifest.finish(skipped_rows=result["skipped_rows"])
        result["manifest"] = str(manifest.path)
    except OSError as e:
        raise RecordingError(f"Cannot write the export to {out}: {e.strerror or e}") from None
    finally:
        reader.close()
    return result


def _blur(img: np.ndarray, box, margin: float = 0.25) -> None:
    """Blur a face box, grown by a margin (hair, chin, ears), in place; strong enough that the
    face cannot be recognised (kernel about a third of the face size)."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    x0, y0 = max(0, int(x0 - mx)), max(0, int(y0 - my))
    x1, y1 = min(w, int(np.ceil(x1 + mx))), min(h, int(np.ceil(y1 + my)))
    if x1 <= x0 or y1 <= y0:
        return
    k = max(3, (max(x1 - x0, y1 - y0) // 3) | 1)
    img[y0:y1, x0:x1] = cv2.GaussianBlur(img[y0:y1, x0:x1], (k, k), 0)


def export_video(reader: SessionReader, path: Path, blur_faces: bool = False) -> dict:
    """The session video as MJPEG-in-AVI at its mean frame rate. With blur_faces, each frame's
    recorded face box is blurred; frames without one fall back to OpenCV's face detector, and
    a frame where neither finds a face is blurred whole (when in doubt, hide)."""
    t = reader.frames()
    n = len(t["host_ns"])
    if n == 0:
        raise RecordingError(f"Session {reader.path} holds no video frames to export")
    fps = (n - 1) / ((t["host_ns"][-1] - t["host_ns"][0]) / 1e9) if n > 1 and t["host_ns"][-1] > t["host_ns"][0] else 30.0
    detector = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml")) if blur_faces else None
    writer, last = None, None
    counts = {"frames": 0, "recorded_box": 0, "detected": 0, "whole_frame": 0, "unreadable": 0}
    try:
        for row in range(n):
            img = reader.frame_image(row)
            if img is None:  # a JPEG torn by a crash: a black frame keeps video_frame numbering
                counts["unreadable"] += 1
                if writer is not None:
                    writer.write(np.zeros_like(last))
                continue
            last = img
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), (img.shape[1], img.shape[0]))
                if not writer.isOpened():
                    raise RecordingError(f"Cannot write video {path}")
            if blur_faces:
                box = t["box"][row]
                if not np.isnan(box).any():
                    _blur(img, box)
                    counts["recorded_box"] += 1
                else:
                    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
                    found = detector.detectMultiScale(gray, 1.1, 4, minSize=(24, 24))
                    for x, y, w, h in found:
                        _blur(img, (x, y, x + w, y + h))
                    if len(found):
                        counts["detected"] += 1
                    else:
                        img[:] = cv2.GaussianBlur(img, (0, 0), sigmaX=max(img.shape[:2]) / 20)
                        counts["whole_frame"] += 1
            writer.write(img)
            counts["frames"] += 1
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise RecordingError(f"Session {reader.path}: all {n} recorded video frames could not be decoded "
                             "(damaged JPEG data): no video to export")
    return {"video": str(path), "video_fps": round(float(fps), 3), "blur": counts if blur_faces else None,
            "unreadable_frames": counts["unreadable"]}
