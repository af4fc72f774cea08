"""The pipeline's one-threaded heart: frames and gaze samples in, windows and predictions out.

Deterministic: window ends sit on a fixed grid of the update period, and a window sees exactly the
inputs up to its end. Gaze samples wait in a queue and enter the eye pipeline only when a window
that reaches them is built (the eye pipeline's blink repair looks ahead, so feeding it later
samples first would change the window). So an offline run, a replay and a live run that waited
for its inputs (LiveRunner does) build the same windows from the same inputs.
LiveRunner drives this object from several threads; state changes happen under one lock, and the
slow parts (face landmarks, face encoder, model) run outside it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

from emer_live.features.eye_artefacts import Geometry, RawGazeBuffer, artefact_reasons, with_artefacts
from emer_live.features.eye_norm import eye_check
from emer_live.features.eye_v1 import EYE_SCHEMAS
from emer_live.pipeline.buffers import FaceBuffer
from emer_live.pipeline.frame_fer import DEFAULT_SMOOTHING_S, ExpressionReader, FerSmoother, FerTrack, FrameFER, head_of
from emer_live.pipeline.eye_effect import check_contradiction, eye_effect
from emer_live.pipeline.gap import gap_metrics, no_fer_gap
from emer_live.sources.trial_joins import window_spans_break
from emer_live.types import Frame, GazeSample, Prediction

log = logging.getLogger(__name__)

# A window whose gaze is valid in less than this share of its samples is refused (eye_invalid);
# training refuses the same windows (training/data/sessions.py).
MIN_EYE_VALID = 0.2

# Reasons a due window is not emitted, as the summary names them.
SKIP_REASONS = {
    "warming_up": "the first window_s after start: not yet a full window of input",
    "no_face": "no face found in the window",
    "too_few_faces": "fewer face frames than the minimum (of 8)",
    "face_stream_missing": "no recent frames (camera stopped or ended)",
    "eye_stream_missing": "no recent gaze samples (tracker lost or stream ended)",
    "eye_invalid": "gaze valid in too small a share of the window (eyes not tracked)",
    "eye_stream_break": "the window spans a break between two gaze recordings or segments (not continuous in time)",
    "superseded": "live run behind: a newer window end was ready, so older ones were not built",
}


@dataclass
class Window:
    """Everything one model run needs, taken from the buffers at one instant."""

    seq: int
    end_ns: int
    face: np.ndarray  # (8, D) embeddings or (8, S, S, 3) crops
    eye: np.ndarray  # (32, 39) un-normalised
    fixation: np.ndarray  # (32, 2)
    face_valid: int
    eye_valid_fraction: float
    newest_input_ns: int  # host time of the newest input the window holds
    build_ms: float  # time taken to assemble it (offline latency = build + inference)
    fer_mean: Optional[np.ndarray] = None  # mean per-frame FER over the window's face frames
    fer_frames: int = 0  # how many face frames that mean is over
    eye_artefacts: Optional[list] = None  # named reasons of the raw-sample artefact check (None: no eyes)


@dataclass(frozen=True)
class _Break:
    """Marks, in the queue of waiting gaze samples, where a new recording or segment starts."""

    host_ns: int


# Latency and inference times are kept for this long (a long run's memory stays flat); the run
# summary's percentiles describe the last STATS_WINDOW_S of predictions.
STATS_WINDOW_S = 600.0


def percentile(values, q: float) -> Optional[float]:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


class Pipeline:
    def __init__(self, engine, update_hz: float = 10.0, face_processor=None, *, use_eye: bool = True,
                 min_face_frames: int = 4, min_eye_valid: float = MIN_EYE_VALID, eye_params=None,
                 fer_smoothing_s: float = DEFAULT_SMOOTHING_S, max_faces: int = 1,
                 fer_box: str = "template", track_landmarks: bool = True):
        from emer_live.features.eye import EyeProcessor
        from emer_live.features.eye_v1 import EyeParams

        if update_hz <= 0:
            raise ValueError("update rate must be positive")
        self.engine = engine
        self.window_s = engine.window_s
        self.window_ns = int(round(self.window_s * 1e9))
        self.period_ns = int(round(1e9 / update_hz))
        if face_processor is None:
            from emer_live.features.face import FaceProcessor

            # track_landmarks: live input follows the face with the landmark network itself (1.5 ms a
            # frame cheaper); input run as fast as possible keeps MediaPipe's face mesh graph, the
            # reference (face.py, face_landmarks.py).
            face_processor = FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe,
                                           max_num_faces=max_faces, fer_box=fer_box, tracker=track_landmarks)
        self.face_processor = face_processor
        # What placed the FER crops (face_box.py): the setting, and with the detector how often it
        # found the face in the landmark ROI and how often the template stood in.
        self.fer_box = getattr(face_processor, "fer_box", None)
        self.crops_placed_by = Counter()
        # Per-frame FER (frame_fer.py): the face network's own output on every face crop.
        self.fer_reader = ExpressionReader.for_engine(engine)
        if self.fer_reader is not None and hasattr(face_processor, "attach_fer_reader"):
            face_processor.attach_fer_reader(engine.embed_faces, self.fer_reader.probs)  # the live framing's tie check
        self.fer_smoothing_s = fer_smoothing_s
        self.fer_smoother = FerSmoother(fer_smoothing_s)
        self.fer_track = FerTrack(2 * self.window_s + 2)
        self.last_fer: Optional[FrameFER] = None
        # Called with each FrameFER (JSON lines, recorder, LSL), on the face thread, in frame order.
        self.on_frame_fer = None
        # Frames whose per-frame FER waits for the live framing's detector thread (FaceResult.
        # fer_pending), with the frames after them: (frame, result, embedding, pending), oldest first.
        self._fer_waiting: deque = deque()
        # Called (no arguments, on the detector thread) when one of their runs is done (live runner).
        self.on_fer_run_done = None
        self.faces = FaceBuffer(self.window_s, min_valid=min_face_frames)
        # eye_params carries the session's display geometry; the feature schema is always the card's
        # (a model fed another schema's numbers reads nonsense with confidence).
        params = dataclasses.replace(eye_params or EyeParams(), schema=engine.card.eye_schema)
        self._eye_args = dict(params=params, history_s=max(130.0, 2 * self.window_s + 2))
        self._new_eye = lambda: EyeProcessor(**self._eye_args)
        self.eye = self._new_eye()
        # The artefact check reads each window's raw samples (features/eye_artefacts.py); the stream's
        # nominal rate comes from gaze_source when it has one (set by the runner).
        self.raw_gaze = RawGazeBuffer(self.window_s + 1.0)
        self.artefact_geometry = Geometry(params.screen_width_mm, params.screen_height_mm, params.screen_distance_mm)
        self.gaze_source = None
        self.eye_guard = engine.card.eye_guard if use_eye else None
        self.use_eye = use_eye
        self.min_eye_valid = min_eye_valid
        # A stream counts as live when its newest item is this recent at the window's end.
        self.face_stale_ns = max(self.faces.tol_ns, 1_000_000_000)
        self.eye_stale_ns = 1_000_000_000
        # Called with (frame_index, host_ns, crop_rgb) for every crop the window model will see
        # (recorders): uint8 RGB, made by the card's recipe.
        self.on_crop_cached = None
        # Called with (reason, window_end_ns) for each window skipped (recorders: a review then
        # says why, as the live window did), on the thread that builds windows.
        self.on_window_skipped = None
        self._skipped_now = ""
        self._lock = threading.Lock()
        self._first_ns: Optional[int] = None
        self._next_due: Optional[int] = None
        self._last_frame_ns: Optional[int] = None  # newest frame received (order check)
        self._first_gaze_ns: Optional[int] = None
        self._last_gaze_ns: Optional[int] = None  # newest sample received: the gaze stream's watermark
        self._eye_last_ns: Optional[int] = None  # newest sample handed to the eye pipeline
        self._pending_gaze: deque = deque()  # received, not yet needed by a window (and break marks)
        # The eye half of a window computed ahead, while the window waits for its last frame
        # (prepare_eye): (end_ns, eye window, artefact reasons).
        self._eye_ahead: Optional[tuple] = None
        self._gaze_breaks: deque = deque(maxlen=64)  # host times where a new gaze recording/segment starts
        self._seq = 0
        self.counts = Counter()  # frames, samples, face_crops, faces_encoded, windows, predictions
        self.face_status = Counter()
        self.rejected = Counter()  # inputs refused, by reason
        self.skipped = Counter()  # due windows not emitted, by reason
        keep = max(1, int(STATS_WINDOW_S * update_hz))
        self.latency_ms: deque = deque(maxlen=keep)
        self.inference_ms: deque = deque(maxlen=keep)
        self._percentiles_at, self._percentiles = None, {}

    # --- input ------------------------------------------------------------------------
    def _start(self, host_ns: int) -> None:
        # Window ends sit on multiples of the update period; none before a full window of input.
        # The earliest input counts, whichever stream delivered it first.
        if self._first_ns is None or host_ns < self._first_ns:
            self._first_ns = host_ns
            if self._seq == 0 and not self.skipped:
                first_end = host_ns + self.window_ns
                self._next_due = -(-first_end // self.period_ns) * self.period_ns

    def on_frame(self, frame: Frame):
        """Find the face, cache its features when its slot is open. Returns the FaceResult."""
        with self._lock:
            if self._last_frame_ns is not None and frame.host_ns <= self._last_frame_ns:
                self.rejected["frame_time_not_increasing"] += 1
                return None
            self._last_frame_ns = frame.host_ns
            self._start(frame.host_ns)
            self.counts["frames"] += 1
        self.emit_ready_fer()
        res = self.face_processor.process(frame.image)
        with self._lock:
            self.face_status[res.status] += 1
            if res.crop is not None:
                self.counts["face_crops"] += 1
        # A crop is given only when usable (an "ok" face, or one slightly cut off by the frame
        # edge with both eyes inside), so every crop may feed the model.
        cache = res.crop is not None and self.faces.wants(frame.host_ns)
        recorded = getattr(res, "fer_recorded", False)  # a replay's recorded per-frame FER
        # The detector setting gives the per-frame FER a crop of its own; the window model's stays.
        fer_crop = getattr(res, "fer_crop", None)
        fer_here = self.fer_reader is not None and not recorded and res.crop is not None
        emb = fer_emb = None
        if res.crop is not None and self.engine.split and (cache or (fer_here and fer_crop is None)):
            emb = self.engine.embed_faces(res.crop[None])[0]
        if fer_here and self.engine.split:
            fer_emb = getattr(res, "fer_embedding", None)  # computed by the live framing already
            if fer_emb is None:
                fer_emb = emb if fer_crop is None else self.engine.embed_faces(fer_crop[None])[0]
        pending = getattr(res, "fer_pending", None) if fer_here else None
        if recorded:
            self._frame_fer(frame, res, None, res.fer_probs)
        elif self.fer_reader is not None and (pending is not None or self._fer_waiting):
            self._fer_waiting.append((frame, res, fer_emb, pending))  # after the frames still waiting
            if pending is not None and self.on_fer_run_done is not None:
                pending.add_done_callback(lambda _run: self.on_fer_run_done())
        elif self.fer_reader is not None:
            self._frame_fer(frame, res, fer_emb)
        if cache:
            feat = emb if self.engine.split else res.crop.copy()
            self.faces.add(frame.host_ns, feat)
            if self.on_crop_cached is not None:
                self.on_crop_cached(frame.index, frame.host_ns, res.crop)
            with self._lock:
                self.counts["faces_encoded"] += 1
        self.faces.note_frame(frame.host_ns)  # last: marks this frame's face as available to windows
        return res

    def emit_ready_fer(self, wait: bool = False, wait_until_ns: Optional[int] = None) -> None:
        """Emit the per-frame FER of the frames that waited for the detector thread, in frame order,
        as far as their runs are done (wait: all of them, waiting for the runs; the face thread calls
        this when its stream ends; wait_until_ns: waiting for the runs of the frames up to then). A
        frame whose run found nothing (or failed) keeps the carried box's reading, and says so."""
        while self._fer_waiting:
            frame, res, emb, pending = self._fer_waiting[0]
            waits = wait or (wait_until_ns is not None and frame.host_ns <= wait_until_ns)
            if pending is not None and not (waits or pending.done()):
                return
            self._fer_waiting.popleft()
            if pending is not None:
                try:
                    read = pending.result()
                except Exception as e:  # noqa: BLE001 - one failed run: this frame keeps the carried box
                    read = None
                    with self._lock:
                        self.counts["fer_detector_failed"] += 1
                    log.warning("per-frame FER: the detector thread failed on frame %s: %s", frame.index, e)
                if read is not None:
                    res.fer_crop, res.placed_by = read.crop, "detector"
                    emb = read.embedding if read.embedding is not None else self.engine.embed_faces(read.crop[None])[0]
            self._frame_fer(frame, res, emb)

    def _frame_fer(self, frame: Frame, res, emb, probs=None) -> None:
        """This frame's FER from its face embedding (or as recorded), or "no face" with the reason:
        never a value carried over from an earlier frame (the smoothing restarts after every gap)."""
        if emb is not None or probs is not None:
            p = self.fer_reader.probs(emb) if probs is None else np.asarray(probs, np.float64)
            if getattr(res, "new_face", False):  # another face than the last frame's: start afresh
                self.fer_smoother.reset()
            fer = FrameFER(frame.index, frame.host_ns, res.status, p, self.fer_smoother.update(frame.host_ns, p), res.n_faces,
                           getattr(res, "placed_by", None))
            if fer.placed_by is not None:
                with self._lock:
                    self.crops_placed_by[fer.placed_by] += 1
            self.fer_track.add(frame.host_ns, p)
        else:
            self.fer_smoother.reset()
            # "no_crop": a face was found but no crop is at hand (a replay of a session recorded
            # before per-frame FER, which kept crops only for the frames the window model used).
            face = "no_crop" if res.status == "ok" else res.status
            fer = FrameFER(frame.index, frame.host_ns, face, None, None, res.n_faces)
        with self._lock:
            self.last_fer = fer
            self.counts["fer_frames" if fer.has_face else "fer_no_face"] += 1
        if self.on_frame_fer is not None:
            self.on_frame_fer(fer)

    def on_gaze(self, sample: GazeSample) -> bool:
        """Feed one sample; False when refused (time going backwards or repeating)."""
        with self._lock:
            last = self._last_gaze_ns
            if last is not None and sample.host_ns <= last:
                self.rejected["gaze_time_repeat" if sample.host_ns == last else "gaze_time_backwards"] += 1
                return False
            self._last_gaze_ns = sample.host_ns
            if self._first_gaze_ns is None:
                self._first_gaze_ns = sample.host_ns
            self._start(sample.host_ns)
            self.counts["samples"] += 1
            self._pending_gaze.append(sample)
        return True

    def on_gaze_break(self, host_ns: int) -> None:
        """A new gaze recording or segment starts at host_ns (a 'stream_break' event): eye
        processing starts afresh there, and no window spans it."""
        with self._lock:
            self._gaze_breaks.append(host_ns)
            self._pending_gaze.append(_Break(host_ns))
            self.counts["gaze_breaks"] += 1

    @property
    def watermarks(self) -> tuple[Optional[int], Optional[int]]:
        """(newest processed frame, newest received gaze sample): a live window ending at T holds
        exactly what an offline run would once both have passed T."""
        with self._lock:
            frame_mark = self.faces.last_frame_ns
            gaze_mark = self._last_gaze_ns
        try:  # the face thread appends and pops: read the oldest once
            oldest_waiting = self._fer_waiting[0][0].host_ns
        except IndexError:
            oldest_waiting = None
        if oldest_waiting is not None and frame_mark is not None:
            # a window's FER mean holds every frame up to its end: none still waits for its FER
            frame_mark = min(frame_mark, oldest_waiting - 1)
        return frame_mark, gaze_mark

    def collected_s(self) -> float:
        """Seconds of input every stream in use has delivered since the first input: how far the
        first window (window_s long) has filled. Stays put when a stream stops."""
        frame_mark, gaze_mark = self.watermarks
        marks = [frame_mark] + ([gaze_mark] if self.use_eye else [])
        with self._lock:
            first = self._first_ns
        if first is None or any(m is None for m in marks):
            return 0.0
        return max(0.0, (min(marks) - first) / 1e9)

    def _feed_eye(self, end_ns: int) -> None:
        """Hand the eye pipeline every waiting sample up to end_ns (call under the lock)."""
        q = self._pending_gaze
        while q and q[0].host_ns <= end_ns:
            s = q.popleft()
            if isinstance(s, _Break):
                self.eye = self._new_eye()
                self.raw_gaze.clear()
                continue
            self.eye.push(s)
            self.raw_gaze.push(s.host_ns, s.values)
            self._eye_last_ns = s.host_ns

    # --- windows ----------------------------------------------------------------------
    @property
    def next_due_ns(self) -> Optional[int]:
        """The next window end on the update grid not yet built (None before the first input)."""
        with self._lock:
            return self._next_due

    def due(self, now_ns: int, every: bool = False) -> list[int]:
        """Window ends on the update grid at or before now_ns not yet built: all of them (every=True,
        offline) or only the newest (live, where older ones are superseded and counted)."""
        with self._lock:
            if self._next_due is None or now_ns < self._next_due:
                return []
            ends = list(range(self._next_due, now_ns + 1, self.period_ns))
            self._next_due = ends[-1] + self.period_ns
            if not every and len(ends) > 1:
                self.skipped["superseded"] += len(ends) - 1
                ends = ends[-1:]
            return ends

    def build_window(self, end_ns: int) -> Optional[Window]:
        """The window ending at end_ns, or None (the reason is counted in .skipped and told to
        on_window_skipped)."""
        self._skipped_now = ""
        window = self._build_window(end_ns)
        if window is None and self._skipped_now and self.on_window_skipped is not None:
            self.on_window_skipped(self._skipped_now, end_ns)
        return window

    def _build_window(self, end_ns: int) -> Optional[Window]:
        t_build = time.perf_counter()
        start_ns = end_ns - self.window_ns
        fb = self.faces
        newest_frame = fb.newest_frame_until(end_ns)
        with self._lock:
            self._feed_eye(end_ns)
            # A stream that started after the window's start (within a step) does not cover it yet.
            if (self._first_ns is None or self._first_ns > start_ns or fb.first_frame_ns is None
                    or fb.first_frame_ns > start_ns + fb.tol_ns):
                return self._skip("warming_up")
            if newest_frame is None or newest_frame < end_ns - self.face_stale_ns:
                return self._skip("face_stream_missing")
            if self.use_eye and (reason := self._eye_skip(start_ns, end_ns)):
                return self._skip(reason)
        pick, reason = fb.pick(end_ns)
        if pick is None:
            with self._lock:
                return self._skip(reason)
        artefacts = None
        with self._lock:
            ahead, self._eye_ahead = self._eye_ahead, None
            if self.use_eye:
                if ahead is not None and ahead[0] == end_ns:
                    ew, artefacts = ahead[1], ahead[2]
                    raw_window = None
                    self.counts["windows_eye_ahead"] += 1
                else:
                    ew = self.eye.window(end_ns, self.window_s, self.engine.card.eye_encoding)
                    raw_window = self.raw_gaze.window(end_ns, self.window_s)  # a copy: checked outside the lock
                if ew.n_samples == 0 or ew.valid_fraction < self.min_eye_valid:
                    return self._skip("eye_invalid" if ew.n_samples else "eye_stream_missing")
                eye, fix, eye_valid = ew.eye, ew.fixation, float(ew.valid_fraction)
                newest = max(newest_frame, self._eye_last_ns)
            else:
                eye, fix, eye_valid = self.engine.neutral_eye()
                raw_window = None
                newest = newest_frame
            self._seq += 1
            seq = self._seq
            self.counts["windows"] += 1
        fer_mean, fer_n = self.fer_track.mean(start_ns, end_ns)
        if raw_window is not None:
            artefacts = self._artefacts(raw_window)
        return Window(seq, end_ns, pick.features, eye, fix, pick.valid, eye_valid, newest,
                      (time.perf_counter() - t_build) * 1000.0, fer_mean, fer_n, artefacts)

    def _eye_skip(self, start_ns: int, end_ns: int) -> str:
        """Why the eye stream cannot fill the window (start_ns, end_ns], "" when it can (under the lock)."""
        if self._eye_last_ns is None or self._eye_last_ns < end_ns - self.eye_stale_ns:
            return "eye_stream_missing"
        if self._first_gaze_ns > start_ns + self.window_ns // 32:
            return "warming_up"
        if window_spans_break(start_ns, end_ns, self._gaze_breaks):
            return "eye_stream_break"
        return ""

    def _artefacts(self, raw_window) -> list:
        return artefact_reasons(*raw_window, getattr(self.gaze_source, "nominal_hz", None) or None,
                                self.artefact_geometry)

    def prepare_eye(self, end_ns: int) -> bool:
        """Compute the eye half of the window ending at end_ns (its eye window and the artefact
        check) once gaze has passed end_ns, while the window still waits for its last frame: with
        eight-second windows at 1200 Hz that half is most of a window's build, and needs no frame.
        build_window(end_ns) then takes it as it is. The same numbers either way: the eye pipeline
        holds exactly the samples up to end_ns in both cases. False while gaze has not passed
        end_ns yet; True once the half is ready, or not needed (no eyes, or a window its eye
        stream cannot fill)."""
        if not self.use_eye:
            return True
        with self._lock:
            if self._eye_ahead is not None and self._eye_ahead[0] == end_ns:
                return True
            if self._last_gaze_ns is None or self._last_gaze_ns < end_ns:
                return False  # a sample at or before end_ns may still come
            self._feed_eye(end_ns)
            if self._eye_skip(end_ns - self.window_ns, end_ns):
                return True  # the window is skipped for its eye stream: nothing to compute
            eye = self.eye  # swapped for a new one only by _feed_eye, on this (the window) thread
            raw_window = self.raw_gaze.window(end_ns, self.window_s)
        ahead = (end_ns, eye.window(end_ns, self.window_s, self.engine.card.eye_encoding), self._artefacts(raw_window))
        with self._lock:
            self._eye_ahead = ahead
        return True

    def _skip(self, reason: str) -> None:
        self.skipped[reason] += 1
        self._skipped_now = reason
        return None

    def next_window(self, now_ns: int) -> Optional[Window]:
        """Live use: the newest due window (older due ends are superseded)."""
        ends = self.due(now_ns)
        return self.build_window(ends[0]) if ends else None

    def next_windows(self, now_ns: int) -> list[Window]:
        """Offline use: every due window, in order."""
        return [w for w in map(self.build_window, self.due(now_ns, every=True)) if w is not None]

    # --- inference --------------------------------------------------------------------
    def predict(self, windows: list[Window], clock=None) -> list[Prediction]:
        """Run the model on windows (batched when several). Latency: with a host clock (live), from
        each window's newest input to the prediction; without (offline, where host times follow the
        media, not the wall clock), the compute time of the window: its assembly plus its share of
        the batched model run."""
        if not windows:
            return []
        face, eye, fix = (np.stack([w.face for w in windows]), np.stack([w.eye for w in windows]),
                          np.stack([w.fixation for w in windows]))
        n = len(windows)
        if self.use_eye:
            # The same windows with the eye input withheld (as a window without gaze has it), in the
            # same batch: the eyes' own effect costs one model call, not two (eye_effect.py).
            no_eye, no_fix, _ = self.engine.neutral_eye()
            face = np.concatenate([face, face])
            eye = np.concatenate([eye, np.broadcast_to(no_eye, eye.shape)])
            fix = np.concatenate([fix, np.broadcast_to(no_fix, fix.shape)])
        heads, ms = self.engine.predict_batch(face, eye, fix)
        # Without eyes the ER is the eye-withheld ER itself: its effect is zero by construction.
        withheld = [er for er, _ in heads[n:]] if self.use_eye else [er for er, _ in heads]
        per_ms = ms / n
        out = []
        for w, (er, fer_head), er_without in zip(windows, heads[:n], withheld):
            check = eye_check(w.eye, self.eye_guard, EYE_SCHEMAS.get(self.engine.card.eye_schema)) if self.eye_guard else None
            check = with_artefacts(check, w.eye_artefacts)
            if clock is not None:
                lat = (clock() - w.newest_input_ns) / 1e6
            else:
                lat = w.build_ms + per_ms
            # The gap compares like with like: the window's ER with the same window's face FER (mean
            # of its per-frame FER). Only a model whose face encoder has no expression output falls
            # back to the FER head, and says so in fer_source.
            # A model whose FER head was never trained (its card says so) and whose face encoder has no
            # expression output has no FER at all: fer_source "none", nothing compared or flagged.
            if w.fer_mean is not None:
                fer, source = head_of(w.fer_mean), "face_network"
            elif getattr(self.engine.card, "fer_head_trained", True):
                fer, source = fer_head, "fer_head"
            else:
                fer, source = fer_head, "none"
            effect = eye_effect(er, er_without)
            if source != "none":  # with no FER there is nothing for ER to contradict
                check = check_contradiction(check, er, fer, effect)
            gap = gap_metrics(er, fer) if source != "none" else no_fer_gap()
            out.append(Prediction(window_end_ns=w.end_ns, window_s=self.window_s, er=er, fer=fer, gap=gap,
                                  provider=self.engine.provider, latency_ms=lat, inference_ms=per_ms,
                                  face_valid=w.face_valid, eye_valid_fraction=w.eye_valid_fraction, seq=w.seq,
                                  fer_head=fer_head, fer_frames=w.fer_frames, fer_source=source, eye_check=check,
                                  eye_effect=effect))
        with self._lock:
            self.counts["predictions"] += len(out)
            self.latency_ms.extend(p.latency_ms for p in out)
            self.inference_ms.extend([per_ms] * len(out))
        return out

    def maybe_predict(self, now_ns: int) -> Optional[Prediction]:
        """Single-threaded use: the due window at now_ns, predicted at once."""
        w = self.next_window(now_ns)
        return self.predict([w])[0] if w else None

    def close(self) -> None:
        self.emit_ready_fer(wait=True)
        close = getattr(self.face_processor, "close", None)
        if close is not None:
            close()

    # --- reporting --------------------------------------------------------------------
    def summary(self) -> dict:
        with self._lock:
            frames = self.counts["frames"]
            return {
                "frames": frames,
                "samples": self.counts["samples"],
                "face_status": dict(self.face_status),
                "face_found_pct": round(100.0 * self.counts["face_crops"] / frames, 1) if frames else 0.0,
                "faces_encoded": self.counts["faces_encoded"],
                "inputs_rejected": dict(self.rejected),
                "windows": self.counts["windows"],
                "windows_skipped": dict(self.skipped),
                "windows_skipped_why": {k: SKIP_REASONS[k] for k in self.skipped},
                "predictions": self.counts["predictions"],
                **self._time_percentiles(),
                "eye_used": self.use_eye,
                "per_frame_fer": self.per_frame_fer_note,
                "fer_frames": self.counts["fer_frames"],
                "fer_frames_no_face": self.counts["fer_no_face"],
                **({"fer_box": self.fer_box} if self.fer_box else {}),
                **({"fer_crops_placed_by": dict(self.crops_placed_by)} if self.crops_placed_by else {}),
                **({"face_landmarks_by": self.face_processor.landmarks_by}
                   if hasattr(self.face_processor, "landmarks_by") else {}),
            }

    def _time_percentiles(self) -> dict:
        """Latency and inference percentiles, recomputed only when a prediction was added: the
        window asks for the summary on every redraw, and sorting ten minutes of times 30 times a
        second cost the UI thread about a twentieth of a core. Called under self._lock."""
        n = self.counts["predictions"]
        if self._percentiles_at != n:
            self._percentiles = {"latency_p50_ms": percentile(self.latency_ms, 50),
                                 "latency_p95_ms": percentile(self.latency_ms, 95),
                                 "inference_p50_ms": percentile(self.inference_ms, 50),
                                 "inference_p95_ms": percentile(self.inference_ms, 95)}
            self._percentiles_at = n
        return self._percentiles

    @property
    def per_frame_fer_note(self) -> str:
        if self.fer_reader is not None:
            return f"on every face frame, from {self.fer_reader.source}"
        why = ("this model has no separate face encoder graph" if not self.engine.split
               else "this model's face encoder declares no expression output")
        if not getattr(self.engine.card, "fer_head_trained", True):
            return f"none: {why}, and its FER head was never trained (its card says so), so there is no FER"
        return f"none: {why} (the FER shown is the model's FER head)"
