"""Labels from a lab's own table into a recorded session's labels.csv.

Most labs collect self-assessments in their experiment software (PsychoPy, E-Prime, a
questionnaire), not in the app. This reads a CSV/TSV with one row per segment, checks it against
the session and writes the session's labels with where they came from.

Columns (names matched case-insensitively; `columns` maps a role to another name):

    start, end     the segment (or start + duration); see `time` below
    valence        self-assessed valence on `scale` (default the 9-point SAM, 1-9)
    arousal        self-assessed arousal on `scale`
    emotion        the self-assessed discrete emotion (the 7 names, common synonyms accepted), or a
                   response key read through `key_map` (PsychoPy's `key_resp.keys`: 2, ['2'])
    fer            optional: an annotated facial-expression label (7 names)
    annotator      optional: who gave the FER label
    stimulus       optional: kept in the provenance
    participant    optional: a lab's master sheet is filtered to the session's pseudonym
                   (case-insensitive); the other participants' rows are skipped and counted

Numbers and seconds may use a decimal comma (German or French spreadsheets, `;`-separated), and
seconds may be written h:mm:ss (see label_times).

Times (`time`):
    session   seconds into the recording: its first frame or gaze sample is 0 (as in its video)
    wall      wall-clock times: ISO 8601 with a zone (2026-03-01T10:15:02.5+01:00, ...Z), or Unix
              seconds. A session recorded live is tied by its started_unix_ns; one recorded from
              files as fast as possible carries the files' own times, so it needs `wall_start`
              (the wall-clock time of its session time 0, or "session": its own wall-clock start)
    marker    names of markers or stimuli in the session's markers.csv (a stimulus name in the start
              column means its onset, in the end column its offset)
    log       seconds on the experiment software's own clock (PsychoPy's `ROUTINE.started` and
              `ROUTINE.stopped`), tied to the session by `sync`: a marker of the session and the
              log time at which it was sent
    auto      numbers -> session (log when `sync` is given; Unix seconds -> wall), ISO times -> wall,
              otherwise marker

Checks: every segment lies inside the recording (its first to last frame or gaze sample), ends
after it starts, ratings within the scale, known emotion names. Every bad cell of the file is
reported at once with the file, line, column and problem, and nothing is imported. Overlapping
segments are kept and reported. Rows with no label at all (e.g. PsychoPy's instruction routines)
are skipped and reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from emer_live.errors import RecordingError
from emer_live.labels import SEVEN_TO_THREE, canonical_emotion
from emer_live.recording import label_times as T
from emer_live.recording import layout as L
from emer_live.recording.filelayer import FileLayer
from emer_live.recording.untrusted import read_bytes
from emer_live.recording.layout import LabelledSegment
from emer_live.recording.session_reader import SessionReader

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


@dataclass
class ImportOptions:
    time: str = "auto"
    scale: tuple = (1.0, 9.0)  # the ratings' scale, mapped linearly onto [-1, 1]
    columns: dict = field(default_factory=dict)  # role -> column name in the file
    sync: Optional[tuple] = None  # (marker label, log seconds) for time="log"
    duration_s: Optional[float] = None  # segment length when the file has no end/duration column
    psychopy_routine: Optional[str] = None  # ROUTINE: start/end = ROUTINE.started/ROUTINE.stopped, time log
    key_map: dict = field(default_factory=dict)  # response key -> emotion name (PsychoPy's key_resp.keys)
    wall_start: Optional[str] = None  # wall-clock time of session time 0, or "session"; for file sessions

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
        bad_keys = {k: v for k, v in self.key_map.items() if canonical_emotion(v) is None}
        if bad_keys:
            raise RecordingError(f"key map {bad_keys} names no emotion; use happiness, sadness, fear, surprise, "
                                 "disgust, anger, neutral")
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


def _is_cp1252(path: Path) -> bool:
    try:
        path.read_bytes().decode("cp1252")
        return True
    except (UnicodeDecodeError, OSError):
        return False


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise RecordingError(f"label file {path} cannot be read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        # Excel's plain "CSV" in Western European locales is Windows-1252, not UTF-8
        text = path.read_bytes().decode("cp1252", errors="strict") if _is_cp1252(path) else None
        if text is None:
            raise RecordingError(f"label file {path} is neither UTF-8 nor Windows-1252 text (save it as CSV UTF-8)") from None
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
    """_cell_ns for a value that is refused at once, with where it came from."""
    try:
        return _cell_ns(seconds, cell)
    except _CellError as e:
        raise RecordingError(f"{where}: {e}") from None


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
    if "emotion" not in cols and opts.key_map and "key_resp.keys" in lower:
        cols["emotion"] = lower["key_resp.keys"]  # PsychoPy's default keyboard component
    if "start" not in cols:
        raise RecordingError(f"{path} has no start column (one of {_ALIASES['start']}, or map one); it has {header}")
    if "end" not in cols and "duration" not in cols and opts.duration_s is None:
        raise RecordingError(f"{path} has neither an end nor a duration column; give one or a fixed duration")
    if not any(r in cols for r in ("valence", "arousal", "emotion", "fer")):
        raise RecordingError(f"{path} has no label column (valence, arousal, emotion or fer); it has {header}")
    return cols


def _timeline(reader: SessionReader) -> str:
    """"host" when the session's samples carry the recording machine's clock (devices, or files
    played in real time), "media" when they carry the files' own time (a run as fast as possible:
    the first frame or sample is at 0 or a chosen origin, not at started_host_ns)."""
    devices = reader.meta.get("devices") or {}
    if any(isinstance(d, dict) and d.get("realtime") is False for d in devices.values()):
        return "media"
    t0 = reader.time_range_ns()[0]
    # Samples more than a minute before the session was created cannot be on its clock.
    return "media" if t0 < int(reader.meta["started_host_ns"]) - 60 * 1_000_000_000 else "host"


class _Clock:
    """Turns a time cell into a host_ns of the session, for one time kind."""

    def __init__(self, reader: SessionReader, opts: ImportOptions, sample: list[str], path: Path):
        self.reader, self.path = reader, path
        self.start_ns = reader.time_range_ns()[0]  # session time 0: the first frame or gaze sample
        kind = opts.time
        if kind == "auto":
            if sample and all(T.seconds(s) is not None for s in sample):
                unix = all((T.number(s) or 0) >= _UNIX_MIN_S for s in sample)  # no recording lasts 26 years
                kind = "log" if opts.sync else "wall" if unix else "session"
            elif sample and all(T.ISO_START.match(s) for s in sample):
                kind = "wall"
            else:
                kind = "marker"
        self.kind, self.note = kind, ""
        if kind == "wall":
            self._tie_wall_clock(reader, opts)
        if kind == "marker":
            self.markers = reader.markers()
            if not self.markers:
                looks = ", ".join(repr(s) for s in sample[:3])
                raise RecordingError(
                    f"{path}: the start cells ({looks}) are neither seconds (2.5, 2,5 or h:mm:ss), ISO 8601 times "
                    f"nor marker names, and session {reader.path} has no markers; say what they are with --time")
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

    def _tie_wall_clock(self, reader: SessionReader, opts: ImportOptions) -> None:
        """host_ns = wall_origin_host_ns + (unix_ns - wall_origin_unix_ns)."""
        if opts.wall_start is not None and opts.wall_start != "session":
            unix = _wall_ns(opts.wall_start)
            if isinstance(unix, str):
                raise RecordingError(f"wall start {opts.wall_start!r}: {unix}")
            self.unix0, self.host0 = unix, self.start_ns
            self.note = f"wall clock tied to the session by the given start {opts.wall_start} at session time 0"
            return
        if "started_unix_ns" in reader.meta:
            unix0 = int(reader.meta["started_unix_ns"])
            what = "session.json started_unix_ns"
        else:  # older sessions: created_utc has whole seconds
            unix0 = int(dt.datetime.fromisoformat(reader.meta["created_utc"]).timestamp() * 1e9)
            what = "session.json created_utc (to within 1 s)"
        if _timeline(reader) == "host":
            self.unix0, self.host0 = unix0, int(reader.meta["started_host_ns"])
            self.note = f"wall clock tied to the session by {what}"
        elif opts.wall_start == "session":
            self.unix0, self.host0 = unix0, self.start_ns
            self.note = f"recorded from files: session time 0 taken as the session's wall-clock start ({what})"
        else:
            raise RecordingError(
                f"session {reader.path} was recorded from files run as fast as possible: its times are the files' "
                "own (its first frame or sample is session time 0), not the wall clock, so wall-clock label times "
                "cannot be placed by themselves. Give the wall-clock time of session time 0 (--wall-start "
                "2026-03-01T10:15:00+01:00), or --wall-start session to take the session's own wall-clock start, "
                "or write the times as session seconds")

    def host_ns(self, cell: str, end: bool) -> int:
        """The host time of a cell; raises _CellError with what is wrong with it."""
        if self.kind in ("session", "log"):
            x = T.seconds(cell)
            if x is None:
                raise _CellError(f"{cell!r} is not seconds (2.5, 2,5 or h:mm:ss)")
            base = self.start_ns if self.kind == "session" else self.log_origin_ns
            return base + _cell_ns(x, cell)
        if self.kind == "wall":
            unix = _wall_ns(cell)
            if isinstance(unix, str):
                raise _CellError(unix)
            return self.host0 + (unix - self.unix0)
        # marker: a stimulus name means its onset at a start, its offset at an end
        want = L.STIMULUS_OFFSET if end else L.STIMULUS_ONSET
        hits = [m for m in self.markers if m["label"] == cell and m["kind"] in (want, L.MARKER)]
        if not hits:
            names = sorted({m["label"] for m in self.markers})
            raise _CellError(f"no marker or stimulus {cell!r} in the session; it has {names[:12]}")
        if len(hits) > 1:
            raise _CellError(f"marker {cell!r} occurs {len(hits)} times in the session; names must be unique")
        return int(hits[0]["host_ns"])


_UNIX_MIN_S = 946_684_800  # 2000-01-01: smaller numbers are not Unix times of a recording


def _wall_ns(cell: str):
    """Unix ns of an ISO 8601 time with a zone or of Unix seconds, else the reason (a str)."""
    x = T.number(cell)
    if x is not None:
        if x < _UNIX_MIN_S:
            return f"{cell!r} is not a Unix time (seconds since 1970; this is before 2000)"
        if not x < _MAX_SECONDS:
            return f"{cell!r} is not a usable Unix time (beyond {_MAX_SECONDS:g} s)"
        return int(round(x * 1e9))
    t = T.iso_time(cell)
    if t is None:
        return f"{cell!r} is not an ISO 8601 time (e.g. 2026-03-01T10:15:02.5+01:00) nor Unix seconds"
    if not t.has_zone:
        return (f"wall-clock time {cell!r} has no time zone (write e.g. 2026-03-01T10:15:02+01:00 or ...Z "
                "for UTC)")
    return t.unix_ns


class _CellError(ValueError):
    """One cell's problem; the caller adds the file, line and column."""


