"""Reader for Tobii-style gaze exports (tab-separated), as a gaze source.

Two layouts are built in, and any other is a dict away (see TsvLayout.from_dict):

- "tobii-sdk": one row per sample as logged from the Tobii SDKs by research code, e.g. the
  public TX300 300 Hz recordings: Time (µs), per eye L/R EyePos3d{x,y,z} (eye origin, mm, user
  coordinates), EyePos3dRel{x,y,z} (track box), GazePos2d{x,y} (display, normalised),
  GazePos3d{x,y,z} (mm), PupilDm (mm), Validity (Tobii code 0 = certain ... 4 = eye not found;
  lost values are written as -1 or 0).
- "pro-lab": a Tobii Pro Lab data export: "Recording timestamp [μs]", "Gaze point left X
  [DACS px]" (divided by "Recording resolution width/height"), "Pupil diameter left [mm]",
  "Validity left" ("Valid"/"Invalid"); non-eye-tracker rows (events, IMU) are skipped. Its eye
  positions are in display-area coordinates, not the SDK's user coordinates, so they are left out. Column names differ between Pro Lab versions: pass your own dict.

Values the file lacks are NaN; validity flags become 1.0/0.0; sentinels (-1) become NaN.
Timestamps that repeat or go backwards are dropped, counted in stats.invalid and reported with
a warning event; gaps longer than 1.5 nominal periods are counted as dropped samples.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from emer_live.clock import now_ns
from emer_live.errors import SourceError
from emer_live.sources.base import GazeSource, sleep_until
from emer_live.sources.gaze_checks import sanitize_gaze
from emer_live.types import GAZE_COL, RAW_GAZE_COLUMNS, GazeSample, SourceEvent

# Raw-column stems per eye whose -1 means "no value" in Tobii SDK logs.
_SENTINEL_STEMS = ("gaze_point_on_display_area", "pupil_diameter")


@dataclass(frozen=True)
class TsvLayout:
    """How a file's columns map onto the 30 raw gaze values."""

    name: str
    time: str  # timestamp column
    time_to_us: float  # factor from the file's time unit to microseconds
    columns: dict  # RAW_GAZE_COLUMNS name -> file column (per-eye values; validity flags excluded)
    validity: dict  # "left"/"right" -> file column holding that eye's validity
    valid_values: tuple  # validity cell values that mean valid (as read, e.g. 0, 1 or "Valid")
    display_size: Optional[tuple] = None  # (width, height) columns or numbers dividing display px
    row_filter: Optional[tuple] = None  # (column, value): keep only rows where column == value
    sentinel: Optional[float] = -1.0  # value meaning "missing" in display and pupil columns

    @classmethod
    def from_dict(cls, d: dict) -> "TsvLayout":
        """Build a layout from a plain dict: {"time": col, "time_to_us": 1.0, "left_validity":
        col, "right_validity": col, "valid_values": [...], "display_size": [w, h] (optional),
        "row_filter": [col, value] (optional), "sentinel": -1 (optional), and any
        RAW_GAZE_COLUMNS name: col}."""
        known = {"name", "time", "time_to_us", "left_validity", "right_validity", "valid_values",
                 "display_size", "row_filter", "sentinel"}
        unknown = set(d) - known - set(RAW_GAZE_COLUMNS)
        if unknown:
            raise SourceError(f"TSV column mapping: unknown keys {sorted(unknown)}; use {sorted(known)} "
                              f"or raw gaze column names")
        if "time" not in d:
            raise SourceError("TSV column mapping: 'time' (the timestamp column) is required")
        return cls(
            name=d.get("name", "custom"), time=d["time"], time_to_us=float(d.get("time_to_us", 1.0)),
            columns={k: v for k, v in d.items() if k in RAW_GAZE_COLUMNS},
            validity={e: d[f"{e}_validity"] for e in ("left", "right") if f"{e}_validity" in d},
            valid_values=tuple(d.get("valid_values", (0,))),
            display_size=tuple(d["display_size"]) if d.get("display_size") else None,
            row_filter=tuple(d["row_filter"]) if d.get("row_filter") else None,
            sentinel=d.get("sentinel", -1.0),
        )

    def needed(self) -> list[str]:
        cols = [self.time, *self.columns.values(), *self.validity.values()]
        if self.display_size:
            cols += [c for c in self.display_size if isinstance(c, str)]
        if self.row_filter:
            cols.append(self.row_filter[0])
        return list(dict.fromkeys(cols))


