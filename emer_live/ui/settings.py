"""What the window remembers between runs (QSettings): only the sources chosen in the sources
dialog, never a replay or one run's command-line inputs."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from emer_live.ui.controller import MAX_FACES, SourceChoice

SETTINGS_KEYS = ("frame", "gaze", "model")


def rememberable(spec: str) -> bool:
    """A replay is never a remembered source: it is one session, not a set-up."""
    return not spec.startswith("replay")


def load_choice(settings: QSettings) -> SourceChoice:
    """The sources last chosen in the sources dialog (QSettings), "auto" when none was remembered.
    A replay stored by an older version is ignored, so it cannot take over every start."""
    default = SourceChoice().as_dict()
    values = {k: str(settings.value(f"sources/{k}", default[k])) for k in SETTINGS_KEYS}
    try:
        max_faces = min(max(int(settings.value("faces/max", 1)), 1), MAX_FACES)
    except (TypeError, ValueError):
        max_faces = 1
    # A key of its own: the earlier "faces/fer_box" held the landmarks as its default, not a choice.
    fer_box = "template" if str(settings.value("faces/fer_crop", "auto")) == "template" else "auto"
    chosen = {k: v if rememberable(v) else default[k] for k, v in values.items()}
    columns = str(settings.value("sources/gaze_columns", "") or "") if chosen["gaze"].startswith("tsv") else ""
    return SourceChoice(**chosen, max_faces=max_faces, fer_box=fer_box, gaze_columns=columns)


def save_choice(settings: QSettings, choice: SourceChoice) -> None:
    """Only what a person chose in the sources dialog is remembered (never a replay or one run's
    command-line inputs)."""
    for k, v in choice.as_dict().items():
        if rememberable(v):
            settings.setValue(f"sources/{k}", v)
    if rememberable(choice.gaze):
        settings.setValue("sources/gaze_columns", choice.gaze_columns)
    settings.setValue("faces/max", int(choice.max_faces))
    settings.setValue("faces/fer_crop", choice.fer_box)
    settings.sync()
