"""ResNet-18 (He et al.), the paper's face backbone (Sec. IV, MFE), written out because no
torchvision build exists for this environment. Module names follow torchvision's resnet18 so a
user-supplied torchvision-style weights file loads as is. `width` scales every stage (64 is
ResNet-18 proper) so tests can run a tiny one.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from emer_live.errors import ModelError


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + idt)


class ResNet18(nn.Module):
    """(B,3,S,S) normalised RGB -> (B, 8*width) global-average-pooled features (no classifier)."""

    def __init__(self, width: int = 64):
        super().__init__()
        w = width
        self.out_dim = 8 * w
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = (w, 2 * w, 4 * w, 8 * w)
        cin = w
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, c, stride), BasicBlock(c, c, 1)))
            cin = c

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))


def load_resnet_weights(net: ResNet18, path: str | Path) -> None:
    """Load a user-supplied ResNet-18 state dict (torchvision layout; a classifier 'fc.*' is
    ignored). Raises ModelError naming the file and the keys that do not fit."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"Face weights file not found: {path}") from None
    except Exception as e:  # torch raises several types for a corrupt or non-tensor file
        raise ModelError(f"{path} is not a readable weights file: {e}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{path} holds a {type(state).__name__}, not a ResNet-18 state dict")
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        def few(keys):
            return ", ".join(keys[:6]) + (f" (+{len(keys) - 6} more)" if len(keys) > 6 else "")
        parts = [f"missing {few(missing)}" if missing else "", f"unexpected {few(unexpected)}" if unexpected else "",
                 f"wrong shape {few(wrong)}" if wrong else ""]
        raise ModelError(f"{path} is not a ResNet-18 (width {net.out_dim // 8}) weights file: "
                         + "; ".join(p for p in parts if p))
    net.load_state_dict(state)
