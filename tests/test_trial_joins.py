"""Trial folders: trial files whose device times follow on are played, recorded and trained from as
one continuous recording; every other seam stays a break that says why (emer_live/sources/
trial_joins.py, one rule for the player, the pipeline and training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emer_live import cli
from emer_live.sources.factory import make_gaze_source
from emer_live.sources.trial_joins import JOIN_GAP_S, seam, window_spans_break
from emer_live.types import GazeSample, SourceEvent
from tests.model_doubles import build_model_double


def _split(tsv: Path, folder: Path, cuts: list[int], shift_us: list[int] | None = None, names=None) -> list[Path]:
    """Cut a real recording into trial files at the given rows (its own rows, unchanged; each piece's
    time stamps optionally shifted), as experiment software that saves one file per trial does."""
    header, *rows = tsv.read_text().splitlines()
    bounds = [0, *cuts, len(rows)]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        shift = (shift_us or [0] * len(bounds))[k]
        lines = [str(int(r.split("\t", 1)[0]) + shift) + "\t" + r.split("\t", 1)[1] for r in rows[a:b]]
        path = folder / (names[k] if names else f"trial_{k + 1}.tsv")
        path.write_text(header + "\n" + "\n".join(lines) + "\n")
        out.append(path)
    return out


def _play(spec: str):
    src = make_gaze_source(spec)
    with src:
        items = list(src.samples())
    samples = [i for i in items if isinstance(i, GazeSample)]
    breaks = [i for i in items if isinstance(i, SourceEvent) and i.kind == "stream_break"]
    return src, samples, breaks


def test_the_rule():
    assert seam("a", "b", 1_000_000, 1_003_333).joined
    assert seam("a", "b", 1_000_000, 1_000_000 + int(JOIN_GAP_S * 1e6)).joined
    late = seam("a", "b", 1_000_000, 1_000_000 + int(JOIN_GAP_S * 1e6) + 1)
    assert not late.joined and "did not record" in late.why
    for start in (1_000_000, 400_000):  # the same stamp again, or earlier: overlapping or out of order
        s = seam("a", "b", 1_000_000, start)
        assert not s.joined and "overlapping or out of order" in s.why and s.gap_s <= 0
    other = seam("a", "b", 1_000_000, 1_003_333, same_person=False)
    assert not other.joined and "another participant" in other.why
    assert not seam("a", "b", None, 5).joined
    assert window_spans_break(0, 10, [10]) and not window_spans_break(0, 10, [0, 11])


def test_real_trials_cut_from_one_recording_play_as_that_recording(tx300_files, tmp_path):
    """A real TX300 recording (made by others) cut into three trial files, with names that sort
    wrongly as text (trial_10 before trial_2): played as one recording, sample for sample at the
    times the whole file plays them."""
    whole = next(p for p in tx300_files if p.parent.name == "participant2" and p.name == "1.tsv")
    _split(whole, tmp_path / "trials", [400, 800], names=["trial_1.tsv", "trial_2.tsv", "trial_10.tsv"])
    src, samples, breaks = _play(f"tsv:{tmp_path / 'trials'}")
    _, ref, _ = _play(f"tsv:{whole}")
    assert not breaks
    trials = src.info()["trials"]
    assert trials["joined"] == 2 and trials["breaks"] == 0
    assert [s["next"] for s in trials["seams"]] == ["trial_2.tsv", "trial_10.tsv"]
    assert all(0 < s["gap_s"] < 0.01 and "joined" in s["why"] for s in trials["seams"])
    assert [s.host_ns for s in samples] == [s.host_ns for s in ref]
    assert np.array_equal(np.stack([s.values for s in samples]), np.stack([s.values for s in ref]), equal_nan=True)


def test_a_short_pause_between_trials_stays_a_gap_in_time(tx300_files, tmp_path):
    whole = next(p for p in tx300_files if p.parent.name == "participant2" and p.name == "1.tsv")
    _split(whole, tmp_path / "t", [600], shift_us=[0, 500_000])  # half a second between the two trials
    src, samples, breaks = _play(f"tsv:{tmp_path / 't'}")
    assert not breaks and src.info()["trials"]["joined"] == 1
    dt = np.diff([s.host_ns for s in samples])
    assert abs(dt.max() / 1e9 - (0.5 + 1 / 300)) < 1e-3  # the unrecorded half second is kept, not closed up


def test_the_real_trial_folder_keeps_its_breaks_and_says_why(tx300_files):
    """participant1's five real trials lie 8 to 19 s apart on the tracker's clock, and files 4 and 5
    were recorded before file 3: nothing can be joined, and each break says which case it is."""
    src, samples, breaks = _play(f"tsv:{tx300_files[0].parent}")
    seams = src.info()["trials"]["seams"]
    assert src.info()["trials"] == {"join_gap_s": JOIN_GAP_S, "joined": 0, "breaks": 4, "seams": seams}
    assert len(breaks) == 4 and all(not s["joined"] for s in seams)
    assert [s["gap_s"] > JOIN_GAP_S for s in seams] == [True, True, False, False]
    assert "did not record" in seams[0]["why"] and "out of order" in seams[3]["why"]
    assert all(s["why"] in b.message for s, b in zip(seams, breaks))
    assert np.all(np.diff([s.host_ns for s in samples]) > 0)


@pytest.mark.parametrize("case", ["overlapping", "out_of_order"])
def test_hostile_trial_times_are_never_joined(tx300_files, tmp_path, case):
    whole = next(p for p in tx300_files if p.parent.name == "participant2" and p.name == "1.tsv")
    # overlapping: the second trial starts 1 s before the first ends; out of order: the second file
    # holds the recording's first part
    if case == "overlapping":
        _split(whole, tmp_path / "t", [600], shift_us=[0, -1_000_000])
    else:
        _split(whole, tmp_path / "t", [600], names=["trial_2.tsv", "trial_1.tsv"])
    src, samples, breaks = _play(f"tsv:{tmp_path / 't'}")
    trials = src.info()["trials"]
    assert trials["joined"] == 0 and trials["breaks"] == 1 and len(breaks) == 1
    assert "overlapping or out of order" in breaks[0].message and trials["seams"][0]["gap_s"] < 0
    assert np.all(np.diff([s.host_ns for s in samples]) > 0)  # one timeline still, the break between


def test_trials_in_other_folders_are_other_sessions(tx300_files, tmp_path):
    """Two folders (two participants' trials, as participant1/ and participant2/) are never joined,
    even where one's times happen to follow on from the other's."""
    whole = next(p for p in tx300_files if p.parent.name == "participant2" and p.name == "1.tsv")
    header, *rows = whole.read_text().splitlines()
    for k, part in enumerate((rows[:600], rows[600:])):
        (tmp_path / "all" / f"p{k + 1}").mkdir(parents=True)
        (tmp_path / "all" / f"p{k + 1}" / "1.tsv").write_text(header + "\n" + "\n".join(part) + "\n")
    src, samples, breaks = _play(f"tsv:{tmp_path / 'all'}")
    assert src.info()["trials"]["joined"] == 0 and len(breaks) == 1 and "another participant" in breaks[0].message


def test_joined_trials_are_recorded_as_one_recording_and_make_windows(tx300_files, real_video, tmp_path, capsys):
    """Recorded headless from the cut real trials with a 3 s window: windows span the seams, the same
    predictions as from the whole file, and session.json says which trials were joined."""
    whole = next(p for p in tx300_files if p.parent.name == "participant2" and p.name == "1.tsv")
    _split(whole, tmp_path / "trials", [400, 800])
    card = str(build_model_double(tmp_path / "m", window_s=3.0))
    runs = {}
    for name, gaze in (("trials", tmp_path / "trials"), ("whole", whole)):
        rc = cli.main(["run", "--headless", "--video", str(real_video), "--gaze", f"tsv:{gaze}", "--model", card,
                       "--fast", "--cpu", "--no-frame-fer", "--duration", "4.5", "--out", "-",
                       "--record", str(tmp_path / f"rec_{name}"), "--participant", "P02", "--consent"])
        assert rc == 0
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
        runs[name] = lines
    preds = {k: [(p["t_s"], p["er"]["top7"]) for p in v if p["type"] == "prediction"] for k, v in runs.items()}
    assert preds["trials"] and preds["trials"] == preds["whole"]
    assert runs["trials"][-1]["windows_skipped"].get("eye_stream_break", 0) == 0
    session = next((tmp_path / "rec_trials").iterdir())
    meta = json.loads((session / "session.json").read_text())
    trials = meta["devices"]["gaze_source"]["trials"]
    assert trials["joined"] == 2 and trials["breaks"] == 0
    assert [s["previous"] for s in trials["seams"]] == ["trial_1.tsv", "trial_2.tsv"]


def test_gaze_info_says_how_a_folder_will_play(tx300_files, tmp_path, capsys):
    whole = next(p for p in tx300_files if p.parent.name == "participant2" and p.name == "1.tsv")
    _split(whole, tmp_path / "t", [400, 800], shift_us=[0, 0, -2_000_000])  # the third overlaps the second
    assert cli.main(["gaze-info", str(tmp_path / "t"), "--json"]) == 0
    trials = json.loads(capsys.readouterr().out)["trials"]
    assert [s["joined"] for s in trials["seams"]] == [True, False]
    assert cli.main(["gaze-info", str(tmp_path / "t")]) == 0
    text = capsys.readouterr().out
    assert "1 seam(s) joined into one recording, 1 break(s) kept" in text
    assert "trial_2.tsv -> trial_3.tsv: starts" in text and "overlapping or out of order" in text
