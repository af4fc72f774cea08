"""The EMER release as a lab may have it: its own file names and columns (a layout JSON), the
preprocessed eye arrays, the reference code's predefined test sets; from the folder to
`emer-train run`, and messages that name the file and the problem."""

import csv
import json

import numpy as np
import pytest

pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from emer_live.errors import EmerError
from training.cli import main
from training.data import open_dataset

EMOTIONS = ["happiness", "sadness", "fear", "neutral", "anger", "surprise", "disgust", "happiness", "sadness"]


def _crop_cache(folder, ids, rng):
    """What `emer-live faces cache` writes (that command runs MediaPipe in the app's environment and
    is tested there, tests/test_face_cache.py): ID.npz of (K,112,112,3) crops + manifest.json."""
    from emer_live.features.face_cache import MANIFEST, SCHEMA, manifest_recipe
    from emer_live.features.face_crop import LEGACY_RECIPE

    folder.mkdir(parents=True)
    for k, sid in enumerate(ids):
        crops = np.full((5 + k, 112, 112, 3), 10 * k, np.uint8)
        crops[:, 0, 0, 0] = np.arange(5 + k)  # tells the crops apart
        np.savez_compressed(folder / f"{sid}.npz", crops=crops, frame_index=np.arange(5 + k), n_frames=8, statuses="{}")
    (folder / MANIFEST).write_text(json.dumps({"schema": SCHEMA, "recipe": manifest_recipe(LEGACY_RECIPE, 112), "frames": 8, "failed": {}}))


