"""The one check of a session's session.json before any command uses it: every field a command
reads has the type and range it needs, or the session is refused with a message naming the file,
the field and what is wrong (never a traceback further on, never NaN or Infinity passed on)."""

from __future__ import annotations

import math
from pathlib import Path

from emer_live.errors import RecordingError
from emer_live.features.face_box import FER_BOX_CHOICES
from emer_live.recording import layout as L
from emer_live.recording.untrusted import INT64_MAX

_OBJECTS = ("pipeline", "model", "devices", "markers", "video", "face_crops", "frame_fer", "consent",
            "writer", "recording_error")
_STRINGS = ("session_id", "participant", "notes", "created_utc", "ended_utc", "stop_reason", "ended_by")
# pipeline fields: (check, what it must be)
_POSITIVE = "a positive finite number"
_NONNEGATIVE = "a finite number >= 0"


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -INT64_MAX <= v <= INT64_MAX


def check_meta(m, path: Path) -> None:
    """RecordingError naming `path` and the field when session.json cannot be used as it is."""
    def bad(field: str, what: str, value) -> RecordingError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return RecordingError(f"{path}: {field} is {shown}, not {what}")

    if not isinstance(m, dict):
        raise RecordingError(f"Session metadata {path} is a JSON {type(m).__name__}, not an object: "
                             "not a session this app wrote")
    if m.get("schema") != L.SESSION_SCHEMA:
        raise RecordingError(f"{path} has schema {m.get('schema')!r}; this app reads {L.SESSION_SCHEMA!r}")
    start = m.get("started_host_ns")
    if not _whole(start):
        raise RecordingError(f"{path}: started_host_ns is {start!r}, not a whole number of nanoseconds; "
                             "the session's clock cannot be placed")
    for key in _OBJECTS:
        if m.get(key) is not None and not isinstance(m[key], dict):
            raise RecordingError(f"{path}: {key!r} is a JSON {type(m[key]).__name__}, not an object")
    for key in _STRINGS:
        if m.get(key) is not None and not isinstance(m[key], str):
            raise bad(key, "text", m[key])
    for key in ("started_unix_ns", "ended_host_ns"):
        if m.get(key) is not None and not _whole(m[key]):
            raise bad(key, "a whole number of nanoseconds", m[key])
    if "closed" in m and not isinstance(m["closed"], bool):
        raise bad("closed", "true or false", m["closed"])
    pipe = m.get("pipeline") or {}
    if pipe.get("update_hz") is not None and not (_number(pipe["update_hz"]) and pipe["update_hz"] > 0):
        raise bad("pipeline.update_hz", _POSITIVE, pipe["update_hz"])
    if pipe.get("fer_smoothing_s") is not None and not (_number(pipe["fer_smoothing_s"]) and pipe["fer_smoothing_s"] >= 0):
        raise bad("pipeline.fer_smoothing_s", _NONNEGATIVE, pipe["fer_smoothing_s"])
    if "use_eye" in pipe and not isinstance(pipe["use_eye"], bool):
        raise bad("pipeline.use_eye", "true or false", pipe["use_eye"])
    if pipe.get("fer_box") is not None and pipe["fer_box"] not in FER_BOX_CHOICES:
        raise bad("pipeline.fer_box", " or ".join(map(repr, FER_BOX_CHOICES)), pipe["fer_box"])
    geometry = pipe.get("eye_geometry")
    if geometry is not None:
        if not isinstance(geometry, dict):
            raise bad("pipeline.eye_geometry", "an object", geometry)
        for key in ("screen_width_mm", "screen_height_mm", "viewing_distance_mm"):
            if key in geometry and not (_number(geometry[key]) and geometry[key] > 0):
                raise bad(f"pipeline.eye_geometry.{key}", _POSITIVE + " of mm", geometry[key])
    model = m.get("model") or {}
    for key in ("name", "card_file", "card_sha256", "source_path"):
        if model.get(key) is not None and not isinstance(model[key], str):
            raise bad(f"model.{key}", "text", model[key])
    ff = m.get("frame_fer") or {}
    if ff.get("source") is not None and not isinstance(ff["source"], str):
        raise bad("frame_fer.source", "text", ff["source"])
