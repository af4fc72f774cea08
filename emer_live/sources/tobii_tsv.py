"""The one reader of recorded Tobii gaze data, for the runtime (--gaze tsv:PATH) and training.

Reads Tobii Pro Lab and Tobii Studio data exports and SDK sample logs (see tobii_layouts for the
columns of each), or any table through a column mapping. Encoding and delimiter are sniffed
(text_table). A file may hold several recordings or participants: each becomes its own
TsvRecording, never joined to another; a selector picks some ("PATH#participant=07",
"PATH#recording=Rec 3", both joined with "&").

Per recording: rows that are not gaze (other sensors, events) are skipped; timestamps go through
the shared rules of timestamps.TimestampGuard (a duplicate or a spike loses one sample, a clock
step starts a new segment); values become the 30 raw SDK gaze values: display gaze normalised
(pixels divided by the recording resolution), pupil in mm, validity flags 1/0 (what the file
lacks stays NaN with flag 0); impossible values are marked invalid (gaze_checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from emer_live.clock import now_ns
from emer_live.errors import SourceError
from emer_live.sources.base import GazeSource, sleep_until
from emer_live.sources.gaze_checks import sanitize_gaze
from emer_live.sources.text_table import DELIMITER_NAMES, Columns, read_columns, sniff_head
from emer_live.sources.timestamps import KEPT, NEW_SEGMENT, TimestampGuard, judge_series, spread_repeats
from emer_live.sources.tobii_layouts import EYES, LAYOUTS, Plan, detect, is_known_header, load_mapping
from emer_live.sources.trial_joins import seam, seams_summary
from emer_live.types import GAZE_COL, GazeSample, SourceEvent

GAZE_FILE_SUFFIXES = (".tsv", ".csv", ".txt")
TIME_TO_US = {"μs": 1.0, "ms": 1000.0, "s": 1e6}
SELECTOR_KEYS = ("participant", "recording")
BLOCK = 65_536  # rows checked at a time: the checks' temporaries stay small
_EYE_OFFSET = {"left": 0, "right": 15}
# Plan fields read as numbers; the rest (sensor, names, validity words, labels) are text.
_NUMERIC = ("time", "left_x", "left_y", "right_x", "right_y", "left_pupil", "right_pupil", "res_w", "res_h")


@dataclass
class TsvRecording:
    """One recording of one participant, read and checked."""

    path: Path
    layout: str
    t_us: np.ndarray  # (N,) int64 device time; increasing within each segment
    raw: np.ndarray  # (N, 30) float32: an hour at 600 Hz is 260 MB so; files hold no more digits
    nominal_hz: float
    dropped: int  # samples estimated missing from timestamp gaps
    gaps: int
    invalid_rows: list  # line numbers (1-based, as in a text editor) of samples rejected for their timestamps
    bad_values: int  # samples whose implausible values were marked invalid
    participant: Optional[str] = None
    recording: Optional[str] = None
    segment_starts: list = field(default_factory=lambda: [0])  # index of each segment's first sample
    problems: list = field(default_factory=list)  # (kind, line, count, message), one per episode
    movement: Optional[np.ndarray] = None  # the tool's own eye movement label per sample (str), if exported
    tool: str = ""

    @property
    def name(self) -> str:
        parts = [f"participant {self.participant}" if self.participant else "",
                 f"recording {self.recording}" if self.recording else ""]
        return ", ".join(p for p in parts if p) or self.path.name

    @property
    def duration_s(self) -> float:
        ends = [*self.segment_starts[1:], len(self.t_us)]
        return float(sum(self.t_us[e - 1] - self.t_us[s] for s, e in zip(self.segment_starts, ends)) / 1e6)

    def timeline_us(self) -> np.ndarray:
        """A strictly increasing time axis: segments after a clock step continue one sample period
        after the previous one ends (the real time across a step is unknown)."""
        t = self.t_us.astype(np.int64).copy()
        period = int(round(1e6 / self.nominal_hz))
        for k, s in enumerate(self.segment_starts[1:], start=1):
            shift = t[s - 1] + period - self.t_us[s]
            end = self.segment_starts[k + 1] if k + 1 < len(self.segment_starts) else len(t)
            t[s:end] = self.t_us[s:end] + shift
        return t

    def summary(self) -> dict:
        valid = (self.raw[:, GAZE_COL["left_gaze_point_validity"]] == 1) | \
                (self.raw[:, GAZE_COL["right_gaze_point_validity"]] == 1)
        return {"participant": self.participant, "recording": self.recording, "samples": int(len(self.t_us)),
                "duration_s": round(self.duration_s, 3), "rate_hz": round(self.nominal_hz, 2),
                "valid_fraction": round(float(valid.mean()), 3) if len(valid) else 0.0,
                "segments": len(self.segment_starts), "rejected_timestamps": len(self.invalid_rows),
                "dropped": self.dropped, "bad_values": self.bad_values,
                "tool_labels": ({str(k): int(v) for k, v in zip(*np.unique(self.movement.astype(str), return_counts=True))}
                                if self.movement is not None else None)}


@dataclass
class GazeFile:
    path: Path
    layout: str
    tool: str
    encoding: str
    delimiter: str
    recordings: list  # TsvRecording, in the order they first appear in the file
    skipped_rows: int  # rows that are not gaze samples (other sensors, events)
    unusable: list = field(default_factory=list)  # why recordings of the file were left out


# ----------------------------------------------------------------------------- selectors


def split_selector(spec: str) -> tuple[str, dict]:
    """"file.tsv#participant=07&recording=Rec 3" -> ("file.tsv", {"participant": "07", ...})."""
    path, sep, sel = str(spec).rpartition("#")
    if not sep or not re.fullmatch(r"\s*\w+\s*=[^&]*(&\s*\w+\s*=[^&]*)*", sel):
        return str(spec), {}
    out = {}
    for part in sel.split("&"):
        k, _, v = part.partition("=")
        k = k.strip().lower()
        if k not in SELECTOR_KEYS:
            raise SourceError(f"gaze file selector {part!r}: use {' or '.join(k + '=NAME' for k in SELECTOR_KEYS)}")
        out[k] = v.strip()
    return path, out


def select(gf: GazeFile, selector: dict) -> list:
    if not selector:
        return gf.recordings
    chosen = [r for r in gf.recordings if all((getattr(r, k) or "") == v for k, v in selector.items())]
    if not chosen:
        have = "; ".join(r.name for r in gf.recordings)
        want = "&".join(f"{k}={v}" for k, v in selector.items())
        raise SourceError(f"{gf.path}: no recording matches #{want}; the file holds: {have}")
    return chosen


# ----------------------------------------------------------------------------- reading


def _plan_for(header: list[str], columns, path) -> Plan:
    if columns is None:
        return detect(header, path)
    if isinstance(columns, Plan):
        return columns
    if isinstance(columns, str) and columns in LAYOUTS:
        plan = Plan.from_layout(LAYOUTS[columns], header)
        lacks = [LAYOUTS[columns].cols[f].shown for f in LAYOUTS[columns].required if not plan.has(f)]
        if lacks:
            raise SourceError(f"{path}: not a {LAYOUTS[columns].tool}: missing columns {lacks}")
        return plan
    if isinstance(columns, (str, Path)):
        return Plan.from_mapping(load_mapping(columns), header, f"gaze column mapping {columns}")
    if isinstance(columns, dict):
        return Plan.from_mapping(columns, header)
    raise SourceError(f"{path}: columns must be a layout name {sorted(LAYOUTS)}, a mapping or a mapping file")


def _num(cells) -> np.ndarray:
    """Numbers from cells; empty or unreadable cells are NaN. Decimal commas are read as points."""
    out = np.full(len(cells), np.nan)
    for i, c in enumerate(cells):
        try:
            out[i] = float(c.strip().replace(",", ".") or "nan")
        except ValueError:
            pass
    return out


def read_gaze_file(path, columns=None) -> GazeFile:
    """Read a recorded gaze file: every recording in it. `columns`: None (detect the layout), a
    layout name ("pro-lab", "studio", "tobii-sdk"), a mapping dict, or a mapping JSON file path."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: gaze file not found")
    if columns is None:
        check = is_known_header
    elif isinstance(columns, dict) and "time" in columns:
        check = lambda cells: columns["time"] in cells  # noqa: E731
    else:
        check = None
    if isinstance(columns, (str, Path)) and str(columns) not in LAYOUTS:
        mapping = load_mapping(columns)
        check = lambda cells: mapping.get("time") in cells  # noqa: E731
        columns = mapping
    head = sniff_head(path, check)
    plan = _plan_for(head.header, columns, path)
    numeric = {f: i for f, i in plan.idx.items() if f in _NUMERIC or f.startswith("raw:")}
    cols = read_columns(path, head, numeric, {f: i for f, i in plan.idx.items() if f not in numeric},
                        single=tuple(f for f in numeric if f != "time"))  # values: 7 digits are what files hold
    gaze = _gaze_rows(cols, plan)
    skipped = len(cols) - int(gaze.sum())
    if skipped:
        cols.keep_rows(np.flatnonzero(gaze))
    if not len(cols):
        raise SourceError(f"{path}: no gaze samples after the header ({skipped} non-gaze rows skipped)")
    # One recording per (participant, recording) pair, in the order each first appears.
    key = np.zeros(len(cols), dtype=np.int64)
    for k in SELECTOR_KEYS:
        if k in cols.codes:
            key = key * (len(cols.values[k]) + 1) + cols.codes[k]
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    recs, unusable = [], []
    for g in np.argsort(first):
        sub = cols if len(uniq) == 1 else cols.take(np.flatnonzero(inverse == g))
        who = [sub.values[k][sub.codes[k][0]] if k in sub.codes else "" for k in SELECTOR_KEYS]
        try:
            recs.append(_recording(path, plan, sub, who[0] or None, who[1] or None))
        except SourceError as e:
            if len(uniq) == 1:
                raise
            unusable.append(str(e))  # one aborted recording does not make the others unreadable
        del sub
    if not recs:
        raise SourceError(f"{path}: no usable recording; first problem: {unusable[0]}")
    return GazeFile(path, plan.layout, plan.tool, head.encoding, DELIMITER_NAMES[head.delimiter], recs, skipped,
                    unusable)