def _sdk_layout() -> TsvLayout:
    cols = {}
    for eye, p in (("left", "L"), ("right", "R")):
        cols.update({
            f"{eye}_gaze_point_on_display_area_x": f"{p}GazePos2dx",
            f"{eye}_gaze_point_on_display_area_y": f"{p}GazePos2dy",
            f"{eye}_gaze_point_in_user_coordinate_system_x": f"{p}GazePos3dx",
            f"{eye}_gaze_point_in_user_coordinate_system_y": f"{p}GazePos3dy",
            f"{eye}_gaze_point_in_user_coordinate_system_z": f"{p}GazePos3dz",
            f"{eye}_pupil_diameter": f"{p}PupilDm",
            f"{eye}_gaze_origin_in_user_coordinate_system_x": f"{p}EyePos3dx",
            f"{eye}_gaze_origin_in_user_coordinate_system_y": f"{p}EyePos3dy",
            f"{eye}_gaze_origin_in_user_coordinate_system_z": f"{p}EyePos3dz",
            f"{eye}_gaze_origin_in_trackbox_coordinate_system_x": f"{p}EyePos3dRelx",
            f"{eye}_gaze_origin_in_trackbox_coordinate_system_y": f"{p}EyePos3dRely",
            f"{eye}_gaze_origin_in_trackbox_coordinate_system_z": f"{p}EyePos3dRelz",
        })
    # Tobii validity codes: 0 certain, 1 probably this eye; 2-4 unsure, other eye, not found.
    return TsvLayout("tobii-sdk", "Time", 1.0, cols, {"left": "LValidity", "right": "RValidity"}, (0, 1))


def _pro_lab_layout() -> TsvLayout:
    cols = {}
    for eye in ("left", "right"):
        cols.update({
            f"{eye}_gaze_point_on_display_area_x": f"Gaze point {eye} X [DACS px]",
            f"{eye}_gaze_point_on_display_area_y": f"Gaze point {eye} Y [DACS px]",
            f"{eye}_pupil_diameter": f"Pupil diameter {eye} [mm]",
        })
    return TsvLayout("pro-lab", "Recording timestamp [μs]", 1.0, cols,
                     {"left": "Validity left", "right": "Validity right"}, ("Valid",),
                     display_size=("Recording resolution width", "Recording resolution height"),
                     row_filter=("Sensor", "Eye Tracker"), sentinel=None)


LAYOUTS = {"tobii-sdk": _sdk_layout(), "pro-lab": _pro_lab_layout()}


@dataclass
class TsvRecording:
    """A whole file, read and checked."""

    path: Path
    layout: str
    t_us: np.ndarray  # (N,) int64, strictly increasing device time
    raw: np.ndarray  # (N, 30) float64
    nominal_hz: float
    dropped: int  # samples estimated missing from timestamp gaps
    gaps: int
    invalid_rows: list  # row numbers (1-based, header = row 1) of rejected timestamps
    bad_values: int  # samples whose implausible values were marked invalid


def _pick_layout(header: list[str], columns, path: Path) -> TsvLayout:
    if isinstance(columns, TsvLayout):
        return columns
    if isinstance(columns, dict):
        return TsvLayout.from_dict(columns)
    if isinstance(columns, str):
        if columns not in LAYOUTS:
            raise SourceError(f"{path}: unknown TSV layout {columns!r}; known: {sorted(LAYOUTS)}")
        return LAYOUTS[columns]
    for layout in LAYOUTS.values():
        if layout.time in header:
            return layout
    return LAYOUTS["tobii-sdk"]  # its missing columns are then named in the error


def _floats(cells: list[str]) -> np.ndarray:
    """Numbers from cells; empty or unreadable cells are NaN. Pro Lab writes decimal commas
    under some locales."""
    return np.array([_num(c.strip().replace(",", ".")) for c in cells], dtype=float)


