"""LSL outlets -> inlets on loopback: predictions, gap metrics and markers arrive with their
channel layout and with the window-end / marker time on LSL's clock."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from emer_live.recording.lsl_outlets import GAP_CHANNELS, LslOutlets, prediction_channels  # noqa: E402
from test_recording_session import _pred  # noqa: E402


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
    assert sample[chans.index("fer_intensity")] == pytest.approx(1.5)
    assert sample[chans.index("er_valence")] == pytest.approx(0.1)
    assert ts == pytest.approx(out.lsl_time(p.window_end_ns), abs=1e-6)
    g, _ = gap_in.pull_sample(timeout=10.0)
    np.testing.assert_allclose(g, [0.0, 0.0, 0.0, -0.2, -0.6], atol=1e-6)
    m, mts = mark_in.pull_sample(timeout=10.0)
    assert m == ["stimulus_onset:clip 1"] and mts == pytest.approx(ts, abs=1e-6)
    out.close()
    out.on_prediction(p)  # after close: ignored, no error
