"""What the window runs: the chosen sources, the model and the LiveRunner, started and stopped
without Qt. Failures never escape as exceptions: they become per-panel notices with a
one-click recovery, so the window always stays up."""

from __future__ import annotations

import logging
import threading
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
    `fer_box`: what places the FER crop, "auto" (default: the network's own framing, the live framing
    of features/face_box.py for a FER2013-framed model, the landmark template for any other) or
    "template" (the landmarks alone: the cheapest, on the face thread alone);
    `gaze_columns`: a column mapping JSON file for a recorded gaze file of an undetected layout
    ('' detects the layout; the command line's --gaze-columns applies)."""

    frame: str = "auto"
    gaze: str = "auto"
    model: str = ""
    max_faces: int = 1
    fer_box: str = "auto"
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
    fer_box: str = "template"  # what places the FER crop (SourceChoice.fer_box, "auto" resolved)


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

    from emer_live.features.face_box import check_fer_box, resolve_fer_box

    engine = InferenceEngine(choice.model or None)
    try:
        fer_box = (choice.fer_box if choice.fer_box != "auto"
                   else resolve_fer_box(choice.fer_box, offline=not realtime, recipe=engine.card.crop_recipe))
        if fer_box != "template":  # the template places any recipe's crop
            check_fer_box(fer_box, engine.card.crop_recipe, f"model {engine.card.name!r}")
        columns = (choice.gaze_columns or gaze_columns) if choice.gaze.startswith("tsv") else None
        return Built(make_frame_source(choice.frame, realtime), make_gaze_source(choice.gaze, realtime, columns=columns),
                     engine, choice.max_faces, fer_box)
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
class Opened:
    """What one start produced, on whichever thread it ran: the started runner and what it was
    built from, or the notices of what failed."""
    resolved: SourceChoice
    runner: object = None
    built: Built | None = None
    notices: dict = field(default_factory=dict)

    def close(self) -> None:
        """An outcome nobody will use (superseded, stopped, the window gone): closed, so its
        threads, sources and model do not outlive it."""
        if self.runner is not None:
            (getattr(self.runner, "close", None) or self.runner.stop)()
        elif self.built is not None:
            _close_built(self.built)


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
    loading: bool = False  # a background start is under way (start_in_background)
    _load_gen: int = 0  # bumped by every start and stop: a load of an older generation is thrown away
    _arrived: Opened | None = None  # a background load's outcome, not yet taken by the caller's thread
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _loaders: list = field(default_factory=list, repr=False)  # worker threads, the newest last

    @property
    def running(self) -> bool:
        return self.runner is not None

    def start(self) -> bool:
        """Build and start everything; on failure record a notice and return False."""
        self._begin()
        return self._commit(self._open(self.choice, list(self.sinks)))

    def start_in_background(self, post: Callable[[Callable[[], None]], None], done: Callable[[bool], None]) -> None:
        """Start as start() does, with the slow part (resolving "auto", loading the model, opening the
        sources and the face step) on a worker thread, so the caller's thread stays free (the window
        keeps drawing and answering). `post(fn)` must run fn on the caller's thread (a queued signal);
        there the outcome is taken and `done(ok)` called. A start or stop before it arrives supersedes
        it: its runner is closed and `done` is not called."""
        gen = self._begin()
        self.loading = True
        choice, sinks = self.choice, list(self.sinks)

        def work():
            try:
                opened = self._open(choice, sinks)
            except Exception as e:  # an unexpected failure is said like any other: never a window left loading
                log.exception("starting the live view failed")
                opened = Opened(choice, notices={"model": Notice(f"starting failed: {type(e).__name__}: {e}", "Retry")})
            with self._lock:
                current = gen == self._load_gen
                if current:
                    self._arrived = opened
            if not current:
                opened.close()
                return
            try:
                post(lambda: self._land(gen, done))
            except RuntimeError:  # the receiver is gone (window closed): nobody takes it
                self._drop_arrived(opened)

        loader = threading.Thread(target=work, name="emer-live-load", daemon=False)
        self._loaders = [t for t in self._loaders if t.is_alive()] + [loader]
        loader.start()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait for the background loads' workers to finish, superseded ones too (the current one's
        outcome still lands through `post`). False if one is still running after `timeout` s each."""
        for loader in list(self._loaders):
            loader.join(timeout)
        return not any(t.is_alive() for t in self._loaders)

    def _land(self, gen: int, done: Callable[[bool], None]) -> None:
        with self._lock:
            if gen != self._load_gen or self._arrived is None:
                return  # superseded meanwhile; stop() closed it
            opened, self._arrived = self._arrived, None
        self.loading = False
        done(self._commit(opened))

    def _begin(self) -> int:
        self.stop()
        self.notices.clear()
        self.resolved, self.built = None, None
        return self._load_gen

    def _open(self, choice: SourceChoice, sinks: list) -> Opened:
        """The slow part: touches no controller state, so it may run on any thread (no Qt here)."""
        resolved = resolve_auto(choice) if "auto" in (choice.frame, choice.gaze) else choice
        try:
            built = self.build(resolved)
        except ModelError as e:
            action = "Use default model" if resolved.model else "Retry"
            return Opened(resolved, notices={"model": Notice(f"model failed to load: {e}", action)})
        except SourceError as e:
            return Opened(resolved, notices={_panel_of(str(e)): Notice(str(e), "Retry")})
        runner = None
        try:
            runner = self.make_runner(built, sinks, self.update_hz)
            runner.start()  # on failure it has closed what it owns
        except EmerError as e:
            log.error("starting the live view failed: %s", e)
            if runner is None:
                _close_built(built)
            return Opened(resolved, notices={_panel_of(str(e)): Notice(str(e), "Retry")})
        return Opened(resolved, runner, built)

    def _commit(self, opened: Opened) -> bool:
        self.resolved = opened.resolved
        self.notices.update(opened.notices)
        if opened.runner is None:
            return False
        self.runner, self.built = opened.runner, opened.built
        return True

    def _drop_arrived(self, only: Opened | None = None) -> None:
        with self._lock:
            if only is not None and self._arrived is not only:
                return
            arrived, self._arrived = self._arrived, None
        if arrived is not None:
            arrived.close()

    def stop(self) -> None:
        """Stop and close the runner: its threads, sources, face step and engine (it owns them).
        A background load under way is superseded: what it opens is closed when it is done."""
        with self._lock:
            self._load_gen += 1
        self.loading = False
        self._drop_arrived()
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
