"""Review of a recorded session: plays what was recorded (frames, gaze, and the predictions the
model gave live) at a position that can be paused, sought and sped up. Qt-free.

It stands in for LiveRunner in the window (start, stop, snapshot, predictions_since), so the
panels are the live ones, in step with the position. It shows the session's own predictions and
computes none: re-running a session through a model is `emer-live replay --headless`.

The FER panel gets the session's per-frame FER (frame_fer.csv) at the position, smoothed as the
live window smoothed it (RecordedFer); a session recorded without it shows the window FER of its
predictions, as the live window did for a model without a per-frame expression output.

The sources' events (a lost connection, the end of a video) and the pipeline's skipped windows
come back at the position as they reached the live window, so the panels say what they said then.

A session can span pauses of the live view (RecordedRuns). Inside a pause the snapshot holds
nothing and says so (stats "recording_paused"); each run is shown as the live window showed it
after a restart: from scratch, with nothing of the run before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from emer_live.pipeline.frame_fer import FrameFER, recorded_smoothing_s, smooth_recorded
from emer_live.pipeline.live import LiveState
from emer_live.recording.agreement import compare_answers, session_agreement
from emer_live.recording.session_reader import SessionReader
from emer_live.types import EyeEffect, Frame, GapMetrics, HeadOutput, Prediction, SourceEvent

SPEEDS = {"1x": 1.0, "2x": 2.0, "4x": 4.0, "max (16x)": 16.0}
GAZE_RECENT_S = 2.0
VIDEO_SOURCES = ("video", "demo", "camera")  # the frame sources' names in events.jsonl
GAZE_SOURCES = ("tobii", "tsv", "simulated", "gaze")  # the gaze sources'


def prediction_from_dict(d: dict, seq: int) -> Prediction:
    """A recorded prediction (predictions.jsonl) as the object the panels draw."""
    from emer_live.labels import CLASSES_3, EMOTIONS_7

    def head(h: dict) -> HeadOutput:
        return HeadOutput(np.array([h["probs7"][k] for k in EMOTIONS_7], float),
                          np.array([h["probs3"][k] for k in CLASSES_3], float),
                          float(h["valence"]), float(h["arousal"]), h.get("intensity"))

    g = d["gap"]
    # fields a newer or older recording may hold or lack, passed on where this Prediction has them
    fields = getattr(Prediction, "__dataclass_fields__", {})
    extra = {k: d[k] for k in ("fer_source", "fer_frames", "eye_check") if k in d and k in fields}
    if d.get("eye_effect") and "eye_effect" in fields:  # absent in sessions recorded before it
        extra["eye_effect"] = EyeEffect.from_dict(d["eye_effect"])
    return Prediction(window_end_ns=int(d["window_end_ns"]), window_s=float(d["window_s"]), er=head(d["er"]),
                      fer=head(d["fer"]), gap=GapMetrics(g["jsd"], g["top_disagree"], g["top3_disagree"],
                                                         g["d_valence"], g["d_arousal"]),
                      provider=d.get("provider", ""), latency_ms=float(d.get("latency_ms", 0.0)),
                      inference_ms=float(d.get("inference_ms", 0.0)), face_valid=int(d.get("face_valid", 0)),
                      eye_valid_fraction=float(d.get("eye_valid_fraction", 0.0)), seq=seq, **extra)


@dataclass
class _Face:
    status: str
    n_faces: int
    box: Optional[tuple]
    landmarks: object = None
    crop: object = True  # the recorded status says whether the face was used
    message: str = ""


class RecordedRuns:
    """The runs of a session and the pauses between them. The window records an app "paused"
    event when the live view stops (or just before its sources restart) and "resumed" once they
    run again; the recording holds nothing in between, and each run's pipeline starts afresh.
    A row recorded at host time t belongs to run `of(t)`: the number of resumes before t."""

    def __init__(self, events: list[dict]):
        marks = sorted((int(e["host_ns"]), e["kind"]) for e in events
                       if e.get("source") == "app" and e.get("kind") in ("paused", "resumed")
                       and isinstance(e.get("host_ns"), int))
        self.resumed = np.array([t for t, kind in marks if kind == "resumed"], np.int64)
        self.pauses: list[tuple[int, Optional[int]]] = []  # (paused, resumed; None: never resumed)
        since = None
        for t, kind in marks:
            if kind == "paused" and since is None:
                since = t  # the first "paused" counts: a failed restart adds another
            elif kind == "resumed" and since is not None:
                self.pauses.append((since, t))
                since = None
        if since is not None:
            self.pauses.append((since, None))

    def of(self, t_ns):
        """The run of a host time (or an array of them)."""
        return np.searchsorted(self.resumed, t_ns, side="left")

    def start_ns(self, run: int) -> Optional[int]:
        """When a run began (None for the first: it began with the recording)."""
        return int(self.resumed[run - 1]) if run > 0 else None

    def pause_at(self, t_ns: int) -> Optional[tuple[int, Optional[int]]]:
        """The pause holding t_ns, if any."""
        for start, end in self.pauses:
            if start <= t_ns and (end is None or t_ns < end):
                return start, end
        return None


class RecordedFer:
    """A session's per-frame FER at any position, as the live window drew it then: the newest row
    at or before the position (a "no face" row stays "no face", never the previous value), its
    smoothed reading rebuilt with the session's own time constant, and the newest face reading
    of the same run for the panel's "no face for N s". Each run (a session spanning a pause holds
    several, each begun by an app "resumed" event) smooths from scratch, as its pipeline did."""

    def __init__(self, reader: SessionReader, events: list[dict]):
        ff = reader.frame_fer()
        order = np.argsort(ff["host_ns"], kind="stable")
        self.frame_index, self.host_ns = ff["frame_index"][order], ff["host_ns"][order]
        self.face_status, self.n_faces, self.probs7 = ff["face_status"][order], ff["n_faces"][order], ff["probs7"][order]
        self.smoothing_s = recorded_smoothing_s(reader.meta)
        self.runs = RecordedRuns(events)
        run = self.run = self.runs.of(self.host_ns)
        starts = np.flatnonzero(np.diff(run, prepend=-1) != 0)
        self.smoothed7 = smooth_recorded(self.host_ns, self.probs7, self.smoothing_s, starts)
        has_face = ~np.isnan(self.probs7).any(axis=1)
        self.last_face = np.full(len(self.host_ns), -1, np.int64)  # row of the newest face reading in the run
        run_start = np.zeros(len(self.host_ns), bool)
        run_start[starts] = True
        last = -1
        for i in range(len(self.host_ns)):
            if run_start[i]:
                last = -1
            if has_face[i]:
                last = i
            self.last_face[i] = last
        self._made: dict[int, FrameFER] = {}  # the same object for the same row: the window redraws on a new one

    def __len__(self) -> int:
        return len(self.host_ns)

    def at(self, pos_ns: int) -> tuple[Optional[FrameFER], Optional[FrameFER]]:
        """(the reading at pos_ns, the newest face reading of its run); None where there is none
        (before the first reading of the position's run: the previous run's is not current)."""
        row = int(np.searchsorted(self.host_ns, pos_ns, side="right")) - 1
        if row < 0 or self.run[row] != self.runs.of(pos_ns):
            return None, None
        last = int(self.last_face[row])
        return self._fer(row), (self._fer(last) if last >= 0 else None)

    def _fer(self, row: int) -> FrameFER:
        fer = self._made.get(row)
        if fer is None:
            if len(self._made) > 64:
                self._made.clear()
            p = self.probs7[row]
            face = not np.isnan(p).any()
            fer = self._made[row] = FrameFER(int(self.frame_index[row]), int(self.host_ns[row]),
                                             str(self.face_status[row]) or "no_face", p.copy() if face else None,
                                             self.smoothed7[row].copy() if face else None, int(self.n_faces[row]))
        return fer


NO_MORE_FRAMES_S = 1.0  # after the session's last frame by this much, the video counts as ended


class SessionPlayer:
    def __init__(self, session, clock=time.monotonic):
        self.reader = session if isinstance(session, SessionReader) else SessionReader(session)
        self.clock = clock
        r = self.reader
        self.frames = r.frames()
        # per frame row: the newest row at or before it that the face stage processed (-1: none)
        done = np.array([bool(st) for st in self.frames["face_status"]], bool)
        self._face_row = np.maximum.accumulate(np.where(done, np.arange(len(done)), -1)) if len(done) else done.astype(int)
        self._face_ns = np.asarray(self.frames["host_ns"], np.int64)[done] if len(done) else np.empty(0, np.int64)
        g = r.gaze_table()
        self.gaze_ns, self.gaze_raw = g["host_ns"], g["raw"]
        recorded = sorted(r.predictions(), key=lambda d: d["window_end_ns"])
        self.prediction_dicts = recorded
        # Numbered in time order: a session spanning a pause holds two runs that each count from 1.
        self.predictions = [prediction_from_dict(d, i + 1) for i, d in enumerate(recorded)]
        self.pred_ends = np.array([p.window_end_ns for p in self.predictions], np.int64)
        self.start_ns, self.data_end_ns = r.time_range_ns()
        self.markers = r.markers()
        self.answers = r.self_assessment()
        self.events = r.events()
        # the timeline spans the whole recording: to the session's end, not its last sample, so a
        # marker or an answer placed after the inputs ran out is on it
        ends = [self.data_end_ns]
        started, ended = r.meta.get("started_host_ns"), r.meta.get("ended_host_ns")
        if isinstance(started, int) and isinstance(ended, int) and started <= self.start_ns:
            ends.append(ended)  # (its samples carry the recorder's clock: the session began before them)
        ends += [int(self.pred_ends[-1])] if self.predictions else []
        ends += [row.get("host_ns") for row in (*self.markers, *self.answers, *self.events)]
        self.end_ns = max(int(t) for t in ends if isinstance(t, (int, np.integer)) and t >= self.start_ns)
        self.duration_s = (self.end_ns - self.start_ns) / 1e9
        last_frame = self.frames["host_ns"]
        self._last_frame_ns = int(last_frame[-1]) if len(last_frame) else self.start_ns
        self.fer = RecordedFer(r, self.events)
        self.runs = self.fer.runs
        self._frame_run = self.runs.of(self.frames["host_ns"])
        # index of each run's first prediction (predictions are in time order, so runs are too)
        self._run_first = np.searchsorted(self.runs.of(self.pred_ends), np.arange(len(self.runs.resumed) + 2))
        # when a run's video (or gaze) ran out before the session went on ("Play again", or Space
        # later): live, the panels said the input had ended until the restart
        self._video_ended, self._gaze_ended = self._ends(VIDEO_SOURCES), self._ends(GAZE_SOURCES)
        # what the runner told the live window (the window's own pause / resume events excepted)
        timed = sorted((e for e in self.events if isinstance(e.get("host_ns"), int)), key=lambda e: e["host_ns"])
        told = [e for e in timed if e.get("source") not in ("app", "pipeline")]
        self._told = [SourceEvent(int(e["host_ns"]), str(e.get("source", "")), str(e.get("kind", "")),
                                  str(e.get("message", ""))) for e in told]
        self._told_ns = np.array([e.host_ns for e in self._told], np.int64)
        # the windows the pipeline skipped (window end, why): the live window's skip counters
        skips = [e for e in timed if e.get("source") == "pipeline" and e.get("kind") == "window_skipped"]
        self._skip_ns = np.array([e["host_ns"] for e in skips], np.int64)
        self._skip_why = [str(e.get("message", "")) for e in skips]
        self.has_frame_fer = len(self.fer) > 0  # False: recorded before per-frame FER, or by a model without it
        self.comparison = compare_answers(self.answers, recorded)
        self.agreement = session_agreement(self.comparison)
        meta = r.meta
        self.model = meta.get("model") or {}
        self.window_s = float(self.model.get("window_s") or (self.predictions[0].window_s if self.predictions else 8.0))
        self.speed = 1.0
        self.playing = False
        self.generation = 0  # bumped by a seek: the window redraws from scratch
        self._pos_s = 0.0
        self._anchor: Optional[float] = None
        self._row = -1
        self._frame: Optional[Frame] = None
        self._face = None
        self._segment = self._segment_at(self.start_ns)

    # --- the runner's interface -----------------------------------------------------------
    def start(self) -> None:
        self.play()

    def stop(self) -> None:
        self.pause()

    def snapshot(self) -> LiveState:
        pos_ns = self.position_ns()
        run = int(self.runs.of(pos_ns))
        pause = self.runs.pause_at(pos_ns)
        ended = self.at_end()
        # past the run's recorded end of the video, or past the last frame of the whole session (as
        # live, where the panels said the input had ended from then on)
        video_over = not ended and (pos_ns >= self._video_ended.get(run, pos_ns + 1)
                                    or pos_ns > self._last_frame_ns + int(NO_MORE_FRAMES_S * 1e9))
        gaze_over = not ended and pos_ns >= self._gaze_ended.get(run, pos_ns + 1)
        first = int(self._run_first[run])
        n_done = int(np.searchsorted(self.pred_ends, pos_ns, side="right"))
        run_start = self.runs.start_ns(run) or self.start_ns
        stats = {"model_name": self.model.get("name", "model of the session"),
                 "model_provenance": self.model.get("provenance", ""), "model_provenance_kind": self.model.get("provenance_kind", ""),
                 "provider": "recorded",
                 "window_s": self.window_s, "collected_s": self._collected_s(pos_ns, run_start if run else None),
                 "windows_skipped": self._skipped_at(pos_ns, run_start if run else None),
                 "frames_ended": ended or video_over,
                 "gaze_ended": (ended and len(self.gaze_ns) > 0) or gaze_over,
                 "predictions_so_far": max(0, n_done - first),
                 "ended_before_restart": video_over}
        if pause is not None:  # nothing was recorded here: nothing to show, and why
            stats["recording_paused"] = ((pause[0] - self.start_ns) / 1e9,
                                         None if pause[1] is None else (pause[1] - self.start_ns) / 1e9)
            return LiveState(frame=None, face=None, gaze_recent=np.empty((0, 3)), prediction=None, stats=stats,
                             panels={"camera": "recording paused", "gaze": "recording paused",
                                     "model": "recording paused"})
        frame, face = self._frame_at(pos_ns, run)
        lo = np.searchsorted(self.gaze_ns, pos_ns - int(GAZE_RECENT_S * 1e9))
        if run > 0:  # the previous run's gaze is not recent
            lo = max(lo, int(np.searchsorted(self.gaze_ns, run_start, side="right")))
        hi = np.searchsorted(self.gaze_ns, pos_ns, side="right")
        gz = np.empty((max(0, hi - lo), 3))
        if hi > lo:
            raw = self.gaze_raw[lo:hi]
            gz[:, 0] = (self.gaze_ns[lo:hi] - pos_ns) / 1e9
            left, right = raw[:, 5] == 1.0, raw[:, 20] == 1.0
            both = left & right
            gz[:, 1] = np.where(both, (raw[:, 0] + raw[:, 15]) / 2, np.where(left, raw[:, 0], np.where(right, raw[:, 15], np.nan)))
            gz[:, 2] = np.where(both, (raw[:, 1] + raw[:, 16]) / 2, np.where(left, raw[:, 1], np.where(right, raw[:, 16], np.nan)))
        video, gaze = ("ended", "ended") if ended else ("recorded video", "recorded gaze")
        if gaze_over:
            gaze = "ended"
        if video_over:
            video = "ended: the video is over"
        fer, last_face = self.fer.at(pos_ns)
        return LiveState(frame=frame, face=face, gaze_recent=gz, events=self._events_at(pos_ns, run_start if run else None),
                         prediction=self.predictions[n_done - 1] if n_done > first else None, stats=stats,
                         frame_fer=fer, fer_last_face=last_face,
                         panels={"camera": video, "gaze": gaze if len(self.gaze_ns) else "none",
                                 "model": f"recorded predictions of {self.model.get('name', 'the session model')}"})

    def _collected_s(self, pos_ns: int, run_start_ns) -> float:
        """How far the run's first window had filled at pos_ns, counted as the live pipeline counts
        it (Pipeline.collected_s): from the run's first input to the older of its newest face-
        processed frame and its newest gaze sample."""
        marks, firsts = [], []
        for times in (self._face_ns, self.gaze_ns) if len(self.gaze_ns) else (self._face_ns,):
            lo = 0 if run_start_ns is None else int(np.searchsorted(times, run_start_ns, side="left"))
            hi = int(np.searchsorted(times, pos_ns, side="right"))
            if hi <= lo:
                return 0.0
            marks.append(int(times[hi - 1]))
            firsts.append(int(times[lo]))
        return round(max(0.0, (min(marks) - min(firsts)) / 1e9), 2)

    def _ends(self, sources) -> dict[int, int]:
        """Each run's first recorded end of stream from one of these sources: run -> host_ns."""
        ends: dict[int, int] = {}
        for e in sorted((e for e in self.events if e.get("kind") == "end_of_stream" and e.get("source") in sources
                         and isinstance(e.get("host_ns"), int)), key=lambda e: e["host_ns"]):
            ends.setdefault(int(self.runs.of(e["host_ns"])), e["host_ns"])
        return ends

    def _skipped_at(self, pos_ns: int, run_start_ns) -> dict:
        """The run's skipped windows up to pos_ns by reason, as the live pipeline counted them."""
        lo = 0 if run_start_ns is None else int(np.searchsorted(self._skip_ns, run_start_ns, side="left"))
        counts: dict[str, int] = {}
        for why in self._skip_why[lo:int(np.searchsorted(self._skip_ns, pos_ns, side="right"))]:
            counts[why] = counts.get(why, 0) + 1
        return counts

    def _events_at(self, pos_ns: int, run_start_ns) -> list[SourceEvent]:
        """The source events of the position's run up to the position, as the live window had them."""
        lo = 0 if run_start_ns is None else int(np.searchsorted(self._told_ns, run_start_ns, side="left"))
        return self._told[lo:int(np.searchsorted(self._told_ns, pos_ns, side="right"))]

    def predictions_since(self, seq: int) -> list[Prediction]:
        """The position's run's predictions after seq, up to the position (none in a pause)."""
        pos = self.position_ns()
        if self.runs.pause_at(pos) is not None:
            return []
        n_done = int(np.searchsorted(self.pred_ends, pos, side="right"))
        return self.predictions[max(seq, int(self._run_first[int(self.runs.of(pos))])):n_done]

    def prediction_age_s(self) -> Optional[float]:
        """Seconds of session time since the newest prediction of the position's run (None: none yet)."""
        pos = self.position_ns()
        n = int(np.searchsorted(self.pred_ends, pos, side="right"))
        return None if n <= self._run_first[int(self.runs.of(pos))] else (pos - int(self.pred_ends[n - 1])) / 1e9

    def _segment_at(self, pos_ns: int) -> tuple[int, bool]:
        return int(self.runs.of(pos_ns)), self.runs.pause_at(pos_ns) is not None

    def _moved(self) -> None:
        """Into another run or a pause: the window redraws from scratch, as live after a restart."""
        segment = self._segment_at(self.start_ns + int(self._pos_s * 1e9))
        if segment != self._segment:
            self._segment = segment
            self.generation += 1

    # --- position -------------------------------------------------------------------------
    def position_s(self) -> float:
        if self.playing and self._anchor is not None:
            self._pos_s = min(self.duration_s, self._pos_s + (self.clock() - self._anchor) * self.speed)
            self._anchor = self.clock()
            if self._pos_s >= self.duration_s:
                self.playing = False
            self._moved()
        return self._pos_s

    def position_ns(self) -> int:
        return self.start_ns + int(self.position_s() * 1e9)

    def at_end(self) -> bool:
        return self.position_s() >= self.duration_s - 1e-6

    def play(self) -> None:
        if self.at_end():
            self.seek(0.0)
        self.playing, self._anchor = True, self.clock()

    def pause(self) -> None:
        self.position_s()
        self.playing = False

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def set_speed(self, speed: float) -> None:
        self.position_s()
        self.speed = float(speed)

    def seek(self, seconds: float) -> None:
        seconds = max(0.0, min(self.duration_s, float(seconds)))
        if seconds < self._pos_s:
            self.generation += 1  # backwards: the window forgets what it drew
        self._pos_s = seconds
        self._anchor = self.clock() if self.playing else None
        self._moved()

    def _frame_at(self, pos_ns: int, run: int) -> tuple[Optional[Frame], object]:
        """The newest frame at or before pos_ns in its run, and its face result (None, None: none)."""
        t = self.frames
        row = int(np.searchsorted(t["host_ns"], pos_ns, side="right")) - 1
        if row < 0 or self._frame_run[row] != run:
            return None, None
        if row != self._row:
            self._row = row
            image = self.reader.frame_image(row)
            if image is None:  # an unreadable JPEG: the frame before it stays
                return self._frame, self._face
            self._frame = Frame(host_ns=int(t["host_ns"][row]), index=int(t["frame_index"][row]), image=image)
            self._face = self._face_of(row)
        return self._frame, self._face

    def _face_of(self, row: int):
        # A frame the live face stage skipped (no status) showed the newest face result, as here.
        t = self.frames
        row = int(self._face_row[row])
        if row < 0:
            return None
        box = t["box"][row]
        status = t["face_status"][row]
        n = t["n_faces"][row]
        had_crop = t["face_crop"][row]  # NaN in sessions from before that column: the status says
        usable = status in ("ok", "cut_off") if np.isnan(had_crop) else bool(had_crop)
        return _Face(status, 0 if np.isnan(n) else int(n), None if np.isnan(box).any() else tuple(box),
                     crop=True if usable else None)

    def close(self) -> None:
        self.reader.close()
