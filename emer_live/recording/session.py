"""A recording session: the Qt-free object the app and `emer-live run --record` drive.

    session = RecordingSession(folder, participant="P07", consent=True, devices=..., model_card=card)
    runner = LiveRunner(..., sinks=[session.sink])      # frames, gaze, crops, predictions, events
    session.begin_stimulus("clip 3"); ...; session.end_stimulus()
    session.add_self_assessment(valence=3, arousal=7, emotion7="sadness")   # SAM after the clip
    session.add_marker("artifact")
    session.close()

Every call only enqueues; the SessionWriter thread does the disk work.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from emer_live import __version__
from emer_live.clock import ClockMapping, now_ns
from emer_live.errors import RecordingError
from emer_live.labels import EMOTIONS_7
from emer_live.log_setup import SessionLog
from emer_live.recording import layout as L
from emer_live.recording.filelayer import FileLayer
from emer_live.recording.markers import MarkerConfig, check_label
from emer_live.recording.repair import trim_torn_tails
from emer_live.recording.self_assessment import er_segment
from emer_live.recording.session_writer import SessionWriter, json_default


RESERVE_BYTES = 128 * 1024


def _utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def check_participant(participant: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", participant or ""):
        raise RecordingError(f"Participant pseudonym {participant!r} must be 1-64 letters, digits, '_', '-' or '.' "
                             "(a pseudonym, never a real name)")
    return participant


def new_session_folder(root: str | Path, participant: str) -> Path:
    """Create and return ROOT/PARTICIPANT_YYYYmmdd-HHMMSS (with a suffix _2, _3... if that name is
    taken). Created here, exclusively: two recorders started in the same second into the same
    folder each get their own."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{check_participant(participant)}_{stamp}"
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            folder = base if n == 1 else base.with_name(f"{base.name}_{n}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as e:
        raise RecordingError(f"Cannot create a session folder in {root}: {e.strerror or e}") from None
    raise RecordingError(f"Cannot create a session folder in {root}: 999 sessions named {base.name} exist")


def _card_recipe(card) -> Optional[dict]:
    """The crop recipe the session's face crops are made with (the model card's)."""
    recipe = getattr(card, "crop_recipe", None)
    return recipe.to_card() if recipe is not None else None


class RecorderSink:
    """A pipeline sink (see pipeline/live.py): every method only enqueues."""

    def __init__(self, writer: SessionWriter, on_first_gaze: Optional[Callable[[], None]] = None):
        self._w = writer
        self._on_first_gaze = on_first_gaze

    def on_frame(self, frame, face_result=None) -> None:
        if face_result is None:
            status, n_faces, box, crop = "", None, None, None
        else:
            status, n_faces, box = face_result.status, face_result.n_faces, face_result.box
            crop = getattr(face_result, "crop", None)
            crop = None if not hasattr(face_result, "crop") else int(crop is not None)  # a usable crop was given
        self._w.submit("frame", frame.index, frame.host_ns, frame.media_ms, frame.image, status, n_faces, box, crop)

    def on_face_crop(self, frame_index: int, host_ns: int, crop_rgb) -> None:
        self._w.submit("crop", frame_index, crop_rgb)  # the window model's crop: uint8 RGB

    def on_frame_fer(self, fer) -> None:
        """frame_fer.csv: the face network's per-frame FER; empty probabilities where no face crop."""
        p = fer.probs7
        cells = [""] * 7 if p is None else [f"{float(v):.5f}" for v in p]
        self._w.submit("csv", L.FRAME_FER_CSV, [fer.frame_index, fer.host_ns, fer.face, fer.n_faces, *cells])

    def on_gaze(self, sample) -> None:
        if self._on_first_gaze is not None:
            first, self._on_first_gaze = self._on_first_gaze, None
            first()
        self._w.submit("gaze", sample.host_ns, sample.device_us, sample.system_us, sample.values)

    def on_prediction(self, prediction) -> None:
        self._w.submit("jsonl", L.PREDICTIONS_JSONL, prediction)

    def on_event(self, event) -> None:
        self._w.submit("jsonl", L.EVENTS_JSONL, {"host_ns": event.host_ns, "source": event.source,
                                                  "kind": event.kind, "message": event.message, "data": event.data})

    def on_window_skipped(self, reason: str, window_end_ns: int) -> None:
        """A window the pipeline skipped, and why: a review rebuilds the skip counts the live window showed."""
        self._w.submit("jsonl", L.EVENTS_JSONL, {"host_ns": int(window_end_ns), "source": "pipeline",
                                                  "kind": "window_skipped", "message": reason, "data": {}})


class RecordingSession:
    def __init__(self, folder: str | Path, participant: str, consent: bool, devices: Optional[dict] = None,
                 model_card=None, marker_config: Optional[MarkerConfig] = None, notes: str = "",
                 pipeline: Optional[dict] = None,
                 fs: Optional[FileLayer] = None, on_error: Optional[Callable[[RecordingError], None]] = None,
                 **writer_options):
        if consent is not True:
            raise RecordingError("Recording needs the participant's recorded consent (confirm it, e.g. --consent)")
        self.folder = Path(folder)
        self.fs = fs or FileLayer()
        # Told (from the writer thread, within milliseconds) when recording stops on a write error:
        # the run command prints it and may stop the run, the window shows a banner.
        self.error_listeners: list[Callable[[RecordingError], None]] = [on_error] if on_error else []
        self.markers = marker_config or MarkerConfig()
        # Called with (text, host_ns) for every marker and stimulus onset/offset (e.g. LslOutlets.push_marker).
        self.marker_listeners: list[Callable[[str, int], None]] = []
        self._lock = threading.Lock()
        self._stimulus: Optional[tuple[str, int]] = None  # (name, onset_ns) while one runs
        self._last_stimulus: Optional[tuple[str, int, int]] = None  # (name, onset, offset)
        if self.folder.exists() and any(self.folder.iterdir()):
            raise RecordingError(f"Session folder {self.folder} already holds files; choose a new folder")
        self.meta = {
            "schema": L.SESSION_SCHEMA,
            "session_id": uuid.uuid4().hex,
            "participant": check_participant(participant),
            "consent": {"given": True, "recorded_utc": _utc()},
            "created_utc": _utc(),
            "started_host_ns": now_ns(),
            "started_unix_ns": time.time_ns(),  # ties wall-clock times (labels from other software) to host_ns
            "host_clock": "time.monotonic_ns() of the recording machine, nanoseconds; every host_ns column uses it",
            "app_version": __version__,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "devices": devices or {},
            "model": None,
            "pipeline": pipeline or {},  # e.g. update_hz, so a replay rebuilds the same windows
            "markers": self.markers.as_dict(),
            "video": {"format": "concatenated JPEG frames (MJPEG stream)", "index": L.FRAMES_CSV,
                      "jpeg_quality": writer_options.get("jpeg_quality", 90)},
            "face_crops": {"format": "PNG, RGB, 8-bit, the crops the window model saw (placed by the landmark "
                                     "template; with fer_box detector the per-frame FER read a crop of its own)",
                           "naming": "FRAME_INDEX (8 digits).png",
                           "recipe": _card_recipe(model_card)},
            "frame_fer": {"file": L.FRAME_FER_CSV, "classes": list(EMOTIONS_7),
                          "source": (getattr(model_card, "expression", None) or {}).get("source")},
            "notes": notes,
            "closed": False,
        }
        try:
            for sub in ("", L.VIDEO_DIR, L.FACE_CROPS_DIR):
                self.fs.makedirs(self.folder / sub)
            if model_card is not None:
                card_bytes = Path(model_card.path).read_bytes()
                self.fs.write_new(self.folder / L.MODEL_CARD_COPY, card_bytes)
                self.meta["model"] = {"name": model_card.name, "card_file": L.MODEL_CARD_COPY,
                                      "card_sha256": model_card.sha256(), "source_path": str(model_card.path),
                                      "window_s": model_card.window_s,
                                      "provenance": model_card.provenance_summary,
                                      "provenance_kind": model_card.data.get("provenance", {}).get("kind", "")}
            self._write_meta()
            # Room kept for session.json's last words: on a full disk it is freed so the stop reason
            # and the closed flag still reach the disk (see _write_meta_when_full).
            self.fs.reserve(self.folder / L.SPACE_RESERVE, RESERVE_BYTES)
        except OSError as e:
            raise RecordingError(f"Cannot create session folder {self.folder}: {e.strerror or e}") from None
        self.writer = SessionWriter(self.folder, fs=self.fs, on_error=self._writer_failed, **writer_options)
        self.writer.start()
        self.log = SessionLog(self.folder)  # what went wrong while this session ran, tracebacks included
        self.log.open()
        self.sink = RecorderSink(self.writer, on_first_gaze=self._gaze_started)
        self._sources: tuple = ()

    # --- metadata ----------------------------------------------------------------------------
    def _write_meta(self) -> None:
        self.fs.replace_atomic(self.folder / L.SESSION_JSON, (json.dumps(self.meta, indent=2, default=json_default) + "\n").encode())

    def _write_meta_when_full(self) -> None:
        """_write_meta; on a write error, free the reserved space and try once more."""
        try:
            self._write_meta()
        except OSError:
            if not self.fs.remove(self.folder / L.SPACE_RESERVE):
                raise
            self._write_meta()

    @property
    def error(self) -> Optional[RecordingError]:
        return self.writer.error

    def _writer_failed(self, err: RecordingError) -> None:
        """Mark session.json with the reason while the disk may still take it, then tell listeners."""
        with self._lock:
            self.meta["recording_error"] = {"message": str(err), "reason": getattr(err, "reason", str(err)),
                                            "host_ns": now_ns(), "utc": _utc()}
            try:
                self._write_meta_when_full()
            except OSError:
                pass  # a full disk or a vanished folder: the message still reaches the user
        for listener in list(self.error_listeners):
            try:
                listener(err)
            except Exception:  # a listener's bug must not take the writer thread's report with it
                pass

    def watch_sources(self, frame_source, gaze_source) -> None:
        """Keep the sources' facts current: a tracker's clock mapping is known only once it is
        open (recorded at its first sample), serials and real rates are refreshed at close."""
        self._sources = (("frame_source", frame_source), ("gaze_source", gaze_source))

    def _gaze_started(self) -> None:
        for _, src in self._sources:
            mapping = getattr(src, "mapping", None)
            if isinstance(mapping, ClockMapping):
                self.set_clock_mapping(mapping)

    def set_clock_mapping(self, mapping: ClockMapping, host_ns: Optional[int] = None) -> None:
        self.writer.submit("jsonl", L.CLOCK_JSONL, {"host_ns": host_ns or now_ns(), **mapping.as_dict()})

    def add_calibration(self, kind: str, result: dict, host_ns: Optional[int] = None) -> None:
        """Eye-tracker calibration or validation results (kind: "calibration" | "validation")."""
        self.writer.submit("jsonl", L.CALIBRATION_JSONL, {"host_ns": host_ns or now_ns(), "kind": kind, **result})

    # --- markers, stimuli, self-assessment ----------------------------------------------------
    def add_marker(self, label: str, host_ns: Optional[int] = None) -> int:
        t = host_ns or now_ns()
        label = check_label(label)
        self.writer.submit("csv", L.MARKERS_CSV, [t, L.MARKER, label, ""])
        self._tell(label, t)
        return t

    def _tell(self, text: str, t: int) -> None:
        for listener in self.marker_listeners:
            listener(text, t)

    def add_hotkey(self, key: str, host_ns: Optional[int] = None) -> Optional[int]:
        label = self.markers.label_for_key(key)
        return self.add_marker(label, host_ns) if label else None

    def begin_stimulus(self, name: str, host_ns: Optional[int] = None) -> int:
        t = host_ns or now_ns()
        name = check_label(name)
        with self._lock:
            if self._stimulus is not None:
                raise RecordingError(f"Stimulus {self._stimulus[0]!r} is still running; end it first")
            self._stimulus = (name, t)
        self.writer.submit("csv", L.MARKERS_CSV, [t, L.STIMULUS_ONSET, name, name])
        self._tell(f"{L.STIMULUS_ONSET}:{name}", t)
        return t

    def end_stimulus(self, host_ns: Optional[int] = None) -> int:
        t = host_ns or now_ns()
        with self._lock:
            if self._stimulus is None:
                raise RecordingError("No stimulus is running")
            name, onset = self._stimulus
            self._stimulus, self._last_stimulus = None, (name, onset, t)
        self.writer.submit("csv", L.MARKERS_CSV, [t, L.STIMULUS_OFFSET, name, name])
        self._tell(f"{L.STIMULUS_OFFSET}:{name}", t)
        return t

    def add_self_assessment(self, valence: int, arousal: int, emotion7: str, host_ns: Optional[int] = None,
                            start_ns: Optional[int] = None, end_ns: Optional[int] = None) -> L.LabelledSegment:
        """SAM answer for the last ended stimulus (or an explicit segment); written to
        self_assessment.csv and, as the segment's ER label, to labels.csv."""
        with self._lock:
            last = self._last_stimulus
        if start_ns is None or end_ns is None:
            if last is None:
                raise RecordingError("No stimulus has ended yet: give start_ns and end_ns for this self-assessment")
            name, start_ns, end_ns = last
        else:
            name = ""
        seg = er_segment(start_ns, end_ns, valence, arousal, emotion7)
        t = host_ns or now_ns()
        self.writer.submit("csv", L.SELF_ASSESSMENT_CSV, [t, name, start_ns, end_ns, valence, arousal, emotion7])
        self.writer.submit("csv", L.LABELS_CSV, seg.as_row())
        return seg

    # --- end ------------------------------------------------------------------------------------
    def stats(self) -> dict:
        return self.writer.stats()

    def close(self, stop_reason: str = "stopped") -> dict:
        """Stop writing, sync everything, and mark the session closed with why it stopped
        (e.g. "end_of_input", "duration", "signal SIGTERM"; a write error overrides it). Returns the
        writer stats."""
        with self._lock:
            running = self._stimulus
        if running is not None:
            self.end_stimulus()
        self.writer.close()
        self.log.close()
        stats = self.writer.stats()
        for key, src in self._sources:
            if src is not None:
                self.meta["devices"][key] = src.info()
        failed = self.writer.error is not None
        self.meta.update({"closed": True, "ended_utc": _utc(), "ended_host_ns": now_ns(), "writer": stats,
                          "ended_by": "recording_error" if failed else "close",
                          "stop_reason": "recording_error" if failed else str(stop_reason)})
        try:
            trim_torn_tails(self.folder)
            self._write_meta_when_full()
            self.fs.remove(self.folder / L.SPACE_RESERVE)
        except OSError as e:
            if self.writer.error is None:
                raise RecordingError(f"Session {self.folder}: could not update {L.SESSION_JSON}: {e.strerror or e}") from None
        return stats

    def discard(self) -> bool:
        """Remove the folder of a session that recorded no frame and no gaze sample (a start that
        failed): an empty folder marked closed would pass for a recording. True if removed."""
        self.writer.close()
        self.log.close()
        if self.writer.written.get("frame") or self.writer.written.get("gaze"):
            return False
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)
        return not self.folder.exists()
