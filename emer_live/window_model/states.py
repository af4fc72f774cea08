"""What each panel is showing right now: one state and a plain reason, derived from the runner's
snapshot. Qt-free and pure, so every rule is tested directly.

A panel is exactly one of:
  live        the value is current
  collecting  no full window of input yet: progress "collecting 3.1 / 8 s", and why it cannot
              finish when an input stopped short
  no face     windows are skipped because no usable face is in view
  input ended the source ran out; the last value is kept, greyed, and never shown as current
  stopped     the live view was stopped (Space); in review, a position inside a pause of the
              recording (nothing was recorded there)
  replay      a recorded session is playing (values are current for the replay position)
  unreliable  a value the model flags as out of its training distribution (ER): shown greyed,
              and no gap is claimed from it
  error       a source or the model failed; the reason names it
  loading     the sources are opening and the model is loading (off the GUI thread)
Anything that is not live or replay is drawn as not current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

LIVE, COLLECTING, NO_FACE, ENDED, STOPPED, REPLAY, UNRELIABLE, ERROR, LOADING = (
    "live", "collecting", "no face", "input ended", "stopped", "replay", "unreliable", "error", "loading")

# A prediction older than this (seconds since it arrived) is not shown as current.
STALE_AFTER_S = 2.0

_SKIP_WORDS = {
    "no_face": (NO_FACE, "no face in view"),
    "too_few_faces": (NO_FACE, "the face is found in too few frames"),
    "eye_invalid": (COLLECTING, "the eyes are not tracked (gaze invalid)"),
    "eye_stream_missing": (COLLECTING, "no recent gaze samples"),
    "face_stream_missing": (COLLECTING, "no recent video frames"),
    "eye_stream_break": (COLLECTING, "the windows span a break between two gaze recordings (never joined)"),
}


def skip_words(skip_reason: str, skipped: dict | None) -> str:
    """Why windows are skipped, with how many so far ('' for a reason the panels do not name)."""
    if skip_reason not in _SKIP_WORDS:
        return ""
    n = int((skipped or {}).get(skip_reason, 0))
    return _SKIP_WORDS[skip_reason][1] + (f" ({n} window{'s' if n != 1 else ''} skipped)" if n else "")


def ended_input(stats: dict, ended_first: str = "") -> str:
    """Which input ended ('video', 'gaze' or ''): the one seen to end first, when the window saw
    the order (a 2.2 s gaze file beside a 19.7 s video is the gaze), else the one that has ended."""
    frames_ended, gaze_ended = bool(stats.get("frames_ended")), bool(stats.get("gaze_ended"))
    if ended_first in ("video", "gaze") and (frames_ended or gaze_ended):
        return ended_first
    return "video" if frames_ended else "gaze" if gaze_ended else ""


@dataclass(frozen=True)
class PanelState:
    state: str
    reason: str = ""
    progress: Optional[tuple[float, float]] = None  # (collected_s, needed_s) while collecting

    @property
    def current(self) -> bool:
        """True when the panel's value may be read as what is happening now."""
        return self.state in (LIVE, REPLAY)

    @property
    def chip(self) -> str:
        """The short tag in the panel's header."""
        if self.state == COLLECTING and self.progress is not None:
            return f"collecting {self.progress[0]:.1f}/{self.progress[1]:.0f} s"
        return self.state

    @property
    def line(self) -> str:
        """The chip and the reason as one sentence."""
        return f"{self.chip}: {self.reason}" if self.reason else self.chip


def stopped(reason: str = "") -> PanelState:
    """Stopped live (Space), or, with a reason, a review position where the recording was paused."""
    return PanelState(STOPPED, reason or "Space starts again")


def source_state(panel_text: str, running: bool, replay: bool = False, problem: str = "",
                 stopped_reason: str = "") -> PanelState:
    """A source panel (video, gaze) from the runner's panel text and any reported problem."""
    if problem:
        return PanelState(ERROR, problem)
    if not running:
        return stopped(stopped_reason)
    text = panel_text or ""
    if text == "ended" or text.startswith("ended: "):  # "ended: WHY" says why
        return PanelState(ENDED, text[len("ended: "):] or
                          ("the replay reached its end" if replay else "the source has no more input"))
    if text.startswith("missing: ") or text.startswith("error"):
        return PanelState(ERROR, text.partition(": ")[2] or text)
    if text.startswith("connection lost"):
        return PanelState(ERROR, text)
    if text == "none":
        return PanelState(STOPPED, "no gaze source chosen")
    if text == "starting":
        return PanelState(COLLECTING, "waiting for the first input")
    return PanelState(REPLAY if replay else LIVE)


