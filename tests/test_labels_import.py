"""Labels from a lab's own table (CSV/TSV, PsychoPy trial log) into a recorded session: every
time kind, the checks (outside the recording, scale, names, participant), overlaps reported,
provenance written, and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from emer_live.cli import main
from emer_live.errors import RecordingError
from emer_live.recording.labels_import import IMPORTS_JSON, ImportOptions, import_labels, read_labels
from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.types import Frame

S = 1_000_000_000


@pytest.fixture
def session(tmp_path):
    """20 s of 2 fps frames, stimuli 'film_a' (2-8 s) and 'film_b' (10-16 s), a 'sync' marker at 1 s."""
    s = RecordingSession(tmp_path / "s01", "P07", consent=True, block_when_full=True)
    t0 = s.meta["started_host_ns"]
    img = np.zeros((48, 64, 3), np.uint8)
    for i in range(41):
        s.sink.on_frame(Frame(host_ns=t0 + i * S // 2, index=i, image=img))
    s.add_marker("sync", host_ns=t0 + 1 * S)
    s.begin_stimulus("film_a", host_ns=t0 + 2 * S)
    s.end_stimulus(host_ns=t0 + 8 * S)
    s.begin_stimulus("film_b", host_ns=t0 + 10 * S)
    s.end_stimulus(host_ns=t0 + 16 * S)
    s.close()
    return tmp_path / "s01"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _rel(session, seg):
    t0 = SessionReader(session).time_range_ns()[0]
    return (seg.start_ns - t0) / S, (seg.end_ns - t0) / S


def test_session_seconds_csv_with_fer_and_annotator(session, tmp_path):
    f = _write(tmp_path / "labels.csv", "start,end,valence,arousal,emotion,fer,annotator\n"
               "2.0,8.0,2,7,sad,neutral,rater1\n10,16,8,6,happiness,,\n")
    res = import_labels(session, f)
    segs = SessionReader(session).labels()
    assert [_rel(session, s) for s in segs] == [(2.0, 8.0), (10.0, 16.0)]
    a, b = segs
    assert (a.er7, a.er3, a.fer7, a.fer3) == ("sadness", "negative", "neutral", "neutral")
    np.testing.assert_allclose(a.er_va, [(2 - 5) / 4, (7 - 5) / 4])  # SAM 1-9 onto [-1, 1]
    assert a.source == "import:labels.csv:2+fer:import:rater1" and b.source == "import:labels.csv:3"
    assert b.fer7 is None and res.overlaps == []
    log = json.loads((session / IMPORTS_JSON).read_text())
    assert log[0]["file"] == "labels.csv" and log[0]["time"] == "session" and len(log[0]["sha256"]) == 64


def test_marker_names_and_a_seven_point_scale_in_a_tsv(session, tmp_path):
    f = _write(tmp_path / "ratings.tsv", "onset\toffset\tvalence\tarousal\temotion\n"
               "film_a\tfilm_a\t1\t7\tfear\nfilm_b\tfilm_b\t4\t4\tneutral\n")
    import_labels(session, f, ImportOptions(scale=(1, 7)))
    segs = SessionReader(session).labels()
    assert [_rel(session, s) for s in segs] == [(2.0, 8.0), (10.0, 16.0)]
    np.testing.assert_allclose(segs[0].er_va, [-1.0, 1.0])
    np.testing.assert_allclose(segs[1].er_va, [0.0, 0.0])


def test_wall_clock_times(session, tmp_path):
    unix0 = SessionReader(session).meta["started_unix_ns"] / S
    iso = [dt.datetime.fromtimestamp(unix0 + x, dt.timezone(dt.timedelta(hours=1))).isoformat() for x in (3, 7)]
    f = _write(tmp_path / "w.csv", f"start,end,emotion\n{iso[0]},{iso[1]},anger\n{unix0 + 11},{unix0 + 12.5},happy\n")
    import_labels(session, f, ImportOptions(time="wall"))
    got = [_rel(session, s) for s in SessionReader(session).labels()]
    np.testing.assert_allclose(got, [(3, 7), (11, 12.5)], atol=1e-5)
    bad = _write(tmp_path / "naive.csv", "start,end,emotion\n2026-03-01 10:00:00,2026-03-01 10:00:05,anger\n")
    with pytest.raises(RecordingError, match=r"naive.csv, line 2, column start: .* has no time zone"):
        read_labels(session, bad, ImportOptions(time="wall"))


def test_psychopy_trial_log_with_a_sync_marker(session, tmp_path):
    # PsychoPy's data file: one row per routine run, times on the experiment clock; the lab sent the
    # session's 'sync' marker at 31.0 s on that clock. Instruction rows carry no rating: skipped.
    f = _write(tmp_path / "P07_emotion_2026.csv",
               "trials.thisN,film,film.started,film.stopped,sam_valence,sam_arousal,emotion_resp.keys,participant\n"
               ",,,,,,,P07\n"
               "0,a.mp4,32.0,38.0,3,6,sadness,P07\n"
               "1,b.mp4,40.0,46.0,7,5,happiness,P07\n")
    res = import_labels(session, f, ImportOptions(psychopy_routine="film", sync=("sync", 31.0),
                                                  columns={"emotion": "emotion_resp.keys"}))
    assert res.provenance["time"] == "log" and res.skipped == ["line 2: no start time"]
    got = [_rel(session, s) for s in SessionReader(session).labels()]
    np.testing.assert_allclose(got, [(2, 8), (10, 16)], atol=1e-6)


def test_overlaps_are_reported_not_dropped(session, tmp_path):
    f = _write(tmp_path / "o.csv", "start,end,emotion\n2,8,fear\n7,9,fear\n12,14,neutral\n")
    res = read_labels(session, f)
    assert len(res.segments) == 3
    assert res.overlaps == ["line 2 (2.00-8.00 s) overlaps line 3 (7.00-9.00 s) by 1.00 s"]


@pytest.mark.parametrize("text, opts, message", [
    ("start,end,emotion\n2,30,fear\n", {}, r"line 2: segment 2.000-30.000 s .* outside the recording, which runs 0.000-20.000 s"),
    ("start,end,emotion\n8,2,fear\n", {}, r"line 2: the segment ends \(2.000 s\) before it starts"),
    ("start,end,valence\n2,8,10\n", {}, r"line 2, column valence: 10 is outside the rating scale 1-9"),
    ("start,end,valence\n2,8,x\n", {}, r"line 2, column valence: 'x' is not a number"),
    ("start,end,emotion\n2,8,bored\n", {}, r"line 2, column emotion: unknown emotion 'bored'"),
    ("start,end,emotion,participant\n2,8,fear,P08\n", {}, r"line 2: participant 'P08' is not this session's \('P07'\)"),
    ("start,end,emotion\nfilm_c,film_c,fear\n", {}, r"no marker or stimulus 'film_c' in the session"),
    ("start,end,emotion\n1,2,fear\n", {"time": "log"}, r"need a sync marker"),
    ("begin,valence\n1,5\n", {}, r"neither an end nor a duration column"),
    ("start,end,comment\n1,2,ok\n", {}, r"no label column"),
    ("start,end,emotion\n2,8,fear\n", {"columns": {"emotion": "feeling"}}, r"no column 'feeling'"),
])
def test_bad_tables_name_the_file_line_and_problem(session, tmp_path, text, opts, message):
    f = _write(tmp_path / "bad.csv", text)
    with pytest.raises(RecordingError, match=message):
        read_labels(session, f, ImportOptions(**opts))


def test_existing_labels_are_kept_unless_told(session, tmp_path):
    f = _write(tmp_path / "l.csv", "start,end,emotion\n2,8,fear\n")
    import_labels(session, f)
    with pytest.raises(RecordingError, match="already has 1 labelled segments"):
        import_labels(session, f)
    import_labels(session, f, mode="append")
    assert len(SessionReader(session).labels()) == 2
    import_labels(session, f, mode="replace")
    assert len(SessionReader(session).labels()) == 1
    assert len(json.loads((session / IMPORTS_JSON).read_text())) == 3


def test_cli_check_then_import(session, tmp_path, capsys):
    f = _write(tmp_path / "l.csv", "start;end;valence;arousal;emotion\n2;8;1;5;fear\n7;9;3;3;sadness\n")
    assert main(["labels", "check", str(session), str(f)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["segments"] == 2 and "overlap: line 2" in out.err
    assert SessionReader(session).labels() == []  # check writes nothing
    assert main(["labels", "import", str(session), str(f), "--scale", "1,5"]) == 0
    segs = SessionReader(session).labels()
    assert len(segs) == 2 and segs[0].er_va[0] == -1.0  # 1 on a 1-5 scale
    capsys.readouterr()
    assert main(["labels", "import", str(session), str(f)]) == 2  # labels now exist
    assert "choose --replace or --append" in capsys.readouterr().err
    assert main(["labels", "import", str(session), str(f), "--scale", "1,2"]) == 2
    assert "l.csv, line 2, column arousal: 5 is outside the rating scale 1-2" in capsys.readouterr().err
