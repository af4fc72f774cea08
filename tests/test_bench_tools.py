"""The measurement subcommands of `emer-live bench` (live-cpu, record-soak, crash-loss) run and
report what they measured, with the shortest settings: the figures themselves are the
benchmark's business, never a test's."""

from __future__ import annotations

import json
import sys

import pytest

from emer_live.cli import main as cli_main

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and sends SIGKILL")


def test_live_cpu_prints_one_json_line(capsys):
    assert cli_main(["bench", "live-cpu", "--seconds", "3.5", "--warmup-s", "1", "--tag", "t"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["tag"] == "t" and r["seconds"] == 3.5 and r["cpu_by_thread"]
    assert r["cpu_s_per_wall_s"] is None or r["cpu_s_per_wall_s"] > 0


def test_record_soak_samples_the_recording_process(tmp_path, capsys):
    out = tmp_path / "soak.json"
    assert cli_main(["bench", "record-soak", "--minutes", "0.12", "--every-s", "1", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["returncode"] == 0 and len(r["rss_mb"]) >= 3 and r["rss_mb_end"] > 0
    assert r["recording"]["written"] and not r["recording"]["error"]


def test_crash_loss_kills_a_recording_and_replays_it(real_video, tmp_path, capsys):
    out = tmp_path / "crash.json"
    assert cli_main(["bench", "crash-loss", "--kills", "1", "--parallel", "1", "--max-wait-s", "1",
                     "--video", str(real_video), "--json", str(out)]) == 0
    s = json.loads(out.read_text())["summary"]
    assert s["kills"] == 1 and not s["failed_kills"] and s["loss"]["frames"]["n"] == 1
