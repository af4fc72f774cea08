"""The detector-placed FER crop (fer_box = "detector", emer_live/features/face_box.py): `fer`'s own
box on real frames, the template where the detector finds nothing, recorded with a session, and
refused for a model whose crop recipe is not FER2013 framing. The live framing (fer_box =
"tracked"): the detector at its cadence, its box carried by the landmarks between, restarted for a
new face; and a face the landmarks miss read from the detector alone."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from emer_live import cli
from emer_live.features.face import FaceProcessor
from emer_live.bench.fer_agreement import read_reference
from emer_live.features.face_box import (RoiHaarDetector, TrackedPlacement, check_fer_box, eye_points_of_box,
                                         fer_crop_box, resolve_fer_box)
from emer_live.features.face_crop import FER2013_RECIPE, LEGACY_RECIPE, FaceCropper
from emer_live.features.fer_input import ExactLift, fer_input64
from emer_live.pipeline.engine import default_model_path
from model_doubles import build_model_double


@pytest.fixture(scope="module")
def demo_card():
    path = default_model_path()
    if not path.exists():
        pytest.skip("default model not exported")
    return str(path)


def _frames(video, every: int, n: int):
    cap = cv2.VideoCapture(str(video))
    i = 0
    while i < n:
        ok, img = cap.read()
        assert ok
        if i % every == 0:
            yield i, img
        i += 1
    cap.release()


@pytest.mark.parametrize("name, every, n", [("WolfgangLanger_Pexels", 20, 120), ("single_face", 12, 72)])
def test_the_roi_detector_gives_the_full_frame_detectors_box_on_real_frames(shared_data, name, every, n):
    """Run only near the landmarks, at the scales near the face, `fer`'s Haar detector finds the box
    the full-frame detector (as `fer` calls it) finds, to the pixel; over a blank frame, none."""
    det = RoiHaarDetector()
    checked = 0
    with FaceProcessor() as fp:
        for _, img in _frames(shared_data / "video" / f"{name}.mp4", every, n):
            r = fp.process(img)
            assert r.landmarks is not None
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            want = det.full_frame(gray)
            assert want is not None and det(gray, r.box) == want
            checked += 1
    assert checked == n // every
    assert det(np.full_like(gray, 128), r.box) is None  # the same landmark box, nothing to find


def test_the_face_step_crops_the_detector_box_and_falls_back_to_the_template(shared_data):
    """With fer_box="detector" the per-frame FER's crop is `fer`'s own 64x64 input for its box
    (squared, 10 px padded) lifted exactly: float gray levels, the same in the three channels. The
    window model's crop stays the template's, the very crop of the template setting. Where the
    detector finds nothing near the landmarks (here: it is handed a blank frame) the FER reads the
    template's crop too, and the result says which box placed it."""
    (_, img), = _frames(shared_data / "video" / "single_face.mp4", 1, 1)
    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="detector") as fp, \
            FaceProcessor(recipe=FER2013_RECIPE) as tp:
        r, t = fp.process(img), tp.process(img)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        want = ExactLift(112)(fer_input64(img, fer_crop_box(fp._placement.detector.full_frame(gray))))
        assert r.placed_by == "detector" and t.placed_by is None and t.fer_crop is None
        assert r.fer_crop.dtype == np.float32 and np.array_equal(r.fer_crop, want)
        assert (r.fer_crop[:, :, 0] == r.fer_crop[:, :, 1]).all() and (r.fer_crop[:, :, 1] == r.fer_crop[:, :, 2]).all()
        assert r.crop.dtype == np.uint8 and np.array_equal(r.crop, t.crop)

        real = fp._placement.detector
        fp._placement.detector = lambda g, box: real(np.full_like(g, 128), box)
        r = fp.process(img)
        assert r.status == "ok" and r.placed_by == "template" and r.fer_crop is None
        assert np.array_equal(r.crop, tp.process(img).crop)
    blank = np.full_like(img, 128)
    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="detector", static_image_mode=True) as fp:
        r = fp.process(blank)
        assert r.status == "no_face" and r.crop is None and r.fer_crop is None and r.placed_by is None


