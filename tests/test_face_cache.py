"""Training crops through the runtime's face pipeline: `emer-live faces cache` on real face videos
(made by others) gives the very crops FaceProcessor gives live, cached once, with workers; samples
without a face are reported, never filled."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from emer_live.cli import main
from emer_live.errors import SourceError
from emer_live.features.face import FaceProcessor
from emer_live.features.face_cache import MANIFEST, build_cache, load_crops


@pytest.fixture
def faces_dir(tmp_path, shared_data):
    d = tmp_path / "faces"
    d.mkdir()
    shutil.copy(shared_data / "video" / "single_face.mp4", d / "s01.mp4")
    shutil.copy(shared_data / "video" / "WolfgangLanger_Pexels.mp4", d / "s02.mp4")
    blank = d / "s03"  # an image folder with no face in it
    blank.mkdir()
    for i in range(3):
        cv2.imwrite(str(blank / f"{i:03d}.png"), np.full((120, 160, 3), 90, np.uint8))
    return d


def test_cache_holds_the_runtime_pipelines_crops(tmp_path, faces_dir):
    out = tmp_path / "crops"
    summary = build_cache(faces_dir, out, frames=6, workers=2, progress=False)
    assert summary["processed"] == 3 and list(summary["failed"]) == ["s03"]
    assert "no face found in any of the 3 frames" in summary["failed"]["s03"]
    with np.load(out / "s01.npz") as z:
        crops, idx = z["crops"], z["frame_index"]
    assert crops.shape[1:] == (112, 112, 3) and crops.dtype == np.uint8 and len(crops) >= 4
    # the same frame through the live FaceProcessor (static mode, as the cache uses) gives the same crop
    cap = cv2.VideoCapture(str(faces_dir / "s01.mp4"))
    for _ in range(int(idx[1]) + 1):
        ok, img = cap.read()
    cap.release()
    with FaceProcessor(static_image_mode=True) as fp:
        live = fp.process(img).crop
    assert np.abs(live.astype(int) - crops[1].astype(int)).max() <= 1
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["recipe"]["crop_size"] == 112 and manifest["failed"] == summary["failed"]
    with pytest.raises(SourceError, match=r"sample 's03': no face crops .*no face found"):
        load_crops(out, "s03")
    # cached once: a second run processes only what failed before
    again = build_cache(faces_dir, out, frames=6, workers=1, progress=False)
    assert again["processed"] == 1 and again["cached_before"] == 2
    with pytest.raises(SourceError, match="crops made another way"):
        build_cache(faces_dir, out, frames=12, progress=False)


def test_cli(tmp_path, faces_dir, capsys):
    (faces_dir / "s02.mp4").unlink()
    assert main(["faces", "cache", str(faces_dir), "--out", str(tmp_path / "c"), "--frames", "4", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 2
    assert main(["faces", "cache", str(tmp_path / "none"), "--out", str(tmp_path / "c")]) == 2
    assert "faces folder" in capsys.readouterr().err
