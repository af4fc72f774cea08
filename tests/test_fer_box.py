"""The detector-placed FER crop (fer_box = "detector", emer_live/features/face_box.py): `fer`'s own
box on real frames, the template where the detector finds nothing, recorded with a session, and
refused for a model whose crop recipe is not FER2013 framing. The live framing (fer_box =
"tracked"): the detector for a new face, at a cadence if one is set and where the carried box's
reading is a near tie, its box carried by the landmarks between; and a face the landmarks miss
read from the detector alone."""

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


def test_run_offers_the_networks_framing_and_the_template_alone(capsys, tmp_path, shared_data):
    """One default (auto: the network's own framing where the recipe is FER2013 framing) and the
    one setting a user may need (the template alone, the cheapest); the detector settings are the
    default's own parts, not choices."""
    for choice in ("detector", "tracked"):
        with pytest.raises(SystemExit):
            cli.main(["run", "--headless", "--video", str(shared_data / "video" / "single_face.mp4"),
                      "--fer-box", choice])
        assert "invalid choice" in capsys.readouterr().err


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
        fer = [x for x in map(json.loads, out.splitlines()) if x["type"] == "fer"]
        frames = [x["frame"] for x in fer]
        # one line per frame read, in frame order, even where a line waited for the detector thread
        assert frames == sorted(set(frames)) and len(fer) == summary["fer_frames"] + summary["fer_frames_no_face"]
        assert ("placed by the face detector" in err) == (want == "detector")
        # live input follows the face with the landmark network itself; a file run as fast as
        # possible keeps MediaPipe's face mesh graph (face_landmarks.py)
        live = "--realtime" in extra
        assert summary["face_landmarks_by"].startswith("landmark model tracked" if live else "face mesh (video)")


