"""Test doubles of the exported EMERT model: tiny ONNX graphs with the card's exact inputs and
outputs (full and split), built with onnx.helper, plus their cards. Outputs depend on every
input (means -> MatMul -> Softmax/Tanh/Sigmoid), so wiring mistakes show up in the numbers.
They are not EMERT and predict nothing meaningful."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from emer_live.labels import CLASSES_3, EMOTIONS_7
from emer_live.model_card import OUTPUTS, write_card

OPSET = 13
_OUT_DIMS = {"er_p7": 7, "er_p3": 3, "er_va": 2, "fer_p7": 7, "fer_p3": 3, "fer_va": 2, "fer_intensity": 1}


def _init(name: str, arr: np.ndarray):
    return numpy_helper.from_array(np.asarray(arr, np.float32), name)


def _heads(feat: str, width: int, rng: np.random.Generator, nodes: list, inits: list, B="B") -> list:
    """Output heads over a (B, width) feature: softmax for probabilities, tanh for valence/arousal,
    3 * sigmoid for intensity."""
    outs = []
    for name in OUTPUTS:
        k = _OUT_DIMS[name]
        inits.append(_init(f"W_{name}", rng.normal(0, 0.5, (width, k))))
        nodes.append(helper.make_node("MatMul", [feat, f"W_{name}"], [f"z_{name}"]))
        if name.endswith(("p7", "p3")):
            nodes.append(helper.make_node("Softmax", [f"z_{name}"], [name], axis=-1))
        elif name.endswith("va"):
            nodes.append(helper.make_node("Tanh", [f"z_{name}"], [name]))
        else:
            inits.append(_init("three", np.array(3.0)))
            nodes.append(helper.make_node("Sigmoid", [f"z_{name}"], [f"s_{name}"]))
            nodes.append(helper.make_node("Mul", [f"s_{name}", "three"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [B, k]))
    return outs


def _save(nodes, inputs, outputs, inits, path: Path) -> None:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by every ONNX Runtime the app supports
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _fusion_body(emb: str, D: int, rng, nodes, inits, B="B"):
    """(B, 8, D) embeddings + eye + fixation -> the seven outputs."""
    nodes += [
        helper.make_node("ReduceMean", [emb], ["f_mean"], axes=[1], keepdims=0),
        helper.make_node("ReduceMean", ["eye"], ["e_mean"], axes=[1], keepdims=0),
        helper.make_node("ReduceMean", ["fixation"], ["x_mean"], axes=[1], keepdims=0),
        helper.make_node("Concat", ["f_mean", "e_mean", "x_mean"], ["feat"], axis=1),
    ]
    return _heads("feat", D + 39 + 2, rng, nodes, inits, B)


def build_model_double(out_dir: str | Path, name: str = "double", *, window_s: float = 2.0, split: bool = True,
                       full: bool = True, embedding_dim: int = 7, crop_size: int = 112, seed: int = 0,
                       eye_encoding: str = "segment", card_overrides: dict | None = None, batch: int | str = "B") -> Path:
    """Write NAME.onnx (full) and/or NAME.face.onnx + NAME.fusion.onnx and NAME.card.json; return the card path.
    batch: "B" for a dynamic batch dimension, or a fixed size (as some exporters leave it)."""
    B = batch
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    S, D = crop_size, embedding_dim
    W_face = rng.normal(0, 1.0, (3, D))
    f32 = TensorProto.FLOAT
    eye_in = helper.make_tensor_value_info("eye", f32, [B, 32, 39])
    fix_in = helper.make_tensor_value_info("fixation", f32, [B, 32, 2])
    graphs = {}
    if split:
        nodes = [helper.make_node("ReduceMean", ["face_crop"], ["pix"], axes=[2, 3], keepdims=0),
                 helper.make_node("MatMul", ["pix", "W_face"], ["lin"]),
                 helper.make_node("Tanh", ["lin"], ["face_embedding"])]
        _save(nodes, [helper.make_tensor_value_info("face_crop", f32, [B, 3, S, S])],
              [helper.make_tensor_value_info("face_embedding", f32, [B, D])], [_init("W_face", W_face)],
              out_dir / f"{name}.face.onnx")
        nodes, inits = [], []
        outs = _fusion_body("face_embeddings", D, np.random.default_rng(seed + 1), nodes, inits, B)
        _save(nodes, [helper.make_tensor_value_info("face_embeddings", f32, [B, 8, D]), eye_in, fix_in], outs, inits,
              out_dir / f"{name}.fusion.onnx")
        graphs.update(face_encoder=f"{name}.face.onnx", fusion=f"{name}.fusion.onnx")
    if full:
        # Same numbers as the split pair: per-frame encoder inside, then the same fusion weights.
        nodes = [helper.make_node("ReduceMean", ["face"], ["pix"], axes=[3, 4], keepdims=0),
                 helper.make_node("MatMul", ["pix", "W_face"], ["lin"]),
                 helper.make_node("Tanh", ["lin"], ["emb"])]
        inits = [_init("W_face", W_face)]
        outs = _fusion_body("emb", D, np.random.default_rng(seed + 1), nodes, inits, B)
        _save(nodes, [helper.make_tensor_value_info("face", f32, [B, 8, 3, S, S]), eye_in, fix_in], outs, inits,
              out_dir / f"{name}.onnx")
        graphs["full"] = f"{name}.onnx"
    eye_std = np.full(39, 100.0)  # mm-scale columns dominate eye-v1; keeps the double's outputs unsaturated
    eye_std[-3:] = 0.0  # one-hot event columns: exercise the zero-std rule
    card = {
        "name": name,
        "window_s": window_s,
        "graphs": graphs,
        "face": {"crop_size": S, "color": "RGB", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "embedding_dim": D},
        "eye": {"schema": "eye-v1", "encoding": eye_encoding, "steps": 32, "mean": [0.0] * 39, "std": eye_std.tolist()},
        "fixation": {"steps": 32},
        "face_frames": 8,
        "labels": {"emotions7": list(EMOTIONS_7), "classes3": list(CLASSES_3)},
        "provenance": {"kind": "test-double", "summary": "test double built by the tests; random weights, not EMERT"},
        "outputs": list(OUTPUTS),
        **(card_overrides or {}),
    }
    return write_card(out_dir / f"{name}.card.json", card)


class FakeFaceResult:
    """Same fields as features.face.FaceResult."""

    def __init__(self, status, crop=None, box=None):
        self.status, self.crop, self.box = status, crop, box
        self.n_faces = int(status == "ok")
        self.landmarks = None
        self.message = "test double"


class FakeFaceProcessor:
    """Test double of features.face.FaceProcessor: 'finds' a face in every frame whose mean
    brightness is above a threshold and returns a crop made from the frame's pixels, so the
    pipeline's plumbing is tested without MediaPipe."""

    def __init__(self, crop_size: int = 112, min_brightness: float = 0.0):
        self.crop_size = crop_size
        self.min_brightness = min_brightness
        self.calls = 0

    def process(self, image_bgr: np.ndarray) -> FakeFaceResult:
        self.calls += 1
        if image_bgr.mean() < self.min_brightness:
            return FakeFaceResult("no_face")
        import cv2

        crop = cv2.resize(image_bgr, (self.crop_size, self.crop_size))[:, :, ::-1].copy()
        return FakeFaceResult("ok", crop, (0, 0, image_bgr.shape[1], image_bgr.shape[0]))

    def close(self) -> None:
        pass


