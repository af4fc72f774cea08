"""Session store: round trip, torn files, disk full / unwritable folder, bounded queues, markers
and self-assessment."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from emer_live.errors import RecordingError
from emer_live.recording import layout as L
from emer_live.recording.filelayer import FileLayer
from emer_live.recording.markers import MarkerConfig
from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.types import Frame, GazeSample, GapMetrics, HeadOutput, Prediction, SourceEvent


def _image(i: int) -> np.ndarray:
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, : 10 + i % 100] = (40, 160, 220)
    return img


def _gaze(i: int) -> GazeSample:
    v = np.linspace(0, 1, 30) + i * 1e-3
    v[7] = np.nan  # a missing pupil value stays missing
    return GazeSample(host_ns=1_000_000_000 + i * 4_000_000, values=v, device_us=10_000 + i * 4000, system_us=None)


def _pred(seq: int) -> Prediction:
    p7 = np.full(7, 1 / 7)
    head = HeadOutput(p7, np.full(3, 1 / 3), 0.1, -0.2, None)
    fer = HeadOutput(p7, np.full(3, 1 / 3), 0.3, 0.4, None)  # the face network's window FER
    fer_head = HeadOutput(p7, np.full(3, 1 / 3), 0.5, 0.6, 1.5)  # EMERT's FER head
    return Prediction(window_end_ns=2_000_000_000 + seq * 100_000_000, window_s=2.0, er=head, fer=fer,
                      gap=GapMetrics(0.0, False, False, -0.2, -0.6), provider="CPUExecutionProvider",
                      latency_ms=5.0, inference_ms=1.0, face_valid=8, eye_valid_fraction=0.9, seq=seq,
                      fer_head=fer_head, fer_frames=40, fer_source="face_network")


def _frame_fer(i: int, host: int, face: bool):
    from emer_live.pipeline.frame_fer import FrameFER

    p = np.roll(np.array([0.4, 0.3, 0.1, 0.1, 0.05, 0.03, 0.02]), i % 7) if face else None
    return FrameFER(i, host, "ok" if face else "no_face", p, p, int(face))


class _Face:
    def __init__(self, ok: bool):
        self.status, self.n_faces = ("ok", 1) if ok else ("no_face", 0)
        self.box = (10, 20, 60, 80) if ok else None
        self.crop = np.zeros((112, 112, 3), np.uint8) if ok else None


def record(folder, n_frames=30, n_gaze=200, fs=None, **kw) -> RecordingSession:
    s = RecordingSession(folder, "P01", consent=True, devices={"frame_source": {"kind": "test"}}, fs=fs,
                         block_when_full=True, **kw)
    for i in range(n_frames):
        host = 1_000_000_000 + i * 33_000_000
        s.sink.on_frame(Frame(host_ns=host, index=i, image=_image(i), media_ms=i * 33.0), _Face(i % 5 != 0))
        if i % 5:
            s.sink.on_face_crop(i, host, np.full((112, 112, 3), i, np.uint8))
        s.sink.on_frame_fer(_frame_fer(i, host, i % 5 != 0))
    for i in range(n_gaze):
        s.sink.on_gaze(_gaze(i))
    for k in range(3):
        s.sink.on_prediction(_pred(k))
    s.sink.on_event(SourceEvent(1, "simulated", "info", "hello", {"emotion": "fear", "rate": np.float32(1.5)}))
    return s


def test_round_trip(tmp_path):
    s = record(tmp_path / "s")
    s.begin_stimulus("clip A", host_ns=1_100_000_000)
    s.end_stimulus(host_ns=1_900_000_000)
    seg = s.add_self_assessment(valence=2, arousal=8, emotion7="fear")
    s.add_marker("artifact", host_ns=1_500_000_000)
    stats = s.close()
    assert stats["dropped"] == {} and stats["error"] is None

    r = SessionReader(tmp_path / "s")
    assert r.meta["participant"] == "P01" and r.meta["consent"]["given"] and r.meta["closed"]
    f = r.frames()
    assert list(f["frame_index"]) == list(range(30))
    assert f["face_status"][0] == "no_face" and f["face_status"][1] == "ok"
    assert np.isnan(f["box"][0]).all() and list(f["box"][1]) == [10, 20, 60, 80]
    img = r.frame_image(7)
    assert img.shape == (120, 160, 3) and np.abs(img.astype(int) - _image(7)).mean() < 3  # JPEG, close
    t, raw = r.gaze()
    assert len(t) == 200 and t.dtype == np.int64
    np.testing.assert_array_equal(raw[5], _gaze(5).values)  # bit-exact, NaN kept
    g = r.gaze_table()
    assert g["device_us"][3] == 10_000 + 3 * 4000 and np.isnan(g["system_us"]).all()
    assert r.face_crop(3)[0, 0, 0] == 3 and r.face_crop(5) is None  # frame 5 had no face
    assert [c[0] for c in r.face_crops_between(1_000_000_000, 1_000_000_000 + 5 * 33_000_000)] == \
        [1_000_000_000 + i * 33_000_000 for i in (1, 2, 3, 4)]
    assert [p["seq"] for p in r.predictions()] == [0, 1, 2]
    assert r.events()[0]["data"] == {"emotion": "fear", "rate": 1.5}
    kinds = [(m["kind"], m["label"]) for m in r.markers()]
    assert kinds == [("stimulus_onset", "clip A"), ("stimulus_offset", "clip A"), ("marker", "artifact")]
    sa = r.self_assessment()[0]
    assert (sa["valence"], sa["arousal"], sa["emotion7"], sa["onset_ns"]) == (2, 8, "fear", 1_100_000_000)
    (lab,) = r.labels()
    assert (lab.start_ns, lab.end_ns, lab.er7, lab.er3) == (1_100_000_000, 1_900_000_000, "fear", "negative")
    np.testing.assert_allclose(lab.er_va, [-0.75, 0.75])
    assert lab.fer7 is None and np.isnan(lab.fer_va).all() and seg.er7 == "fear"


def test_torn_files_are_skipped(tmp_path):
    record(tmp_path / "s").close()
    folder = tmp_path / "s"
    with open(folder / L.GAZE_CSV, "ab") as f:
        f.write(b"123456789,1,2,0.5,0.")  # a row cut mid-number by a power cut
    with open(folder / L.PREDICTIONS_JSONL, "ab") as f:
        f.write(b'{"seq": 3, "window_e')
    frames = (folder / L.FRAMES_CSV).read_bytes().splitlines(keepends=True)
    (folder / L.FRAMES_CSV).write_bytes(b"".join(frames) + b"30,2000000000,990.0,video/video_000000.mjpeg,99999999,5000,ok,1,1,2,3,4\n")
    crop = folder / L.FACE_CROPS_DIR / L.crop_file_name(4)
    crop.write_bytes(crop.read_bytes()[:50])
    r = SessionReader(folder)
    assert len(r.gaze()[0]) == 200 and len(r.predictions()) == 3
    assert len(r.frames()["host_ns"]) == 30  # the row whose bytes never reached the disk is dropped
    assert r.face_crop(4) is None


def test_not_a_session(tmp_path):
    with pytest.raises(RecordingError, match="not a recorded session"):
        SessionReader(tmp_path)


class FullDiskDouble(FileLayer):
    """Test double of the file layer: after `budget` bytes every write fails with `err`."""

    def __init__(self, budget: int, err: int = errno.ENOSPC):
        self.budget, self.err = budget, err

    def _take(self, n: int, path) -> None:
        self.budget -= n
        if self.budget < 0:
            raise OSError(self.err, __import__("os").strerror(self.err), str(path))

    def open_append(self, path):
        real, layer = super().open_append(path), self

        class _F:
            def write(self, data):
                layer._take(len(data), path)
                return real.write(data)

            def __getattr__(self, name):
                return getattr(real, name)

        return _F()

    def write_new(self, path, data):
        self._take(len(data), path)
        super().write_new(path, data)


@pytest.mark.parametrize("err, words", [(errno.ENOSPC, "No space left"), (errno.EACCES, "Permission denied")])
def test_write_failure_stops_cleanly_and_keeps_what_was_written(tmp_path, err, words):
    seen = []
    s = RecordingSession(tmp_path / "s", "P01", consent=True, fs=FullDiskDouble(400_000, err), on_error=seen.append,
                         block_when_full=True)
    for i in range(400):
        s.sink.on_gaze(_gaze(i))
        s.sink.on_frame(Frame(host_ns=1_000_000_000 + i * 33_000_000, index=i, image=_image(i)), None)
    stats = s.close()
    assert s.error is not None and words in str(s.error) and str(tmp_path / "s") in str(s.error)
    assert seen == [s.error] and stats["error"] == str(s.error)
    assert s.sink.on_gaze(_gaze(999)) is None and s.writer.dropped["gaze"] >= 1  # later items dropped, no raise
    r = SessionReader(tmp_path / "s")  # what was written stays readable
    assert len(r.gaze()[0]) > 0
    assert 0 < len(r.frames()["host_ns"]) < 400
    assert r.frame_image(0) is not None


def test_unwritable_folder_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecordingError, match="Cannot create session folder"):
        RecordingSession(tmp_path / "file" / "s", "P01", consent=True)


def test_needs_consent_pseudonym_and_empty_folder(tmp_path):
    with pytest.raises(RecordingError, match="consent"):
        RecordingSession(tmp_path / "a", "P01", consent=False)
    with pytest.raises(RecordingError, match="pseudonym"):
        RecordingSession(tmp_path / "a", "Jane Doe", consent=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    with pytest.raises(RecordingError, match="already holds"):
        RecordingSession(tmp_path / "b", "P01", consent=True)


def test_live_queue_is_bounded_and_counts_drops(tmp_path):
    s = RecordingSession(tmp_path / "s", "P01", consent=True, max_pending_heavy=5)
    big = np.zeros((720, 1280, 3), np.uint8)
    for i in range(200):  # far faster than JPEG encoding: the live sink never waits
        s.sink.on_frame(Frame(host_ns=i + 1, index=i, image=big), None)
    stats = s.close()
    assert stats["dropped"]["frame"] > 0
    assert stats["written"]["frame"] + stats["dropped"]["frame"] == 200
    assert len(SessionReader(tmp_path / "s").frames()["host_ns"]) == stats["written"]["frame"]


def test_markers_stimuli_and_self_assessment_rules(tmp_path):
    cfg_file = tmp_path / "markers.json"
    cfg_file.write_text(json.dumps({"labels": ["look away", "noise"], "hotkeys": {"F5": "noise"}}))
    cfg = MarkerConfig.load(cfg_file)
    s = RecordingSession(tmp_path / "s", "P01", consent=True, marker_config=cfg)
    heard = []
    s.marker_listeners.append(lambda text, t: heard.append(text))
    assert s.add_hotkey("F5", host_ns=10) == 10 and s.add_hotkey("F9") is None
    with pytest.raises(RecordingError, match="No stimulus has ended"):
        s.add_self_assessment(5, 5, "neutral")
    s.begin_stimulus("clip", host_ns=100)
    with pytest.raises(RecordingError, match="still running"):
        s.begin_stimulus("other")
    s.end_stimulus(host_ns=200)
    with pytest.raises(RecordingError, match="from 1 to 9"):
        s.add_self_assessment(0, 5, "neutral")
    with pytest.raises(RecordingError, match="not one of"):
        s.add_self_assessment(5, 5, "boredom")
    s.add_self_assessment(9, 1, "happiness")
    s.add_self_assessment(5, 5, "neutral", start_ns=300, end_ns=400)
    s.close()
    assert heard == ["noise", "stimulus_onset:clip", "stimulus_offset:clip"]
    r = SessionReader(tmp_path / "s")
    assert r.meta["markers"]["hotkeys"] == {"F5": "noise"}
    labs = r.labels()
    assert [(x.start_ns, x.end_ns, x.er7) for x in labs] == [(100, 200, "happiness"), (300, 400, "neutral")]
    np.testing.assert_allclose(labs[0].er_va, [1.0, -1.0])
    with pytest.raises(RecordingError, match="not in the marker list"):
        MarkerConfig(labels=("a",), hotkeys={"F1": "b"})


def test_malformed_item_is_counted_not_fatal(tmp_path):
    s = RecordingSession(tmp_path / "s", "P01", consent=True)
    s.writer.submit("frame", 0, 1, None, "not an image", "", None, None)
    s.sink.on_gaze(_gaze(0))
    stats = s.close()
    assert stats["dropped"] == {"frame_invalid": 1} and stats["written"]["gaze"] == 1 and stats["error"] is None


def test_live_queue_is_bounded_in_bytes_too(tmp_path):
    # full-HD frames: the count bound alone would let 60 of them (370 MB) wait for the encoder
    s = RecordingSession(tmp_path / "s", "P01", consent=True, max_pending_heavy_bytes=20 << 20)
    big = np.zeros((1080, 1920, 3), np.uint8)
    for i in range(60):
        s.sink.on_frame(Frame(host_ns=i + 1, index=i, image=big), None)
    assert s.writer.peak_pending_heavy <= 3  # 3 x 6.2 MB fit in 20 MB
    stats = s.close()
    assert stats["dropped"]["frame"] > 0 and stats["written"]["frame"] + stats["dropped"]["frame"] == 60
