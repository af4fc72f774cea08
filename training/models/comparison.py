"""The paper's comparison methods (Tables II-IV), adapted to EMER's three inputs and EMERT's heads.

Every method here takes what EMERT takes (8 face crops or embeddings, a 32x39 eye-movement window,
a 32x2 fixation stream), uses the same face encoder (ResNet-18, mini-Xception or precomputed
embeddings) and the same ER and FER heads (7/3-class logits, valence/arousal, FER intensity), and
is trained with the same loss, folds and protocols, so their rows compare like with like. What
differs is how the modalities are encoded and fused:

    LMF                 Liu et al. 2018, low-rank multimodal fusion. Per modality a vector: face
                        frames projected and averaged, eye and fixation an LSTM's last state; each
                        with a 1 appended goes through `rank` modality-specific factors to D; the
                        factors multiply elementwise across modalities and are summed over rank.
    MulT                Tsai et al. 2019, multimodal Transformer. Per modality a temporal 1-D
                        convolution to D and positions; for each target modality two crossmodal
                        Transformers (queries from the target, keys/values from each other
                        modality), their outputs concatenated and passed through a self-attention
                        Transformer; the last step of each target's stream, concatenated, feeds
                        the heads.
    ResNet_LSTM         the face CNN per frame, an LSTM over the 8 frames; an LSTM over the eye
                        window and one over the fixation stream; last states concatenated (late
                        fusion). (The paper's name for the face-CNN + LSTM pipeline.)
    ResNet_Transformer  the same encoders' tokens, but a self-attention Transformer per modality
                        (over its own time steps only), mean-pooled and concatenated.
    MMIM                Han et al. 2021, bi-level mutual-information maximisation. The text
                        modality of the original is the anchor of its input-level MI bounds; here
                        the face is the anchor, so the two pairs are face-eye and face-fixation:
                        a Gaussian predictor of one modality's vector from the other gives a
                        likelihood lower bound on their MI (MMIB), and a contrastive (InfoNCE,
                        CPC) bound ties the fused vector back to every modality. The negative
                        bounds, weighted, are returned as `aux_loss` and added to the task loss.

C3D_LSTM and C3D_Transformer need a 3-D video backbone pre-trained on large video corpora; TMC and
TAILOR are built around text or several uncertainty-calibrated views: not implemented here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn
from torch.nn import functional as F

from emer_live.errors import ModelError
from training.models.emert import EYE_STEPS, FACE_FRAMES, MODALITIES, Block, EMERTConfig, Head, build_face_encoder
from training.models.mini_xception import EMBED_DIM as MINI_XCEPTION_DIM

METHODS = ("LMF", "MulT", "ResNet_LSTM", "ResNet_Transformer", "MMIM")


@dataclass
class ComparisonConfig:
    """A comparison method on EMERT's shared settings: `base` (an EMERTConfig) gives the width, face
    encoder, heads and tasks, read through this config (cfg.d_model is cfg.base.d_model); EMERT's
    own modules (MAFD, EMT) in it are unused. Only the method and its own knobs live here."""

    method: str = "LMF"
    base: EMERTConfig = field(default_factory=EMERTConfig)
    lmf_rank: int = 4
    mmim_weight: float = 0.1  # weight of MMIM's MI terms against the task loss

    def __post_init__(self):
        if isinstance(self.base, dict):  # read back from to_dict()
            self.base = EMERTConfig(**self.base)
        if self.method not in METHODS:
            raise ModelError(f"unknown comparison method {self.method!r}; choose from {', '.join(METHODS)}")
        if tuple(self.base.modalities) != MODALITIES:
            raise ModelError(f"every comparison method fuses all of {MODALITIES}, not {self.base.modalities}")

    def __getattr__(self, name):  # only called for names not on this class: the shared settings
        if name == "base":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.base, name)

    @classmethod
    def shared(cls, method: str = "LMF", **settings) -> "ComparisonConfig":
        """Method knobs (lmf_rank, mmim_weight) and EMERTConfig settings given together."""
        own = {k: settings.pop(k) for k in ("lmf_rank", "mmim_weight") if k in settings}
        return cls(method=method, base=EMERTConfig(**settings), **own)

    def replace_shared(self, **settings) -> "ComparisonConfig":
        """This method on a copy of the shared settings with some of them changed."""
        return replace(self, base=replace(self.base, **settings))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ComparisonConfig":
        """Read to_dict()'s form, or the flat form of training folders written before `base`."""
        return cls(**d) if "base" in d else cls.shared(**d)

    @classmethod
    def from_base(cls, method: str, base: EMERTConfig) -> "ComparisonConfig":
        """The comparison method with the shared settings (width, face encoder, ...) of an EMERTConfig."""
        return cls(method=method, base=replace(base, modalities=MODALITIES))


