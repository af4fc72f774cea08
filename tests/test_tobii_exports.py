"""The shared gaze reader on Tobii Pro Lab and Tobii Studio exports of the real TX300 recordings
(see tobii_exports.py for the layouts and where their column names come from)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tobii_exports as tx
from emer_live import cli
from emer_live.errors import SourceError
from emer_live.sources.factory import make_gaze_source
from emer_live.sources.tobii_tsv import read_gaze_file, read_tobii_tsv
from emer_live.types import GAZE_COL, GazeSample, SourceEvent

L_X, L_Y = GAZE_COL["left_gaze_point_on_display_area_x"], GAZE_COL["left_gaze_point_on_display_area_y"]
L_PUP, L_VAL = GAZE_COL["left_pupil_diameter"], GAZE_COL["left_gaze_point_validity"]


@pytest.fixture(scope="module")
def trials(tx300_files):
    by = {f"{p.parent.name[-1]}/{p.stem}": p for p in tx300_files}
    return {k: tx.tx300(by[k]) for k in ("1/2", "2/1", "2/2")}, by


def _same_values(rec, sdk):
    """The reader's values from an export equal its values from the SDK log of the same samples."""
    assert len(rec.t_us) == len(sdk.t_us)
    np.testing.assert_array_equal(rec.raw[:, L_VAL], sdk.raw[:, L_VAL])
    ok = sdk.raw[:, L_VAL] == 1
    np.testing.assert_allclose(rec.raw[ok][:, [L_X, L_Y]], sdk.raw[ok][:, [L_X, L_Y]], atol=1e-3)
    np.testing.assert_allclose(rec.raw[ok, L_PUP], sdk.raw[ok, L_PUP], atol=6e-3)
    np.testing.assert_allclose(np.diff(rec.t_us), np.diff(sdk.t_us), atol=1001)  # Studio: whole ms


@pytest.mark.parametrize("variant", [
    dict(header=tx.PRO_LAB_NEW, unit="μs", encoding="utf-8-sig"),
    dict(header=[h.replace("[μs]", "[ms]") for h in tx.PRO_LAB_NEW], unit="ms", comma=True, encoding="utf-8"),
    dict(header=[h.replace("[μs]", "[ms]") for h in tx.PRO_LAB_NEW], unit="ms", encoding="utf-16"),
    dict(header=tx.PRO_LAB_OLD, unit="μs", encoding="utf-16"),  # older unit-less names; UTF-16 with BOM
    dict(header=tx.PRO_LAB_OLD, unit="ms", encoding="utf-8"),  # unit-less, ms: told apart by the data
    dict(header=[h.replace("[DACS px]", "[DACS norm]") for h in tx.PRO_LAB_NEW], unit="μs", gaze="norm",
         encoding="utf-8"),
    dict(header=[h.replace("[μs]", "[µs]") for h in tx.PRO_LAB_NEW], unit="μs", encoding="cp1252"),  # micro sign
    dict(header=tx.PRO_LAB_NEW, unit="μs", encoding="utf-16-le"),  # UTF-16 without a byte-order mark
], ids=["us-utf8bom", "ms-decimal-commas", "ms-utf16", "unitless-us-utf16", "unitless-ms", "normalised", "micro-sign-cp1252",
        "utf16-no-bom"])
def test_pro_lab_exports(tmp_path, trials, variant):
    data, files = trials
    header = variant["header"]
    rows = tx.pro_lab_rows(data["1/2"], "P01", "Recording 1", header, unit=variant["unit"],
                           comma=variant.get("comma", False), gaze=variant.get("gaze", "px"))
    path = tx.write(tmp_path / "export.tsv", header, rows, encoding=variant["encoding"])
    gf = read_gaze_file(path)
    assert gf.layout == "pro-lab" and gf.tool == "Tobii Pro Lab data export" and len(gf.recordings) == 1
    rec = gf.recordings[0]
    assert (rec.participant, rec.recording) == ("P01", "Recording 1")
    # Mouse rows and event rows with an empty Sensor are not gaze samples.
    assert gf.skipped_rows == len(rows) - len(data["1/2"]["Time"]) > 0
    _same_values(rec, read_tobii_tsv(files["1/2"]))
    assert 295 < rec.nominal_hz < 302
    assert set(rec.movement) <= {"Unclassified", "EyesNotFound"}


