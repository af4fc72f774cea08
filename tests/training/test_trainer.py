"""Trainer: learns, evaluates the whole set, resumes exactly, refuses foreign checkpoints."""

import pytest

torch = pytest.importorskip("torch")

from emer_live.errors import ModelError
from training.trainer import CHECKPOINT_NAME, TrainConfig, evaluate, load_checkpoint, train_model

from tiny_emert_data import TinySet, tiny_model


def test_training_reduces_loss_and_evaluate_covers_whole_set():
    ds = TinySet(40)
    model = tiny_model()
    hist = train_model(model, ds, ds, TrainConfig(epochs=6, batch_size=8, lr=3e-3, progress=False))
    assert len(hist) == 6 and all(h["seed"] == 0 for h in hist)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert "val_loss" in hist[-1]
    res = evaluate(model, ds, batch_size=16)
    assert res["out"]["er_logits7"].shape == (40, 7)
    assert res["out"]["fer_intensity"].shape == (40, 1)
    assert res["y"]["er7"].tolist() == ds.er7.tolist()
    noisy = evaluate(model, ds, batch_size=16, noise_var=0.1)
    assert not (noisy["out"]["er_logits7"] == res["out"]["er_logits7"]).all()


class _CrashAfter(torch.utils.data.Dataset):
    def __init__(self, ds, items):
        self.ds, self.left = ds, items

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return self.ds[i]


def test_resume_continues_to_the_same_weights(tmp_path):
    ds = TinySet(24)
    cfg = dict(batch_size=8, lr=1e-3, progress=False, seed=5)
    straight = tiny_model()
    train_model(straight, ds, None, TrainConfig(epochs=3, **cfg))
    # the same run killed during its 3rd epoch, then restarted with resume
    crashing = _CrashAfter(ds, items=2 * len(ds) + 3)
    with pytest.raises(KeyboardInterrupt):
        train_model(tiny_model(), crashing, None, TrainConfig(epochs=3, **cfg, checkpoint_dir=str(tmp_path)))
    ckpt = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert ckpt["epoch"] == 1
    resumed = tiny_model(seed=99)  # different init: the checkpoint must overwrite it
    hist = train_model(resumed, ds, None, TrainConfig(epochs=3, **cfg, checkpoint_dir=str(tmp_path), resume=True))
    assert [h["epoch"] for h in hist] == [0, 1, 2]
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_checkpoint_from_another_architecture_is_refused(tmp_path):
    ds = TinySet(8)
    train_model(tiny_model(), ds, None, TrainConfig(epochs=1, batch_size=8, progress=False,
                                                     checkpoint_dir=str(tmp_path)))
    other = tiny_model(modalities=("face", "eye"))
    with pytest.raises(ModelError, match=r"last\.pt.*another architecture.*modalities"):
        load_checkpoint(tmp_path / CHECKPOINT_NAME, other)
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="junk.pt cannot be read"):
        load_checkpoint(bad, other)
