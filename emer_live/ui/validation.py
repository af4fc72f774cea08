"""Calibration targets and validation figures (accuracy and precision in degrees of visual angle),
from raw gaze samples (the 30 RAW_GAZE_COLUMNS) and the tracker's display area. Numpy only."""

from __future__ import annotations

import numpy as np

from emer_live.types import GAZE_COL

POINTS = {
    5: ((0.5, 0.5), (0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)),
    9: tuple((x, y) for y in (0.1, 0.5, 0.9) for x in (0.1, 0.5, 0.9)),
}


def display_to_ucs(point: tuple[float, float], display_area) -> np.ndarray:
    """A normalised display point -> millimetres in the tracker's user coordinate system."""
    tl, tr, bl = (np.asarray(getattr(display_area, k), float) for k in ("top_left", "top_right", "bottom_left"))
    return tl + point[0] * (tr - tl) + point[1] * (bl - tl)


def _angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _eye(raw: np.ndarray, eye: str, target_ucs: np.ndarray) -> dict:
    col = lambda name: GAZE_COL[f"{eye}_{name}"]  # noqa: E731
    ok = (raw[:, col("gaze_point_validity")] == 1) & (raw[:, col("gaze_origin_validity")] == 1)
    point = raw[ok][:, [col(f"gaze_point_in_user_coordinate_system_{a}") for a in "xyz"]]
    origin = raw[ok][:, [col(f"gaze_origin_in_user_coordinate_system_{a}") for a in "xyz"]]
    if len(point) < 2:
        return {"accuracy_deg": float("nan"), "precision_rms_deg": float("nan"),
                "precision_sd_deg": float("nan"), "n_valid": int(len(point))}
    gaze_dir = point - origin
    offset = _angles_deg(gaze_dir, target_ucs[None, :] - origin)
    step = _angles_deg(gaze_dir[1:], gaze_dir[:-1])  # sample-to-sample
    spread = _angles_deg(gaze_dir, gaze_dir.mean(axis=0)[None, :])
    return {"accuracy_deg": float(offset.mean()), "precision_rms_deg": float(np.sqrt(np.mean(step ** 2))),
            "precision_sd_deg": float(np.sqrt(np.mean(spread ** 2))), "n_valid": int(len(point))}


def validate_point(raw: np.ndarray, point: tuple[float, float], display_area) -> dict:
    """Accuracy (mean angular offset from the target) and precision (RMS sample-to-sample and
    SD around the mean) per eye, and their binocular mean, for the samples taken at one target."""
    raw = np.asarray(raw, float).reshape(-1, 30)
    target = display_to_ucs(point, display_area)
    out = {"x": point[0], "y": point[1], "n_samples": int(len(raw))}
    eyes = {eye: _eye(raw, eye, target) for eye in ("left", "right")}
    for eye, d in eyes.items():
        out.update({f"{eye}_{k}": v for k, v in d.items()})
    for k in ("accuracy_deg", "precision_rms_deg", "precision_sd_deg"):
        vals = [d[k] for d in eyes.values() if np.isfinite(d[k])]
        out[k] = float(np.mean(vals)) if vals else float("nan")
    return out


def summarise(points: list[dict]) -> dict:
    """Mean accuracy and precision over all validation targets (NaN targets left out)."""
    def mean(key):
        vals = [p[key] for p in points if np.isfinite(p[key])]
        return float(np.mean(vals)) if vals else float("nan")

    return {"mean_accuracy_deg": mean("accuracy_deg"), "mean_precision_rms_deg": mean("precision_rms_deg"),
            "mean_precision_sd_deg": mean("precision_sd_deg"), "points": points}
