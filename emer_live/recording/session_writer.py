"""Crash-safe, append-only writing of one session folder, off the capture threads.

Producers (pipeline worker threads, the UI) only enqueue: `SessionWriter.submit` never blocks and
never touches the disk. One writer thread appends to the session's files, unbuffered and in the
order the items came, so a killed process leaves every stream complete up to the same moment (a
frame row never lags the predictions made from it); every half second it fsyncs them, which bounds
what a power cut can take. Readers skip a torn last line or frame. Queues are bounded (frames and
crops apart from light rows), so memory stays flat when the disk is slow: what does not fit is
dropped and counted. A write error (disk full, folder gone or read-only) stops the recording at
once: `error` holds a RecordingError with the reason in plain words, `on_error` is told from the
writer thread (within milliseconds), torn tails are trimmed, and what was written stays.
"""

from __future__ import annotations

import collections
import csv
import errno
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from emer_live.errors import RecordingError
from emer_live.recording import layout as L
from emer_live.recording.filelayer import FileLayer
from emer_live.recording.repair import hold_writer_lock, trim_torn_tails

HEAVY_KINDS = ("frame", "crop")


def _num(v) -> str:
    """CSV cell for a number: empty for None/NaN, shortest exact repr otherwise."""
    if v is None:
        return ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    return "" if v != v else repr(v)


_PLAIN_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk became read-only",
    errno.EACCES: "permission to write was taken away",
    errno.EPERM: "permission to write was taken away",
    errno.ENOENT: "the session folder was removed or moved",
    errno.EIO: "the disk reported an input/output error (a drive unplugged or a network share lost?)",
    errno.ENODEV: "the drive is gone",
    errno.ENXIO: "the drive is gone",
    errno.EFBIG: "a file grew past the size this disk allows",
}


def plain_reason(e: OSError) -> str:
    """A write error in words an experimenter understands, with the system's own text after it."""
    words = _PLAIN_REASONS.get(e.errno)
    system = e.strerror or str(e)
    return f"{words} ({system})" if words else system


def json_default(o):
    """numpy values (and anything else odd in a source's event data) as plain JSON."""
    return o.tolist() if hasattr(o, "tolist") else str(o)