def _cell_ns(seconds: float, cell: str) -> int:
    """_ns for a cell whose problems are collected (_CellError) rather than raised at once."""
    if not abs(seconds) < _MAX_SECONDS:  # NaN fails too
        raise _CellError(f"{cell!r} is not a usable time in seconds (NaN, infinite or beyond {_MAX_SECONDS:g} s)")
    return int(round(seconds * 1e9))


def _rating(cell: str, scale: tuple) -> float:
    if cell == "":
        return float("nan")
    x = T.number(cell)
    if x is None:
        raise _CellError(f"{cell!r} is not a number")
    lo, hi = scale
    if not lo <= x <= hi:
        raise _CellError(f"{x:g} is outside the rating scale {lo:g}-{hi:g}")
    return 2.0 * (x - lo) / (hi - lo) - 1.0


def _response(cell: str) -> str:
    """A response as PsychoPy writes it: `2`, `['2']` (keys of a keyboard component that stores
    all keys) or `None` (no key); the last key counts."""
    c = cell.strip()
    if c.startswith("[") and c.endswith("]"):
        keys = [k.strip().strip("'\"") for k in c[1:-1].split(",") if k.strip()]
        c = keys[-1] if keys else ""
    return "" if c in ("None", "nan", "NaN") else c


def _emotion(cell: str, key_map: dict) -> Optional[str]:
    cell = _response(cell)
    if cell == "":
        return None
    mapped = key_map.get(cell, key_map.get(cell.lower(), cell))
    name = canonical_emotion(mapped)
    if name is None:
        keys = f"; the key map has {sorted(key_map)}" if key_map else ""
        raise _CellError(f"unknown emotion {cell!r}; expected one of happiness, sadness, fear, surprise, disgust, "
                         f"anger, neutral (or a common synonym), or a key of --key-map{keys}")
    return name


