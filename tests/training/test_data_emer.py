"""EMER loader on a tiny EMER-layout folder written here: Pro Lab TSV mapping, faces, labels, errors."""

import csv

import numpy as np
import pytest

pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from emer_live.errors import EmerError
from emer_live.labels import EMOTIONS_7
from emer_live.sources.simulated_gaze import simulate_raw
from emer_live.types import GAZE_COL
from training.data.emer import EMERDataset, EMERLayout, read_eye_recordings

W, H = 1920, 1080
FRAMES = EMERLayout(face_crops=None)  # these random images hold no face: whole frames (see test_emer_release for crops)


def _write_tsv(path, emotion, seed, seconds=3.0):
    t_ns, raw = simulate_raw(emotion, seconds, 120, np.random.default_rng(seed))
    head = ["Recording timestamp [μs]", "Sensor", "Recording resolution width [px]", "Recording resolution height [px]"]
    for eye in ("left", "right"):
        head += [f"Gaze point {eye} X [DACS px]", f"Gaze point {eye} Y [DACS px]", f"Pupil diameter {eye} [mm]",
                 f"Validity {eye}"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(head)
        w.writerow([t_ns[0] // 1000, "Mouse", W, H] + [""] * 8)  # another sensor's row: skipped
        for t, r in zip(t_ns, raw):
            row = [t // 1000, "Eye Tracker", W, H]
            for eye in ("left", "right"):
                ok = r[GAZE_COL[f"{eye}_gaze_point_validity"]] == 1
                x, y = r[GAZE_COL[f"{eye}_gaze_point_on_display_area_x"]], r[GAZE_COL[f"{eye}_gaze_point_on_display_area_y"]]
                p = r[GAZE_COL[f"{eye}_pupil_diameter"]]
                row += [f"{x * W:.1f}" if ok else "", f"{y * H:.1f}" if ok else "",
                        f"{p:.3f}" if np.isfinite(p) else "", "Valid" if ok else "Invalid"]
            w.writerow(row)
    return t_ns, raw


def _faces(folder, n=10, video=False):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (60, 80, 3), dtype=np.uint8) for _ in range(n)]
    if video:
        vw = cv2.VideoWriter(str(folder) + ".avi", cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 60))
        for im in imgs:
            vw.write(im)
        vw.release()
    else:
        folder.mkdir(parents=True)
        for i, im in enumerate(imgs):
            cv2.imwrite(str(folder / f"{i:04d}.png"), im)


LABELS = [
    # sample_id, participant, er7, fer7, er_valence, er_arousal, fer_valence, fer_arousal, fer_intensity
    ("s1", "p1", "sadness", "happiness", "-0.6", "-0.3", "0.7", "0.4", "2"),
    ("s2", "p1", "0", "0", "0.8", "0.5", "0.8", "0.5", "3"),
    ("s3", "p2", "fear", "neutral", "", "", "0", "0", "0.2"),
    ("s4", "p3", "angry", "anger", "-0.7", "0.7", "-0.7", "0.7", "1.5"),
]


def _emer(root, labels=LABELS):
    (root / "faces").mkdir(parents=True)
    (root / "eye").mkdir()
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sample_id", "participant", "er7", "fer7", "er_valence", "er_arousal",
                    "fer_valence", "fer_arousal", "fer_intensity"])
        w.writerows(labels)
    for k, row in enumerate(labels):
        sid = row[0]
        _faces(root / "faces" / sid, video=(k == 1))
        er = EMOTIONS_7[int(row[2])] if row[2].isdigit() and int(row[2]) < 7 else row[2]
        _write_tsv(root / "eye" / f"{sid}.tsv", er if er in EMOTIONS_7 else "neutral", seed=k)
    return root


def test_prolab_columns_map_into_raw_gaze(tmp_path):
    t_ns, raw = _write_tsv(tmp_path / "a.tsv", "happiness", 1)
    [(_, t2, raw2)] = read_eye_recordings(tmp_path / "a.tsv")  # the runtime's reader
    assert len(t2) == len(t_ns)  # the mouse row is skipped
    np.testing.assert_allclose(t2, t_ns - t_ns[0], atol=1000)
    c = GAZE_COL["left_gaze_point_on_display_area_x"]
    ok = raw[:, GAZE_COL["left_gaze_point_validity"]] == 1
    np.testing.assert_allclose(raw2[ok, c], raw[ok, c], atol=1e-4)
    assert (raw2[~ok, GAZE_COL["left_gaze_point_validity"]] == 0).all()
    p = GAZE_COL["right_pupil_diameter"]
    np.testing.assert_allclose(raw2[:, p], raw[:, p], atol=1e-3, equal_nan=True)


