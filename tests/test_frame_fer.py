"""Per-frame FER: the face network's own expression output on every face frame, a readout that
is consistent, a window FER the gap compares ER with, and a FER the eye input cannot change."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emer_live import cli
from emer_live.labels import CIRCUMPLEX_POSITIONS, EMOTIONS_7, SEVEN_TO_THREE, CLASSES_3
from emer_live.pipeline.engine import InferenceEngine, default_model_path
from emer_live.pipeline.frame_fer import ExpressionReader, FerSmoother, FerTrack, head_of
from emer_live.pipeline.offline import run_offline
from emer_live.sources.factory import make_frame_source, make_gaze_source
from emer_live.sources.simulated_gaze import SimulatedGazeSource
from model_doubles import FakeFaceProcessor, FakeFrameSource, build_model_double

S = 1_000_000_000
FER2013_ORDER = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]


class FerSink:
    def __init__(self):
        self.fer, self.preds = [], []

    def on_frame_fer(self, fer):
        self.fer.append(fer)

    def on_prediction(self, p):
        self.preds.append(p)


# --- readout --------------------------------------------------------------------------------
def test_three_class_is_the_sum_of_its_members_and_valence_follows_the_classes():
    rng = np.random.default_rng(0)
    for p in rng.dirichlet(np.ones(7), 50):
        h = head_of(p)
        for j, c in enumerate(CLASSES_3):
            assert h.probs3[j] == pytest.approx(sum(p[i] for i, e in enumerate(EMOTIONS_7) if SEVEN_TO_THREE[e] == c))
        assert (h.valence, h.arousal) == pytest.approx(tuple(p @ CIRCUMPLEX_POSITIONS))
    one = np.eye(7)
    happy, sad, neutral = (head_of(one[EMOTIONS_7.index(e)]) for e in ("happiness", "sadness", "neutral"))
    assert happy.valence > 0.9 and happy.top3 == "positive"
    assert sad.valence < -0.8 and sad.arousal < 0
    assert (neutral.valence, neutral.arousal) == (0.0, 0.0)
    # "happiness 83%" can no longer sit beside a valence near zero
    p = np.full(7, 0.17 / 6)
    p[EMOTIONS_7.index("happiness")] = 0.83
    assert head_of(p).valence > 0.7


def test_expression_reader_reorders_the_encoder_classes():
    r = ExpressionReader({"output": "face_embedding", "activation": "softmax", "classes": FER2013_ORDER})
    logits = np.array([0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 1.0])  # FER2013 "happy" highest
    p = r.probs(logits)
    assert p.sum() == pytest.approx(1.0) and EMOTIONS_7[int(np.argmax(p))] == "happiness"
    assert p[EMOTIONS_7.index("neutral")] > p[EMOTIONS_7.index("anger")]


def test_smoothing_is_causal_with_its_time_constant_and_restarts():
    a, b = np.eye(7)[0], np.eye(7)[1]
    sm = FerSmoother(0.2)
    assert np.allclose(sm.update(0, a), a)  # the first face frame shows at once
    out = sm.update(int(0.2 * S), b)
    assert out[1] == pytest.approx(1 - np.exp(-1))  # one time constant: 63% of a step
    sm.reset()
    assert np.allclose(sm.update(int(0.3 * S), b), b)  # after a gap nothing from before remains
    raw = FerSmoother(0.0)
    raw.update(0, a)
    assert np.allclose(raw.update(1, b), b)
    with pytest.raises(ValueError):
        FerSmoother(-1)


def test_track_mean_covers_exactly_the_window():
    t = FerTrack(keep_s=10)
    for i in range(10):
        t.add(i * S, np.eye(7)[i % 2])
    mean, n = t.mean(4 * S, 8 * S)  # frames 5..8
    assert n == 4 and np.allclose(mean, (np.eye(7)[0] + np.eye(7)[1]) / 2)
    assert t.mean(20 * S, 30 * S) == (None, 0)


# --- in the pipeline (test double model) -----------------------------------------------------
@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    face = {"crop_size": 112, "color": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3, "embedding_dim": 7,
            "expression": {"output": "face_embedding", "activation": "softmax", "classes": FER2013_ORDER}}
    return InferenceEngine(build_model_double(tmp_path_factory.mktemp("m"), window_s=2.0, card_overrides={"face": face}),
                           prefer_gpu=False)


def _run(engine, gaze, dark=()):
    sink = FerSink()
    # Frames 7 ms off the 100 ms update grid: no frame shares its time with a window's end.
    res = run_offline(FakeFrameSource(n=150, fps=25, dark=dark, t0_ns=7_000_000), gaze, engine, [sink], update_hz=10,
                      face_processor=FakeFaceProcessor(min_brightness=1))
    return res, sink


def test_every_frame_gets_fer_or_says_no_face_never_the_last_value(engine):
    dark = set(range(40, 60)) | {100}
    res, sink = _run(engine, SimulatedGazeSource(rate_hz=120, realtime=False), dark)
    assert [f.frame_index for f in sink.fer] == list(range(150))
    assert sink.fer[0].has_face  # from the first face frame, no window needed
    for f in sink.fer:
        assert f.has_face == (f.frame_index not in dark)
        if not f.has_face:
            assert f.face == "no_face" and f.probs7 is None and f.smoothed7 is None
    for back in (60, 101):  # the first face after a gap: its own value, nothing carried over
        assert np.allclose(sink.fer[back].smoothed7, sink.fer[back].probs7)
    assert res.pipeline.summary()["fer_frames"] == 150 - len(dark)


def test_window_fer_is_the_mean_of_its_face_frames_and_the_gap_uses_it(engine):
    from emer_live.pipeline.gap import gap_metrics

    _, sink = _run(engine, SimulatedGazeSource(rate_hz=120, realtime=False), dark=range(70, 80))
    assert sink.preds
    for p in sink.preds:
        frames = [f for f in sink.fer if f.has_face and p.window_end_ns - 2 * S < f.host_ns <= p.window_end_ns]
        assert p.fer_source == "face_network" and p.fer_frames == len(frames)
        assert np.allclose(p.fer.probs7, np.mean([f.probs7 for f in frames], axis=0))
        assert p.gap.as_dict() == gap_metrics(p.er, p.fer).as_dict()
        assert p.fer_head is not None and "fer_head" in p.as_dict()


def test_model_without_expression_output_falls_back_and_says_so(tmp_path):
    eng = InferenceEngine(build_model_double(tmp_path, window_s=2.0), prefer_gpu=False)
    res, sink = _run(eng, None)
    assert sink.fer == [] and sink.preds and all(p.fer_source == "fer_head" for p in sink.preds)
    assert res.pipeline.summary()["per_frame_fer"].startswith("none:")


# --- the real model on real video ------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_engine():
    path = default_model_path()
    if not path.exists():
        pytest.skip("default model not exported")
    return InferenceEngine(path, prefer_gpu=False)


def test_same_frames_different_gaze_identical_fer(demo_engine, real_video):
    """The eyes cannot move the FER: per-frame FER, the window FER and hence the FER side of the
    gap are identical for the same frames under opposite simulated eye emotions."""
    runs = []
    for emotion in ("happiness", "sadness"):
        sink = FerSink()
        run_offline(make_frame_source(f"video:{real_video}", False), make_gaze_source(f"simulated:{emotion}", False),
                    demo_engine, [sink], duration_s=10.0)
        runs.append(sink)
    a, b = runs
    assert len(a.fer) == len(b.fer) > 200 and len(a.preds) == len(b.preds) > 0
    for x, y in zip(a.fer, b.fer):
        assert x.face == y.face and (x.probs7 is None) == (y.probs7 is None)
        if x.probs7 is not None:
            assert np.array_equal(x.probs7, y.probs7)
    for p, q in zip(a.preds, b.preds):
        assert np.array_equal(p.fer.probs7, q.fer.probs7) and p.fer.valence == q.fer.valence
    assert any(not np.allclose(p.er.probs7, q.er.probs7) for p, q in zip(a.preds, b.preds))  # the eyes reach ER


def test_headless_short_clip_prints_fer_for_every_frame(capsys, demo_engine, shared_data):
    video = shared_data / "video" / "single_face.mp4"
    assert cli.main(["run", "--headless", "--video", str(video), "--gaze", "none"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    fmt = [x for x in lines if x["type"] == "fer_format"]
    fer = [x for x in lines if x["type"] == "fer"]
    assert len(fmt) == 1 and fmt[0]["classes"] == list(EMOTIONS_7) and fmt[0]["scale"] == 1000
    assert [x["frame"] for x in fer] == list(range(72)) and all(x["face"] == "ok" and len(x["p"]) == 7 for x in fer)
    summary = lines[-1]
    assert summary["fer_frames"] == 72 and summary["fer_frames_no_face"] == 0 and summary["predictions"] == 0
    assert summary["per_frame_fer"].startswith("on every face frame")
    # the man smiles (the original network's top class on most frames is "happy")
    tops = [EMOTIONS_7[int(np.argmax(x["p"]))] for x in fer]
    assert tops.count("happiness") > 36
    # every line says how many faces there were and what placed the crop the FER read
    assert all(x["n_faces"] == 1 and x["fer_crop"] == "detector" for x in fer)
    assert max(len(json.dumps(x, separators=(",", ":"))) for x in fer) < 115  # ~12 MB for a 30 fps hour


def test_recorded_session_holds_per_frame_fer(tmp_path, capsys, demo_engine, shared_data):
    from emer_live.recording.session_reader import SessionReader

    video = shared_data / "video" / "single_face.mp4"
    assert cli.main(["run", "--headless", "--video", str(video), "--gaze", "none", "--record", str(tmp_path),
                     "--participant", "p01", "--consent"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    printed = {x["frame"]: x["p"] for x in lines if x["type"] == "fer"}
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    with SessionReader(folder) as r:
        ff = r.frame_fer()
        meta = json.loads((folder / "session.json").read_text())
    assert list(ff["frame_index"]) == list(range(72)) and not np.isnan(ff["probs7"]).any()
    for i, p in zip(ff["frame_index"], ff["probs7"]):
        assert np.allclose(np.rint(p * 1000), printed[int(i)], atol=1)
    assert meta["face_crops"]["recipe"]["illumination"] == "none" and meta["frame_fer"]["file"] == "frame_fer.csv"


def test_replay_gives_the_recorded_per_frame_fer_and_predictions_back(tmp_path, capsys, demo_engine, real_video):
    assert cli.main(["run", "--headless", "--video", str(real_video), "--gaze", "simulated:neutral", "--duration", "9",
                     "--record", str(tmp_path), "--participant", "p02", "--consent"]) == 0
    live = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert cli.main(["replay", str(folder), "--fast", "--headless"]) == 0
    rep = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    summary = rep[-1]["summary"]
    assert summary["vs_recorded"]["matched_windows"] == sum(x["type"] == "prediction" for x in live) > 0
    assert summary["vs_recorded"]["max_abs_diff"] < 1e-4
    live_fer = {x["frame"]: x.get("p") for x in live if x["type"] == "fer"}
    rep_fer = {x["frame"]: x.get("p") for x in rep if x.get("type") == "fer"}
    assert rep_fer.keys() == live_fer.keys() and len(rep_fer) > 200
    for k, p in live_fer.items():  # recorded to 5 decimals, printed per mille: equal within rounding
        assert (p is None) == (rep_fer[k] is None) and (p is None or np.abs(np.subtract(p, rep_fer[k])).max() <= 1)


class _NewFaceAt(FakeFaceProcessor):
    """The fake face step, saying that another face is read from the given frames on (a new person
    stepped in with no empty frame between: FaceResult.new_face)."""

    def __init__(self, new_at, **kw):
        super().__init__(**kw)
        self.new_at = set(new_at)

    def process(self, image_bgr):
        res = super().process(image_bgr)
        res.new_face = self.calls - 1 in self.new_at
        return res


def test_smoothing_restarts_where_another_face_is_read(engine):
    sink = FerSink()
    run_offline(FakeFrameSource(n=60, fps=25, t0_ns=7_000_000), None, engine, [sink], update_hz=10,
                face_processor=_NewFaceAt({0, 30}, min_brightness=1))
    assert all(f.has_face for f in sink.fer)
    for f in sink.fer:  # the new face's own reading at once, nothing of the previous face's kept
        assert np.allclose(f.smoothed7, f.probs7) == (f.frame_index in (0, 30)), f.frame_index
