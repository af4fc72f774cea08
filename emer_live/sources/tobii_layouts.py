"""The column layouts of recorded Tobii data, and user mappings for anything else.

Known layouts (column names as each tool writes them; matched case-insensitively, unit suffix
optional where the tool has written names with and without one):

- "pro-lab": a Tobii Pro Lab data export (.tsv). "Recording timestamp [μs]" or "[ms]" or, in
  older versions, "Recording timestamp"; "Gaze point left X [DACS px]" (or "[DACS norm]", or
  unit-less "Gaze point left X"), per eye; "Pupil diameter left [mm]"; "Validity left"
  ("Valid"/"Invalid"); "Recording resolution width [px]" / "height" (px gaze is divided by it);
  "Sensor" (only "Eye Tracker" rows are gaze: rows of other sensors and event rows with an empty
  Sensor are skipped); "Eye movement type"; "Participant name"; "Recording name".
- "studio": a Tobii Studio data export (.tsv or .csv). "RecordingTimestamp" (ms);
  "GazePointLeftX (ADCSpx)" per eye; "PupilLeft" (mm); "ValidityLeft" (0 certain ... 4 eye not
  found; many exports have none: then a missing value means invalid); "RecordingResolution"
  ("1280 x 1024"); "GazeEventType"; "ParticipantName"; "RecordingName"; event columns
  ("StudioEvent", "MouseEvent", "KeyPressEvent", "ExternalEvent") mark rows that are not gaze.
- "tobii-sdk": one row per sample as logged from the Tobii SDK by research code (e.g. the public
  TX300 recordings): "Time" (µs), L/R "GazePos2dx" ... "PupilDm", "LValidity" (0-4).

Any other file: a column mapping (a JSON file given with --gaze-columns), see Plan.from_mapping.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from emer_live.errors import SourceError
from emer_live.types import RAW_GAZE_COLUMNS

EYES = ("left", "right")


@dataclass(frozen=True)
class Col:
    """One logical column: a regex over header names (unit in group 1, if any) and the name the
    tool writes, for messages."""

    pattern: str
    shown: str

    def find(self, header: list[str]) -> Optional[tuple[int, str]]:
        rx = re.compile(self.pattern + r"$", re.IGNORECASE)
        for i, h in enumerate(header):
            m = rx.match(h.strip())
            if m:
                unit = next((g for g in m.groups() if g), "") if m.groups() else ""
                return i, unit.lower().replace("µ", "μ").replace("us", "μs")
        return None


@dataclass(frozen=True)
class Layout:
    name: str
    tool: str  # the tool's own name, as users know it
    cols: dict  # field -> Col
    required: tuple  # fields the file must have
    time_unit: Optional[str] = None  # fixed unit, or None: from the column's suffix or the data
    validity: str = "code"  # "code" (Tobii 0-4, <= 1 valid) or "text" ("Valid") or "flag" (1 valid)
    sentinel: Optional[float] = None  # a number meaning "missing" in gaze and pupil columns
    event_cols: tuple = ()  # non-empty cell here and no gaze values -> an event row, not gaze
    export_hint: str = ""  # how to get the missing columns out of the tool


def _unit(name: str, units: str) -> str:
    """Regex: name, then an optional unit suffix in [..] or (..), captured."""
    return re.escape(name).replace(r"\ ", r"\s*") + rf"(?:\s*[\[(]\s*({units})\s*[\])])?"


_PX_NORM = r"DACS\s*px|DACSpx|DACS\s*norm|DACSnorm"


def _pro_lab() -> Layout:
    cols = {"time": Col(_unit("Recording timestamp", "μs|µs|us|ms"), "Recording timestamp [μs]"),
            "res_w": Col(_unit("Recording resolution width", "px"), "Recording resolution width [px]"),
            "res_h": Col(_unit("Recording resolution height", "px"), "Recording resolution height [px]"),
            "sensor": Col(r"Sensor", "Sensor"), "movement": Col(r"Eye movement type", "Eye movement type"),
            "participant": Col(r"Participant name", "Participant name"),
            "recording": Col(r"Recording name", "Recording name"), "event": Col(r"Event", "Event")}
    for eye in EYES:
        for axis in "XY":
            cols[f"{eye}_{axis.lower()}"] = Col(_unit(f"Gaze point {eye} {axis}", _PX_NORM),
                                                f"Gaze point {eye} {axis} [DACS px]")
        cols[f"{eye}_pupil"] = Col(_unit(f"Pupil diameter {eye}", "mm"), f"Pupil diameter {eye} [mm]")
        cols[f"{eye}_validity"] = Col(f"Validity {eye}", f"Validity {eye}")
    return Layout("pro-lab", "Tobii Pro Lab data export", cols,
                  ("time", "left_x", "left_y", "right_x", "right_y"), validity="text", event_cols=("event",),
                  export_hint="In Pro Lab, export again (Analyze > Data Export) with those columns ticked, with "
                              "'Pupil diameter', 'Validity', 'Recording resolution' and 'Participant name' / "
                              "'Recording name' beside them.")


def _studio() -> Layout:
    cols = {"time": Col(r"RecordingTimestamp", "RecordingTimestamp"),
            "resolution": Col(r"RecordingResolution", "RecordingResolution"),
            "movement": Col(r"GazeEventType", "GazeEventType"),
            "participant": Col(r"ParticipantName", "ParticipantName"),
            "recording": Col(r"RecordingName", "RecordingName")}
    for e in ("StudioEvent", "MouseEvent", "KeyPressEvent", "ExternalEvent"):
        cols[e] = Col(e, e)
    for eye, E in (("left", "Left"), ("right", "Right")):
        for axis in "XY":
            cols[f"{eye}_{axis.lower()}"] = Col(rf"GazePoint{E}{axis}\s*\((ADCSpx)\)", f"GazePoint{E}{axis} (ADCSpx)")
        cols[f"{eye}_pupil"] = Col(f"Pupil{E}", f"Pupil{E}")
        cols[f"{eye}_validity"] = Col(f"Validity{E}", f"Validity{E}")
    return Layout("studio", "Tobii Studio data export", cols, ("time", "left_x", "left_y", "right_x", "right_y"),
                  time_unit="ms", validity="code", sentinel=-1.0,
                  event_cols=("StudioEvent", "MouseEvent", "KeyPressEvent", "ExternalEvent"),
                  export_hint="In Tobii Studio, export again (Data Export) with those columns selected, with "
                              "'PupilLeft/Right', 'ValidityLeft/Right', 'RecordingResolution' and 'ParticipantName' "
                              "beside them.")


# SDK log column -> raw gaze column, per eye prefix L/R
_SDK_RAW = {"GazePos2dx": "gaze_point_on_display_area_x", "GazePos2dy": "gaze_point_on_display_area_y",
            "GazePos3dx": "gaze_point_in_user_coordinate_system_x",
            "GazePos3dy": "gaze_point_in_user_coordinate_system_y",
            "GazePos3dz": "gaze_point_in_user_coordinate_system_z", "PupilDm": "pupil_diameter",
            "EyePos3dx": "gaze_origin_in_user_coordinate_system_x",
            "EyePos3dy": "gaze_origin_in_user_coordinate_system_y",
            "EyePos3dz": "gaze_origin_in_user_coordinate_system_z",
            "EyePos3dRelx": "gaze_origin_in_trackbox_coordinate_system_x",
            "EyePos3dRely": "gaze_origin_in_trackbox_coordinate_system_y",
            "EyePos3dRelz": "gaze_origin_in_trackbox_coordinate_system_z"}


def _sdk() -> Layout:
    cols = {"time": Col("Time", "Time")}
    for eye, p in (("left", "L"), ("right", "R")):
        for name, raw in _SDK_RAW.items():
            cols[f"raw:{eye}_{raw}"] = Col(p + name, p + name)
        cols[f"{eye}_validity"] = Col(f"{p}Validity", f"{p}Validity")
    required = ("time", *(f"raw:{e}_gaze_point_on_display_area_{a}" for e in EYES for a in "xy"),
                "left_validity", "right_validity")
    return Layout("tobii-sdk", "Tobii SDK sample log", cols, required, time_unit="μs", validity="code", sentinel=-1.0)


LAYOUTS = {lay.name: lay for lay in (_pro_lab(), _studio(), _sdk())}


@dataclass
class Plan:
    """How to read one file: column indices per field, resolved against its header."""

    layout: str
    tool: str
    idx: dict  # field -> column index
    units: dict = field(default_factory=dict)  # field -> unit suffix found ("ms", "dacs px", ...)
    time_unit: Optional[str] = None  # "μs", "ms", "s" or None (inferred from the data)
    validity: str = "code"
    valid_values: Optional[tuple] = None  # mapping files: the exact cells meaning valid
    sentinel: Optional[float] = None
    display_px: Optional[tuple] = None  # fixed (width, height) for px gaze without resolution columns
    gaze_units: Optional[str] = None  # "px" or "norm"; None: from the unit suffix (px if none)
    sensor_value: str = "Eye Tracker"
    event_fields: tuple = ()

    def has(self, f: str) -> bool:
        return f in self.idx

    def gaze_in_px(self) -> bool:
        if self.gaze_units:
            return self.gaze_units == "px"
        if self.layout == "tobii-sdk":
            return False
        return "norm" not in self.units.get("left_x", "")

    @classmethod
    def from_layout(cls, layout: Layout, header: list[str]) -> "Plan":
        idx, units = {}, {}
        for f, col in layout.cols.items():
            hit = col.find(header)
            if hit is not None:
                idx[f], units[f] = hit
        unit = layout.time_unit or (units.get("time") or None)
        return cls(layout.name, layout.tool, idx, units, unit, layout.validity, None, layout.sentinel,
                   event_fields=tuple(f for f in layout.event_cols if f in idx))

    @classmethod
    def from_mapping(cls, mapping: dict, header: list[str], source: str = "column mapping") -> "Plan":
        """A user's mapping (the JSON of --gaze-columns):
        {"time": COL, "time_unit": "ms" | "us" | "s",
         "left_x": COL, "left_y": COL, "right_x": COL, "right_y": COL, "gaze_units": "px" | "norm",
         "display_px": [W, H]  or  "resolution": [WIDTH_COL, HEIGHT_COL]   (px gaze only),
         "left_pupil": COL, "right_pupil": COL (mm), "left_validity": COL, "right_validity": COL,
         "valid_values": ["Valid", "0", ...]  (default: Tobii codes 0 and 1 and "Valid"),
         "participant": COL, "recording": COL, "sensor": [COL, VALUE], "eye_movement_type": COL,
         "sentinel": -1, and any raw gaze column name of the SDK (e.g.
         "left_gaze_origin_in_user_coordinate_system_z"): COL}.
        Only "time" is required; older keys ("time_to_us", raw display names) are accepted."""
        keys = {"time", "time_unit", "time_to_us", "left_x", "left_y", "right_x", "right_y", "gaze_units",
                "display_px", "resolution", "display_size", "left_pupil", "right_pupil", "left_validity",
                "right_validity", "valid_values", "participant", "recording", "sensor", "row_filter",
                "eye_movement_type", "sentinel", "name", "layout"}
        unknown = sorted(set(mapping) - keys - set(RAW_GAZE_COLUMNS))
        if unknown:
            raise SourceError(f"{source}: unknown keys {unknown}; use {sorted(keys - {'name', 'layout'})} "
                              f"or raw gaze column names")
        if "time" not in mapping:
            raise SourceError(f"{source}: 'time' (the timestamp column) is required")
        named = {"time": "time", "participant": "participant", "recording": "recording",
                 "eye_movement_type": "movement", "left_gaze_point_on_display_area_x": "left_x",
                 "left_gaze_point_on_display_area_y": "left_y", "right_gaze_point_on_display_area_x": "right_x",
                 "right_gaze_point_on_display_area_y": "right_y", "left_pupil_diameter": "left_pupil",
                 "right_pupil_diameter": "right_pupil"}
        named.update({f"{e}_{k}": f"{e}_{k}" for e in EYES for k in ("x", "y", "pupil", "validity")})
        fields = {}
        for k, v in mapping.items():
            if k in named:
                fields[named[k]] = v
            elif k in RAW_GAZE_COLUMNS and not k.endswith("validity"):
                fields[f"raw:{k}"] = v
        sensor = mapping.get("sensor") or mapping.get("row_filter")
        if sensor:
            fields["sensor"] = sensor[0]
        if "resolution" in mapping:
            fields["res_w"], fields["res_h"] = mapping["resolution"]
        display = mapping.get("display_px") or mapping.get("display_size")
        if display and all(isinstance(x, str) for x in display):
            fields["res_w"], fields["res_h"] = display
            display = None
        missing = [c for c in fields.values() if c not in header]
        if missing:
            raise SourceError(f"{source}: column(s) {missing} are not in the file; it has {header[:40]}")
        idx = {f: header.index(c) for f, c in fields.items()}
        if "time_to_us" in mapping:
            unit = {1.0: "μs", 1000.0: "ms", 1e6: "s"}.get(float(mapping["time_to_us"]))
            if unit is None:
                raise SourceError(f"{source}: time_to_us must be 1, 1000 or 1000000")
        else:
            units = {"us": "μs", "µs": "μs", "μs": "μs", "ms": "ms", "s": "s"}
            unit = units.get(str(mapping.get("time_unit", "")))
            if mapping.get("time_unit") and unit is None:
                raise SourceError(f"{source}: time_unit must be 'us', 'ms' or 's'")
        valid = mapping.get("valid_values")
        gaze_units = mapping.get("gaze_units")
        if gaze_units is None:
            gaze_units = "px" if (display or "res_w" in idx) else "norm"
        if gaze_units not in ("px", "norm"):
            raise SourceError(f"{source}: gaze_units must be 'px' or 'norm'")
        return cls(mapping.get("name", "custom"), source, idx, {}, unit, "values" if valid else "code",
                   tuple(str(v) for v in valid) if valid else None, mapping.get("sentinel", -1.0),
                   tuple(display) if display else None, gaze_units, sensor[1] if sensor else "Eye Tracker")


def load_mapping(path) -> dict:
    """A --gaze-columns JSON file -> dict (SourceError with the reason when unreadable)."""
    p = Path(path).expanduser()
    try:
        d = json.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise SourceError(f"gaze column mapping {p}: cannot be read ({e.strerror or e})") from None
    except json.JSONDecodeError as e:
        raise SourceError(f"gaze column mapping {p}: not valid JSON ({e})") from None
    except UnicodeDecodeError as e:
        raise SourceError(f"gaze column mapping {p}: not UTF-8 text (byte {e.start}); save it as UTF-8 JSON") from None
    if not isinstance(d, dict):
        raise SourceError(f"gaze column mapping {p}: expected a JSON object of column names")
    return d


def is_known_header(cells: list[str]) -> bool:
    """True for a line that looks like the header of a known layout (its timestamp column)."""
    return any(lay.cols["time"].find(cells) is not None for lay in LAYOUTS.values())


def detect(header: list[str], path) -> Plan:
    """The known layout whose required columns the header has; else a SourceError that names the
    layouts known, the columns found, the closest layout and what it lacks, and how to map."""
    plans = [(Plan.from_layout(lay, header), lay) for lay in LAYOUTS.values()]
    for plan, lay in plans:
        if all(plan.has(f) for f in lay.required):
            return plan
    score = lambda pl: sum(pl[0].has(f) for f in pl[1].required) / len(pl[1].required)  # noqa: E731
    plan, lay = max(plans, key=score)
    lacks = [lay.cols[f].shown for f in lay.required if not plan.has(f)]
    shown = ", ".join(repr(h) for h in header[:25]) + (f" ... ({len(header)} columns)" if len(header) > 25 else "")
    known = "; ".join(f"{x.tool} ({x.name})" for x in LAYOUTS.values())
    time_col = header[plan.idx["time"]] if plan.has("time") else "Timestamp"
    time_unit = {"μs": "us"}.get(plan.time_unit, plan.time_unit) if plan.has("time") and plan.time_unit else "ms"
    more = f" and {len(lacks) - 12} more" if len(lacks) > 12 else ""
    closest = (f"Closest: {lay.tool}, which also needs {', '.join(repr(c) for c in lacks[:12])}{more}. "
               f"{lay.export_hint}" if score((plan, lay)) > 0 else "No known layout matches any column.")
    raise SourceError(
        f"{path}: not a Tobii gaze export this reader knows. Known layouts: {known}. Columns found: {shown}. "
        f"{closest} To read it anyway, write a JSON column mapping with your file's column names, e.g. "
        f'{{"time": {json.dumps(time_col)}, "time_unit": "{time_unit}", "left_x": "GazeLeftX", "left_y": "GazeLeftY", '
        '"right_x": "GazeRightX", "right_y": "GazeRightY", "gaze_units": "px", "display_px": [1920, 1080], '
        '"left_pupil": "PupilLeft", "right_pupil": "PupilRight"}, and pass it with --gaze-columns FILE '
        "(emer-live gaze-info FILE --gaze-columns MAP.json shows what it reads).")
