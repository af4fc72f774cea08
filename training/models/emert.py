"""EMERT, the Eye-behaviour-based Multimodal ER Transformer (paper Sec. IV, Fig. 2).

    MFE   H_v = proj(FaceCNN(8 crops)), H_e = LSTM(eye 32x39), H_g = LSTM(fixation 32x2), each (T,D)
    MAFD  C_m = MLP_c(H_m) (shared, modality-invariant), P_m = MLP_m(H_m) (modality-specific);
          a modality discriminator D sees C_m through a gradient reversal layer and P_m directly;
          L_adv (Eq. 1) is its cross-entropy against the modality index, as in the authors' code.
    EMT   X_fu = Trans(q = {C_v, C_e, C_g}, k/v = {P_v, P_e, P_g})  (Eq. 2), mean over tokens
    Heads ER and FER, each a 2-layer MLP: 7- and 3-class logits, valence/arousal (tanh), and for
          FER the expression intensity (3 * sigmoid, in [0, 3]). Losses: losses.py (Eqs. 3, 4).

Config flags give the paper's baselines: `modalities` any subset (Table VI); `tasks` ("er",) or
("fer",) for single-task (Table VII); use_mafd/use_emt (Table VIII):
    neither      the plain Transformer fusion baseline: self-attention over {H_v, H_e, H_g};
    MAFD only    decoupled features {C, P} fused by the same self-attention Transformer;
    EMT only     invariant/specific MLPs without the adversarial discriminator, fused by EMT;
    both         EMERT.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from emer_live.errors import ModelError
from training.models.mini_xception import EMBED_DIM as MINI_XCEPTION_DIM
from training.models.mini_xception import MiniXceptionEncoder, load_mini_xception
from training.models.resnet import ResNet18, load_resnet_weights

MODALITIES = ("face", "eye", "fixation")
FACE_FRAMES, EYE_STEPS = 8, 32

# How L_adv (Eq. 1) reaches the network. Which parameters each variant trains is pinned by
# tests/training/test_model_emert.py::test_adversarial_gradient_reaches.
DECOUPLING = {
    # the paper and its reference code: D sees C_m through the gradient reversal layer and P_m
    # directly; the reversed gradient flows on through MLP_c into the encoders (LSTMs, face
    # projection, position embeddings), the plain one through MLP_m into them.
    "reversal": "full gradient reversal into the encoders",
    # L_adv on the encoder features detached: it trains D, MLP_c (reversed) and the three MLP_m,
    # never the encoders, which learn from the task losses alone.
    "detached": "adversarial gradient stops at the MLPs",
}


@dataclass
class EMERTConfig:
    d_model: int = 128
    face_encoder: str = "resnet18"  # "resnet18" | "mini_xception" | "embedding" (precomputed (B,8,D))
    face_embed_dim: int = 7  # D of precomputed embeddings (7 = mini-Xception logits)
    modalities: tuple = MODALITIES
    use_mafd: bool = True
    use_emt: bool = True
    tasks: tuple = ("er", "fer")
    eye_dim: int = 39
    fix_dim: int = 2
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.1
    resnet_width: int = 64
    face_weights: str | None = None  # a ResNet-18 state dict, or the mini-Xception .hdf5
    freeze_face: bool = False
    lstm_layers: int = 1
    # Adversarial decoupling (MAFD, Eq. 1), see DECOUPLING and docs/training.md:
    decoupling: str = "reversal"
    grl_lambda: float = 1.0  # the reversed gradient's final weight
    grl_warmup: bool = True  # lambda_p = grl_lambda * (2 / (1 + exp(-10 p)) - 1), p = training progress

    def __post_init__(self):
        self.modalities = tuple(self.modalities)
        self.tasks = tuple(self.tasks)
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities:
            raise ModelError(f"modalities must be a non-empty subset of {MODALITIES}, got {self.modalities}")
        if not self.tasks or any(t not in ("er", "fer") for t in self.tasks):
            raise ModelError(f"tasks must be a non-empty subset of ('er', 'fer'), got {self.tasks}")
        if self.face_encoder not in ("resnet18", "mini_xception", "embedding"):
            raise ModelError(f"unknown face_encoder {self.face_encoder!r}")
        if self.decoupling not in DECOUPLING:
            raise ModelError(f"unknown decoupling {self.decoupling!r}; choose from {tuple(DECOUPLING)}")
        if self.d_model % self.n_heads:
            raise ModelError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")

    @property
    def face_dim(self) -> int:
        """Width of one per-frame face embedding (what the split face-encoder graph outputs)."""
        return {"resnet18": 8 * self.resnet_width, "mini_xception": MINI_XCEPTION_DIM}.get(self.face_encoder, self.face_embed_dim)

    def to_dict(self) -> dict:
        return asdict(self)


class GradReverse(torch.autograd.Function):
    """Identity forward, gradient times -lambda backward: MLP_c maximises what D minimises (Eq. 1)."""

    @staticmethod
    def forward(ctx, x, lam: float):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    return GradReverse.apply(x, lam)


def mlp2(din: int, dout: int, dropout: float, hidden: int | None = None) -> nn.Sequential:
    """The paper's "two-level MLP"."""
    hidden = hidden or dout
    return nn.Sequential(nn.Linear(din, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dout))


