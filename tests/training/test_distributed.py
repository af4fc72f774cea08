"""DDP on CPU: 2 processes, gloo backend, env:// init as torchrun sets it; ranks stay identical."""

import socket

import pytest

torch = pytest.importorskip("torch")
import torch.multiprocessing as mp


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, out_dir):
    import os

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from training.distributed import cleanup, init_from_env, train_distributed
    from training.trainer import TrainConfig
    from tiny_emert_data import TinySet, tiny_model

    r, w, _ = init_from_env("gloo")
    assert (r, w) == (rank, world)
    # a different init per rank: DDP must broadcast rank 0's weights
    model = tiny_model(seed=rank)
    hist = train_distributed(model, TinySet(32), None, TrainConfig(epochs=2, batch_size=4, lr=1e-3, progress=False))
    torch.save({"state": model.state_dict(), "n_epochs": len(hist)}, f"{out_dir}/rank{rank}.pt")
    cleanup()


def test_two_ranks_end_with_identical_weights(tmp_path):
    port = _free_port()
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert a["n_epochs"] == b["n_epochs"] == 2
    start = tiny_model_state()
    moved = False
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k
        moved |= not torch.equal(a["state"][k], start[k])
    assert moved, "training did not change the weights"


def tiny_model_state():
    from tiny_emert_data import tiny_model

    return tiny_model(seed=0).state_dict()


def test_init_without_torchrun_environment_is_a_clear_error(monkeypatch):
    from emer_live.errors import EmerError
    from training.distributed import init_from_env

    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(EmerError, match="launch with torchrun"):
        init_from_env()
