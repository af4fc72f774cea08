"""A stage failing in the live pipeline shows on its panel: the FER panel does not stay on its last
reading marked live when the face step fails, and a sink's error reaches the window."""

from __future__ import annotations

import numpy as np

from emer_live.labels import EMOTIONS_7
from emer_live.pipeline.frame_fer import FrameFER
from emer_live.types import SourceEvent
from tests.ui.doubles import FakeRunner, prediction, state

FACE_ERROR = "error: face stage failed: RuntimeError: landmark graph crashed"


def _fer(i, top="surprise"):
    p = np.full(7, 0.02)
    p[EMOTIONS_7.index(top)] = 0.88
    return FrameFER(i, int(i * 33e6), "ok", p, p, 1)


def test_the_fer_panel_shows_the_face_stage_error_not_its_last_reading_as_live(make_window):
    steps = []
    for i in range(8):
        failing = 3 <= i < 6
        panels = {"camera": "live", "gaze": "live", "model": "emert-demo on CPU"}
        if failing:
            panels["face"] = FACE_ERROR
        st = state(i, panels=panels)
        st.frame_fer = None if failing else _fer(i)  # what LiveRunner.snapshot hands on
        steps.append((st, [prediction(i, "sadness", "happiness", i * 0.1)]))
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    seen = []
    for _ in steps:
        win.tick()
        seen.append((win.panels["fer"].state.state, win.panels["fer"].state.reason, win.panels["fer"].state.current))
    assert [s[0] for s in seen] == ["live"] * 3 + ["error"] * 3 + ["live"] * 2
    assert all("landmark graph crashed" in s[1] and not s[2] for s in seen[3:6])
    assert win.panels["fer"].chip.text() == "LIVE"


def test_a_sink_error_is_said_in_the_window(make_window):
    ev = SourceEvent(5, "sink", "error", "RecorderSink.on_frame failed: OSError: [Errno 28] No space left on device")
    steps = [(state(0), []), (state(1, events=[ev]), [])]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    win.tick()
    win.tick()
    assert "RecorderSink.on_frame failed: OSError" in win.feedback.toolTip()
