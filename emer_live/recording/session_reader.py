"""Read a session folder (see docs/session-format.md). numpy, csv, json and cv2 only: the
training environment imports this too.

Tolerant by design: a session cut off by a crash or power cut has a torn last line in its tables,
a torn last JPEG or PNG, rows whose bytes never reached the disk. All of those are skipped, so
every session that has a session.json opens.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from emer_live.errors import RecordingError
from emer_live.recording import layout as L
from emer_live.recording.layout import LabelledSegment

_EMPTY_CELL = re.compile(r"(?<=,)(?=,|$)|^(?=,)", re.M)


def _complete_text(path: Path) -> str:
    """The file's text up to its last newline (a torn last line is dropped); '' if absent."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    end = data.rfind(b"\n")
    return data[: end + 1].decode("utf-8", errors="replace") if end >= 0 else ""


class SessionReader:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / L.SESSION_JSON
        if not meta_path.is_file():
            raise RecordingError(f"{self.path} is not a recorded session (no {L.SESSION_JSON} in it)")
        try:
            self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise RecordingError(f"Session metadata {meta_path} is unreadable: {e}") from None
        if self.meta.get("schema") != L.SESSION_SCHEMA:
            raise RecordingError(f"{meta_path} has schema {self.meta.get('schema')!r}; this app reads {L.SESSION_SCHEMA!r}")
        self._frames: Optional[dict] = None
        self._video_files: dict[str, object] = {}

    def close(self) -> None:
        for f in self._video_files.values():
            f.close()
        self._video_files.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- generic tables ---------------------------------------------------------------------
    def table(self, name: str) -> list[dict]:
        """Rows of a CSV table as dicts of strings; rows with the wrong number of cells are skipped."""
        text = _complete_text(self.path / name)
        if not text:
            return []
        rows = csv.reader(io.StringIO(text))
        header = next(rows, None)
        return [dict(zip(header, r)) for r in rows if header and len(r) == len(header)]

    def jsonl(self, name: str) -> list[dict]:
        out = []
        for line in _complete_text(self.path / name).splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line torn by a power cut
        return out

    # --- streams ----------------------------------------------------------------------------
    def gaze_table(self) -> dict:
        """host_ns int64 (N,), device_us / system_us float64 (N,) NaN where absent, raw (N,30)."""
        text = _complete_text(self.path / L.GAZE_CSV)
        lines = text.split("\n")[1:-1] if text else []
        n_cells = len(L.GAZE_COLUMNS)
        lines = [ln for ln in lines if ln.count(",") == n_cells - 1]
        if not lines:
            return {"host_ns": np.zeros(0, np.int64), "device_us": np.zeros(0), "system_us": np.zeros(0),
                    "raw": np.zeros((0, 30))}
        host = np.array([ln[: ln.index(",")] for ln in lines], dtype=np.int64)
        body = _EMPTY_CELL.sub("nan", "\n".join(lines)).replace("\n", ",")
        vals = np.array(body.split(","), dtype=np.float64)
        if vals.size != len(lines) * n_cells:
            raise RecordingError(f"{self.path / L.GAZE_CSV} has malformed cells")
        vals = vals.reshape(len(lines), n_cells)
        return {"host_ns": host, "device_us": vals[:, 1], "system_us": vals[:, 2], "raw": vals[:, 3:]}

    def gaze(self) -> tuple[np.ndarray, np.ndarray]:
        g = self.gaze_table()
        return g["host_ns"], g["raw"]

    def frames(self) -> dict:
        """The frame table as numpy columns, only frames whose JPEG bytes are on disk:
        frame_index, host_ns (int64), media_ms (float, NaN), video_file, byte_offset, byte_length,
        face_status (str), n_faces (float, NaN), box (N,4) float px (NaN where no face)."""
        if self._frames is None:
            rows = self.table(L.FRAMES_CSV)
            sizes: dict[str, int] = {}

            def on_disk(r) -> bool:
                name = r["video_file"]
                if name not in sizes:
                    p = self.path / name
                    sizes[name] = p.stat().st_size if p.exists() else 0
                return int(r["byte_offset"]) + int(r["byte_length"]) <= sizes[name]

            rows = [r for r in rows if on_disk(r)]

            def f(r, k):
                return float(r[k]) if r[k] != "" else np.nan

            self._frames = {
                "frame_index": np.array([int(r["frame_index"]) for r in rows], np.int64),
                "host_ns": np.array([int(r["host_ns"]) for r in rows], np.int64),
                "media_ms": np.array([f(r, "media_ms") for r in rows]),
                "video_file": [r["video_file"] for r in rows],
                "byte_offset": np.array([int(r["byte_offset"]) for r in rows], np.int64),
                "byte_length": np.array([int(r["byte_length"]) for r in rows], np.int64),
                "face_status": [r["face_status"] for r in rows],
                "n_faces": np.array([f(r, "n_faces") for r in rows]),
                "box": np.array([[f(r, k) for k in ("box_x0", "box_y0", "box_x1", "box_y1")] for r in rows]).reshape(-1, 4),
            }
        return self._frames

    def frame_image(self, row: int) -> Optional[np.ndarray]:
        """The BGR image of the frame table's row `row`; None if its JPEG is torn."""
        t = self.frames()
        name = t["video_file"][row]
        f = self._video_files.get(name)
        if f is None:
            f = self._video_files[name] = open(self.path / name, "rb")
        f.seek(int(t["byte_offset"][row]))
        data = f.read(int(t["byte_length"][row]))
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def frame_fer(self) -> dict:
        """frame_fer.csv as numpy columns: frame_index, host_ns (int64), face_status (str),
        n_faces (int), probs7 (N,7) over labels.EMOTIONS_7, NaN where the frame had no face crop.
        Empty columns for a session recorded before per-frame FER existed."""
        rows = self.table(L.FRAME_FER_CSV)
        pcols = L.FRAME_FER_COLUMNS[4:]
        return {"frame_index": np.array([int(r["frame_index"]) for r in rows], np.int64),
                "host_ns": np.array([int(r["host_ns"]) for r in rows], np.int64),
                "face_status": np.array([r["face_status"] for r in rows], dtype=object),
                "n_faces": np.array([int(r["n_faces"] or 0) for r in rows], np.int64),
                "probs7": np.array([[float(r[c]) if r[c] else np.nan for c in pcols] for r in rows],
                                   np.float64).reshape(len(rows), 7)}

    def predictions(self) -> list[dict]:
        return self.jsonl(L.PREDICTIONS_JSONL)

    def events(self) -> list[dict]:
        return self.jsonl(L.EVENTS_JSONL)

    def clock_mappings(self) -> list[dict]:
        return self.jsonl(L.CLOCK_JSONL)

    def calibration(self) -> list[dict]:
        return self.jsonl(L.CALIBRATION_JSONL)

    def markers(self) -> list[dict]:
        return [{**r, "host_ns": int(r["host_ns"])} for r in self.table(L.MARKERS_CSV)]

    def self_assessment(self) -> list[dict]:
        return [{**r, "host_ns": int(r["host_ns"]), "onset_ns": int(r["onset_ns"]), "offset_ns": int(r["offset_ns"]),
                 "valence": int(r["valence"]), "arousal": int(r["arousal"])} for r in self.table(L.SELF_ASSESSMENT_CSV)]

    def labels(self) -> list[LabelledSegment]:
        return [LabelledSegment.from_row(r) for r in self.table(L.LABELS_CSV)]

    # --- face crops -------------------------------------------------------------------------
    def face_crop(self, frame_index: int) -> Optional[np.ndarray]:
        """The (112,112,3) RGB crop the model saw for this frame, or None (no face, or lost)."""
        p = self.path / L.FACE_CROPS_DIR / L.crop_file_name(frame_index)
        if not p.exists():
            return None
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        return None if img is None else np.ascontiguousarray(img[..., ::-1])

    def face_crops_between(self, start_ns: int, end_ns: int) -> list[tuple[int, np.ndarray]]:
        t = self.frames()
        sel = np.flatnonzero((t["host_ns"] >= start_ns) & (t["host_ns"] < end_ns))
        out = []
        for i in sel:
            crop = self.face_crop(int(t["frame_index"][i]))
            if crop is not None:
                out.append((int(t["host_ns"][i]), crop))
        return out

    def model_card_path(self) -> Optional[Path]:
        p = self.path / L.MODEL_CARD_COPY
        return p if p.exists() else None

    def time_range_ns(self) -> tuple[int, int]:
        """First and last host time of any frame or gaze sample."""
        ts = [a for a in (self.frames()["host_ns"], self.gaze()[0]) if len(a)]
        if not ts:
            start = int(self.meta["started_host_ns"])
            return start, start
        return int(min(a[0] for a in ts)), int(max(a[-1] for a in ts))
