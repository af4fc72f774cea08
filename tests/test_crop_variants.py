"""The helpers of scripts/fer_crop_variants.py do what its report says they do (its detector run in
the landmark ROI is the product's: tests/test_fer_box.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from fer_crop_variants import BoxModel, Lift, measures  # noqa: E402


def test_an_exact_lift_comes_back_through_a_bilinear_resize():
    """The exact lift's crop, resized to 64x64 as the face graph does (bilinear at pixel centres,
    as cv2.resize), gives the 64x64 input back; the uint8 lift only approximately (it clips)."""
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[30:230, 150:350]
    g64 = cv2.resize(face, (64, 64))
    crop = Lift(112, exact=True)(g64)
    assert crop.shape == (112, 112, 3) and (crop[:, :, 0] == crop[:, :, 2]).all()
    back = cv2.resize(crop[:, :, 0], (64, 64), interpolation=cv2.INTER_LINEAR)
    assert np.abs(back - g64).max() < 0.01
    approx = cv2.resize(Lift(112)(g64)[:, :, 0].astype(np.float32), (64, 64))
    assert np.abs(approx - g64).mean() < 5


def test_a_face_unit_box_model_scales_with_the_face():
    rng = np.random.default_rng(1)
    lms = [rng.normal(0, 30, (468, 2)) + (300, 200) for _ in range(20)]
    samples = [(measures(lm), (m["emx"] + 3, m["emy"] + 0.2 * m["iod"], 2.2 * m["iod"]))
               for lm in lms for m in [measures(lm)]]
    model = BoxModel("face units: iod").fit(samples)
    lm = lms[0]
    small, big = model.box(measures(lm)), model.box(measures(lm * 2.0))
    assert np.isclose(big[2], 2 * small[2])
