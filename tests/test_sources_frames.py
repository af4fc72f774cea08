"""Frame sources: the real video file, the embedded demo input, and the camera's error and
reconnect paths (no camera here: a test double of cv2.VideoCapture drives the read logic)."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.errors import SourceError
from emer_live.sources import camera as camera_mod
from emer_live.sources.camera import CameraSource
from emer_live.sources.demo import LABEL as DEMO_LABEL, DemoFrameSource
from emer_live.sources.video_file import VideoFileSource
from emer_live.types import Frame, SourceEvent


def _split(items):
    items = list(items)
    return [i for i in items if isinstance(i, Frame)], [i for i in items if isinstance(i, SourceEvent)]


# --- video file ---------------------------------------------------------------------------------

def test_real_video_offline(real_video):
    src = VideoFileSource(real_video, realtime=False, t0_ns=1_000)
    with src:
        frames, events = _split(src.frames())
    info = src.info()
    assert len(frames) == 472 == info["frame_count"]
    assert info["fps"] == pytest.approx(23.976, abs=0.01) and (info["width"], info["height"]) == (640, 360)
    t = np.array([f.host_ns for f in frames])
    assert t[0] == 1_000 and np.all(np.diff(t) > 0)
    assert np.allclose(np.diff(t), 1e9 / 23.976, atol=1e3)
    assert frames[-1].media_ms == pytest.approx(471 / src.fps * 1000, abs=0.01)
    assert [f.index for f in frames] == list(range(472))
    assert frames[0].image.shape == (360, 640, 3) and frames[0].image.dtype == np.uint8
    assert [e.kind for e in events] == ["end_of_stream"]
    assert src.stats.delivered == 472 and src.stats.dropped == 0


def test_real_video_loops_with_monotonic_time(real_video):
    src = VideoFileSource(real_video, realtime=False, loop=True)
    with src:
        frames = []
        for item in src.frames():
            if isinstance(item, Frame):
                frames.append(item)
            if len(frames) == 500:
                break
    t = np.array([f.host_ns for f in frames])
    assert np.all(np.diff(t) > 0) and src.stats.extra["loops"] == 1


def test_real_video_realtime_is_paced(real_video):
    src = VideoFileSource(real_video, realtime=True)
    with src:
        frames = []
        for item in src.frames():
            frames.append(item)
            if len(frames) == 6:
                break
    span = (frames[-1].host_ns - frames[0].host_ns) / 1e9
    assert span >= 5 / 23.976 * 0.9  # released on the media clock, not as fast as decoded


def test_not_a_video(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n")
    with pytest.raises(SourceError, match="notes.mp4"):
        VideoFileSource(p).open()


def test_truncated_video(tmp_path, real_video):
    p = tmp_path / "cut.mp4"
    p.write_bytes(real_video.read_bytes()[:20_000])
    with pytest.raises(SourceError, match="cut.mp4.*truncated or corrupt"):
        VideoFileSource(p).open()


def test_missing_video():
    with pytest.raises(SourceError, match="not found"):
        VideoFileSource("no_such_clip.mp4").open()


# --- demo input ---------------------------------------------------------------------------------

def test_demo_input_offline_and_labelled():
    src = DemoFrameSource(realtime=False, fps=30, t0_ns=0, duration_s=1.0)
    with src:
        frames, events = _split(src.frames())
    assert len(frames) == 30 and events[-1].kind == "end_of_stream"
    assert [f.host_ns for f in frames[:3]] == [0, 33_333_333, 66_666_667]
    assert frames[0].image.shape == (480, 640, 3)
    assert not np.array_equal(frames[0].image, frames[1].image)  # it moves
    assert src.simulated and src.label == DEMO_LABEL == "demo input (still photo, public domain)"
    assert src.info()["label"] == DEMO_LABEL


def test_demo_input_shows_a_face_that_moves():
    """MediaPipe's face detector finds exactly one face in frames seconds apart, at different
    places: a live face pipeline can track the demo input."""
    import cv2
    mp = pytest.importorskip("mediapipe")
    src = DemoFrameSource(realtime=False)
    src.open()
    centres = []
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as det:
        for t in (0.0, 1.6, 3.3):
            res = det.process(cv2.cvtColor(src.render(t), cv2.COLOR_BGR2RGB))
            assert res.detections and len(res.detections) == 1
            box = res.detections[0].location_data.relative_bounding_box
            assert box.width * 640 > 60  # a face large enough for the crop pipeline
            centres.append((box.xmin + box.width / 2, box.ymin + box.height / 2))
    assert np.ptp(np.array(centres)[:, 0]) * 640 > 3


def test_demo_asset_is_small_and_bundled():
    from importlib import resources
    data = resources.files("emer_live.assets").joinpath("astronaut.jpg").read_bytes()
    assert len(data) < 100_000
    assert "public domain" in resources.files("emer_live.assets").joinpath("CREDITS.md").read_text()


# --- camera -------------------------------------------------------------------------------------

def test_camera_that_does_not_exist():
    with pytest.raises(SourceError, match="camera 7 cannot be opened"):
        CameraSource(index=7).open()


class FakeVideoCapture:
    """Test double of cv2.VideoCapture: a camera that delivers frames, then is unplugged for a
    few reads, then can be reopened. Shared script across instances, like a real device."""

    script: list = []  # per read(): True = frame, False = failure
    opens = 0
    unplugged_opens = 0  # how many open attempts fail while unplugged

    def __init__(self, index):
        cls = type(self)
        cls.opens += 1
        self._ok = cls.unplugged_opens <= 0
        if not self._ok:
            cls.unplugged_opens -= 1
        self.props = {}

    def isOpened(self):
        return self._ok

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def get(self, prop):
        import cv2
        return {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480, cv2.CAP_PROP_FPS: 1000.0}.get(prop, 0)

    def getBackendName(self):
        return "FAKE"

    def read(self):
        s = type(self).script
        if not s:
            return False, None
        ok = s.pop(0)
        return (True, np.zeros((480, 640, 3), np.uint8)) if ok else (False, None)

    def release(self):
        pass


def test_camera_lost_and_restored(monkeypatch):
    monkeypatch.setattr(camera_mod, "_may_exist", lambda i: True)
    monkeypatch.setattr(camera_mod.cv2, "VideoCapture", FakeVideoCapture)
    monkeypatch.setattr(camera_mod, "REOPEN_INTERVAL_S", 0.01)
    FakeVideoCapture.script = [True] * 5 + [False] * camera_mod.FAILS_BEFORE_LOST + [True] * 5
    FakeVideoCapture.opens = 0
    src = CameraSource(index=0, width=640, height=480, fps=30)
    src.open()
    FakeVideoCapture.unplugged_opens = 2  # the first two reopen attempts find nothing
    items = []
    for item in src.frames():
        items.append(item)
        if sum(isinstance(i, Frame) for i in items) == 10:
            break
    src.close()
    kinds = [i.kind if isinstance(i, SourceEvent) else "frame" for i in items]
    assert kinds == ["frame"] * 5 + ["connection_lost", "connection_restored"] + ["frame"] * 5
    assert FakeVideoCapture.opens == 4  # open, two failed reopen attempts, the successful one
    assert src.info()["actual"] == {"width": 640, "height": 480, "fps": 1000.0, "backend": "FAKE"}
    assert src.stats.extra["connection_lost"] == 1 and src.stats.delivered == 10
    assert "camera 0" in items[5].message


def test_camera_counts_dropped_frames_from_timing(monkeypatch):
    """A frame arriving three periods after the previous one means two frames were lost."""
    clock = iter([0, 33_333_333, 133_333_333, 166_666_666])
    monkeypatch.setattr(camera_mod, "_may_exist", lambda i: True)
    monkeypatch.setattr(camera_mod.cv2, "VideoCapture", FakeVideoCapture)
    monkeypatch.setattr(camera_mod, "now_ns", lambda: next(clock))
    monkeypatch.setattr(FakeVideoCapture, "get", lambda self, p: 30.0 if p == camera_mod.cv2.CAP_PROP_FPS else 0)
    FakeVideoCapture.script = [True] * 4
    FakeVideoCapture.unplugged_opens = 0
    src = CameraSource(index=0)
    src.open()
    frames = []
    for f in src.frames():
        frames.append(f)
        if len(frames) == 4:
            break
    src.close()
    assert [f.index for f in frames] == [0, 1, 4, 5]
    assert src.stats.dropped == 2 and src.stats.gaps == 1


class _SlowDecode(VideoFileSource):
    """A video whose every decoded frame costs `delay_s` more (a busy machine): grab() is not slowed."""

    delay_s = 0.0

    def _read(self):
        import time

        time.sleep(self.delay_s)
        return super()._read()


def test_realtime_playback_keeps_up_when_each_decode_takes_a_frame_period(shared_data):
    # single_face.mp4: 72 frames at 30 fps. Each decode is delayed by one frame period and the
    # consumer spends a quarter period on each frame (the face step and FER): frames it cannot
    # process are skipped without decoding, so most frames still arrive and playback never stalls.
    src = _SlowDecode(shared_data / "video" / "single_face.mp4", realtime=True)
    src.open()
    src.delay_s = 1 / src.fps
    import time

    with src:
        frames, events = [], []
        for item in src.frames():
            (frames if isinstance(item, Frame) else events).append(item)
            if isinstance(item, Frame):
                time.sleep(0.25 / src.fps)
    total = src.frame_count
    assert events[-1].kind == "end_of_stream"
    assert len(frames) >= 0.5 * total
    assert src.stats.delivered + src.stats.dropped == total
    assert src.stats.extra.get("skipped_undecoded", 0) == src.stats.dropped > 0
    assert [f.index for f in frames] == sorted({f.index for f in frames})  # media order, none twice