def test_without_the_64_grid_the_detector_box_is_cut_out_by_the_recipes_sampling(shared_data):
    """A FER2013-framed recipe whose face graph does not resize to 64x64 itself (no sample_grid)
    cannot take `fer`'s 64x64 input: the detector's box is then cut out by the recipe's sampling."""
    import dataclasses

    recipe = dataclasses.replace(FER2013_RECIPE, sample_grid=None)
    (_, img), = _frames(shared_data / "video" / "single_face.mp4", 1, 1)
    with FaceProcessor(recipe=recipe, fer_box="detector") as fp:
        r = fp.process(img)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        want = FaceCropper(recipe, 112)(cv2.cvtColor(img, cv2.COLOR_BGR2RGB),
                                        *eye_points_of_box(recipe, fer_crop_box(fp._placement.detector.full_frame(gray))))
        assert r.placed_by == "detector" and r.fer_crop.dtype == np.uint8 and np.array_equal(r.fer_crop, want)


def test_a_box_maps_exactly_onto_the_crop():
    """The stand-in eye points make the recipe's upright template map the box's corners onto the
    crop's corners."""
    from emer_live.features.face_crop import crop_matrix

    box = (200.0, 150.0, 220)
    m = crop_matrix(*eye_points_of_box(FER2013_RECIPE, box), 64, FER2013_RECIPE)
    corners = np.array([[90.0, 40.0, 1.0], [310.0, 260.0, 1.0]])
    assert np.allclose(corners @ m.T, [[0, 0], [64, 64]])


def test_fer_crop_box_squares_and_pads_as_fer_does():
    assert fer_crop_box((100, 50, 200, 200)) == (200.0, 150.0, 220)
    cx, cy, s = fer_crop_box((100, 50, 200, 210))  # taller: widened about its centre, as fer does
    assert s == 230 and cx == 100 - 5 - 10 + 115


def test_only_fer2013_framing_takes_the_detector_box():
    check_fer_box("detector", FER2013_RECIPE)
    check_fer_box("template", LEGACY_RECIPE)
    with pytest.raises(ValueError, match="frames the face differently"):
        check_fer_box("detector", LEGACY_RECIPE, "model 'resnet'")
    with pytest.raises(ValueError, match="unknown"):
        check_fer_box("haar", FER2013_RECIPE)
    with pytest.raises(ValueError, match="FER2013 framing"):
        FaceProcessor(recipe=LEGACY_RECIPE, fer_box="detector")


def test_run_refuses_the_detector_box_for_a_model_with_another_crop_recipe(capsys, tmp_path, shared_data):
    card = build_model_double(tmp_path, window_s=2.0)  # no face.crop: the legacy (ResNet-18) recipe
    rc = cli.main(["run", "--headless", "--video", str(shared_data / "video" / "single_face.mp4"), "--gaze", "none",
                   "--model", str(card), "--fer-box", "detector"])
    out, err = capsys.readouterr()
    assert rc == 2 and not out
    assert "--fer-box detector" in err and "FER2013 framing" in err and "'double'" in err
    assert "--fer-box template" in err


def test_auto_places_by_the_detector_offline_and_tracked_live(capsys, tmp_path, demo_card, shared_data):
    """`run`'s default: a file run as fast as possible gets the detector crop (FER2013 recipe),
    the same file at its own pace (as live input) the tracked detector box; a model with another
    recipe gets the template either way, not a refusal."""
    assert resolve_fer_box("auto", offline=True, recipe=FER2013_RECIPE) == "detector"
    assert resolve_fer_box("auto", offline=False, recipe=FER2013_RECIPE) == "tracked"
    assert resolve_fer_box("auto", offline=False, recipe=LEGACY_RECIPE) == "template"
    assert resolve_fer_box("auto", offline=True, recipe=LEGACY_RECIPE) == "template"
    assert resolve_fer_box("template", offline=True, recipe=FER2013_RECIPE) == "template"
    video = str(shared_data / "video" / "single_face.mp4")
    double = str(build_model_double(tmp_path, window_s=2.0))
    for extra, want in (([], "detector"), (["--realtime"], "tracked"), (["--model", double], "template")):
        assert cli.main(["run", "--headless", "--video", video, "--gaze", "none", *extra]) == 0
        out, err = capsys.readouterr()
        summary = json.loads(out.splitlines()[-1])
        assert summary["fer_box"] == want, extra
        assert ("placed by the face detector" in err) == (want == "detector")
        # live input follows the face with the landmark network itself; a file run as fast as
        # possible keeps MediaPipe's face mesh graph (face_landmarks.py)
        live = "--realtime" in extra
        assert summary["face_landmarks_by"].startswith("landmark model tracked" if live else "face mesh (video)")


