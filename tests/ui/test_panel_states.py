"""Items 1-3 of the UI review: remembered sources, panel states, banners. Each panel shows one
state and never an old value as current."""

from __future__ import annotations

from types import SimpleNamespace

from emer_live.window_model import states as S
from emer_live.ui.controller import SourceChoice
from emer_live.ui.main_window import load_choice, save_choice
from emer_live.window_model.text import input_banner, model_caveat
from tests.ui.doubles import FakeRunner, prediction, state

COLLECT = {"window_s": 8.0, "collected_s": 3.14, "frames_ended": False, "gaze_ended": False}


# --- the state rules (pure) -----------------------------------------------------------------
def test_collecting_shows_progress_toward_the_window():
    st = S.prediction_state(COLLECT, running=True, age_s=None)
    assert st.state == S.COLLECTING and not st.current
    assert st.chip == "collecting 3.1/8 s"
    assert "needs 8 s" in st.reason


def test_input_shorter_than_the_window_says_why_no_prediction_comes():
    st = S.prediction_state({**COLLECT, "collected_s": 2.2, "gaze_ended": True}, running=True, age_s=None)
    assert st.state == S.ENDED and st.progress is None  # nothing more is coming: no half-filled bar
    assert "gaze ended after 2.2 s" in st.reason and "no prediction can be made" in st.reason


def test_the_input_that_ended_first_is_the_one_named():
    # a 2.2 s gaze file beside a 19.7 s video: once both have ended, the gaze is still the short one
    both = {**COLLECT, "collected_s": 2.2, "gaze_ended": True, "frames_ended": True}
    st = S.prediction_state(both, running=True, age_s=None, ended_first="gaze")
    assert st.reason.startswith("the gaze ended after 2.2 s") and "video" not in st.reason
    assert S.prediction_state(both, running=True, age_s=None).reason.startswith("the video")  # order unseen
    late = S.prediction_state(both, running=True, age_s=3.0, ended_first="gaze")
    assert late.state == S.ENDED and late.reason.startswith("the gaze is over")


def test_skipped_windows_say_why_with_the_count():
    # short recordings in one file: every window spans a break between two of them
    full = {**COLLECT, "collected_s": 8.0, "windows_skipped": {"warming_up": 3, "eye_stream_break": 12}}
    st = S.prediction_state(full, running=True, age_s=None, skip_reason="eye_stream_break")
    assert st.state == S.COLLECTING and "break between two gaze recordings" in st.reason
    assert "(12 windows skipped)" in st.reason and "waiting for the first prediction" not in st.reason
    over = S.prediction_state({**full, "gaze_ended": True}, running=True, age_s=None, skip_reason="eye_stream_break")
    assert over.state == S.ENDED and "without a prediction" in over.reason and "12 windows skipped" in over.reason
    missing = {**full, "windows_skipped": {"eye_stream_missing": 1}}
    st = S.prediction_state(missing, running=True, age_s=None, skip_reason="eye_stream_missing")
    assert "no recent gaze samples (1 window skipped)" == st.reason


def test_fresh_prediction_is_live_old_one_is_not():
    assert S.prediction_state(COLLECT, running=True, age_s=0.3).state == S.LIVE
    assert S.prediction_state(COLLECT, running=True, age_s=0.3, replay=True).state == S.REPLAY
    stale = S.prediction_state(COLLECT, running=True, age_s=5.0)
    assert not stale.current and "5.0 s" in stale.reason
    ended = S.prediction_state({**COLLECT, "frames_ended": True}, running=True, age_s=5.0)
    assert ended.state == S.ENDED and "greyed" in ended.reason
    assert S.prediction_state(COLLECT, running=False, age_s=0.1).state == S.STOPPED
    assert S.prediction_state(COLLECT, running=True, age_s=0.1, model_error="error: boom").state == S.ERROR


def test_no_face_is_its_own_state():
    st = S.prediction_state(COLLECT, running=True, age_s=4.0, skip_reason="no_face")
    assert st.state == S.NO_FACE and not st.current


def test_out_of_distribution_er_is_unreliable():
    p = SimpleNamespace(ood=True, ood_reason="eye features far outside training")
    st = S.prediction_state(COLLECT, running=True, age_s=0.1, prediction=p)
    assert st.state == S.UNRELIABLE and st.reason == "eye features far outside training" and not st.current


def test_eye_guard_flag_makes_er_unreliable():
    p = SimpleNamespace(er_reliable=False, eye_check={"unfamiliar": True, "reason": "pupil far outside training"})
    st = S.prediction_state(COLLECT, running=True, age_s=0.1, prediction=p)
    assert st.state == S.UNRELIABLE and st.reason == "pupil far outside training"
    assert S.prediction_state(COLLECT, running=True, age_s=0.1,
                              prediction=SimpleNamespace(er_reliable=True)).state == S.LIVE


def test_source_states():
    assert S.source_state("live", True).state == S.LIVE
    assert S.source_state("ended", True).state == S.ENDED
    assert S.source_state("missing: file gone", True).state == S.ERROR
    assert S.source_state("live", False).state == S.STOPPED
    assert S.source_state("live", True, replay=True).state == S.REPLAY


