"""The window's models without a display: every panel's state, the headline, the status texts and
the recording and review rules from plain inputs (snapshots, predictions, a clock), as the window
draws them (tests/ui/ check the same behaviour through the widgets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emer_live.pipeline.frame_fer import FrameFER
from emer_live.types import SourceEvent
from emer_live.window_model import states as S
from emer_live.window_model.panels import PanelModel, start_failure_headline
from emer_live.window_model.recording import RecordingModel, why_not_record
from tests.ui.doubles import prediction, state

S_NS = 1_000_000_000


class Notice:
    def __init__(self, text):
        self.text = text


def _live(model: PanelModel, now_s: float = 100.0, **kw):
    return model.view(running=True, now_s=now_s, **kw)


def _fer(i: int, t_s: float, face: bool = True, n_faces: int = 1) -> FrameFER:
    p = np.full(7, 0.05)
    p[3] = 0.7  # happiness
    return FrameFER(i, int(t_s * S_NS), "ok" if face else "no_face", p if face else None, p if face else None,
                    n_faces if face else 0)


# --- the panel model --------------------------------------------------------------------------
def test_before_any_input_fer_waits_for_a_face_and_er_for_the_window():
    m = PanelModel()
    m.apply_state(state(stats={"window_s": 8.0, "collected_s": 3.1}))
    v = _live(m)
    assert v.states["fer"] == S.PanelState(S.COLLECTING, "waiting for the first face frame")
    assert v.er == S.PanelState(S.COLLECTING, "the model needs 8 s of face and gaze", (3.1, 8.0))
    assert v.states["circumplex"] == v.states["timeseries"] == v.er
    assert v.headline == "Collecting 3.1/8 s: the model needs 8 s of face and gaze"


def test_a_fresh_prediction_is_live_and_an_old_one_says_the_model_is_busy():
    m = PanelModel()
    m.apply_state(state(stats={"window_s": 8.0, "collected_s": 8.0}))
    m.apply_predictions([prediction(1, "sadness", "happiness", 9.0)], now_s=100.0)
    assert m.seq == 1 and m.er.head is m.last_prediction.er
    assert m.fer.head is m.last_prediction.fer and m.fer.caption == "3-class output (its own head)"
    v = _live(m, 101.0)
    assert v.er.state == S.LIVE and v.headline and v.headline[0].isupper()
    assert _live(m, 103.5).er == S.PanelState(S.COLLECTING, "no new prediction for 3.5 s (model busy)")
    assert m.busy_s(103.5) == pytest.approx(3.5) and m.busy_s(101.0) is None


def test_stopped_means_every_panel_stopped_and_no_live_figures():
    m = PanelModel()
    m.apply_state(state())
    m.apply_predictions([prediction(1, "sadness", "happiness", 9.0)], now_s=100.0)
    v = m.view(running=False, now_s=100.5)
    assert not v.running
    assert all(st == S.PanelState(S.STOPPED, "Space starts again") for st in v.states.values())
    assert v.headline == "Stopped: Space starts again"


def test_a_short_gaze_file_beside_a_long_video_names_the_gaze():
    m = PanelModel()
    m.apply_state(state(stats={"window_s": 8.0, "collected_s": 2.2, "gaze_ended": True}))
    m.apply_state(state(stats={"window_s": 8.0, "collected_s": 2.2, "gaze_ended": True, "frames_ended": True}))
    assert m.ended == ["gaze", "video"]
    er = _live(m).er
    assert er.state == S.ENDED and er.reason.startswith("the gaze ended after 2.2 s") and er.progress is None
    texts = m.status_texts(None)
    assert texts["camera"] == "video: input ended" and texts["gaze"] == "gaze: input ended"


def test_source_events_mark_their_panel_until_restored_and_are_said_once():
    m = PanelModel()
    lost = SourceEvent(5, "tobii", "connection_lost", "tracker unplugged")
    said = m.apply_state(state(events=[lost, SourceEvent(6, "tobii", "info", "rate 120 Hz")]))
    assert said == ["tobii: tracker unplugged"]
    assert m.apply_state(state(events=[lost])) == []  # the runner keeps its events: said once
    assert _live(m).states["gaze"] == S.PanelState(S.ERROR, "tracker unplugged")
    assert m.source_notice("gaze") == ("tracker unplugged", "Reconnect", True)
    m.apply_state(state(events=[lost, SourceEvent(9, "tobii", "connection_restored", "back")]))
    assert _live(m).states["gaze"].state == S.LIVE and m.source_notice("gaze")[2] is False
    m.apply_state(state(events=[SourceEvent(12, "video", "end_of_stream", "clip.mp4: end of video")]))
    assert _live(m).states["camera"] == S.PanelState(S.ENDED, "clip.mp4: end of video")
    assert m.source_notice("camera") == ("clip.mp4: end of video", "Play again", True)


def test_skipped_windows_say_why_with_their_count():
    m = PanelModel()
    m.apply_state(state(stats={"window_s": 8.0, "collected_s": 8.0}))
    m.apply_predictions([prediction(1, "sadness", "happiness", 9.0)], now_s=100.0)
    m.apply_state(state(stats={"window_s": 8.0, "collected_s": 8.0, "windows_skipped": {"no_face": 3, "superseded": 9}}))
    assert m.skip_reason == "no_face"
    er = _live(m, 103.0).er
    assert er == S.PanelState(S.NO_FACE, "no face in view (3 windows skipped); the last reading is greyed")
    m.apply_predictions([prediction(2, "sadness", "happiness", 12.0)], now_s=104.0)
    assert m.skip_reason == "" and _live(m, 104.1).er.state == S.LIVE


def test_every_window_across_a_break_between_recordings_is_named():
    m = PanelModel()
    stats = {"window_s": 8.0, "collected_s": 8.0, "windows_skipped": {"eye_stream_break": 12}}
    m.apply_state(state(stats=stats))
    assert "break between two gaze recordings" in _live(m).er.reason
    m.apply_state(state(stats={**stats, "frames_ended": True, "gaze_ended": True}))
    er = _live(m).er
    assert er.state == S.ENDED and "(12 windows skipped)" in er.reason and "without a prediction" in er.reason


def test_the_fer_panel_follows_the_face_and_greys_when_it_is_gone():
    m = PanelModel(fer_stale_s=1.0)
    m.apply_state(state())
    m.apply_frame_fer(_fer(0, 10.0, n_faces=2))
    assert m.fer.head is not None and not m.fer.stale and m.fer.note == "2 faces: the largest is read"
    assert m.fer.caption == "3-class: the 7 classes summed" and _live(m).states["fer"].state == S.LIVE
    m.apply_frame_fer(_fer(1, 10.5, face=False))
    assert not m.fer.stale and _live(m).states["fer"].state == S.LIVE  # gone for less than 1 s
    m.apply_frame_fer(_fer(2, 11.2, face=False))
    assert m.fer.stale == "no face for 1.2 s" and m.fer.head is m.last_face_head  # the last reading, greyed
    assert _live(m).states["fer"] == S.PanelState(S.NO_FACE, "the last face reading (1.2 s ago) is greyed")
    m.apply_state(state(stats={"frames_ended": True}))
    assert _live(m).states["fer"] == S.PanelState(S.ENDED, "the video is over; the last reading is greyed")


def test_a_model_that_failed_to_start_is_the_error_and_the_headline_is_kept():
    m = PanelModel()
    v = m.view(running=False, now_s=1.0, notices={"model": Notice("model file not found")})
    assert v.er == S.PanelState(S.ERROR, "model file not found") and v.headline is None
    assert start_failure_headline({"model": Notice("model file not found")}) == "Not running: the model failed to load"
    v = m.view(running=False, now_s=1.0, notices={"camera": Notice("no camera 0")})
    assert v.states["camera"] == S.PanelState(S.ERROR, "no camera 0")
    assert v.er == S.PanelState(S.ERROR, "not running: no camera 0")


def test_a_reviewed_pause_reads_as_stopped_with_its_span():
    m = PanelModel()
    m.apply_state(state(stats={"recording_paused": (8.0, 12.0)}), review=True)
    v = m.view(running=True, now_s=1.0, replay=True, review=True)
    assert not v.running and v.er.state == S.STOPPED and "00:08" in v.er.reason
    assert v.states["camera"] == v.er


def test_in_review_a_prediction_counts_from_its_window_end():
    m = PanelModel()
    m.apply_state(state(stats={"window_s": 8.0}), review=True)
    m.apply_predictions([prediction(1, "sadness", "happiness", 9.0)], now_s=30.0, review=True)
    assert m.age_s(10.5) == pytest.approx(1.5)
    assert m.view(running=True, now_s=10.5, replay=True, review=True).er.state == S.REPLAY
    assert m.view(running=True, now_s=11.5, replay=True, review=True).er.state == S.COLLECTING


def test_reset_forgets_the_previous_run():
    m = PanelModel()
    m.apply_state(state(events=[SourceEvent(5, "video", "end_of_stream", "over")], stats={"frames_ended": True}))
    m.apply_predictions([prediction(1, "sadness", "happiness", 9.0)], now_s=1.0)
    m.reset()
    assert (m.seq, m.last_prediction, m.problems, m.ended, m.fer.head, m.er.head) == (-1, None, {}, [], None, None)


# --- recording --------------------------------------------------------------------------------
def test_r_says_why_it_cannot_record_once_every_input_ended():
    assert why_not_record({"frames_ended": True, "gaze_ended": True}, True).startswith(
        "Nothing to record: the video and the gaze have ended")
    assert why_not_record({"frames_ended": True, "gaze_ended": None}, True).startswith(
        "Nothing to record: the video has ended")
    assert why_not_record({"frames_ended": True, "gaze_ended": False}, True) == ""  # the gaze still comes
    assert why_not_record({"frames_ended": True, "gaze_ended": True}, False) == ""  # stopped: Space restarts


def test_markers_stimuli_and_free_self_assessments_are_kept_in_order():
    r = RecordingModel()
    assert r.need_session("marker") == "marker: not recording (press R to record)"
    assert r.rec_label(5.0) == ""
    r.began(now_s=100.0, now_ns=10 * S_NS)
    assert r.need_session("marker") == "" and r.rec_label(183.0) == "● REC 01:23"
    assert r.rec_label(101.0, error="disk full").endswith("RECORDING FAILED")
    assert r.free_assessment_span(12 * S_NS) == (10 * S_NS, 12 * S_NS)  # since the recording began
    r.marker_placed(15 * S_NS)
    assert r.markers_placed == 1 and r.free_assessment_span(20 * S_NS) == (15 * S_NS, 20 * S_NS)
    assert r.free_assessment_span(21 * S_NS) == (20 * S_NS, 21 * S_NS)  # since the last answer
    assert r.toggle_stimulus() == (True, "stimulus 1") and r.stimulus_open
    assert r.stimulus_texts(True, "stimulus 1") == ("▶ stimulus 1 running (N ends it)", "stimulus 1 began (N ends it)")
    assert r.toggle_stimulus() == (False, "stimulus 1") and not r.stimulus_open
    assert r.stimulus_texts(False, "stimulus 1")[1] == "stimulus 1 ended: A for the self-assessment"
    r.toggle_stimulus()
    assert r.ended("/data/P01_x") == "last session: /data/P01_x" and not r.stimulus_open  # an open one ends with it
    assert str(r.last_session) == "/data/P01_x" and r.need_session("stimulus")
    r.began(now_s=0.0, now_ns=0)
    assert r.toggle_stimulus() == (True, "stimulus 3")  # numbered over the window's life


# --- review -----------------------------------------------------------------------------------
def test_the_review_timeline_spans_the_recording_and_a_pause_is_stopped(tmp_path):
    from emer_live.recording.session import RecordingSession
    from emer_live.types import Frame, GazeSample
    from emer_live.window_model.player import SessionPlayer
    from emer_live.window_model.review import ReviewModel
    from tests.ui.doubles import FakeFace

    t0 = 10 * S_NS
    s = RecordingSession(tmp_path / "P01_20260101-120000", "P01", consent=True, block_when_full=True)
    img = np.zeros((60, 80, 3), np.uint8)
    for i in range(100):  # 10 s of frames with a pause between 4 and 6 s
        t = t0 + i * S_NS // 10
        if 4 * S_NS <= t - t0 < 6 * S_NS:
            continue
        s.sink.on_frame(Frame(host_ns=t, index=i, image=img), FakeFace())
        v = np.zeros(30)
        v[[5, 20]] = 1.0
        s.sink.on_gaze(GazeSample(host_ns=t, values=v))
    s.sink.on_event(SourceEvent(t0 + 4 * S_NS, "app", "paused", "stopped by the experimenter"))
    s.sink.on_event(SourceEvent(t0 + 6 * S_NS - 1, "app", "resumed", "running again"))
    s.add_marker("late", host_ns=t0 + 14 * S_NS)  # after the last sample: still on the timeline
    s.close()
    review = ReviewModel(SessionPlayer(tmp_path / "P01_20260101-120000"))
    assert review.span_s == pytest.approx((0.0, 14.0))
    assert [(m.kind, m.start_s, m.end_s) for m in review.marks] == [("pause", 4.0, pytest.approx(6.0)),
                                                                    ("marker", 14.0, 14.0)]
    v = review.states_at(5.0)
    assert not v.running and v.er.state == S.STOPPED and v.states["camera"].state == S.STOPPED
    v = review.states_at(7.0)  # the next run: from scratch, collecting again
    assert v.running and v.er.state == S.COLLECTING and v.states["camera"].state == S.REPLAY
    assert review.position_s == pytest.approx(7.0)


# --- no Qt ------------------------------------------------------------------------------------
def test_the_window_models_import_no_qt():
    code = ("import sys\n"
            "import emer_live.window_model.panels, emer_live.window_model.recording\n"
            "import emer_live.window_model.review, emer_live.window_model.player, emer_live.window_model.states\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    repo = Path(__file__).resolve().parents[1]  # run from the checkout: its emer_live is the one imported
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo)
    assert out.returncode == 0, out.stdout + out.stderr
