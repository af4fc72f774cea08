"""Replay: a recorded run fed back through the same pipeline and model gives the recorded
predictions back (same windows, same numbers), through the sources and through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emer_live.errors import SourceError
from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.sources.replay import ReplayFrameSource, ReplayGazeSource, StoredFaceProcessor

DURATION_S = 8.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, real_video):
    """An offline run of the real video (real MediaPipe face stage) + simulated gaze, recorded."""
    from model_doubles import build_model_double

    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.offline import run_offline
    from emer_live.sources.simulated_gaze import SimulatedGazeSource
    from emer_live.sources.video_file import VideoFileSource

    tmp = tmp_path_factory.mktemp("replay")
    card = build_model_double(tmp / "model", window_s=2.0)
    engine = InferenceEngine(card, prefer_gpu=False)
    frames = VideoFileSource(real_video, realtime=False, t0_ns=5_000_000_000)
    gaze = SimulatedGazeSource(rate_hz=120, realtime=False, t0_ns=5_000_000_000, script=[("sadness", 4), ("happiness", 4)])
    session = RecordingSession(tmp / "session", "P01", consent=True, model_card=engine.card,
                               pipeline={"update_hz": 5.0, "use_eye": True}, block_when_full=True)
    result = run_offline(frames, gaze, engine, sinks=[session.sink], update_hz=5.0, duration_s=DURATION_S)
    stats = session.close()
    assert stats["dropped"] == {} and result.predictions
    return tmp / "session", engine, result


def test_replay_gives_the_recorded_predictions_back(recorded):
    from emer_live.commands.replay import compare
    from emer_live.pipeline.offline import run_offline

    folder, engine, live = recorded
    reader = SessionReader(folder)
    assert len(reader.predictions()) == len(live.predictions)
    frames = ReplayFrameSource(folder, realtime=False)
    res = run_offline(frames, ReplayGazeSource(folder, realtime=False), engine, update_hz=5.0,
                      face_processor=StoredFaceProcessor(frames))
    # Against the live run in memory (full precision) and against what was written to disk.
    assert [p.window_end_ns for p in res.predictions] == [p.window_end_ns for p in live.predictions]
    for a, b in zip(res.predictions, live.predictions):
        np.testing.assert_allclose(a.er.probs7, b.er.probs7, atol=1e-6)
        np.testing.assert_allclose(a.fer.probs7, b.fer.probs7, atol=1e-6)
        assert a.face_valid == b.face_valid and a.eye_valid_fraction == pytest.approx(b.eye_valid_fraction)
    cmp = compare(reader.predictions(), res.predictions)
    assert cmp["matched_windows"] == len(live.predictions) and cmp["max_abs_diff"] < 1e-4
    assert res.pipeline.summary()["face_status"] == live.pipeline.summary()["face_status"]


def test_replay_cli_headless(recorded, capsys):
    from emer_live.cli import main

    folder, engine, live = recorded
    assert main(["replay", str(folder), "--fast", "--headless", "--model", str(engine.card.path)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    summary = lines[-1]["summary"]
    assert len(lines) - 1 == len(live.predictions)
    assert summary["vs_recorded"]["matched_windows"] == len(live.predictions)
    assert summary["vs_recorded"]["max_abs_diff"] < 1e-4
    # Without --model the session's own (unchanged) model is found and used.
    assert main(["replay", str(folder), "--fast", "--headless", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["model_choice"] == "the session's own model"


def test_replay_sources_timing_and_errors(recorded, tmp_path):
    folder, _, _ = recorded
    reader = SessionReader(folder)
    t_rec = reader.gaze()[0]
    src = ReplayGazeSource(folder, realtime=False, t0_ns=0)  # shift the timeline to start at 0
    with src:
        first = next(s for s in src.samples())
    start = reader.time_range_ns()[0]
    assert first.host_ns == t_rec[0] - start
    np.testing.assert_array_equal(first.values, reader.gaze()[1][0])
    fs = ReplayFrameSource(folder, realtime=False)
    with fs:
        f0 = next(fs.frames())
        assert f0.host_ns == reader.frames()["host_ns"][0] and fs.row_of(f0.image) == 0
    with pytest.raises(SourceError, match="Cannot replay"):
        ReplayFrameSource(tmp_path / "nothing", realtime=False).open()
    empty = tmp_path / "empty"
    RecordingSession(empty, "P02", consent=True).close()
    with pytest.raises(SourceError, match="no readable video frames"):
        ReplayFrameSource(empty, realtime=False).open()


def test_face_processed_only_skips_frames_the_live_face_stage_skipped(tmp_path):
    from emer_live.types import Frame
    from test_recording_session import _Face

    s = RecordingSession(tmp_path / "s", "P01", consent=True, block_when_full=True)
    for i in range(6):  # live, the face stage saw only every other frame
        s.sink.on_frame(Frame(host_ns=(i + 1) * 1000, index=i, image=np.zeros((8, 8, 3), np.uint8)),
                        _Face(True) if i % 2 else None)
    s.close()
    for only, want in ((True, [1, 3, 5]), (False, list(range(6)))):
        src = ReplayFrameSource(tmp_path / "s", realtime=False, face_processed_only=only)
        with src:
            assert [f.index for f in src.frames() if isinstance(f, Frame)] == want


def _copy(folder, tmp_path):
    import shutil

    shutil.copytree(folder, tmp_path / "copy")
    return tmp_path / "copy"


def _replay(capsys, folder, *extra):
    from emer_live.cli import main

    rc = main(["replay", str(folder), "--fast", "--headless", "--quiet", *extra])
    out, err = capsys.readouterr()
    return rc, (json.loads(out.splitlines()[-1])["summary"] if out.strip() else None), err


def test_replay_face_found_pct_is_the_live_one(recorded, capsys):
    folder, _, live = recorded
    rc, summary, _ = _replay(capsys, folder)
    assert rc == 0 and summary["pipeline"]["face_found_pct"] == live.pipeline.summary()["face_found_pct"]


def test_replay_refuses_without_face_crops_or_gaze(recorded, tmp_path, capsys):
    import shutil

    folder = _copy(recorded[0], tmp_path)
    shutil.rmtree(folder / "face_crops")
    rc, _, err = _replay(capsys, folder)
    assert rc == 2 and "face_crops/ is missing" in err and "--reprocess-faces" in err
    folder = _copy(recorded[0], tmp_path / "g")
    (folder / "gaze.csv").unlink()
    rc, _, err = _replay(capsys, folder)
    assert rc == 2 and "gaze.csv is missing" in err
    rc, summary, err = _replay(capsys, folder, "--without-eyes")
    assert rc == 0 and summary["missing_inputs"] == ["gaze.csv"] and "WITHOUT EYES" in err


def test_replay_names_unreadable_video_frames(recorded, tmp_path, capsys):
    folder = _copy(recorded[0], tmp_path)
    (video,) = (folder / "video").iterdir()
    data = bytearray(video.read_bytes())
    r = SessionReader(folder)
    rows = [i for i, s in enumerate(r.frames()["face_status"]) if s][:5]  # frames the replay feeds
    for i in rows:  # overwrite these JPEGs with noise
        off, n = int(r.frames()["byte_offset"][i]), int(r.frames()["byte_length"][i])
        data[off:off + n] = b"\x00" * n
    video.write_bytes(bytes(data))
    rc, summary, err = _replay(capsys, folder)
    assert rc == 0 and summary["unreadable_frames"] == 5 and "5 of" in err and "could not be decoded" in err
    video.write_bytes(b"\x00" * len(data))
    rc, summary, err = _replay(capsys, folder)
    assert rc == 2 and "none of the" in err and "could be decoded" in err
