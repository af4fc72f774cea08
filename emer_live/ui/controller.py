"""What the window runs: the chosen sources, the model and the LiveRunner, started and stopped
without Qt. Failures never escape as exceptions: they become per-panel notices with a
one-click recovery, so the window always stays up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Callable

from emer_live.errors import EmerError, ModelError, SourceError

log = logging.getLogger(__name__)
PANELS = ("camera", "gaze", "model")
MAX_FACES = 4  # the most faces the sources dialog lets the face step track


@dataclass
class SourceChoice:
    """What to run. `frame`: "auto" | "demo" | "camera:N" | "video:PATH";
    `gaze`: "auto" | "simulated[:EMOTION,...]" | "tobii[:SERIAL]" | "tsv:PATH" | "none";
    `model`: a model card path, "" for the default model;
    `max_faces`: how many faces the face step tracks. 1 (one participant) is the cheapest; with
    more, the largest face is read and the window says when a second face is in view;
    `fer_box`: what places the FER crop, "template" (the landmarks; default) or "detector" (the
    FER2013 network's own face detector near the landmarks: closer to it, slower (docs/performance.md);
    FER2013-framed models only, see features/face_box.py);
    `gaze_columns`: a column mapping JSON file for a recorded gaze file of an undetected layout
    ('' detects the layout; the command line's --gaze-columns applies)."""

    frame: str = "auto"
    gaze: str = "auto"
    model: str = ""
    max_faces: int = 1
    fer_box: str = "template"
    gaze_columns: str = ""

    def as_dict(self) -> dict:
        return {"frame": self.frame, "gaze": self.gaze, "model": self.model}


@dataclass
class Notice:
    text: str
    action: str | None = None  # button label of the recovery, None when nothing to do
    bad: bool = True


@dataclass
class Built:
    frame_source: object
    gaze_source: object
    engine: object
    max_faces: int = 1  # faces the face step tracks (SourceChoice.max_faces)
    fer_box: str = "template"  # what places the FER crop (SourceChoice.fer_box)


def _probe_camera() -> bool:
    from emer_live.sources.factory import make_frame_source

    try:
        src = make_frame_source("camera:0", True)
        src.open()
        src.close()
        return True
    except (EmerError, OSError):
        return False


def _probe_tracker() -> bool:
    try:
        from emer_live.sources.tobii import find_trackers

        return bool(find_trackers())
    except (EmerError, ImportError, OSError):
        return False


def resolve_auto(choice: SourceChoice, probe_camera: Callable[[], bool] = _probe_camera,
                 probe_tracker: Callable[[], bool] = _probe_tracker) -> SourceChoice:
    """"auto" means the real device when one is attached, else the built-in demo / simulation."""
    frame = choice.frame if choice.frame != "auto" else ("camera:0" if probe_camera() else "demo")
    gaze = choice.gaze if choice.gaze != "auto" else ("tobii" if probe_tracker() else "simulated")
    return replace(choice, frame=frame, gaze=gaze)


def build_real(choice: SourceChoice, realtime: bool = True, gaze_columns=None) -> Built:
    """Product path: the real sources and the ONNX model. Raises EmerError subclasses.
    gaze_columns: a column mapping file for recorded gaze of an undetected layout (--gaze-columns)."""
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.sources.factory import make_frame_source, make_gaze_source

    from emer_live.features.face_box import check_fer_box

    engine = InferenceEngine(choice.model or None)
    try:
        if choice.fer_box != "template":  # the template places any recipe's crop
            check_fer_box(choice.fer_box, engine.card.crop_recipe, f"model {engine.card.name!r}")
        columns = (choice.gaze_columns or gaze_columns) if choice.gaze.startswith("tsv") else None
        return Built(make_frame_source(choice.frame, realtime), make_gaze_source(choice.gaze, realtime, columns=columns),
                     engine, choice.max_faces, choice.fer_box)
    except ValueError as e:
        engine.close()
        raise ModelError(str(e).replace("fer_box 'detector'", "the face detector setting (FER crop)").replace(
            "use fer_box 'template'", "choose the face landmarks for the FER crop in Sources")) from None
    except BaseException:
        engine.close()  # nothing else owns it yet
        raise


def make_runner_real(built: Built, sinks, update_hz: float, eye_params=None):
    """eye_params: the eye pipeline's settings (display geometry from --screen-mm etc.), None = defaults."""
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.live import LiveRunner

    pipe = None
    if eye_params is not None or built.max_faces != 1 or built.fer_box != "template":
        pipe = Pipeline(built.engine, update_hz, use_eye=built.gaze_source is not None, eye_params=eye_params,
                        max_faces=built.max_faces, fer_box=built.fer_box)
    # The runner owns what was built for it (sources, face step, engine) and closes it all.
    return LiveRunner(built.frame_source, built.gaze_source, built.engine, sinks=sinks, update_hz=update_hz,
                      pipeline=pipe, own_engine=True)


@dataclass
class LiveController:
    choice: SourceChoice
    build: Callable[[SourceChoice], Built] = build_real
    make_runner: Callable = make_runner_real
    update_hz: float = 10.0
    sinks: list = field(default_factory=list)
    runner: object = None
    resolved: SourceChoice | None = None
    notices: dict = field(default_factory=dict)  # panel -> Notice, for failures at start
    built: Built | None = None
    eye_params: object = None  # what make_runner gives the eye pipeline (recorded with a session); None = defaults

    @property
    def running(self) -> bool:
        return self.runner is not None

    def start(self) -> bool:
        """Build and start everything; on failure record a notice and return False."""
        self.stop()
        self.notices.clear()
        self.resolved = resolve_auto(self.choice) if "auto" in (self.choice.frame, self.choice.gaze) else self.choice
        self.built = None
        try:
            built = self.build(self.resolved)
        except ModelError as e:
            action = "Use default model" if self.resolved.model else "Retry"
            self.notices["model"] = Notice(f"model failed to load: {e}", action)
            return False
        except SourceError as e:
            self.notices[_panel_of(str(e))] = Notice(str(e), "Retry")
            return False
        runner = None
        try:
            runner = self.make_runner(built, list(self.sinks), self.update_hz)
            runner.start()  # on failure it has closed what it owns
        except EmerError as e:
            log.error("starting the live view failed: %s", e)
            if runner is None:
                _close_built(built)
            self.notices[_panel_of(str(e))] = Notice(str(e), "Retry")
            return False
        self.runner, self.built = runner, built
        return True

    def stop(self) -> None:
        """Stop and close the runner: its threads, sources, face step and engine (it owns them)."""
        if self.runner is not None:
            runner, self.runner = self.runner, None
            close = getattr(runner, "close", None)
            (close or runner.stop)()

    def restart(self) -> bool:
        return self.start()

    def use_default_model(self) -> bool:
        self.choice = replace(self.choice, model="")
        return self.start()


def _close_built(built: Built) -> None:
    """What was built for a runner that never came to be: closed here, since nothing owns it."""
    for stage in (built.frame_source, built.gaze_source, built.engine):
        try:
            getattr(stage, "close", lambda: None)()
        except Exception:  # closing must finish
            log.exception("closing %s failed", type(stage).__name__)


def _panel_of(message: str) -> str:
    """Which panel a start-up error belongs to, from the source it names."""
    m = message.lower()
    return "gaze" if any(w in m for w in ("tobii", "tracker", "gaze", ".tsv")) else "camera"


class SwitchableSink:
    """The one sink the runner gets: forwards to the recording session's sink while one is
    open, so recording starts and stops without rebuilding the runner.

    A session can outlive one run of the sources (Space pauses and resumes, "Play again" restarts
    a video), and each run counts its frames from 0. So that frame_index keeps rising through a
    session (frames.csv and the face crops stay in time order), every run after the first is
    shifted past the highest index the session has seen (new_run())."""

    def __init__(self):
        self._target = None
        self._offset = 0
        self._next_index = 0  # one past the highest (shifted) frame index forwarded

    @property
    def target(self):
        return self._target

    @target.setter
    def target(self, session_sink) -> None:
        self._target = session_sink
        self._offset = self._next_index = 0

    def new_run(self) -> None:
        """The sources were restarted: the next run's frame 0 follows the last frame recorded."""
        self._offset = self._next_index

    def _forward(self, method: str, *args) -> None:
        target = self._target  # read once: the GUI thread may swap it at any time
        fn = getattr(target, method, None) if target is not None else None
        if fn is not None:
            fn(*args)

    def on_frame(self, frame, face_result=None):
        if self._target is None:
            return
        if self._offset:
            frame = replace(frame, index=frame.index + self._offset)
        self._next_index = max(self._next_index, frame.index + 1)
        self._forward("on_frame", frame, face_result)

    def on_gaze(self, sample):
        self._forward("on_gaze", sample)

    def on_prediction(self, prediction):
        self._forward("on_prediction", prediction)

    def on_event(self, event):
        self._forward("on_event", event)

    def on_window_skipped(self, reason, window_end_ns):
        self._forward("on_window_skipped", reason, window_end_ns)

    def on_face_crop(self, frame_index, host_ns, crop_rgb):
        self._forward("on_face_crop", frame_index + self._offset, host_ns, crop_rgb)

    def on_frame_fer(self, fer):
        if self._offset:
            fer = replace(fer, frame_index=fer.frame_index + self._offset)
        self._forward("on_frame_fer", fer)


def real_controller(choice: SourceChoice, gaze_columns=None, eye_params=None) -> LiveController:
    """The product's controller, with the command line's gaze column mapping and eye settings."""
    import functools

    return LiveController(choice, build=functools.partial(build_real, gaze_columns=gaze_columns),
                          make_runner=functools.partial(make_runner_real, eye_params=eye_params), eye_params=eye_params)