# --- banners ----------------------------------------------------------------------------------
def test_banners_for_recorded_gaze_and_replay_of_a_demo_session():
    assert "RECORDED GAZE" in input_banner({}, "video:a.mp4", "tsv:g.tsv")
    replay = {"name": "P01_2026", "devices": {"frame": "demo", "gaze": "simulated"}}
    text = input_banner({"demo_input": False, "simulated_gaze": False}, "replay:x", "replay:x", replay)
    assert text.startswith("REPLAY of session P01_2026")
    assert "DEMO INPUT" in text and "SIMULATED GAZE" in text
    assert model_caveat({"model_provenance": "demo model: ..."}).startswith("DEMO MODEL")
    assert model_caveat({"model_provenance": "trained on EMER"}) == ""


# --- item 1: remembered sources ---------------------------------------------------------------
def test_a_replay_is_never_remembered_and_an_old_one_is_ignored(settings):
    save_choice(settings, SourceChoice("replay:/s/P01", "replay:/s/P01", ""))
    assert load_choice(settings) == SourceChoice()
    settings.setValue("sources/frame", "replay:/old/session")  # written by an older version
    assert load_choice(settings).frame == "auto"


def test_starting_does_not_remember_one_off_sources(make_window, settings):
    win = make_window(choice=SourceChoice("video:/tmp/one-off.mp4", "tsv:/tmp/g.tsv", ""))
    win.start()
    win.tick()
    assert load_choice(settings) == SourceChoice()  # still the default: only the dialog saves


def test_replay_window_shows_replay_and_disables_recording(make_window, settings):
    win = make_window(choice=SourceChoice("replay:/s/P01_x", "replay:/s/P01_x", ""))
    win.enter_replay({"name": "P01_x", "devices": {"frame": "demo", "gaze": "simulated"}, "path": "/s/P01_x"})
    win.start()
    win.tick()
    assert win.banner.isVisible() and "REPLAY of session P01_x" in win.banner.text()
    assert "DEMO INPUT" in win.banner.text()
    assert not win.actions_by_name["record"].isEnabled() and not win.actions_by_name["calibrate"].isEnabled()
    assert win.panels["camera"].state.state == S.REPLAY
    win.open_sources()  # the dialog starts from the remembered set-up, not the replay
    assert win.dialog.choice().frame == "auto"
    win.dialog.accept()
    assert win.replay is None and win.actions_by_name["record"].isEnabled()
    assert load_choice(settings) == SourceChoice()


# --- item 2: nothing old shown as current -----------------------------------------------------
def _collecting(i, **stats):
    return state(i, stats={**COLLECT, **stats})


def test_switching_sources_clears_the_old_reading(make_window):
    runs = iter([FakeRunner([(state(0), [prediction(0, "sadness", "happiness", 0.0)])]),
                 FakeRunner([(_collecting(0), [])])])
    win = make_window(runner_factory=lambda: next(runs))
    win.start()
    win.tick()
    assert win.headline.text() == "Smile on the face, sadness in the eyes — the eyes moved ER from happiness to sadness"
    assert win.panels["er"].state.state == S.LIVE
    win.switch_sources(SourceChoice("video:/tmp/crying.mp4", "simulated", ""))
    win.tick()
    assert win.er_head.head is None and win.fer_head.head is None and win.video.image is not None
    assert win.panels["er"].state.chip == "collecting 3.1/8 s"
    assert win.headline.text().startswith("Collecting 3.1/8 s")
    assert "happiness" not in win.headline.text()


def test_video_end_greys_the_last_reading_and_stops_the_busy_clock(make_window):
    steps = [(state(0), [prediction(0, "sadness", "happiness", 0.0)]),
             (state(1, stats={"frames_ended": True}, panels={"camera": "ended", "gaze": "live", "model": "m"}), [])]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    win.tick()
    win.model.received_s -= 30  # the last prediction came 30 s ago
    win.tick()
    for key in ("er", "fer", "circumplex", "timeseries"):
        assert win.panels[key].state.state == S.ENDED and not win.panels[key].state.current
    assert win.panels["camera"].state.state == S.ENDED
    assert "busy" not in win.status_labels["latency"].text() and "busy" not in win.model_notice.text()
    assert win.status_labels["camera"].text() == "video: input ended"
    assert win.headline.text().startswith("Input ended")


def test_stop_greys_everything(make_window, qtbot):
    win = make_window()
    win.start()
    win.tick()
    win.stop()
    win.tick()
    assert all(win.panels[k].state.state == S.STOPPED for k in ("camera", "gaze", "er", "fer"))


def test_presentation_shows_state_banner_and_demo_model_caveat(make_window):
    steps = [(state(0), [prediction(0, "sadness", "happiness", 0.0)]), (state(1), [])]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    win.toggle_presentation()
    win.tick()
    pres = win.presentation
    assert pres.headline.text() == "Smile on the face, sadness in the eyes — the eyes moved ER from happiness to sadness"
    assert "DEMO INPUT" in pres.banner.text() and pres.caveat.text().startswith("DEMO MODEL")
    win.model.received_s -= 10
    win.tick()
    assert pres.headline.text() != "Smile on the face, sadness in the eyes"
    pres.close()


def test_the_last_reading_after_the_input_ended_is_not_current():
    st = S.prediction_state({**COLLECT, "frames_ended": True}, running=True, age_s=0.2)
    assert st.state == S.ENDED and "greyed" in st.reason
