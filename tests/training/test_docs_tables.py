"""The docs' tables come out of their command: the gap experiment's logistic-regression rows
(deterministic, seconds to compute) are rerun at the sizes the docs' own command line names, and
the rows in docs/training.md and the README must be what the command prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from training.gap_experiment import LINEAR, markdown_table, run

REPO = Path(__file__).resolve().parents[2]


def documented_sizes() -> dict:
    """The options of the gap-experiment command line in docs/training.md."""
    line = next(x for x in (REPO / "docs" / "training.md").read_text().splitlines()
                if x.startswith("python -m training.gap_experiment"))
    argv = shlex.split(line)[3:]
    opts = dict(zip(argv[::2], argv[1::2]))
    return {"n": int(opts["--n"]), "participants": int(opts["--participants"]), "folds": int(opts["--folds"]),
            "epochs": int(opts["--epochs"]), "d_model": int(opts["--d-model"])}


def test_the_logistic_regression_rows_in_the_docs_are_what_the_command_prints(tmp_path):
    res = run(**documented_sizes(), methods=list(LINEAR), cache_dir=str(tmp_path / "cache"))
    printed = markdown_table(res).splitlines()[2:]
    assert len(printed) == len(LINEAR)
    for doc in ("docs/training.md", "README.md"):
        text = (REPO / doc).read_text()
        for row in printed:
            name = row.split(" | ")[0].lstrip("| ")
            shown = [x for x in text.splitlines() if x.startswith(f"| {name} |")]
            assert shown == [row], (doc, name, shown, row)
            assert re.match(r"\| .+ \| \d\.\d{3} ± \d\.\d{3} \|", row)
