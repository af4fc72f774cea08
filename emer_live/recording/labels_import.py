"""Labels from a lab's own table into a recorded session's labels.csv.

Most labs collect self-assessments in their experiment software (PsychoPy, E-Prime, a
questionnaire), not in the app. This reads a CSV/TSV with one row per segment, checks it against
the session and writes the session's labels with where they came from.

Columns (names matched case-insensitively; `columns` maps a role to another name):

    start, end     the segment (or start + duration); see `time` below
    valence        self-assessed valence on `scale` (default the 9-point SAM, 1-9)
    arousal        self-assessed arousal on `scale`
    emotion        the self-assessed discrete emotion (the 7 names, common synonyms accepted)
    fer            optional: an annotated facial-expression label (7 names)
    annotator      optional: who gave the FER label
    stimulus       optional: kept in the provenance
    participant    optional: must equal the session's pseudonym when present

Times (`time`):
    session   seconds into the recording: its first frame or gaze sample is 0 (as in its video)
    wall      wall-clock times: ISO 8601 with a zone (2026-03-01T10:15:02.5+01:00), or Unix seconds
    marker    names of markers or stimuli in the session's markers.csv (a stimulus name in the start
              column means its onset, in the end column its offset)
    log       seconds on the experiment software's own clock (PsychoPy's `ROUTINE.started` and
              `ROUTINE.stopped`), tied to the session by `sync`: a marker of the session and the
              log time at which it was sent
    auto      numbers -> session (log when `sync` is given), ISO times -> wall, otherwise marker

Checks: every segment lies inside the recording (its first to last frame or gaze sample), ends
after it starts, ratings within the scale, known emotion names, the participant. A bad row stops
the import with the file, line, column and problem. Overlapping segments are kept and reported.
Rows with no label at all (e.g. PsychoPy's instruction routines) are skipped and reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from emer_live.errors import RecordingError
from emer_live.labels import SEVEN_TO_THREE, canonical_emotion
from emer_live.recording import layout as L
from emer_live.recording.filelayer import FileLayer
from emer_live.recording.untrusted import read_bytes
from emer_live.recording.layout import LabelledSegment
from emer_live.recording.session_reader import SessionReader, is_float

IMPORTS_JSON = "labels_import.json"  # in the session folder: one entry per import
TIME_KINDS = ("auto", "session", "wall", "marker", "log")
ROLES = ("start", "end", "duration", "valence", "arousal", "emotion", "fer", "annotator", "stimulus", "participant")
_ALIASES = {
    "start": ("start", "onset", "start_s", "start_time", "begin"),
    "end": ("end", "offset", "end_s", "end_time", "stop"),
    "duration": ("duration", "duration_s"),
    "valence": ("valence", "sam_valence", "valence_rating"),
    "arousal": ("arousal", "sam_arousal", "arousal_rating"),
    "emotion": ("emotion", "emotion7", "er7", "self_emotion"),
    "fer": ("fer", "fer7", "expression"),
    "annotator": ("annotator", "rater"),
    "stimulus": ("stimulus", "stim", "condition", "trial"),
    "participant": ("participant", "subject", "pseudonym"),
}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass
class ImportOptions:
    time: str = "auto"
    scale: tuple = (1.0, 9.0)  # the ratings' scale, mapped linearly onto [-1, 1]
    columns: dict = field(default_factory=dict)  # role -> column name in the file
    sync: Optional[tuple] = None  # (marker label, log seconds) for time="log"
    duration_s: Optional[float] = None  # segment length when the file has no end/duration column
    psychopy_routine: Optional[str] = None  # ROUTINE: start/end = ROUTINE.started/ROUTINE.stopped, time log

    def __post_init__(self):
        if self.time not in TIME_KINDS:
            raise RecordingError(f"time must be one of {', '.join(TIME_KINDS)}, got {self.time!r}")
        lo, hi = map(float, self.scale)
        if not lo < hi:
            raise RecordingError(f"rating scale {self.scale} must go from low to high")
        self.scale = (lo, hi)
        bad = sorted(set(self.columns) - set(ROLES))
        if bad:
            raise RecordingError(f"unknown column role(s) {bad}; roles are {', '.join(ROLES)}")
        if self.psychopy_routine:
            r = self.psychopy_routine
            self.columns = {"start": f"{r}.started", "end": f"{r}.stopped", **self.columns}
            if self.time == "auto":
                self.time = "log"


@dataclass
class ImportResult:
    segments: list  # LabelledSegment, in file order
    lines: list  # the file line of each segment
    skipped: list  # "line N: why"
    overlaps: list  # "line A (a-b s) overlaps line B (c-d s) by x s"
    provenance: dict


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise RecordingError(f"label file {path} cannot be read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise RecordingError(f"label file {path} is not UTF-8 text (save it as CSV UTF-8)") from None
    if not text.strip():
        raise RecordingError(f"label file {path} is empty")
    first = text.splitlines()[0]
    delim = "\t" if path.suffix.lower() in (".tsv", ".tab") or first.count("\t") > first.count(",") else (
        ";" if first.count(";") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    rows = []
    try:
        header = [h.strip() for h in next(reader)]
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                raise RecordingError(f"{path}, line {line}: {len(cells)} cells but the header has {len(header)}")
            rows.append((line, {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}))
    except csv.Error as e:
        raise RecordingError(f"{path}, line {reader.line_num}: not a table row ({e})") from None
    return header, rows


# Times further than this from the session's clock origin cannot be nanoseconds in 64 bits.
_MAX_SECONDS = 9.2e9


def _ns(seconds: float, cell: str, where: str) -> int:
    """Seconds (already a float) as whole nanoseconds; RecordingError for NaN, infinity or a time
    beyond what 64-bit nanoseconds hold (a start of 1e308)."""
    if not abs(seconds) < _MAX_SECONDS:  # NaN fails too
        raise RecordingError(f"{where}: {cell!r} is not a usable time in seconds (NaN, infinite or beyond "
                             f"{_MAX_SECONDS:g} s)")
    return int(round(seconds * 1e9))


def _resolve_columns(header: list[str], opts: ImportOptions, path: Path) -> dict:
    lower = {h.lower(): h for h in header}
    cols = {}
    for role in ROLES:
        if role in opts.columns:
            name = opts.columns[role]
            if name not in header and name.lower() not in lower:
                raise RecordingError(f"{path} has no column {name!r} (given for {role}); it has {header}")
            cols[role] = name if name in header else lower[name.lower()]
            continue
        for alias in _ALIASES[role]:
            if alias in lower:
                cols[role] = lower[alias]
                break
    if "start" not in cols:
        raise RecordingError(f"{path} has no start column (one of {_ALIASES['start']}, or map one); it has {header}")
    if "end" not in cols and "duration" not in cols and opts.duration_s is None:
        raise RecordingError(f"{path} has neither an end nor a duration column; give one or a fixed duration")
    if not any(r in cols for r in ("valence", "arousal", "emotion", "fer")):
        raise RecordingError(f"{path} has no label column (valence, arousal, emotion or fer); it has {header}")
    return cols


class _Clock:
    """Turns a time cell into a host_ns of the session, for one time kind."""

    def __init__(self, reader: SessionReader, opts: ImportOptions, sample: list[str], path: Path):
        self.reader, self.path = reader, path
        self.start_ns = reader.time_range_ns()[0]  # session time 0: the first frame or gaze sample
        kind = opts.time
        if kind == "auto":
            if all(is_float(s) for s in sample):
                kind = "log" if opts.sync else "session"
            elif all(_ISO.match(s) for s in sample):
                kind = "wall"
            else:
                kind = "marker"
        self.kind, self.note = kind, ""
        if kind == "wall":
            if "started_unix_ns" in reader.meta:
                self.unix0 = int(reader.meta["started_unix_ns"])
                self.note = "wall clock tied to the session by session.json started_unix_ns"
            else:  # older sessions: created_utc has whole seconds
                t = dt.datetime.fromisoformat(reader.meta["created_utc"])
                self.unix0 = int(t.timestamp() * 1e9)
                self.note = "wall clock tied to the session by session.json created_utc (to within 1 s)"
        if kind == "marker":
            self.markers = reader.markers()
            if not self.markers:
                raise RecordingError(f"{path}: times are marker names but session {reader.path} has no markers")
        if kind == "log":
            if not opts.sync:
                raise RecordingError(f"{path}: times on the experiment's own clock need a sync marker "
                                     "(MARKER=SECONDS: the session marker and the log time it was sent at)")
            label, log_s = opts.sync
            hits = [m["host_ns"] for m in reader.markers() if m["label"] == label]
            if len(hits) != 1:
                raise RecordingError(f"sync marker {label!r} occurs {len(hits)} times in session {reader.path} "
                                     "(markers.csv); it must occur exactly once")
            self.log_origin_ns = hits[0] - _ns(float(log_s), str(log_s), "--sync")
            self.note = f"log clock tied to the session by marker {label!r} at {float(log_s)} s"

    def host_ns(self, cell: str, end: bool, where: str) -> int:
        if self.kind in ("session", "log"):
            if not is_float(cell):
                raise RecordingError(f"{where}: {cell!r} is not a number of seconds")
            base = self.start_ns if self.kind == "session" else self.log_origin_ns
            return base + _ns(float(cell), cell, where)
        if self.kind == "wall":
            if is_float(cell):
                unix_ns = _ns(float(cell), cell, where)
            else:
                try:
                    t = dt.datetime.fromisoformat(cell.replace("Z", "+00:00"))
                except ValueError:
                    raise RecordingError(f"{where}: {cell!r} is not an ISO 8601 time") from None
                if t.tzinfo is None:
                    raise RecordingError(f"{where}: wall-clock time {cell!r} has no time zone (write e.g. "
                                         "2026-03-01T10:15:02+01:00 or ...Z for UTC)")
                unix_ns = _ns(t.timestamp(), cell, where)
            return int(self.reader.meta["started_host_ns"]) + (unix_ns - self.unix0)
        # marker: a stimulus name means its onset at a start, its offset at an end
        want = L.STIMULUS_OFFSET if end else L.STIMULUS_ONSET
        hits = [m for m in self.markers if m["label"] == cell and m["kind"] in (want, L.MARKER)]
        if not hits:
            names = sorted({m["label"] for m in self.markers})
            raise RecordingError(f"{where}: no marker or stimulus {cell!r} in the session; it has {names[:12]}")
        if len(hits) > 1:
            raise RecordingError(f"{where}: marker {cell!r} occurs {len(hits)} times in the session; names must be unique")
        return int(hits[0]["host_ns"])


def _rating(cell: str, scale: tuple, where: str) -> float:
    if cell == "":
        return float("nan")
    try:
        x = float(cell)
    except ValueError:
        raise RecordingError(f"{where}: {cell!r} is not a number") from None
    lo, hi = scale
    if not lo <= x <= hi:
        raise RecordingError(f"{where}: {x:g} is outside the rating scale {lo:g}-{hi:g}")
    return 2.0 * (x - lo) / (hi - lo) - 1.0


def _emotion(cell: str, where: str) -> Optional[str]:
    if cell == "":
        return None
    name = canonical_emotion(cell)
    if name is None:
        raise RecordingError(f"{where}: unknown emotion {cell!r}; expected one of happiness, sadness, fear, "
                             "surprise, disgust, anger, neutral (or a common synonym)")
    return name


def read_labels(session: str | Path, file: str | Path, opts: ImportOptions | None = None) -> ImportResult:
    """Read and check a label table against a session; writes nothing."""
    opts = opts or ImportOptions()
    path, reader = Path(file), SessionReader(session)
    header, rows = _read_table(path)
    cols = _resolve_columns(header, opts, path)
    sample = [r[cols["start"]] for _, r in rows if r[cols["start"]]][:20]
    clock = _Clock(reader, opts, sample, path)
    t0, t1 = reader.time_range_ns()
    if t1 <= t0:
        raise RecordingError(f"session {reader.path} holds no frames or gaze samples to label")
    pseudonym = str(reader.meta.get("participant") or "")

    def rel(ns):
        return (ns - clock.start_ns) / 1e9

    segments, lines, skipped = [], [], []
    for line, r in rows:
        where = f"{path}, line {line}"

        def cell(role):
            return r.get(cols[role], "") if role in cols else ""

        if not cell("start"):
            skipped.append(f"line {line}: no start time")
            continue
        v, a = (_rating(cell(k), opts.scale, f"{where}, column {cols.get(k)}") for k in ("valence", "arousal"))
        emo = _emotion(cell("emotion"), f"{where}, column {cols.get('emotion')}")
        fer = _emotion(cell("fer"), f"{where}, column {cols.get('fer')}")
        if emo is None and fer is None and not (np.isfinite(v) or np.isfinite(a)):
            skipped.append(f"line {line}: no label")
            continue
        if cell("participant") and pseudonym and cell("participant") != pseudonym:
            raise RecordingError(f"{where}: participant {cell('participant')!r} is not this session's ({pseudonym!r})")
        start = clock.host_ns(cell("start"), False, f"{where}, column {cols['start']}")
        if cell("end"):
            end = clock.host_ns(cell("end"), True, f"{where}, column {cols['end']}")
        else:
            dur = cell("duration") or (str(opts.duration_s) if opts.duration_s is not None else "")
            if not is_float(dur):
                raise RecordingError(f"{where}: no end time and no duration")
            end = start + _ns(float(dur), dur, f"{where}, duration")
        if end <= start:
            raise RecordingError(f"{where}: the segment ends ({rel(end):.3f} s) before it starts ({rel(start):.3f} s)")
        if start < t0 or end > t1:
            raise RecordingError(f"{where}: segment {rel(start):.3f}-{rel(end):.3f} s (session time) lies outside the "
                                 f"recording, which runs {rel(t0):.3f}-{rel(t1):.3f} s; check the time column kind "
                                 f"({clock.kind}) and the sync")
        source = f"import:{path.name}:{line}"
        if fer:
            source += "+fer:import" + (f":{cell('annotator')}" if cell("annotator") else "")
        segments.append(LabelledSegment(start_ns=start, end_ns=end, er7=emo, er3=SEVEN_TO_THREE[emo] if emo else None,
                                        er_va=np.array([v, a]), fer7=fer, fer3=SEVEN_TO_THREE[fer] if fer else None,
                                        source=source))
        lines.append(line)
    if not segments:
        raise RecordingError(f"{path}: no labelled segment in it ({'; '.join(skipped[:3])})")
    order = np.argsort([s.start_ns for s in segments], kind="stable")
    overlaps = []
    for i, j in zip(order[:-1], order[1:]):
        a, b = segments[i], segments[j]
        if b.start_ns < a.end_ns:
            overlaps.append(f"line {lines[i]} ({rel(a.start_ns):.2f}-{rel(a.end_ns):.2f} s) overlaps line {lines[j]} "
                            f"({rel(b.start_ns):.2f}-{rel(b.end_ns):.2f} s) by {(a.end_ns - b.start_ns) / 1e9:.2f} s")
    prov = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "imported_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "time": clock.kind, "time_note": clock.note, "columns": cols, "scale": list(opts.scale),
            "rows": len(rows), "segments": len(segments), "skipped": skipped, "overlaps": overlaps,
            "stimuli": [r.get(cols["stimulus"], "") for ln, r in rows if ln in set(lines)] if "stimulus" in cols else []}
    return ImportResult(segments, lines, skipped, overlaps, prov)


def import_labels(session: str | Path, file: str | Path, opts: ImportOptions | None = None,
                  mode: str = "refuse") -> ImportResult:
    """Check `file` against `session` and write its segments to labels.csv. mode: "refuse" when the
    session already has labels, "replace" them, or "append" to them. Each import is recorded in
    labels_import.json (file, checksum, options, what was skipped and overlapped)."""
    if mode not in ("refuse", "replace", "append"):
        raise RecordingError(f"mode must be refuse, replace or append, got {mode!r}")
    res = read_labels(session, file, opts)
    reader = SessionReader(session)
    old = reader.labels()
    if old and mode == "refuse":
        raise RecordingError(f"session {reader.path} already has {len(old)} labelled segments in {L.LABELS_CSV}; "
                             "choose --replace or --append")
    keep = old if mode == "append" else []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(L.LABELS_COLUMNS)
    w.writerows(s.as_row() for s in keep + res.segments)
    log_path = reader.path / IMPORTS_JSON
    try:
        history = json.loads(read_bytes(log_path).decode("utf-8"))
    except FileNotFoundError:
        history = []
    except (OSError, ValueError, RecursionError) as e:
        raise RecordingError(f"{log_path} is damaged ({e}); move it aside to import") from None
    if not isinstance(history, list):
        raise RecordingError(f"{log_path} is a JSON {type(history).__name__}, not a list of imports; move it aside")
    history.append({**res.provenance, "mode": mode, "replaced": len(old) if mode == "replace" else 0,
                    "session_closed": bool(reader.meta.get("closed"))})
    fs = FileLayer()
    try:  # a read-only session fails at the first temporary file, before labels.csv changes
        fs.replace_atomic(reader.path / L.LABELS_CSV, buf.getvalue().encode())
        fs.replace_atomic(log_path, json.dumps(history, indent=1).encode())
    except OSError as e:
        raise RecordingError(f"cannot write the labels into session {reader.path}: {e.strerror or e}") from None
    return res