def read_tobii_tsv(path, columns=None) -> TsvRecording:
    """Read a Tobii-style TSV file into (t_us, raw (N,30)). `columns`: None (detect the
    layout from the header), a layout name ("tobii-sdk", "pro-lab"), a TsvLayout or a dict."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: gaze file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SourceError(f"{path}: cannot read as a tab-separated text file ({e})") from None
    if not rows:
        raise SourceError(f"{path}: empty file, expected a header row of gaze columns")
    header = [h.strip() for h in rows[0]]
    layout = _pick_layout(header, columns, path)
    missing = [c for c in layout.needed() if c not in header]
    if missing:
        raise SourceError(f"{path}: not a Tobii gaze export of layout {layout.name!r}: missing columns "
                          f"{missing}. Pass a column mapping for other layouts.")
    idx = {c: header.index(c) for c in layout.needed()}
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if layout.row_filter:
        col, val = layout.row_filter
        body = [r for r in body if len(r) > idx[col] and r[idx[col]].strip() == val]
    short = [i for i, r in enumerate(body) if len(r) < len(header)]
    if short:
        raise SourceError(f"{path}: malformed: {len(short)} row(s) have fewer than {len(header)} cells")
    if not body:
        raise SourceError(f"{path}: no gaze samples after the header")

    def col(name):
        return [r[idx[name]] for r in body]

    t = _floats(col(layout.time)) * layout.time_to_us
    n = len(body)
    raw = np.full((n, 30), np.nan)
    for raw_name, file_col in layout.columns.items():
        raw[:, GAZE_COL[raw_name]] = _floats(col(file_col))
    if layout.display_size:
        size = [_floats(col(s)) if isinstance(s, str) else np.full(n, float(s)) for s in layout.display_size]
        for eye in ("left", "right"):
            for axis, s in zip("xy", size):
                raw[:, GAZE_COL[f"{eye}_gaze_point_on_display_area_{axis}"]] /= s
    for eye in ("left", "right"):
        e = 0 if eye == "left" else 15
        if layout.sentinel is not None:
            for stem in _SENTINEL_STEMS:
                for c in (c for c in RAW_GAZE_COLUMNS if c.startswith(f"{eye}_{stem}")):
                    raw[raw[:, GAZE_COL[c]] == layout.sentinel, GAZE_COL[c]] = np.nan
        if eye in layout.validity:
            cells = [c.strip() for c in col(layout.validity[eye])]
            as_text = {str(v) for v in layout.valid_values}
            as_num = {x for x in map(_num, layout.valid_values) if not np.isnan(x)}
            ok = np.array([c in as_text or _num(c) in as_num for c in cells], dtype=bool)
        else:
            ok = np.ones(n, dtype=bool)
        # One validity per eye in the file; it covers each value group the file provides.
        for flag_off, key in ((5, "gaze_point_on_display_area_x"), (7, "pupil_diameter"),
                              (14, "gaze_origin_in_user_coordinate_system_x")):
            raw[:, e + flag_off] = ok if f"{eye}_{key}" in layout.columns else 0.0
    bad = sanitize_gaze(raw)

    # Timestamps: drop rows that repeat or go backwards (or are unreadable).
    keep = np.zeros(n, dtype=bool)
    last = -np.inf
    for i, v in enumerate(t):
        if not np.isnan(v) and v > last:
            keep[i] = True
            last = v
    invalid_rows = (np.flatnonzero(~keep) + 2).tolist()
    t_us = np.round(t[keep]).astype(np.int64)
    raw = raw[keep]
    if len(t_us) < 2:
        raise SourceError(f"{path}: fewer than two samples with usable timestamps")
    period = float(np.median(np.diff(t_us)))
    # Samples missing between kept neighbours, less the rows we rejected there ourselves
    # (those are counted as invalid, not twice).
    rejected_between = np.diff(np.flatnonzero(keep)) - 1
    missing = np.maximum(np.round(np.diff(t_us) / period) - 1 - rejected_between, 0)
    return TsvRecording(path, layout.name, t_us, raw, 1e6 / period, int(missing.sum()),
                        int((missing > 0).sum()), invalid_rows, int(bad[keep].sum()))


def _num(v) -> float:
    try:
        return float(v) if v != "" else float("nan")
    except (TypeError, ValueError):
        return float("nan")


class TobiiTsvSource(GazeSource):
    """Replays a Tobii-style TSV export as a gaze stream."""

    kind = "tsv"

    def __init__(self, path, realtime: bool = False, t0_ns: int = 0, columns=None):
        super().__init__()
        self.path = Path(path)
        self.realtime = realtime
        self.t0_ns = t0_ns
        self.columns = columns
        self.rec: Optional[TsvRecording] = None
        self._closed = False

    @property
    def label(self) -> str:
        return f"gaze file {self.path.name}"

    def info(self) -> dict:
        d = {**super().info(), "path": str(self.path)}
        if self.rec is not None:
            r = self.rec
            d.update(layout=r.layout, samples=len(r.t_us), nominal_hz=round(r.nominal_hz, 2),
                     duration_s=round((r.t_us[-1] - r.t_us[0]) / 1e6, 3))
        return d

    def open(self) -> None:
        self.rec = read_tobii_tsv(self.path, self.columns)
        self.stats.invalid = len(self.rec.invalid_rows)
        self.stats.dropped = self.rec.dropped
        self.stats.gaps = self.rec.gaps
        self.stats.extra["bad_values"] = self.rec.bad_values
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def samples(self) -> Iterator[Union[GazeSample, SourceEvent]]:
        if self.rec is None:
            self.open()
        r = self.rec
        base = now_ns() if self.realtime else self.t0_ns
        rel_ns = (r.t_us - r.t_us[0]) * 1000
        if r.invalid_rows:
            rows = r.invalid_rows
            yield SourceEvent(base, self.kind, "warning",
                              f"{self.path.name}: {len(rows)} sample(s) with repeated, backward or unreadable "
                              f"timestamps dropped (file rows {rows[:10]}{' ...' if len(rows) > 10 else ''})",
                              {"rows": rows})
        for i in range(len(r.t_us)):
            if self._closed:
                return
            host_ns = base + int(rel_ns[i])
            if self.realtime:
                sleep_until(host_ns)
            self.stats.delivered += 1
            yield GazeSample(host_ns=host_ns, values=r.raw[i], device_us=int(r.t_us[i]))
        yield SourceEvent(base + int(rel_ns[-1]), self.kind, "end_of_stream", f"{self.path.name}: end of file")
