"""The docs' result tables come out of their commands: README.md and docs/training.md hold exactly
what `emer-train tables` renders from the committed result files (docs/results/), the committed gap
file's deterministic rows are what the command computes today, and both commands, run at CI size,
still write a file the renderer reads, with progress lines for the whole run."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from training import doc_tables

REPO = Path(__file__).resolve().parents[2]


def documented_sizes() -> dict:
    """The options of the gap-experiment command line in docs/training.md."""
    line = next(x for x in (REPO / "docs" / "training.md").read_text().splitlines()
                if x.startswith("python -m training.gap_experiment"))
    argv = shlex.split(line)[3:]
    opts = dict(zip(argv[::2], argv[1::2]))
    return {"n": int(opts["--n"]), "participants": int(opts["--participants"]), "folds": int(opts["--folds"]),
            "epochs": int(opts["--epochs"]), "d_model": int(opts["--d-model"])}


def test_the_docs_tables_are_the_renderings_of_the_committed_results():
    assert doc_tables.differences() == []
    for name, (*_, docs) in doc_tables.TABLES.items():
        for doc in docs:
            assert doc_tables.documented(name, doc).count("\n") >= 3  # a table with rows, not a stub


def test_write_puts_the_rendering_where_a_stale_table_was(tmp_path):
    for doc in ("README.md", "docs/training.md"):
        (tmp_path / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / doc, tmp_path / doc)
    text = (tmp_path / "README.md").read_text()
    (tmp_path / "README.md").write_text(text.replace("| Face only | 0.", "| Face only | 9."))
    assert doc_tables.differences(repo=tmp_path) == [
        "README.md: table 'gap-readme' differs from its rendering of gap.json"]
    assert doc_tables.write("gap-readme", doc_tables.render("gap-readme"), "README.md", repo=tmp_path)
    assert doc_tables.differences(repo=tmp_path) == [] and (tmp_path / "README.md").read_text() == text


def test_the_committed_gap_results_are_what_the_documented_command_computes(tmp_path):
    """The logistic-regression rows are deterministic and take seconds: rerun at the documented sizes,
    they equal the committed file's; its configuration is the documented command line's."""
    from training.gap_experiment import LINEAR, run

    committed = doc_tables.load(doc_tables.RESULTS_DIR / "gap.json", doc_tables.GAP_SCHEMA)
    sizes = documented_sizes()
    assert {k: committed["config"][k] for k in sizes} == sizes
    res = run(**sizes, methods=list(LINEAR), cache_dir=str(tmp_path / "cache"))
    for name in LINEAR:
        assert res["methods"][name]["folds"] == committed["methods"][name]["folds"], name


def test_the_committed_comparison_is_the_documented_quick_run():
    res = doc_tables.load(doc_tables.RESULTS_DIR / "comparison.json", doc_tables.COMPARISON_SCHEMA)
    assert res["tables"] == ["comparison"] and res["provenance"]["kind"] == "synthetic"
    assert res["provenance"]["n"] == 360 and res["config"]["folds"] == 3 and res["config"]["train"]["epochs"] == 6
    assert list(res["variants"]) == ["LMF", "MulT", "ResNet_LSTM", "ResNet_Transformer", "MMIM", "EMERT"]


def _progress_lines(err: str) -> list[str]:
    return [x for x in err.splitlines() if " | run " in x and "ETA" in x]


def test_the_gap_command_at_ci_size_writes_what_the_renderer_reads(tmp_path, capsys):
    from training import gap_experiment

    out = tmp_path / "gap.json"
    methods = ["Face only", "Eye + fixation only", "LogReg: eye + fixation statistics"]
    argv = ["--n", "60", "--participants", "6", "--folds", "2", "--epochs", "1", "--d-model", "8",
            "--cache", str(tmp_path / "cache"), "--out", str(out)]
    assert gap_experiment.main(argv + [x for m in methods for x in ("--method", m)]) == 0
    captured = capsys.readouterr()
    table = doc_tables.gap_markdown(doc_tables.load(out, doc_tables.GAP_SCHEMA))
    assert table in captured.out and [r.split(" | ")[0][2:] for r in table.splitlines()[2:]] == methods
    # stderr is no terminal here: one line per epoch of the whole run (2 neural methods x 2 folds x 1 epoch)
    lines = _progress_lines(captured.err)
    assert [x.split(":")[0] for x in lines] == ["Face only fold 1/2", "Face only fold 2/2",
                                               "Eye + fixation only fold 1/2", "Eye + fixation only fold 2/2"]
    assert lines[-1].split(" | run ")[1].startswith("4/4 epochs (100%)")


def test_the_comparison_command_at_ci_size_writes_what_the_renderer_reads(tmp_path, capsys):
    from training import cli

    out = tmp_path / "comparison.json"
    assert cli.main(["run", "comparison", "--dataset", "synthetic:n=48,participants=6", "--quick", "--epochs", "1",
                     "--folds", "2", "--cache", str(tmp_path / "cache"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    table = doc_tables.comparison_markdown(doc_tables.load(out, doc_tables.COMPARISON_SCHEMA))
    assert len(table.splitlines()) == 2 + 6
    lines = _progress_lines(err)
    assert len(lines) == 6 * 2 and lines[0].startswith("LMF fold 1/2: epoch 1/1")
    assert lines[-1].startswith("EMERT fold 2/2: epoch 1/1") and "12/12 epochs (100%)" in lines[-1]
