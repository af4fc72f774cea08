"""Tiny EMERT-shaped inputs for trainer tests: random tensors, labels that a model can fit."""

import torch
from torch.utils.data import Dataset


class TinySet(Dataset):
    def __init__(self, n=24, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.er7 = torch.randint(0, 7, (n,), generator=g)
        self.face = torch.randn(n, 8, 7, generator=g)
        self.face[torch.arange(n), :, self.er7] += 3.0
        self.eye = torch.randn(n, 32, 39, generator=g)
        self.fix = torch.rand(n, 32, 2, generator=g)

    def __len__(self):
        return len(self.er7)

    def __getitem__(self, i):
        y = self.er7[i]
        return {"face": self.face[i], "eye": self.eye[i], "fixation": self.fix[i],
                "er7": y, "er3": torch.tensor(int(y) % 3), "er_va": torch.zeros(2),
                "fer7": y, "fer3": torch.tensor(int(y) % 3), "fer_va": torch.zeros(2),
                "fer_int": torch.ones(1), "participant": torch.tensor(i % 4), "masked": torch.tensor(False)}


def tiny_model(seed=0, **kw):
    from training.models.emert import EMERT, EMERTConfig

    torch.manual_seed(seed)
    return EMERT(EMERTConfig(d_model=16, face_encoder="embedding", n_heads=2, n_layers=1, **kw))
