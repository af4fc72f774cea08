"""LSL outlets -> inlets on loopback: predictions, gap metrics and markers arrive with their
channel layout and with the window-end / marker time on LSL's clock."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from emer_live.recording.lsl_outlets import FRAME_FER_CHANNELS, GAP_CHANNELS, LslOutlets, prediction_channels  # noqa: E402
from test_recording_session import _frame_fer, _pred  # noqa: E402


def _inlet(source_id: str, name: str):
    found = pylsl.resolve_byprop("source_id", f"{source_id}-{name}", 1, 10.0)
    assert found, f"stream {name} not found on loopback"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=10.0)
    return inlet, found[0]


def test_outlets_to_inlets(tmp_path):
    sid = f"emer-live-test-{uuid.uuid4().hex[:8]}"
    out = LslOutlets(source_id=sid)
    pred_in, pred_info = _inlet(sid, "EMERLive-Predictions")
    gap_in, gap_info = _inlet(sid, "EMERLive-Gap")
    mark_in, mark_info = _inlet(sid, "EMERLive-Markers")
    fer_in, fer_info = _inlet(sid, "EMERLive-FrameFER")
    assert (fer_info.type(), fer_info.channel_count()) == ("FacialExpression", len(FRAME_FER_CHANNELS))
    assert (pred_info.type(), pred_info.channel_count()) == ("EmotionPrediction", len(prediction_channels()))
    assert (gap_info.type(), gap_info.channel_count()) == ("EmotionGap", len(GAP_CHANNELS))
    assert mark_info.type() == "Markers"
    labels = pred_in.info(timeout=5.0).desc().child("channels").first_child().child_value("label")
    assert labels == "er_p7_happiness"

    p = _pred(7)
    out.on_prediction(p)
    out.push_marker("stimulus_onset:clip 1", host_ns=p.window_end_ns)
    sample, ts = pred_in.pull_sample(timeout=10.0)
    assert sample is not None
    np.testing.assert_allclose(sample[:7], p.er.probs7, atol=1e-6)
    chans = prediction_channels()
    assert sample[chans.index("fer_intensity")] == pytest.approx(1.5)  # the FER head's, under its name
    assert sample[chans.index("fer_valence")] == pytest.approx(0.3)
    assert sample[chans.index("fer_head_valence")] == pytest.approx(0.5)
    assert sample[chans.index("er_valence")] == pytest.approx(0.1)
    assert ts == pytest.approx(out.lsl_time(p.window_end_ns), abs=1e-6)
    g, _ = gap_in.pull_sample(timeout=10.0)
    np.testing.assert_allclose(g, [0.0, 0.0, 0.0, -0.2, -0.6], atol=1e-6)
    m, mts = mark_in.pull_sample(timeout=10.0)
    assert m == ["stimulus_onset:clip 1"] and mts == pytest.approx(ts, abs=1e-6)
    face, none = _frame_fer(1, p.window_end_ns, True), _frame_fer(2, p.window_end_ns + 33_000_000, False)
    out.on_frame_fer(face)
    out.on_frame_fer(none)
    f1, t1 = fer_in.pull_sample(timeout=10.0)
    f2, _ = fer_in.pull_sample(timeout=10.0)
    np.testing.assert_allclose(f1, list(face.probs7) + [1.0], atol=1e-6)
    assert np.isnan(f2[:7]).all() and f2[7] == 0.0 and t1 == pytest.approx(ts, abs=1e-6)
    out.close()
    out.on_prediction(p)  # after close: ignored, no error
    out.on_frame_fer(face)


def test_eye_effect_channels(tmp_path):
    """What the eyes added goes out with each prediction (NaN for a prediction without it), and a
    window flagged by a rule rather than the guard's score sends NaN as the score."""
    import dataclasses

    from emer_live.pipeline.eye_effect import CONTRADICTION_REASON, eye_effect
    from emer_live.recording.lsl_outlets import EYE_EFFECT_CHANNELS
    from emer_live.types import HeadOutput

    sid = f"emer-live-test-{uuid.uuid4().hex[:8]}"
    out = LslOutlets(source_id=sid)
    pred_in, _ = _inlet(sid, "EMERLive-Predictions")
    chans = prediction_channels()
    assert chans[-len(EYE_EFFECT_CHANNELS):] == EYE_EFFECT_CHANNELS
    old = _pred(1)  # recorded before eye_effect
    p = _pred(2)
    without = HeadOutput(np.array([0.05, 0.7, 0.05, 0.05, 0.05, 0.05, 0.05]), np.full(3, 1 / 3), 0.6, 0.1, None)
    moved = dataclasses.replace(p, eye_effect=eye_effect(p.er, without),
                                eye_check={"score": None, "threshold": None, "unfamiliar": True,
                                           "reason": CONTRADICTION_REASON, "contradiction": True})
    out.on_prediction(old)
    out.on_prediction(moved)
    a, _ = pred_in.pull_sample(timeout=10.0)
    b, _ = pred_in.pull_sample(timeout=10.0)
    ix = {c: chans.index(c) for c in EYE_EFFECT_CHANNELS + ["eye_unfamiliar", "eye_check_score"]}
    assert all(np.isnan(a[ix[c]]) for c in EYE_EFFECT_CHANNELS[:4]) and a[ix["gap_claimed"]] == 0.0
    fx = moved.eye_effect
    np.testing.assert_allclose([b[ix[c]] for c in EYE_EFFECT_CHANNELS],
                               [fx.jsd, 1.0, fx.d_valence, fx.d_arousal, 0.0], atol=1e-6)  # flagged: no gap
    assert b[ix["eye_unfamiliar"]] == 1.0 and np.isnan(b[ix["eye_check_score"]])
    out.close()
