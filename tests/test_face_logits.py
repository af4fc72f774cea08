"""`emer-live faces logits`: the face step of `emer-train build-demo` as a product command. On a real
video (made by others) it gives the logits stored in training/data/real_face_logits.npz, which the
demo model was trained on; bad input ends with exit 2 and one line."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from emer_live import cli

REPO = Path(__file__).resolve().parents[1]
DEMO_CARD = REPO / "models" / "emert-demo.card.json"
STORED = REPO / "training" / "data" / "real_face_logits.npz"


def test_real_video_gives_the_stored_logits(shared_data, tmp_path, capsys):
    out = tmp_path / "faces.npz"
    video = shared_data / "video" / "single_face.mp4"
    assert cli.main(["faces", "logits", "--video", str(video), "--model", str(DEMO_CARD), "--out", str(out)]) == 0
    assert "72 crops from ['single_face']" in capsys.readouterr().out
    made, stored = np.load(out), np.load(STORED)
    k = list(stored["names"]).index("single_face")
    assert list(made["names"]) == ["single_face"] and (made["source"] == 0).all()
    assert (made["frame"] == stored["frame"][stored["source"] == k]).all()
    np.testing.assert_allclose(made["logits"], stored["logits"][stored["source"] == k], atol=1e-4)
    assert list(made["classes"]) == json.loads(DEMO_CARD.read_text())["face"]["expression"]["classes"]


def test_bad_input_is_refused_in_one_line(tmp_path, capsys):
    blank = tmp_path / "blank"
    blank.mkdir()
    cv2.imwrite(str(blank / "0.png"), np.full((240, 320, 3), 128, np.uint8))
    no_expression = json.loads(DEMO_CARD.read_text())
    del no_expression["face"]["expression"]
    for g in ("full", "face_encoder", "fusion"):  # the card beside copies of its graphs' names
        no_expression["graphs"][g] = str(DEMO_CARD.parent.resolve() / no_expression["graphs"][g])
    card2 = tmp_path / "x.card.json"
    card2.write_text(json.dumps(no_expression))
    cases = [(["--video", str(tmp_path / "nope.mp4"), "--model", str(DEMO_CARD)], "not found"),
             (["--video", str(blank), "--model", str(DEMO_CARD)], "no face found in any frame of blank"),
             (["--video", str(blank), "--model", str(card2)], "no per-frame expression output")]
    for argv, said in cases:
        assert cli.main(["faces", "logits", *argv, "--out", str(tmp_path / "o.npz")]) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.npz").exists()
