"""EMERT objective (paper Sec. IV), in two named weightings (LOSS_WEIGHTINGS):

    "paper"      L = alpha * L_adv + beta * (L_e + L_f)          as the paper's text writes it
                 (alpha 0.3, beta 0.1), L_adv = (L_inv + L_spec) / 2;
    "reference"  L = alpha * L_inv + beta * L_spec + 1.0 * (L_e + L_f)   as the authors' code weighs
                 it (its comment: 0.1 0.1 1.0): an adversarial term about 5x lighter against the task.

L_e and L_f (Eqs. 3, 4) add, for their head, cross-entropy over the 7- and 3-class labels and the
Huber loss over valence/arousal (and, for FER, expression intensity). Unknown labels are skipped:
class index -1, regression target NaN. A term with no known label in the batch contributes 0.
L_adv (Eq. 1) is the modality discriminator's cross-entropy on the invariant features (behind the
gradient reversal layer) plus on the specific features, averaged over modalities.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch.nn import functional as F


@dataclass
class LossConfig:
    alpha: float = 0.3
    beta: float = 0.1
    huber_delta: float = 1.0
    weighting: str = "paper"  # "paper" | "reference" (see the module doc)

    def __post_init__(self):
        if self.weighting not in ("paper", "reference"):
            raise ValueError(f"unknown loss weighting {self.weighting!r}; choose 'paper' or 'reference'")


LOSS_WEIGHTINGS = {
    "paper": LossConfig(alpha=0.3, beta=0.1, weighting="paper"),
    "reference": LossConfig(alpha=0.1, beta=0.1, weighting="reference"),
}


def loss_config(name: str) -> LossConfig:
    """A fresh copy of a named weighting."""
    if name not in LOSS_WEIGHTINGS:
        raise ValueError(f"unknown loss weighting {name!r}; choose from {tuple(LOSS_WEIGHTINGS)}")
    return replace(LOSS_WEIGHTINGS[name])


def _ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    target = target.long().view(-1)
    if not bool((target >= 0).any()):
        return logits.sum() * 0.0  # keeps the graph connected for DDP
    return F.cross_entropy(logits, target, ignore_index=-1)


def _huber(pred: torch.Tensor, target: torch.Tensor, delta: float) -> torch.Tensor:
    target = target.to(pred.dtype).view_as(pred)
    known = ~torch.isnan(target)
    if not bool(known.any()):
        return pred.sum() * 0.0
    return F.huber_loss(pred[known], target[known], delta=delta)


def _modality_ce(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the discriminator's (M,B,M) logits against each feature's modality index."""
    M, B = logits.shape[:2]
    target = torch.arange(M, device=logits.device).repeat_interleave(B)
    return F.cross_entropy(logits.reshape(M * B, M), target)


def adversarial_parts(out: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_inv, L_spec): D on the invariant features (behind the GRL) and on the specific ones."""
    return _modality_ce(out["mod_logits_inv"]), _modality_ce(out["mod_logits_spec"])


def adversarial_loss(out: dict) -> torch.Tensor:
    """Eq. 1 as one number: the mean of L_inv and L_spec."""
    inv, spec = adversarial_parts(out)
    return (inv + spec) / 2


def task_loss(out: dict, batch: dict, task: str, cfg: LossConfig) -> torch.Tensor:
    """L_e (task "er") or L_f (task "fer"), Eqs. 3 and 4."""
    loss = _ce(out[f"{task}_logits7"], batch[f"{task}7"]) + _ce(out[f"{task}_logits3"], batch[f"{task}3"])
    loss = loss + _huber(out[f"{task}_va"], batch[f"{task}_va"], cfg.huber_delta)
    if task == "fer":
        loss = loss + _huber(out["fer_intensity"], batch["fer_int"], cfg.huber_delta)
    return loss


def emert_loss(out: dict, batch: dict, cfg: LossConfig | None = None) -> tuple[torch.Tensor, dict]:
    """(total, parts) with parts {"adv", "er", "fer"} as floats (absent parts are 0); "adv" is
    (L_inv + L_spec) / 2 under either weighting."""
    cfg = cfg or LossConfig()
    parts = {}
    tasks = [t for t in ("er", "fer") if f"{t}_logits7" in out]
    task_sum = 0.0
    for t in tasks:
        lt = task_loss(out, batch, t, cfg)
        parts[t] = lt
        task_sum = task_sum + lt
    if cfg.weighting == "reference":
        total = 1.0 * task_sum
        if "mod_logits_inv" in out:
            inv, spec = adversarial_parts(out)
            parts["adv"] = (inv + spec) / 2
            total = total + cfg.alpha * inv + cfg.beta * spec
    else:
        total = cfg.beta * task_sum
        if "mod_logits_inv" in out:
            parts["adv"] = adversarial_loss(out)
            total = total + cfg.alpha * parts["adv"]
    named = {k: float(parts[k].detach()) if k in parts else 0.0 for k in ("adv", "er", "fer")}
    if "aux_loss" in out:  # a comparison method's own training term (e.g. MMIM's MI bounds), already weighted
        total = total + out["aux_loss"]
        named["aux"] = float(out["aux_loss"].detach())
    return total, named
