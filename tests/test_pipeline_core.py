"""Pipeline + offline runner: windows only when both streams cover them, determinism, bad input."""

import numpy as np
import pytest

from emer_live.pipeline.core import Pipeline
from emer_live.pipeline.engine import InferenceEngine
from emer_live.pipeline.offline import run_offline
from emer_live.sources.simulated_gaze import SimulatedGazeSource
from emer_live.types import GazeSample
from model_doubles import FakeFaceProcessor, FakeFrameSource, build_model_double

S = 1_000_000_000


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return InferenceEngine(build_model_double(tmp_path_factory.mktemp("m"), window_s=2.0), prefer_gpu=False)


class Recorder:
    """Test sink: keeps what it is given."""

    def __init__(self):
        self.frames, self.gaze, self.preds, self.events, self.crops, self.skipped = [], [], [], [], [], []

    def on_frame(self, frame, face):
        self.frames.append((frame.index, None if face is None else face.status))

    def on_gaze(self, s):
        self.gaze.append(s.host_ns)

    def on_prediction(self, p):
        self.preds.append(p)

    def on_event(self, e):
        self.events.append(e)

    def on_face_crop(self, index, host_ns, crop):
        self.crops.append((index, crop.shape))

    def on_window_skipped(self, reason, window_end_ns):
        self.skipped.append((reason, window_end_ns))


def run(engine, n=150, gaze=True, **kw):
    frames = FakeFrameSource(n=n, fps=25, **{k: v for k, v in kw.items() if k in ("dark", "fail_after", "times_ns")})
    g = SimulatedGazeSource(rate_hz=120, realtime=False) if gaze is True else gaze
    sink = Recorder()
    res = run_offline(frames, g, engine, [sink], update_hz=10, face_processor=FakeFaceProcessor(min_brightness=1))
    return res, sink