def _gaze_rows(cols: Columns, plan: Plan) -> np.ndarray:
    """Bool per row: a gaze sample (not another sensor's row, not an event row)."""
    if plan.has("sensor"):
        return cols.where("sensor", lambda v: v == plan.sensor_value)
    if not plan.event_fields:
        return np.ones(len(cols), dtype=bool)
    event = np.zeros(len(cols), dtype=bool)
    for f in plan.event_fields:
        event |= cols.where(f, bool)
    values = np.zeros(len(cols), dtype=bool)
    for f in ("left_x", "left_y", "right_x", "right_y", "left_pupil", "right_pupil"):
        if f in cols.num:
            values |= ~np.isnan(cols.num[f])
    return ~(event & ~values)


def _time_factor(plan: Plan, t: np.ndarray) -> float:
    if plan.time_unit:
        return TIME_TO_US[plan.time_unit]
    # No unit in the name (older Pro Lab versions): eye trackers sample at 30-2000 Hz, so a median
    # step under 50 is milliseconds and one above is microseconds.
    steps = np.diff(t[np.isfinite(t)])
    steps = steps[steps > 0]
    return 1000.0 if len(steps) and np.median(steps) < 50 else 1.0


def _quantum_us(t_us: np.ndarray) -> float:
    """The unit the timestamps were written in (1000 for whole milliseconds), from the values."""
    t = t_us[np.isfinite(t_us)]
    for q in (1000.0, 100.0, 10.0):
        if len(t) and not np.any(np.fmod(t, q)):
            return q
    return 1.0