MAX_ERRORS_SHOWN = 50


def read_labels(session: str | Path, file: str | Path, opts: ImportOptions | None = None) -> ImportResult:
    """Read and check a label table against a session; writes nothing. Every problem of the file
    is reported at once (one line each), not only the first."""
    opts = opts or ImportOptions()
    path, reader = Path(file), SessionReader(session)
    header, rows = _read_table(path)
    cols = _resolve_columns(header, opts, path)
    pseudonym = str(reader.meta.get("participant") or "")
    rows, foreign = _own_rows(rows, cols, pseudonym)
    if foreign and not rows:
        raise RecordingError(f"{path}: no row belongs to participant {pseudonym!r} (this session's); it has "
                             f"{sorted(foreign)[:12]}")
    sample = [r[cols["start"]] for _, r in rows if r[cols["start"]]][:20]
    clock = _Clock(reader, opts, sample, path)
    t0, t1 = reader.time_range_ns()
    if t1 <= t0:
        raise RecordingError(f"session {reader.path} holds no frames or gaze samples to label")

    def rel(ns):
        return (ns - clock.start_ns) / 1e9

    segments, lines, skipped, errors = [], [], [], []
    if foreign:
        skipped.append(f"{sum(foreign.values())} rows of other participants ({', '.join(sorted(foreign))})")
    for line, r in rows:
        where = f"{path}, line {line}"
        problems = []

        def cell(role):
            return r.get(cols[role], "") if role in cols else ""

        def parse(role, fn, *a):
            try:
                return fn(cell(role), *a)
            except _CellError as e:
                problems.append(f"{where}, column {cols[role]}: {e}")
                return None

        if not cell("start"):
            skipped.append(f"line {line}: no start time")
            continue
        v, a = (parse(k, _rating, opts.scale) if k in cols else float("nan") for k in ("valence", "arousal"))
        emo = parse("emotion", _emotion, opts.key_map) if "emotion" in cols else None
        fer = parse("fer", _emotion, {}) if "fer" in cols else None
        if not problems and emo is None and fer is None and not (np.isfinite(v) or np.isfinite(a)):
            skipped.append(f"line {line}: no label")
            continue
        start = parse("start", clock.host_ns, False)
        end = None
        if cell("end"):
            end = parse("end", clock.host_ns, True)
        else:
            dur = T.seconds(cell("duration")) if cell("duration") else opts.duration_s
            if dur is None:
                problems.append(f"{where}: no end time and no duration"
                                + (f" ({cell('duration')!r} is not seconds)" if cell("duration") else ""))
            elif start is not None:
                try:
                    end = start + _cell_ns(dur, cell("duration") or str(dur))
                except _CellError as e:
                    problems.append(f"{where}, duration: {e}")
        if start is not None and end is not None:
            if end <= start:
                problems.append(f"{where}: the segment ends ({rel(end):.3f} s) before it starts ({rel(start):.3f} s)")
            elif start < t0 or end > t1:
                problems.append(f"{where}: segment {rel(start):.3f}-{rel(end):.3f} s (session time) lies outside "
                                f"the recording, which runs {rel(t0):.3f}-{rel(t1):.3f} s; check the time column "
                                f"kind ({clock.kind}) and the sync")
        if problems:
            errors.extend(problems)
            continue
        source = f"import:{path.name}:{line}"
        if fer:
            source += "+fer:import" + (f":{cell('annotator')}" if cell("annotator") else "")
        segments.append(LabelledSegment(start_ns=start, end_ns=end, er7=emo, er3=SEVEN_TO_THREE[emo] if emo else None,
                                        er_va=np.array([v, a]), fer7=fer, fer3=SEVEN_TO_THREE[fer] if fer else None,
                                        source=source))
        lines.append(line)
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        shown = errors[:MAX_ERRORS_SHOWN] + ([f"... and {more} more"] if more > 0 else [])
        raise RecordingError(f"{path}: {len(errors)} problem{'s' if len(errors) > 1 else ''}, nothing imported:\n"
                             + "\n".join(shown))
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
            "key_map": dict(opts.key_map), "rows": len(rows), "segments": len(segments), "skipped": skipped,
            "overlaps": overlaps,
            "stimuli": [r.get(cols["stimulus"], "") for ln, r in rows if ln in set(lines)] if "stimulus" in cols else []}
    return ImportResult(segments, lines, skipped, overlaps, prov)


