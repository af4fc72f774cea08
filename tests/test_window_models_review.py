"""Review equals live: the states a reviewed session shows at moment t are those the live window
showed at t, including after the video ended and over a stretch recorded after it (gaze still
coming, no more frames). No display: both sides are the Qt-free PanelModel.

The session is a real recording: a real face video (single_face.mp4) through the real face stage
and the bundled model with simulated eyes, recorded as the window records one, then the gaze
going on for a while after the video's end. Hostile layouts: the face leaving and coming back, a
face too late for the first windows (skipped), a gaze script that ends after 2.2 s. The live side is a PanelModel fed, at every input,
with what the live runner publishes (LiveRunner.snapshot's fields: its stats, panel texts, source
events and newest per-frame FER, and the predictions made so far); the review side is a
ReviewModel over the recorded folder, sought to the same moments."""

from __future__ import annotations

import heapq
from dataclasses import replace

import numpy as np
import pytest

from emer_live.pipeline.live import LiveState
from emer_live.types import SourceEvent
from emer_live.window_model import states as S
from emer_live.window_model.panels import PanelModel
from emer_live.window_model.player import SessionPlayer
from emer_live.window_model.review import ReviewModel
from tests.ui.clips import read_frames, write_video

S_NS = 1_000_000_000
T0 = 3 * S_NS
FPS = 30.0
AFTER_VIDEO_S = 3.0  # recorded after the video ended: gaze only
GAZE_HZ = 120


class LiveWindow:
    """What the live window's PanelModel showed over time. A sink of the run: before each input
    is processed it takes the moment just before it, when every earlier input has been through
    the pipeline and its predictions made, as the window's timer would have found it."""

    def __init__(self, pipeline, card, provider: str):
        self.pipe, self.card = pipeline, card
        self.model = PanelModel()
        self.panels = {"camera": "starting", "gaze": "starting", "model": f"{card.name} on {provider}"}
        self.events: list[SourceEvent] = []
        self.preds: list = []  # (emitted at, prediction)
        self.fed = 0
        self.frames_ended = self.gaze_ended = False
        self.video_kind = "video"
        self.now_ns = 0  # host time of the input being processed
        self.shown: list[tuple[int, object]] = []  # (moment, WindowView)

    def moment(self, t_ns: int) -> None:
        """The window looks at the runner just before the input at t_ns."""
        if t_ns <= self.now_ns:
            return
        m = t_ns - 1
        stats = {"window_s": self.pipe.window_s, "collected_s": round(self.pipe.collected_s(), 2),
                 "windows_skipped": dict(self.pipe.summary()["windows_skipped"]),
                 "frames_ended": self.frames_ended, "gaze_ended": self.gaze_ended, "model_name": self.card.name,
                 "model_provenance": self.card.provenance_summary,
                 "model_provenance_kind": self.card.data.get("provenance", {}).get("kind", "")}
        state = LiveState(frame=None, face=None, gaze_recent=np.empty((0, 3)), prediction=None, stats=stats,
                          frame_fer=self.pipe.last_fer, events=list(self.events), panels=dict(self.panels))
        new = [p for _, p in self.preds[self.fed:]]
        self.fed = len(self.preds)
        self.model.feed(state, new, now_s=m / 1e9)  # as the window's tick feeds it
        self.shown.append((m, self.model.view(running=True, now_s=m / 1e9)))
        self.now_ns = t_ns

    def on_frame(self, frame, face=None):
        self.panels["camera"] = "live"

    def on_gaze(self, sample):
        self.panels["gaze"] = "live"

    def on_event(self, ev):
        if ev.kind == "end_of_stream" and ev.source == self.video_kind:
            self.frames_ended = True  # the runner's capture loop ends here: frames_ended, "ended"
            self.panels["camera"] = "ended"
        elif ev.kind == "end_of_stream":  # the gaze source's: its loop ends
            self.gaze_ended = True
            self.panels["gaze"] = "ended"
        self.events.append(ev)

    def on_prediction(self, p):
        self.preds.append((self.now_ns, p))


