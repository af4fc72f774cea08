"""PanelModel: what every panel of the window shows, from what the runner publishes. Qt-free.

The window (live) and the review (a recorded session at a position) feed it the same things: the
runner's or the player's snapshot (stats, panel texts, events, the per-frame FER) and the
predictions since the last one, with the clock of the moment. It keeps what a window must
remember between snapshots (the newest prediction and when it came, which input ended first,
the reported problems, the reason for the newest skipped window, the newest face reading) and
answers with every panel's state, the headline, the ER panel's title, the FER and ER readings to
draw and the status bar's texts. Review equals live because both go through this one class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from emer_live.pipeline.frame_fer import head_of
from emer_live.types import HeadOutput
from emer_live.window_model.text import (er_title, input_banner, no_fer_headline, paused_reason, reading_headline, status_texts,
                               with_model_note)
from emer_live.window_model.states import (COLLECTING, ENDED, ERROR, LIVE, NO_FACE, REPLAY, UNRELIABLE, PanelState,
                                           prediction_state, source_state, stopped)

# Which panel a SourceEvent belongs to, by the source that reported it.
EVENT_PANEL = {"camera": "camera", "video": "camera", "demo": "camera", "frame": "camera",
               "tobii": "gaze", "tsv": "gaze", "simulated": "gaze", "gaze": "gaze", "replay": "gaze",
               "model": "model", "engine": "model", "inference": "model"}
# A problem event's one-click recovery, by its kind.
PROBLEM_ACTION = {"connection_lost": "Reconnect", "error": "Restart", "end_of_stream": "Play again"}
BUSY_AFTER_S = 2.0  # no new prediction for this long (after the first) = the model is busy
FER_STALE_S = 1.0  # no face for this long: the FER panel greys (its last reading is no longer current)
OWN_HEAD_CAPTION = "3-class output (its own head)"
SUMMED_CAPTION = "3-class: the 7 classes summed"
PREDICTION_PANELS = ("er", "circumplex", "timeseries")  # drawn from the model's windows: one state


def start_failure_headline(notices: Mapping) -> str:
    """The headline when the start failed: what failed first (notices by panel, in order)."""
    what = {"model": "the model failed to load", "gaze": "the gaze source cannot be opened"}
    return "Not running: " + what.get(next(iter(notices)), "the face video cannot be opened")


@dataclass(frozen=True)
class Reading:
    """What a head panel (FER or ER) draws: the reading, greyed with `stale` when it is old."""

    head: Optional[HeadOutput] = None
    stale: str = ""
    note: str = ""
    caption: str = OWN_HEAD_CAPTION  # what its 3-class bar is


@dataclass(frozen=True)
class WindowView:
    """Every panel's state and the lines above them, for one moment."""

    states: dict  # panel key -> PanelState: camera, gaze, fer, er, circumplex, timeseries
    headline: Optional[str]  # None: keep the line the start's failure wrote
    er_title: tuple[str, str]  # the ER panel's title and its tooltip
    running: bool  # False: stopped (or a reviewed pause): no live figure may stay on screen

    @property
    def er(self) -> PanelState:
        return self.states["er"]


