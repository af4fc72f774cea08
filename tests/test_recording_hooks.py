"""The --record options the run command wires in: argument parsing, the session and LSL sinks."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from emer_live.clock import ClockMapping

from emer_live.errors import EmerError, RecordingError
from emer_live.recording.run_hooks import add_recording_arguments, make_recorder
from emer_live.recording.session_reader import SessionReader
from emer_live.types import GazeSample


class _SourceDouble:
    """Test double of a source: only what make_recorder reads."""

    def __init__(self, kind, realtime):
        self.kind, self.realtime = kind, realtime
        self.mapping = None  # a tracker's clock mapping, known once open

    def info(self):
        return {"kind": self.kind, "realtime": self.realtime, "opened": self.mapping is not None}


def _parse(argv):
    p = argparse.ArgumentParser()
    add_recording_arguments(p)
    return p.parse_args(argv)


def test_make_recorder(tmp_path):
    from model_doubles import build_model_double

    from emer_live.model_card import load_card

    card = load_card(build_model_double(tmp_path / "m"))
    markers = tmp_path / "markers.json"
    markers.write_text(json.dumps({"labels": ["blink"], "hotkeys": {"B": "blink"}}))
    args = _parse(["--record", str(tmp_path / "rec"), "--participant", "P09", "--consent", "--markers", str(markers),
                   "--lsl", "--notes", "pilot"])
    tracker = _SourceDouble("tobii", False)
    hooks = make_recorder(args, card, (_SourceDouble("video", False), tracker), update_hz=5.0)
    assert hooks.sinks == [hooks.lsl, hooks.session.sink]
    assert hooks.session.writer.block_when_full  # offline input: wait for the disk, drop nothing
    hooks.session.add_hotkey("B")
    tracker.mapping = ClockMapping(device_ref_us=1000, host_ref_ns=5_000_000, uncertainty_ns=20, source="tobii")
    hooks.session.sink.on_gaze(GazeSample(host_ns=5_000_000, values=np.zeros(30), device_us=1000))
    summary = hooks.close()
    folder = hooks.session.folder
    assert folder.parent == tmp_path / "rec" and folder.name.startswith("P09_")
    assert summary["recording"]["folder"] == str(folder)
    r = SessionReader(folder)
    assert r.meta["model"]["card_sha256"] == card.sha256() and r.meta["pipeline"] == {
        "update_hz": 5.0, "use_eye": True, "fer_smoothing_s": 0.25, "fer_box": "template",
        "eye_geometry": {"screen_width_mm": 531.0, "screen_height_mm": 299.0, "viewing_distance_mm": 650.0}}
    assert r.meta["devices"]["gaze_source"]["opened"]  # refreshed at close
    (m,) = r.clock_mappings()
    assert (m["device_ref_us"], m["host_ref_ns"], m["source"]) == (1000, 5_000_000, "tobii")
    assert r.meta["devices"]["frame_source"]["kind"] == "video" and r.meta["notes"] == "pilot"
    assert json.loads((folder / "model_card.json").read_text())["name"] == card.name
    assert [m["label"] for m in r.markers()] == ["blink"]


def test_make_recorder_needs_participant_and_consent(tmp_path):
    srcs = (_SourceDouble("camera", True), None)
    assert make_recorder(_parse([]), None, srcs).sinks == []
    with pytest.raises(RecordingError, match="--participant"):
        make_recorder(_parse(["--record", str(tmp_path)]), None, srcs)
    with pytest.raises(RecordingError, match="--consent"):
        make_recorder(_parse(["--record", str(tmp_path), "--participant", "P1"]), None, srcs)


def test_display_geometry_from_the_cli_is_stored_and_replayed(tmp_path):
    """--screen-mm / --viewing-distance-mm reach the eye pipeline, the session and its replay."""
    from emer_live.pipeline.eye_geometry import add_geometry_arguments, eye_params_from_args, eye_params_from_meta

    p = argparse.ArgumentParser()
    add_recording_arguments(p)
    add_geometry_arguments(p)
    args = p.parse_args(["--record", str(tmp_path / "rec"), "--participant", "P10", "--consent",
                         "--screen-mm", "509", "286", "--viewing-distance-mm", "700"])
    params = eye_params_from_args(args)
    assert (params.screen_width_mm, params.screen_height_mm, params.screen_distance_mm) == (509.0, 286.0, 700.0)
    hooks = make_recorder(args, None, (_SourceDouble("video", False), None))
    folder = hooks.session.folder
    hooks.close()
    meta = SessionReader(folder).meta["pipeline"]
    assert meta["eye_geometry"] == {"screen_width_mm": 509.0, "screen_height_mm": 286.0, "viewing_distance_mm": 700.0}
    assert eye_params_from_meta(meta) == params
    with pytest.raises(EmerError, match="--viewing-distance-mm"):
        eye_params_from_args(p.parse_args(["--viewing-distance-mm", "-1"]))
