"""The model loads off the GUI thread: while it loads every panel says so and the window answers
(help, the sources dialog, Space, quit); the outcome lands on the GUI thread, failures as notices;
a load superseded by a newer start, a stop or a closed window is closed, never installed."""

from __future__ import annotations

import threading

import pytest

from emer_live.errors import ModelError
from emer_live.ui.controller import Built, LiveController, SourceChoice
from emer_live.window_model.states import LOADING
from tests.ui.doubles import FakeRunner


class Gate:
    """A build that blocks until released, noting the thread it ran on (the slow model load)."""

    def __init__(self, fail: Exception | None = None):
        self.release, self.entered = threading.Event(), threading.Event()
        self.threads: list[str] = []
        self.fail = fail

    def __call__(self, choice):
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.release.wait(20), "the test never released the build"
        if self.fail is not None:
            raise self.fail
        return Built(None, None, None)


class ClosingRunner(FakeRunner):
    made: list = []

    def __init__(self):
        super().__init__()
        self.closed = False
        ClosingRunner.made.append(self)

    def close(self):
        self.closed = True


@pytest.fixture
def gated(make_window):
    def make(fail=None):
        gate = Gate(fail)
        ClosingRunner.made = []
        win = make_window(runner_factory=ClosingRunner, build=gate)
        win.load_in_background = True
        return win, gate

    return make


def test_the_window_answers_while_the_model_loads_and_runs_once_it_has(gated, qtbot):
    win, gate = gated()
    landed_on = []
    started = win._started
    win._started = lambda ok: (landed_on.append(threading.current_thread()), started(ok))[1]
    assert win.start() is False  # not yet: the outcome lands later
    assert gate.entered.wait(5)
    assert gate.threads == ["emer-live-load"]  # the slow part is not on the GUI thread
    assert win.loading and not win.controller.running
    for _ in range(3):
        win.tick()  # the draw timer runs during the load
    assert {p.state.state for p in win.panels.values()} == {LOADING}
    assert win.headline.text().startswith("Loading the model and opening the sources")
    win.toggle_help()  # help and the sources dialog open while it loads
    assert win.help.isVisible()
    win.toggle_help()
    win.open_sources()
    assert win.dialog.isVisible()
    win.dialog.reject()
    win.toggle_recording()  # nothing to record yet: it says why and opens no session
    assert win.session is None and "still loading" in win.feedback.text()
    gate.release.set()
    assert win.wait_loaded(timeout_s=10)
    assert not win.loading and win.controller.running and win.actions_by_name["start"].isChecked()
    assert landed_on == [threading.main_thread()]  # the outcome is taken on the GUI thread
    win.tick()
    assert win.panels["er"].state.state != LOADING
    assert not win.headline.text().startswith("Loading")


def test_a_model_that_fails_to_load_in_the_background_is_said_like_a_synchronous_failure(gated, qtbot):
    win, gate = gated(fail=ModelError("card m.card.json: unknown eye schema 'eye-v9'"))
    win.start()
    gate.release.set()
    assert not win.wait_loaded(timeout_s=10)
    assert "eye-v9" in win.controller.notices["model"].text
    assert win.headline.text() == "Not running: the model failed to load"
    assert "eye-v9" in win.last_error_box.text()
    win.tick()
    assert win.panels["er"].state.state == "error"


def test_an_unexpected_failure_on_the_worker_never_leaves_the_window_loading(gated, qtbot):
    win, gate = gated(fail=RuntimeError("a bug in a library"))
    win.start()
    gate.release.set()
    assert not win.wait_loaded(timeout_s=10) and not win.loading
    assert "RuntimeError: a bug in a library" in win.controller.notices["model"].text
    win.tick()
    assert win.panels["er"].state.state == "error"


def test_space_during_the_load_cancels_it_and_what_it_opened_is_closed(gated, qtbot):
    win, gate = gated()
    win.start()
    assert gate.entered.wait(5)
    win.toggle_running()  # Space: stop
    assert not win.loading and win.headline.text().startswith("Stopped")
    gate.release.set()
    assert win.controller.wait_loaded(10)
    qtbot.wait(50)  # anything posted to the GUI thread has run
    assert not win.controller.running
    assert len(ClosingRunner.made) == 1 and ClosingRunner.made[0].closed


def test_a_newer_start_supersedes_a_load_under_way(gated, qtbot):
    win, gate = gated()
    win.start()
    assert gate.entered.wait(5)
    first = win.controller._loaders[-1]
    gate2 = Gate()
    win.controller.build = gate2
    win.start()  # e.g. new sources chosen while the first model still loads
    gate.release.set()
    first.join(10)
    gate2.release.set()
    assert win.wait_loaded(timeout_s=10)
    old, new = ClosingRunner.made
    assert old.closed and not new.closed and win.controller.runner is new


def test_closing_the_window_during_the_load_closes_what_the_load_opens(gated, qtbot):
    win, gate = gated()
    win.start()
    assert gate.entered.wait(5)
    win.close()
    gate.release.set()
    assert win.controller.wait_loaded(10)
    assert ClosingRunner.made[0].closed and win.controller.runner is None


def test_an_outcome_with_no_window_left_to_take_it_is_closed():
    """The GUI side is gone (posting raises, as a deleted QObject's signal does): the worker closes it."""
    made = []

    class Runner(FakeRunner):
        def close(self):
            self.closed = True

    def runner(*_):
        made.append(Runner())
        return made[-1]

    def gone(fn):
        raise RuntimeError("Internal C++ object already deleted.")

    ctl = LiveController(SourceChoice("demo", "none"), build=lambda c: Built(None, None, None), make_runner=runner)
    ctl.start_in_background(gone, lambda ok: None)
    assert ctl.wait_loaded(10)
    assert made[0].closed and ctl.runner is None and ctl._arrived is None


@pytest.mark.slow
def test_background_loads_of_the_real_model_superseded_midway_leave_no_threads_behind():
    """The product's controller (MediaPipe, ONNX Runtime, demo sources): loads stopped or replaced
    before they land close what they opened; native threads end where a plain start and stop leave them."""
    import time

    psutil = pytest.importorskip("psutil")
    from emer_live.ui.controller import real_controller

    queue: list = []  # what the worker posts: run here, as the GUI thread's event loop would
    ctl = real_controller(SourceChoice("demo", "simulated"))

    def threads_after(cycle) -> int:
        cycle()
        ctl.wait_loaded(60)
        while queue:
            queue.pop(0)()
        ctl.stop()
        return psutil.Process().num_threads()

    def plain():
        assert ctl.start(), ctl.notices
        time.sleep(0.3)

    def superseded():
        ctl.start_in_background(queue.append, lambda ok: None)
        time.sleep(0.2)  # mid-load
        ctl.start_in_background(queue.append, lambda ok: None)  # replaced: the first is closed on arrival
        time.sleep(0.1)
        ctl.stop()  # and this one stopped before it lands

    def landed():
        done = []
        ctl.start_in_background(queue.append, done.append)
        ctl.wait_loaded(60)
        while queue:
            queue.pop(0)()
        assert done == [True] and ctl.running

    base = max(threads_after(plain) for _ in range(2))
    after = [threads_after(c) for c in (superseded, landed, superseded, superseded, landed)]
    assert not ctl.running and ctl._arrived is None
    assert max(after) <= base, (base, after)