def _recording(path: Path, plan: Plan, cols: Columns, participant, recording) -> TsvRecording:
    t_file = cols.num["time"]
    t = t_file * _time_factor(plan, t_file)
    t = spread_repeats(t, _quantum_us(t))
    guard = TimestampGuard()
    verdict = judge_series(t, guard)  # {row: verdict} for the rows that are not OK
    rejected = sorted(i for i, k in verdict.items() if k not in KEPT)
    kept = np.delete(np.arange(len(t)), rejected) if rejected else np.arange(len(t))
    seg_rows = sorted(i for i, k in verdict.items() if k == NEW_SEGMENT)
    where = f"{path}" + (f" ({participant or ''}{' / ' if participant and recording else ''}{recording or ''})"
                         if participant or recording else "")
    if len(kept) < 2:
        raise SourceError(f"{where}: fewer than two samples with usable timestamps")
    lines = cols.line
    problems = [(e.kind, int(lines[e.first]), e.count, e.message()) for e in guard.episodes]
    invalid_rows = [int(lines[i]) for i in rejected]
    t_us = np.round(t[kept]).astype(np.int64)
    del t, t_file
    if rejected:
        cols.keep_rows(kept)  # every per-row column follows the kept samples (the tool's labels too)
    raw = _raw_values(plan, cols, path)
    bad = np.concatenate([sanitize_gaze(raw[a:a + BLOCK]) for a in range(0, len(raw), BLOCK)])
    starts = [0] + [int(np.searchsorted(kept, i)) for i in seg_rows]
    in_seg = np.ones(len(t_us) - 1, dtype=bool)
    in_seg[[s - 1 for s in starts[1:]]] = False
    steps = np.diff(t_us)
    period = _period(steps[in_seg] if in_seg.any() else np.abs(steps))
    rejected_between = np.diff(kept) - 1
    missing = np.where(in_seg, np.maximum(np.round(steps / period) - 1 - rejected_between, 0), 0)
    movement = cols.text("movement") if plan.has("movement") else None
    return TsvRecording(path, plan.layout, t_us, raw, 1e6 / period, int(missing.sum()), int((missing > 0).sum()),
                        invalid_rows, int(bad.sum()), participant, recording, starts, problems, movement, plan.tool)


