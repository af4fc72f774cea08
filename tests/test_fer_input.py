"""`fer`'s exact network input (emer_live/features/fer_input.py): the face graph really is a gray
sum with weights summing to 1 and a bilinear half-pixel 112 -> 64 resize, and on real frames of
both shared videos the detector-placed crop reaches the network as `fer`'s own 64x64 input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emer_live.features.face import FaceProcessor
from emer_live.features.face_box import fer_crop_box
from emer_live.features.fer_input import ExactLift, crop_image, fer_input64, resize_matrix
from emer_live.pipeline.engine import InferenceEngine, default_model_path

RESIZE_OUT = "/face_encoder/Resize_output_0"


@pytest.fixture(scope="module")
def engine():
    if not default_model_path().exists():
        pytest.skip("default model not exported")
    return InferenceEngine(None, prefer_gpu=False)


@pytest.fixture(scope="module")
def face_graph(engine):
    onnx = pytest.importorskip("onnx")
    return onnx.load(str(engine.card.graph_path("face_encoder")))


@pytest.fixture(scope="module")
def network_input(face_graph):
    """crops (normalised as the engine does) -> the graph's 64x64 resize output, in gray levels."""
    import onnx
    import onnxruntime as ort

    g = onnx.ModelProto()
    g.CopyFrom(face_graph)
    g.graph.output.append(onnx.helper.make_tensor_value_info(RESIZE_OUT, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(g.SerializeToString(), providers=["CPUExecutionProvider"])
    return lambda x: sess.run([RESIZE_OUT], {"face_crop": x})[0][:, 0] * 255.0


def test_the_face_graph_is_a_gray_sum_then_a_bilinear_half_pixel_resize_to_64(face_graph, engine):
    """What the exact lift assumes: channel weights summing to 1 (three equal channels give that
    gray level), summed over the channel axis, then a linear half-pixel resize to 64x64; the card
    normalises crops by x/255 only (mean 0, std 1)."""
    from onnx import numpy_helper

    nodes = face_graph.graph.node
    consts = {o: numpy_helper.to_array(a.t) for n in nodes if n.op_type == "Constant" for a in n.attribute for o in n.output}
    ops = [n for n in nodes if n.op_type not in ("Constant", "Shape", "Slice", "Concat")]
    mul, rsum, resize = ops[:3]
    assert (mul.op_type, rsum.op_type, resize.op_type) == ("Mul", "ReduceSum", "Resize")
    assert mul.input[0] == "face_crop" and rsum.input[0] == mul.output[0] and resize.input[0] == rsum.output[0]
    w = consts[mul.input[1]].astype(np.float64).ravel()
    assert w.shape == (3,) and abs(w.sum() - 1.0) < 1e-6
    assert consts[rsum.input[1]].tolist() == [1]
    attrs = {a.name: a for a in resize.attribute}
    assert attrs["mode"].s == b"linear" and attrs["coordinate_transformation_mode"].s == b"half_pixel"
    assert "antialias" not in attrs or attrs["antialias"].i == 0
    (sizes,) = [n for n in nodes if n.output[0] == resize.input[3]]  # batch and channel kept, then 64 x 64
    assert sizes.op_type == "Concat" and consts[sizes.input[-1]].tolist() == [64, 64]
    assert np.allclose(engine.card.data["face"]["mean"], 0) and np.allclose(engine.card.data["face"]["std"], 1)
    assert engine.card.crop_size == 112


def test_resize_matrix_is_the_graphs_resize(network_input, engine):
    rng = np.random.default_rng(3)
    gray = rng.uniform(-60, 320, (112, 112)).astype(np.float32)  # a lifted crop overshoots 0-255
    crop = np.repeat(gray[:, :, None], 3, 2)
    got = network_input(engine.normalise_crops(crop[None]))[0]
    r = resize_matrix(112, 64)
    assert np.abs(got - r @ gray.astype(np.float64) @ r.T).max() < 1e-3


def test_an_exact_lift_comes_back_through_a_bilinear_resize():
    """The exact lift's crop, resized to 64x64 bilinearly at pixel centres (as cv2.resize and the
    face graph do), gives the 64x64 input back; the uint8 lift only approximately (it clips)."""
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[30:230, 150:350]
    g64 = cv2.resize(face, (64, 64))
    crop = ExactLift(112)(g64)
    assert crop.dtype == np.float32 and crop.shape == (112, 112, 3) and (crop[:, :, 0] == crop[:, :, 2]).all()
    back = cv2.resize(crop[:, :, 0], (64, 64), interpolation=cv2.INTER_LINEAR)
    assert np.abs(back - g64).max() < 0.01
    approx = cv2.resize(ExactLift(112, exact=False)(g64)[:, :, 0].astype(np.float32), (64, 64))
    assert np.abs(approx - g64).mean() < 5
    assert ExactLift(112).p is ExactLift(112).p  # computed once per size
    with pytest.raises(ValueError):
        ExactLift(112)(face)


def test_fer_input64_pads_with_the_bottom_rows_mean_and_takes_bgr_or_gray():
    img = np.zeros((100, 120, 3), np.uint8)
    img[-2:] = 90
    img[20:60, 30:70] = 200
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    assert np.array_equal(fer_input64(img, (50, 40, 40)), fer_input64(gray, (50, 40, 40)))
    assert (fer_input64(img, (50, 40, 40)) == 200).all()
    off = fer_input64(img, (-15, -15, 30))  # wholly in the padding: the bottom rows' mean
    assert (off == 90).all()
    assert fer_input64(img, (1000, 1000, 20)) is None  # nothing of the padded frame left


def test_crop_image_rounds_and_clips_float_crops_and_keeps_uint8_ones():
    u = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert crop_image(u) is u
    f = np.array([[[-3.2, 0.4, 0.6], [254.6, 255.4, 300.0]]], np.float32)
    assert crop_image(f).dtype == np.uint8 and crop_image(f).tolist() == [[[0, 0, 1], [255, 255, 255]]]


def _frames(video, every: int):
    cap = cv2.VideoCapture(str(video))
    i = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if i % every == 0:
            yield i, img
        i += 1
    cap.release()


@pytest.mark.parametrize("name, every", [("WolfgangLanger_Pexels", 8), ("single_face", 3)])
def test_detector_crops_reach_the_network_as_fers_own_input_on_real_frames(shared_data, engine, network_input, name, every):
    """Detector-placed crops through the real face graph: its 64x64 network input equals `fer`'s
    (fer_input64 of the full-frame detector's crop box) within 1e-3 gray levels on every frame."""
    checked = 0
    with FaceProcessor(crop_size=112, recipe=engine.card.crop_recipe, fer_box="detector") as fp:
        for _, img in _frames(shared_data / "video" / f"{name}.mp4", every):
            r = fp.process(img)
            assert r.fer_crop is not None and r.placed_by == "detector"
            assert r.fer_crop.dtype == np.float32 and r.fer_crop.shape == (112, 112, 3)
            want = fer_input64(img, fer_crop_box(fp._placement.detector.full_frame(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))))
            got = network_input(engine.normalise_crops(r.fer_crop[None]))[0]
            assert np.abs(got - want).max() < 1e-3
            checked += 1
    assert checked >= 20
