"""The face step's own landmark tracking (face_landmarks.py) against MediaPipe's face mesh, on the
shared real videos: the converted network gives the face mesh's landmarks, the tracker follows
the face as the face mesh does, and a face that leaves is reported gone, not held."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emer_live.features import face_landmarks
from emer_live.features.face import FaceProcessor, _MeshRunner
from emer_live.features.face_landmarks import FaceLandmarkModel, LandmarkTracker, region_from_landmarks
from emer_live.features.tflite_to_onnx import UnsupportedModel, tflite_to_onnx


def _frames(path, n):
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    assert out, f"cannot read {path}"
    return out


@pytest.fixture(scope="module")
def model():
    return FaceLandmarkModel()


def _face_mesh(static):
    import mediapipe as mp

    return _MeshRunner(mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=1))


@pytest.mark.parametrize("video,n", [("single_face.mp4", 72), ("WolfgangLanger_Pexels.mp4", 200)])
def test_network_gives_the_face_meshs_landmarks(shared_data, model, video, n):
    """Given the region the face mesh derived from its previous frame, the converted network run
    here gives the face mesh's landmarks for the frame (float32 rounding apart): the conversion,
    the region, the cut-out and the projection back are all MediaPipe's."""
    frames = _frames(shared_data / "video" / video, n)
    mesh = _face_mesh(static=False)
    prev, worst, compared = None, 0.0, 0
    for f in frames:
        h, w = f.shape[:2]
        ref = mesh(f)
        if prev is not None and ref:
            ours, score = model(f, region_from_landmarks(prev, w, h))
            assert score > 0.9
            worst = max(worst, float(np.abs((ours[:, :2] - ref[0][:, :2]) * [w, h]).max()))
            assert np.abs(ours[:, 2] - ref[0][:, 2]).max() * w < 0.2
            compared += 1
        prev = ref[0] if ref else None
    assert compared >= 0.95 * (len(frames) - 1)
    assert worst < 0.2  # pixels, over all 468 points of every frame


@pytest.mark.parametrize("video,n", [("single_face.mp4", 72), ("WolfgangLanger_Pexels.mp4", 472)])
def test_tracker_follows_the_face_as_the_face_mesh_does(shared_data, model, video, n):
    """Tracked by itself over the whole clip (found once, then followed), the landmarks stay on
    the face mesh's own: the same frames have a face, and the points differ by well under a pixel
    on average (the small float differences of the two runtimes feed back through the region)."""
    frames = _frames(shared_data / "video" / video, n)
    mesh = _face_mesh(static=False)
    tracker = LandmarkTracker(_face_mesh(static=True), model)
    diffs = []
    for f in frames:
        h, w = f.shape[:2]
        ref, ours = mesh(f), tracker(f)
        assert bool(ref) == bool(ours)
        if ours:
            diffs.append(np.abs((ours[0][:, :2] - ref[0][:, :2]) * [w, h]).mean())
    assert tracker.finds == 1
    assert np.mean(diffs) < 0.25 and np.max(diffs) < 3.0


def test_face_step_tracks_by_default_and_reports_a_face_that_leaves(shared_data):
    """Live video with one face uses the tracker. A frame without the face says "no_face" (not the
    last landmarks), and the face is found again on the very next frame that shows it."""
    frames = _frames(shared_data / "video" / "single_face.mp4", 20)
    blank = np.full_like(frames[0], 90)
    with FaceProcessor() as fp:
        assert isinstance(fp._landmarks, LandmarkTracker), fp.landmarks_by
        got = [fp.process(f).status for f in frames[:8]]
        gone = fp.process(blank)
        back = fp.process(frames[8])
    assert all(s in ("ok", "cut_off") for s in got)
    assert gone.status == "no_face" and gone.landmarks is None and gone.crop is None
    assert back.status in ("ok", "cut_off") and back.crop is not None
    assert fp._landmarks.finds == 3  # the first frame, the blank one (nothing found), the face's return


@pytest.mark.parametrize("kwargs", [dict(max_num_faces=2), dict(iris_landmarks=True), dict(static_image_mode=True),
                                    dict(tracker=False)])
def test_other_settings_run_the_face_mesh_graph(kwargs):
    with FaceProcessor(**kwargs) as fp:
        assert isinstance(fp._landmarks, _MeshRunner) and fp.landmarks_by.startswith("face mesh")


def test_without_the_model_file_the_face_mesh_runs_and_says_why(monkeypatch):
    def missing():
        raise FileNotFoundError("this mediapipe has no face_landmark.tflite")

    monkeypatch.setattr(face_landmarks, "mediapipe_landmark_model_path", missing)
    with FaceProcessor() as fp:
        assert isinstance(fp._landmarks, _MeshRunner)
        assert "face mesh (video)" in fp.landmarks_by and "no face_landmark.tflite" in fp.landmarks_by


def test_converter_refuses_a_network_with_other_operators():
    """MediaPipe's face detector has RESHAPE and CONCATENATION: refused by name, not half-converted."""
    import os

    path = os.path.join(os.path.dirname(face_landmarks.mediapipe_landmark_model_path()), "..", "face_detection",
                        "face_detection_short_range.tflite")
    with open(path, "rb") as f:
        data = f.read()
    with pytest.raises(UnsupportedModel, match="RESHAPE|CONCATENATION"):
        tflite_to_onnx(data)


def _further_away(frame, scale=0.45):
    """The frame shrunk into the bottom middle of a gray frame of the same size: the participant
    sits about twice as far from the camera."""
    h, w = frame.shape[:2]
    out = np.full_like(frame, 40)
    small = cv2.resize(frame, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    x0 = (w - small.shape[1]) // 2
    out[h - small.shape[0]:, x0:x0 + small.shape[1]] = small
    return out


@pytest.mark.parametrize("case", ["further away", "every 4th frame", "upscaled"])
def test_the_face_step_gives_the_face_meshs_result_in_hostile_cases(shared_data, case):
    """A participant further away (a face a fifth of the frame), a camera that drops three frames
    of four (the face moves four times further between frames), a 1280x720 camera: the tracked
    face step gives the same status on every frame as with the face mesh graph, with the face
    found once, and landmarks a fraction of a pixel from the mesh's."""
    frames = _frames(shared_data / "video" / "WolfgangLanger_Pexels.mp4", 472)
    frames = {"further away": [_further_away(f) for f in frames[:160]], "every 4th frame": frames[::4],
              "upscaled": [cv2.resize(f, (1280, 720)) for f in frames[:80]]}[case]
    with FaceProcessor() as tracked, FaceProcessor(tracker=False) as mesh:
        got = [(tracked.process(f), mesh.process(f)) for f in frames]
        assert tracked._landmarks.finds == 1
    assert [a.status for a, _ in got] == [b.status for _, b in got]
    diffs = [np.abs(a.landmarks[:, :2] - b.landmarks[:, :2]).mean() for a, b in got if a.landmarks is not None]
    assert len(diffs) == len(frames) and np.mean(diffs) < 0.5
