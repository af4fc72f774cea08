"""Multi-GPU / multi-machine training with torch.distributed (DistributedDataParallel).

Launch with torchrun, which sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT:

    torchrun --nproc_per_node=4 -m training.cli run ... --distributed
    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --master_port=29500 --nproc_per_node=8 ...

Each process trains on its DistributedSampler shard; DDP averages gradients, so all ranks hold
identical weights after every step. NCCL on CUDA, gloo on CPU. Rank 0 alone writes checkpoints
and shows progress.
"""

from __future__ import annotations

import os
from dataclasses import replace

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset
from torch.utils.data.distributed import DistributedSampler

from emer_live.errors import EmerError
from training.trainer import TrainConfig, train_model


def init_from_env(backend: str | None = None) -> tuple[int, int, int]:
    """Join the process group described by torchrun's environment (init_method env://).
    Returns (rank, world_size, local_rank)."""
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise EmerError(f"distributed training needs {', '.join(missing)} in the environment: launch with torchrun")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    return dist.get_rank(), dist.get_world_size(), local_rank


def train_distributed(model: torch.nn.Module, train_ds: Dataset, val_ds: Dataset | None, train_cfg: TrainConfig,
                      loss_cfg=None) -> list[dict]:
    """train_model across the initialised process group. The model must be built identically
    (same seed) on every rank; DDP also broadcasts rank 0's weights at wrap time."""
    if not dist.is_initialized():
        raise EmerError("train_distributed needs an initialised process group (call init_from_env first)")
    rank, world = dist.get_rank(), dist.get_world_size()
    if torch.cuda.is_available() and dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
        train_cfg = replace(train_cfg, device=str(device))
        model.to(device)
        ddp = DistributedDataParallel(model, device_ids=[device.index], find_unused_parameters=True)
    else:
        ddp = DistributedDataParallel(model, find_unused_parameters=True)
    sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=train_cfg.seed)
    return train_model(ddp, train_ds, val_ds, train_cfg, loss_cfg, sampler=sampler, is_main=rank == 0)


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
