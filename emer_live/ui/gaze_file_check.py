"""The sources dialog's check of a recorded gaze file, before it is accepted or remembered: can it
be read (with the column mapping given, if any), and which recordings does it hold, each with the
gaze spec that plays it alone. Qt-free: the same reader as `emer-live gaze-info`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from emer_live.errors import SourceError

MAX_LISTED = 200  # recordings offered in the picker (a folder of many files)


@dataclass
class GazeFileCheck:
    ok: bool
    message: str  # one plain sentence: what the file holds, or why it cannot be used
    recordings: list = field(default_factory=list)  # (label, gaze spec playing that recording alone)


def _dialog_words(message: str) -> str:
    """The reader's advice names command-line options; in the dialog the same thing is a field."""
    return (message.replace("emer-live gaze-info FILE --gaze-columns MAP.json shows what it reads",
                            "Check shows what it reads")
            .replace("pass it with --gaze-columns FILE", "enter it under Column mapping")
            .replace("a --gaze-columns mapping file", "a column mapping file (Column mapping)")
            .replace("--gaze-columns", "Column mapping"))


def check_gaze_file(spec_path: str, columns: str = "") -> GazeFileCheck:
    """spec_path: a file or folder, optionally with a '#participant=ID' selector; columns: the path
    of a column mapping JSON file ('' detects the layout)."""
    from emer_live.sources.tobii_tsv import gaze_files, read_gaze_file, select, split_selector

    spec_path = spec_path.strip()
    if not spec_path:
        return GazeFileCheck(False, "Choose a recorded gaze file (or a folder of them).")
    try:
        file_part, selector = split_selector(spec_path)
        path = Path(file_part).expanduser()
        if not path.exists():
            return GazeFileCheck(False, f"{path}: no such file or folder.")
        paths = gaze_files(path)
        files, problems = [], []
        for f in paths:
            try:
                files.append(read_gaze_file(f, columns.strip() or None))
            except SourceError as e:
                if len(paths) == 1:
                    raise
                problems.append(str(e))  # a folder may hold notes and other tables
        if not files:
            raise SourceError(problems[0] if problems else f"{path}: no gaze file could be read")
        recordings = []
        for gf in files:
            for r in (select(gf, selector) if selector else gf.recordings):
                sel = "&".join(f"{k}={v}" for k, v in (("participant", r.participant), ("recording", r.recording)) if v)
                spec = f"tsv:{gf.path}" + (f"#{sel}" if sel and len(gf.recordings) > 1 else "")
                where = str(gf.path.relative_to(path)) if path.is_dir() else ""
                who = ", ".join(x for x in (where, f"participant {r.participant}" if r.participant else "",
                                            f"recording {r.recording}" if r.recording else "") if x) or "recording"
                recordings.append((f"{who}: {r.duration_s:.1f} s at {r.summary()['rate_hz']:g} Hz", spec))
    except (SourceError, OSError, ValueError) as e:
        return GazeFileCheck(False, _dialog_words(str(e)))
    if not recordings:
        return GazeFileCheck(False, f"{path}: no usable recording")
    skipped = f"; {len(problems)} file(s) not read" if problems else ""
    return GazeFileCheck(True, f"{len(recordings)} recording(s) read{skipped}", recordings[:MAX_LISTED])
