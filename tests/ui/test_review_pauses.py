"""Review of a session that spans a pause of the recording: inside the pause every panel says the
recording was stopped there and shows no class, no gap and no frame; the next run comes back
with its own values (from scratch, as the live window did after the restart); seeking back shows
the first run's again. Between the end of the first run's video and the pause, the panels say
the input ended, as they did live.

The session is a real recording made as the window makes one: two runs of the real face stage and
the bundled model (single_face.mp4 four times with sad simulated eyes, played to its end, then
the Pexels video with happy ones) into one RecordingSession through the window's SwitchableSink,
with the "paused" and "resumed" events the window writes when Space stops and restarts the live
view."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.pipeline.frame_fer import head_of
from emer_live.types import SourceEvent
from emer_live.window_model import states as S
from emer_live.window_model.player import RecordedRuns
from emer_live.ui.review import session_marks
from emer_live.window_model.text import paused_reason
from tests.test_frame_fer import FerSink
from tests.ui.clips import read_frames, write_video
from tests.ui.doubles import ManualClock

S_NS = 1_000_000_000
T0 = 3 * S_NS
FPS = 30.0
PAUSE_S = 4.0
ENDED_S = 1.5  # the first run's video ended this long before Space stopped the live view
RUN_S = 8.8  # the second run; the bundled model's window is 8 s: each run ends with a few predictions


class RunSink(FerSink):
    """What one run's pipeline handed the window, and its newest input time."""

    def __init__(self):
        super().__init__()
        self.last_ns = 0

    def on_frame(self, frame, face=None):
        self.last_ns = max(self.last_ns, frame.host_ns)

    def on_gaze(self, sample):
        self.last_ns = max(self.last_ns, sample.host_ns)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, shared_data):
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.engine import InferenceEngine, default_model_path
    from emer_live.pipeline.offline import run_offline
    from emer_live.recording.session import RecordingSession
    from emer_live.sources.simulated_gaze import SimulatedGazeSource
    from emer_live.sources.video_file import VideoFileSource
    from emer_live.ui.controller import SwitchableSink

    if not default_model_path().exists():
        pytest.skip("default model not exported")
    tmp = tmp_path_factory.mktemp("review_pause")
    clip = read_frames(shared_data / "video" / "single_face.mp4")
    video1 = write_video(tmp / "face_x4.avi", clip * 4, FPS)

    engine = InferenceEngine(default_model_path(), prefer_gpu=False)
    session = RecordingSession(tmp / "session", "P01", consent=True, model_card=engine.card,
                               pipeline={"update_hz": 10.0, "use_eye": True}, block_when_full=True)
    sink = SwitchableSink()  # the window's sink: later runs' frame indices follow the first's
    sink.target = session.sink
    runs = []
    t0 = T0
    for video, eyes in ((video1, "sadness"), (shared_data / "video" / "WolfgangLanger_Pexels.mp4", "happiness")):
        if runs:  # Space stopped the live view, and later started it again (main_window.stop / start)
            paused = runs[-1].last_ns + int(ENDED_S * S_NS)
            sink.on_event(SourceEvent(paused, "app", "paused", "live view stopped by the experimenter"))
            sink.new_run()
            t0 = paused + int(PAUSE_S * S_NS)
            sink.on_event(SourceEvent(t0 - 1_000_000, "app", "resumed", "the sources run again"))
        live = RunSink()
        run_offline(VideoFileSource(video, realtime=False, t0_ns=t0),
                    SimulatedGazeSource(rate_hz=120, realtime=False, t0_ns=t0, script=[(eyes, 30)]),
                    engine, sinks=[sink, live], pipeline=Pipeline(engine, 10.0, use_eye=True),
                    duration_s=RUN_S if runs else None)
        assert live.preds and live.fer and live.fer[0].has_face
        runs.append(live)
    assert session.close()["dropped"] == {}
    return tmp / "session", runs


def _open(make_window, folder):
    win = make_window()
    clock = ManualClock()
    assert win.open_session(str(folder), clock=clock)
    win.player.pause()
    return win, clock


def _seek_ns(win, t_ns):
    win.player.seek((t_ns - win.player.start_ns) / S_NS)
    win.tick()
    return win.player.position_ns()


