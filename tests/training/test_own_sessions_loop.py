"""The lab's loop end to end, as a lab runs it: record sessions headless (two pseudonymous
participants, different simulated genuine emotions), import their labels from a table, train on
them, export, load the exported model in the app and check its card names the sessions.

Recording and the app run in the app environment (MediaPipe, ONNX Runtime), training here; the app
interpreter is EMER_APP_PYTHON or the checkout's .venv. Sizes are the smallest that exercise every
step (8 s sessions, one epoch, a tiny model): this proves the plumbing, not accuracy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]
APP_PYTHON = os.environ.get("EMER_APP_PYTHON") or str(REPO / ".venv" / "bin" / "python")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(APP_PYTHON).is_file(),
                                                   reason="app environment not found (set EMER_APP_PYTHON)")]


def _sh(python, *argv, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    p = subprocess.run([python, "-m", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"{argv[:3]} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return p.stdout


def test_record_label_train_export_run(tmp_path):
    # 1. record: P01 is sad then happy, P02 afraid then happy (simulated eye behaviour), 8 s each
    genuine = {"P01": "sadness", "P02": "fear"}
    for who, emo in genuine.items():
        out = _sh(APP_PYTHON, "emer_live", "run", "--headless", "--demo", "--fast", "--duration", "8",
                  "--gaze", f"simulated:{emo}=4,happiness=4", "--record", "rec", "--participant", who, "--consent",
                  "--out", os.devnull, cwd=tmp_path)
        assert json.loads(out.strip().splitlines()[-1])["recording"]["written"]["crop"] > 8
    sessions = sorted((tmp_path / "rec").iterdir())
    assert [s.name[:3] for s in sessions] == ["P01", "P02"]

    # 2. labels from the lab's table (session seconds, SAM 1-9)
    for s in sessions:
        table = tmp_path / f"{s.name}.csv"
        table.write_text(f"start,end,valence,arousal,emotion\n0,4,2,7,{genuine[s.name[:3]]}\n4,7.9,8,6,happy\n")
        out = _sh(APP_PYTHON, "emer_live", "labels", "import", str(s), str(table), cwd=tmp_path)
        assert json.loads(out)["segments"] == 2

    # 3. train on the sessions, 4. export for the app
    spec = "sessions:" + ",".join(str(s) for s in sessions)
    _sh(sys.executable, "training.cli", "train", "--dataset", spec, "--quick", "--epochs", "1", "--d-model", "16",
        "--out", "runs/lab", "--no-progress", cwd=tmp_path)
    info = json.loads((tmp_path / "runs/lab/train.json").read_text())
    assert info["provenance"]["n"] == 4 and info["provenance"]["n_participants"] == 2
    _sh(sys.executable, "training.cli", "export", "runs/lab", "--out", "models", "--name", "lab-model", cwd=tmp_path)

    # 5. the app runs the exported model and reports what it was trained on
    out = _sh(APP_PYTHON, "emer_live", "run", "--headless", "--demo", "--fast", "--duration", "6",
              "--model", "models/lab-model.card.json", "--out", "-", cwd=tmp_path)
    lines = [json.loads(x) for x in out.strip().splitlines()]
    summary = lines[-1]
    assert summary["predictions"] > 0 and summary["model"]["model_name"] == "lab-model"
    assert summary["model"]["model_provenance_kind"] == "sessions"
    for s in sessions:
        assert s.name in summary["model"]["model_provenance"]
    card = json.loads((tmp_path / "models/lab-model.card.json").read_text())
    assert card["provenance"]["data"]["sessions"] == [s.name for s in sessions]

    # Self-reports only: the FER head saw no FER label, so the card declares it untrained and the app
    # shows no FER (this model's ResNet-18 face encoder has no expression output) and flags no gap.
    assert info["heads"]["fer"]["trained"] is False and info["heads"]["er"]["labelled"]["er7"] == 4
    assert card["heads"]["fer"] == info["heads"]["fer"]
    preds = [x for x in lines if "er" in x and "fer" in x and "gap" in x]
    assert preds and {x.get("fer_source") for x in preds} == {"none"}
    assert not any(x["gap"]["top_disagree"] for x in preds)
    assert "its FER head was never trained" in json.dumps(summary)
    # the card tells models apart: which sessions and labels, how long, which seed
    prov = card["provenance"]
    assert len(prov["labels_sha256"]) == 64 and prov["training"]["epochs"] == 1 and prov["training"]["seed"] == 0
    assert len(prov["data"]["session_ids"]) == 2 and len(prov["data"]["labels_csv_sha256"]) == 2
