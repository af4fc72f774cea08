"""Training and evaluation loops for EMERT (paper Sec. V-A: Adam, lr 1e-4, cosine decay, batch 16).

Checkpoints hold model + optimiser + scheduler + epoch + RNG states, are written atomically after
every epoch, and load with torch.load(weights_only=True). A checkpoint whose architecture differs
from the model being trained is refused with the file and the difference named.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from emer_live.errors import ModelError
from training import progress

log = logging.getLogger("training")

CHECKPOINT_NAME = "last.pt"
OUTPUT_KEYS = ("er_logits7", "er_logits3", "er_va", "fer_logits7", "fer_logits3", "fer_va", "fer_intensity")
TARGETS = ("er7", "er3", "er_va", "fer7", "fer3", "fer_va", "fer_int")


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "cpu"
    checkpoint_dir: str | None = None
    resume: bool = False
    progress: bool | None = None  # None: bars only when stderr is a terminal
    num_workers: int = 0


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)  # DistributedDataParallel keeps the model in .module


def architecture_of(model: torch.nn.Module) -> str:
    """A JSON description of the architecture: class, config and every tensor's shape."""
    m = _unwrap(model)
    cfg = m.cfg.to_dict() if hasattr(getattr(m, "cfg", None), "to_dict") else None
    shapes = {k: list(v.shape) for k, v in m.state_dict().items()}
    return json.dumps({"class": type(m).__name__, "cfg": cfg, "shapes": shapes}, sort_keys=True, default=str)


def _arch_difference(saved: str, current: str) -> str:
    a, b = json.loads(saved), json.loads(current)
    if a["class"] != b["class"]:
        return f"model class {a['class']} in the checkpoint, {b['class']} here"
    cfg_diff = [f"{k}={a['cfg'].get(k)!r} (checkpoint) vs {b['cfg'].get(k)!r}"
                for k in sorted(set(a["cfg"] or {}) | set(b["cfg"] or {}))
                if (a["cfg"] or {}).get(k) != (b["cfg"] or {}).get(k)]
    sa, sb = a["shapes"], b["shapes"]
    missing, extra = sorted(set(sb) - set(sa)), sorted(set(sa) - set(sb))
    shape = [f"{k}: {sa[k]} vs {sb[k]}" for k in sorted(set(sa) & set(sb)) if sa[k] != sb[k]]
    parts = []
    if cfg_diff:
        parts.append("config " + "; ".join(cfg_diff[:5]))
    if missing:
        parts.append(f"{len(missing)} tensors absent from the checkpoint (e.g. {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} unexpected tensors (e.g. {extra[0]})")
    if shape:
        parts.append("shapes differ: " + "; ".join(shape[:3]))
    return ", ".join(parts) or "unknown difference"


