"""`emer-live devices` lists what opens; on a machine with neither it says so plainly."""

from __future__ import annotations

import json

from emer_live.cli import main


def test_devices_json(capsys):
    assert main(["devices", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"cameras", "trackers", "tobii_unavailable"}
    for cam in out["cameras"]:
        assert {"index", "width", "height", "fps"} <= set(cam)
    for t in out["trackers"]:
        assert {"serial", "address", "model", "name", "frequencies"} <= set(t)


def test_devices_text(capsys):
    assert main(["devices", "--max-camera", "1"]) == 0
    out = capsys.readouterr().out
    assert "Cameras (indexes 0-1):" in out and "Tobii eye trackers:" in out
