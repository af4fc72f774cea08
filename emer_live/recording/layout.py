"""The session folder's file names and table columns, shared by the writer, the reader and the
exporter so the three cannot drift apart. docs/session-format.md describes every entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from emer_live.labels import EMOTIONS_7
from emer_live.types import RAW_GAZE_COLUMNS

SESSION_SCHEMA = "emer-session/1"

SESSION_JSON = "session.json"
MODEL_CARD_COPY = "model_card.json"
FRAMES_CSV = "frames.csv"
FRAME_FER_CSV = "frame_fer.csv"
VIDEO_DIR = "video"
GAZE_CSV = "gaze.csv"
PREDICTIONS_JSONL = "predictions.jsonl"
EVENTS_JSONL = "events.jsonl"
CLOCK_JSONL = "clock.jsonl"
CALIBRATION_JSONL = "calibration.jsonl"
MARKERS_CSV = "markers.csv"
SELF_ASSESSMENT_CSV = "self_assessment.csv"
LABELS_CSV = "labels.csv"
FACE_CROPS_DIR = "face_crops"
ANNOTATIONS_DIR = "annotations"
SPACE_RESERVE = ".space_reserve"  # freed on a full disk so session.json can still say why recording stopped

FRAMES_COLUMNS = ("frame_index", "host_ns", "media_ms", "video_file", "byte_offset", "byte_length",
                  "face_status", "n_faces", "box_x0", "box_y0", "box_x1", "box_y1", "face_crop")
FRAME_FER_COLUMNS = ("frame_index", "host_ns", "face_status", "n_faces", *(f"p_{e}" for e in EMOTIONS_7))
GAZE_COLUMNS = ("host_ns", "device_us", "system_us", *RAW_GAZE_COLUMNS)
MARKERS_COLUMNS = ("host_ns", "kind", "label", "stimulus")
SELF_ASSESSMENT_COLUMNS = ("host_ns", "stimulus", "onset_ns", "offset_ns", "valence", "arousal", "emotion7")
LABELS_COLUMNS = ("start_ns", "end_ns", "er7", "er3", "er_valence", "er_arousal",
                  "fer7", "fer3", "fer_valence", "fer_arousal", "fer_intensity", "source")

# Every table the writer appends to (text, one record per line), for trimming torn tails.
# A new per-frame or per-window table: add its name here (and its header to CSV_HEADERS for a
# CSV), then submit rows with SessionWriter.submit("csv", NAME, row) or ("jsonl", NAME, obj):
# it is then written in step with the other streams, synced, trimmed and read like them.
STREAMED_TABLES = (FRAMES_CSV, FRAME_FER_CSV, GAZE_CSV, PREDICTIONS_JSONL, EVENTS_JSONL, CLOCK_JSONL, CALIBRATION_JSONL,
                   MARKERS_CSV, SELF_ASSESSMENT_CSV, LABELS_CSV)

CSV_HEADERS = {
    FRAMES_CSV: FRAMES_COLUMNS,
    FRAME_FER_CSV: FRAME_FER_COLUMNS,
    GAZE_CSV: GAZE_COLUMNS,
    MARKERS_CSV: MARKERS_COLUMNS,
    SELF_ASSESSMENT_CSV: SELF_ASSESSMENT_COLUMNS,
    LABELS_CSV: LABELS_COLUMNS,
}

# Marker kinds in markers.csv.
MARKER = "marker"
STIMULUS_ONSET = "stimulus_onset"
STIMULUS_OFFSET = "stimulus_offset"


def crop_file_name(frame_index: int) -> str:
    return f"{int(frame_index):08d}.png"


def video_file_name(part: int) -> str:
    return f"video_{int(part):06d}.mjpeg"


@dataclass
class LabelledSegment:
    """One labelled stretch of a session (labels.csv row): ER from the participant's
    self-assessment, FER from annotation. None / NaN where unknown."""

    start_ns: int
    end_ns: int
    er7: Optional[str] = None
    er3: Optional[str] = None
    er_va: np.ndarray = field(default_factory=lambda: np.full(2, np.nan))  # valence, arousal in [-1, 1]
    fer7: Optional[str] = None
    fer3: Optional[str] = None
    fer_va: np.ndarray = field(default_factory=lambda: np.full(2, np.nan))
    fer_intensity: float = float("nan")  # [0, 3]
    source: str = ""

    def as_row(self) -> list:
        def num(x):
            return "" if x is None or not np.isfinite(x) else repr(float(x))

        return [int(self.start_ns), int(self.end_ns), self.er7 or "", self.er3 or "",
                num(self.er_va[0]), num(self.er_va[1]), self.fer7 or "", self.fer3 or "",
                num(self.fer_va[0]), num(self.fer_va[1]), num(self.fer_intensity), self.source]

    @classmethod
    def from_row(cls, row: dict) -> "LabelledSegment":
        def num(key):
            v = row.get(key, "")
            return float(v) if v not in ("", None) else float("nan")

        return cls(
            start_ns=int(row["start_ns"]), end_ns=int(row["end_ns"]),
            er7=row.get("er7") or None, er3=row.get("er3") or None,
            er_va=np.array([num("er_valence"), num("er_arousal")]),
            fer7=row.get("fer7") or None, fer3=row.get("fer3") or None,
            fer_va=np.array([num("fer_valence"), num("fer_arousal")]),
            fer_intensity=num("fer_intensity"), source=row.get("source", ""),
        )
