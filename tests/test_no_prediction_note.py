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


def test_a_folder_of_real_trial_files_says_why_it_made_no_prediction(tx300_files, real_video, tmp_path, capsys):
    """Each TX300 trial (about 4 s, made by others) is its own gaze recording (8-19 s apart on the
    tracker's clock, or out of order: none can be joined): no 8 s window fits inside one, so the run
    makes no prediction, and says so with the counts and why the trials were not joined."""
    import json

    from emer_live.cli import main

    folder = tx300_files[0].parent
    out = tmp_path / "o.jsonl"
    assert main(["run", "--headless", "--video", str(real_video), "--gaze", f"tsv:{folder}", "--fast", "--cpu",
                 "--no-frame-fer", "--out", str(out)]) == 0
    summary = json.loads(out.read_text().splitlines()[-1])
    assert summary["predictions"] == 0 and summary["windows_skipped"]["eye_stream_break"] > 0
    assert any(n.startswith("no prediction: every window was refused") for n in summary["notes"])
    err = capsys.readouterr().err
    assert "emer-live: no prediction: every window was refused (" in err
    # and why the trials could not be joined into one recording (sources/trial_joins.py)
    assert "gaze files: 0 joined, 4 not joined (2.tsv starts 18.870 s after the previous trial ends" in err
    assert summary["gaze_source"]["trials"]["breaks"] == 4