def _pause(runs):
    first, second = runs
    return first.last_ns + int(ENDED_S * S_NS), second.fer[0].host_ns - 1_000_000  # paused, resumed events


def _assert_shows_run(win, live, pos):
    """The FER and ER panels show what this run's live window showed at pos."""
    fer = [f for f in live.fer if f.host_ns <= pos][-1]
    assert fer.has_face and np.abs(win.fer_head.head.probs7 - head_of(fer.smoothed7).probs7).max() < 1e-4
    pred = [p for p in live.preds if p.window_end_ns <= pos][-1]
    assert np.abs(win.er_head.head.probs7 - pred.er.probs7).max() < 1e-4
    assert win.last_prediction.window_end_ns == pred.window_end_ns
    for key in ("fer", "er", "camera", "timeseries"):
        assert win.panels[key].state.state == S.REPLAY, key
    assert not win.headline.text().startswith("Stopped")


def _assert_stopped(win, reason):
    for key in ("fer", "er", "circumplex", "timeseries", "camera", "gaze"):
        assert win.panels[key].state == S.PanelState(S.STOPPED, reason), key
    assert win.fer_head.head is None and win.er_head.head is None  # no class, greyed or not
    assert win.last_prediction is None and not win.circumplex.trails["er"]  # no gap either
    assert win.video.image is None and len(win.gaze.gaze) == 0
    assert win.headline.text() == "Stopped: " + reason


def test_the_recording_holds_two_runs_and_the_pause_between(recorded):
    folder, runs = recorded
    from emer_live.recording.session_reader import SessionReader

    with SessionReader(folder) as r:
        events = r.events()
        found = RecordedRuns(events)
        frames = r.frames()
    assert found.pauses == [_pause(runs)]
    paused, resumed = _pause(runs)
    assert len(runs[0].fer) == 288  # the first run played its whole video, and said so
    assert [e["source"] for e in events if e["kind"] == "end_of_stream" and e["host_ns"] < paused] == ["video"]
    assert not ((frames["host_ns"] > paused) & (frames["host_ns"] < resumed)).any()  # nothing recorded there
    assert list(found.of(frames["host_ns"][[0, -1]])) == [0, 1]