# The video: passes of the 2.4 s clip and blank frames (no face), and how long the gaze lasts
# (None: past the video's end). The face throughout (9.6 s); a face that leaves for 3 s after the
# first predictions and comes back; a face that comes late; a 2.2 s gaze script beside the video.
LAYOUTS = {"face": ((("clip", 4),), None), "face_leaves": ((("clip", 4), ("blank", 90), ("clip", 1)), None),
           "face_late": ((("blank", 225), ("clip", 4)), None), "short_gaze": ((("clip", 4),), 2.2)}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def recorded(request, tmp_path_factory, shared_data):
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.engine import InferenceEngine, default_model_path
    from emer_live.pipeline.offline import run_offline
    from emer_live.recording.session import RecordingSession
    from emer_live.sources.simulated_gaze import SimulatedGazeSource
    from emer_live.sources.video_file import VideoFileSource

    if not default_model_path().exists():
        pytest.skip("default model not exported")
    tmp = tmp_path_factory.mktemp("review_equals_live")
    clip = read_frames(shared_data / "video" / "single_face.mp4")
    segments, gaze_s = LAYOUTS[request.param]
    images = [img for what, n in segments for img in (clip * n if what == "clip" else [clip[0] * 0] * n)]
    video = write_video(tmp / f"{request.param}.avi", images, FPS)
    engine = InferenceEngine(default_model_path(), prefer_gpu=False)
    session = RecordingSession(tmp / "session", "P01", consent=True, model_card=engine.card,
                               pipeline={"update_hz": 10.0, "use_eye": True}, block_when_full=True)
    pipe = Pipeline(engine, 10.0, use_eye=True)
    live = LiveWindow(pipe, engine.card, engine.provider)
    # the inputs by host time (gaze first at equal times), as the runner's threads deliver them
    frames = VideoFileSource(video, realtime=False, t0_ns=T0)
    frames.open()
    frame_items = list(frames.frames())  # its frames, then its end-of-stream event
    frames.close()
    video_end = frame_items[-1].host_ns
    assert isinstance(frame_items[-1], SourceEvent) and frame_items[-1].kind == "end_of_stream"
    live.video_kind = frames.kind
    gaze = SimulatedGazeSource(rate_hz=GAZE_HZ, realtime=False, t0_ns=T0, script=[("sadness", 30)],
                               **({"duration_s": gaze_s} if gaze_s else {}))
    gaze.open()
    gaze_items = []  # the live view goes on after the video: gaze keeps coming and is recorded
    for item in gaze.samples():
        if item.host_ns > video_end + AFTER_VIDEO_S * S_NS:
            break
        gaze_items.append(item)
    gaze.close()
    pipe.on_crop_cached = session.sink.on_face_crop
    pipe.on_frame_fer = session.sink.on_frame_fer
    pipe.on_window_skipped = session.sink.on_window_skipped  # as the runners wire them
    merged = heapq.merge(((it.host_ns, 0, n, it) for n, it in enumerate(gaze_items)),
                         ((it.host_ns, 1, n, it) for n, it in enumerate(frame_items)))
    for t, tag, _, item in merged:
        live.moment(t)
        if isinstance(item, SourceEvent):
            session.sink.on_event(item)
            live.on_event(item)
            continue
        if tag == 1:
            session.sink.on_frame(item, pipe.on_frame(item))
            live.on_frame(item)
        elif pipe.on_gaze(item):
            session.sink.on_gaze(item)
            live.on_gaze(item)
        for p in pipe.predict(pipe.next_windows(t)):
            session.sink.on_prediction(p)
            live.on_prediction(p)
    live.moment(t + 1)
    assert live.frames_ended and (live.preds or gaze_s)
    assert session.close()["dropped"] == {}
    return tmp / "session", live, video_end, request.param


def _as_reviewed(state: S.PanelState) -> S.PanelState:
    """Live's "live" is review's "replay" (values current for the position): the one intended difference."""
    return replace(state, state=S.REPLAY) if state.state == S.LIVE else state


def _same(live_view, review_view, t_s: float) -> None:
    for key in ("camera", "gaze", "fer", "er", "circumplex", "timeseries"):
        a, b = _as_reviewed(live_view.states[key]), review_view.states[key]
        assert (a.state, a.reason) == (b.state, b.reason), f"{key} at {t_s:.3f} s: live {a} review {b}"
        if a.progress is not None or b.progress is not None:  # collected so far: to a frame's time
            assert a.progress == pytest.approx(b.progress, abs=0.1), f"{key} at {t_s:.3f} s"
    live_head = live_view.headline.replace("Live", "Replay", 1) if live_view.headline.startswith("Live") \
        else live_view.headline
    assert live_head == review_view.headline, f"headline at {t_s:.3f} s"


