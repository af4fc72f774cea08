"""Starting the live view without freezing the window: the controller loads the model and opens
the sources on a worker thread (no Qt there), and the outcome comes back to the GUI thread through
a queued signal. Meanwhile every panel says it is loading and the window answers (help, quit, the
sources dialog). A mixin of MainWindow: it uses the window's panels, headline and controller."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, Signal

from emer_live.window_model.states import LOADING, PanelState


class GuiPost(QObject):
    """Runs a callable on the thread this object lives in (the GUI thread), whichever thread posts
    it. Posting after the object is deleted raises RuntimeError (the caller then cleans up)."""

    call = Signal(object)

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.call.connect(self._run, Qt.QueuedConnection)

    @staticmethod
    def _run(fn) -> None:
        fn()

    def post(self, fn) -> None:
        self.call.emit(fn)


class BackgroundStart:
    load_in_background = False  # the app sets it; tests and screenshot scripts start synchronously
    _load_began: float | None = None

    def start_in_background(self) -> None:
        """What start() does with the controller's slow part on a worker thread; the rest of the
        start (notices, recording events, the Start button) follows in `_started` when it lands."""
        poster = getattr(self, "_poster", None)
        if poster is None:
            poster = self._poster = GuiPost(self)
        self._load_began = time.monotonic()
        self.controller.start_in_background(poster.post, self._started)
        self.actions_by_name["start"].setChecked(True)
        self.show_loading()
        self.timer.start()

    @property
    def loading(self) -> bool:
        return bool(self.controller.loading)

    def wait_loaded(self, timeout_s: float = 60.0) -> bool:
        """Until a background start has landed (the Qt event loop runs meanwhile); for tests and
        scripts that need the running state."""
        from PySide6.QtWidgets import QApplication

        end = time.monotonic() + timeout_s
        while self.loading and time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)
        return self.controller.running

    def show_loading(self) -> None:
        """Every panel says what is under way, with the seconds so far, so a slow load never looks
        like a frozen window."""
        what = "opening the sources and the model"
        state = PanelState(LOADING, what)
        for panel in self.panels.values():
            panel.set_state(state)
        elapsed = time.monotonic() - (self._load_began or time.monotonic())
        text = f"Loading the model and opening the sources… {elapsed:.0f} s"
        if self.headline.text() != text:
            self.headline.setText(text)
        for key in ("camera", "gaze", "latency", "inference"):
            if self.status_labels[key].text():
                self.status_labels[key].setText("")