def test_studio_csv_several_participants_missing_means_invalid(tmp_path, trials):
    data, files = trials
    rows = (tx.studio_rows(data["1/2"], "01", "Rec 1", validity=False)
            + tx.studio_rows(data["2/1"], "02", "Rec 2", validity=False)
            + tx.studio_rows(data["2/2"], "02", "Rec 3", validity=False))
    header = [h for h in tx.STUDIO if not h.startswith("Validity")]
    path = tx.write(tmp_path / "studio.csv", header, rows, delimiter=",")
    gf = read_gaze_file(path)
    assert gf.layout == "studio" and gf.delimiter == "comma"
    assert [(r.participant, r.recording) for r in gf.recordings] == [("01", "Rec 1"), ("02", "Rec 2"), ("02", "Rec 3")]
    assert gf.skipped_rows == sum(1 for r in rows if r.get("StudioEvent"))
    for rec, key in zip(gf.recordings, ("1/2", "2/1", "2/2")):
        _same_values(rec, read_tobii_tsv(files[key]))  # no validity column: a missing gaze point is invalid
        assert rec.segment_starts == [0] and rec.invalid_rows == []
    # Selectors pick recordings; a file of several refuses to pose as one.
    assert read_tobii_tsv(f"{path}#recording=Rec 3").recording == "Rec 3"
    with pytest.raises(SourceError, match="holds 2 recordings"):
        read_tobii_tsv(f"{path}#participant=02")
    with pytest.raises(SourceError, match="no recording matches #participant=09.*01"):
        read_tobii_tsv(f"{path}#participant=09")


def test_studio_tsv_with_validity_codes_preamble_and_semicolons(tmp_path, trials):
    data, files = trials
    rows = tx.studio_rows(data["2/1"], "02", "Rec 2", validity=True, comma=True)
    preamble = "System Properties:\nOperating System:;Microsoft Windows\n\nRecording name:;Rec 2\n\n"
    path = tx.write(tmp_path / "studio.txt", tx.STUDIO, rows, delimiter=";", encoding="cp1252", preamble=preamble)
    gf = read_gaze_file(path)
    assert gf.layout == "studio" and gf.delimiter == "semicolon" and gf.encoding == "utf-8"
    _same_values(gf.recordings[0], read_tobii_tsv(files["2/1"]))


