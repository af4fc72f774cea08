"""Annotation (ALA): Dawid-Skene and Krippendorff's alpha against hand-computed examples and a
simulated annotator panel with known accuracies; auto FER labels from the recorded per-frame FER,
or from the session's own model's face network on recorded crops; review by several annotators
kept apart, fusion into labels.csv."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from emer_live.errors import RecordingError
from emer_live.labels import EMOTIONS_7
from emer_live.recording import annotation as A
from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.pipeline.frame_fer import FrameFER
from emer_live.types import Frame


def test_krippendorff_alpha_hand_computed():
    # Nominal, two raters, items (0,0), (1,1), (1,0): coincidences o00 = 2, o11 = 2, o01 = o10 = 1,
    # n = 6, n0 = n1 = 3. D_o = 2/6, D_e = 2 * 3 * 3 / (6 * 5) = 0.6 -> alpha = 1 - (1/3)/0.6 = 4/9.
    assert A.krippendorff_alpha(np.array([[0, 0], [1, 1], [1, 0]]), "nominal") == pytest.approx(4 / 9)
    # Interval: raters agree wherever both rated; a missing rating does not count against them.
    assert A.krippendorff_alpha(np.array([[1, 1], [2, 2], [3, 3], [4, np.nan]]), "interval") == pytest.approx(1.0)
    assert np.isnan(A.krippendorff_alpha(np.array([[2, 2], [2, 2]]), "nominal"))  # one value: undefined
    assert np.isnan(A.krippendorff_alpha(np.array([[1.0], [np.nan]]), "interval"))  # nothing pairable


def test_dawid_skene_e_step_hand_computed():
    prior = np.array([0.5, 0.5])
    conf = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.3, 0.7]]])
    # Item labelled 0 by annotator A and 1 by B: 0.5*0.9*0.4 = 0.18 vs 0.5*0.2*0.7 = 0.07.
    # Item labelled only by B (1): 0.5*0.4 vs 0.5*0.7.
    post = A.ds_e_step(np.array([[0, 1], [-1, 1]]), prior, conf)
    np.testing.assert_allclose(post, [[0.18 / 0.25, 0.07 / 0.25], [0.4 / 1.1, 0.7 / 1.1]])


def test_dawid_skene_simulated_panel_recovers_accuracies():
    rng = np.random.default_rng(0)
    n, K = 800, 7
    truth = rng.integers(0, K, n)
    acc = np.array([0.92, 0.8, 0.65, 0.5, 0.35])
    labels = np.empty((n, len(acc)), int)
    for a, p in enumerate(acc):
        wrong = (truth + rng.integers(1, K, n)) % K
        labels[:, a] = np.where(rng.random(n) < p, truth, wrong)
    labels[rng.random(labels.shape) < 0.1] = -1  # not every annotator labels every item
    ds = A.dawid_skene(labels, K)
    np.testing.assert_allclose(ds.reliability, acc, atol=0.05)
    assert np.argsort(ds.reliability).tolist() == np.argsort(acc).tolist()
    fused_acc = (ds.labels == truth).mean()
    assert fused_acc > acc.max()
    # A spammer (uniformly random) gets a reliability near chance, 1/7.
    spam = np.column_stack([labels[:, :2], rng.integers(0, K, n)])
    assert A.dawid_skene(spam, K).reliability[2] == pytest.approx(1 / K, abs=0.06)


@pytest.fixture(scope="module")
def face_crops(real_video):
    """Real face crops from the video's start (crying), middle and end (laughing)."""
    from emer_live.features.face import FaceProcessor

    cap = cv2.VideoCapture(str(real_video))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    out = []
    with FaceProcessor() as fp:
        for start in (0, n // 2, n - 40):
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            seg = []
            for _ in range(24):
                ok, img = cap.read()
                res = fp.process(img)
                seg.append((img, res))
            out.append(seg)
    cap.release()
    return out


FACE = {"crop_size": 112, "color": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3, "embedding_dim": 7,
        "expression": {"output": "face_embedding", "activation": "softmax", "classes": list(EMOTIONS_7)}}


def _session(folder, face_crops, er_labels, model_card=None, frame_fer=None):
    """Three stimulus segments of 24 real frames each, with the model's crops and SAM answers;
    frame_fer(segment, frame) -> probs7 or None records per-frame FER as the app does."""
    s = RecordingSession(folder, "P01", consent=True, block_when_full=True, model_card=model_card)
    t, idx = 1_000_000_000, 0
    for k, (seg, er) in enumerate(zip(face_crops, er_labels)):
        s.begin_stimulus("clip", host_ns=t)
        for j, (img, res) in enumerate(seg):
            s.sink.on_frame(Frame(host_ns=t, index=idx, image=img), res)
            if res.crop is not None:
                s.sink.on_face_crop(idx, t, res.crop)
            if frame_fer is not None:
                p = frame_fer(k, j)
                s.sink.on_frame_fer(FrameFER(idx, t, "ok" if p is not None else "no_face", p, p, 1))
            t += 41_666_667
            idx += 1
        s.end_stimulus(host_ns=t)
        t += 1_000_000_000
        s.add_self_assessment(3, 5, er)
    s.close()
    return folder


def test_session_flow_auto_review_fuse(tmp_path, face_crops, monkeypatch, capsys):
    from model_doubles import build_model_double

    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(build_model_double(tmp_path / "m", window_s=2.0, card_overrides={"face": FACE}),
                             prefer_gpu=False)
    # First pass: learn what the model says, then give segment 0 a matching ER label so that
    # one segment is consistent (the model's label stands) and the others are disputed.
    probe = A.auto_annotate(_session(tmp_path / "probe", face_crops, ["sadness"] * 3), A.face_network_reader(engine))
    proposed = [a.fer7 for a in probe]
    assert all(a.n_crops >= 20 for a in probe) and all(p in EMOTIONS_7 for p in proposed)
    assert all(np.isnan(a.intensity) for a in probe)  # the face network gives no intensity
    er = [proposed[0]] + [next(e for e in EMOTIONS_7 if e != p) for p in proposed[1:]]
    folder = _session(tmp_path / "s", face_crops, er)
    from emer_live.cli import main

    # The session records no model (no per-frame FER either), so auto needs the model named.
    assert main(["annotate", str(folder), "auto"]) != 0
    assert "records no model" in capsys.readouterr().err
    assert main(["annotate", str(folder), "auto", "--model", str(engine.card.path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"segments": 3, "labelled": 3, "disputed": 2, "model": engine.card.name,
                                                   "source": "face network on recorded crops"}
    assert [a.fer7 for a in A.read_auto(folder)] == proposed
    assert (folder / "annotations" / "auto.csv").exists()

    # Four annotators, each in their own file: three side with the participant, one with the model.
    for name in ("anna", "cara", "dave", "ben"):
        rs = A.ReviewSession(folder, name)
        assert [it.auto.segment for it in rs.items] == [1, 2]  # only the disputed segments
        assert len(rs.crops(0)) >= 20
        for i, it in enumerate(rs.items):
            if name == "ben":
                rs.accept(i)
            else:
                rs.relabel(i, it.auto.er7, valence=-0.5, arousal=0.25, intensity=1.0)
        assert rs.remaining == 0
        rs.save()
    files = sorted(p.name for p in (folder / "annotations").glob("annotator_*.csv"))
    assert files == ["annotator_anna.csv", "annotator_ben.csv", "annotator_cara.csv", "annotator_dave.csv"]
    with pytest.raises(RecordingError, match="reserved"):
        A.ReviewSession(folder, "model")
    with pytest.raises(RecordingError, match="not one of"):
        A.ReviewSession(folder, "eve").relabel(0, "boredom")

    report = A.fuse_session(folder)
    labs = SessionReader(folder).labels()
    assert [x.er7 for x in labs] == er  # ER labels kept
    assert labs[0].fer7 == proposed[0] and labs[0].source == "self_assessment+fer:model"
    assert [x.fer7 for x in labs[1:]] == er[1:]  # the panel's majority won
    assert all(x.source == "self_assessment+fer:ala" for x in labs[1:])
    assert labs[1].fer3 is not None and -0.6 < labs[1].fer_va[0] < 0.5
    assert report["disputed"] == 2 and report["reviewed"] == {"anna": 2, "ben": 2, "cara": 2, "dave": 2}
    rel = report["dawid_skene"]["reliability"]
    assert rel["anna"] > rel["ben"] and rel["anna"] > rel["model"]
    saved = json.loads((folder / "annotations" / "reliability.json").read_text())
    assert set(saved["krippendorff_alpha"]) == {"emotion7", "valence", "arousal", "intensity"}

    # The CLI review flow, driven by typed answers: relabel by number, then accept.
    answers = iter(["3", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert main(["annotate", str(folder), "review", "--annotator", "fay", "--sheet", str(tmp_path / "sheets")]) == 0
    rows = SessionReader(folder).table("annotations/annotator_fay.csv")
    assert [(r["decision"], r["fer7"]) for r in rows] == [("relabel", EMOTIONS_7[2]), ("accept", proposed[2])]
    assert len(list((tmp_path / "sheets").glob("*.png"))) == 2
    assert main(["annotate", str(folder), "status"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["reviewed"]["fay"] == 2


def test_auto_needs_labelled_segments(tmp_path):
    RecordingSession(tmp_path / "s", "P01", consent=True).close()
    with pytest.raises(RecordingError, match="no labelled segments"):
        A.auto_annotate(tmp_path / "s")
    with pytest.raises(RecordingError, match="not auto-annotated"):
        A.read_auto(tmp_path / "s")


def test_auto_labels_with_the_recorded_per_frame_fer(tmp_path, face_crops, capsys):
    """The label is the mean of what the app showed (frame_fer.csv), frames without a face left
    out; no model runs, so a session whose model is gone is still labelled."""
    from emer_live.cli import main

    def fer(seg, frame):  # segments 0, 1 mostly fear, happiness; 2 has one face frame, mostly neutral
        if seg == 2 and frame:
            return None
        p = np.full(7, 0.02)
        p[EMOTIONS_7.index(("fear", "happiness", "anger")[seg])] = 0.8 if frame % 3 else 0.1
        p[EMOTIONS_7.index("neutral")] += 0.0 if frame % 3 else 0.7
        return p / p.sum()

    folder = _session(tmp_path / "s", face_crops, ["fear", "sadness", "anger"], frame_fer=fer)
    assert main(["annotate", str(folder), "auto"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "recorded frame_fer"
    autos = A.read_auto(folder)
    assert [a.fer7 for a in autos] == ["fear", "happiness", "neutral"]
    assert [a.n_crops for a in autos] == [24, 24, 1]
    expect = np.mean([fer(0, j) for j in range(24)], axis=0)
    np.testing.assert_allclose(autos[0].probs7, expect, atol=1e-5)
    assert np.isnan(autos[0].intensity)


def test_auto_uses_the_sessions_own_model(tmp_path, face_crops, capsys, monkeypatch):
    """Without per-frame FER the session's recorded model reads the crops, found by its card's
    hash, not the default model; another model named by hand is refused."""
    from model_doubles import build_model_double

    from emer_live.cli import main
    from emer_live.model_card import load_card

    own = load_card(build_model_double(tmp_path / "own", "own", card_overrides={"face": FACE}))
    other = build_model_double(tmp_path / "other", "other", seed=5, card_overrides={"face": FACE})
    monkeypatch.setenv("EMER_LIVE_MODEL", str(other))  # the default model is not the session's
    folder = _session(tmp_path / "s", face_crops, ["fear"] * 3, model_card=own)
    assert main(["annotate", str(folder), "auto"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "own"
    assert main(["annotate", str(folder), "auto", "--model", str(other)]) != 0
    assert "is not the model" in capsys.readouterr().err
    (tmp_path / "own" / "own.card.json").rename(tmp_path / "own" / "moved.card.json")
    assert main(["annotate", str(folder), "auto"]) != 0
    assert "is not here" in capsys.readouterr().err