def load_checkpoint(path: str | Path, model: torch.nn.Module) -> dict:
    """Read a checkpoint (weights_only) and load its weights into `model`; returns the whole dict."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, not a torch file, or unsafe pickled objects
        raise ModelError(f"checkpoint {path} cannot be read: {type(e).__name__}: {e}") from e
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise ModelError(f"checkpoint {path} holds no model weights (not written by this trainer)")
    current = architecture_of(model)
    if "arch" in ckpt and ckpt["arch"] != current:
        raise ModelError(f"checkpoint {path} is for another architecture: {_arch_difference(ckpt['arch'], current)}")
    try:
        _unwrap(model).load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise ModelError(f"checkpoint {path} does not fit this model: {e}") from e
    return ckpt


def _save_checkpoint(path: Path, model, opt, sched, epoch: int, history: list, gen: torch.Generator) -> None:
    ckpt = {
        "model": _unwrap(model).state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": epoch,
        "arch": architecture_of(model),
        "history": json.dumps(history),
        "rng_torch": torch.get_rng_state(),
        "rng_loader": gen.get_state(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def _progress_enabled(cfg: TrainConfig) -> bool:
    return sys.stderr.isatty() if cfg.progress is None else cfg.progress


def train_model(model: torch.nn.Module, train_ds: Dataset, val_ds: Dataset | None, train_cfg: TrainConfig,
                loss_cfg=None, *, sampler: Sampler | None = None, is_main: bool = True) -> list[dict]:
    """Train `model`; returns the history (one dict per epoch). `sampler` (e.g. a
    DistributedSampler) replaces the seeded shuffle; only `is_main` writes checkpoints and bars."""
    from training.models.losses import LossConfig, emert_loss

    loss_cfg = loss_cfg or LossConfig()
    cfg = train_cfg
    device = torch.device(cfg.device)
    seed_everything(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model.to(device)
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                        generator=gen if sampler is None else None, num_workers=cfg.num_workers, drop_last=False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs * len(loader)))
    history: list[dict] = []
    start_epoch = 0
    ckpt_path = Path(cfg.checkpoint_dir) / CHECKPOINT_NAME if cfg.checkpoint_dir else None
    if cfg.resume and ckpt_path is not None and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path, model)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng_torch"])
        gen.set_state(ckpt["rng_loader"])
        history = json.loads(ckpt["history"])
        start_epoch = int(ckpt["epoch"]) + 1
        log.info("resumed from %s at epoch %d", ckpt_path, start_epoch)
        if progress.active() is not None and is_main:
            for e in range(start_epoch):
                progress.active().epoch_done(e + 1, cfg.epochs, None)
    log.info("training: seed %d, %d epochs, batch %d, lr %g, device %s", cfg.seed, cfg.epochs,
             cfg.batch_size, cfg.lr, device)
    show = _progress_enabled(cfg) and is_main
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        model.train()
        t0, total, n, parts_sum = time.perf_counter(), 0.0, 0, {}
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not show, leave=False)
        for step, batch in enumerate(bar):
            # training progress p for schedules inside the model (EMERT's gradient-reversal warm-up)
            if hasattr(_unwrap(model), "set_progress"):
                _unwrap(model).set_progress((epoch * len(loader) + step) / max(1, cfg.epochs * len(loader)))
            batch = _to(batch, device)
            out = model(batch["face"], batch["eye"], batch["fixation"])
            loss, parts = emert_loss(out, batch, loss_cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            b = len(batch["eye"])
            total += float(loss.detach()) * b
            n += b
            for k, v in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + float(v) * b
            bar.set_postfix(loss=f"{total / n:.4f}")
        rec = {"epoch": epoch, "seed": cfg.seed, "train_loss": total / max(n, 1),
               "train_parts": {k: v / max(n, 1) for k, v in parts_sum.items()},
               "lr": sched.get_last_lr()[0], "seconds": round(time.perf_counter() - t0, 3)}
        if val_ds is not None and is_main:
            rec["val_loss"] = evaluate_loss(model, val_ds, loss_cfg, cfg.batch_size, device)
        history.append(rec)
        log.info("epoch %d: %s", epoch + 1, {k: v for k, v in rec.items() if k != "train_parts"})
        if progress.active() is not None and is_main:
            progress.active().epoch_done(epoch + 1, cfg.epochs, rec["seconds"], rec["train_loss"])
        if ckpt_path is not None and is_main:
            _save_checkpoint(ckpt_path, model, opt, sched, epoch, history, gen)
    if hasattr(_unwrap(model), "set_progress"):
        _unwrap(model).set_progress(1.0)
    return history


@torch.no_grad()
def evaluate_loss(model, ds: Dataset, loss_cfg, batch_size: int = 64, device="cpu") -> float:
    from training.models.losses import emert_loss

    model.eval()
    total, n = 0.0, 0
    for batch in DataLoader(ds, batch_size=batch_size, shuffle=False):
        batch = _to(batch, device)
        loss, _ = emert_loss(model(batch["face"], batch["eye"], batch["fixation"]), batch, loss_cfg)
        total += float(loss) * len(batch["eye"])
        n += len(batch["eye"])
    return total / max(n, 1)


@torch.no_grad()
def evaluate(model: torch.nn.Module, ds: Dataset, batch_size: int = 64, device: str = "cpu",
             noise_var: float = 0.0, noise_seed: int = 0, progress: bool = False) -> dict:
    """Run `model` over the WHOLE of `ds`. Returns {"out": {output: (N,...)}, "y": {target: (N,...)},
    "participant": (N,), "masked": (N,)} as numpy. noise_var > 0 adds Gaussian noise of that
    variance to every modality's input (Table IX)."""
    model.eval()
    model.to(device)
    gen = torch.Generator().manual_seed(noise_seed)
    std = math.sqrt(noise_var)
    outs: dict[str, list] = {}
    ys: dict[str, list] = {k: [] for k in TARGETS + ("participant", "masked")}
    for batch in tqdm(DataLoader(ds, batch_size=batch_size, shuffle=False), desc="evaluate", disable=not progress,
                      leave=False):
        x = [batch["face"], batch["eye"], batch["fixation"]]
        if std > 0:
            x = [t + std * torch.randn(t.shape, generator=gen) for t in x]
        out = model(*(t.to(device) for t in x))
        for k in OUTPUT_KEYS:
            if k in out:
                outs.setdefault(k, []).append(out[k].float().cpu().numpy())
        for k in ys:
            ys[k].append(batch[k].numpy())
    res = {k: np.concatenate(v) for k, v in outs.items()}
    y = {k: np.concatenate(v) for k, v in ys.items()}
    return {"out": res, "y": {k: y[k] for k in TARGETS}, "participant": y["participant"], "masked": y["masked"]}
