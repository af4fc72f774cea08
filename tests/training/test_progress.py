"""Progress of whole training runs: method, fold, epoch, the run's share and an ETA, as plain lines
on stderr (so a run without a terminal logs where it is)."""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("torch")

from training.cli import main
from training.progress import RunProgress


def test_lines_name_method_fold_epoch_share_and_eta():
    out = io.StringIO()
    p = RunProgress(total_epochs=8, stream=out)
    p.stage("EMERT", 0, 2)
    p.epoch_done(1, 2, 10.0, 0.5)
    p.epoch_done(2, 2, 20.0)
    p.stage("LSTM")
    line = p.epoch_done(1, 2, None)  # resumed from a checkpoint: counted, not timed
    lines = out.getvalue().splitlines()
    assert lines[0] == "EMERT fold 1/2: epoch 1/2, loss 0.5000 | run 1/8 epochs (12%), ETA 0:01:10 (mean epoch 10.0 s)"
    assert lines[1].endswith("run 2/8 epochs (25%), ETA 0:01:30 (mean epoch 15.0 s)")
    assert line == lines[2] and line.startswith("LSTM: epoch 1/2 | run 3/8 epochs (38%), ETA 0:01:15")


def test_a_cross_validated_run_reports_every_epoch_without_a_terminal(tmp_path, capsys):
    assert main(["run", "er3", "--dataset", "synthetic:n=40,participants=4", "--quick", "--folds", "2", "--epochs", "2",
                 "--d-model", "16", "--out", str(tmp_path / "r.json"), "--cache", str(tmp_path / "cache")]) == 0
    err = capsys.readouterr().err  # stderr is no terminal here: lines, no bar
    lines = [x for x in err.splitlines() if re.match(r"\w+ fold \d/2: epoch \d/2", x)]
    assert len(lines) == 4 and lines[-1].split(" | ")[1].startswith("run 4/4 epochs (100%), ETA 0:00:00")


def test_train_and_export_print_progress_and_the_parity_figure(tmp_path, capsys):
    assert main(["train", "--dataset", "synthetic:n=16,participants=2,face=image", "--quick", "--epochs", "2",
                 "--d-model", "16", "--out", str(tmp_path / "m"), "--cache", str(tmp_path / "cache")]) == 0
    err = capsys.readouterr().err
    assert "EMERT: epoch 2/2" in err and "run 2/2 epochs (100%)" in err
    assert main(["export", str(tmp_path / "m"), "--out", str(tmp_path / "x"), "--name", "n"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ONNX Runtime vs PyTorch, largest absolute difference \(batches 1 and 4\): full \d\.\d\de-\d\d", out)
