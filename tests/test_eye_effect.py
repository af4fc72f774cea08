"""What the eyes add, per window (eye_effect), and the rule that ER never contradicts the face with
confidence unless the eyes' own effect, with a passing eye check, stands behind it."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from emer_live import cli
from emer_live.labels import EMOTIONS_7
from emer_live.pipeline.engine import InferenceEngine, default_model_path
from emer_live.pipeline.eye_effect import (CONFIDENT_ER_P, CONTRADICTION_REASON, EYE_EFFECT_THRESHOLD,
                                           check_contradiction, eye_effect)
from emer_live.pipeline.gap import js_divergence
from emer_live.pipeline.offline import run_offline
from emer_live.sources.simulated_gaze import SimulatedGazeSource
from emer_live.types import HeadOutput
from emer_live.window_model.player import prediction_from_dict
from model_doubles import FakeFaceProcessor, FakeFrameSource, build_model_double


def _head(emotion: str, conf: float) -> HeadOutput:
    p7 = np.full(7, (1 - conf) / 6)
    p7[EMOTIONS_7.index(emotion)] = conf
    return HeadOutput(p7, np.full(3, 1 / 3), 0.1 if emotion == "happiness" else -0.4, 0.2, None)


# --- the measure and the rule ---------------------------------------------------------------
def test_eye_effect_of_the_same_er_is_zero_and_of_another_is_its_divergence():
    er, other = _head("sadness", 0.8), _head("happiness", 0.7)
    same = eye_effect(er, er)
    assert same.jsd == 0.0 and not same.shown and same.top7 == same.top7_without == "sadness"
    fx = eye_effect(er, other)
    assert fx.jsd == pytest.approx(js_divergence(er.probs7, other.probs7)) and fx.shown
    assert (fx.top7, fx.top7_without) == ("sadness", "happiness")
    assert fx.d_valence == pytest.approx(-0.5) and fx.d_arousal == pytest.approx(0.0)
    assert fx.threshold == EYE_EFFECT_THRESHOLD


def test_a_confident_contradiction_without_an_eye_effect_is_flagged_with_its_reason():
    fer, er = _head("happiness", 0.8), _head("sadness", 0.75)
    none = eye_effect(er, er)  # the eye-withheld ER says the same: the contradiction is not the eyes'
    chk = check_contradiction({"score": 1.0, "threshold": 5.0, "unfamiliar": False, "reason": ""}, er, fer, none)
    assert chk["unfamiliar"] and chk["reason"] == CONTRADICTION_REASON and chk["contradiction"]
    assert chk["score"] == 1.0  # the guard's own figures stay
    # no guard at all (a card without one, or a face-only run): flagged all the same
    assert check_contradiction(None, er, fer, none)["unfamiliar"]


def test_a_contradiction_the_eyes_cause_with_a_passing_check_stands():
    fer, er = _head("happiness", 0.8), _head("sadness", 0.75)
    moved = eye_effect(er, _head("happiness", 0.6))
    ok = {"score": 1.0, "threshold": 5.0, "unfamiliar": False, "reason": ""}
    assert moved.shown and check_contradiction(ok, er, fer, moved) is ok
    # the same effect with a failing eye check: flagged, the guard's reason first
    bad = {"score": 9.0, "threshold": 5.0, "unfamiliar": True, "reason": "eye input unlike the training data"}
    chk = check_contradiction(bad, er, fer, moved)
    assert chk["unfamiliar"] and chk["reason"].startswith("eye input unlike") and CONTRADICTION_REASON in chk["reason"]


def test_agreement_or_an_unconfident_er_is_never_flagged_by_the_rule():
    fer = _head("happiness", 0.8)
    for er in (_head("happiness", 0.9), _head("sadness", CONFIDENT_ER_P)):
        assert check_contradiction(None, er, fer, eye_effect(er, er)) is None


# --- in the pipeline -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return InferenceEngine(build_model_double(tmp_path_factory.mktemp("m"), window_s=2.0), prefer_gpu=False)


def _run(engine, gaze):
    res = run_offline(FakeFrameSource(n=125, fps=25), gaze, engine, [], update_hz=10,
                      face_processor=FakeFaceProcessor(min_brightness=1))
    return {p.window_end_ns: p for p in res.predictions}


class _Spy:
    """The engine, keeping every batch the pipeline runs through it."""

    def __init__(self, engine):
        self._engine, self.calls = engine, []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def predict_batch(self, face, eye, fixation):
        heads, ms = self._engine.predict_batch(face, eye, fixation)
        self.calls.append((face, eye, fixation, heads))
        return heads, ms


def test_the_eye_withheld_run_is_the_same_batch_with_a_face_only_windows_eye_input(engine):
    """One model call per batch: the windows, then the same windows with the eye input a run without
    gaze feeds (engine.neutral_eye()); eye_effect is the divergence between the two halves' ER."""
    spy = _Spy(engine)
    preds = sorted(_run(spy, SimulatedGazeSource(rate_hz=120, realtime=False, seed=3)).values(), key=lambda p: p.seq)
    no_eye, no_fix, _ = engine.neutral_eye()
    effects = []
    for face, eye, fix, heads in spy.calls:
        n = len(face) // 2
        assert len(face) == 2 * n and np.array_equal(face[:n], face[n:])
        assert all(np.array_equal(e, no_eye) for e in eye[n:]) and all(np.array_equal(f, no_fix) for f in fix[n:])
        for (er, _), (er0, _) in zip(heads[:n], heads[n:]):
            effects.append((js_divergence(er.probs7, er0.probs7), er0.top7, er.valence - er0.valence))
    assert len(effects) == len(preds) >= 20
    for p, (jsd, top0, dv) in zip(preds, effects):
        assert p.eye_effect.jsd == pytest.approx(jsd) and p.eye_effect.top7_without == top0
        assert p.eye_effect.d_valence == pytest.approx(dv)
    assert max(p.eye_effect.jsd for p in preds) > 0  # the double's eyes do move its ER


