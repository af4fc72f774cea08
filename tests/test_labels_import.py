"""Labels from a lab's own table (CSV/TSV, PsychoPy trial log) into a recorded session: every
time kind, the checks (outside the recording, scale, names, participant), overlaps reported,
provenance written, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

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
    ("start,end,emotion,participant\n2,8,fear,P08\n", {}, r"no row belongs to participant 'P07' \(this session's\); it has \['P08'\]"),
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


# --- times as labs write them -------------------------------------------------------------------

@pytest.mark.parametrize("cell, unix_s", [
    ("2026-03-01T10:15:02.5+01:00", 1772356502.5),  # the docs' own example, rejected by 3.10's fromisoformat
    ("2026-03-01T09:15:02.5Z", 1772356502.5),
    ("2026-03-01 09:15:02.123456789Z", 1772356502.123456789),  # nine fraction digits
    ("2026-03-01T09:15:02,25+00:00", 1772356502.25),  # decimal comma
    ("2026-03-01T10:15:02+0100", 1772356502.0),
    ("2026-03-01T11:15+02", 1772356500.0),
    ("20260301T091502Z", 1772356502.0),  # basic form
    ("2026-03-01T04:15:02.5-05:00", 1772356502.5),
])
def test_iso_8601_as_python_3_11_reads_it(cell, unix_s):
    from emer_live.recording.label_times import iso_time

    t = iso_time(cell)
    assert t is not None and t.has_zone
    assert abs(t.unix_ns - round(unix_s * 1e9)) <= 256  # a float has ~250 ns steps here; the exact check follows
    assert iso_time("2026-03-01T09:15:02.123456789Z").unix_ns == 1772356502123456789
    want = dt.datetime.fromisoformat("2026-03-01T09:15:02+00:00").timestamp()
    assert iso_time("2026-03-01T09:15:02Z").unix_ns == int(want) * S


@pytest.mark.parametrize("cell", ["2026-02-30T10:00:00Z", "2026-03-01T25:00:00Z", "2026-03-01T10:61Z",
                                  "2026-03-01T10:00:00+25:00", "yesterday", "10:15:02Z", ""])
def test_not_iso_times_are_refused(cell):
    from emer_live.recording.label_times import iso_time

    assert iso_time(cell) is None


def test_seconds_in_every_notation():
    from emer_live.recording.label_times import seconds

    assert seconds("2,5") == 2.5 and seconds("-1.25") == -1.25 and seconds("1e3") == 1000.0
    assert seconds("0:01:02.5") == 62.5 and seconds("1:02") == 62.0 and seconds("1:00:00,5") == 3600.5
    assert seconds("1:75") is None and seconds("1,2,3") is None and seconds("abc") is None


def test_a_german_excel_file_with_semicolons_decimal_commas_and_h_mm_ss(session, tmp_path):
    f = _write(tmp_path / "de.csv", "Start;End;Valence;Arousal;Emotion\n0:00:02,0;0:00:08,5;2,5;7;sad\n"
               "0:00:10;0:00:16;8;6,5;happy\n")
    res = read_labels(session, f)
    assert res.provenance["time"] == "session"
    assert [_rel(session, s) for s in res.segments] == [(2.0, 8.5), (10.0, 16.0)]
    np.testing.assert_allclose(res.segments[0].er_va, [(2.5 - 5) / 4, 0.5])


def test_every_error_of_a_file_is_reported_at_once(session, tmp_path):
    f = _write(tmp_path / "many.csv", "start,end,valence,emotion\n2,8,11,fear\n3,x,5,fear\n4,6,5,bored\n5,7,5,joy\n")
    with pytest.raises(RecordingError) as e:
        read_labels(session, f)
    text = str(e.value)
    assert "3 problems, nothing imported" in text
    assert "many.csv, line 2, column valence: 11 is outside the rating scale 1-9" in text
    assert "many.csv, line 3, column end: 'x' is not seconds" in text
    assert "many.csv, line 4, column emotion: unknown emotion 'bored'" in text
    assert "line 5" not in text  # joy is happiness


def test_a_naive_wall_time_says_it_has_no_time_zone_and_small_numbers_are_not_unix_times(session, tmp_path):
    f = _write(tmp_path / "naive.csv", "start,end,emotion\n2026-03-01T10:00:00.5,2026-03-01T10:00:05,anger\n")
    with pytest.raises(RecordingError, match=r"line 2, column start: wall-clock time '2026-03-01T10:00:00.5' has no time zone"):
        read_labels(session, f)
    f = _write(tmp_path / "small.csv", "start,end,emotion\n2,8,anger\n")
    with pytest.raises(RecordingError, match=r"'2' is not a Unix time"):
        read_labels(session, f, ImportOptions(time="wall"))


@pytest.fixture
def file_session(tmp_path):
    """A session as a run from files as fast as possible records it: 10 s of 2 fps frames on the
    file's own timeline (0 to 10 s), while started_host_ns is the machine's monotonic clock."""
    s = RecordingSession(tmp_path / "f01", "P09", consent=True, block_when_full=True,
                         devices={"frame_source": {"kind": "video", "realtime": False}})
    img = np.zeros((48, 64, 3), np.uint8)
    for i in range(21):
        s.sink.on_frame(Frame(host_ns=i * S // 2, index=i, image=img))
    s.close()
    return tmp_path / "f01"


def test_wall_clock_on_a_session_recorded_from_files(file_session, tmp_path):
    meta = SessionReader(file_session).meta
    unix0 = meta["started_unix_ns"] / S
    f = _write(tmp_path / "w.csv", f"start,end,emotion\n{unix0 + 2},{unix0 + 6},fear\n")
    with pytest.raises(RecordingError, match=r"recorded from files run as fast as possible.*--wall-start"):
        read_labels(file_session, f)
    res = read_labels(file_session, f, ImportOptions(wall_start="session"))
    np.testing.assert_allclose([_rel(file_session, s) for s in res.segments], [(2, 6)], atol=1e-5)
    assert "session time 0 taken as the session's wall-clock start" in res.provenance["time_note"]
    assert main(["labels", "check", str(file_session), str(f)]) == 2
    assert main(["labels", "check", str(file_session), str(f), "--wall-start", "session"]) == 0
    # The files were recorded at another time: the lab says when their first frame was.
    g = _write(tmp_path / "g.csv", "start,end,emotion\n2026-03-01T10:15:03+01:00,2026-03-01T10:15:07.25+01:00,fear\n")
    res = read_labels(file_session, g, ImportOptions(wall_start="2026-03-01T09:15:00Z"))
    np.testing.assert_allclose([_rel(file_session, s) for s in res.segments], [(3, 7.25)], atol=1e-9)


# --- PsychoPy and other experiment software -----------------------------------------------------

# The columns PsychoPy's ExperimentHandler writes for a loop `trials` with a routine `film` and a
# keyboard component `key_resp` (trailing comma included), for the cases the real logs below do not
# hold (a participant in another case than the session's, PsychoPy's ['1'] list of keys).
PSYCHOPY_HEADER = ("trials.thisRepN,trials.thisTrialN,trials.thisN,trials.thisIndex,thisRow.t,notes,film_file,"
                   "film.started,film.stopped,key_resp.keys,key_resp.rt,key_resp.duration,sam_valence.response,"
                   "participant,session,date,expName,psychopyVersion,frameRate,expStart,")


def _psychopy_row(n, film, start, stop, keys, valence, who):
    return (f"0,{n},{n},{n},{start - 0.01},,{film},{start},{stop},{keys},1.2345,,{valence},{who},001,"
            f"2026-03-01_10h15.00.000,emotion_films,2024.2.4,60.00,2026-03-01 10h15.00.000000 +0100,")


def test_a_psychopy_master_sheet_with_a_key_map_filtered_by_participant(session, tmp_path):
    rows = [PSYCHOPY_HEADER,
            _psychopy_row(0, "a.mp4", 32.0, 38.0, "2", 3, "p07"),  # another case than the session's P07
            _psychopy_row(0, "a.mp4", 12.0, 18.0, "1", 8, "P08"),
            _psychopy_row(1, "b.mp4", 40.0, 46.0, "['1']", 7, "P07"),
            _psychopy_row(1, "b.mp4", 20.0, 26.0, "None", 2, "P08")]
    f = _write(tmp_path / "master.csv", "\n".join(rows) + "\n")
    assert main(["labels", "import", str(session), str(f), "--psychopy", "film", "--sync", "sync=31.0",
                 "--key-map", "1=joy,2=sadness", "--column", "valence=sam_valence.response"]) == 0
    segs = SessionReader(session).labels()
    np.testing.assert_allclose([_rel(session, s) for s in segs], [(2, 8), (10, 16)], atol=1e-6)
    assert [s.er7 for s in segs] == ["sadness", "happiness"]
    log = json.loads((session / IMPORTS_JSON).read_text())[-1]
    assert log["key_map"] == {"1": "joy", "2": "sadness"} and "2 rows of other participants (P08)" in log["skipped"]


def test_a_key_map_that_names_no_emotion_is_refused(session, tmp_path, capsys):
    f = _write(tmp_path / "k.csv", PSYCHOPY_HEADER + "\n" + _psychopy_row(0, "a.mp4", 32.0, 38.0, "3", 3, "P07") + "\n")
    assert main(["labels", "check", str(session), str(f), "--psychopy", "film", "--sync", "sync=31",
                 "--key-map", "1=happiness,2=bored"]) == 2
    assert "key map {'2': 'bored'} names no emotion" in capsys.readouterr().err
    assert main(["labels", "check", str(session), str(f), "--psychopy", "film", "--sync", "sync=31",
                 "--key-map", "1=happiness,2=sadness"]) == 2
    assert "line 2, column key_resp.keys: unknown emotion '3'" in capsys.readouterr().err


def test_markers_placed_headless_from_a_file_then_labels_synced_to_one(file_session, tmp_path, capsys):
    # A headless recording gets the triggers the experiment sent from the experiment's own log.
    m = _write(tmp_path / "triggers.csv", "time;label\n0:00:01,5;start_trigger\n4;block_2\n")
    assert main(["labels", "markers", str(file_session), str(m)]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 2
    got = {r["label"]: (r["host_ns"] - SessionReader(file_session).time_range_ns()[0]) / S
           for r in SessionReader(file_session).markers()}
    assert got == {"start_trigger": 1.5, "block_2": 4.0}
    f = _write(tmp_path / "log.csv", "start,end,emotion\n101.5,105,fear\n")  # trigger sent at 100 s
    res = read_labels(file_session, f, ImportOptions(sync=("start_trigger", 100.0)))
    np.testing.assert_allclose([_rel(file_session, s) for s in res.segments], [(3.0, 6.5)], atol=1e-9)
    bad = _write(tmp_path / "bad.csv", "time,label\n12,late\nx,odd\n")
    assert main(["labels", "markers", str(file_session), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 2: 12.000 s (session time) lies outside the recording" in err and "line 3, column time: 'x'" in err


def test_an_excel_csv_in_windows_1252_is_read(session, tmp_path):
    # German Excel's "CSV (Trennzeichen-getrennt)": Windows-1252, semicolons, decimal commas
    f = tmp_path / "excel.csv"
    f.write_bytes("Start;End;Valence;Emotion;Bemerkung\n2,0;8,0;3,5;sad;müde\n".encode("cp1252"))
    res = read_labels(session, f)
    assert [_rel(session, s) for s in res.segments] == [(2.0, 8.0)]
    np.testing.assert_allclose(res.segments[0].er_va[0], (3.5 - 5) / 4)


PSYCHOPY_LOGS = Path(__file__).resolve().parent / "data" / "psychopy"


def test_a_log_written_by_psychopys_own_experiment_handler(session, tmp_path):
    """P07_emotion_films.csv was written by PsychoPy 2026.2.5's ExperimentHandler (BOM, trailing
    comma, an instruction row, key_resp.keys, 'None' cells; tests/data/psychopy/make_psychopy_logs.py).
    The experiment sent the session's 'sync' marker at 31.0 s on its clock."""
    log = PSYCHOPY_LOGS / "P07_emotion_films.csv"
    assert main(["labels", "import", str(session), str(log), "--psychopy", "film", "--sync", "sync=31.0",
                 "--key-map", "1=joy,2=sadness", "--column", "valence=sam_valence.response"]) == 0
    segs = SessionReader(session).labels()
    np.testing.assert_allclose([_rel(session, s) for s in segs], [(2, 8), (10, 16)], atol=1e-6)
    assert [s.er7 for s in segs] == ["sadness", "happiness"]
    np.testing.assert_allclose([s.er_va[0] for s in segs], [(3 - 5) / 4, (7 - 5) / 4])
    # the lab's master sheet: every participant's log one after another, filtered to this session's
    p08 = (PSYCHOPY_LOGS / "p08_emotion_films.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    master = tmp_path / "all_participants.csv"
    master.write_text(log.read_text(encoding="utf-8-sig") + "\n".join(p08) + "\n", encoding="utf-8")
    res = read_labels(session, master, ImportOptions(psychopy_routine="film", sync=("sync", 31.0),
                                                     key_map={"1": "happiness", "2": "sadness"}))
    assert len(res.segments) == 2 and "3 rows of other participants (p08)" in res.skipped
    assert "line 2: no start time" in res.skipped  # the instruction routine
