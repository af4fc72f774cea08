"""Item 5 and review mode: a recorded session plays in the window with a REPLAY banner, a
timeline with its markers, stimuli and answers, play / pause / seek / speed, the session's own
predictions in step with the position, and the participant's answers beside the model's ER."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.recording.agreement import agreement_sentence, compare_answers, session_agreement
from emer_live.recording.session import RecordingSession
from emer_live.types import Frame, GazeSample
from emer_live.window_model import states as S
from emer_live.window_model.player import SessionPlayer
from tests.ui.doubles import FakeFace, ManualClock, prediction

T0 = 10_000_000_000  # session host times start at 10 s
S_NS = 1_000_000_000


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """20 s: frames at 10 Hz, gaze at 50 Hz, predictions from 8 s on (sadness eyes under a happy
    face until 14 s, then both happy), a marker, one stimulus (9-13 s) answered 'sadness'
    (valence 2) and a free answer over 14-19 s ('happiness', valence 8)."""
    folder = tmp_path_factory.mktemp("review") / "P01_20260101-120000"
    s = RecordingSession(folder, "P01", consent=True, devices={"frame": "demo", "gaze": "simulated"},
                         block_when_full=True)
    img = np.zeros((120, 160, 3), np.uint8)
    for i in range(200):
        img[:, :, 2] = i
        s.sink.on_frame(Frame(host_ns=T0 + i * S_NS // 10, index=i, image=img.copy()), FakeFace())
    for i in range(1000):
        v = np.zeros(30)
        v[[0, 1, 15, 16]] = 0.5
        v[[5, 20]] = 1.0
        s.sink.on_gaze(GazeSample(host_ns=T0 + i * S_NS // 50, values=v))
    for k, t in enumerate(np.arange(8.0, 20.0, 0.5)):
        er = "sadness" if t < 14 else "happiness"
        s.sink.on_prediction(prediction(k, er, "happiness", T0 / 1e9 + t))
    s.add_marker("note", host_ns=T0 + 5 * S_NS)
    s.begin_stimulus("clip 1", host_ns=T0 + 9 * S_NS)
    s.end_stimulus(host_ns=T0 + 13 * S_NS)
    s.add_self_assessment(2, 6, "sadness", host_ns=T0 + 13_500_000_000)
    s.add_self_assessment(8, 4, "happiness", host_ns=T0 + 19 * S_NS, start_ns=T0 + 14 * S_NS, end_ns=T0 + 19 * S_NS)
    s.close()
    return folder


def test_answers_side_by_side_with_the_model(session):
    player = SessionPlayer(session)
    rows = player.comparison
    assert [(r.emotion7, r.model_emotion7) for r in rows] == [("sadness", "sadness"), ("happiness", "happiness")]
    assert rows[0].n_predictions == 8  # windows ending in (9, 13] s at 2 Hz
    assert rows[0].valence == -0.75 and rows[0].model_valence < 0
    summary = player.agreement
    assert summary["emotion_matches"] == 2 and summary["valence_same_sign"] == 2
    assert agreement_sentence(summary).startswith("Model ER vs the participant: emotion matches 2 of 2")
    # a segment without predictions is said so, never guessed
    none = compare_answers([{"host_ns": 0, "onset_ns": 0, "offset_ns": 5, "valence": 5, "arousal": 5,
                             "emotion7": "neutral"}], player.prediction_dicts)
    assert none[0].model_emotion7 is None and session_agreement(none)["with_model_output"] == 0


def test_player_position_pause_seek_and_speed(session):
    clock = ManualClock()
    p = SessionPlayer(session, clock=clock)
    assert abs(p.duration_s - 19.98) < 0.05
    p.play()
    clock.t = 9.0
    assert abs(p.position_s() - 9.0) < 1e-9
    assert [x.seq for x in p.predictions_since(0)] == [1, 2, 3]  # 8.0, 8.5, 9.0 s
    snap = p.snapshot()
    assert snap.frame.index == 90 and len(snap.gaze_recent) > 90
    p.pause()
    clock.t = 20.0
    assert abs(p.position_s() - 9.0) < 1e-9
    p.set_speed(4.0)
    p.play()
    clock.t = 21.0
    assert abs(p.position_s() - 13.0) < 1e-9
    gen = p.generation
    p.seek(2.0)
    assert p.generation == gen + 1 and p.predictions_since(0) == []
    p.seek(1000)
    assert p.at_end() and p.snapshot().stats["frames_ended"]


def test_review_window(make_window, session, qtbot):
    win = make_window()
    clock = ManualClock()
    win.open_session(str(session), clock=clock)
    assert "REPLAY of session P01_20260101-120000" in win.banner.text() and "DEMO INPUT" in win.banner.text()
    assert not win.actions_by_name["record"].isEnabled() and not win.actions_by_name["marker"].isEnabled()
    review = win.review
    kinds = {m.kind for m in review.timeline.marks}
    assert {"marker", "stimulus", "answer"} <= kinds
    assert review.answer_list.count() == 2 and win.answers_dock.isVisible()
    first = review.answer_list.item(0).text()
    assert "participant: sadness" in first and "model ER: sadness" in first and "emotion ✓" in first
    assert "emotion matches 2 of 2" in review.summary.text()
    clock.t = 10.0
    win.tick()
    assert win.panels["er"].state.state == S.REPLAY and win.er_head.head is not None
    assert win.headline.text() == "Smile on the face, sadness in the eyes — the eyes moved ER from happiness to sadness"
    review.timeline.seek_to_fraction(16.0 / win.player.duration_s)  # click on the timeline
    win.tick()
    # the eyes barely moved an ER that agrees with the face: the reading is the face's
    assert win.headline.text().startswith("The face shows happiness; the eyes add no gap")
    review.timeline.seek_to_fraction(0.1)  # back before the first prediction: nothing old stays
    win.tick()
    assert win.er_head.head is None and win.panels["er"].state.state == S.COLLECTING
    review.speed.setCurrentText("4x")
    assert win.player.speed == 4.0
    win.toggle_running()  # Space pauses a replay, it does not end it
    assert not win.player.playing and win.player is not None
    win.restart()  # "Play again" in a review: from the start, picture and numbers from the recording
    assert win.player.playing and win.player.position_s() == 0.0
    win.close_session()
    assert not win.answers_dock.isVisible() and not win.review_dock.isVisible()
    assert win.replay is None and win.actions_by_name["record"].isEnabled()


def test_export_from_the_review_writes_the_tables(session, tmp_path):
    from emer_live.ui.review_actions import _export

    text = _export(str(session), str(tmp_path / "out"))
    assert "tables written" in text and (tmp_path / "out" / "self_assessment.csv").exists()


def test_a_session_that_cannot_be_opened_is_said(make_window, tmp_path):
    win = make_window()
    assert not win.open_session(str(tmp_path / "nope"))
    assert "Cannot open the session" in win.last_error_box.text() and win.player is None


def test_recorded_prediction_keeps_where_its_fer_came_from():
    from emer_live.window_model.player import prediction_from_dict

    d = prediction(0, "sadness", "happiness", 1.0).as_dict()
    d["fer_source"] = "face_network"
    p = prediction_from_dict(d, seq=1)
    assert p.fer_source == "face_network" and p.er.top7 == "sadness" and p.fer.top7 == "happiness"


def test_review_fits_1280x720(make_window, session, qtbot):
    win = make_window()
    win.resize(1280, 720)
    win.open_session(str(session), clock=ManualClock())
    win.tick()
    qtbot.wait(20)
    hint = win.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 680
    assert win.review.answers.list.height() >= 100
