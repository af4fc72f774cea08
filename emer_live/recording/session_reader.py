"""Read a session folder (see docs/session-format.md). numpy, csv, json and cv2 only: the
training environment imports this too.

Tolerant by design: a session cut off by a crash or power cut has a torn last line in its tables,
a torn last JPEG or PNG, rows whose bytes never reached the disk. All of those are skipped, so
every session that has a usable session.json opens. A malformed row anywhere else (a cell a
spreadsheet re-saved as 3.75E+11, a line that is not a JSON object) is skipped too, counted in
`skipped` and described in `problems` (file and line), for the commands to warn about.
Opening a crashed session (closed: false) that no process is writing any more trims the torn
last lines from its tables, so third-party readers (pandas) see only whole rows.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from emer_live.errors import RecordingError
from emer_live.recording import layout as L
from emer_live.recording.layout import LabelledSegment
from emer_live.recording.repair import being_written, trim_torn_tails
from emer_live.recording.session_meta import check_meta
from emer_live.recording.untrusted import INT64_MAX, UnsafePath, file_size, inside, open_regular, plain_size, read_bytes

_EMPTY_CELL = re.compile(r"(?<=,)(?=,|$)|^(?=,)", re.M)


def _complete_text(path: Path) -> str:
    """The file's text up to its last newline (a torn last line is dropped); '' if absent.
    UnsafePath for a link, FIFO or device in its place (see untrusted.py)."""
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return ""
    end = data.rfind(b"\n")
    return data[: end + 1].decode("utf-8", errors="replace") if end >= 0 else ""


def is_float(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _probabilities(p: np.ndarray) -> np.ndarray:
    """Rows that are not probabilities (a cell outside [0, 1], infinite) become NaN: no reading."""
    p[~((p >= 0) & (p <= 1)).all(axis=1) & ~np.isnan(p).all(axis=1)] = np.nan
    return p


class SessionReader:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / L.SESSION_JSON
        if not self.path.is_dir() or not (meta_path.is_file() or meta_path.is_symlink()):
            raise RecordingError(f"{self.path} is not a recorded session (no {L.SESSION_JSON} in it)")
        try:
            self.meta = json.loads(read_bytes(meta_path).decode("utf-8"))
        except UnsafePath as e:
            raise RecordingError(f"Session metadata: {e}") from None
        except UnicodeDecodeError as e:
            raise RecordingError(f"Session metadata {meta_path} is not UTF-8 text (byte {e.start}): "
                                 "not a session this app wrote, or damaged") from None
        except json.JSONDecodeError as e:
            raise RecordingError(f"Session metadata {meta_path} line {e.lineno}: not valid JSON ({e.msg})") from None
        except (OSError, ValueError, RecursionError) as e:
            raise RecordingError(f"Session metadata {meta_path} is unreadable: {e}") from None
        check_meta(self.meta, meta_path)
        self.skipped: collections.Counter = collections.Counter()  # file name -> malformed rows skipped
        self.problems: list[str] = []  # "FILE line N: what is wrong; row skipped" (the first few per file)
        self.trimmed: dict[str, int] = {}  # torn tails cut on open: file name -> bytes
        self._seen: set = set()
        self._gaze: Optional[dict] = None
        if not self.meta.get("closed") and not being_written(self.path):
            try:
                self.trimmed = trim_torn_tails(self.path)
            except OSError:
                pass  # read-only media: the readers below skip torn lines anyway
        self._frames: Optional[dict] = None
        self._video_files: dict[str, int] = {}  # video file name -> open descriptor
        self.crops_read = 0  # face-crop PNGs found on disk ...
        self.crops_damaged = 0  # ... and of those, the ones that did not decode

    def _skip(self, name: str, line: int, why: str) -> None:
        if (name, line, why) in self._seen:
            return  # the same table read again
        self._seen.add((name, line, why))
        self.skipped[name] += 1
        if self.skipped[name] <= 5:
            where = f"{name} line {line}" if line else name
            self.problems.append(f"{where}: {why}; row skipped")

    def how_it_ended(self) -> dict:
        """What session.json says about the end of the recording: closed or not, why it stopped,
        and the write error that stopped it, if any."""
        m = self.meta
        err = m.get("recording_error") or {}
        return {"closed": bool(m.get("closed")), "stop_reason": m.get("stop_reason") or m.get("ended_by"),
                "recording_error": err.get("message") if isinstance(err.get("message"), str) else None}

    def ending_warnings(self) -> list[str]:
        end = self.how_it_ended()
        out = []
        if end["recording_error"]:
            out.append(f"the recording stopped on a write error: {end['recording_error']}")
        if not end["closed"]:
            out.append("the recording was never closed (the recorder was killed, crashed or lost power): "
                       "it ends at its last complete rows")
        return out

    def warnings(self) -> list[str]:
        """One line per problem found so far, plus a count where more were skipped than described."""
        out = list(self.problems)
        for name, n in self.skipped.items():
            if n > 5:
                out.append(f"{name}: {n} malformed rows skipped in all")
        return out

    def close(self) -> None:
        for fd in self._video_files.values():
            os.close(fd)
        self._video_files.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- generic tables ---------------------------------------------------------------------
    def table(self, name: str, ints: tuple = (), floats: tuple = ()) -> list[dict]:
        """Rows of a CSV table as dicts of strings, the columns in `ints` as int and in `floats`
        as float (NaN when empty). Rows with the wrong number of cells or a cell that does not
        parse are skipped and counted."""
        text = self._text(name)
        if not text:
            return []
        rows = csv.reader(io.StringIO(text))
        try:
            header = next(rows, None)
        except csv.Error:
            header = None
        if not header:
            return []
        out = []
        while True:
            try:
                r = next(rows)
            except StopIteration:
                break
            except csv.Error as e:
                self._skip(name, rows.line_num, f"not a CSV row ({e})")
                continue
            if len(r) != len(header):
                self._skip(name, rows.line_num, f"{len(r)} cells where the header has {len(header)}")
                continue
            d = dict(zip(header, r))
            try:
                for k in ints:
                    d[k] = int(d[k])
                    if not -INT64_MAX <= d[k] <= INT64_MAX:
                        raise OverflowError(k)
                for k in floats:
                    d[k] = float(d[k]) if d[k] != "" else np.nan
            except OverflowError as e:
                self._skip(name, rows.line_num, f"{e} {d[str(e)]} is out of range (beyond 64 bits)")
                continue
            except (ValueError, KeyError):
                bad = next(k for k in (*ints, *floats) if not isinstance(d.get(k), (int, float)))
                kind = "a whole number" if bad in ints else "a number"
                self._skip(name, rows.line_num, f"{bad} {d.get(bad)!r} is not {kind}")
                continue
            out.append(d)
        return out

    def jsonl(self, name: str) -> list[dict]:
        """The objects of a JSON Lines file; lines that are not JSON objects are skipped and counted."""
        out = []
        for n, line in enumerate(self._text(name).splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                self._skip(name, n, "not valid JSON")
                continue
            if not isinstance(obj, dict):
                self._skip(name, n, f"a JSON {type(obj).__name__}, not an object")
                continue
            out.append(obj)
        return out

    def _text(self, name: str) -> str:
        """A session file's complete lines; '' (and a warning) when it is a link or not a plain file."""
        try:
            return _complete_text(inside(self.path, name))
        except UnsafePath as e:
            self._skip(name, 0, f"not read: {e}")
            return ""
        except OSError as e:
            self._skip(name, 0, f"not read: {e.strerror or e}")
            return ""

    # --- streams ----------------------------------------------------------------------------
    def gaze_table(self) -> dict:
        """host_ns int64 (N,), device_us / system_us float64 (N,) NaN where absent, raw (N,30)."""
        if self._gaze is None:
            self._gaze = self._read_gaze()
        return self._gaze

    def _read_gaze(self) -> dict:
        text = self._text(L.GAZE_CSV)
        lines = text.split("\n")[1:-1] if text else []
        n_cells = len(L.GAZE_COLUMNS)
        numbered = [(i + 2, ln) for i, ln in enumerate(lines)]  # line 1 is the header
        good = [ln for _, ln in numbered if ln.count(",") == n_cells - 1]
        if len(good) != len(lines):
            for n, ln in numbered:
                if ln.count(",") != n_cells - 1:
                    self._skip(L.GAZE_CSV, n, f"{ln.count(',') + 1} cells where the header has {n_cells}")
        if not good:
            return {"host_ns": np.zeros(0, np.int64), "device_us": np.zeros(0), "system_us": np.zeros(0),
                    "raw": np.zeros((0, 30))}
        try:  # the fast path: every cell parses
            host = np.array([int(ln[: ln.index(",")]) for ln in good], dtype=np.int64)
            body = _EMPTY_CELL.sub("nan", "\n".join(good)).replace("\n", ",")
            vals = np.array(body.split(","), dtype=np.float64).reshape(len(good), n_cells)
        except (ValueError, OverflowError):
            host, vals = self._gaze_rows_one_by_one([(n, ln) for n, ln in numbered if ln.count(",") == n_cells - 1])
        vals[~np.isfinite(vals)] = np.nan  # an infinite cell is as unusable as an empty one
        return {"host_ns": host, "device_us": vals[:, 1], "system_us": vals[:, 2], "raw": vals[:, 3:]}

    def _gaze_rows_one_by_one(self, numbered: list) -> tuple[np.ndarray, np.ndarray]:
        hosts, rows = [], []
        for n, ln in numbered:
            cells = ln.split(",")
            try:
                host = int(cells[0])
                if not -INT64_MAX <= host <= INT64_MAX:
                    raise ValueError
            except ValueError:
                self._skip(L.GAZE_CSV, n, f"host_ns {cells[0]!r} is not a whole number")
                continue
            try:
                rows.append([float(c) if c else np.nan for c in cells])
            except ValueError:
                bad = next(c for c in cells if c and not is_float(c))
                self._skip(L.GAZE_CSV, n, f"{bad!r} is not a number")
                continue
            hosts.append(host)
        return np.array(hosts, np.int64), np.array(rows, np.float64).reshape(len(rows), len(L.GAZE_COLUMNS))

    def gaze(self) -> tuple[np.ndarray, np.ndarray]:
        g = self.gaze_table()
        return g["host_ns"], g["raw"]

    def frames(self) -> dict:
        """The frame table as numpy columns, only frames whose JPEG bytes are on disk:
        frame_index, host_ns (int64), media_ms (float, NaN), video_file, byte_offset, byte_length,
        face_status (str), n_faces (float, NaN), box (N,4) float px (NaN where no face)."""
        if self._frames is None:
            boxes = ("box_x0", "box_y0", "box_x1", "box_y1")
            rows = self.table(L.FRAMES_CSV, ints=("frame_index", "host_ns", "byte_offset", "byte_length"),
                              floats=("media_ms", "n_faces", *boxes))
            sizes: dict[str, int] = {}

            def on_disk(r) -> bool:
                name = r["video_file"]
                if name not in sizes:
                    try:
                        sizes[name] = file_size(inside(self.path, name))
                    except FileNotFoundError:
                        sizes[name] = 0  # frames whose bytes never reached the disk: skipped quietly
                    except (UnsafePath, OSError) as e:
                        sizes[name] = -1
                        self._skip(L.FRAMES_CSV, 0, f"video_file {e}")
                if sizes[name] < 0:
                    return False
                if r["byte_offset"] < 0 or r["byte_length"] <= 0:
                    self._skip(L.FRAMES_CSV, 0, f"frame {r['frame_index']}: byte_offset {r['byte_offset']} / "
                                                f"byte_length {r['byte_length']} is not a place in a file")
                    return False
                return r["byte_offset"] + r["byte_length"] <= sizes[name]

            rows = [r for r in rows if on_disk(r)]
            box = np.array([[r[k] for k in boxes] for r in rows], np.float64).reshape(-1, 4)
            box[~np.isfinite(box).all(axis=1)] = np.nan  # a box with an infinite corner is no box
            media = np.array([r["media_ms"] for r in rows], np.float64)
            media[~np.isfinite(media)] = np.nan
            n_faces = np.array([r["n_faces"] for r in rows], np.float64)
            n_faces[~(np.isfinite(n_faces) & (n_faces >= 0))] = np.nan
            self._frames = {
                "frame_index": np.array([r["frame_index"] for r in rows], np.int64),
                "host_ns": np.array([r["host_ns"] for r in rows], np.int64),
                "media_ms": media,
                "video_file": [r["video_file"] for r in rows],
                "byte_offset": np.array([r["byte_offset"] for r in rows], np.int64),
                "byte_length": np.array([r["byte_length"] for r in rows], np.int64),
                "face_status": [r["face_status"] for r in rows],
                "n_faces": n_faces,
                "box": box,
                # 1 where the live face stage gave a usable crop, 0 where not, NaN if unknown
                # (face stage skipped the frame, or a session written before this column)
                "face_crop": np.array([float(r["face_crop"]) if r.get("face_crop") in ("0", "1") else np.nan
                                       for r in rows], np.float64),
            }
        return self._frames

    def frame_image(self, row: int) -> Optional[np.ndarray]:
        """The BGR image of the frame table's row `row`; None if its JPEG is torn."""
        t = self.frames()
        name = t["video_file"][row]
        fd = self._video_files.get(name)
        if fd is None:  # frames() checked the name; a file swapped for a link since then is refused here
            try:
                fd = self._video_files[name] = open_regular(inside(self.path, name))
            except OSError:
                return None
        data = os.pread(fd, int(t["byte_length"][row]), int(t["byte_offset"][row]))
        if not data:
            return None
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def frame_fer(self) -> dict:
        """frame_fer.csv as numpy columns: frame_index, host_ns (int64), face_status (str),
        n_faces (int), probs7 (N,7) over labels.EMOTIONS_7, NaN where the frame had no face crop.
        Empty columns for a session recorded before per-frame FER existed."""
        pcols = L.FRAME_FER_COLUMNS[4:]
        rows = self.table(L.FRAME_FER_CSV, ints=("frame_index", "host_ns"), floats=("n_faces", *pcols))
        return {"frame_index": np.array([r["frame_index"] for r in rows], np.int64),
                "host_ns": np.array([r["host_ns"] for r in rows], np.int64),
                "face_status": np.array([r["face_status"] for r in rows], dtype=object),
                "n_faces": np.array([int(r["n_faces"]) if np.isfinite(r["n_faces"]) else 0 for r in rows], np.int64),
                "probs7": _probabilities(np.array([[r[c] for c in pcols] for r in rows], np.float64).reshape(len(rows), 7))}

    def predictions(self) -> list[dict]:
        """The recorded windows; a line whose window_end_ns is not a 64-bit whole number is skipped."""
        out = []
        for n, d in enumerate(self.jsonl(L.PREDICTIONS_JSONL)):
            t = d.get("window_end_ns")
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= INT64_MAX:
                self._skip(L.PREDICTIONS_JSONL, 0, f"window_end_ns {t!r} is not a time in nanoseconds")
                continue
            out.append(d)
        return out

    def events(self) -> list[dict]:
        return self.jsonl(L.EVENTS_JSONL)

    def clock_mappings(self) -> list[dict]:
        return self.jsonl(L.CLOCK_JSONL)

    def calibration(self) -> list[dict]:
        return self.jsonl(L.CALIBRATION_JSONL)

    def markers(self) -> list[dict]:
        return self.table(L.MARKERS_CSV, ints=("host_ns",))

    def self_assessment(self) -> list[dict]:
        return self.table(L.SELF_ASSESSMENT_CSV, ints=("host_ns", "onset_ns", "offset_ns", "valence", "arousal"))

    def labels(self) -> list[LabelledSegment]:
        out = []
        for r in self.table(L.LABELS_CSV, ints=("start_ns", "end_ns")):
            try:
                out.append(LabelledSegment.from_row(r))
            except ValueError as e:
                self._skip(L.LABELS_CSV, 0, f"segment {r['start_ns']}-{r['end_ns']}: {e}")
        return out

    # --- face crops -------------------------------------------------------------------------
    def face_crop(self, frame_index: int) -> Optional[np.ndarray]:
        """The (112,112,3) RGB crop the model saw for this frame, or None (no face, or lost)."""
        try:
            data = read_bytes(inside(self.path, f"{L.FACE_CROPS_DIR}/{L.crop_file_name(frame_index)}"))
        except FileNotFoundError:
            return None
        except (OSError, UnsafePath) as e:  # a link or a special file where a crop should be: damaged, not "no face"
            self.crops_read += 1
            self.crops_damaged += 1
            self._skip(L.FACE_CROPS_DIR, 0, f"crop of frame {frame_index} not read: {e}")
            return None
        self.crops_read += 1
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
        if img is None or img.ndim != 3:
            self.crops_damaged += 1
            return None
        return np.ascontiguousarray(img[..., ::-1])

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
        return p if plain_size(p) else None

    def time_range_ns(self) -> tuple[int, int]:
        """First and last host time of any frame or gaze sample."""
        ts = [a for a in (self.frames()["host_ns"], self.gaze()[0]) if len(a)]
        if not ts:
            start = int(self.meta["started_host_ns"])
            return start, start
        return int(min(a[0] for a in ts)), int(max(a[-1] for a in ts))
