"""Crop recipes in the model card: each face encoder gets the crop it was trained on."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from skimage import data

from emer_live.errors import ModelError
from emer_live.features.face import FaceProcessor
from emer_live.features.face_crop import FER2013_RECIPE, LEGACY_RECIPE, CropRecipe, recipe_of_card
from emer_live.model_card import load_card
from model_doubles import build_model_double


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def still():
    with FaceProcessor(static_image_mode=True) as fp:
        yield fp


def test_recipe_round_trips_through_the_card(tmp_path):
    assert CropRecipe.from_card(json.loads(json.dumps(FER2013_RECIPE.to_card()))) == FER2013_RECIPE
    face = {"crop_size": 112, "color": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3, "embedding_dim": 7,
            "crop": FER2013_RECIPE.to_card()}
    card = load_card(build_model_double(tmp_path, card_overrides={"face": face}))
    assert card.crop_recipe == FER2013_RECIPE
    assert load_card(build_model_double(tmp_path / "old")).crop_recipe == LEGACY_RECIPE  # no face.crop: unchanged
    assert recipe_of_card({}) == LEGACY_RECIPE


@pytest.mark.parametrize("bad, words", [
    ({"illumination": "gamma"}, "illumination"),
    ({"padding": "mirror"}, "padding"),
    ({"eye_template": [[0.7, 0.4], [0.3, 0.4]]}, "right of the first"),
    ({"eye_template": [[0.3, 0.4]]}, "two [x, y] points"),
    ({"rotate": "yes"}, "rotate"),
    ({"pad_value": 300}, "pad_value"),
    ({"sample_grid": 2}, "sample_grid"),
])
def test_a_recipe_the_app_cannot_make_is_refused(tmp_path, bad, words):
    path = build_model_double(tmp_path)
    d = json.loads(path.read_text())
    d["face"]["crop"] = {**FER2013_RECIPE.to_card(), **bad}
    path.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="face.crop"):
        load_card(path)
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        CropRecipe.from_card(d["face"]["crop"])


def test_fer2013_crop_keeps_the_face_upright_at_its_template(astronaut, still):
    """Upright like a detector box (the head's roll stays), eye corners where the template puts
    them; the legacy recipe levels the eyes."""
    rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((220, 125), 15, 1.0), (512, 512),
                         borderMode=cv2.BORDER_REFLECT)
    seen = still.process(rot)
    with FaceProcessor(static_image_mode=True, recipe=FER2013_RECIPE) as fer_fp:
        r = fer_fp.process(rot)
    assert r.status == "ok"
    big = cv2.resize(cv2.copyMakeBorder(cv2.cvtColor(r.crop, cv2.COLOR_RGB2BGR), 56, 56, 56, 56, cv2.BORDER_REPLICATE),
                     None, fx=2, fy=2)
    again = still.process(big)
    assert again.status == "ok"
    assert again.roll_deg == pytest.approx(seen.roll_deg, abs=2.0) and abs(seen.roll_deg) > 10
    (lx, ly), (rx, _) = FER2013_RECIPE.eye_template
    lm = again.landmarks
    mid = (lm[33, :2] + lm[263, :2]) / 2 / 2 - 56  # back to crop pixels
    assert again.eye_distance_px / 2 == pytest.approx((rx - lx) * 112, rel=0.08)
    assert mid == pytest.approx(np.array([(lx + rx) / 2, ly]) * 112, abs=3.0)


def test_cut_off_face_is_padded_as_the_recipe_says(astronaut):
    """Constant padding leaves a flat fill where the frame ends (no streaks the network could
    read as a feature); the legacy recipe replicates the border, as before."""
    img = np.ascontiguousarray(astronaut[:, 185:])  # the face runs off the left edge
    crops, msgs = {}, {}
    for name, recipe in (("fer", FER2013_RECIPE), ("legacy", LEGACY_RECIPE)):
        with FaceProcessor(static_image_mode=True, recipe=recipe) as fp:
            r = fp.process(img)
        assert r.status == "cut_off" and r.crop is not None, r.message
        crops[name], msgs[name] = r.crop, r.message
    assert "filled with a constant" in msgs["fer"] and "edge replicated" in msgs["legacy"]
    left = crops["fer"][:, :3]
    assert (left == FER2013_RECIPE.pad_value).all()
    assert crops["legacy"][:, :3].std() > 5  # replicated streaks, CLAHE-sharpened


def test_grid_sampled_crop_gives_the_network_its_own_input(astronaut):
    """With sample_grid, resizing the crop to the grid (bilinear at pixel centres, as the face
    graph does) gives back the face sampled straight onto the grid, as the original pipeline
    resized its box: the network sees its own input, not a resample of a resample."""
    from dataclasses import replace

    from emer_live.features.face_crop import FaceCropper, crop_matrix

    rgb = cv2.cvtColor(astronaut, cv2.COLOR_BGR2RGB)
    pr, pl = np.array([205.0, 120.0]), np.array([246.0, 116.0])
    direct = cv2.warpAffine(rgb, crop_matrix(pr, pl, 64, FER2013_RECIPE, pixel_centres=True), (64, 64),
                            flags=cv2.INTER_LINEAR)
    graph_input = lambda crop: cv2.resize(crop, (64, 64), interpolation=cv2.INTER_LINEAR).astype(int)  # noqa: E731
    grid = FaceCropper(FER2013_RECIPE, 112)(rgb, pr, pl)
    plain = FaceCropper(replace(FER2013_RECIPE, sample_grid=None), 112)(rgb, pr, pl)
    err_grid = np.abs(graph_input(grid) - direct).mean()
    err_plain = np.abs(graph_input(plain) - direct).mean()
    assert err_grid < 0.5 * err_plain, (err_grid, err_plain)


def test_a_card_of_an_earlier_eye_v2_revision_is_refused(tmp_path):
    """eye-v2 changed meaning (revision 2: no 3D gaze point or directions, I-VT from the display
    point): a card made for the earlier values is refused with the reason, not fed the new ones."""
    path = build_model_double(tmp_path)
    d = json.loads(path.read_text())
    d["eye"]["schema"] = "eye-v2"
    path.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="eye schema eye-v2 revision 1: the app computes revision 2"):
        load_card(path)
    d["eye"]["schema_revision"] = 2
    path.write_text(json.dumps(d))
    assert load_card(path).eye_schema == "eye-v2"