def test_review_shows_at_every_moment_what_live_showed(recorded):
    folder, live, video_end, name = recorded
    review = ReviewModel(SessionPlayer(folder))
    start = review.player.start_ns
    end = review.player.end_ns
    # a prediction reaches the live window when it is made, the review at its window's end: the
    # moments between the two (at most one gaze sample here) are not the same moment for both
    in_flight = [(p.window_end_ns, at) for at, p in live.preds]
    # (at the session's very end the review says the replay reached its end: review's own state)
    moments = [(m, v) for m, v in live.shown
               if start <= m < end - S_NS // 1000 and not any(lo <= m < hi for lo, hi in in_flight)]
    assert len(moments) > 0.95 * len(live.shown) - 2
    seen = set()
    for m, live_view in moments:
        review_view = review.states_at((m - start) / S_NS)
        _same(live_view, review_view, (m - start) / S_NS)
        seen |= {(key, live_view.states[key].state, m > video_end) for key in ("er", "fer")}
    # the moments covered the states that matter: collecting, live readings, the end of the video
    # and the stretch recorded after it; a face gone (FER) and windows skipped for it (ER)
    if LAYOUTS[name][1]:  # the gaze ended before the window filled: collecting, then ended (named)
        assert {("er", S.COLLECTING, False), ("er", S.ENDED, False), ("fer", S.LIVE, False)} <= seen
        return
    assert {("er", S.COLLECTING, False), ("er", S.LIVE, False), ("er", S.ENDED, True), ("fer", S.ENDED, True)} <= seen
    if name != "face":
        assert ("fer", S.NO_FACE, False) in seen
    if name == "face_late":
        assert ("er", S.NO_FACE, False) in seen


def test_after_an_input_ended_review_names_it_as_live_did(recorded):
    folder, live, video_end, name = recorded
    review = ReviewModel(SessionPlayer(folder))
    start = review.player.start_ns
    if LAYOUTS[name][1]:  # the gaze ended first (2.2 s of 9.6): the gaze is named, by both
        gaze_end = start + int(LAYOUTS[name][1] * S_NS)
        later = [(m, v) for m, v in live.shown if gaze_end < m < review.player.end_ns - S_NS // 1000]
        assert (later[-1][0] - later[0][0]) / S_NS > 7.0
        for m, live_view in later[:: max(1, len(later) // 12)]:
            view = review.states_at((m - start) / S_NS)
            assert view.er == live_view.er == S.PanelState(S.ENDED, "the gaze ended after 2.2 s, shorter than the "
                                                                    "model's 8 s window, so no prediction can be made")
            assert view.states["gaze"] == live_view.states["gaze"] == S.PanelState(
                S.ENDED, "simulated gaze: end of the requested duration")
        return
    after = [(m, v) for m, v in live.shown if video_end < m < review.player.end_ns - S_NS // 1000]
    assert (after[-1][0] - after[0][0]) / S_NS > AFTER_VIDEO_S - 0.1  # the stretch after the video
    for m, live_view in after[:: max(1, len(after) // 12)]:
        view = review.states_at((m - start) / S_NS)
        assert view.er == S.PanelState(S.ENDED, "the video is over; the last reading is greyed") == live_view.er
        assert view.states["camera"] == S.PanelState(S.ENDED, f"{name}.avi: end of video")
        assert view.states["fer"].state == S.ENDED and view.headline.startswith("Input ended: the video is over")
        # the last reading stays, greyed: the newest the live window had then (windows after the
        # video's end still hold its last 8 s of faces, so a few more came)
        newest = max(p.window_end_ns for at, p in live.preds if at <= m)
        assert review.panels.last_prediction.window_end_ns == newest


def test_skipped_windows_are_recorded_with_their_reason(recorded):
    from emer_live.recording.session_reader import SessionReader

    folder, live, _, name = recorded
    with SessionReader(folder) as r:
        skipped = [e for e in r.events() if e.get("kind") == "window_skipped"]
    assert {e["source"] for e in skipped} <= {"pipeline"}
    counted = {k: v for k, v in live.pipe.summary()["windows_skipped"].items() if k != "superseded"}
    assert len(skipped) == sum(counted.values())
    if name == "face_late":  # the face came too late for the first windows
        assert "too_few_faces" in {e["message"] for e in skipped}


def test_seeking_back_and_forth_gives_the_same_states_as_playing_through(recorded):
    folder, live, *_ = recorded
    review = ReviewModel(SessionPlayer(folder))
    start = review.player.start_ns
    picks = live.shown[:: max(1, len(live.shown) // 15)]
    first = [review.states_at((m - start) / S_NS).states for m, _ in picks]
    again = [review.states_at((m - start) / S_NS).states for m, _ in reversed(picks)][::-1]
    assert first == again

