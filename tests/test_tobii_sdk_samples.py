"""Real recorded samples sent as tobii-research 2.x sends them (the SDK's own GazeData form: no
track-box coordinates) through TobiiGazeSource, the recorder and the eye features give the same
values and the same eye-v1 windows, and so the same ER, as the same samples read from the file
(which has the track-box columns)."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.features.eye_v1 import EyeParams, encode_window, process_gaze
from emer_live.sources.tobii import TobiiGazeSource
from emer_live.sources.tobii_tsv import read_tobii_tsv
from emer_live.types import GAZE_COL, GazeSample
from tobii_sdk_double import FakeEyeTracker, _fake_sdk, dicts_from_recording

TB = [GAZE_COL[f"{e}_gaze_origin_in_trackbox_coordinate_system_{a}"] for e in ("left", "right") for a in "xyz"]
V1 = EyeParams(schema="eye-v1")


def _live(rec):
    tracker = FakeEyeTracker(300)
    src = TobiiGazeSource(sdk=_fake_sdk(tracker))
    src.open()
    tracker.send(dicts_from_recording(rec.t_us, rec.raw, system_offset_us=10_000_000))
    src.close()
    got = [s for s in src.samples() if isinstance(s, GazeSample)]
    return np.array([s.device_us for s in got]), np.array([s.values for s in got])


@pytest.mark.parametrize("k", [0, 6])
def test_live_sdk_samples_give_the_file_windows_and_er(tx300_files, k, repo_root):
    rec = read_tobii_tsv(tx300_files[k])
    dev, live = _live(rec)
    assert np.array_equal(dev, rec.t_us)  # every sample arrives, in order
    assert np.isnan(live[:, TB]).all()  # 2.x sends no track box
    other = np.setdiff1d(np.arange(30), TB)
    np.testing.assert_array_equal(live[:, other], rec.raw[:, other])
    t = rec.t_us.astype(np.int64) * 1000
    a, b = process_gaze(t, rec.raw, V1), process_gaze(t, live, V1)
    np.testing.assert_array_equal(a.vec, b.vec)  # eye-v1 uses no track box: the file's is ignored
    ends = [int(t[0]) + int(1.5e9), int(t[-1])]
    wa = [encode_window(a, e, 8.0) for e in ends]
    wb = [encode_window(b, e, 8.0) for e in ends]
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x.eye, y.eye)
        np.testing.assert_array_equal(x.fixation, y.fixation)
    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(repo_root / "models" / "emert-demo.card.json", prefer_gpu=False)
    s = engine.card.crop_size
    emb = engine.embed_faces(np.full((1, s, s, 3), 128, np.uint8))
    face = np.repeat(np.repeat(emb[None], 8, axis=1), 2, axis=0)  # the same grey face in every window
    ha, _ = engine.predict_batch(face, np.stack([w.eye for w in wa]), np.stack([w.fixation for w in wa]))
    hb, _ = engine.predict_batch(face, np.stack([w.eye for w in wb]), np.stack([w.fixation for w in wb]))
    for (ea, _), (eb, _) in zip(ha, hb):
        np.testing.assert_array_equal(ea.probs7, eb.probs7)


def test_live_sdk_samples_recorded_and_read_back_give_the_file_windows(tx300_files, tmp_path):
    """The same samples through the source and the recorder: the session's gaze table read back
    gives the file's eye-v1 windows, and the session's metadata says how the track box was made."""
    from emer_live.recording.session import RecordingSession
    from emer_live.recording.session_reader import SessionReader

    rec = read_tobii_tsv(tx300_files[1])
    tracker = FakeEyeTracker(300)
    src = TobiiGazeSource(sdk=_fake_sdk(tracker))
    src.open()
    tracker.send(dicts_from_recording(rec.t_us, rec.raw, system_offset_us=10_000_000))
    src.close()
    session = RecordingSession(tmp_path / "s", "P01", consent=True, devices={"gaze_source": src.info()},
                               block_when_full=True)
    for s in src.samples():
        if isinstance(s, GazeSample):
            session.sink.on_gaze(s)
    session.close()
    reader = SessionReader(tmp_path / "s")
    g = reader.gaze_table()
    assert np.array_equal(g["device_us"].astype(np.int64), rec.t_us)
    t = rec.t_us.astype(np.int64) * 1000
    a, b = process_gaze(t, rec.raw, V1), process_gaze(t, g["raw"], V1)
    for end in (int(t[0]) + int(2e9), int(t[-1])):
        np.testing.assert_array_equal(encode_window(a, end, 8.0).eye, encode_window(b, end, 8.0).eye)
    box = reader.meta["devices"]["gaze_source"]["track_box"]
    assert box["tracker_track_box"] is None and box["sample_coordinates"].startswith("none")
