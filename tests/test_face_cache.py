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
    # s03 has no face: the others are cached, and the exit status says a sample failed
    assert main(["faces", "cache", str(faces_dir), "--out", str(tmp_path / "c"), "--frames", "4", "--no-progress"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["samples"] == 2 and "sample s03 failed: no face found" in out.err
    shutil.rmtree(faces_dir / "s03")
    assert main(["faces", "cache", str(faces_dir), "--out", str(tmp_path / "c"), "--frames", "4", "--no-progress"]) == 0
    assert main(["faces", "cache", str(tmp_path / "none"), "--out", str(tmp_path / "c")]) == 2
    assert "faces folder" in capsys.readouterr().err


def test_recorded_sessions_are_read_from_their_own_frames(tmp_path, shared_data, capsys):
    """A folder of sessions (as `--record` leaves them): each is one sample, its frames read from the
    session's own video; a session without frames fails and the command says so in its exit status."""
    from emer_live.recording.session import RecordingSession
    from emer_live.recording.session_reader import SessionReader
    from emer_live.types import Frame

    rec = tmp_path / "rec"
    s = RecordingSession(rec / "P01_a", "P01", consent=True, block_when_full=True)
    cap = cv2.VideoCapture(str(shared_data / "video" / "single_face.mp4"))
    for i in range(8):
        ok, img = cap.read()
        assert ok
        s.sink.on_frame(Frame(host_ns=s.meta["started_host_ns"] + i * 33_000_000, index=i, image=img))
    cap.release()
    s.close()
    RecordingSession(rec / "P02_a", "P02", consent=True).close()  # recorded nothing
    out = tmp_path / "crops"
    assert main(["faces", "cache", str(rec), "--out", str(out), "--frames", "4", "--no-progress"]) == 1
    res = capsys.readouterr()
    assert "sample P02_a failed: session" in res.err and "holds no frames" in res.err
    assert json.loads(res.out)["failed"].keys() == {"P02_a"}
    with np.load(out / "P01_a.npz") as z:
        crops, idx = z["crops"], z["frame_index"]
    assert len(crops) == 4 and idx.tolist() == [0, 2, 5, 7]
    # cut as the sessions' own crops were (session.json face_crops.recipe; none recorded: the legacy crop)
    from emer_live.features.face_crop import LEGACY_RECIPE

    assert "the crop recipe the sessions' own face crops were made with" in res.err
    manifest = json.loads((out / MANIFEST).read_text())
    assert {k: manifest["recipe"][k] for k in LEGACY_RECIPE.to_card()} == LEGACY_RECIPE.to_card()
    reader = SessionReader(rec / "P01_a")
    with FaceProcessor(static_image_mode=True, recipe=LEGACY_RECIPE) as fp:
        same = fp.process(reader.frame_image(5)).crop  # the third crop is of frame 5 (row 5)
    assert np.abs(same.astype(int) - crops[2].astype(int)).max() <= 1


def test_the_cards_crop_recipe_when_given(tmp_path, faces_dir, repo_root, capsys):
    from emer_live.model_card import load_card

    card = repo_root / "models" / "emert-demo.card.json"
    shutil.rmtree(faces_dir / "s03")
    (faces_dir / "s02.mp4").unlink()
    out = tmp_path / "c"
    assert main(["faces", "cache", str(faces_dir), "--out", str(out), "--frames", "2", "--no-progress",
                 "--card", str(card)]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    want = load_card(card).crop_recipe.to_card()
    assert {k: manifest["recipe"][k] for k in want} == want