class PanelModel:
    def __init__(self, fer_stale_s: float = FER_STALE_S):
        self.fer_stale_s = fer_stale_s
        self.reset()

    def reset(self) -> None:
        """Forget everything of the previous run, so nothing old reads as current."""
        self.seq = -1  # the newest prediction's number: the runner is asked for those after it
        self.stats: dict = {}
        self.panels: dict = {}
        self.skips: dict = {}
        self.skip_reason = ""
        self.ended: list[str] = []  # the inputs seen to end, in order ("video", "gaze")
        self.problems: dict[str, tuple[str, str]] = {}  # panel -> (message, recovery action)
        self.seen_event_ns = -1
        self.last_prediction = None
        self.received_s: Optional[float] = None  # when the newest prediction came, on the caller's clock
        self.frame_fer = None  # the per-frame FER last applied
        self.last_face_fer = None  # the newest per-frame FER that had a face
        self.last_face_head: Optional[HeadOutput] = None  # its readout, as drawn
        self.fer = Reading()
        self.er = Reading()

    # --- inputs ---------------------------------------------------------------------------
    def feed(self, state, predictions, now_s: float, review: bool = False, window_fer_only: bool = False) -> list[str]:
        """One look at the runner (or the review player): its snapshot, then the predictions made
        since the last look. Returns what its new events say."""
        said = self.apply_state(state, review)
        self.apply_predictions(predictions, now_s, review, window_fer_only)
        return said

    def apply_state(self, state, review: bool = False) -> list[str]:
        """A runner's (or, in review, the player's) snapshot; returns the messages its new events say."""
        self.apply_frame_fer(getattr(state, "frame_fer", None), getattr(state, "fer_last_face", None), review)
        said = self.apply_events(state.events or [])
        self.panels = state.panels or {}
        self.stats = state.stats or {}
        self._note_skips(self.stats)
        for which, flag in (("video", "frames_ended"), ("gaze", "gaze_ended")):
            if self.stats.get(flag) and which not in self.ended:
                self.ended.append(which)
        return said

    def apply_events(self, events) -> list[str]:
        """Problems reported by a source (a lost connection, an error, the end of a file) mark
        its panel until it is restored; every new event but "info" is said to the experimenter."""
        said = []
        for ev in events:
            if ev.host_ns <= self.seen_event_ns:
                continue
            self.seen_event_ns = ev.host_ns
            panel = EVENT_PANEL.get(ev.source)
            if ev.kind == "connection_restored" and panel:
                self.problems.pop(panel, None)
            elif ev.kind in PROBLEM_ACTION and panel:
                self.problems[panel] = (ev.message, PROBLEM_ACTION[ev.kind])
            if ev.kind != "info":
                said.append(f"{ev.source}: {ev.message}")
        return said

    def apply_predictions(self, predictions, now_s: float, review: bool = False,
                          window_fer_only: bool = False) -> None:
        """New predictions. Live, the newest one came now; in review, at its window's end (the
        session's clock), which is when the live window had it. window_fer_only: a reviewed
        session recorded without per-frame FER, whose FER panel shows the window's FER."""
        if not predictions:
            return
        p = predictions[-1]
        self.seq = p.seq
        self.last_prediction = p
        self.received_s = p.window_end_ns / 1e9 if review else now_s
        self.skip_reason = ""
        if self.frame_fer is None:  # no per-frame FER from this model: the window's FER fills the panel
            caption = SUMMED_CAPTION if getattr(p, "fer_source", "") == "face_network" else OWN_HEAD_CAPTION
            if getattr(p, "fer_source", "") == "none":  # an untrained FER head is no reading: show none
                self.fer = Reading(None, stale="no FER: this model's FER head was never trained", caption=caption)
            else:
                self.fer = Reading(p.fer, note=f"{p.window_s:g} s window FER, not per frame" if window_fer_only else "",
                                   caption=caption)
        self.er = Reading(p.er)

    def apply_frame_fer(self, fer, last_face=None, review: bool = False) -> None:
        """The FER panel follows the face frame by frame (smoothed); after fer_stale_s without a
        face it greys and says for how long, so an old reading never passes for the current one.
        In review the player names the newest face reading (`last_face`): a seek skips readings
        the window never drew; live, the model keeps its own."""
        if fer is None or fer is self.frame_fer:
            return
        self.frame_fer = fer
        if fer.has_face:
            last_face = fer
        elif not review:
            last_face = self.last_face_fer
        if last_face is None:
            self.last_face_fer = None
            self.fer = Reading(None, stale=f"no face ({fer.face.replace('_', ' ')})", caption=SUMMED_CAPTION)
            return
        if last_face is not self.last_face_fer:
            self.last_face_fer, self.last_face_head = last_face, head_of(last_face.smoothed7)
        note = f"{last_face.n_faces} faces: the largest is read" if last_face.n_faces > 1 else ""
        gone_s = (fer.host_ns - last_face.host_ns) / 1e9
        stale = f"no face for {gone_s:.1f} s" if gone_s >= self.fer_stale_s else ""
        self.fer = Reading(self.last_face_head, stale=stale, note=note, caption=SUMMED_CAPTION)

    def _note_skips(self, stats: dict) -> None:
        """The pipeline's reason for the newest skipped window, from its growing skip counters."""
        skipped = stats.get("windows_skipped") or {}
        grew = [k for k, v in skipped.items() if k != "superseded" and v > self.skips.get(k, 0)]
        if grew:
            self.skip_reason = grew[-1]
        self.skips = dict(skipped)

    # --- outputs --------------------------------------------------------------------------
    def age_s(self, now_s: float) -> Optional[float]:
        """Seconds since the newest prediction came (None: none yet since the start)."""
        return None if self.received_s is None or self.last_prediction is None else now_s - self.received_s

    def busy_s(self, now_s: float) -> Optional[float]:
        """Live: seconds without a new prediction while the inputs still run (None: not busy)."""
        if self.received_s is None or self.stats.get("frames_ended") or self.stats.get("gaze_ended"):
            return None
        idle = now_s - self.received_s
        return idle if idle > BUSY_AFTER_S else None

    def status_texts(self, busy_s: Optional[float]) -> dict:
        """The status bar's figures; an input that ended says so instead of its last rate."""
        texts = status_texts(self.stats, busy_s)
        if self.stats.get("frames_ended"):
            texts["camera"] = "video: input ended"
        if self.stats.get("gaze_ended"):
            texts["gaze"] = "gaze: input ended"
        return texts

    def source_notice(self, key: str) -> tuple[str, Optional[str], bool]:
        """A source panel's note: (text, recovery action or None, whether it is a problem)."""
        problem = self.problems.get(key)
        if problem:
            return problem[0], problem[1], True
        return self.panels.get(key, ""), None, False

    def banner(self, frame: str, gaze: str, replay: Optional[dict]) -> str:
        """The full-width line naming demo, simulated, recorded or replayed input ('' for none)."""
        return input_banner(self.stats, frame, gaze, replay)

    def view(self, *, running: bool, now_s: float, replay: bool = False, notices: Mapping = (),
             review: bool = False) -> WindowView:
        """Every panel's state at now_s. notices: the start's failures by panel (objects with a
        `text`); review: a recorded session at a position (a pause of it reads as stopped)."""
        notices = dict(notices or {})
        # a reviewed position inside a pause of the recording: stopped, as the live view was then
        paused = self.stats.get("recording_paused") if review else None
        stopped_reason = paused_reason(*paused) if paused else ""
        running = running and not paused
        stats, panels = self.stats if running else {}, self.panels
        states = {}
        for key in ("camera", "gaze"):
            problem = self.problems.get(key)
            if notices.get(key) is not None:
                states[key] = PanelState(ERROR, notices[key].text)
            elif problem and problem[1] == "Play again":
                states[key] = PanelState(ENDED, problem[0])
            else:
                states[key] = source_state(panels.get(key, ""), running, replay, problem[0] if problem else "",
                                           stopped_reason)
        model_text = panels.get("model", "") if running else ""
        model_error = (notices["model"].text if "model" in notices else
                       self.problems.get("model", ("",))[0] or (model_text if model_text.startswith("error") else ""))
        if not running and notices and not model_error:
            model_error = "not running: " + next(iter(notices.values())).text
        common = dict(running=running, age_s=self.age_s(now_s), replay=replay, skip_reason=self.skip_reason,
                      model_error=model_error, stopped_reason=stopped_reason,
                      ended_first=self.ended[0] if self.ended else "")
        face_error = panels.get("face", "") if running and not replay else ""
        if face_error.startswith("error"):  # no reading now: the last one must not stay marked live
            states["fer"] = PanelState(ERROR, face_error.removeprefix("error: "))
        elif self.frame_fer is not None:
            states["fer"] = self._frame_fer_state(running, replay, stopped_reason)
        elif running and not model_error and self.last_prediction is None and not self.stats.get("frames_ended"):
            # the face is read frame by frame: before the first frame there is nothing to wait 8 s for
            states["fer"] = PanelState(COLLECTING, "waiting for the first face frame")
        else:
            states["fer"] = prediction_state(stats, **common)
        er_state = prediction_state(stats, prediction=self.last_prediction, **common)
        for key in PREDICTION_PANELS:
            states[key] = er_state
        return WindowView(states, self._headline(er_state, running, bool(notices)), er_title(self.stats), running)

    def _headline(self, er_state: PanelState, running: bool, notices: bool) -> Optional[str]:
        p = self.last_prediction
        if er_state.current and p is not None and getattr(p, "fer_source", "") == "none":
            return no_fer_headline(p.er)
        if er_state.current and p is not None:
            face_now = self.frame_fer is not None and self.frame_fer.has_face and self.last_face_head is not None
            return with_model_note(reading_headline(p, self.last_face_head.top7 if face_now else None), self.stats)
        if er_state.state == UNRELIABLE and p is not None:
            return with_model_note(f"The face shows {p.fer.top7}; the eyes' reading is unreliable, so no gap is claimed",
                                   self.stats)
        if not running and notices:
            return None
        return er_state.line[0].upper() + er_state.line[1:]

    def _frame_fer_state(self, running: bool, replay: bool, stopped_reason: str = "") -> PanelState:
        """The FER panel when it follows the face frame by frame (not the model's window)."""
        if not running:
            return stopped(stopped_reason)
        if self.stats.get("frames_ended"):
            return PanelState(ENDED, "the video is over; the last reading is greyed")
        if self.fer.stale:  # the panel says for how long; the state says what is greyed
            last = self.last_face_fer
            return PanelState(NO_FACE, "nothing to read yet" if self.fer.head is None or last is None else
                              f"the last face reading ({(self.frame_fer.host_ns - last.host_ns) / 1e9:.1f} s ago) is greyed")
        return PanelState(REPLAY if replay else LIVE)