def test_headless_short_clip_with_the_detector_box_prints_fer_for_every_frame(capsys, demo_card, shared_data):
    video = shared_data / "video" / "single_face.mp4"
    assert cli.main(["run", "--headless", "--video", str(video), "--gaze", "none"]) == 0  # a file: the detector
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
    assert cli.main(["run", "--headless", "--video", str(video), "--gaze", "simulated:neutral",
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
    """fer_box "tracked" with no FER reader attached (nothing to tell a near tie): the detector's box
    on every 3rd frame, and between, that box kept in the face's own units (eye-corner midpoint and
    distance) and placed by this frame's eye corners; the network gets `fer`'s exact input for
    whichever box placed the crop."""
    from emer_live.features.face_crop import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    frames = [img for _, img in _frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", 1, 9)]
    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="tracked") as fp:
        assert fp._placement.check is None
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


class _TieOn:
    """A FER reader double for the tie check: the face encoder's output is a running number, and
    the readings of the calls in `ties` are near ties (0.4 / 0.35 / ...), the others confident."""

    def __init__(self, ties):
        self.ties, self.calls = set(ties), 0

    def embed(self, crops):
        self.calls += 1
        return np.full((len(crops), 7), float(self.calls))

    def probs(self, emb):
        tie = int(emb[0]) in self.ties
        return np.array([0.4, 0.35, 0.25, 0, 0, 0, 0]) if tie else np.array([0.95, 0.05, 0, 0, 0, 0, 0])


def _carried(lm_found, box, lm_next):
    """A detector crop box carried from the eye corners of the frame where it was found to another
    frame's: the same offset and side in units of the corners' distance."""
    from emer_live.features.face_crop import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    def corners(lm):
        pr, pl = lm[RIGHT_EYE_OUTER, :2].astype(float), lm[LEFT_EYE_OUTER, :2].astype(float)
        return (pr + pl) / 2, np.hypot(*(pl - pr))

    (m0, d0), (m1, d1) = corners(lm_found), corners(lm_next)
    return m1[0] + (box[0] - m0[0]) / d0 * d1, m1[1] + (box[1] - m0[1]) / d0 * d1, box[2] / d0 * d1


def test_tracked_runs_the_detector_where_the_carried_boxs_reading_is_a_near_tie(shared_data):
    """With a FER reader attached (the pipeline attaches its own) and no detector thread, a carried
    box whose two most likely classes are closer than the margin gets this frame's detector box
    instead (its correction kept for the next frames); a confident one is read as carried. The
    embedding the placement computed (the check's of a carried crop, the detector crop's own) comes
    back so the encoder runs once per crop. No fixed cadence by default with the check; without
    it, every 3rd frame."""
    frames = [img for _, img in _frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", 1, 5)]
    fake = _TieOn(ties={3})  # the encoder's 3rd call (the second carried crop's) reads a near tie
    lift = ExactLift(112)
    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="tracked", detector_thread=False) as fp:
        assert fp._placement.every is None and not fp._placement.background
        fp.attach_fer_reader(fake.embed, fake.probs)
        assert fp._placement.check is not None
        got = [fp.process(img) for img in frames]
        assert [r.placed_by for r in got] == ["detector", "tracked", "detector", "tracked", "tracked"]
        assert [r.fer_embedding[0] for r in got] == [1, 2, 4, 5, 6]  # frame 2: the check's 3, the detector crop's 4
        assert all(r.fer_pending is None for r in got)
        rect = RoiHaarDetector()(cv2.cvtColor(frames[2], cv2.COLOR_BGR2GRAY), got[2].box)
        assert np.array_equal(got[2].fer_crop, lift(fer_input64(frames[2], fer_crop_box(rect))))
        # frame 3 carries frame 2's correction
        box3 = _carried(got[2].landmarks, fer_crop_box(rect), got[3].landmarks)
        assert np.allclose(got[3].fer_crop, lift(fer_input64(frames[3], box3)))


def test_on_the_detector_thread_a_near_tie_is_read_when_its_run_is_done(shared_data):
    """The live face step's default: a near tie goes to the detector thread and the face step goes
    on with the carried box; the frame's run (a Future) gives the detector's crop, exactly as the
    face step would have placed it, and its correction carries to the next frames once in."""
    frames = [img for _, img in _frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", 1, 5)]
    fake = _TieOn(ties={3})
    lift = ExactLift(112)
    with FaceProcessor(recipe=FER2013_RECIPE, fer_box="tracked") as fp:
        assert fp._placement.background
        fp.attach_fer_reader(fake.embed, fake.probs)
        got = []
        for img in frames:
            got.append(fp.process(img))
            if got[-1].fer_pending is not None:
                read = got[-1].fer_pending.result(timeout=30)  # as a camera's next frame gives it time to
        assert [r.placed_by for r in got] == ["detector", "tracked", "tracked", "tracked", "tracked"]
        assert [r.fer_pending is not None for r in got] == [False, False, True, False, False]
        rect = RoiHaarDetector()(cv2.cvtColor(frames[2], cv2.COLOR_BGR2GRAY), got[2].box)
        assert np.array_equal(read.crop, lift(fer_input64(frames[2], fer_crop_box(rect))))
        assert read.embedding[0] == 4 and got[2].fer_embedding[0] == 3  # the run's own; the carried crop's
        box3 = _carried(got[2].landmarks, fer_crop_box(rect), got[3].landmarks)
        assert np.allclose(got[3].fer_crop, lift(fer_input64(frames[3], box3)))
    assert fp._placement._worker is None  # closing the face step stops the detector thread


def test_the_pipeline_reads_the_tie_checks_embedding_and_runs_the_encoder_once(shared_data, demo_card):
    """The pipeline attaches its FER reader to the live framing; a frame whose crop the check
    already encoded is read from that embedding (the same FER as encoding the crop again)."""
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.types import Frame

    engine = InferenceEngine(demo_card, prefer_gpu=False)
    fer_calls = []  # the encoder on FER crops (float gray levels; the window model's are uint8)
    embed = engine.embed_faces
    engine.embed_faces = lambda crops: fer_calls.append(crops.dtype == np.float32) or embed(crops)
    fp = FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe, fer_box="tracked")
    pipe = Pipeline(engine, face_processor=fp, use_eye=False)
    try:
        assert fp._placement.check is not None
        fers = []
        pipe.on_frame_fer = fers.append
        for i, img in _frames(shared_data / "video" / "single_face.mp4", 1, 6):
            res = pipe.on_frame(Frame(host_ns=(i + 1) * 33_000_000, index=i, image=img))
            if res.fer_embedding is not None:
                want = pipe.fer_reader.probs(embed(res.fer_crop[None])[0])
                assert np.allclose(fers[-1].probs7, want)
        placed = [f.placed_by for f in fers]
        assert len(fers) == 6 and placed[0] == "detector" and "tracked" in placed
        # the encoder once per FER crop; twice only where a near tie replaced the carried crop
        assert sum(fer_calls) == len(fers) + placed[1:].count("detector")
    finally:
        pipe.close()


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
    assert set(paths) == {"file", "live", "live_cadence_only", "template"}
    assert paths["file"]["agree"] == paths["live"]["agree"] == paths["file"]["frames_compared"] == 72
    live = paths["live"]["crops_placed_by"]
    assert set(live) == {"detector", "tracked"} and sum(live.values()) == 72 and live["detector"] >= 1
    assert paths["live"]["detector_share"] == round(live["detector"] / 72, 4)
    assert paths["live_cadence_only"]["crops_placed_by"] == {"detector": 24, "tracked": 48}
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


def _tie_pipeline(demo_card, find):
    """A pipeline with the live framing whose every carried crop is a near tie (margin above 1),
    its detector's box search replaced by find(original, image, landmark_box)."""
    from emer_live.pipeline.core import Pipeline
    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(demo_card, prefer_gpu=False)
    fp = FaceProcessor(crop_size=engine.card.crop_size, recipe=engine.card.crop_recipe, fer_box="tracked")
    pipe = Pipeline(engine, face_processor=fp, use_eye=False)
    fp._placement.check.margin = 1.01
    original = fp._placement.placement.find
    fp._placement.placement.find = lambda image, box: find(original, image, box)
    return engine, fp, pipe


def test_the_pipeline_emits_the_waiting_frames_fer_in_frame_order_and_loses_none(shared_data, demo_card):
    """Frames whose run is still on the detector thread hold back their FER line and every line
    after it; each comes out, in frame order, once its run is done (or when the stream ends), read
    from the detector's crop. At most MAX_PENDING runs wait: a face step that finds that many waits."""
    import time as _time

    from emer_live.types import Frame

    engine, fp, pipe = _tie_pipeline(demo_card, lambda find, image, box: _time.sleep(0.15) or find(image, box))
    fers, most_pending = [], 0
    pipe.on_frame_fer = fers.append
    try:
        for i, img in _frames(shared_data / "video" / "single_face.mp4", 1, 6):
            pipe.on_frame(Frame(host_ns=(i + 1) * 33_000_000, index=i, image=img))
            most_pending = max(most_pending, len(fp._placement._pending))
        assert len(fers) < 6  # runs still pending: their lines (and the later ones) wait
        pipe.emit_ready_fer(wait=True)
        assert [f.frame_index for f in fers] == list(range(6))
        assert [f.placed_by for f in fers] == ["detector"] * 6  # the first frame's run, then every tie's
        assert 1 <= most_pending <= fp._placement.MAX_PENDING
        reader = pipe.fer_reader
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        rect = RoiHaarDetector()(gray, fp._last_box)
        want = reader.probs(engine.embed_faces(ExactLift(112)(fer_input64(img, fer_crop_box(rect)))[None])[0])
        assert np.allclose(fers[-1].probs7, want)
    finally:
        pipe.close()


def test_a_failed_detector_run_leaves_the_carried_boxs_reading_and_is_counted(shared_data, demo_card):
    from emer_live.types import Frame

    import threading

    from emer_live.features.face_box import DETECTOR_THREAD

    def find(original, image, box):
        if threading.current_thread().name.startswith(DETECTOR_THREAD):  # the detector thread's runs fail
            raise RuntimeError("detector broke")
        return original(image, box)

    _, fp, pipe = _tie_pipeline(demo_card, find)
    fers = []
    pipe.on_frame_fer = fers.append
    try:
        for i, img in _frames(shared_data / "video" / "single_face.mp4", 1, 4):
            pipe.on_frame(Frame(host_ns=(i + 1) * 33_000_000, index=i, image=img))
        pipe.emit_ready_fer(wait=True)
        assert [f.placed_by for f in fers] == ["detector", "tracked", "tracked", "tracked"]
        assert all(f.has_face for f in fers) and pipe.counts["fer_detector_failed"] == 3
    finally:
        pipe.close()


def test_a_window_waits_for_the_fer_of_every_frame_up_to_its_end(shared_data, demo_card):
    """The frame stream's watermark (what a live window waits for) stays before the oldest frame
    whose FER still waits for its detector run, so a window's FER mean holds every frame up to its
    end, as a replay's does; waiting up to a time emits those frames and no later one."""
    import time as _time

    from emer_live.types import Frame

    _, fp, pipe = _tie_pipeline(demo_card, lambda find, image, box: _time.sleep(0.15) or find(image, box))
    fers = []
    pipe.on_frame_fer = fers.append
    try:
        times = []
        for i, img in _frames(shared_data / "video" / "single_face.mp4", 1, 4):
            times.append((i + 1) * 33_000_000)
            pipe.on_frame(Frame(host_ns=times[-1], index=i, image=img))
        waiting = [w[0].host_ns for w in pipe._fer_waiting]
        assert waiting and pipe.watermarks[0] == waiting[0] - 1 < times[-1]
        pipe.emit_ready_fer(wait_until_ns=times[1])
        assert [f.frame_index for f in fers][:2] == [0, 1] and all(f.frame_index <= 3 for f in fers)
        assert pipe.watermarks[0] == (pipe._fer_waiting[0][0].host_ns - 1 if pipe._fer_waiting else times[-1])
        pipe.emit_ready_fer(wait=True)
        assert [f.frame_index for f in fers] == [0, 1, 2, 3] and pipe.watermarks[0] == times[-1]
    finally:
        pipe.close()
