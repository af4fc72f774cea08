"""The Qt-free controller: "auto" sources, failures turned into panel notices, the recording sink."""

from emer_live.errors import SourceError
from emer_live.ui.controller import Built, LiveController, SourceChoice, SwitchableSink, resolve_auto


def test_auto_means_real_devices_when_present_else_demo_and_simulation():
    auto = SourceChoice("auto", "auto", "m.card.json")
    assert resolve_auto(auto, lambda: False, lambda: False) == SourceChoice("demo", "simulated", "m.card.json")
    assert resolve_auto(auto, lambda: True, lambda: True) == SourceChoice("camera:0", "tobii", "m.card.json")
    fixed = SourceChoice("video:a.mp4", "tsv:b.tsv")
    assert resolve_auto(fixed, lambda: 1 / 0, lambda: 1 / 0) == fixed  # no probing when nothing is "auto"


def test_source_failure_at_start_goes_to_the_right_panel():
    def build(c):
        raise SourceError("Tobii tracker TPF-9 not found")

    ctl = LiveController(SourceChoice("demo", "tobii:TPF-9"), build=build)
    assert not ctl.start() and not ctl.running
    assert set(ctl.notices) == {"gaze"} and ctl.notices["gaze"].action == "Retry"


def test_runner_start_failure_is_a_notice_too():
    class Runner:
        def start(self):
            raise SourceError("camera 0 could not be opened")

    ctl = LiveController(SourceChoice("camera:0", "none"), build=lambda c: Built(None, None, None),
                         make_runner=lambda b, s, hz: Runner())
    assert not ctl.start()
    assert "camera 0" in ctl.notices["camera"].text


def test_switchable_sink_forwards_only_while_a_target_is_set():
    got = []

    class Target:
        def on_gaze(self, s):
            got.append(s)

    sink = SwitchableSink()
    sink.on_gaze(1)
    sink.target = Target()
    sink.on_gaze(2)
    sink.on_prediction(3)  # the target has no such method: ignored
    sink.target = None
    sink.on_gaze(4)
    assert got == [2]


def test_app_gaze_columns_and_geometry_reach_the_sources_and_pipeline(tmp_path, monkeypatch):
    """--gaze-columns and --screen-mm / --viewing-distance-mm of `emer-live app` go where `run` sends them."""
    import dataclasses

    from emer_live.features.eye_v1 import EyeParams
    from emer_live.ui import controller

    params = dataclasses.replace(EyeParams(), screen_width_mm=400.0, screen_distance_mm=600.0)
    # the landmark template: the engine double has no model card to resolve "auto" against
    ctl = controller.real_controller(SourceChoice("demo", "tsv:x.tsv", fer_box="template"), "map.json", params)
    assert ctl.eye_params is params
    seen = {}
    monkeypatch.setattr("emer_live.sources.factory.make_gaze_source",
                        lambda spec, realtime, columns=None: seen.setdefault("columns", columns))
    monkeypatch.setattr("emer_live.sources.factory.make_frame_source", lambda spec, realtime: None)
    monkeypatch.setattr("emer_live.pipeline.engine.InferenceEngine", lambda model: None)
    ctl.build(ctl.choice)
    assert seen["columns"] == "map.json"
