"""Test doubles for the UI tests: a runner that serves LiveStates built here, and the Tobii SDK's
eye tracker and calibration objects (FakeTracker, FakeCalibration). They only stand in for the
real LiveRunner / tobii_research objects in tests."""

from __future__ import annotations


import numpy as np

from emer_live.labels import CIRCUMPLEX, EMOTIONS_7, SEVEN_TO_THREE_INDEX
from emer_live.pipeline.eye_effect import eye_effect
from emer_live.pipeline.gap import gap_metrics
from emer_live.pipeline.live import LiveState
from emer_live.types import Frame, HeadOutput, Prediction, SourceEvent
from tests.tobii_sdk_double import FakeEyeTracker, sdk_display_area


def head(emotion: str, conf: float = 0.7, intensity=None) -> HeadOutput:
    p7 = np.full(7, (1 - conf) / 6)
    p7[EMOTIONS_7.index(emotion)] = conf
    p3 = np.zeros(3)
    for i, j in enumerate(SEVEN_TO_THREE_INDEX):
        p3[j] += p7[i]
    v, a = CIRCUMPLEX[emotion]
    return HeadOutput(p7, p3, v * conf, a * conf, intensity)


def prediction(seq: int, er: str, fer: str, t_s: float, eyes_moved: bool = True) -> Prediction:
    """A window whose ER says `er`. eyes_moved: with the eye input withheld, ER would have followed
    the face with little confidence (an eye effect beyond threshold where ER names another class;
    where it names the face's, the effect stays below it); else it would have been the same ER (no
    eye effect: the reading is the face's)."""
    e, f = head(er), head(fer, 0.8, 1.5)
    without = head(fer, 0.2) if eyes_moved else e
    return Prediction(window_end_ns=int(t_s * 1e9), window_s=8.0, er=e, fer=f, gap=gap_metrics(e, f),
                      provider="CPUExecutionProvider", latency_ms=40.0, inference_ms=3.0, face_valid=8,
                      eye_valid_fraction=0.9, seq=seq, eye_effect=eye_effect(e, without))


class FakeFace:
    status, n_faces, box, landmarks, message = "ok", 1, (200, 80, 360, 260), None, ""


def state(frame_index: int = 0, events=(), panels=None, stats=None, face=None) -> LiveState:
    img = np.zeros((360, 640, 3), np.uint8)
    img[:, :, 1] = 60 + frame_index % 100
    t = np.linspace(-2, 0, 120)
    gaze = np.stack([t, 0.5 + 0.3 * np.sin(t * 3), 0.5 + 0.2 * np.cos(t * 2)], axis=1)
    base = {"camera_fps": 29.8, "gaze_hz": 120.0, "gaze_dropped": 3, "latency_p50_ms": 41.0, "latency_p95_ms": 60.0,
            "inference_ms": 2.5, "provider": "CPUExecutionProvider", "model_name": "emert-demo",
            "model_provenance": "demo model", "demo_input": True, "simulated_gaze": True}
    return LiveState(frame=Frame(host_ns=frame_index, index=frame_index, image=img), face=face or FakeFace(),
                     gaze_recent=gaze, prediction=None, stats={**base, **(stats or {})}, events=list(events),
                     panels=panels or {"camera": "demo input", "gaze": "simulated 120 Hz", "model": "emert-demo on CPU"})


class FakeRunner:
    """Serves a script of (LiveState, [Prediction]) steps, one per snapshot."""

    def __init__(self, steps=None):
        self.steps = steps or [(state(i), [prediction(i, "sadness", "happiness", i * 0.1)]) for i in range(50)]
        self.i = -1
        self.started = self.stopped = False
        self.predictions: list = []

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True

    def snapshot(self):
        self.i = min(self.i + 1, len(self.steps) - 1)
        st, preds = self.steps[self.i]
        self.predictions.extend(p for p in preds if p not in self.predictions)
        return st

    def predictions_since(self, seq):
        return [p for p in self.predictions if p.seq > seq]


def lost_event(t: int, source: str = "camera", kind: str = "connection_lost") -> SourceEvent:
    return SourceEvent(t, source, kind, f"{source}: {kind.replace('_', ' ')}")


# The Tobii SDK double is shared with the source's tests (tests/tobii_sdk_double.py): one double of
# the SDK, its display area the SDK's own DisplayArea.
DisplayArea = sdk_display_area


def FakeTracker(look_at, offset_mm: float = 5.0, noise_mm: float = 0.5):
    """The SDK EyeTracker double streaming gaze at 120 Hz from its own thread, looking `offset_mm`
    to the right of `look_at()`."""
    return FakeEyeTracker(120, look_at=look_at, offset_mm=offset_mm, noise_mm=noise_mm, serial="FAKE-0001")


class FakeCalibration:
    """The SDK's ScreenBasedCalibration: records the calls; compute_and_apply succeeds or fails."""

    def __init__(self, succeed: bool = True):
        self.succeed = succeed
        self.calls: list = []

    def enter_calibration_mode(self):
        self.calls.append("enter")

    def leave_calibration_mode(self):
        self.calls.append("leave")

    def collect_data(self, x, y):
        self.calls.append(("collect", x, y))
        return "calibration_status_success"

    def compute_and_apply(self):
        self.calls.append("compute")
        status = "calibration_status_success" if self.succeed else "calibration_status_failure"
        return type("Result", (), {"status": status, "calibration_points": ()})()


class ManualClock:
    """A clock the test sets by hand (seconds): a reviewed session's position follows it."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def pipeline_settings(monkeypatch, built) -> dict:
    """The keyword settings the window's runner builds its Pipeline with for `built` (a stand-in
    Pipeline records them; {} when the runner keeps its default pipeline)."""
    from emer_live.ui.controller import make_runner_real

    made = {}

    class RecordingPipeline:
        def __init__(self, engine, hz, **kw):
            made.update(kw)

    monkeypatch.setattr("emer_live.pipeline.core.Pipeline", RecordingPipeline)
    monkeypatch.setattr("emer_live.pipeline.live.LiveRunner", lambda *a, **kw: kw["pipeline"])
    make_runner_real(built, [], 10.0)
    return made