class Attention(nn.Module):
    """Multi-head scaled dot-product attention (written out: exports to plain ONNX ops)."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.h, self.dk = heads, d // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, q, kv):
        B, Tq, D = q.shape
        Tk = kv.shape[1]
        Q = self.q(q).view(B, Tq, self.h, self.dk).transpose(1, 2)
        K = self.k(kv).view(B, Tk, self.h, self.dk).transpose(1, 2)
        V = self.v(kv).view(B, Tk, self.h, self.dk).transpose(1, 2)
        att = self.drop(torch.softmax(Q @ K.transpose(-1, -2) / self.dk ** 0.5, dim=-1))
        return self.o((att @ V).transpose(1, 2).reshape(B, Tq, D))


class Block(nn.Module):
    """Pre-norm Transformer layer. cross=False: self-attention over x. cross=True: x attends to
    the key/value tokens (the EMT layer of Eq. 2)."""

    def __init__(self, d: int, heads: int, dropout: float, cross: bool):
        super().__init__()
        self.cross = cross
        self.n1, self.att = nn.LayerNorm(d), Attention(d, heads, dropout)
        self.nkv = nn.LayerNorm(d) if cross else None
        self.n2, self.ff = nn.LayerNorm(d), mlp2(d, d, dropout, hidden=2 * d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, kv=None):
        h = self.n1(x)
        x = x + self.drop(self.att(h, self.nkv(kv) if self.cross else h))
        return x + self.drop(self.ff(self.n2(x)))


class Head(nn.Module):
    """ER or FER head: 2-layer MLP -> 7-class and 3-class logits, valence/arousal in [-1, 1],
    and (FER) expression intensity in [0, 3]."""

    def __init__(self, d: int, dropout: float, intensity: bool):
        super().__init__()
        self.intensity = intensity
        self.mlp = mlp2(d, 7 + 3 + 2 + int(intensity), dropout, hidden=d)

    def forward(self, x):
        y = self.mlp(x)
        out = {"logits7": y[:, :7], "logits3": y[:, 7:10], "va": torch.tanh(y[:, 10:12])}
        if self.intensity:
            out["intensity"] = 3.0 * torch.sigmoid(y[:, 12:13])
        return out


def build_face_encoder(cfg: EMERTConfig) -> nn.Module | None:
    if cfg.face_encoder == "embedding":
        return None
    if cfg.face_encoder == "mini_xception":
        return MiniXceptionEncoder(load_mini_xception(cfg.face_weights) if cfg.face_weights else None)
    net = ResNet18(cfg.resnet_width)
    if cfg.face_weights:
        load_resnet_weights(net, cfg.face_weights)
    return net


class EMERT(nn.Module):
    def __init__(self, cfg: EMERTConfig):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.d_model, cfg.dropout
        mods = cfg.modalities
        # --- MFE -----------------------------------------------------------------------------
        self.face_encoder = build_face_encoder(cfg) if "face" in mods else None
        if self.face_encoder is not None and cfg.freeze_face:
            self.face_encoder.requires_grad_(False)
        self.face_proj = nn.Linear(cfg.face_dim, d) if "face" in mods else None
        self.eye_lstm = nn.LSTM(cfg.eye_dim, d, cfg.lstm_layers, batch_first=True) if "eye" in mods else None
        self.fix_lstm = nn.LSTM(cfg.fix_dim, d, cfg.lstm_layers, batch_first=True) if "fixation" in mods else None
        self.feat_drop = nn.Dropout(p)
        # Learned position + modality embedding per token: attention alone sees neither.
        n_tok = {"face": FACE_FRAMES, "eye": EYE_STEPS, "fixation": EYE_STEPS}
        self.pos = nn.ParameterDict({m: nn.Parameter(0.02 * torch.randn(1, n_tok[m], d)) for m in mods})
        # --- MAFD ----------------------------------------------------------------------------
        decouple = cfg.use_mafd or cfg.use_emt
        self.mlp_c = mlp2(d, d, p) if decouple else None
        self.mlp_spec = nn.ModuleDict({m: mlp2(d, d, p) for m in mods}) if decouple else None
        # With one modality there is nothing to tell apart: no discriminator, no L_adv.
        self.discriminator = mlp2(d, len(mods), p, hidden=d // 2) if cfg.use_mafd and len(mods) > 1 else None
        # --- EMT (or the plain self-attention Transformer) -----------------------------------
        self.layers = nn.ModuleList(Block(d, cfg.n_heads, p, cross=cfg.use_emt) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(d)
        # --- heads ---------------------------------------------------------------------------
        self.heads = nn.ModuleDict({t: Head(d, p, intensity=(t == "fer")) for t in cfg.tasks})

    progress: float = 1.0  # training progress p in [0, 1], set by the trainer; 1 outside training

    def set_progress(self, p: float) -> None:
        self.progress = min(max(float(p), 0.0), 1.0)

    def grl_weight(self) -> float:
        """Lambda of the gradient reversal layer now: the standard warm-up from 0 to grl_lambda
        (Ganin & Lempitsky 2015), so an untrained discriminator's noise does not drive the encoders."""
        if not self.cfg.grl_warmup:
            return self.cfg.grl_lambda
        return self.cfg.grl_lambda * (2.0 / (1.0 + math.exp(-10.0 * self.progress)) - 1.0)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.face_encoder is not None and self.cfg.freeze_face:
            self.face_encoder.eval()  # a frozen backbone keeps its BatchNorm statistics
        return self

    def embed_faces(self, crops: torch.Tensor) -> torch.Tensor:
        """(N,3,S,S) normalised crops -> (N,face_dim): the per-frame part the app caches."""
        if self.face_encoder is None:
            raise ModelError("this EMERT has no image face encoder (face_encoder='embedding' or no face modality)")
        return self.face_encoder(crops)

    def extract(self, face, eye, fixation) -> dict[str, torch.Tensor]:
        """MFE: each present modality -> (B,T,D)."""
        h = {}
        if "face" in self.cfg.modalities:
            if face.dim() == 5:  # (B,8,3,S,S) crops
                B, T = face.shape[:2]
                face = self.embed_faces(face.flatten(0, 1)).view(B, T, -1)
            h["face"] = self.face_proj(face)
        if "eye" in self.cfg.modalities:
            h["eye"] = self.eye_lstm(eye)[0]
        if "fixation" in self.cfg.modalities:
            h["fixation"] = self.fix_lstm(fixation)[0]
        return {m: self.feat_drop(v) + self.pos[m] for m, v in h.items()}

    def forward(self, face, eye, fixation) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        h = self.extract(face, eye, fixation)
        mods = cfg.modalities
        out: dict[str, torch.Tensor] = {}
        if self.mlp_c is not None:
            c = {m: self.mlp_c(h[m]) for m in mods}  # C_v, C_e, C_g: one shared MLP_c
            s = {m: self.mlp_spec[m](h[m]) for m in mods}  # P_v, P_e, P_g
            if self.discriminator is not None:
                # Eq. 1: D classifies which modality a (time-averaged) feature came from. Through the
                # GRL, MLP_c (and, with "reversal", the encoders) learn to make C_m indistinguishable;
                # P_m stays modality-specific.
                lam = self.grl_weight()
                if cfg.decoupling == "reversal":
                    ci, si = c, s
                else:  # "detached": D, MLP_c and MLP_m re-applied to the encoder features detached
                    hd = {m: h[m].detach() for m in mods}
                    ci = {m: self.mlp_c(hd[m]) for m in mods}
                    si = {m: self.mlp_spec[m](hd[m]) for m in mods}
                out["mod_logits_inv"] = torch.stack([self.discriminator(grad_reverse(ci[m].mean(1), lam)) for m in mods])
                out["mod_logits_spec"] = torch.stack([self.discriminator(si[m].mean(1)) for m in mods])
            if cfg.use_emt:  # Eq. 2: q = {C}, k/v = {P}
                x, kv = torch.cat([c[m] for m in mods], 1), torch.cat([s[m] for m in mods], 1)
            else:  # MAFD only: the plain Transformer over the decoupled tokens
                x, kv = torch.cat([c[m] for m in mods] + [s[m] for m in mods], 1), None
        else:  # plain Transformer-fusion baseline
            x, kv = torch.cat([h[m] for m in mods], 1), None
        for layer in self.layers:
            x = layer(x, kv)
        x_fu = self.norm(x).mean(1)
        for t, head in self.heads.items():
            out.update({f"{t}_{k}": v for k, v in head(x_fu).items()})  # er_logits7 ... fer_intensity
        return out