def test_gaze_info_lists_recordings(tmp_path, trials, capsys):
    data, _ = trials
    rows = tx.studio_rows(data["1/2"], "01", "Rec 1") + tx.studio_rows(data["2/1"], "02", "Rec 2")
    path = tx.write(tmp_path / "studio.tsv", tx.STUDIO, rows)
    assert cli.main(["gaze-info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)["files"][0]
    assert info["tool"] == "Tobii Studio data export" and info["delimiter"] == "tab"
    recs = info["recordings"]
    assert [r["participant"] for r in recs] == ["01", "02"]
    assert all(3.9 < r["duration_s"] < 4.1 and 295 < r["rate_hz"] < 302 for r in recs)
    assert recs[1]["gaze_spec"].endswith("#participant=02&recording=Rec 2")
    assert cli.main(["gaze-info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "participant 01, recording Rec 1" in text and "Hz" in text


def test_recordings_play_in_sequence_with_stream_breaks(tmp_path, trials):
    data, _ = trials
    rows = tx.studio_rows(data["1/2"], "01", "Rec 1") + tx.studio_rows(data["2/1"], "02", "Rec 2")
    path = tx.write(tmp_path / "studio.tsv", tx.STUDIO, rows)
    src = make_gaze_source(f"tsv:{path}")
    with src:
        items = list(src.samples())
    samples = [i for i in items if isinstance(i, GazeSample)]
    breaks = [i for i in items if isinstance(i, SourceEvent) and i.kind == "stream_break"]
    assert len(breaks) == 1 and "participant 02" in breaks[0].message
    t = np.array([s.host_ns for s in samples])
    assert np.all(np.diff(t) > 0) and len(samples) == sum(len(r.t_us) for r in src.recordings)
    first = sum(1 for s in samples if s.host_ns < breaks[0].host_ns)
    assert first == len(src.recordings[0].t_us)  # the break lies exactly between the two recordings
    one = make_gaze_source(f"tsv:{path}#participant=02")
    with one:
        assert sum(isinstance(i, GazeSample) for i in one.samples()) == len(src.recordings[1].t_us)


def test_unknown_layout_names_the_closest_in_its_tools_terms(tmp_path, trials):
    data, _ = trials
    header = [h for h in tx.STUDIO if not h.startswith("GazePointRight")]
    path = tx.write(tmp_path / "cut.tsv", header, tx.studio_rows(data["1/2"], "01", "Rec 1"))
    with pytest.raises(SourceError) as e:
        read_gaze_file(path)
    msg = str(e.value)
    assert "Closest: Tobii Studio data export" in msg and "'GazePointRightX (ADCSpx)'" in msg
    assert "RecordingTimestamp" in msg and "--gaze-columns" in msg and "Tobii Pro Lab" in msg


def test_gaze_columns_mapping_from_the_cli(tmp_path, trials, capsys):
    data, files = trials
    renamed = {"GazePointLeftX (ADCSpx)": "LX", "GazePointLeftY (ADCSpx)": "LY", "RecordingTimestamp": "ms",
               "GazePointRightX (ADCSpx)": "RX", "GazePointRightY (ADCSpx)": "RY", "PupilLeft": "LP"}
    rows = [{renamed.get(k, k): v for k, v in r.items()} for r in tx.studio_rows(data["1/2"], "01", "Rec 1")]
    header = [renamed.get(h, h) for h in tx.STUDIO]
    path = tx.write(tmp_path / "renamed.tsv", header, rows)
    mapping = tmp_path / "columns.json"
    mapping.write_text(json.dumps({"time": "ms", "time_unit": "ms", "left_x": "LX", "left_y": "LY", "right_x": "RX",
                                   "right_y": "RY", "gaze_units": "px", "display_px": [1920, 1080], "left_pupil": "LP",
                                   "sensor": ["StudioEvent", ""]}))
    assert cli.main(["gaze-info", str(path), "--gaze-columns", str(mapping), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)["files"][0]["recordings"][0]
    assert rec["samples"] == len(data["1/2"]["Time"])
    got = read_tobii_tsv(path, columns=str(mapping))
    _same_values(got, read_tobii_tsv(files["1/2"]))


def test_pixels_without_resolution_ask_for_it(tmp_path, trials):
    data, _ = trials
    header = [h for h in tx.PRO_LAB_NEW if not h.startswith("Recording resolution")]
    path = tx.write(tmp_path / "nores.tsv", header, tx.pro_lab_rows(data["1/2"], "P", "R", tx.PRO_LAB_NEW))
    with pytest.raises(SourceError, match=r"no recording resolution column.*display_px"):
        read_gaze_file(path)


def test_an_aborted_recording_does_not_spoil_the_file(tmp_path, trials):
    data, _ = trials
    rows = tx.studio_rows(data["1/2"], "01", "Rec 1") + tx.studio_rows(data["2/1"], "02", "Rec 2")[:1]
    path = tx.write(tmp_path / "studio.tsv", tx.STUDIO, rows)
    gf = read_gaze_file(path)
    assert [r.participant for r in gf.recordings] == ["01"]
    assert len(gf.unusable) == 1 and "fewer than two samples" in gf.unusable[0] and "02" in gf.unusable[0]
    src = make_gaze_source(f"tsv:{path}")
    with src:
        warn = [i for i in src.samples() if isinstance(i, SourceEvent) and i.kind == "warning"]
    assert any("02" in w.message for w in warn)


@pytest.mark.parametrize("layout", ["pro-lab", "studio"])
def test_the_tools_own_labels_follow_the_samples_kept_when_timestamps_are_rejected(tmp_path, trials, layout):
    """Both tools export an eye-movement label per sample; a spiked and a repeated timestamp lose
    their samples, and each label left still belongs to its own sample."""
    data, _ = trials
    d = data["1/2"]
    if layout == "pro-lab":
        rows = tx.pro_lab_rows(d, "P01", "Recording 1", tx.PRO_LAB_NEW, extras=False)
        time_col, header, label_col, spike = tx.PRO_LAB_NEW[0], tx.PRO_LAB_NEW, "Eye movement type", 3_600_000_000
    else:
        rows = tx.studio_rows(d, "01", "Rec 1")
        rows = [r for r in rows if "GazePointIndex" in r]  # gaze rows only: row i is sample i
        time_col, header, label_col, spike = "RecordingTimestamp", tx.STUDIO, "GazeEventType", 3_600_000
        for i, r in enumerate(rows):  # Studio's own classification, varied so a shifted label shows
            r[label_col] = ("Fixation", "Saccade", "Unclassified")[(i // 7) % 3]
    lost = (d["LValidity"] > 1) & (d["RValidity"] > 1)
    labels = [r.get(label_col, "") for r in rows]
    rows[200][time_col] = str(int(float(rows[200][time_col])) + spike)  # one corrupt timestamp
    rows[400][time_col] = rows[399][time_col]  # written twice
    path = tx.write(tmp_path / f"{layout}.tsv", header, rows)
    rec = read_gaze_file(path).recordings[0]
    kept = np.delete(np.arange(len(rows)), [200, 400])
    assert len(rec.t_us) == len(rec.movement) == len(kept)
    assert rec.invalid_rows == [202, 402]  # lines: the header is line 1
    assert [p[0] for p in rec.problems] == ["spike", "duplicate"]
    assert list(rec.movement) == [labels[i] for i in kept]
    if layout == "pro-lab":
        assert list(rec.movement == "EyesNotFound") == list(lost[kept])
    assert rec.summary()["tool_labels"] == {k: labels.count(k) - sum(labels[i] == k for i in (200, 400))
                                           for k in set(labels)}


def _whole_ms_1200hz(d: dict, n: int):
    """Real TX300 samples timed at 1200 Hz (a Spectrum-class tracker) and exported with whole
    millisecond timestamps, as Studio and Pro Lab write them when milliseconds are chosen."""
    true_us = np.round(np.arange(n) * 1e6 / 1200).astype(np.int64)
    rows = tx.studio_rows({k: v[:n] for k, v in d.items()}, "01", "Rec 1", validity=True)
    rows = [r for r in rows if "GazePointIndex" in r]
    for r, t in zip(rows, true_us):
        r["RecordingTimestamp"] = str(int(t // 1000))  # whole ms, cut as the tools cut them
    return rows, true_us


def test_whole_millisecond_timestamps_at_1200_hz_keep_every_sample(tmp_path, trials):
    data, files = trials
    d = data["2/1"]
    n = len(d["Time"])
    rows, true_us = _whole_ms_1200hz(d, n)
    repeats = sum(a["RecordingTimestamp"] == b["RecordingTimestamp"] for a, b in zip(rows, rows[1:]))
    assert repeats > 0.15 * n  # about one sample in six shares its millisecond with the one before
    rec = read_gaze_file(tx.write(tmp_path / "ms1200.tsv", tx.STUDIO, rows)).recordings[0]
    assert len(rec.t_us) == n and rec.invalid_rows == [] and rec.problems == []
    assert 1190 < rec.nominal_hz < 1210 and rec.dropped == 0
    assert np.all(np.diff(rec.t_us) > 0)
    assert np.abs((rec.t_us - rec.t_us[0]) - true_us).max() < 1000  # within the millisecond written
    sdk = read_tobii_tsv(files["2/1"])
    np.testing.assert_array_equal(rec.raw[:, L_VAL], sdk.raw[:, L_VAL])


def test_at_1200_hz_a_row_written_twice_is_still_a_duplicate(tmp_path, trials):
    data, _ = trials
    rows, _ = _whole_ms_1200hz(data["2/1"], 1200)
    pair = next(i for i in range(500, 600) if rows[i]["RecordingTimestamp"] == rows[i + 1]["RecordingTimestamp"])
    rows.insert(pair + 2, dict(rows[pair + 1]))  # a third sample in one millisecond: at 1200 Hz, a copy
    rec = read_gaze_file(tx.write(tmp_path / "dup.tsv", tx.STUDIO, rows)).recordings[0]
    assert len(rec.t_us) == 1200 and [p[:3] for p in rec.problems] == [("duplicate", pair + 4, 1)]
    assert 1190 < rec.nominal_hz < 1210


def test_whole_milliseconds_at_300_hz_still_drop_a_repeated_timestamp(tmp_path, trials):
    data, _ = trials
    rows = [r for r in tx.studio_rows(data["1/2"], "01", "Rec 1") if "GazePointIndex" in r]
    rows[300]["RecordingTimestamp"] = rows[299]["RecordingTimestamp"]
    rec = read_gaze_file(tx.write(tmp_path / "s300.tsv", tx.STUDIO, rows)).recordings[0]
    assert len(rec.t_us) == len(rows) - 1 and [p[0] for p in rec.problems] == ["duplicate"]
    assert 295 < rec.nominal_hz < 302


def test_a_windows_code_page_byte_far_into_the_file_is_read_not_refused(tmp_path, trials):
    """The encoding is sniffed from the first megabyte; a cp1252 name further down (a participant
    'José' in a later recording) makes the reader read the file again in that code page."""
    data, _ = trials
    rows = []
    for k in range(8):  # enough rows to pass the sniffed first megabyte
        rows += tx.pro_lab_rows(data["1/2"], "P01", f"Recording {k}", tx.PRO_LAB_OLD, extras=False)
    rows += tx.pro_lab_rows(data["2/1"], "José", "Recording 9", tx.PRO_LAB_OLD, extras=False)
    path = tx.write(tmp_path / "cp1252.tsv", tx.PRO_LAB_OLD, rows, encoding="cp1252")
    assert path.stat().st_size > 1 << 20 and "é".encode("cp1252") not in path.read_bytes()[: 1 << 20]
    gf = read_gaze_file(path)
    assert gf.encoding == "cp1252" and len(gf.recordings) == 9
    assert gf.recordings[-1].participant == "José" and len(gf.recordings[-1].t_us) == len(data["2/1"]["Time"])
