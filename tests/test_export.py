"""Export: one table per stream in CSV and Parquet, read back with pandas; face blurring."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from emer_live.errors import RecordingError
from emer_live.recording.export import export_session
from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.types import Frame
from test_recording_session import record


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_read_with_pandas(tmp_path, fmt):
    s = record(tmp_path / "s")
    s.begin_stimulus("clip", host_ns=1_100_000_000)
    s.end_stimulus(host_ns=1_900_000_000)
    s.add_self_assessment(3, 6, "sadness")
    s.close()
    out = export_session(tmp_path / "s", tmp_path / "out", fmt=fmt)
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    t = {k: read(v) for k, v in out["tables"].items()}
    r = SessionReader(tmp_path / "s")
    g_t, raw = r.gaze()
    assert list(t["gaze"].columns[:3]) == ["host_ns", "device_us", "system_us"] and t["gaze"].shape == (200, 33)
    np.testing.assert_array_equal(t["gaze"]["host_ns"].to_numpy(), g_t)
    np.testing.assert_allclose(t["gaze"].iloc[:, 3:].to_numpy(), raw, equal_nan=True)
    assert len(t["frames"]) == 30 and t["frames"]["host_ns"].dtype == np.int64
    assert t["frames"]["face_status"].iloc[1] == "ok"
    p = t["predictions"]
    assert len(p) == 3 and {"window_end_ns", "er_probs7_happiness", "fer_probs7_happiness", "fer_source",
                            "fer_head_intensity", "gap_jsd"} <= set(p.columns)
    ff = t["frame_fer"]
    assert len(ff) == 30 and ff["host_ns"].dtype == np.int64 and ff["face_status"].iloc[0] == "no_face"
    assert ff.iloc[0, 4:].isna().all() and ff.iloc[1]["p_sadness"] == pytest.approx(0.4)
    assert t["markers"]["kind"].tolist() == ["stimulus_onset", "stimulus_offset"]
    assert t["self_assessment"]["valence"].tolist() == [3]
    assert t["labels"]["er7"].tolist() == ["sadness"] and t["labels"]["er_valence"].tolist() == [-0.5]
    assert json.loads(t["events"]["data"].iloc[0]) == {"emotion": "fear", "rate": 1.5}
    assert json.loads((tmp_path / "out" / "session.json").read_text())["participant"] == "P01"


def test_blurred_video(tmp_path, real_video):
    from emer_live.features.face import FaceProcessor

    cap = cv2.VideoCapture(str(real_video))
    images = [cap.read()[1] for _ in range(12)]
    cap.release()
    images.append(np.full_like(images[0], 128))  # nothing to find: blurred whole
    s = RecordingSession(tmp_path / "s", "P01", consent=True, block_when_full=True)
    with FaceProcessor() as fp:
        for i, img in enumerate(images):
            res = fp.process(img) if i < 6 else None  # later frames: no recorded box, detector finds it
            s.sink.on_frame(Frame(host_ns=(i + 1) * 41_666_667, index=i, image=img), res)
    s.close()
    out = export_session(tmp_path / "s", tmp_path / "out", blur_faces=True)
    assert out["blur"] == {"frames": 13, "recorded_box": 6, "detected": 6, "whole_frame": 1, "unreadable": 0}
    box = SessionReader(tmp_path / "s").frames()["box"][0].astype(int)
    cap = cv2.VideoCapture(out["video"])
    got = [cap.read()[1] for _ in range(13)]
    cap.release()
    x0, y0, x1, y1 = box

    def sharpness(img):
        return cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()

    for i in (0, 8):  # recorded box, detector fallback
        assert sharpness(got[i][y0:y1, x0:x1]) < 0.2 * sharpness(images[i][y0:y1, x0:x1])
    assert got[0].shape == images[0].shape


def test_export_cli_and_errors(tmp_path, capsys):
    from emer_live.cli import main

    record(tmp_path / "s").close()
    assert main(["export", str(tmp_path / "s"), "--format", "parquet", "--out", str(tmp_path / "o")]) == 0
    assert len(pd.read_parquet(tmp_path / "o" / "gaze.parquet")) == 200
    with pytest.raises(RecordingError, match="format"):
        export_session(tmp_path / "s", tmp_path / "o2", fmt="xlsx")
    assert main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "o3")]) == 2
    assert "not a recorded session" in capsys.readouterr().err


def test_export_cut_short_leaves_no_file_that_passes_for_whole(tmp_path, monkeypatch):
    record(tmp_path / "s").close()
    real = pd.DataFrame.to_csv
    calls = []

    def dies_on_gaze(self, path, *a, **kw):  # killed half way through writing the gaze table
        calls.append(path)
        if len(calls) == 2:
            with open(path, "w") as f:
                f.write("host_ns,device_us\n1,2\n")
            raise KeyboardInterrupt
        return real(self, path, *a, **kw)

    monkeypatch.setattr(pd.DataFrame, "to_csv", dies_on_gaze)
    with pytest.raises(KeyboardInterrupt):
        export_session(tmp_path / "s", tmp_path / "out", fmt="csv")
    out = tmp_path / "out"
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["complete"] == ["frames.csv"] and not manifest["finished"]
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "frames.csv"]  # no partial gaze.csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    result = export_session(tmp_path / "s", out, fmt="csv", video=True)
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["finished"] and "video.avi" in manifest["complete"] and "gaze.csv" in manifest["complete"]
    assert result["video"] == str(out / "video.avi") and not list(out.glob(".*partial*"))