def _period(steps: np.ndarray) -> float:
    """The sample period: the mean of the regular steps (gaps left out). A mean, not the median:
    whole-millisecond timestamps (Tobii Studio) step 3, 3, 4 ms at 300 Hz."""
    med = float(np.median(steps))
    regular = steps[(steps > 0) & (steps <= 1.5 * med)]
    return float(regular.mean()) if len(regular) else max(med, 1.0)


def _raw_values(plan: Plan, cols: Columns, path: Path) -> np.ndarray:
    n = len(cols)
    raw = np.full((n, 30), np.nan, dtype=np.float32)
    width = height = None
    if plan.gaze_in_px() and any(plan.has(f"{e}_x") for e in EYES):
        width, height = _resolution(plan, cols, n, path)

    def number(f, sentinel=True):
        v = cols.num[f]
        return np.where(v == plan.sentinel, np.nan, v) if sentinel and plan.sentinel is not None else v

    for eye in EYES:
        for axis, scale in (("x", width), ("y", height)):
            if plan.has(f"{eye}_{axis}"):
                v = number(f"{eye}_{axis}")
                raw[:, GAZE_COL[f"{eye}_gaze_point_on_display_area_{axis}"]] = v / scale if scale is not None else v
        if plan.has(f"{eye}_pupil"):
            raw[:, GAZE_COL[f"{eye}_pupil_diameter"]] = number(f"{eye}_pupil")
    for f in plan.idx:
        if f.startswith("raw:"):
            raw[:, GAZE_COL[f[4:]]] = number(f, "pupil" in f or "display_area" in f)
    for eye in EYES:
        o = _EYE_OFFSET[eye]
        ok = _validity(plan, cols, eye, raw)
        groups = ((5, ("gaze_point_on_display_area_x",)), (7, ("pupil_diameter",)),
                  (14, ("gaze_origin_in_user_coordinate_system_x",)))
        for flag_off, keys in groups:
            present = np.isfinite(raw[:, [GAZE_COL[f"{eye}_{k}"] for k in keys]]).any()
            raw[:, o + flag_off] = ok if present or plan.has(f"{eye}_validity") and flag_off == 5 else 0.0
    return raw


def _validity(plan: Plan, cols: Columns, eye: str, raw: np.ndarray) -> np.ndarray:
    o = _EYE_OFFSET[eye]
    # No validity (many Tobii Studio exports have no column, or empty cells): a sample is valid
    # where it has a gaze point, and a missing value means invalid.
    has_point = np.isfinite(raw[:, o:o + 2]).all(axis=1).astype(float)
    f = f"{eye}_validity"
    if not plan.has(f):
        return has_point
    values = cols.values[f]  # each distinct cell once
    if plan.valid_values is not None:
        ok = np.array([c in plan.valid_values for c in values], dtype=float)
    elif plan.validity == "text":  # Pro Lab: "Valid"/"Invalid"; some versions write 1/0
        ok = np.array([c.lower() == "valid" or c == "1" for c in values], dtype=float)
    else:
        codes = _num(values)  # Tobii validity codes: 0 certain, 1 probably; 2-4 unsure, other eye, not found
        ok = ((codes >= 0) & (codes <= 1)).astype(float)
    empty = np.array([c == "" for c in values], dtype=bool)
    c = cols.codes[f]
    return np.where(empty[c], has_point, ok[c]) if len(values) else has_point


