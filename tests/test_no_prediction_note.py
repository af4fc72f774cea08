"""A run that makes no prediction says why, with the counts (e.g. a folder of trial files where
every window spans a break between two trials)."""

from emer_live.pipeline.core import SKIP_REASONS
from emer_live.pipeline.report import no_prediction_note


def test_every_window_refused_is_said_with_counts():
    ps = {"predictions": 0, "windows_skipped": {"warming_up": 3, "eye_stream_break": 120},
          "windows_skipped_why": {k: SKIP_REASONS[k] for k in ("warming_up", "eye_stream_break")}}
    note = no_prediction_note(ps)
    assert note.startswith("no prediction: every window was refused (")
    assert f"120 x {SKIP_REASONS['eye_stream_break']}" in note and "3 x " in note


def test_no_note_when_there_are_predictions_or_nothing_was_due():
    assert no_prediction_note({"predictions": 5, "windows_skipped": {"warming_up": 3}}) == ""
    assert no_prediction_note({"predictions": 0, "windows_skipped": {}}) == ""