class ComparisonModel(nn.Module):
    """Shared parts: face encoder, ER/FER heads, the forward contract of EMERT."""

    architecture_name = "comparison"

    def __init__(self, cfg: ComparisonConfig):
        super().__init__()
        self.cfg = cfg
        self.face_encoder = build_face_encoder(cfg)
        if self.face_encoder is not None and cfg.freeze_face:
            self.face_encoder.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.face_encoder is not None and self.cfg.freeze_face:
            self.face_encoder.eval()
        return self

    def embed_faces(self, crops: torch.Tensor) -> torch.Tensor:
        if self.face_encoder is None:
            raise ModelError(f"this {self.cfg.method} has no image face encoder (face_encoder='embedding')")
        return self.face_encoder(crops)

    def face_frames(self, face: torch.Tensor) -> torch.Tensor:
        """(B,8,3,S,S) crops or (B,8,D) embeddings -> (B,8,face_dim)."""
        if face.dim() == 5:
            B, T = face.shape[:2]
            return self.embed_faces(face.flatten(0, 1)).view(B, T, -1)
        return face

    def _make_heads(self, d_in: int) -> None:
        self.heads = nn.ModuleDict({t: Head(d_in, self.cfg.dropout, intensity=(t == "fer")) for t in self.cfg.tasks})

    def _heads(self, x: torch.Tensor, out: dict | None = None) -> dict:
        out = out if out is not None else {}
        for t, head in self.heads.items():
            out.update({f"{t}_{k}": v for k, v in head(x).items()})
        return out