def _own_rows(rows: list, cols: dict, pseudonym: str) -> tuple[list, dict]:
    """The rows of this session's participant (case-insensitive; rows without a participant
    count as its own) and how many rows each other participant has (a lab's master sheet)."""
    if "participant" not in cols or not pseudonym:
        return rows, {}
    own, foreign = [], {}
    for line, r in rows:
        who = r.get(cols["participant"], "").strip()
        if who and who.casefold() != pseudonym.casefold():
            foreign[who] = foreign.get(who, 0) + 1
        else:
            own.append((line, r))
    return own, foreign


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


MARKER_TIME_COLUMNS = ("time", "onset", "seconds", "start", "t")
MARKER_LABEL_COLUMNS = ("label", "marker", "name", "event", "trigger")


def place_markers(session: str | Path, file: str | Path, time: str = "auto",
                  wall_start: Optional[str] = None) -> list[dict]:
    """Add markers to a recorded session from a table of times and labels: how a headless
    recording gets the markers that experiment software sent (its log of triggers), so that
    `--sync MARKER=SECONDS` has something to sync to. Times are session seconds (h:mm:ss, decimal
    comma) or wall-clock times (`time`: auto, session or wall). Every bad row is reported at once;
    each marker must lie inside the recording. Returns the added markers (host_ns, label)."""
    if time not in ("auto", "session", "wall"):
        raise RecordingError(f"marker times must be auto, session or wall, got {time!r}")
    path, reader = Path(file), SessionReader(session)
    header, rows = _read_table(path)
    lower = {h.lower(): h for h in header}
    tcol = next((lower[c] for c in MARKER_TIME_COLUMNS if c in lower), None)
    lcol = next((lower[c] for c in MARKER_LABEL_COLUMNS if c in lower), None)
    if tcol is None or lcol is None:
        raise RecordingError(f"{path} needs a time column ({', '.join(MARKER_TIME_COLUMNS)}) and a label column "
                             f"({', '.join(MARKER_LABEL_COLUMNS)}); it has {header}")
    sample = [r[tcol] for _, r in rows if r[tcol]][:20]
    kind = time if time != "auto" else ("wall" if sample and all(T.ISO_START.match(x) for x in sample) else "session")
    clock = _Clock(reader, ImportOptions(time=kind, wall_start=wall_start), sample, path)
    t0, t1 = reader.time_range_ns()
    added, errors = [], []
    for line, r in rows:
        where = f"{path}, line {line}"
        if not r[lcol]:
            errors.append(f"{where}, column {lcol}: no label")
            continue
        try:
            ns = clock.host_ns(r[tcol], False)
        except _CellError as e:
            errors.append(f"{where}, column {tcol}: {e}")
            continue
        if not t0 <= ns <= t1:
            errors.append(f"{where}: {(ns - t0) / 1e9:.3f} s (session time) lies outside the recording, which runs "
                          f"0.000-{(t1 - t0) / 1e9:.3f} s")
            continue
        added.append({"host_ns": ns, "kind": L.MARKER, "label": r[lcol], "stimulus": ""})
    if errors:
        raise RecordingError(f"{path}: {len(errors)} problem{'s' if len(errors) > 1 else ''}, no marker added:\n"
                             + "\n".join(errors[:MAX_ERRORS_SHOWN]))
    if not added:
        raise RecordingError(f"{path}: no marker in it")
    # Appended after the recorded rows, which stay byte for byte as they were.
    target = reader.path / L.MARKERS_CSV
    text = target.read_text(encoding="utf-8") if target.is_file() else ""
    buf = io.StringIO()
    buf.write(text if text.endswith("\n") or not text else text + "\n")
    w = csv.writer(buf, lineterminator="\n")
    if not text:
        w.writerow(L.MARKERS_COLUMNS)
    w.writerows([m[c] for c in L.MARKERS_COLUMNS] for m in added)
    fs = FileLayer()
    fs.replace_atomic(reader.path / L.MARKERS_CSV, buf.getvalue().encode())
    log_path = reader.path / IMPORTS_JSON
    history = json.loads(log_path.read_text()) if log_path.is_file() else []
    history.append({"markers_file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "imported_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "time": clock.kind, "time_note": clock.note, "markers": len(added)})
    fs.replace_atomic(log_path, json.dumps(history, indent=1).encode())
    return added