class FakeFrameSource:
    """Test double of a frame source: n small synthetic frames at fps (brightness ramps, so the
    fake face processor's crops and the model's outputs change over time). realtime=True paces
    them on the host clock; fail_after raises SourceError mid-stream, as a camera unplugged."""

    kind = "fake"
    simulated = False

    def __init__(self, n: int = 100, fps: float = 25.0, realtime: bool = False, t0_ns: int = 0,
                 dark: tuple = (), fail_after: int | None = None, times_ns: list | None = None):
        from emer_live.sources.base import SourceStats

        self.n, self.fps, self.realtime, self.t0_ns = n, fps, realtime, t0_ns
        self.dark, self.fail_after, self.times_ns = set(dark), fail_after, times_ns
        self.stats = SourceStats()
        self.label = "fake frames (test double)"
        self._closed = False

    def info(self) -> dict:
        return {"kind": self.kind, "label": self.label, "simulated": False, "realtime": self.realtime}

    def open(self):
        self._closed = False

    def close(self):
        self._closed = True

    def frames(self):
        import time

        from emer_live.clock import now_ns
        from emer_live.errors import SourceError
        from emer_live.types import Frame, SourceEvent

        base = now_ns() if self.realtime else self.t0_ns
        for i in range(self.n):
            if self._closed:
                return
            if self.fail_after is not None and i == self.fail_after:
                raise SourceError("fake camera unplugged")
            t = self.times_ns[i] if self.times_ns else base + int(i * 1e9 / self.fps)
            if self.realtime:
                time.sleep(max(0.0, (t - now_ns()) / 1e9))
                t = now_ns()
            img = np.full((48, 64, 3), 0 if i in self.dark else 40 + (i * 3) % 200, np.uint8)
            self.stats.delivered += 1
            yield Frame(host_ns=t, index=i, image=img, media_ms=(t - base) / 1e6)
        yield SourceEvent(base + int(self.n * 1e9 / self.fps), self.kind, "end_of_stream", "fake frames ended")


class SlowEngine:
    """Test double wrapping a real InferenceEngine whose model run takes `delay_s` longer, as a
    frozen or overloaded model would."""

    def __init__(self, engine, delay_s: float):
        self._engine, self.delay_s = engine, delay_s

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def predict_batch(self, *a):
        import time

        time.sleep(self.delay_s)
        return self._engine.predict_batch(*a)
