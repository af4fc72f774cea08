"""A recorded session as a source: its frames and its raw gaze, fed back through the pipeline.

Offline (realtime=False, as fast as the consumer reads) items keep their recorded host times, so a
replay rebuilds the very windows of the recording. Realtime replay paces items to the wall clock:
host_ns = t0_ns + (recorded - session start), t0_ns = the host time at open() unless given (give
both sources the same t0_ns to line them up exactly).

The stored video is JPEG (compact enough for hours of capture), so decoded frames are close to,
not identical with, what the camera gave. StoredFaceProcessor therefore hands the pipeline the
recorded face results and the exact crops the model saw (stored losslessly as PNG): with the same
model, a replay gives the recorded predictions back. Re-detecting faces on the decoded video is
the other choice (`emer-live replay --reprocess-faces`), close but not bit-identical.
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from emer_live.clock import now_ns
from emer_live.errors import RecordingError, SourceError
from emer_live.recording import layout as L
from emer_live.recording.session_reader import SessionReader
from emer_live.sources.base import FrameSource, GazeSource
from emer_live.types import Frame, GazeSample, SourceEvent


def _open_reader(session) -> SessionReader:
    if isinstance(session, SessionReader):
        return session
    try:
        return SessionReader(session)
    except RecordingError as e:
        raise SourceError(f"Cannot replay {session}: {e}") from None


class _Replay:
    """Shared by both replay sources: the reader, the time mapping, pacing, stopping."""

    def __init__(self, session, realtime: bool, t0_ns: Optional[int]):
        self.session = session
        self.realtime = realtime
        self._t0_arg = t0_ns
        self.reader: Optional[SessionReader] = None
        self.offset_ns = 0
        self._stop = False

    def open_reader(self) -> SessionReader:
        self.reader = _open_reader(self.session)
        self._stop = False
        start = self.reader.time_range_ns()[0]
        if self._t0_arg is not None:
            self.offset_ns = self._t0_arg - start
        elif self.realtime:
            self.offset_ns = now_ns() - start
        return self.reader

    def wait_until(self, host_ns: int) -> bool:
        """Realtime pacing; False when closed meanwhile."""
        while self.realtime and not self._stop:
            left = host_ns - now_ns()
            if left <= 0:
                break
            time.sleep(min(left / 1e9, 0.05))
        return not self._stop

    def stop(self) -> None:
        self._stop = True


class ReplayFrameSource(FrameSource):
    kind = "replay"

    def __init__(self, session: Union[str, Path, SessionReader], realtime: bool = True, t0_ns: Optional[int] = None,
                 face_processed_only: bool = False):
        super().__init__()
        self.realtime = realtime
        self._r = _Replay(session, realtime, t0_ns)
        # A live run hands only the newest frame to the face stage; the others were recorded with
        # an empty face status. To rebuild the live input exactly, skip those (not for viewing).
        self.face_processed_only = face_processed_only
        self._row_of: dict[int, int] = {}  # id(image) -> frame-table row, while the image lives

    @property
    def label(self) -> str:
        session = self._r.session
        return f"replay {Path(session.path if isinstance(session, SessionReader) else session).name}"

    def open(self) -> None:
        reader = self._r.open_reader()
        if len(reader.frames()["host_ns"]) == 0:
            raise SourceError(f"Session {reader.path} holds no readable video frames to replay")

    @property
    def reader(self) -> SessionReader:
        return self._r.reader

    def frames(self) -> Iterator[Union[Frame, SourceEvent]]:
        t = self.reader.frames()
        last_ns = 0
        for row in range(len(t["host_ns"])):
            if self.face_processed_only and not t["face_status"][row]:
                continue
            host = int(t["host_ns"][row]) + self._r.offset_ns
            if not self._r.wait_until(host):
                return
            image = self.reader.frame_image(row)
            if image is None:  # a JPEG torn by a crash
                self.stats.invalid += 1
                continue
            self._row_of[id(image)] = row
            weakref.finalize(image, self._row_of.pop, id(image), None)
            self.stats.delivered += 1
            last_ns = host
            media = t["media_ms"][row]
            yield Frame(host_ns=host, index=int(t["frame_index"][row]), image=image,
                        media_ms=None if np.isnan(media) else float(media))
        # The stream ends where the session ends (gaze may run past the last frame), so a replay
        # sees every input the recording saw.
        end_ns = max(last_ns, self.reader.time_range_ns()[1] + self._r.offset_ns)
        if self._r.wait_until(end_ns):
            yield SourceEvent(host_ns=end_ns, source=self.kind, kind="end_of_stream", message="end of the recorded session")

    def row_of(self, image: np.ndarray) -> Optional[int]:
        """The frame-table row a delivered image came from (for StoredFaceProcessor)."""
        return self._row_of.get(id(image))

    def close(self) -> None:
        self._r.stop()
        if self._r.reader is not None:
            self._r.reader.close()


class ReplayGazeSource(GazeSource):
    kind = "replay"

    def __init__(self, session: Union[str, Path, SessionReader], realtime: bool = True, t0_ns: Optional[int] = None):
        super().__init__()
        self.realtime = realtime
        self._r = _Replay(session, realtime, t0_ns)
        self._g: Optional[dict] = None

    def open(self) -> None:
        reader = self._r.open_reader()
        self._g = reader.gaze_table()
        if len(self._g["host_ns"]) == 0:
            raise SourceError(f"Session {self._r.reader.path} holds no gaze samples to replay")
        # Breaks between recorded gaze files or segments: replayed, so no window spans one (as live).
        self._breaks = sorted(e["host_ns"] for e in reader.events() if e.get("kind") == "stream_break"
                              and isinstance(e.get("host_ns"), int) and not isinstance(e["host_ns"], bool)
                              and abs(e["host_ns"]) < 2**62)

    def samples(self) -> Iterator[Union[GazeSample, SourceEvent]]:
        g = self._g
        host_all = g["host_ns"] + self._r.offset_ns
        breaks = [b + self._r.offset_ns for b in getattr(self, "_breaks", [])]
        k = 0
        for i in range(len(host_all)):
            while k < len(breaks) and breaks[k] <= host_all[i]:
                yield SourceEvent(host_ns=int(breaks[k]), source=self.kind, kind="stream_break",
                                  message="recorded gaze stream break (a new recording or segment)")
                k += 1
            if not self._r.wait_until(int(host_all[i])):
                return
            dev, sys_ = g["device_us"][i], g["system_us"][i]
            self.stats.delivered += 1
            yield GazeSample(host_ns=int(host_all[i]), values=g["raw"][i].copy(),
                             device_us=None if np.isnan(dev) else int(dev),
                             system_us=None if np.isnan(sys_) else int(sys_))
        yield SourceEvent(host_ns=int(host_all[-1]), source=self.kind, kind="end_of_stream",
                          message="end of the recorded gaze")

    def close(self) -> None:
        self._r.stop()


class StoredFaceProcessor:
    """The face stage of a replay: the recorded face result of each frame, with the exact crop the
    model saw (see the module note). Same process(image) -> FaceResult shape as FaceProcessor."""

    def __init__(self, frame_source: ReplayFrameSource):
        self.source = frame_source
        self._fer: Optional[dict] = None  # frame_index -> recorded per-frame FER (None = no face)
        self.frames = 0
        self.found = 0  # frames the live face stage found a face in

    def face_found_pct(self) -> float:
        """Share of frames with a face, as the live run counted it. Live, every found face gives a
        crop, but only the crops the model used are stored, so the replay's own crop count (the
        pipeline's face_found_pct) is lower. frames.csv's face_crop column says which frames had one
        (older sessions without it: a recorded "ok" status or a stored crop counts)."""
        return round(100.0 * self.found / self.frames, 1) if self.frames else 0.0

    def process(self, image_bgr: np.ndarray):
        from emer_live.features.face import FaceResult

        row = self.source.row_of(image_bgr)
        if row is None:
            return FaceResult(status="no_face", n_faces=0, box=None, landmarks=None, crop=None,
                              message="frame not delivered by this replay")
        t = self.source.reader.frames()
        status = t["face_status"][row] or "no_face"
        box = t["box"][row]
        # A crop is stored exactly when the model used one (whatever the status said).
        crop = self.source.reader.face_crop(int(t["frame_index"][row]))
        self.frames += 1
        had = t["face_crop"][row]
        self.found += bool(had) if not np.isnan(had) else (status == "ok" or crop is not None)
        n = t["n_faces"][row]
        res = FaceResult(status=status, n_faces=0 if np.isnan(n) else int(n),
                         box=None if np.isnan(box).any() else tuple(int(v) if v.is_integer() else float(v) for v in box),
                         landmarks=None, crop=crop, message="recorded face result")
        # The per-frame FER as recorded (frame_fer.csv): crops are stored only for the frames the
        # window model used, so the FER of the others comes from the recording, not a recomputation.
        fer = self._recorded_fer()
        key = int(t["frame_index"][row])
        if key in fer:
            res.fer_recorded, res.fer_probs = True, fer[key]
        return res

    def damaged_note(self) -> str:
        """'' or a sentence on the stored crops that could not be read (damaged, not "no face")."""
        r = self.source.reader
        if not r.crops_damaged:
            return ""
        return (f"{r.crops_damaged} of {r.crops_read} stored face crops ({L.FACE_CROPS_DIR}/) are damaged and could "
                "not be read: those frames count as without a face crop, the predictions that needed them are missing")

    def all_damaged(self) -> bool:
        r = self.source.reader
        return r.crops_read > 0 and r.crops_damaged == r.crops_read

    def _recorded_fer(self) -> dict:
        if self._fer is None:
            ff = self.source.reader.frame_fer()
            self._fer = {int(i): (None if np.isnan(p).any() else p) for i, p in zip(ff["frame_index"], ff["probs7"])}
        return self._fer

    def close(self) -> None:
        pass