def _last(lstm: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    return lstm(x)[0][:, -1]


class LMF(ComparisonModel):
    architecture_name = "LMF"

    def __init__(self, cfg: ComparisonConfig):
        super().__init__(cfg)
        d, r = cfg.d_model, cfg.lmf_rank
        self.face_net = nn.Sequential(nn.Linear(cfg.face_dim, d), nn.ReLU(), nn.Dropout(cfg.dropout))
        self.eye_lstm = nn.LSTM(cfg.eye_dim, d, batch_first=True)
        self.fix_lstm = nn.LSTM(cfg.fix_dim, d, batch_first=True)
        # one factor per modality and rank: (d+1) -> d; fusion weights over rank
        self.factors = nn.ParameterList(nn.Parameter(torch.empty(r, d + 1, d)) for _ in MODALITIES)
        for f in self.factors:
            nn.init.xavier_normal_(f)
        self.rank_weight = nn.Parameter(torch.empty(1, r))
        nn.init.xavier_normal_(self.rank_weight)
        self.bias = nn.Parameter(torch.zeros(1, d))
        self.drop = nn.Dropout(cfg.dropout)
        self._make_heads(d)

    def forward(self, face, eye, fixation):
        hs = [self.face_net(self.face_frames(face)).mean(1), _last(self.eye_lstm, eye), _last(self.fix_lstm, fixation)]
        fused = None
        for h, w in zip(hs, self.factors):
            h1 = torch.cat([h, torch.ones_like(h[:, :1])], 1)
            z = torch.einsum("bi,rio->rbo", h1, w)  # (rank, B, d)
            fused = z if fused is None else fused * z
        x = torch.einsum("r,rbo->bo", self.rank_weight[0], fused) + self.bias
        return self._heads(self.drop(x))


class _TemporalStreams(ComparisonModel):
    """Each modality as a (B,T,D) token stream with learned positions."""

    def __init__(self, cfg: ComparisonConfig, conv: bool):
        super().__init__(cfg)
        d = cfg.d_model
        if conv:  # MulT: temporal 1-D convolutions as the input projections
            self.proj = nn.ModuleDict({"face": nn.Conv1d(cfg.face_dim, d, 3, padding=1),
                                       "eye": nn.Conv1d(cfg.eye_dim, d, 3, padding=1),
                                       "fixation": nn.Conv1d(cfg.fix_dim, d, 3, padding=1)})
        else:
            self.proj = nn.ModuleDict({"face": nn.Linear(cfg.face_dim, d), "eye": nn.LSTM(cfg.eye_dim, d, batch_first=True),
                                       "fixation": nn.LSTM(cfg.fix_dim, d, batch_first=True)})
        self.conv = conv
        n_tok = {"face": FACE_FRAMES, "eye": EYE_STEPS, "fixation": EYE_STEPS}
        self.pos = nn.ParameterDict({m: nn.Parameter(0.02 * torch.randn(1, n_tok[m], d)) for m in MODALITIES})
        self.drop = nn.Dropout(cfg.dropout)

    def streams(self, face, eye, fixation) -> dict:
        x = {"face": self.face_frames(face), "eye": eye, "fixation": fixation}
        out = {}
        for m in MODALITIES:
            p = self.proj[m]
            if self.conv:
                h = p(x[m].transpose(1, 2)).transpose(1, 2)
            elif isinstance(p, nn.LSTM):
                h = p(x[m])[0]
            else:
                h = p(x[m])
            out[m] = self.drop(h) + self.pos[m]
        return out


class MulT(_TemporalStreams):
    architecture_name = "MulT"

    def __init__(self, cfg: ComparisonConfig):
        super().__init__(cfg, conv=True)
        d, L, H, p = cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.dropout
        self.cross = nn.ModuleDict({f"{s}_to_{t}": nn.ModuleList(Block(d, H, p, cross=True) for _ in range(L))
                                    for t in MODALITIES for s in MODALITIES if s != t})
        self.proj2 = nn.ModuleDict({t: nn.Linear(2 * d, d) for t in MODALITIES})
        self.self_att = nn.ModuleDict({t: nn.ModuleList(Block(d, H, p, cross=False) for _ in range(L)) for t in MODALITIES})
        self.norm = nn.LayerNorm(3 * d)
        self._make_heads(3 * d)

    def forward(self, face, eye, fixation):
        h = self.streams(face, eye, fixation)
        last = []
        for t in MODALITIES:
            parts = []
            for s in MODALITIES:
                if s == t:
                    continue
                x = h[t]
                for blk in self.cross[f"{s}_to_{t}"]:
                    x = blk(x, h[s])
                parts.append(x)
            x = self.proj2[t](torch.cat(parts, -1))
            for blk in self.self_att[t]:
                x = blk(x)
            last.append(x[:, -1])
        return self._heads(self.norm(torch.cat(last, -1)))


class ResNetLSTM(ComparisonModel):
    architecture_name = "ResNet_LSTM"

    def __init__(self, cfg: ComparisonConfig):
        super().__init__(cfg)
        d = cfg.d_model
        self.face_lstm = nn.LSTM(cfg.face_dim, d, batch_first=True)
        self.eye_lstm = nn.LSTM(cfg.eye_dim, d, batch_first=True)
        self.fix_lstm = nn.LSTM(cfg.fix_dim, d, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self._make_heads(3 * d)

    def forward(self, face, eye, fixation):
        x = torch.cat([_last(self.face_lstm, self.face_frames(face)), _last(self.eye_lstm, eye),
                       _last(self.fix_lstm, fixation)], -1)
        return self._heads(self.drop(x))


class ResNetTransformer(_TemporalStreams):
    architecture_name = "ResNet_Transformer"

    def __init__(self, cfg: ComparisonConfig):
        super().__init__(cfg, conv=False)
        d, L, H, p = cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.dropout
        self.encoders = nn.ModuleDict({m: nn.ModuleList(Block(d, H, p, cross=False) for _ in range(L)) for m in MODALITIES})
        self.norm = nn.LayerNorm(3 * d)
        self._make_heads(3 * d)

    def forward(self, face, eye, fixation):
        h = self.streams(face, eye, fixation)
        pooled = []
        for m in MODALITIES:
            x = h[m]
            for blk in self.encoders[m]:
                x = blk(x)
            pooled.append(x.mean(1))
        return self._heads(self.norm(torch.cat(pooled, -1)))


class MMIM(ComparisonModel):
    architecture_name = "MMIM"

    def __init__(self, cfg: ComparisonConfig):
        super().__init__(cfg)
        d = cfg.d_model
        self.face_net = nn.Sequential(nn.Linear(cfg.face_dim, d), nn.ReLU())
        self.face_lstm = nn.LSTM(d, d, batch_first=True)
        self.eye_lstm = nn.LSTM(cfg.eye_dim, d, batch_first=True)
        self.fix_lstm = nn.LSTM(cfg.fix_dim, d, batch_first=True)
        # input level: predict eye / fixation vectors from the face vector (Gaussian mean, log-variance)
        self.mi_pred = nn.ModuleDict({m: nn.Linear(d, 2 * d) for m in ("eye", "fixation")})
        self.fusion = nn.Sequential(nn.Linear(3 * d, d), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(d, d))
        # fusion level (CPC): predict each modality's vector from the fused one
        self.cpc = nn.ModuleDict({m: nn.Linear(d, d) for m in MODALITIES})
        self._make_heads(d)

    def forward(self, face, eye, fixation):
        hv = _last(self.face_lstm, self.face_net(self.face_frames(face)))
        h = {"face": hv, "eye": _last(self.eye_lstm, eye), "fixation": _last(self.fix_lstm, fixation)}
        fused = self.fusion(torch.cat([h[m] for m in MODALITIES], -1))
        out = self._heads(fused)
        if self.training:  # the MI bounds shape training only; inference (and export) is the plain graph
            mib = 0.0
            for m in ("eye", "fixation"):
                mu, logvar = self.mi_pred[m](hv).chunk(2, -1)
                logvar = logvar.clamp(-6, 6)
                mib = mib - 0.5 * (((h[m].detach() - mu) ** 2) / logvar.exp() + logvar).sum(-1).mean()
            cpc = 0.0
            for m in MODALITIES:
                pred = F.normalize(self.cpc[m](fused), dim=-1)
                target = F.normalize(h[m], dim=-1)
                logits = pred @ target.t()  # (B,B): the own sample is the positive
                cpc = cpc + F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))
            # maximise the MI lower bounds = minimise their negatives
            out["aux_loss"] = self.cfg.mmim_weight * (-mib / self.cfg.d_model + cpc)
        return out


_CLASSES = {"LMF": LMF, "MulT": MulT, "ResNet_LSTM": ResNetLSTM, "ResNet_Transformer": ResNetTransformer, "MMIM": MMIM}


def build_comparison(cfg: ComparisonConfig) -> ComparisonModel:
    return _CLASSES[cfg.method](cfg)
