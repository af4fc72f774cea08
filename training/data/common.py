"""What every EMERT dataset shares: the sample layout, label arrays, face normalisation.

A dataset item is a dict of tensors: face (8,3,S,S) float normalised with the dataset's face_mean/face_std, or
(8,D) embeddings; eye (32,39) normalised with the dataset's eye statistics; fixation (32,2) in
[0, 1]; targets er7, er3, fer7, fer3 (int64, -1 = unknown), er_va, fer_va (2,), fer_int (1,)
(NaN = unknown); participant (int64); masked (bool: displayed expression != genuine emotion).

Besides __getitem__, every dataset exposes the label arrays without touching faces or eyes
(`targets`, `participants`, `masked`), so folds, metrics and reports need no pass over the data.
"""

from __future__ import annotations

import numpy as np
import torch

from emer_live.features.eye_norm import eye_statistics, normalise_eye
from emer_live.labels import EMOTIONS_7, SEVEN_TO_THREE_INDEX

# Face crops: x/255 then (x - mean) / std per channel. The exporter writes the pair into the model
# card and the runtime feeds crops the same way. The mini-Xception encoder takes RGB in [0, 1]
# (it does its own gray conversion and scaling in the graph); a ResNet-18 trained from scratch
# takes [-1, 1]; one started from ImageNet weights takes the ImageNet statistics it was trained on.
FACE_MEAN = (0.5, 0.5, 0.5)
FACE_STD = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FACE_NORMS = {"half": (FACE_MEAN, FACE_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
              "unit": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))}


def face_norm_name(face_encoder: str, face_weights: str | None = None, choice: str = "auto") -> str:
    """Which normalisation a face encoder's crops get: `choice` if not "auto"; otherwise "unit"
    ([0, 1]) for the mini-Xception, "imagenet" for a ResNet-18 given (ImageNet) weights, "half"
    ([-1, 1]) for a ResNet-18 trained from scratch."""
    if choice != "auto":
        if choice not in FACE_NORMS:
            raise ValueError(f"unknown face normalisation {choice!r}; choose from auto, {', '.join(FACE_NORMS)}")
        return choice
    if face_encoder == "mini_xception":
        return "unit"
    return "imagenet" if face_weights else "half"


def face_norm_for(face_encoder: str, face_weights: str | None = None, choice: str = "auto") -> tuple[tuple, tuple]:
    """(mean, std) a face encoder expects its crops normalised with (see face_norm_name)."""
    return FACE_NORMS[face_norm_name(face_encoder, face_weights, choice)]

TARGET_KEYS = ("er7", "er3", "er_va", "fer7", "fer3", "fer_va", "fer_int")


def seven_to_three(idx7: np.ndarray) -> np.ndarray:
    """7-class indices (-1 = unknown) -> 3-class indices (-1 stays -1)."""
    idx7 = np.asarray(idx7, dtype=np.int64)
    lut = np.asarray(SEVEN_TO_THREE_INDEX, dtype=np.int64)
    return np.where(idx7 >= 0, lut[np.clip(idx7, 0, 6)], -1)


def emotion_index(name: str) -> int:
    return EMOTIONS_7.index(name)


def normalise_crops(crops_rgb: np.ndarray, mean=FACE_MEAN, std=FACE_STD) -> torch.Tensor:
    """(T,S,S,3) uint8 RGB -> (T,3,S,S) float32, x/255 normalised with (mean, std)."""
    x = torch.from_numpy(np.ascontiguousarray(crops_rgb)).float().div_(255.0)
    x = x.permute(0, 3, 1, 2)
    mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / std


def eye_stats_of(eye: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over all samples and steps of (N,32,39), absent values (NaN, eye-v2)
    left out; std floored at 1e-6 so constant features normalise to 0 instead of NaN. The runtime's
    own implementation (emer_live.features.eye_norm), so training and the app agree."""
    return eye_statistics(eye)


class fold_eye_stats:
    """Within the block, `dataset` normalises eye windows with statistics of the samples in
    `train_index` only, so a test fold never leaks into its own normalisation."""

    def __init__(self, dataset, train_index):
        self.ds, self.index = dataset, np.asarray(train_index)

    def __enter__(self):
        self.saved = (self.ds.eye_mean, self.ds.eye_std)
        self.ds.eye_mean, self.ds.eye_std = eye_stats_of(np.asarray(self.ds.eye)[self.index])
        return self.ds.eye_mean, self.ds.eye_std

    def __exit__(self, *exc):
        self.ds.eye_mean, self.ds.eye_std = self.saved


def make_item(face: torch.Tensor, eye: np.ndarray, fixation: np.ndarray, targets: dict, i: int,
              participant: int, masked: bool, eye_mean: np.ndarray, eye_std: np.ndarray) -> dict:
    eye_n = normalise_eye(eye, eye_mean, eye_std)  # absent values -> the training mean
    return {
        "face": face,
        "eye": torch.from_numpy(np.ascontiguousarray(eye_n, dtype=np.float32)),
        "fixation": torch.from_numpy(np.ascontiguousarray(fixation, dtype=np.float32)),
        "er7": torch.tensor(int(targets["er7"][i])),
        "er3": torch.tensor(int(targets["er3"][i])),
        "er_va": torch.from_numpy(targets["er_va"][i].astype(np.float32)),
        "fer7": torch.tensor(int(targets["fer7"][i])),
        "fer3": torch.tensor(int(targets["fer3"][i])),
        "fer_va": torch.from_numpy(targets["fer_va"][i].astype(np.float32)),
        "fer_int": torch.from_numpy(np.atleast_1d(targets["fer_int"][i]).astype(np.float32)),
        "participant": torch.tensor(int(participant)),
        "masked": torch.tensor(bool(masked)),
    }
