"""Protocol runner -> one results JSON -> report (Markdown tables + PNG figures), on a tiny synthetic set."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from emer_live.errors import EmerError
from training.data.synthetic import SyntheticEMER
from training.models.emert import EMERTConfig
from training.protocols import PROTOCOLS, run_experiment, variants_for
from training.report import load_results, write_report
from training.trainer import TrainConfig


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results.json"
    ds = SyntheticEMER(48, n_participants=6, seed=3)
    res = run_experiment(ds, ("multitask", "noise"), folds=2, seed=1, out_path=out,
                         model_cfg=EMERTConfig(d_model=16, n_heads=2, n_layers=1, face_encoder="embedding"),
                         train_cfg=TrainConfig(epochs=1, batch_size=16, lr=1e-3, progress=False))
    return out, res, ds


def test_results_file(results):
    out, res, ds = results
    assert json.loads(out.read_text()) == res
    assert res["provenance"]["kind"] == "synthetic" and "never real accuracy" in res["provenance"]["note"]
    assert set(res["variants"]) == set(variants_for(("multitask", "noise"))) == {"FER only", "ER only", "EMERT"}
    e = res["variants"]["EMERT"]
    assert set(e["pooled"]) == set(PROTOCOLS)
    assert set(res["variants"]["ER only"]["pooled"]) == {"er3", "er7", "er_va"}
    # every sample is tested exactly once, in a fold without its participant in training
    assert sorted(e["predictions"]["index"]) == list(range(len(ds)))
    assert e["pooled"]["er7"]["n"] == len(ds)
    for f in res["folds"]:
        test_parts = set(f["test_participants"])
        train_parts = set(ds.participants.tolist()) - test_parts
        assert test_parts and train_parts
    assert len(e["folds"]) == 2 and all("history" in f and "seed" in f for f in e["folds"])
    assert set(e["pooled_noise"]) == {"0.01", "0.05", "0.1"}
    assert e["pooled_gap"]["masked"]["n"] == int(ds.masked.sum())
    # pooled WAR is the accuracy over all predictions, not a mean of fold scores
    pred = np.array(e["predictions"]["er7_pred"])
    idx = np.array(e["predictions"]["index"])
    assert e["pooled"]["er7"]["WAR"] == pytest.approx(float((pred == ds.targets["er7"][idx]).mean()))


def test_report_tables_and_figures(results, tmp_path):
    out, res, _ = results
    md_path = write_report(out, tmp_path / "rep")
    md = md_path.read_text()
    assert md.startswith("# EMERT results\n\n> **Synthetic data.**")
    for title in ("Table II", "Table III", "Table IV", "Table V", "Table VII", "Table IX", "Emotion gap"):
        assert title in md, title
    assert "| FER | — | ✗ |" in md and "| ER | ✓ | — |" in md
    pngs = sorted(p.name for p in (tmp_path / "rep").glob("*.png"))
    assert {"fig7_er_vs_fer_labels.png", "confusion_EMERT.png", "gap_er_on_masked.png"} <= set(pngs)
    for p in pngs:
        assert (tmp_path / "rep" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({p})" in md


def test_bad_results_file(tmp_path):
    with pytest.raises(EmerError, match="does not exist"):
        load_results(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text("{\"a\": 1}")
    with pytest.raises(EmerError, match="not an emer-train results file"):
        load_results(tmp_path / "x.json")
