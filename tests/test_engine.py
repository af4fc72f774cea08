"""InferenceEngine on ONNX test doubles (tests/model_doubles.py) and, when exported, the real default model."""

import json

import numpy as np
import pytest

from emer_live.errors import ModelError
from emer_live.pipeline import engine as engine_mod
from emer_live.pipeline.engine import InferenceEngine, default_model_path
from model_doubles import build_model_double

RNG = np.random.default_rng(0)


def crops(n=8):
    return RNG.integers(0, 256, (n, 112, 112, 3), dtype=np.uint8)


def eye_fix():
    return RNG.normal(0, 50, (32, 39)).astype(np.float32), RNG.uniform(0, 1, (32, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return build_model_double(tmp_path_factory.mktemp("model"))


def check_head(h, fer=False):
    assert h.probs7.shape == (7,) and h.probs3.shape == (3,)
    assert h.probs7.sum() == pytest.approx(1.0, abs=1e-5) and h.probs3.sum() == pytest.approx(1.0, abs=1e-5)
    assert -1 <= h.valence <= 1 and -1 <= h.arousal <= 1
    if fer:
        assert 0 <= h.intensity <= 3


def test_split_engine_runs_and_reports_provider(card):
    e = InferenceEngine(card, prefer_gpu=False)
    assert e.split and e.provider == "CPUExecutionProvider"
    emb = e.embed_faces(crops())
    assert emb.shape == (8, 7) and emb.dtype == np.float32
    eye, fix = eye_fix()
    er, fer, ms = e.predict(emb, eye, fix)
    check_head(er)
    check_head(fer, fer=True)
    assert ms >= 0
    # crops straight into predict() give the same answer as cached embeddings
    c = crops()
    er1, _, _ = e.predict(e.embed_faces(c), eye, fix)
    er2, _, _ = e.predict(c, eye, fix)
    np.testing.assert_allclose(er1.probs7, er2.probs7, atol=1e-6)


def test_provider_is_what_the_session_really_uses(card):
    e = InferenceEngine(card, prefer_gpu=True)
    import onnxruntime as ort

    assert e.provider in ort.get_available_providers()
    if e.provider != "CUDAExecutionProvider" and "CUDAExecutionProvider" in ort.get_available_providers():
        assert "CUDA" in e.provider_note


def test_full_graph_matches_split_graphs(tmp_path):
    split = InferenceEngine(build_model_double(tmp_path / "s", full=False), prefer_gpu=False)
    full = InferenceEngine(build_model_double(tmp_path / "f", split=False), prefer_gpu=False)
    assert split.split and not full.split
    c = crops()
    eye, fix = eye_fix()
    er_s, fer_s, _ = split.predict(c, eye, fix)
    er_f, fer_f, _ = full.predict(c, eye, fix)
    np.testing.assert_allclose(er_s.probs7, er_f.probs7, atol=1e-5)
    np.testing.assert_allclose(fer_s.intensity, fer_f.intensity, atol=1e-5)
    with pytest.raises(ModelError):
        full.embed_faces(c)


def test_float_crops_are_crops_to_both_graph_kinds(tmp_path):
    """A float crop (gray levels, as the detector setting's exact FER input) is read as a crop, not
    as embeddings, by split and single graphs alike, and gives what the same uint8 crop gives."""
    c = crops()
    eye, fix = eye_fix()
    for kw in ({"full": False}, {"split": False}):
        e = InferenceEngine(build_model_double(tmp_path / str(kw), **kw), prefer_gpu=False)
        er_u, fer_u, _ = e.predict(c, eye, fix)
        er_f, fer_f, _ = e.predict(c.astype(np.float32), eye, fix)
        np.testing.assert_allclose(er_f.probs7, er_u.probs7, atol=1e-6)
        assert fer_f.arousal == pytest.approx(fer_u.arousal, abs=1e-6)


def test_batch_equals_single_windows(card):
    e = InferenceEngine(card, prefer_gpu=False)
    faces = np.stack([e.embed_faces(crops()) for _ in range(5)])
    eyes, fixes = zip(*[eye_fix() for _ in range(5)])
    heads, _ = e.predict_batch(faces, np.stack(eyes), np.stack(fixes))
    for b in range(5):
        er, fer, _ = e.predict(faces[b], eyes[b], fixes[b])
        np.testing.assert_allclose(heads[b][0].probs7, er.probs7, atol=1e-6)
        assert heads[b][1].arousal == pytest.approx(fer.arousal, abs=1e-6)
    # the inputs change the outputs (the double is wired to every input)
    assert not np.allclose(heads[0][0].probs7, heads[1][0].probs7)


def test_normalisation(card):
    e = InferenceEngine(card, prefer_gpu=False)
    d = e.card.data
    eye = np.full((32, 39), 250.0, np.float32)
    eye[3, 4] = np.nan
    z = e.normalise_eye(eye)
    std = np.asarray(d["eye"]["std"])
    np.testing.assert_allclose(z[0, std > 0], (250.0 - np.asarray(d["eye"]["mean"])[std > 0]) / std[std > 0], rtol=1e-6)
    assert np.all(z[:, std == 0] == 0) and np.isfinite(z).all()
    x = e.normalise_crops(np.full((1, 112, 112, 3), 255, np.uint8))
    assert x.shape == (1, 3, 112, 112)
    np.testing.assert_allclose(x, (1.0 - 0.5) / 0.5)


def test_crop_lookup_table_gives_the_arithmetic_normalisation(card, shared_data):
    """normalise_crops reads each pixel's value from a per-channel table; it must equal the
    arithmetic on the whole crop bit for bit: every 8-bit level, and real face crops (both shared
    videos, the default model's recipe and statistics)."""
    import cv2

    from emer_live.features.face import FaceProcessor

    levels = np.zeros((1, 112, 112, 3), np.uint8)
    levels.reshape(-1, 3)[:256 * 3] = np.arange(256, dtype=np.uint8).repeat(3)[:, None]
    for path in (card, default_model_path()):
        if not path.exists():
            continue
        e = InferenceEngine(path, prefer_gpu=False)
        got = e.normalise_crops(levels)
        assert got.dtype == np.float32 and np.array_equal(got, e.normalise_crops_arith(levels))
    e = InferenceEngine(default_model_path(), prefer_gpu=False) if default_model_path().exists() else e
    real = []
    with FaceProcessor(crop_size=e.card.crop_size, recipe=e.card.crop_recipe) as fp:
        for video in ("single_face.mp4", "WolfgangLanger_Pexels.mp4"):
            cap = cv2.VideoCapture(str(shared_data / "video" / video))
            for _ in range(40):
                ok, img = cap.read()
                if not ok:
                    break
                crop = fp.process(img).crop
                if crop is not None:
                    real.append(crop)
            cap.release()
    assert len(real) >= 60
    real = np.stack(real)
    assert np.array_equal(e.normalise_crops(real), e.normalise_crops_arith(real))
    assert np.array_equal(e.normalise_crops(real.astype(np.float32)), e.normalise_crops_arith(real))


def test_missing_model_names_the_file(tmp_path):
    with pytest.raises(ModelError, match="nothing.card.json"):
        InferenceEngine(tmp_path / "nothing.card.json")


def test_default_model_path_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("EMER_LIVE_MODEL", str(tmp_path / "x.card.json"))
    assert default_model_path() == tmp_path / "x.card.json"
    monkeypatch.delenv("EMER_LIVE_MODEL")
    assert default_model_path().name == "emert-demo.card.json"
    monkeypatch.setattr(engine_mod, "default_model_path", lambda: tmp_path / "absent.card.json")
    with pytest.raises(ModelError, match="--model"):
        InferenceEngine(None)


def test_truncated_graph_is_refused_with_its_name(tmp_path):
    card = build_model_double(tmp_path)
    fusion = tmp_path / "double.fusion.onnx"
    fusion.write_bytes(fusion.read_bytes()[: fusion.stat().st_size // 2])
    with pytest.raises(ModelError, match="double.fusion.onnx") as e:
        InferenceEngine(card, prefer_gpu=False)
    assert "truncated" in str(e.value)


def test_empty_graph_file_is_refused(tmp_path):
    card = build_model_double(tmp_path)
    (tmp_path / "double.face.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        InferenceEngine(card, prefer_gpu=False)


def test_graph_that_disagrees_with_its_card(tmp_path):
    card = build_model_double(tmp_path, embedding_dim=5)
    data = json.loads(card.read_text())
    data["face"]["embedding_dim"] = 16
    card.write_text(json.dumps(data))
    with pytest.raises(ModelError) as e:
        InferenceEngine(card, prefer_gpu=False)
    msg = str(e.value)
    assert "face_embedding" in msg and "16" in msg and "double.face.onnx" in msg


def test_card_with_wrong_window_frames_is_refused(tmp_path):
    card = build_model_double(tmp_path)
    data = json.loads(card.read_text())
    data["face_frames"] = 16
    card.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="face_frames"):
        InferenceEngine(card)


@pytest.fixture(scope="module")
def real_model():
    path = default_model_path()
    if not path.exists():
        pytest.skip(f"default model not exported yet ({path.name})")
    return InferenceEngine(path)


def test_default_model_loads_and_predicts(real_model):
    e = real_model
    assert e.card.window_s > 0 and e.provider
    c = crops()
    eye, fix = eye_fix()
    er, fer, _ = e.predict(c, eye, fix)
    check_head(er)
    check_head(fer, fer=True)


@pytest.mark.parametrize("fixed", [1, 4])
def test_fixed_batch_graphs_run_in_chunks(tmp_path, card, fixed):
    dyn = InferenceEngine(card, prefer_gpu=False)
    fix_b = InferenceEngine(build_model_double(tmp_path, batch=fixed), prefer_gpu=False)
    c = np.stack([crops() for _ in range(5)])  # 5 windows: 5 chunks of 1, or 4 + 1 padded
    eyes, fixes = zip(*[eye_fix() for _ in range(5)])
    a, _ = dyn.predict_batch(c, np.stack(eyes), np.stack(fixes))
    b, _ = fix_b.predict_batch(c, np.stack(eyes), np.stack(fixes))
    assert len(b) == 5
    for (er_a, fer_a), (er_b, fer_b) in zip(a, b):
        np.testing.assert_allclose(er_a.probs7, er_b.probs7, atol=1e-6)
        np.testing.assert_allclose(fer_a.intensity, fer_b.intensity, atol=1e-6)


def test_default_model_is_found_in_an_installed_package(tmp_path, monkeypatch):
    """A source checkout uses models/ at its root; an installed package (no checkout around it)
    the copy the wheel carries as emer_live/_models (setup.py)."""
    from emer_live.pipeline import engine as engine_module

    monkeypatch.delenv("EMER_LIVE_MODEL", raising=False)
    site = tmp_path / "site-packages"
    (site / "emer_live" / "_models").mkdir(parents=True)
    (site / "emer_live" / "_models" / engine_module.DEFAULT_MODEL).write_text("{}")
    monkeypatch.setattr(engine_module, "__file__", str(site / "emer_live" / "pipeline" / "engine.py"))
    assert engine_module.default_model_path() == site / "emer_live" / "_models" / engine_module.DEFAULT_MODEL
    (site / "models").mkdir()  # the same layout inside a checkout: its models/ comes first
    (site / "models" / engine_module.DEFAULT_MODEL).write_text("{}")
    assert engine_module.default_model_path() == site / "models" / engine_module.DEFAULT_MODEL
