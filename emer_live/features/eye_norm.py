"""The one normalisation of eye windows, and the guard that says when an eye window is unfamiliar.

numpy only; the training package computes the statistics with these functions and the runtime
applies them, so both see the same numbers.

Normalisation: (x - mean) / std per column with the model card's statistics. A value that is
absent (NaN: eye-v2 marks missing values so) becomes the training mean, 0 after normalisation;
a column with no spread in training (std 0) is 0 too. Nothing absent is ever pushed through as a
number.

Guard ("window-mean z"): for each of the 39 columns the window's mean over its steps (present
values only) is compared with the distribution of the same per-window means over the training
windows, as a z score. The window's score is the root mean square of those z scores over the
columns the window has (each clipped at 100 so one broken column cannot hide behind the mean).
The card stores the training windows' per-column mean and sd of window means and the threshold:
a high quantile of the training windows' own scores times a margin (see guard_statistics). Past
the threshold the prediction is flagged, naming the columns that lie furthest out.
"""

from __future__ import annotations

import warnings

import numpy as np

GUARD_METHOD = "window-mean-z/1"
GUARD_QUANTILE = 0.995  # of the training windows' scores
GUARD_MARGIN = 1.5  # threshold = margin x that quantile
_Z_CLIP = 100.0


def eye_statistics(eye: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std over all windows and steps of (N, 32, 39), absent values (NaN)
    left out; a column never present gets mean 0, and std is floored at 1e-6."""
    flat = np.asarray(eye, np.float64).reshape(-1, eye.shape[-1])
    ok = np.isfinite(flat)
    n = ok.sum(axis=0)
    x = np.where(ok, flat, 0.0)
    mean = x.sum(axis=0) / np.maximum(n, 1)
    var = (np.where(ok, flat - mean, 0.0) ** 2).sum(axis=0) / np.maximum(n, 1)
    return mean.astype(np.float32), np.maximum(np.sqrt(var), 1e-6).astype(np.float32)


def normalise_eye(eye: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(..., 32, 39) -> normalised float32; absent (NaN) and zero-std columns become 0 (the mean)."""
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    scale = np.where(std > 1e-6, 1.0 / np.maximum(std, 1e-6), 0.0).astype(np.float32)
    with np.errstate(invalid="ignore"):
        x = (np.asarray(eye, np.float32) - mean) * scale
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def _window_means(eye: np.ndarray) -> np.ndarray:
    """(..., 32, 39) -> (..., 39) mean over steps of the present values (NaN where none)."""
    eye = np.asarray(eye, np.float64)
    ok = np.isfinite(eye)
    n = ok.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, eye, 0.0).sum(axis=-2) / n, np.nan)


def _z(eye: np.ndarray, guard: dict) -> np.ndarray:
    m = _window_means(eye)
    mu = np.asarray(guard["mean"], np.float64)
    sd = np.asarray(guard["std"], np.float64)
    used = np.asarray(guard["used"], bool)
    with np.errstate(invalid="ignore"):
        z = (m - mu) / np.maximum(sd, 1e-6)
    z[..., ~used] = np.nan
    return np.clip(z, -_Z_CLIP, _Z_CLIP)


def _scores(z: np.ndarray) -> np.ndarray:
    ok = np.isfinite(z)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.where(ok, z * z, 0.0).sum(axis=-1) / np.maximum(ok.sum(axis=-1), 1))


def guard_statistics(eye: np.ndarray, quantile: float = GUARD_QUANTILE, margin: float = GUARD_MARGIN) -> dict:
    """From the training windows (N, 32, 39) un-normalised: what the card stores under eye.guard."""
    m = _window_means(eye)
    with warnings.catch_warnings():  # columns absent from every window (left out) have no mean
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(m, axis=0)
        sd = np.nanstd(m, axis=0)
    # a column counts when most training windows have it and it varies between windows
    used = (np.isfinite(m).mean(axis=0) >= 0.5) & (sd > 1e-6)
    guard = {"method": GUARD_METHOD, "mean": np.nan_to_num(mu).tolist(), "std": np.nan_to_num(sd, nan=1.0).tolist(),
             "used": used.tolist()}
    s = _scores(_z(eye, guard))
    guard.update({"quantile": quantile, "margin": margin, "train_score_quantile": float(np.quantile(s, quantile)),
                  "threshold": float(margin * np.quantile(s, quantile)), "n_train_windows": int(len(eye))})
    return guard


def eye_check(eye: np.ndarray, guard: dict, columns=None, worst: int = 3) -> dict:
    """How far one window (32, 39) un-normalised lies from the training windows:
    {"score", "threshold", "unfamiliar", "reason"}; reason names the furthest columns."""
    z = _z(eye, guard)
    score = float(_scores(z))
    threshold = float(guard["threshold"])
    unfamiliar = bool(score > threshold)
    reason = ""
    if not np.isfinite(z).any():
        reason = "no eye values in this window"
    elif unfamiliar:
        az = np.where(np.isfinite(z), np.abs(z), -1.0)
        idx = np.argsort(-az)[:worst]
        names = [columns[i] if columns is not None else f"column {i}" for i in idx]
        reason = ("eye input unlike the training data (score %.1f > %.1f): " % (score, threshold)
                  + ", ".join(f"{n} {z[i]:+.0f} SD" for n, i in zip(names, idx) if az[i] >= 0))
    return {"score": round(score, 3), "threshold": round(threshold, 3), "unfamiliar": unfamiliar, "reason": reason}