class SessionWriter:
    def __init__(self, folder: str | Path, fs: Optional[FileLayer] = None, flush_interval_s: float = 0.5,
                 jpeg_quality: int = 90, video_part_s: float = 300.0, max_pending_heavy: int = 60,
                 max_pending_heavy_bytes: int = 128 << 20,
                 max_pending: int = 200_000, block_when_full: bool = False, on_error: Optional[Callable[[RecordingError], None]] = None):
        self.folder = Path(folder)
        self.fs = fs or FileLayer()
        self.flush_interval_s = flush_interval_s
        self.jpeg_quality = int(jpeg_quality)
        self.video_part_ns = int(video_part_s * 1e9)
        self.max_pending_heavy = max_pending_heavy
        # Raw frames waiting for the encoder: 60 full-HD frames would be 370 MB, so bytes are bounded too.
        self.max_pending_heavy_bytes = max_pending_heavy_bytes
        self._pending_heavy_bytes = 0
        self.max_pending = max_pending
        # Offline runs (files, replays) may wait for the disk instead of dropping; live capture never does.
        self.block_when_full = block_when_full
        self.on_error = on_error
        self.error: Optional[RecordingError] = None
        self.written: collections.Counter = collections.Counter()
        self.dropped: collections.Counter = collections.Counter()
        self.bytes_written = 0
        self.last_sync_ns = 0  # host time of the last completed fsync
        self._q: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._pending_heavy = 0
        self.peak_pending_heavy = 0  # most frames and crops waiting at once (how far the disk lagged)
        self._closing = False
        self._files: dict[str, object] = {}
        self._video_part = -1
        self._video_part_start_ns = 0
        self._video_offset = 0
        self._current = ""  # the file being written, named in a write error
        self._unsynced: list[Path] = []  # whole files (crops) written since the last sync
        self._lock_fd = None  # held while writing: tells other processes this session is live
        self._thread = threading.Thread(target=self._run, name="session-writer", daemon=True)

    # --- producer side (any thread; never blocks) ------------------------------------------
    def start(self) -> None:
        self._lock_fd = hold_writer_lock(self.folder)
        self._thread.start()

    def submit(self, kind: str, *payload) -> bool:
        """Queue one item: "frame", "crop", "gaze", ("csv", name, row) or ("jsonl", name, obj with
        as_dict() or a dict); formatting happens on the writer thread.
        Returns False (and counts a drop) when stopped, failed or the queue is full."""
        heavy = kind in HEAVY_KINDS
        key = payload[0] if kind in ("csv", "jsonl") else kind
        image = payload[3] if kind == "frame" and len(payload) > 3 else payload[1] if kind == "crop" and len(payload) > 1 else None
        size = getattr(image, "nbytes", 0)
        with self._cv:
            if self.block_when_full:
                self._cv.wait_for(lambda: self._closing or self.error is not None or not self._full(heavy, size))
            if self._closing or self.error is not None or self._full(heavy, size):
                self.dropped[key] += 1
                return False
            self._pending_heavy += heavy
            self._pending_heavy_bytes += size
            self.peak_pending_heavy = max(self.peak_pending_heavy, self._pending_heavy)
            self._q.append((kind, payload))
            self._cv.notify_all()
        return True

    def _full(self, heavy: bool, size: int = 0) -> bool:
        if len(self._q) >= self.max_pending:
            return True
        return heavy and self._pending_heavy > 0 and (self._pending_heavy >= self.max_pending_heavy or
                                                      self._pending_heavy_bytes + size > self.max_pending_heavy_bytes)

    @property
    def pending(self) -> int:
        return len(self._q)

    def close(self, timeout: float = 30.0) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._release_lock()

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def stats(self) -> dict:
        return {"written": dict(self.written), "dropped": dict(self.dropped), "pending": self.pending,
                "peak_pending_heavy": self.peak_pending_heavy,
                "bytes_written": self.bytes_written, "error": str(self.error) if self.error else None}

    # --- writer thread ----------------------------------------------------------------------
    def _run(self) -> None:
        next_sync = time.monotonic() + self.flush_interval_s
        while True:
            with self._cv:
                while not self._q and not self._closing:
                    wait = next_sync - time.monotonic()
                    if wait <= 0:
                        break
                    self._cv.wait(wait)
                items = list(self._q)
                self._q.clear()
                self._pending_heavy = 0
                self._pending_heavy_bytes = 0
                closing = self._closing
                self._cv.notify_all()  # producers waiting for room (block_when_full)
            try:
                for kind, payload in items:
                    try:
                        self._write(kind, payload)
                    except OSError:
                        raise
                    except Exception:  # a malformed item is dropped and counted, never fatal
                        self.dropped[f"{kind}_invalid"] += 1
                if closing or time.monotonic() >= next_sync:
                    self._sync()
                    next_sync = time.monotonic() + self.flush_interval_s
            except OSError as e:
                self._fail(e)
                return
            if closing:
                self._close_files()
                return

    def _write(self, kind: str, payload: tuple) -> None:
        if kind == "csv":
            name, row = payload
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(row)
            self._append(name, buf.getvalue().encode())
        elif kind == "gaze":
            host_ns, device_us, system_us, values = payload
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(
                [int(host_ns), _num(device_us), _num(system_us), *(_num(v) for v in values)])
            self._append(L.GAZE_CSV, buf.getvalue().encode())
        elif kind == "jsonl":
            name, obj = payload
            obj = obj.as_dict() if hasattr(obj, "as_dict") else obj
            self._append(name, (json.dumps(obj, separators=(",", ":"), default=json_default) + "\n").encode())
        elif kind == "frame":
            self._write_frame(*payload)
        elif kind == "crop":
            frame_index, crop_rgb = payload
            ok, png = cv2.imencode(".png", np.ascontiguousarray(crop_rgb[..., ::-1]))
            if ok:
                self._current = f"{L.FACE_CROPS_DIR}/{L.crop_file_name(frame_index)}"
                path = self.folder / L.FACE_CROPS_DIR / L.crop_file_name(frame_index)
                self.fs.write_new(path, png.tobytes())
                self._unsynced.append(path)
                self.bytes_written += len(png)
        self.written[payload[0] if kind in ("csv", "jsonl") else kind] += 1

    def _write_frame(self, index, host_ns, media_ms, image, status, n_faces, box, face_crop=None) -> None:
        ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            self.dropped["frame_encode"] += 1
            return
        if self._video_part < 0 or host_ns - self._video_part_start_ns >= self.video_part_ns:
            self._roll_video(host_ns)
        name = f"{L.VIDEO_DIR}/{L.video_file_name(self._video_part)}"
        data = jpg.tobytes()
        # Bytes before the row that points at them: a row never names bytes not yet written.
        self._append(name, data, header=False)
        box = box if box is not None else (None,) * 4
        row = [int(index), int(host_ns), _num(media_ms), name, self._video_offset, len(data),
               status or "", _num(n_faces), *(_num(v) for v in box), _num(face_crop)]
        self._video_offset += len(data)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        self._append(L.FRAMES_CSV, buf.getvalue().encode())

    def _roll_video(self, host_ns: int) -> None:
        if self._video_part >= 0:
            old = f"{L.VIDEO_DIR}/{L.video_file_name(self._video_part)}"
            f = self._files.pop(old)
            self.fs.sync(f)
            f.close()
        self._video_part += 1
        self._video_part_start_ns = host_ns
        self._video_offset = 0

    def _append(self, name: str, data: bytes, header: bool = True) -> None:
        self._current = name
        f = self._files.get(name)
        if f is None:
            path = self.folder / name
            f = self.fs.open_append(path)
            self._files[name] = f
            if header and f.tell() == 0 and name in L.CSV_HEADERS:
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerow(L.CSV_HEADERS[name])
                f.write(buf.getvalue().encode())
        view = memoryview(data)
        while view:  # an unbuffered write may take only part of the bytes
            n = f.write(view)
            view = view[n or 0:]
        self.bytes_written += len(data)

    def _sync(self) -> None:
        for name, f in self._files.items():
            self._current = name
            self.fs.sync(f)
        for path in self._unsynced:
            self._current = str(path.relative_to(self.folder))
            self.fs.sync_path(path)
        self._unsynced.clear()
        # New file names live in their folder's entry list: sync the folders too.
        for sub in ("", L.VIDEO_DIR, L.FACE_CROPS_DIR):
            self.fs.sync_path(self.folder / sub)
        self.last_sync_ns = time.monotonic_ns()

    def _close_files(self) -> None:
        for f in self._files.values():
            try:
                f.close()
            except OSError:
                pass
        self._files.clear()

    def _fail(self, e: OSError) -> None:
        where = getattr(e, "filename", None) or self.folder / self._current
        if self.folder.is_dir():
            kept = f"What was written before this moment is kept and readable in {self.folder}."
        else:
            kept = f"The session folder {self.folder} is gone: nothing of this recording is left on disk."
        err = RecordingError(f"Recording stopped: {plain_reason(e)}, while writing {where}. {kept}")
        err.reason = plain_reason(e)
        with self._cv:
            self.error = err
            self.dropped["after_error"] += len(self._q)
            self._q.clear()
            self._cv.notify_all()
        self._close_files()
        try:  # a write cut short leaves a partial line that third-party readers would take for a row
            trim_torn_tails(self.folder)
        except OSError:
            pass
        self._release_lock()
        if self.on_error is not None:
            self.on_error(err)
