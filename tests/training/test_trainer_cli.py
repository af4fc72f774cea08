"""`emer-train` end to end on a tiny synthetic set: run -> report; train; bad input messages."""

import json

import pytest

pytest.importorskip("torch")

from training.cli import main


def test_run_then_report(tmp_path, capsys):
    out = tmp_path / "res.json"
    rc = main(["run", "er3", "--dataset", "synthetic:n=40,participants=4", "--quick", "--folds", "2", "--epochs", "1",
               "--d-model", "16", "--out", str(out), "--no-progress", "--cache", str(tmp_path / "cache")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "3-class ER" in text and "never real accuracy" in text
    res = json.loads(out.read_text())
    assert res["config"]["folds"] == 2 and res["config"]["model"]["d_model"] == 16
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.md").is_file()


def test_train_writes_checkpoint_and_info(tmp_path, capsys):
    rc = main(["train", "--dataset", "synthetic:n=16,participants=2", "--quick", "--epochs", "1", "--d-model", "16",
               "--out", str(tmp_path / "m"), "--no-progress", "--cache", str(tmp_path / "cache")])
    assert rc == 0
    info = json.loads((tmp_path / "m" / "train.json").read_text())
    assert len(info["eye_mean"]) == 39 and info["provenance"]["kind"] == "synthetic"
    assert (tmp_path / "m" / "last.pt").is_file()
    # a model trained on face embeddings needs the face network to be exported for the app
    assert main(["export", str(tmp_path / "m"), "--out", str(tmp_path / "x"), "--name", "n"]) == 2
    assert "--face-weights" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["run", "er9"], "unknown protocol or table 'er9'"),
    (["run", "er7", "--dataset", "emer:/no/such/folder"], "EMER folder /no/such/folder does not exist"),
    (["run", "er7", "--dataset", "synthetic:n=x"], "bad synthetic dataset spec"),
    (["run", "er7", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["report", "/no/such/results.json", "--out", "x"], "does not exist"),
])
def test_bad_input_gives_a_message_not_a_traceback(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("emer-train: ") and message in err and "Traceback" not in err


def test_help_lists_the_protocols_without_importing_torch():
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    code = ("import sys; from training.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo,
                         env={**os.environ, "PYTHONPATH": repo}).stdout
    assert out.split() == ["False", "False"]  # --help answers at once, not after importing them