def _resolution(plan: Plan, cols: Columns, n: int, path: Path):
    if plan.has("res_w") and plan.has("res_h"):
        w, h = cols.num["res_w"].copy(), cols.num["res_h"].copy()
    elif plan.has("resolution"):  # Studio: "1280 x 1024"
        pairs = [re.findall(r"\d+", c) for c in cols.values["resolution"]]
        c = cols.codes["resolution"]
        w = np.array([float(p[0]) if len(p) == 2 else np.nan for p in pairs])[c] if pairs else np.full(n, np.nan)
        h = np.array([float(p[1]) if len(p) == 2 else np.nan for p in pairs])[c] if pairs else np.full(n, np.nan)
    elif plan.display_px:
        w, h = np.full(n, float(plan.display_px[0])), np.full(n, float(plan.display_px[1]))
    else:
        raise SourceError(
            f"{path}: gaze is in pixels but the file has no recording resolution column "
            f"(Pro Lab: 'Recording resolution width [px]'; Studio: 'RecordingResolution'). Export it, or give the "
            f"display size in a --gaze-columns mapping file: \"display_px\": [WIDTH, HEIGHT]")
    w[~(w > 0)] = np.nan
    h[~(h > 0)] = np.nan
    return w, h


def read_tobii_tsv(path, columns=None) -> TsvRecording:
    """The single recording of a file (SourceError naming them when the file holds several)."""
    path, selector = split_selector(str(path))
    gf = read_gaze_file(path, columns)
    recs = select(gf, selector)
    if len(recs) > 1:
        raise SourceError(f"{gf.path}: holds {len(recs)} recordings ({'; '.join(r.name for r in recs)}); "
                          f"pick one with #participant=NAME or #recording=NAME")
    return recs[0]


def _natural_key(path: Path) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(path)) if t]


def gaze_files(path: Path) -> list[Path]:
    """A gaze file, or the gaze files under a folder, in natural order (trial_2 before trial_10, so
    numbered trial files play in their order and can be joined)."""
    if path.is_dir():
        files = sorted((p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in GAZE_FILE_SUFFIXES),
                       key=_natural_key)
        if not files:
            raise SourceError(f"gaze folder {path} holds no gaze files ({', '.join(GAZE_FILE_SUFFIXES)})")
        return files
    return [path]


# ----------------------------------------------------------------------------- playback


def _trial_name(r: TsvRecording) -> str:
    return r.path.name + (f" ({r.name})" if r.participant or r.recording else "")


def recording_seams(recordings: list) -> list:
    """Join or break between each recording and the next, in play order (trial_joins' rule):
    trials of one participant in separate files of one folder whose device times follow on are
    joined; the recordings one file holds are separate by the file's own account, and files in
    different folders (participant1/, participant2/) are other sessions."""
    r = recordings
    return [seam(_trial_name(a), _trial_name(b), int(a.t_us[-1]) if len(a.t_us) else None,
                 int(b.t_us[0]) if len(b.t_us) else None,
                 same_person=(a.participant == b.participant and a.path != b.path
                              and a.path.parent == b.path.parent))
            for a, b in zip(r, r[1:])]