def test_headless_short_clip_with_the_detector_box_prints_fer_for_every_frame(capsys, demo_card, shared_data):
    video = shared_data / "video" / "single_face.mp4"
    assert cli.main(["run", "--headless", "--video", str(video), "--gaze", "none", "--fer-box", "detector"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    (fmt,) = [x for x in lines if x["type"] == "fer_format"]
    fer = [x for x in lines if x["type"] == "fer"]
    assert fmt["crop_box"] == "detector"
    assert [x["frame"] for x in fer] == list(range(72)) and all(x["face"] == "ok" and len(x["p"]) == 7 for x in fer)
    s = lines[-1]
    assert s["fer_frames"] == 72 and s["fer_box"] == "detector"
    # every frame's crop placed by the detector (it finds this face on all of them), and each line says so
    assert s["fer_crops_placed_by"] == {"detector": 72} and all(x["fer_crop"] == "detector" for x in fer)
    # fed `fer`'s exact input, the face encoder gives the original network's (Keras run) top class
    # on every frame (probabilities per mille: the top one is unique on each of these frames)
    keras = read_reference(shared_data / "reference" / "fer_original" / "single_face_fer_keras.csv")
    assert sorted(keras) == list(range(72))
    for x in fer:
        p = x["p"]
        assert p.count(max(p)) == 1 and fmt["classes"][p.index(max(p))] == keras[x["frame"]], x


def test_the_setting_is_recorded_and_replayed(tmp_path, capsys, demo_card, shared_data):
    video = shared_data / "video" / "single_face.mp4"
    assert cli.main(["run", "--headless", "--video", str(video), "--gaze", "simulated:neutral", "--fer-box", "detector",
                     "--record", str(tmp_path), "--participant", "p01", "--consent"]) == 0
    live = {x["frame"]: x["p"] for x in map(json.loads, capsys.readouterr().out.splitlines()) if x["type"] == "fer"}
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((folder / "session.json").read_text())["pipeline"]["fer_box"] == "detector"
    # the recorded crops are the window model's, the landmark template's (the detector's feeds the
    # per-frame FER only, which frame_fer.csv keeps)
    pngs = sorted((folder / "face_crops").glob("*.png"))
    assert pngs
    for png in pngs:
        crop = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert crop is not None and crop.dtype == np.uint8 and crop.shape == (112, 112, 3)
        assert not (crop[:, :, 0] == crop[:, :, 2]).all()  # a colour crop, not the FER's gray one
    # faces re-detected in the recorded (JPEG) video get the recorded setting, or the one asked for
    for extra, want in (([], "detector"), (["--fer-box", "template"], "template")):
        assert cli.main(["replay", str(folder), "--fast", "--headless", "--reprocess-faces", *extra]) == 0
        rep = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        (fmt,) = [x for x in rep if x.get("type") == "fer_format"]
        pipe = rep[-1]["summary"]["pipeline"]
        assert fmt["crop_box"] == want and pipe["fer_box"] == want
        assert {x["frame"] for x in rep if x.get("type") == "fer"} == live.keys()
        assert sum(pipe.get("fer_crops_placed_by", {}).values()) == (72 if want == "detector" else 0)
    # --fer-box without --reprocess-faces would not re-place anything: refused
    assert cli.main(["replay", str(folder), "--fast", "--headless", "--fer-box", "template"]) == 2
    assert "--reprocess-faces" in capsys.readouterr().err


def _slow_fer_input64(image, box):
    """`fer`'s input made as `fer` makes it: the whole frame gray, padded, the box sliced out."""
    from emer_live.features.fer_input import FER_INPUT, FER_PAD

    g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    cx, cy, s = box
    x0, y0, s = int(round(cx - s / 2)), int(round(cy - s / 2)), int(round(s))
    g = cv2.copyMakeBorder(g, FER_PAD, FER_PAD, FER_PAD, FER_PAD, cv2.BORDER_CONSTANT, value=[cv2.mean(g[-2:])[0]] * 3)
    cut = g[max(0, y0 + FER_PAD):y0 + s + FER_PAD, max(0, x0 + FER_PAD):x0 + s + FER_PAD]
    return None if cut.size == 0 else cv2.resize(cut, (FER_INPUT, FER_INPUT))


def test_fers_input_from_the_box_alone_equals_fers_own_whole_frame_way(shared_data):
    """fer_input64 turns only the box's pixels gray and pads only the box: the same input, to the
    gray level, for boxes inside, across the edges, in the padding only, far outside (where `fer`'s
    slicing wraps), on a real frame in colour and in gray."""
    (_, img), = _frames(shared_data / "video" / "single_face.mp4", 1, 1)
    rng = np.random.default_rng(3)
    h, w = img.shape[:2]
    boxes = [(rng.uniform(-200, w + 200), rng.uniform(-200, h + 200), rng.uniform(4, 500)) for _ in range(400)]
    boxes += [(-30.0, -30.0, 40.0), (w + 30.0, h + 30.0, 40.0), (w / 2, h / 2, 3 * w), (-150.0, 100.0, 100.0)]
    for image in (img, cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)):
        for box in boxes:
            want, got = _slow_fer_input64(image, box), fer_input64(image, box)
            assert (want is None) == (got is None), box
            assert want is None or np.array_equal(want, got), box


def test_tracked_runs_the_detector_at_its_cadence_and_carries_its_box_between(shared_data):
    """fer_box "tracked": the detector's box on every `every`-th frame, and between, that box kept in
    the face's own units (eye-corner midpoint and distance) and placed by this frame's eye corners;
    the network gets `fer`'s exact input for whichever box placed the crop."""
    from emer_live.features.face_crop import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    frames = [img for _, img in _frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", 1, 9)]
    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="tracked") as fp:
        fp._placement.every = 3
        lift, held = ExactLift(112), None
        for i, img in enumerate(frames):
            r = fp.process(img)
            lm = r.landmarks
            pr, pl = lm[RIGHT_EYE_OUTER, :2].astype(float), lm[LEFT_EYE_OUTER, :2].astype(float)
            mid, d = (pr + pl) / 2, np.hypot(*(pl - pr))
            if i % 3 == 0:
                assert r.placed_by == "detector", i
                rect = fp._placement.placement.detector(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), r.box)
                box = fer_crop_box(rect)
                held = ((box[0] - mid[0]) / d, (box[1] - mid[1]) / d, box[2] / d)
            else:
                assert r.placed_by == "tracked", i
                box = (mid[0] + held[0] * d, mid[1] + held[1] * d, held[2] * d)
            assert r.fer_crop.dtype == np.float32 and np.allclose(r.fer_crop, lift(fer_input64(img, box))), i
            assert r.new_face == (i == 0)