def test_emer_folder_loads(tmp_path):
    ds = EMERDataset(_emer(tmp_path / "EMER"), layout=FRAMES)
    assert len(ds) == 4
    assert ds.targets["er7"].tolist() == [1, 0, 2, 5]
    assert ds.targets["fer7"].tolist() == [0, 0, 6, 5]
    assert ds.targets["er3"].tolist() == [1, 0, 1, 1]
    assert ds.masked.tolist() == [True, False, True, False]
    assert np.isnan(ds.targets["er_va"][2]).all()
    assert ds.participants.tolist() == [0, 0, 1, 2]
    item = ds[1]  # the video sample
    assert tuple(item["face"].shape) == (8, 3, 112, 112)
    assert tuple(item["eye"].shape) == (32, 39) and not item["eye"].isnan().any()
    assert tuple(item["fixation"].shape) == (32, 2)
    assert ds.eye[:, :, 0].std() > 0  # real gaze went through eye-v1
    assert tuple(ds[0]["face"].shape) == (8, 3, 112, 112)


@pytest.mark.parametrize("mutate, message", [
    (lambda root: (root / "labels.csv").unlink(), r"labels\.csv not found"),
    (lambda root: (root / "eye" / "s2.tsv").unlink(), r"s2.*eye.*s2\.tsv not found"),
    (lambda root: __import__("shutil").rmtree(root / "faces" / "s3"), r"sample 's3': no face frames"),
    (lambda root: (root / "participants.csv").write_text("participant\np1\np2\np3\np9\n"), r"participants\.csv.*p9.*no samples"),
])
def test_bad_folders_name_file_and_problem(tmp_path, mutate, message):
    root = _emer(tmp_path / "EMER")
    mutate(root)
    with pytest.raises(EmerError, match=message):
        EMERDataset(root, layout=FRAMES)


@pytest.mark.parametrize("row, message", [
    (("s1", "p1", "9", "happiness", "0", "0", "0", "0", "1"), r"labels\.csv, line 2, column er7: label 9 is out of range"),
    (("s1", "p1", "jolly", "happiness", "0", "0", "0", "0", "1"), r"line 2, column er7: unknown label 'jolly'"),
    (("s1", "p1", "sadness", "happiness", "0", "1.5", "0", "0", "1"), r"line 2, column er_arousal: 1.5 is out of range"),
    (("s1", "p1", "sadness", "happiness", "0", "0", "0", "0", "4"), r"column fer_intensity: 4.0 is out of range"),
])
def test_labels_out_of_range(tmp_path, row, message):
    with pytest.raises(EmerError, match=message):
        EMERDataset(_emer(tmp_path / "EMER", [row]), layout=FRAMES)


def test_missing_folder_and_columns(tmp_path):
    with pytest.raises(EmerError, match="does not exist"):
        EMERDataset(tmp_path / "nowhere")
    (tmp_path / "x.tsv").write_text("Recording timestamp [μs]\tfoo\n1\t2\n")
    with pytest.raises(EmerError, match=r"x\.tsv: not a Tobii gaze export.*Gaze point left X \[DACS px\]"):
        read_eye_recordings(tmp_path / "x.tsv")


def test_one_recording_per_sample(tmp_path, tx300_files):
    """An eye file of several participants is refused, naming them; the reader gives one source per recording."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tobii_exports as tx

    d = tx.tx300(tx300_files[1])
    rows = tx.studio_rows(d, "01", "Rec 1") + tx.studio_rows(d, "02", "Rec 2")
    path = tx.write(tmp_path / "two.csv", tx.STUDIO, rows, delimiter=",")
    recs = read_eye_recordings(path)
    assert [n for n, _, _ in recs] == ["participant 01, recording Rec 1", "participant 02, recording Rec 2"]
    assert all(t[0] == 0 and np.all(np.diff(t) > 0) for _, t, _ in recs)
    root = _emer(tmp_path / "EMER")
    (root / "eye" / "s1.tsv").write_text(path.read_text())
    with pytest.raises(EmerError, match=r"sample 's1'.*holds 2 recordings.*participant 02"):
        EMERDataset(root, layout=FRAMES)
