"""Write the real TX300 recordings (../shared/data/eyetracking) as Tobii Pro Lab and Tobii Studio
exports would hold them, so the reader is tested on real values in each tool's layout.

Where the column names come from (public material; names only, nothing copied):
- Tobii Pro Lab, names without units (older versions): elab-umn/eyeQuality (GPL-3), commit
  591371305466, R/renameColumns.R and R/detectImportSourceType.R ("Recording timestamp",
  "Gaze point left X", "Pupil diameter left", "Validity left", "Recording resolution width",
  "Eye position left Z (DACSmm)", "Recording software version"); misavojte/GazePlotter (GPL-3),
  commit cd3a676ea191, tests/TobiiEyeDeserializer.test.data.ts, a real Pro Lab export whose
  "Sensor" column has "Eye Tracker", "Gyroscope", ... rows and event rows with an empty Sensor,
  and "Eye movement type" / "Participant name" / "Recording name".
- Tobii Pro Lab, names with unit suffixes (newer versions): GazePlotter
  tests/TobiiRowParser.unitSuffix.test.ts ("Recording timestamp [ms]", "Fixation point X
  [DACS px]": "newer Tobii Pro Lab exports append unit suffixes in square brackets"). The μs
  form "Recording timestamp [μs]" and "Pupil diameter left [mm]" are the forms Pro Lab writes
  when microseconds are chosen; we found them in public readers' code only.
- Tobii Studio: elab-umn/eyeQuality R/renameColumns.R ("RecordingTimestamp", "GazePointLeftX
  (ADCSpx)", "EyePosLeftZ (ADCSmm)", "PupilLeft", "ValidityLeft", "StudioEvent",
  "StudioEventData", "EyeTrackerTimestamp", "RecordingResolution" written as "W x H",
  "StudioVersionRec"); Human-AI-Interaction-UBC/EMDAT (BSD-2), commit 9844f34f499a,
  src/EMDAT_eyetracker/TobiiV3Recording.py ("ParticipantName", "MediaName", "GazeEventType",
  "GazeEventDuration", "FixationIndex", "SaccadeIndex", "KeyPressEvent", "MouseEvent",
  "DistanceLeft"). Older Studio exports start with a "Name:<TAB>value" preamble (EMDAT's
  src/sampledata/TobiiV2/P63-All-Data.tsv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DISPLAY_PX = (1920, 1080)  # the TX300 set-up of the public recordings (SOURCE.txt)

PRO_LAB_NEW = [
    "Recording timestamp [μs]", "Computer timestamp [μs]", "Sensor", "Participant name", "Recording name",
    "Recording resolution height [px]", "Recording resolution width [px]", "Recording software version",
    "Eyetracker timestamp [μs]", "Event", "Event value", "Gaze point X [DACS px]", "Gaze point Y [DACS px]",
    "Gaze point left X [DACS px]", "Gaze point left Y [DACS px]", "Gaze point right X [DACS px]",
    "Gaze point right Y [DACS px]", "Pupil diameter left [mm]", "Pupil diameter right [mm]", "Validity left",
    "Validity right", "Eye position left Z [DACS mm]", "Eye position right Z [DACS mm]", "Eye movement type",
    "Gaze event duration [ms]", "Eye movement type index",
]
PRO_LAB_OLD = [
    "Recording timestamp", "Computer timestamp", "Sensor", "Participant name", "Recording name",
    "Recording resolution height", "Recording resolution width", "Recording software version", "Eyetracker timestamp",
    "Event", "Event value", "Gaze point X", "Gaze point Y", "Gaze point left X", "Gaze point left Y",
    "Gaze point right X", "Gaze point right Y", "Pupil diameter left", "Pupil diameter right", "Validity left",
    "Validity right", "Eye position left Z (DACSmm)", "Eye position right Z (DACSmm)", "Eye movement type",
    "Gaze event duration", "Eye movement type index",
]
STUDIO = [
    "ExportDate", "StudioVersionRec", "StudioProjectName", "StudioTestName", "ParticipantName", "RecordingName",
    "RecordingDate", "RecordingDuration", "RecordingResolution", "MediaName", "RecordingTimestamp", "LocalTimeStamp",
    "EyeTrackerTimestamp", "MouseEventIndex", "MouseEvent", "KeyPressEventIndex", "KeyPressEvent", "StudioEventIndex",
    "StudioEvent", "StudioEventData", "FixationIndex", "SaccadeIndex", "GazeEventType", "GazeEventDuration",
    "GazePointIndex", "GazePointLeftX (ADCSpx)", "GazePointLeftY (ADCSpx)", "GazePointRightX (ADCSpx)",
    "GazePointRightY (ADCSpx)", "GazePointX (ADCSpx)", "GazePointY (ADCSpx)", "EyePosLeftX (ADCSmm)",
    "EyePosLeftY (ADCSmm)", "EyePosLeftZ (ADCSmm)", "EyePosRightX (ADCSmm)", "EyePosRightY (ADCSmm)",
    "EyePosRightZ (ADCSmm)", "DistanceLeft", "DistanceRight", "PupilLeft", "PupilRight", "ValidityLeft", "ValidityRight",
]


def tx300(path: Path) -> dict:
    """The columns of one TX300 SDK log (numbers as written)."""
    lines = path.read_text().splitlines()
    head = lines[0].split("\t")
    data = np.array([[float(x) for x in ln.split("\t")] for ln in lines[1:]])
    return {h: data[:, i] for i, h in enumerate(head)}


def _fmt(v: float, decimals: int, comma: bool) -> str:
    s = f"{v:.{decimals}f}"
    return s.replace(".", ",") if comma else s


def pro_lab_rows(d: dict, participant: str, recording: str, header: list, *, unit: str = "μs", comma: bool = False,
                 gaze: str = "px", extras: bool = True) -> list[dict]:
    """Rows (dicts by column name) of one recording as Pro Lab writes them; every 100th sample
    is followed by a Mouse row and an event row with an empty Sensor (not gaze)."""
    t0 = d["Time"][0]
    rows = []
    for i in range(len(d["Time"])):
        rel = d["Time"][i] - t0
        ts = _fmt(rel, 0, False) if unit == "μs" else _fmt(rel / 1000.0, 3, comma)
        r = {header[0]: ts, "Sensor": "Eye Tracker", "Participant name": participant, "Recording name": recording,
             header[5]: str(DISPLAY_PX[1]), header[6]: str(DISPLAY_PX[0]), "Recording software version": "1.241"}
        both_lost = True
        for eye, p in (("left", "L"), ("right", "R")):
            ok = d[f"{p}Validity"][i] <= 1
            both_lost &= not ok
            r[f"Validity {eye}"] = "Valid" if ok else "Invalid"
            names = [h for h in header if h.startswith((f"Gaze point {eye} X", f"Gaze point {eye} Y",
                                                        f"Pupil diameter {eye}"))]
            gx, gy, pup = names
            if ok:
                scale = DISPLAY_PX if gaze == "px" else (1.0, 1.0)
                r[gx] = _fmt(d[f"{p}GazePos2dx"][i] * scale[0], 1 if gaze == "px" else 5, comma)
                r[gy] = _fmt(d[f"{p}GazePos2dy"][i] * scale[1], 1 if gaze == "px" else 5, comma)
                r[pup] = _fmt(d[f"{p}PupilDm"][i], 3, comma)
        r["Eye movement type"] = "EyesNotFound" if both_lost else "Unclassified"
        rows.append(r)
        if extras and i % 100 == 50:
            rows.append({header[0]: ts, "Sensor": "Mouse", "Participant name": participant, "Recording name": recording})
            rows.append({header[0]: ts, "Sensor": "", "Participant name": participant, "Recording name": recording,
                         "Event": "KeyboardEvent", "Event value": "space"})
    return rows


def studio_rows(d: dict, participant: str, recording: str, *, validity: bool = True, comma: bool = False) -> list[dict]:
    """Rows of one recording as Tobii Studio writes them: RecordingTimestamp in whole ms from the
    recording's start, gaze in ADCS px, empty cells where the eye was not found; every 150th
    sample is followed by a StudioEvent row without gaze."""
    t0 = d["Time"][0]
    rows = []
    for i in range(len(d["Time"])):
        r = {"ParticipantName": participant, "RecordingName": recording, "StudioVersionRec": "3.4.8",
             "RecordingResolution": f"{DISPLAY_PX[0]} x {DISPLAY_PX[1]}", "MediaName": "stimulus.png",
             "RecordingTimestamp": str(int(round((d["Time"][i] - t0) / 1000.0))),
             "EyeTrackerTimestamp": str(int(d["Time"][i])), "GazePointIndex": str(i)}
        for eye, p in (("Left", "L"), ("Right", "R")):
            code = int(d[f"{p}Validity"][i])
            if validity:
                r[f"Validity{eye}"] = str(code)
            if code <= 1:
                r[f"GazePoint{eye}X (ADCSpx)"] = _fmt(d[f"{p}GazePos2dx"][i] * DISPLAY_PX[0], 0, comma)
                r[f"GazePoint{eye}Y (ADCSpx)"] = _fmt(d[f"{p}GazePos2dy"][i] * DISPLAY_PX[1], 0, comma)
                r[f"Pupil{eye}"] = _fmt(d[f"{p}PupilDm"][i], 2, comma)
                r[f"EyePos{eye}Z (ADCSmm)"] = _fmt(d[f"{p}EyePos3dz"][i], 1, comma)
        rows.append(r)
        if i % 150 == 75:
            rows.append({"ParticipantName": participant, "RecordingName": recording,
                         "RecordingTimestamp": r["RecordingTimestamp"], "StudioEventIndex": "1",
                         "StudioEvent": "ImageStart", "StudioEventData": "stimulus.png"})
    return rows


def write(path: Path, header: list, rows: list[dict], *, delimiter: str = "\t", encoding: str = "utf-8",
          preamble: str = "") -> Path:
    """The table as text. Cells holding the delimiter are quoted as the tools do."""
    def cell(v):
        v = str(v)
        return f'"{v}"' if delimiter in v else v

    text = preamble + delimiter.join(header) + "\n"
    text += "".join(delimiter.join(cell(r.get(h, "")) for h in header) + "\n" for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


def tool_layouts(sdk_log: Path, out_dir: Path) -> dict[str, Path]:
    """The SDK log as written by each tool: {"sdk", "pro-lab", "studio"} -> file."""
    d = tx300(sdk_log)
    return {"sdk": sdk_log,
            "pro-lab": write(out_dir / f"{sdk_log.stem}.prolab.tsv", PRO_LAB_NEW,
                             pro_lab_rows(d, "P1", "R1", PRO_LAB_NEW)),
            "studio": write(out_dir / f"{sdk_log.stem}.studio.csv", STUDIO, studio_rows(d, "P1", "R1"),
                            delimiter=",")}
