"""Tobii-style TSV gaze files: the real TX300 recordings, malformed files, custom layouts."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.errors import SourceError
from emer_live.sources.tobii_tsv import TobiiTsvSource, read_tobii_tsv
from emer_live.types import GAZE_COL, GazeSample, SourceEvent


def _raw_validity(path):
    """LValidity/RValidity codes straight from the file, without our reader."""
    header = path.read_text().splitlines()[0].split("\t")
    data = np.loadtxt(path, skiprows=1)
    return data[:, header.index("LValidity")], data[:, header.index("RValidity")], data


def test_real_tx300_files(tx300_files):
    assert len(tx300_files) == 10
    for path in tx300_files:
        rec = read_tobii_tsv(path)
        lcode, rcode, data = _raw_validity(path)
        assert rec.layout == "tobii-sdk"
        assert len(rec.t_us) == len(data)  # no sample rejected: these files are clean
        assert 295 < rec.nominal_hz < 302  # TX300 at 300 Hz
        assert rec.dropped == 0 and rec.invalid_rows == [] and rec.bad_values == 0
        # Validity 4 (eye not found, values -1/0): invalid and NaN; codes 0/1 valid with numbers.
        left_valid = rec.raw[:, GAZE_COL["left_gaze_point_validity"]] == 1.0
        np.testing.assert_array_equal(left_valid, lcode <= 1)
        lost = lcode == 4
        assert np.isnan(rec.raw[lost, GAZE_COL["left_pupil_diameter"]]).all()
        assert np.isnan(rec.raw[lost, GAZE_COL["left_gaze_origin_in_user_coordinate_system_z"]]).all()
        ok = rec.raw[left_valid]
        assert not np.isnan(ok[:, [0, 1, 6, 8, 9, 10]]).any()
        assert 2.0 < np.nanmedian(ok[:, 6]) < 6.0  # pupil in mm
        assert 450 < np.nanmedian(ok[:, 10]) < 750  # eye 45-75 cm from the tracker
    # One of the recordings has a long stretch with the eyes lost (37 % of samples).
    p13 = read_tobii_tsv(next(p for p in tx300_files if p.parent.name == "participant1" and p.name == "3.tsv"))
    lost_share = float(np.mean(p13.raw[:, GAZE_COL["left_gaze_point_validity"]] == 0))
    assert 0.3 < lost_share < 0.45


def test_source_stream_offline(tx300_files):
    path = tx300_files[0]
    src = TobiiTsvSource(path, realtime=False, t0_ns=10_000)
    with src:
        items = list(src.samples())
    samples = [i for i in items if isinstance(i, GazeSample)]
    assert items[-1].kind == "end_of_stream"
    assert len(samples) == src.info()["samples"] == src.stats.delivered
    t = np.array([s.host_ns for s in samples])
    assert t[0] == 10_000 and np.all(np.diff(t) > 0)
    assert samples[0].device_us is not None
    assert src.info()["nominal_hz"] > 295 and not src.simulated


def _write(tmp_path, name, header, rows):
    p = tmp_path / name
    p.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return p


def _sdk_header(tx300_files):
    return tx300_files[0].read_text().splitlines()[0].split("\t")


def test_backward_and_repeated_timestamps_are_dropped_and_counted(tmp_path, tx300_files):
    header = _sdk_header(tx300_files)
    lines = tx300_files[0].read_text().splitlines()[1:40]
    rows = [ln.split("\t") for ln in lines]
    rows[10][0] = rows[9][0]  # repeat
    rows[20][0] = str(int(rows[5][0]))  # jump back
    del rows[30:33]  # a gap of three samples
    path = _write(tmp_path, "bad_time.tsv", header, rows)
    src = TobiiTsvSource(path)
    with src:
        items = list(src.samples())
    assert src.stats.invalid == 2
    assert src.stats.dropped == 3 and src.stats.gaps == 1
    warn = [i for i in items if isinstance(i, SourceEvent) and i.kind == "warning"]
    # One warning per episode, with its count and file line (header = line 1).
    assert [(w.data["problem"], w.data["line"], w.data["count"]) for w in warn] == [("duplicate", 12, 1), ("spike", 22, 1)]
    assert "line 12" in warn[0].message and "repeated" in warn[0].message
    assert src.stats.delivered == len(rows) - 2


def test_impossible_values_are_marked_invalid(tmp_path, tx300_files):
    header = _sdk_header(tx300_files)
    rows = [ln.split("\t") for ln in tx300_files[0].read_text().splitlines()[1:20]]
    rows = [r for r in rows if r[header.index("LValidity")] == "0"][:5]
    rows[0][header.index("LPupilDm")] = "-3.5"  # negative pupil under validity 0
    rows[1][header.index("LGazePos2dx")] = "57.0"  # far off any display
    rows[2][header.index("LGazePos2dy")] = "nan"
    rec = read_tobii_tsv(_write(tmp_path, "bad_values.tsv", header, rows))
    assert rec.bad_values == 3
    assert rec.raw[0, GAZE_COL["left_pupil_validity"]] == 0 and np.isnan(rec.raw[0, GAZE_COL["left_pupil_diameter"]])
    assert rec.raw[1, GAZE_COL["left_gaze_point_validity"]] == 0 and np.isnan(rec.raw[1, 0])
    assert rec.raw[2, GAZE_COL["left_gaze_point_validity"]] == 0
    assert rec.raw[0, GAZE_COL["left_gaze_point_validity"]] == 1  # the rest of the eye stays valid


def test_missing_columns_are_named(tmp_path):
    path = _write(tmp_path, "other.tsv", ["Time", "LGazePos2dx", "foo"], [[1, 0.5, 2], [2, 0.5, 2]])
    with pytest.raises(SourceError) as e:
        TobiiTsvSource(path).open()
    msg = str(e.value)
    # The closest layout (the SDK log) and what it lacks, in that layout's own names; how to map.
    assert "other.tsv" in msg and "RValidity" in msg and "LGazePos2dy" in msg and "Tobii SDK sample log" in msg
    assert "Tobii Pro Lab" in msg and "Tobii Studio" in msg and "--gaze-columns" in msg


@pytest.mark.parametrize("content", ["", "\x00\x01binary", "Time\tLValidity\n"])
def test_malformed_files(tmp_path, content):
    path = tmp_path / "broken.tsv"
    path.write_text(content)
    with pytest.raises(SourceError, match="broken.tsv"):
        read_tobii_tsv(path)


def test_missing_file():
    with pytest.raises(SourceError, match="not found"):
        TobiiTsvSource("no_such_gaze.tsv").open()


def test_pro_lab_layout(tmp_path):
    header = ["Recording timestamp [μs]", "Sensor", "Recording resolution width", "Recording resolution height",
              "Gaze point left X [DACS px]", "Gaze point left Y [DACS px]", "Gaze point right X [DACS px]",
              "Gaze point right Y [DACS px]", "Pupil diameter left [mm]", "Pupil diameter right [mm]",
              "Validity left", "Validity right"]
    rows = [
        [0, "Eye Tracker", 1920, 1080, 960, 540, 970, 545, "3,1", "3,2", "Valid", "Valid"],
        [4000, "Mouse", 1920, 1080, "", "", "", "", "", "", "", ""],
        [8333, "Eye Tracker", 1920, 1080, "", "", 480, 270, "", 3.0, "Invalid", "Valid"],
    ]
    rec = read_tobii_tsv(_write(tmp_path, "prolab.tsv", header, rows))
    assert rec.layout == "pro-lab" and len(rec.t_us) == 2
    np.testing.assert_allclose(rec.raw[0, [0, 1]], [0.5, 0.5])
    assert rec.raw[0, GAZE_COL["left_pupil_diameter"]] == pytest.approx(3.1)  # decimal comma
    assert rec.raw[1, GAZE_COL["left_gaze_point_validity"]] == 0
    np.testing.assert_allclose(rec.raw[1, [15, 16]], [0.25, 0.25])
    # Pro Lab gives no user-coordinate eye positions: origin flagged invalid, not invented.
    assert rec.raw[0, GAZE_COL["left_gaze_origin_validity"]] == 0


def test_custom_mapping_dict(tmp_path):
    path = _write(tmp_path, "custom.tsv", ["ms", "gx", "gy", "ok"], [[0, 0.2, 0.3, 1], [10, 0.4, 0.5, 0]])
    mapping = {"time": "ms", "time_to_us": 1000, "left_gaze_point_on_display_area_x": "gx",
               "left_gaze_point_on_display_area_y": "gy", "left_validity": "ok", "valid_values": [1]}
    rec = read_tobii_tsv(path, columns=mapping)
    assert rec.t_us.tolist() == [0, 10_000]
    assert rec.raw[0, 0] == pytest.approx(0.2) and rec.raw[1, GAZE_COL["left_gaze_point_validity"]] == 0
    assert np.isnan(rec.raw[:, GAZE_COL["right_gaze_point_on_display_area_x"]]).all()
    with pytest.raises(SourceError, match="unknown keys"):
        read_tobii_tsv(path, columns={"time": "ms", "gaze_x": "gx"})


@pytest.mark.slow
def test_the_long_file_bench_writes_a_pro_lab_export_and_reads_it_back(tx300_files, tmp_path, capsys):
    """The memory bench (python -m emer_live.bench.gaze_file) end to end on a short export: every
    sample written comes back at the rate written. Its figures are reported, not asserted."""
    import json

    from emer_live.bench.gaze_file import main

    assert main([str(p) for p in tx300_files] + ["--minutes", "0.5", "--rate", "600", "--keep", str(tmp_path / "x.tsv")]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["samples"] == 18_000 and abs(out["rate_hz"] - 600) < 0.01 and out["rejected"] == 0
    assert out["skipped_rows"] == 30 and out["peak_rss_mb"] > 0 and out["file_mb"] > 1
    rec = read_tobii_tsv(tmp_path / "x.tsv")
    assert rec.layout == "pro-lab" and set(rec.movement) <= {"Unclassified", "EyesNotFound"}
