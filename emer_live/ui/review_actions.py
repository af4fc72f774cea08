"""The window's review mode (Ctrl+O): a recorded session played in the window with its timeline,
answers beside the model, export and automatic annotation in the background. A mixin of
MainWindow: it uses the window's docks, panels and controller."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QWidget

from emer_live.errors import EmerError
from emer_live.ui.dialogs import default_sessions_root


class ReviewActions:
    # actions that make no sense while a recorded session plays
    REPLAY_DISABLED = ("record", "marker", "stimulus", "assess", "calibrate")

    def enter_replay(self, info: dict) -> None:
        """Play a recorded session: REPLAY banner with its name, recording and calibration off."""
        self.replay = info
        self.setWindowTitle(f"EMER Live — replay of {info.get('name', '')}")
        for name in self.REPLAY_DISABLED:
            self.actions_by_name[name].setEnabled(False)

    def leave_replay(self) -> None:
        self.replay = None
        self.setWindowTitle("EMER Live")
        for name in self.REPLAY_DISABLED:
            self.actions_by_name[name].setEnabled(True)

    def choose_session(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        root = str(self.settings.value("recording/root", "") or default_sessions_root())
        folder = QFileDialog.getExistingDirectory(self, "Open a recorded session", root)
        if folder:
            self.open_session(folder)

    def open_session(self, folder: str, clock=None) -> bool:
        """Review mode: the session plays in the window (its own frames, gaze and predictions)
        with a timeline, play / pause, seek and speed, and its answers beside the model's ER."""
        from emer_live.window_model.player import SessionPlayer
        from emer_live.window_model.review import ReviewModel
        from emer_live.ui.review import ReviewPanel

        if self.session is not None:
            self.show_error("Stop the recording (R) before opening a session to review.")
            return False
        try:
            player = SessionPlayer(folder, **({"clock": clock} if clock else {}))
        except (EmerError, OSError, ValueError, KeyError) as e:
            self.show_error(f"Cannot open the session {folder}: {e}")
            return False
        if self.player is not None:
            self.close_session(start_live=False)
        self.controller.stop()
        self.player, self.review_model = player, ReviewModel(player, self.model)
        self.enter_replay({"name": player.reader.path.name, "devices": dict(player.reader.meta.get("devices") or {}),
                           "path": str(player.reader.path)})
        self.review = ReviewPanel(player)
        self.review.play_toggled.connect(self.toggle_running)
        self.review.close_requested.connect(self.close_session)
        self.review.export_requested.connect(self.export_session)
        self.review.annotate_requested.connect(self.annotate_session)
        self.review_dock.setWidget(self.review)
        self.review_dock.show()
        self.answers_dock.setWidget(self.review.answers)  # where the recording panel sits when live
        self.answers_dock.show()
        # nothing records in a review: the recording panel makes room, and comes back on close
        self._rec_dock_before_review = self.rec_dock.isVisible()
        self.rec_dock.hide()
        self.statusBar().hide()  # live figures only: its height goes to the review bar
        self._reset_views()
        player.play()
        self.actions_by_name["start"].setChecked(True)
        self.timer.start()
        self.update_states()
        self.say(f"reviewing {player.reader.path.name} ({player.duration_s:.0f} s, {len(player.predictions)} "
                 "predictions): Space pauses, click the timeline to seek", 10000)
        return True

    def close_session(self, start_live: bool = True) -> None:
        if self.player is None:
            return
        player, self.player, self.review_model = self.player, None, None
        player.close()
        self.review_dock.hide()
        self.review_dock.setWidget(QWidget())
        self.answers_dock.hide()
        self.answers_dock.setWidget(QWidget())
        self.rec_dock.setVisible(self._rec_dock_before_review)
        self.statusBar().show()
        self.review = None
        self.leave_replay()
        self._reset_views()
        if start_live:
            self.start()

    def export_session(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Export the session to", str(self.player.reader.path.parent))
        if folder:
            self._in_background(f"export of {self.player.reader.path.name}", _export, str(self.player.reader.path), folder)

    def annotate_session(self) -> None:
        self._in_background(f"automatic annotation of {self.player.reader.path.name}", _annotate,
                            str(self.player.reader.path))

    def _in_background(self, what: str, fn, *args) -> None:
        """Slow session work off the GUI thread; the outcome comes back as feedback or an error."""
        def run():
            try:
                text, signal = f"{what}: {fn(*args)}", self.background_done
            except Exception as e:  # reported, never raised into Qt
                text, signal = f"{what} failed: {e}", self.worker_error
            if not self._window_closing:
                signal.emit(text)

        self.say(f"{what}: running…", 60000)
        threading.Thread(target=run, daemon=True).start()


def _export(session: str, folder: str) -> str:
    from emer_live.recording.export import export_session

    out = export_session(session, folder, "csv")
    return f"{len(out['tables'])} tables written to {folder}"


def _annotate(session: str) -> str:
    from emer_live.recording import annotation as A

    labels, model, source = A.auto_annotate_session(session)
    disputed = sum(1 for a in labels if a.fer7 and a.er7 and a.fer7 != a.er7)
    return (f"{len(labels)} segments labelled by the face network of {model or 'the session'} ({source}), "
            f"{disputed} where face and report differ "
            "(review them with: emer-live annotate SESSION review)")