def test_windows_cover_both_streams_on_the_update_grid(engine):
    res, sink = run(engine)  # 6 s of input, 2 s windows, 10 Hz
    preds = res.predictions
    ends = np.array([p.window_end_ns for p in preds])
    assert ends[0] == 2 * S  # the first full window, nothing before
    assert np.all(np.diff(ends) == S // 10)
    assert ends[-1] <= 6 * S  # no window past the inputs
    assert [p.seq for p in preds] == list(range(1, len(preds) + 1))
    assert all(p.face_valid == 8 and p.eye_valid_fraction > 0.5 for p in preds)
    assert len(sink.preds) == len(preds) and len(sink.frames) == 150 and len(sink.gaze) == res.pipeline.counts["samples"]
    # the face encoder ran on at most one frame per window_s / 32, and the recorder got exactly those crops
    s = res.pipeline.summary()
    assert s["faces_encoded"] == len(sink.crops) <= 6 / (2 / 32) + 1
    assert res.stopped_by == "end_of_stream"


def test_same_inputs_same_predictions(engine):
    a, _ = run(engine)
    b, _ = run(engine)
    assert [p.as_dict() | {"latency_ms": 0, "inference_ms": 0} for p in a.predictions] == \
           [p.as_dict() | {"latency_ms": 0, "inference_ms": 0} for p in b.predictions]


def test_predictions_follow_the_input(engine):
    res, _ = run(engine)
    p7 = np.array([p.er.probs7 for p in res.predictions])
    assert np.ptp(p7, axis=0).max() > 1e-3


def test_no_face_windows_are_skipped_and_counted(engine):
    res, sink = run(engine, dark=range(60, 120))  # 2.4 s without a face
    s = res.pipeline.summary()
    assert s["face_status"]["no_face"] == 60
    assert s["windows_skipped"].get("too_few_faces", 0) + s["windows_skipped"].get("no_face", 0) > 0
    assert all(p.face_valid >= 4 for p in res.predictions)
    assert ("no_face" in s["windows_skipped_why"]) or ("too_few_faces" in s["windows_skipped_why"])
    # each skipped window is told to the sinks with its reason and end (a recorder keeps them for review)
    told = {}
    for reason, _ in sink.skipped:
        told[reason] = told.get(reason, 0) + 1
    assert told == {k: v for k, v in s["windows_skipped"].items() if k != "superseded"}
    ends = [t for _, t in sink.skipped]
    assert ends == sorted(ends) and all(t % (S // 10) == 0 for t in ends)  # on the update grid
    assert not {t for _, t in sink.skipped} & {p.window_end_ns for p in res.predictions}


def test_gaze_none_gives_predictions_marked_without_eyes(engine):
    res, _ = run(engine, gaze=None)
    assert res.predictions and all(p.eye_valid_fraction == 0.0 for p in res.predictions)
    assert res.pipeline.summary()["eye_used"] is False


def test_short_gaze_stream_marks_eye_missing(engine):
    short = SimulatedGazeSource(rate_hz=120, realtime=False, duration_s=3.0)
    res, _ = run(engine, gaze=short)
    s = res.pipeline.summary()
    assert s["windows_skipped"]["eye_stream_missing"] > 0
    assert max(p.window_end_ns for p in res.predictions) <= 4 * S


def test_backward_and_repeated_gaze_times_are_refused_and_counted(engine):
    pipe = Pipeline(engine, face_processor=FakeFaceProcessor())
    v = np.full(30, np.nan)
    assert pipe.on_gaze(GazeSample(host_ns=10, values=v))
    assert not pipe.on_gaze(GazeSample(host_ns=10, values=v))
    assert not pipe.on_gaze(GazeSample(host_ns=5, values=v))
    assert pipe.on_gaze(GazeSample(host_ns=11, values=v))
    assert pipe.summary()["inputs_rejected"] == {"gaze_time_repeat": 1, "gaze_time_backwards": 1}


def test_frame_source_failing_mid_run_stops_cleanly(engine):
    res, sink = run(engine, fail_after=100)
    assert res.stopped_by == "frame_source_error"
    assert "unplugged" in res.stream_errors["frames"]
    assert any(e.kind == "error" for e in sink.events)
    assert res.predictions  # what came before was still predicted


def test_backward_frame_times_are_refused(engine):
    times = [int(i * S / 25) for i in range(100)]
    times[50] = times[49]
    res, _ = run(engine, n=100, times_ns=times)
    assert res.pipeline.summary()["inputs_rejected"] == {"frame_time_not_increasing": 1}


def _guarded_engine(tmp_path):
    """An eye-v2 card double whose guard comes from simulated 120 Hz gaze windows."""
    from emer_live.features.eye_norm import eye_statistics, guard_statistics
    from emer_live.features.eye_v1 import EyeParams, encode_window, process_gaze
    from emer_live.labels import EMOTIONS_7
    from emer_live.sources.simulated_gaze import simulate_raw

    ws = []
    for i in range(70):
        t, raw = simulate_raw(EMOTIONS_7[i % 7], 2.5, 120, np.random.default_rng([5, i]))
        ws.append(encode_window(process_gaze(t, raw, EyeParams(schema="eye-v2")), int(t[-1]), 2.0).eye)
    ws = np.stack(ws)
    mean, std = eye_statistics(ws)
    eye = {"schema": "eye-v2", "schema_revision": 2, "encoding": "segment", "steps": 32, "mean": mean.tolist(), "std": std.tolist(),
           "guard": guard_statistics(ws)}
    return InferenceEngine(build_model_double(tmp_path, window_s=2.0, card_overrides={"eye": eye}), prefer_gpu=False)


class _CorruptGaze(SimulatedGazeSource):
    """Simulated gaze shifted 0.9 display widths to the right (a display-geometry mix-up)."""

    def samples(self):
        for s in super().samples():
            if isinstance(s, GazeSample):
                v = s.values.copy()
                v[[0, 15]] += 0.9  # gaze far right of anything seen in training
                s = GazeSample(s.host_ns, v)
            yield s


def test_predictions_carry_the_eye_guard_and_flag_unfamiliar_input(tmp_path):
    eng = _guarded_engine(tmp_path)
    res, sink = run(eng, n=125)
    assert sink.preds and all(p.eye_check is not None for p in sink.preds)
    assert np.mean([p.eye_check["unfamiliar"] for p in sink.preds]) <= 0.1
    assert "eye_check" in sink.preds[0].as_dict()
    res, sink = run(eng, n=125, gaze=_CorruptGaze(rate_hz=120, realtime=False))
    flagged = [p for p in sink.preds if p.eye_check["unfamiliar"]]
    assert len(flagged) >= 0.9 * len(sink.preds) and not flagged[0].er_reliable
    assert "gaze_display_x" in flagged[0].eye_check["reason"]


def test_the_eye_schema_is_the_cards_even_with_geometry_given(tmp_path):
    """run and replay pass the session's display geometry; the schema must still be the card's."""
    import dataclasses

    from emer_live.features.eye_v1 import EyeParams

    eng = _guarded_engine(tmp_path)
    geometry = dataclasses.replace(EyeParams(), screen_width_mm=400.0, screen_distance_mm=600.0)
    pipe = Pipeline(eng, 10, FakeFaceProcessor(), eye_params=geometry)
    assert pipe.eye.params.schema == "eye-v2"
    assert (pipe.eye.params.screen_width_mm, pipe.eye.params.screen_distance_mm) == (400.0, 600.0)


def _windows_built(engine, frames, gaze, breaks, ahead: bool) -> list:
    """Feed frames and gaze in time order, as a live run receives them, and build each window on
    the grid once both streams have passed its end; ahead: its eye half is computed as soon as
    gaze has passed the end, as the live window thread does while the last frame is on its way."""
    pipe = Pipeline(engine, 10, FakeFaceProcessor())
    events = sorted([(f.host_ns, 0, f) for f in frames] + [(s.host_ns, 1, s) for s in gaze] +
                    [(b, 1, None) for b in breaks], key=lambda e: (e[0], e[1]))
    out, marks = [], [0, 0]
    for t, kind, item in events:
        if kind == 0:
            pipe.on_frame(item)
        elif item is None:
            pipe.on_gaze_break(t)
        else:
            pipe.on_gaze(item)
        marks[kind] = t
        due = pipe.next_due_ns
        if ahead and due is not None and marks[0] < due <= marks[1]:
            pipe.prepare_eye(due)
        out += pipe.next_windows(min(marks))
    # ahead, all but the windows whose gaze ended before the frames did (a recording's last ones)
    assert pipe.counts["windows_eye_ahead"] >= 0.8 * len(out) if ahead else pipe.counts["windows_eye_ahead"] == 0
    return out


def test_the_eye_half_computed_ahead_is_the_one_the_window_would_build(engine, tx300_files):
    # real recordings one after the other, each a new gaze stream (a break), with 25 fps frames
    from emer_live.sources.tobii_tsv import read_tobii_tsv
    from emer_live.types import Frame

    gaze, breaks, start = [], [], S
    for f in tx300_files[:4]:
        rec = read_tobii_tsv(f)
        t = (rec.t_us - rec.t_us[0]) * 1000 + start
        breaks.append(int(t[0]))
        gaze += [GazeSample(int(a), r) for a, r in zip(t, rec.raw)]
        start = int(t[-1]) + 300_000_000
    frames = [Frame(host_ns=int(t), index=i, image=np.full((48, 64, 3), 40 + (i * 3) % 200, np.uint8))
              for i, t in enumerate(range(S + 7_000_000, start, S // 25))]  # off the 10 Hz grid
    built = _windows_built(engine, frames, gaze, breaks, ahead=False)
    ahead = _windows_built(engine, frames, gaze, breaks, ahead=True)
    assert len(built) == len(ahead) >= 40
    for a, b in zip(ahead, built):
        assert (a.end_ns, a.eye_valid_fraction, a.newest_input_ns, a.eye_artefacts) == \
               (b.end_ns, b.eye_valid_fraction, b.newest_input_ns, b.eye_artefacts)
        np.testing.assert_array_equal(a.eye, b.eye)
        np.testing.assert_array_equal(a.fixation, b.fixation)