def test_inside_the_pause_the_panels_say_stopped_and_show_nothing(make_window, recorded):
    folder, runs = recorded
    paused, resumed = _pause(runs)
    win, _ = _open(make_window, folder)
    pos = _seek_ns(win, runs[0].last_ns - 200_000_000)  # late in the first run: its values
    _assert_shows_run(win, runs[0], pos)
    _seek_ns(win, (paused + resumed) // 2)
    t0 = win.player.start_ns
    reason = paused_reason((paused - t0) / S_NS, (resumed - t0) / S_NS)
    assert reason == "recording paused 00:11–00:15, nothing recorded here"
    _assert_stopped(win, reason)
    # straight into the pause from the start (the window never drew the first run)
    win2, _ = _open(make_window, folder)
    _seek_ns(win2, paused + S_NS)
    _assert_stopped(win2, reason)


def test_the_next_run_comes_back_with_its_own_values_and_the_first_run_with_its_own(make_window, recorded):
    folder, runs = recorded
    first, second = runs
    _, resumed = _pause(runs)
    win, _ = _open(make_window, folder)
    _seek_ns(win, (resumed + _pause(runs)[0]) // 2)
    # just after the restart: the second run's face at once, and its model still collecting
    pos = _seek_ns(win, resumed + S_NS // 2)
    fer = [f for f in second.fer if f.host_ns <= pos][-1]
    assert np.abs(win.fer_head.head.probs7 - head_of(fer.smoothed7).probs7).max() < 1e-4
    assert win.panels["fer"].state.state == S.REPLAY
    er = win.panels["er"].state
    # collected as the live pipeline counts it: to the newest frame and gaze sample (a frame is 33 ms)
    assert er.state == S.COLLECTING and er.progress == pytest.approx((0.5, 8.0), abs=0.05)
    assert win.er_head.head is None and win.last_prediction is None  # nothing of the first run
    pos = _seek_ns(win, second.last_ns - 100_000_000)
    _assert_shows_run(win, second, pos)
    assert first.preds[-1].er.top7 != second.preds[-1].er.top7  # sad eyes, then happy ones
    n_second = sum(p.window_end_ns <= pos for p in second.preds)
    assert len(win.timeseries._cols["t"]) == n_second  # only this run's windows, as live after a restart
    pos = _seek_ns(win, first.last_ns - 100_000_000)  # back into the first run
    _assert_shows_run(win, first, pos)
    assert len(win.timeseries._cols["t"]) == sum(p.window_end_ns <= pos for p in first.preds)


def test_playing_through_the_pause(make_window, recorded):
    folder, runs = recorded
    paused, resumed = _pause(runs)
    win, clock = _open(make_window, folder)
    pos = _seek_ns(win, runs[0].last_ns - 300_000_000)
    _assert_shows_run(win, runs[0], pos)
    win.player.play()
    clock.t += 2.0  # 1x: into the pause
    win.tick()
    t0 = win.player.start_ns
    _assert_stopped(win, paused_reason((paused - t0) / S_NS, (resumed - t0) / S_NS))
    clock.t += (resumed + int(8.4 * S_NS) - win.player.position_ns()) / S_NS  # through it, 8.4 s into the next run
    win.tick()
    win.player.pause()
    _assert_shows_run(win, runs[1], win.player.position_ns())


def test_after_the_first_runs_video_ended_the_panels_say_so(make_window, recorded):
    folder, runs = recorded
    paused, _ = _pause(runs)
    win, _ = _open(make_window, folder)
    _seek_ns(win, paused - S_NS // 2)  # the video is over, the live view not yet stopped
    over = S.PanelState(S.ENDED, "the video is over; the last reading is greyed")
    assert win.panels["er"].state == over and win.panels["fer"].state == over
    # the video source's own end-of-stream event, as it reached the live window then
    assert win.panels["camera"].state == S.PanelState(S.ENDED, "face_x4.avi: end of video")
    assert win.headline.text() == "Input ended: the video is over; the last reading is greyed"
    # the last readings stay under the grey veil, as live: the last prediction and face reading
    assert win.last_prediction.window_end_ns == runs[0].preds[-1].window_end_ns
    assert np.abs(win.fer_head.head.probs7 - head_of(runs[0].fer[-1].smoothed7).probs7).max() < 1e-4


def test_before_the_first_prediction_and_after_the_last_frame(make_window, recorded):
    folder, runs = recorded
    win, _ = _open(make_window, folder)
    _seek_ns(win, T0 + S_NS)
    er = win.panels["er"].state
    assert er.state == S.COLLECTING and er.progress == pytest.approx((1.0, 8.0), abs=0.01)
    assert win.er_head.head is None and win.panels["fer"].state.state == S.REPLAY
    win.player.seek(win.player.duration_s)
    win.tick()
    assert win.panels["er"].state.state == S.ENDED and win.panels["fer"].state.state == S.ENDED
    assert not win.panels["er"].state.current and win.headline.text().startswith("Input ended")


def test_the_timeline_draws_the_pause_as_a_span(make_window, recorded):
    folder, runs = recorded
    paused, resumed = _pause(runs)
    win, _ = _open(make_window, folder)
    t0 = win.player.start_ns
    pauses = [m for m in session_marks(win.player) if m.kind == "pause"]
    assert [(m.start_s, m.end_s) for m in pauses] == [((paused - t0) / S_NS, (resumed - t0) / S_NS)]


def test_runs_and_pauses_from_the_events():
    """The first "paused" opens a pause (a failed restart adds another); "resumed" ends it; a
    recording paused to its end has an open pause; a restart without a pause has none."""
    ev = [{"host_ns": t, "source": "app", "kind": k} for t, k in
          ((10, "paused"), (12, "paused"), (20, "resumed"), (30, "resumed"), (40, "paused"))]
    ev.append({"host_ns": 15, "source": "video", "kind": "end_of_stream"})
    runs = RecordedRuns(ev)
    assert runs.pauses == [(10, 20), (40, None)]
    assert list(runs.of([5, 10, 20, 21, 35, 50])) == [0, 0, 0, 1, 2, 2]
    assert runs.pause_at(9) is None and runs.pause_at(15) == (10, 20) and runs.pause_at(20) is None
    assert runs.pause_at(10 ** 9) == (40, None) and runs.start_ns(0) is None and runs.start_ns(2) == 30
    assert paused_reason(70.0, None) == "recording paused from 01:10, nothing recorded here"