def test_a_face_only_window_has_no_eye_effect_and_claims_no_gap(engine):
    spy = _Spy(engine)
    face_only = _run(spy, None)
    assert face_only and sum(len(c[0]) for c in spy.calls) == len(face_only)  # no second run: nothing withheld
    for q in face_only.values():
        assert q.eye_effect.jsd == 0.0 and not q.eye_effect.shown and not q.gap_claimed
        assert q.eye_effect.top7_without == q.er.top7 and q.as_dict()["eye_effect"]["jsd"] == 0.0


def test_an_old_session_without_eye_effect_replays_and_claims_no_gap(engine):
    p = next(iter(_run(engine, SimulatedGazeSource(rate_hz=120, realtime=False)).values()))
    d = json.loads(json.dumps(p.as_dict()))
    again = prediction_from_dict(d, seq=1)
    assert again.eye_effect.as_dict() == p.eye_effect.as_dict() and again.gap_claimed == p.gap_claimed
    del d["eye_effect"]  # recorded before eye_effect existed
    old = prediction_from_dict(d, seq=1)
    assert old.eye_effect is None and not old.gap_claimed and old.as_dict()["eye_effect"] is None


# --- the bundled model on the real video: a synthetic eye effect, and none ---------------------
def _cli(video, gaze, out) -> list[dict]:
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["run", "--headless", "--video", str(video), "--gaze", gaze, "--fast", "--cpu",
                         "--out", str(out)]) == 0
    return [p for p in map(json.loads, out.read_text().splitlines()) if p["type"] == "prediction"]


@pytest.mark.skipif(not default_model_path().exists(), reason="default model not exported yet")
def test_simulated_masked_sadness_is_an_eye_effect_and_no_gaze_is_none(real_video, tmp_path):
    """Simulated gaze whose genuine emotion is sadness (simulated_gaze.py) under the Pexels woman's
    face: the eyes move ER beyond the threshold in nearly every window whose face does not already
    read sad, toward sadness; the same
    video without gaze has no eye effect, claims no gap and says so in every JSON line."""
    sim = _cli(real_video, "simulated:sadness=60", tmp_path / "sim.jsonl")
    assert len(sim) > 50 and all("eye_effect" in p for p in sim)
    shown = [p for p in sim if p["eye_effect"]["shown"]]
    # where the face itself reads sad (the crying start of the video) the sad eyes add little; where
    # it does not, the eyes' effect is beyond the threshold in nearly every window
    not_sad_face = [p for p in sim if p["eye_effect"]["top7_without"] != "sadness"]
    assert len(not_sad_face) > 30
    assert np.mean([p["eye_effect"]["shown"] for p in not_sad_face]) >= 0.9
    assert np.mean([p["eye_effect"]["d_valence"] < 0 for p in shown]) >= 0.9  # toward the sad side
    moved = [p for p in shown if p["eye_effect"]["top7"] != p["eye_effect"]["top7_without"]]
    assert moved and all(p["eye_effect"]["top7"] == "sadness" for p in moved)
    none = _cli(real_video, "none", tmp_path / "none.jsonl")
    assert none and all(p["eye_effect"]["jsd"] == 0.0 and not p["eye_effect"]["shown"] for p in none)