def test_tracked_says_template_until_the_detector_has_found_the_face_and_restarts_for_a_new_face(shared_data):
    (_, img), = _frames(shared_data / "video" / "single_face.mp4", 1, 1)
    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="tracked") as fp, FaceProcessor(recipe=FER2013_RECIPE) as tp:
        det = fp._placement.placement.detector
        fp._placement.placement.detector = lambda g, box: det(np.full_like(g, 128), box)  # finds nothing
        r = fp.process(img)
        assert r.placed_by == "template" and r.fer_crop is None and np.array_equal(r.crop, tp.process(img).crop)
        fp._placement.placement.detector = det
        assert fp.process(img).placed_by == "detector"  # no box held yet: the detector runs on the next frame
        assert fp.process(img).placed_by == "tracked"
        # the same face moved by more than half its width: another face, the detector runs again at once
        shifted = np.roll(img, img.shape[1] // 4, axis=1)
        r = fp.process(shifted)
        assert r.new_face and r.placed_by == "detector"


def test_a_face_the_landmarks_miss_is_read_from_the_detector_alone(shared_data):
    """Where the landmarks find no face, the detector settings run `fer`'s detector over the whole
    frame, as the original does on every frame: its face is read on that very frame, the result says
    so; the template setting reports no face, as before."""
    (_, img), = _frames(shared_data / "video" / "single_face.mp4", 1, 1)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    for fer_box in ("tracked", "detector"):
        with FaceProcessor(recipe=FER2013_RECIPE, fer_box=fer_box) as fp:
            fp._landmarks = lambda image: []  # the landmark model misses this face
            r = fp.process(img)
            rect = RoiHaarDetector().full_frame(gray)
            assert r.status == "ok" and r.placed_by == "detector" and r.n_faces == 1 and r.landmarks is None
            assert "detector only" in r.message and r.new_face
            assert np.array_equal(r.fer_crop, ExactLift(112)(fer_input64(img, fer_crop_box(rect))))
            assert r.crop.dtype == np.uint8 and r.crop.shape == (112, 112, 3)
            assert fp.process(np.full_like(img, 128)).status == "no_face"
    with FaceProcessor(recipe=FER2013_RECIPE) as tp:
        tp._landmarks = lambda image: []
        assert tp.process(img).status == "no_face"


def test_tracked_is_refused_for_another_crop_recipe():
    with pytest.raises(ValueError, match="'tracked'.*FER2013 framing"):
        check_fer_box("tracked", LEGACY_RECIPE, "model 'x'")
    check_fer_box("tracked", FER2013_RECIPE)
    with pytest.raises(ValueError, match="at least every frame"):
        TrackedPlacement(FER2013_RECIPE, 112, every=0)


def test_tracked_in_the_background_never_waits_for_the_detector_after_a_faces_first_box(shared_data):
    """Live input (fer_detect_in_background): a face's first box is found on its own frame; the
    detector's later runs go to a thread of their own, and each frame carries the newest
    correction that has arrived, measured on the frame the detector ran on."""
    from emer_live.features.face_crop import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    frames = [img for _, img in _frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", 1, 4)]

    def eyes(r):
        pr, pl = r.landmarks[RIGHT_EYE_OUTER, :2].astype(float), r.landmarks[LEFT_EYE_OUTER, :2].astype(float)
        return (pr + pl) / 2, np.hypot(*(pl - pr))

    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="tracked", fer_detect_in_background=True) as fp:
        tp = fp._placement
        tp.every = 1
        assert fp.process(frames[0]).placed_by == "detector"
        r1 = fp.process(frames[1])  # carries frame 0's correction, hands frame 1 to the detector thread
        assert r1.placed_by == "tracked" and tp._pending is not None
        tp._pending.result()
        rect = RoiHaarDetector()(cv2.cvtColor(frames[1], cv2.COLOR_BGR2GRAY), r1.box)
        box, (mid, d) = fer_crop_box(rect), eyes(r1)
        want = ((box[0] - mid[0]) / d, (box[1] - mid[1]) / d, box[2] / d)
        r2 = fp.process(frames[2])
        mid, d = eyes(r2)
        carried = (mid[0] + want[0] * d, mid[1] + want[1] * d, want[2] * d)
        assert r2.placed_by == "tracked" and np.allclose(tp._held, want)
        assert np.allclose(r2.fer_crop, ExactLift(112)(fer_input64(frames[2], carried)))
        # another face: a run under way for the old one is dropped, and the new face's first box is
        # found on its own frame again
        tp.reset()
        assert tp._pending is None and fp.process(frames[3]).placed_by == "detector"
    assert tp._pool is None  # closed with the face step


def test_the_agreement_command_prints_per_clip_figures_for_the_live_and_file_paths(capsys, tmp_path, demo_card,
                                                                                   shared_data):
    """`emer-live bench fer-agreement CLIP --data DIR`: the clip's recorded original run is the
    reference; the file path (detector) and the live path (tracked) both give its top class on
    every frame of single_face; a clip with no recorded run is compared with `fer`'s pipeline
    reproduced; a missing clip is refused."""
    clip = shared_data / "video" / "single_face.mp4"
    out = tmp_path / "agreement.json"
    assert cli.main(["bench", "fer-agreement", str(clip), "--data", str(shared_data), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "single_face.mp4: reference = the original's recorded Keras run (72 face frames" in text
    (r,) = json.loads(out.read_text())["clips"]
    paths = r["paths"]
    assert set(paths) == {"file", "live", "live_detector_thread", "template"}
    assert paths["file"]["agree"] == paths["live"]["agree"] == paths["file"]["frames_compared"] == 72
    assert paths["live"]["crops_placed_by"] == {"detector": 24, "tracked": 48}
    assert paths["template"]["crops_placed_by"] == {"template": 72}
    assert r["live_minus_file_points"] == 0.0 and r["target_met"]
    # without --data the same clip is compared with the original's pipeline reproduced here
    assert cli.main(["bench", "fer-agreement", str(clip), "--json", str(out)]) == 0
    (r,) = json.loads(out.read_text())["clips"]
    assert r["reference"].startswith("the original's pipeline reproduced") and r["reference_face_frames"] == 72
    assert r["paths"]["file"]["agreement"] == 1.0
    capsys.readouterr()
    assert cli.main(["bench", "fer-agreement", str(tmp_path / "none.mp4")]) == 2
    assert "not found" in capsys.readouterr().err
