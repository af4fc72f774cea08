"""The window's recording actions (R, M, N, A, F1-F5): a session opened with the participant's
pseudonym and consent, markers, stimuli and self-assessments placed in it and listed in the
recording panel, and the session closed off the GUI thread. A mixin of MainWindow: it uses the
window's widgets (rec_panel, rec_dock, actions_by_name), its controller, and its RecordingModel
(self.recording: what may be done now and the bookkeeping, window_model/recording.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from emer_live.clock import now_ns
from emer_live.errors import EmerError, RecordingError
from emer_live.pipeline.frame_fer import DEFAULT_SMOOTHING_S
from emer_live.ui.dialogs import RecordDialog, SelfAssessmentDialog, default_sessions_root
from emer_live.window_model.recording import why_not_record


class RecordingActions:
    def toggle_recording(self) -> None:
        if self.session is not None:
            self.stop_recording()
            return
        why_not = why_not_record(self.model.stats, self.controller.running, self.controller.loading)
        if why_not:
            self.actions_by_name["record"].setChecked(False)
            self.say(why_not, 10000)
            return
        # the pseudonym is never carried over from the previous participant
        dialog = RecordDialog("", str(self.settings.value("recording/root", "") or default_sessions_root()), self)
        dialog.accepted.connect(lambda: self.start_recording(dialog.participant.text().strip(),
                                                             dialog.consent.isChecked(), dialog.root.text().strip()))
        dialog.open()
        self.dialog = dialog
        self.actions_by_name["record"].setChecked(False)

    def _fer_smoothing_s(self) -> float:
        """The FER panel's smoothing time constant (recorded, so a review draws what was seen)."""
        pipe = getattr(self.controller.runner, "pipeline", None)
        return float(getattr(pipe, "fer_smoothing_s", DEFAULT_SMOOTHING_S))

    def start_recording(self, participant: str, consent: bool, root: str, notes: str = "") -> bool:
        from emer_live.features.eye_v1 import EyeParams
        from emer_live.pipeline.eye_geometry import geometry_dict
        from emer_live.recording.session import RecordingSession, new_session_folder

        built = self.controller.built
        try:
            session = RecordingSession(new_session_folder(root, participant), participant=participant, consent=consent,
                                       devices=self.controller.resolved.as_dict() if self.controller.resolved else {},
                                       model_card=getattr(getattr(built, "engine", None), "card", None), notes=notes,
                                       pipeline={"eye_geometry": geometry_dict(self.controller.eye_params or EyeParams()),
                                                 "fer_smoothing_s": self._fer_smoothing_s(),
                                                 "fer_box": getattr(built, "fer_box", "template")},
                                       on_error=lambda err: self.recording_failed.emit(str(err)))
        except EmerError as e:
            self.show_error(str(e))
            return False
        if built is not None:
            session.watch_sources(built.frame_source, built.gaze_source)
        self.settings.setValue("recording/root", root)
        self.rec_banner.hide()
        if self.calibration_result is not None:
            session.add_calibration("validation", self.calibration_result)
        self.session, self.sink.target = session, session.sink
        self.recording.began(time.monotonic(), now_ns())
        self.actions_by_name["record"].setChecked(True)
        self.rec_panel.begin(session)
        self.rec_dock.show()
        self.say(f"recording to {Path(session.folder).name} (the whole path is in the recording panel)", 8000)
        return True

    def log_session_item(self, t_ns: int, kind: str, text: str = "") -> None:
        """One line in the recording panel's list of what the session holds; markers and stimuli
        also go on the time series."""
        if self.session is not None:
            self.rec_panel.add_item(self.rec_panel.elapsed(), kind, text)
        if kind in ("marker", "stimulus began", "stimulus ended"):
            label = text.split(" (")[0] if kind == "marker" else ("▶ " if kind == "stimulus began" else "■ ") + text
            self.timeseries.add_mark(t_ns, label)

    def stop_recording(self) -> None:
        session, self.session = self.session, None
        self.sink.target = None
        self.actions_by_name["record"].setChecked(False)
        self.rec_label.setText("")
        self.rec_panel.end(self.recording.ended(session.folder))
        # closing flushes and syncs files: off the GUI thread (joined when the window closes, so
        # it never signals a window that is gone)
        closer = threading.Thread(target=self._close_session, args=(session,), daemon=True)
        closer.start()
        self._closers.append(closer)

    def _close_session(self, session) -> None:
        try:
            session.close()
        except EmerError as e:
            self.worker_error.emit(str(e))

    def _update_rec_label(self) -> None:
        if self.session is None:
            return
        err = self.session.error
        self.rec_label.setText(self.recording.rec_label(time.monotonic(), err))
        if self.frames_drawn % 15 == 0 or err is not None:
            self.rec_panel.refresh()
        if err is not None:  # a failed recording is a banner, not a footnote
            self.rec_banner.setText(f"RECORDING FAILED: {err}")
            self.rec_banner.show()

    def _need_session(self, what: str) -> bool:
        why_not = self.recording.need_session(what)
        if why_not:
            self.say(why_not, 5000)
        return not why_not

    def add_marker(self, label: str) -> None:
        if self._need_session("marker"):
            t = self.session.add_marker(label)
            self.recording.marker_placed(t)
            self.log_session_item(t, "marker", label)
            self.say(f"marker '{label}' placed", 4000)

    def add_hotkey_marker(self, key: str) -> None:
        if self._need_session("marker"):
            t = self.session.add_hotkey(key)
            if t is not None:
                self.recording.marker_placed(t)
                label = self.session.markers.label_for_key(key)
                self.log_session_item(t, "marker", f"{label} ({key})")
                self.say(f"marker '{label}' placed", 4000)

    def toggle_stimulus(self) -> None:
        if not self._need_session("stimulus"):
            return
        began, label = self.recording.toggle_stimulus()
        t = self.session.begin_stimulus(label) if began else self.session.end_stimulus()
        self.log_session_item(t, "stimulus began" if began else "stimulus ended", label)
        line, said = self.recording.stimulus_texts(began, label)
        self.rec_panel.set_stimulus(line)
        self.say(said, 5000 if began else 8000)

    def open_self_assessment(self) -> None:
        if not self._need_session("self-assessment"):
            return
        dialog = SelfAssessmentDialog(self, screen_index=int(self.settings.value("assessment/screen", -1)))
        dialog.answered.connect(self.record_self_assessment)
        dialog.screen_chosen.connect(lambda i: self.settings.setValue("assessment/screen", i))
        dialog.open()
        dialog.place()
        self.dialog = dialog

    def record_self_assessment(self, answer: dict) -> None:
        """Rates the last ended stimulus, or else the time since the last marker / answer."""
        if self.session is None:
            return
        try:
            try:
                self.session.add_self_assessment(**answer)
            except RecordingError:  # no ended stimulus to rate: the time since the last marker or answer
                start, end = self.recording.free_assessment_span(now_ns())
                self.session.add_self_assessment(**answer, start_ns=start, end_ns=end)
        except EmerError as e:
            self.show_error(str(e))
            return
        text = f"{answer['emotion7']}, valence {answer['valence']}, arousal {answer['arousal']}"
        self.log_session_item(now_ns(), "self-assessment", text)
        self.say(f"self-assessment stored: {text}", 6000)
