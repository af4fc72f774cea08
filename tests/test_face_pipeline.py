"""Face pipeline on real faces: a photograph (skimage's astronaut) and real videos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from emer_live.features.face import FaceProcessor
from emer_live.features.face_crop import LEGACY_RECIPE


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def still():
    with FaceProcessor(static_image_mode=True, max_num_faces=4) as fp:
        yield fp


def _redetect(still, crop_rgb):
    """Landmarks found again on the crop itself (padded and enlarged so the detector sees a face)."""
    c = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR)
    big = cv2.resize(cv2.copyMakeBorder(c, 56, 56, 56, 56, cv2.BORDER_REPLICATE), None, fx=2, fy=2)
    return still.process(big)


@pytest.mark.parametrize("angle", [0, 20, -25])
def test_astronaut_crop_has_level_eyes(astronaut, still, angle):
    rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((220, 125), angle, 1.0), (512, 512),
                         borderMode=cv2.BORDER_REFLECT)
    r = still.process(rot)
    assert r.status == "ok" and r.n_faces == 1 and r.message == "face found"
    assert r.crop.shape == (112, 112, 3) and r.crop.dtype == np.uint8
    assert r.landmarks.shape == (468, 3)  # iris points only when asked for
    x0, y0, x1, y1 = r.box
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    again = _redetect(still, r.crop)  # independent check: MediaPipe run on the crop itself
    assert again.status == "ok"
    assert abs(again.roll_deg) < 2.0  # eyes level in the crop whatever the head roll
    (lx, _), (rx, _) = LEGACY_RECIPE.eye_template
    expected_iod = (rx - lx) * 112
    assert again.eye_distance_px / 2 == pytest.approx(expected_iod, rel=0.08)  # fixed eye distance


def test_blank_image_has_no_face(still):
    r = still.process(np.full((360, 640, 3), 128, np.uint8))
    assert (r.status, r.n_faces, r.crop, r.landmarks) == ("no_face", 0, None, None)


def test_two_faces_largest_is_used(astronaut, still):
    head = astronaut[20:240, 115:335]  # 220 x 220 around the face
    small = cv2.resize(head, (140, 140))
    canvas = np.full((220, 380, 3), 255, np.uint8)
    canvas[40:180, :140] = small  # the smaller face on the left
    canvas[:, 160:] = head
    r = still.process(canvas)
    assert r.status == "ok" and r.n_faces == 2
    assert "2 faces" in r.message and "largest" in r.message
    assert r.box[0] > 160  # the big face, on the right
    assert r.crop is not None


def test_face_cut_by_the_border(astronaut, still):
    seen = {}
    for dx in range(170, 230, 10):  # slide the face out of the left edge
        r = still.process(np.ascontiguousarray(astronaut[:, dx:]))
        if r.status == "cut_off":
            seen[dx] = r
            assert r.box[0] < 0  # landmarks beyond the edge
            if r.crop is None:
                assert "no crop" in r.message
            else:
                assert "crop given" in r.message and r.crop.shape == (112, 112, 3)
    assert seen, "no cut-off face detected"
    assert any(r.crop is not None for r in seen.values()) and any(r.crop is None for r in seen.values())


def test_tiny_face_is_too_small(astronaut, still):
    r = still.process(cv2.resize(astronaut, (80, 80), interpolation=cv2.INTER_AREA))
    assert r.status == "too_small" and r.crop is None and r.landmarks is not None
    assert "too small" in r.message


def test_bad_image_is_refused(still):
    with pytest.raises(ValueError, match="uint8"):
        still.process(np.zeros((10, 10), np.float32))


def _frames(path, step):
    cap = cv2.VideoCapture(str(path))
    out, i = [], 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if i % step == 0:
            out.append(f)
        i += 1
    cap.release()
    assert out, f"cannot read {path}"
    return out


@pytest.mark.parametrize("which,step", [("real_video", 3), ("single_face", 1)])
def test_real_video_face_found_and_box_stable(request, shared_data, which, step):
    path = request.getfixturevalue("real_video") if which == "real_video" else shared_data / "video" / "single_face.mp4"
    frames = _frames(path, step)
    with FaceProcessor() as fp:  # tracking mode, as for live video
        results = [fp.process(f) for f in frames]
    found = [r for r in results if r.landmarks is not None and r.crop is not None]
    assert len(found) >= 0.95 * len(results)
    assert all(r.n_faces == 1 for r in found)
    boxes = np.array([r.box for r in found])
    width = boxes[:, 2] - boxes[:, 0]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    step_px = np.abs(np.diff(centre, axis=0)).max(axis=1)
    assert (step_px < 0.15 * width[1:]).all()  # no jumps between neighbouring frames
    assert width.max() / width.min() < 1.4  # one person at one distance
    crops = np.stack([r.crop for r in found]).astype(np.float32)
    assert crops.mean(axis=(1, 2, 3)).std() < 20  # normalised illumination: similar brightness


def test_landmark_array_reads_the_mesh_output_exactly(shared_data):
    """The fast read of the face mesh's landmark list (its serialised form) gives the very values
    the point-by-point read gives, on real frames; a list the fast read cannot take (a landmark
    with an unset value, one with extra fields) falls back to the point-by-point read."""
    import mediapipe as mp
    from mediapipe.framework.formats import landmark_pb2

    from emer_live.features.face import landmark_array

    frames = _frames(shared_data / "video" / "single_face.mp4", 6)
    seen = 0
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1) as mesh:
        for f in frames:
            found = mesh.process(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)).multi_face_landmarks or []
            for lm in found:
                slow = np.array([(p.x, p.y, p.z) for p in lm.landmark], np.float32)
                fast = landmark_array(lm)
                assert fast.shape == (468, 3) and fast.dtype == np.float32
                assert np.array_equal(fast, slow)
                seen += 1
    assert seen >= len(frames) - 1

    odd = landmark_pb2.NormalizedLandmarkList()
    odd.landmark.add(x=0.25, y=0.5, z=-0.125)
    odd.landmark.add(x=0.75, y=0.5)  # z unset
    odd.landmark.add(x=0.5, y=0.25, z=0.0, visibility=0.9)
    assert np.array_equal(landmark_array(odd), np.array([[0.25, 0.5, -0.125], [0.75, 0.5, 0.0], [0.5, 0.25, 0.0]],
                                                        np.float32))


@pytest.mark.parametrize("video,n", [("single_face.mp4", 72), ("WolfgangLanger_Pexels.mp4", 120)])
def test_direct_mesh_call_gives_what_process_gives(shared_data, video, n):
    """Where the face step runs the mesh graph (tracker=False) it runs it itself and reads the
    landmark lists from their serialised form; on real frames (tracking from frame to frame) its
    results are exactly those of the mesh's own process() read point by point: same landmarks,
    status, crop and message."""
    frames = _frames(shared_data / "video" / video, 1)[:n]  # consecutive: the mesh tracks between them
    with FaceProcessor(tracker=False) as direct, FaceProcessor(tracker=False) as via_process:
        assert direct._landmarks.direct
        via_process._landmarks.direct = False  # the solution's process(), then landmark_array
        found = 0
        for f in frames:
            a, b = direct.process(f), via_process.process(f)
            assert (a.status, a.n_faces, a.message, a.box) == (b.status, b.n_faces, b.message, b.box)
            if a.landmarks is not None:
                assert a.landmarks.dtype == np.float32 and np.array_equal(a.landmarks, b.landmarks)
                found += 1
            assert (a.crop is None) == (b.crop is None)
            if a.crop is not None:
                assert np.array_equal(a.crop, b.crop)
    assert len(frames) == n and found >= 0.9 * n


def test_face_step_runs_opencv_in_its_own_thread():
    """OpenCV's worker pool spins between the face step's per-frame calls; the face processor
    turns it off (one setting for the process)."""
    cv2.setNumThreads(2)
    with FaceProcessor():
        assert cv2.getNumThreads() == 1


def test_with_two_faces_in_view_the_largest_is_followed(shared_data):
    """One face tracked (the default): where the tracker searches, it follows the largest face in
    view (landmark box area), not the one MediaPipe's detector scores first: here the man of
    single_face.mp4 beside the Pexels woman shrunk to 0.85, whose face is still the larger (with
    one face asked of the finder, the man was followed)."""
    def frame(video, at=0):
        cap = cv2.VideoCapture(str(shared_data / "video" / video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, at)
        ok, img = cap.read()
        cap.release()
        assert ok
        return img

    man, woman = frame("single_face.mp4"), cv2.resize(frame("WolfgangLanger_Pexels.mp4", 300), None, fx=0.85, fy=0.85,
                                                      interpolation=cv2.INTER_AREA)
    h, w = man.shape[:2]
    y0 = (h - woman.shape[0]) // 2

    def canvas(with_man=True, with_woman=True):
        c = np.full((h, 2 * w, 3), 90, np.uint8)
        if with_woman:
            c[y0:y0 + woman.shape[0], 40:40 + woman.shape[1]] = woman
        if with_man:
            c[:, w:] = man
        return c

    def area(box):
        return (box[2] - box[0]) * (box[3] - box[1])

    with FaceProcessor() as fp:
        man_box = fp.process(canvas(with_woman=False)).box
    with FaceProcessor() as fp:
        woman_box = fp.process(canvas(with_man=False)).box
    assert area(woman_box) > area(man_box)
    with FaceProcessor() as fp:
        r = fp.process(canvas())
    assert r.ok and np.allclose(r.box, woman_box, atol=3), (r.box, woman_box, man_box)