def _release(root):
    """9 samples of 3 participants: video/ID.avi, eye_feat/ID.npy, fix_map/ID.npy, three test sets,
    face_crops/ (the app-pipeline crop cache)."""
    rng = np.random.default_rng(0)
    _crop_cache(root / "face_crops", [f"c{k:02d}" for k in range(9)], rng)
    for d in ("meta", "video", "eye_feat", "fix_map", "splits"):
        (root / d).mkdir(parents=True)
    with open(root / "meta" / "emer_labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ID", "Subject", "Emotion", "Expression", "V", "A"])
        for k, emo in enumerate(EMOTIONS):
            w.writerow([f"c{k:02d}", f"sub{k // 3}", emo, "neutral" if k % 2 else emo, str(1 + k % 9), "5"])
    for k in range(9):
        vw = cv2.VideoWriter(str(root / "video" / f"c{k:02d}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
        for _ in range(10):
            vw.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        vw.release()
        np.save(root / "eye_feat" / f"c{k:02d}.npy", rng.normal(size=(32, 39)).astype(np.float32))
        np.save(root / "fix_map" / f"c{k:02d}.npy", rng.random((32, 2)).astype(np.float32))
    for fold in range(3):  # one participant per test set, as the reference split is participant-independent
        (root / "splits" / f"test{fold + 1}.txt").write_text("".join(f"c{k:02d}\n" for k in range(3 * fold, 3 * fold + 3)))
    layout = {"labels_file": "meta/emer_labels.csv", "faces_dir": "video", "eye_dir": "eye_feat", "eye_ext": ".npy",
              "eye_format": "arrays", "fixation_dir": "fix_map", "test_sets": "splits", "va_range": [1, 9],
              "label_columns": {"sample_id": "ID", "participant": "Subject", "er7": "Emotion", "fer7": "Expression",
                                "er_valence": "V", "er_arousal": "A"}}
    (root / "layout.json").write_text(json.dumps(layout))
    return root


def test_release_layout_arrays_and_test_sets_load(tmp_path):
    root = _release(tmp_path / "EMER")
    ds = open_dataset(f"emer:{root},layout={root / 'layout.json'}")
    assert len(ds) == 9 and ds.participant_names == ["sub0", "sub1", "sub2"]
    np.testing.assert_array_equal(ds.eye[4], np.load(root / "eye_feat" / "c04.npy"))  # used as they are
    assert [te.tolist() for _, te in ds.predefined_folds] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert ds.targets["er_va"][0, 0] == -1.0 and ds.targets["er_va"][8, 0] == 1.0  # 1..9 onto [-1, 1]
    assert ds.provenance["eye_source"] == "arrays" and ds.provenance["split"]["test_sets"] == ["test1.txt", "test2.txt", "test3.txt"]
    item = ds[3]  # 8 of the sample's 8 cached crops, spread over the clip, normalised as configured
    assert tuple(item["face"].shape) == (8, 3, 112, 112)
    assert ds.provenance["faces"]["source"] == "app face pipeline crops"
    assert ds.crop_recipe.to_card()["illumination"] == "clahe"  # goes into the exported card

def test_crops_come_from_the_cache_spread_over_the_clip(tmp_path):
    root = _release(tmp_path / "EMER")
    ds = open_dataset(f"emer:{root},layout={root / 'layout.json'}")
    ds.face_mean, ds.face_std = (0.0,) * 3, (1.0,) * 3
    first_pixel = (ds[4]["face"][:, 0, 0, 0] * 255).round().int().tolist()  # sample 4 has 9 crops: 0..8
    assert first_pixel == np.linspace(0, 8, 8).round().astype(int).tolist()
    frames = open_dataset(f"emer:{root},layout={root / 'layout.json'},faces=frames")
    assert "train/serve skew" in frames.provenance["faces"]["source"]


def test_release_to_a_cross_validated_run_on_the_predefined_test_sets(tmp_path, capsys):
    root = _release(tmp_path / "EMER")
    spec = f"emer:{root},layout={root / 'layout.json'}"
    out = tmp_path / "res.json"
    assert main(["run", "er7", "--dataset", spec, "--quick", "--epochs", "1", "--d-model", "16",
                 "--out", str(out), "--no-progress"]) == 0
    assert "fold mean" in capsys.readouterr().out
    res = json.loads(out.read_text())
    assert [f["test_participants"] for f in res["folds"]] == [[0], [1], [2]]
    assert res["provenance"]["split"]["test_sets"] == ["test1.txt", "test2.txt", "test3.txt"]
    assert main(["run", "er7", "--dataset", spec, "--folds", "5", "--quick", "--out", str(out)]) == 2
    assert "disagrees with the 3 predefined test sets" in capsys.readouterr().err
    # a model on the preprocessed arrays cannot be deployed: the app computes eye-v1 features live
    assert main(["train", "--dataset", spec, "--quick", "--epochs", "1", "--d-model", "16",
                 "--out", str(tmp_path / "m"), "--no-progress"]) == 0
    assert main(["export", str(tmp_path / "m"), "--out", str(tmp_path / "x"), "--name", "n"]) == 2
    assert "preprocessed eye arrays" in capsys.readouterr().err


@pytest.mark.parametrize("mutate, message", [
    (lambda r: np.save(r / "eye_feat" / "c03.npy", np.zeros((30, 39))), r"eye_feat/c03\.npy has shape \(30, 39\), expected \(32, 39\)"),
    (lambda r: np.save(r / "fix_map" / "c05.npy", np.full((32, 2), np.nan)), r"fix_map/c05\.npy holds 64 NaN"),
    (lambda r: (r / "fix_map" / "c01.npy").unlink(), r"fix_map/c01\.npy not found"),
    (lambda r: (r / "splits" / "test3.txt").write_text("c06\nc99\n"), r"test3\.txt: sample id\(s\) \['c99'\] are not in the labels"),
    (lambda r: (r / "splits" / "test3.txt").write_text("c00\n"), r"test3\.txt: sample id\(s\) \['c00'\] are also in test set test1\.txt"),
    (lambda r: (r / "layout.json").write_text('{"label_file": "x.csv"}'), r"layout\.json: unknown key\(s\) \['label_file'\]"),
    (lambda r: (r / "meta" / "emer_labels.csv").unlink(), r"meta/emer_labels\.csv not found"),
    (lambda r: (r / "face_crops" / "manifest.json").unlink(), r"no face-crop cache at .*face_crops.*emer-live faces cache"),
    (lambda r: (r / "face_crops" / "c02.npz").unlink(), r"face_crops: 1 labelled sample\(s\) have no face crops \(c02: not cached\)"),
    (lambda r: (r / "face_crops" / "manifest.json").write_text('{"recipe": {"crop_size": 96}, "frames": 8}'),
     r"manifest\.json: crops are not 112 px"),
    (lambda r: (r / "face_crops" / "manifest.json").write_text('{"recipe": {"crop_size": 112, "rotate": 1}, "frames": 8}'),
     r"manifest\.json: its crop recipe is not one the app can make: face.crop lacks 'eye_template'"),
])
def test_release_problems_name_the_file(tmp_path, mutate, message):
    root = _release(tmp_path / "EMER")
    mutate(root)
    with pytest.raises(EmerError, match=message):
        open_dataset(f"emer:{root},layout={root / 'layout.json'}")


def test_samples_in_no_test_set_are_reported(tmp_path):
    root = _release(tmp_path / "EMER")
    (root / "splits" / "test3.txt").write_text("c06\nc07\n")
    ds = open_dataset(f"emer:{root},layout={root / 'layout.json'}")
    assert any("1 samples are in no test set" in n for n in ds.provenance["split"]["notes"])