class TobiiTsvSource(GazeSource):
    """Plays recorded gaze files as one stream. Trial files whose device times follow on are joined
    into one recording (trial_joins.py); every other recording (and each segment after a clock step)
    follows the previous one after a 'stream_break' event, one sample period later, and the pipeline
    never builds a window across a break. `info()["trials"]` lists each seam, joined or not, and why."""

    kind = "tsv"

    def __init__(self, path, realtime: bool = False, t0_ns: int = 0, columns=None):
        super().__init__()
        spec, self.selector = split_selector(str(path))
        self.path = Path(spec)
        self.realtime = realtime
        self.t0_ns = t0_ns
        self.columns = columns
        self.files: list[GazeFile] = []
        self.recordings: list[TsvRecording] = []
        self.skipped_files: list[str] = []
        self._closed = False

    @property
    def rec(self) -> Optional[TsvRecording]:
        return self.recordings[0] if self.recordings else None

    @property
    def label(self) -> str:
        sel = "#" + "&".join(f"{k}={v}" for k, v in self.selector.items()) if self.selector else ""
        return f"gaze file {self.path.name}{sel}"

    def info(self) -> dict:
        d = {**super().info(), "path": str(self.path)}
        if self.recordings:
            r = self.recordings
            d.update(layout=self.files[0].layout, samples=int(sum(len(x.t_us) for x in r)),
                     nominal_hz=round(r[0].nominal_hz, 2), duration_s=round(sum(x.duration_s for x in r), 3),
                     recordings=[x.summary() for x in r], trials=seams_summary(self.seams()))
        return d

    def seams(self) -> list:
        return recording_seams(self.recordings)

    def open(self) -> None:
        if not self.path.exists():
            raise SourceError(f"{self.path}: gaze file not found")
        paths = gaze_files(self.path)
        self.files, self.skipped_files = [], []
        for f in paths:
            try:
                self.files.append(read_gaze_file(f, self.columns))
            except SourceError as e:
                if len(paths) == 1:
                    raise
                self.skipped_files.append(str(e))  # a folder may hold notes, licences, other tables
        if not self.files:
            raise SourceError(f"gaze folder {self.path}: no readable gaze file; first problem: {self.skipped_files[0]}")
        self.recordings = []
        for gf in self.files:
            self.recordings += select(gf, self.selector) if self.selector else gf.recordings
        recs = self.recordings
        self.stats.invalid = sum(len(r.invalid_rows) for r in recs)
        self.stats.dropped = sum(r.dropped for r in recs)
        self.stats.gaps = sum(r.gaps for r in recs)
        self.stats.extra["bad_values"] = sum(r.bad_values for r in recs)
        self.stats.extra["recordings"] = len(recs)
        self.stats.extra["segments"] = sum(len(r.segment_starts) for r in recs)
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def samples(self) -> Iterator[Union[GazeSample, SourceEvent]]:
        if not self.recordings:
            self.open()
        base = now_ns() if self.realtime else self.t0_ns
        host = None  # host time of the last sample delivered
        for problem in self.skipped_files + [u for gf in self.files for u in gf.unusable]:
            yield SourceEvent(base, self.kind, "warning", f"skipped: {problem}")
        seams = self.seams()
        for k, r in enumerate(self.recordings):
            period_ns = int(round(1e9 / r.nominal_hz))
            start = base if host is None else host + period_ns
            if k and seams[k - 1].joined:  # one continuous recording: the next trial at its own device time
                start = host + int(round(seams[k - 1].gap_s * 1e9))
            elif k:
                yield SourceEvent(start, self.kind, "stream_break",
                                  f"{r.path.name}: {r.name} starts, not joined to the previous: {seams[k - 1].why}",
                                  {"participant": r.participant, "recording": r.recording, "file": str(r.path),
                                   "gap_s": seams[k - 1].gap_s})
            where = _trial_name(r)
            for kind, line, count, message in r.problems:
                yield SourceEvent(start, self.kind, "warning", f"{where}, line {line}: {message}",
                                  {"problem": kind, "line": line, "count": count})
            rel_ns = (r.timeline_us() - r.t_us[0]) * 1000
            breaks = set(r.segment_starts[1:])
            for i in range(len(r.t_us)):
                if self._closed:
                    return
                host = start + int(rel_ns[i])
                if i in breaks:
                    yield SourceEvent(host, self.kind, "stream_break", f"{where}: clock step, new segment",
                                      {"participant": r.participant, "recording": r.recording, "file": str(r.path)})
                if self.realtime:
                    sleep_until(host)
                self.stats.delivered += 1
                yield GazeSample(host_ns=host, values=r.raw[i].astype(np.float64), device_us=int(r.t_us[i]))
        yield SourceEvent(host if host is not None else base, self.kind, "end_of_stream", f"{self.path.name}: end of file")
