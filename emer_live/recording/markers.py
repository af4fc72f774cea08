"""Experimenter markers: a configurable list of labels, each optionally bound to a hotkey.

The UI turns a button press or hotkey into `RecordingSession.add_marker(label)`; this module only
holds and checks the configuration (a small JSON file a lab can keep beside its protocol):

    {"labels": ["baseline start", "artifact"], "hotkeys": {"F1": "baseline start", "F2": "artifact"}}
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from emer_live.errors import RecordingError

DEFAULT_MARKER_LABELS = ("baseline start", "baseline end", "artifact", "participant moved", "note")
DEFAULT_HOTKEYS = {f"F{i + 1}": label for i, label in enumerate(DEFAULT_MARKER_LABELS)}


def check_label(label: str) -> str:
    """The label as typed, or RecordingError: what is stored must come back exactly, so text a
    table cannot hold as it is (line breaks, control characters, spaces at either end) is refused,
    not changed."""
    label = str(label)
    if not label.strip() or any(unicodedata.category(c) == "Cc" for c in label):
        raise RecordingError(f"Marker label {label!r} must be a non-empty single line of text without control "
                             "characters")
    if label != label.strip():
        raise RecordingError(f"Marker label {label!r} starts or ends with spaces; give it without them")
    if len(label) > 200:
        raise RecordingError(f"Marker label {label[:40]!r}... is {len(label)} characters long; at most 200")
    return label


@dataclass
class MarkerConfig:
    labels: tuple = DEFAULT_MARKER_LABELS
    hotkeys: dict = field(default_factory=lambda: dict(DEFAULT_HOTKEYS))  # key sequence -> label

    def __post_init__(self):
        self.labels = tuple(check_label(x) for x in self.labels)
        unknown = {k: v for k, v in self.hotkeys.items() if v not in self.labels}
        if unknown:
            raise RecordingError(f"Hotkeys {unknown} name labels that are not in the marker list {list(self.labels)}")

    def label_for_key(self, key: str) -> str | None:
        return self.hotkeys.get(key)

    def as_dict(self) -> dict:
        return {"labels": list(self.labels), "hotkeys": dict(self.hotkeys)}

    @classmethod
    def load(cls, path: str | Path) -> "MarkerConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(labels=tuple(data["labels"]), hotkeys=dict(data.get("hotkeys", {})))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RecordingError(f"Marker configuration {path} is not usable: {e!r}. "
                                 'Expected JSON like {"labels": [...], "hotkeys": {"F1": "..."}}') from None
