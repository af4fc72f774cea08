"""The window's set-up actions: the sources dialog (O), switching sources (a recording goes on in
a new session with the new ones) and the eye tracker's calibration (C). A mixin of MainWindow."""

from __future__ import annotations

from pathlib import Path

from emer_live.errors import EmerError
from emer_live.ui.controller import SourceChoice
from emer_live.ui.dialogs import SourceDialog
from emer_live.ui.settings import load_choice, save_choice


class SetupActions:
    def open_sources(self) -> None:
        # a replay is not a set-up to edit: the dialog starts from the remembered sources
        start = load_choice(self.settings) if self.replay is not None else self.controller.choice
        dialog = SourceDialog(start, discover=self.discover, parent=self)
        dialog.accepted_choice.connect(self.switch_sources)
        dialog.open()
        self.dialog = dialog

    def switch_sources(self, choice: SourceChoice) -> bool:
        """New sources. A recording in progress ends with the old sources and a new session
        starts for the same participant with the new ones, so each session.json names the
        sources its data came from."""
        if self.player is not None:
            self.close_session(start_live=False)
        if self.replay is not None and not choice.frame.startswith("replay"):
            self.leave_replay()
        self.controller.choice = choice
        save_choice(self.settings, choice)
        previous = self.session
        if previous is not None:
            self.stop_recording()
        ok = self.start(background=False if previous is not None else None)  # the new session needs the sources
        if previous is not None:
            folder = Path(previous.folder)
            if self.start_recording(previous.meta["participant"], True, str(folder.parent),
                                    notes=f"continues session {folder.name} after a source switch"):
                self.say(f"sources switched: session {folder.name} ended; recording goes on in {self.session.folder}", 12000)
        return ok

    def _tracker_from_source(self):
        """The SDK EyeTracker of the running Tobii source: its own if it exposes one, else the
        same device found again through the SDK (SDK handles to one device can coexist)."""
        built, resolved = self.controller.built, self.controller.resolved
        tracker = getattr(built.gaze_source, "eyetracker", None) if built is not None else None
        if tracker is not None or resolved is None or not resolved.gaze.startswith("tobii"):
            return tracker
        from emer_live.sources.tobii import import_sdk

        target = resolved.gaze.partition(":")[2]
        found = import_sdk().find_all_eyetrackers()
        return next((t for t in found if not target or target in (t.serial_number, t.address)), None)

    def open_calibration(self, n_points: int | None = None) -> None:
        try:
            tracker = self.tracker_provider()
        except EmerError as e:
            self.show_error(str(e))
            return
        if tracker is None:
            self.show_error("Calibration needs a Tobii eye tracker. Choose one under Sources (O); "
                            "the current gaze source is " + (self.controller.resolved.gaze if self.controller.resolved else "not running") + ".")
            return
        from emer_live.ui.calibration import CalibrationWindow

        n = n_points or int(self.settings.value("calibration/points", 5))
        try:
            calibration = self.calibration_factory(tracker) if self.calibration_factory else None
            win = CalibrationWindow(tracker, calibration, n_points=n)
        except Exception as e:  # SDK refuses (no screen-based calibration on this tracker, not connected)
            self.show_error(f"Cannot calibrate this tracker: {e}")
            return
        win.finished.connect(self.on_calibrated)
        win.start()
        win.showFullScreen()
        self.calibration_window = win

    def on_calibrated(self, result: dict) -> None:
        self.calibration_result = result
        self.settings.setValue("calibration/points", result["n_points"])
        if self.session is not None:
            self.session.add_calibration("validation", result)
        self.say(
            f"calibration: accuracy {result['mean_accuracy_deg']:.2f}°, precision {result['mean_precision_rms_deg']:.2f}°"
            + ("" if self.session is not None else " (stored with the next recording)"), 15000)
