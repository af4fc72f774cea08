"""The helpers of research/fer_crop_variants.py (a study, kept for its record) do what its report says they do (its detector run in
the landmark ROI is the product's: tests/test_fer_box.py; so is its exact lift of `fer`'s input:
tests/test_fer_input.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "research"))

from fer_crop_variants import BoxModel, measures  # noqa: E402


def test_a_face_unit_box_model_scales_with_the_face():
    rng = np.random.default_rng(1)
    lms = [rng.normal(0, 30, (468, 2)) + (300, 200) for _ in range(20)]
    samples = [(measures(lm), (m["emx"] + 3, m["emy"] + 0.2 * m["iod"], 2.2 * m["iod"]))
               for lm in lms for m in [measures(lm)]]
    model = BoxModel("face units: iod").fit(samples)
    lm = lms[0]
    small, big = model.box(measures(lm)), model.box(measures(lm * 2.0))
    assert np.isclose(big[2], 2 * small[2])
