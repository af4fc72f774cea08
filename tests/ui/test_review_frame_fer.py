"""Review mode's FER panel: the session's per-frame FER at the position, as the live window drew
it (the same smoothing, "no face" where the face was gone, greyed after the same time), on seek in
both directions and at any speed; a session recorded without per-frame FER shows its window FER
and says so.

The session is a real recording: a real face video (single_face.mp4) with blank frames spliced in,
through the real face stage and the bundled model, recorded as `emer-live run --record` does."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from emer_live.pipeline.frame_fer import FrameFER, head_of
from emer_live.window_model import states as S
from emer_live.window_model.player import SessionPlayer
from tests.test_frame_fer import FerSink
from tests.ui.clips import read_frames, write_video
from tests.ui.doubles import ManualClock

S_NS = 1_000_000_000
T0 = 3 * S_NS
FPS = 30.0
SMOOTHING_S = 0.5  # not the default: the review must use the session's own
# single_face.mp4 (72 frames) + 48 blank frames (1.6 s without a face) + the clip twice more:
# 8.8 s, so the bundled model's 8 s window gives a few predictions at the end.
BLANK = range(72, 120)
N_FRAMES = 264




@pytest.fixture(scope="module")
def recorded(tmp_path_factory, shared_data):
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.engine import InferenceEngine, default_model_path
    from emer_live.pipeline.offline import run_offline
    from emer_live.recording.session import RecordingSession
    from emer_live.sources.simulated_gaze import SimulatedGazeSource
    from emer_live.sources.video_file import VideoFileSource

    if not default_model_path().exists():
        pytest.skip("default model not exported")
    tmp = tmp_path_factory.mktemp("review_fer")
    clip = read_frames(shared_data / "video" / "single_face.mp4")
    assert len(clip) == 72
    frames = clip + [np.zeros_like(clip[0])] * len(BLANK) + clip + clip
    assert len(frames) == N_FRAMES
    video = write_video(tmp / "face_gap_face.avi", frames, FPS)

    engine = InferenceEngine(default_model_path(), prefer_gpu=False)
    live = FerSink()  # what the live pipeline handed the window: every FrameFER and prediction
    session = RecordingSession(tmp / "session", "P01", consent=True, model_card=engine.card,
                               pipeline={"update_hz": 10.0, "use_eye": True, "fer_smoothing_s": SMOOTHING_S},
                               block_when_full=True)
    pipe = Pipeline(engine, 10.0, use_eye=True, fer_smoothing_s=SMOOTHING_S)
    run_offline(VideoFileSource(video, realtime=False, t0_ns=T0),
                SimulatedGazeSource(rate_hz=120, realtime=False, t0_ns=T0, script=[("sadness", 10)]),
                engine, sinks=[session.sink, live], pipeline=pipe)
    assert session.close()["dropped"] == {}
    assert [f.frame_index for f in live.fer] == list(range(N_FRAMES)) and live.preds
    return tmp / "session", live


def _shown_at(live, pos_ns: int) -> FrameFER:
    """The newest per-frame FER the live pipeline had given at pos_ns."""
    return [f for f in live.fer if f.host_ns <= pos_ns][-1]


def _open(make_window, folder):
    win = make_window()
    clock = ManualClock()
    assert win.open_session(str(folder), clock=clock)
    win.player.pause()
    return win, clock


def _seek(win, s):
    win.player.seek(s)
    win.tick()
    return win.player.position_ns()


def test_the_recording_holds_faces_and_no_face_frames(recorded):
    _, live = recorded
    for f in live.fer:
        assert f.has_face == (f.frame_index not in BLANK), f.frame_index
        assert f.has_face or f.face == "no_face"


def test_the_panel_shows_the_recorded_per_frame_fer_at_the_position(make_window, recorded):
    folder, live = recorded
    win, _ = _open(make_window, folder)
    assert win.player.has_frame_fer and win.player.fer.smoothing_s == SMOOTHING_S
    checked = 0
    for s in (0.0, 0.3, 1.1, 2.35, 4.05, 5.5, 7.9, 8.5, 8.75):
        pos = _seek(win, s)
        want = _shown_at(live, pos)
        assert want.has_face and win.model.frame_fer.frame_index == want.frame_index
        # what the live window drew then: the pipeline's own smoothing (frame_fer.csv holds 5 decimals)
        assert np.abs(win.fer_head.head.probs7 - head_of(want.smoothed7).probs7).max() < 1e-4
        assert not win.fer_head.stale and win.panels["fer"].state.state == S.REPLAY
        checked += 1
    assert checked == 9
    # with predictions on screen, the panel is still the face's frame, not the window mean
    pos = _seek(win, 8.75)
    assert win.last_prediction is not None and win.last_prediction.fer_source == "face_network"
    assert np.abs(win.fer_head.head.probs7 - win.last_prediction.fer.probs7).max() > 1e-3
    # the smoothing differs from the raw frame: the stored time constant, not none
    raw = _shown_at(live, pos).probs7
    assert np.abs(win.fer_head.head.probs7 - raw).max() > 1e-3


def test_no_face_positions_show_no_face_and_grey_as_live(make_window, recorded):
    folder, live = recorded
    gap_start = BLANK[0] / FPS  # media time of the first blank frame
    win, _ = _open(make_window, folder)
    last_face = _shown_at(live, T0 + int((gap_start - 0.01) * S_NS))
    # forward into the gap, less than a second after the last face: the last face reading, current
    pos = _seek(win, gap_start + 0.5)
    assert not _shown_at(live, pos).has_face and not win.model.frame_fer.has_face
    assert np.abs(win.fer_head.head.probs7 - head_of(last_face.smoothed7).probs7).max() < 1e-4
    assert not win.fer_head.stale and win.panels["fer"].state.state == S.REPLAY
    # more than the stale time without a face: greyed, and says for how long
    pos = _seek(win, gap_start + 1.4)
    gone = (_shown_at(live, pos).host_ns - last_face.host_ns) / 1e9
    assert win.fer_head.stale == f"no face for {gone:.1f} s" and win.panels["fer"].state.state == S.NO_FACE
    assert win.panels["fer"].state.line == f"no face: the last face reading ({gone:.1f} s ago) is greyed"
    # straight from the start into the greyed part (the window never drew the last face)
    win2, _ = _open(make_window, folder)
    _seek(win2, gap_start + 1.4)
    assert win2.fer_head.stale == win.fer_head.stale
    assert np.abs(win2.fer_head.head.probs7 - head_of(last_face.smoothed7).probs7).max() < 1e-4
    # the face returns: its own reading, the smoothing restarted (nothing from before the gap)
    back = live.fer[BLANK[-1] + 1]
    pos = _seek(win, (back.host_ns - T0) / 1e9)
    assert not win.fer_head.stale and win.panels["fer"].state.state == S.REPLAY
    assert np.abs(win.fer_head.head.probs7 - back.probs7).max() < 1e-4


def test_seek_backwards_and_speed_changes_stay_consistent(make_window, recorded):
    folder, live = recorded
    win, clock = _open(make_window, folder)
    seen = {}
    for s in (6.0, 3.0, 2.5, 0.5, 7.0, 2.5):  # back and forth, into and out of the gap
        pos = _seek(win, s)
        want = _shown_at(live, pos)
        if want.has_face:
            assert np.abs(win.fer_head.head.probs7 - head_of(want.smoothed7).probs7).max() < 1e-4
        key = round(s, 3)
        shown = (win.model.frame_fer.frame_index, win.fer_head.stale,
                 None if win.fer_head.head is None else tuple(np.round(win.fer_head.head.probs7, 6)))
        assert seen.setdefault(key, shown) == shown  # the same position always shows the same
    win.player.seek(0.2)
    win.tick()
    for speed, wall in (("4x", 0.5), ("max (16x)", 0.25), ("1x", 0.3)):
        win.review.speed.setCurrentText(speed)
        win.player.play()
        clock.t += wall
        win.tick()
        win.player.pause()
        pos = win.player.position_ns()
        want = _shown_at(live, pos)
        assert win.model.frame_fer.frame_index == want.frame_index
        if want.has_face:
            assert np.abs(win.fer_head.head.probs7 - head_of(want.smoothed7).probs7).max() < 1e-4


def test_a_session_without_frame_fer_csv_still_opens_with_the_window_fer(make_window, recorded, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(recorded[0], folder)
    (folder / "frame_fer.csv").unlink()
    player = SessionPlayer(folder)
    assert not player.has_frame_fer and player.snapshot().frame_fer is None
    player.close()
    win, _ = _open(make_window, folder)
    _seek(win, 1.0)  # before the first window: nothing to show yet
    assert win.fer_head.head is None and win.panels["fer"].state.state == S.COLLECTING
    _seek(win, 8.75)
    p = win.last_prediction
    assert p is not None and win.fer_head.head is p.fer
    assert "window FER" in win.fer_head.note and win.panels["fer"].state.state == S.REPLAY


def test_each_recorded_run_smooths_from_scratch(tmp_path):
    """A session spanning pauses holds several runs; each one's smoothing and "no face" count
    start afresh, as each restarted pipeline's did."""
    from emer_live.recording.session import RecordingSession
    from emer_live.recording.session_reader import SessionReader
    from emer_live.types import SourceEvent
    from emer_live.window_model.player import RecordedFer

    s = RecordingSession(tmp_path / "s", "P01", consent=True, pipeline={"fer_smoothing_s": 10.0}, block_when_full=True)
    a, b = np.eye(7)[0], np.eye(7)[1]
    s.sink.on_frame_fer(FrameFER(0, 1 * S_NS, "ok", a, a, 1))
    s.sink.on_frame_fer(FrameFER(1, 2 * S_NS, "ok", b, b, 1))
    s.sink.on_event(SourceEvent(3 * S_NS, "app", "resumed", "the sources run again"))
    s.sink.on_frame_fer(FrameFER(2, 4 * S_NS, "ok", b, b, 1))
    s.sink.on_event(SourceEvent(5 * S_NS, "app", "resumed", "the sources run again"))
    s.sink.on_frame_fer(FrameFER(3, 6 * S_NS, "no_face", None, None, 0))
    s.close()
    with SessionReader(tmp_path / "s") as r:
        fer = RecordedFer(r, r.events())
    assert fer.at(0) == (None, None)
    second, _ = fer.at(2 * S_NS)
    assert 0.0 < second.smoothed7[1] < 0.2  # tau 10 s: the run's first value still weighs most
    third, last = fer.at(4 * S_NS + 1)
    assert np.allclose(third.smoothed7, b) and last is third  # a new run: nothing carried over
    gone, last = fer.at(7 * S_NS)
    assert not gone.has_face and gone.face == "no_face" and last is None  # no face yet in its run