def unreliable_reason(prediction) -> str:
    """Why the model's ER output must not be trusted ('' when nothing says so): the eye-input
    guard on the prediction (`er_reliable` False, the reason in `eye_check["reason"]`), or an
    `ood` flag with `ood_reason`."""
    if prediction is None:
        return ""
    if getattr(prediction, "er_reliable", True) is False:
        check = getattr(prediction, "eye_check", None) or {}
        return str(check.get("reason") or "the eye input is unlike the model's training data")
    if getattr(prediction, "ood", False):
        return getattr(prediction, "ood_reason", "") or "the input is unlike the model's training data"
    return ""


def prediction_state(stats: dict, *, running: bool, age_s: Optional[float], replay: bool = False,
                     skip_reason: str = "", model_error: str = "", prediction=None,
                     stopped_reason: str = "", ended_first: str = "") -> PanelState:
    """The state of everything drawn from predictions (ER, FER, circumplex, time series, headline).

    age_s: seconds since the newest prediction arrived (None: none yet since the start).
    skip_reason: the pipeline's reason for the newest skipped window ('' if none recently).
    stopped_reason: why it is not running when that is not Space (a pause of a reviewed recording).
    ended_first: the input the window saw end first ("video" / "gaze"), so the one that ended is named."""
    if model_error:
        return PanelState(ERROR, model_error)
    if not running:
        return stopped(stopped_reason)
    frames_ended, gaze_ended = bool(stats.get("frames_ended")), bool(stats.get("gaze_ended"))
    which = ended_input(stats, ended_first)
    skipped = stats.get("windows_skipped") or {}
    if age_s is not None and (frames_ended or gaze_ended):
        # the input is over: even the newest reading is the last one, not the present
        # in review, a run's video can end before the session does (it was restarted later)
        replay_end = replay and frames_ended and not stats.get("ended_before_restart") and which == "video"
        end = "the replay reached its end" if replay_end else f"the {which} is over"
        return PanelState(ENDED, end + "; the last reading is greyed")
    fresh = age_s is not None and age_s <= STALE_AFTER_S
    if fresh:
        why = unreliable_reason(prediction)
        if why:
            return PanelState(UNRELIABLE, why)
        return PanelState(REPLAY if replay else LIVE)
    window = float(stats.get("window_s") or 0.0)
    collected = min(float(stats.get("collected_s") or 0.0), window) if window else 0.0
    if age_s is None and collected < window - 0.05:
        # still filling the first window; say if an input stopped before it could fill
        if which:  # no progress bar: nothing more is coming
            return PanelState(ENDED, f"the {which} ended after {collected:.1f} s, shorter than the model's "
                                     f"{window:.0f} s window, so no prediction can be made")
        reason = skip_words(skip_reason, skipped) if skip_reason in ("no_face", "too_few_faces") else ""
        return PanelState(COLLECTING, reason or f"the model needs {window:.0f} s of face and gaze", (collected, window))
    if frames_ended or gaze_ended:  # (age_s is None here) why the due windows were skipped: the most frequent reason
        named = {k: v for k, v in skipped.items() if k in _SKIP_WORDS and v}
        why = skip_words(max(named, key=named.get), named) if named else ""
        return PanelState(ENDED, f"the {which} input ended without a prediction" + (f": {why}" if why else ""))
    if skip_reason in _SKIP_WORDS:
        state, words = _SKIP_WORDS[skip_reason][0], skip_words(skip_reason, skipped)
        return PanelState(state, words + "; the last reading is greyed" if age_s is not None else words)
    if age_s is None:
        return PanelState(COLLECTING, "waiting for the first prediction", (collected, window) if window else None)
    return PanelState(COLLECTING, f"no new prediction for {age_s:.1f} s (model busy)")
