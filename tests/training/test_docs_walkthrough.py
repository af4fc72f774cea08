"""The lab loop exactly as docs/training.md ("Train on your own recordings") writes it: its code
blocks are extracted and run in order by a shell, in an empty folder, with `emer-live` and
`emer-train` being this checkout's commands. If the docs change, this runs what they now say."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]
APP_PYTHON = os.environ.get("EMER_APP_PYTHON") or str(REPO / ".venv" / "bin" / "python")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(APP_PYTHON).is_file(),
                                                   reason="app environment not found (set EMER_APP_PYTHON)")]


def walkthrough_blocks(doc: Path) -> list[str]:
    text = doc.read_text()
    section = text.split("## Train on your own recordings", 1)[1].split("\n## ", 1)[0]
    return [textwrap.dedent(b) for b in re.findall(r"^ *```\n(.*?)^ *```", section, re.S | re.M)]


def test_the_documented_walkthrough_runs_literally(tmp_path):
    blocks = walkthrough_blocks(REPO / "docs" / "training.md")
    assert len(blocks) == 5 and "labels import" in blocks[1]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, python, module in (("emer-live", APP_PYTHON, "emer_live"), ("emer-train", sys.executable, "training.cli")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{python}" -m {module} "$@"\n')
        shim.chmod(0o755)
    work = tmp_path / "lab"
    work.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO),
           "QT_QPA_PLATFORM": "offscreen"}
    outputs = []
    for block in blocks:
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=work, env=env, capture_output=True,
                           text=True, timeout=900)
        assert p.returncode == 0, f"docs block failed:\n{block}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
        outputs.append(p.stdout)
    sessions = sorted(d.name for d in (work / "rec").iterdir())
    assert [s[:3] for s in sessions] == ["P01", "P02"]
    for s in sessions:  # both participants labelled, as the docs say
        assert len((work / "rec" / s / "labels.csv").read_text().splitlines()) == 3
    card = json.loads((work / "models" / "lab-model.card.json").read_text())
    assert card["provenance"]["data"]["sessions"] == sessions
    summary = json.loads(outputs[-1].strip().splitlines()[-1])
    assert summary["predictions"] > 0 and all(s in summary["model"]["model_provenance"] for s in sessions)