def test_a_frame_the_face_stage_skipped_shows_the_newest_face_result(tmp_path):
    """Live, a frame the face stage had no time for is drawn with the newest face result; so here."""
    from emer_live.recording.session import RecordingSession
    from emer_live.types import Frame
    from tests.ui.doubles import FakeFace

    s = RecordingSession(tmp_path / "s", "P01", consent=True, block_when_full=True)
    img = np.zeros((120, 160, 3), np.uint8)
    s.sink.on_frame(Frame(host_ns=0, index=0, image=img), None)  # skipped before any face result
    s.sink.on_frame(Frame(host_ns=S_NS // 10, index=1, image=img), FakeFace())
    s.sink.on_frame(Frame(host_ns=2 * S_NS // 10, index=2, image=img), None)  # skipped
    s.close()
    player = SessionPlayer(tmp_path / "s")
    assert player.snapshot().face is None
    player.seek(0.1)
    face1 = player.snapshot().face
    assert face1.box == FakeFace.box and face1.status == "ok"
    player.seek(0.2)
    snap = player.snapshot()
    assert snap.frame.index == 2 and snap.face.box == FakeFace.box
    player.close()


def test_the_recording_panel_makes_room_in_a_review_and_comes_back(make_window, recorded, tmp_path):
    win = make_window()
    win.start()
    assert win.start_recording("P07", True, str(tmp_path))
    win.stop_recording()
    assert win.rec_dock.isVisible()  # the last session's link stays
    assert win.open_session(str(recorded[0]), clock=ManualClock())
    assert not win.rec_dock.isVisible() and win.answers_dock.isVisible()
    win.close_session()
    assert win.rec_dock.isVisible()


def test_rebuilt_smoothing_is_the_live_smoother_over_the_same_rows():
    from emer_live.pipeline.frame_fer import FerSmoother, smooth_recorded

    rng = np.random.default_rng(3)
    n = 400
    t = np.cumsum(rng.integers(20_000_000, 60_000_000, n)).astype(np.int64)  # uneven frame times
    p = rng.dirichlet(np.ones(7), n)
    p[rng.random(n) < 0.1] = np.nan  # no-face rows
    for tau in (0.0, 0.25, 1.0):
        live, want = FerSmoother(tau), []
        for i in range(n):
            if i == 200:
                live.reset()  # a new run
            if np.isnan(p[i]).any():
                live.reset()
                want.append(np.full(7, np.nan))
            else:
                want.append(live.update(int(t[i]), p[i]))
        got = smooth_recorded(t, p, tau, restarts=[0, 200])
        assert np.array_equal(np.isnan(got), np.isnan(want)) and np.allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
