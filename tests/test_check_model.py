"""`emer-live check-model`, the model-acceptance check: it runs the model on a real video with real
eye recordings (made by others) and fails, with its exit status, when a target is missed."""

from __future__ import annotations

import json

import pytest

from emer_live.cli import main
from emer_live.errors import EmerError
from emer_live.model_check import Targets, join_trials, misses
from emer_live.pipeline.engine import default_model_path


def _summary(n, agree, worst):
    return {"windows": n, "er_top_equals_fer_top": agree, "unflagged_differs_max": worst}


def test_each_missed_target_is_named():
    assert misses(_summary(87, 0.966, 0.46), Targets()) == []
    assert misses(_summary(87, 0.85, 0.7), Targets()) == [
        "ER top == FER top in 0.85 of the windows, target >= 0.9",
        "ER top probability 0.7 where ER and FER differ and nothing is flagged, target <= 0.6"]
    # no window at all proves nothing: it fails, it does not pass vacuously
    assert misses(_summary(0, None, None), Targets()) == [
        "0 windows, fewer than 1", "ER top == FER top in no of the windows, target >= 0.9"]


def test_joining_trials_refuses_what_is_not_a_trial(tmp_path):
    (tmp_path / "a.tsv").write_text("Time\tx\n")
    with pytest.raises(EmerError, match="holds no samples"):
        join_trials([tmp_path / "a.tsv"], tmp_path / "j.tsv")
    (tmp_path / "b.tsv").write_text("Time\tx\n1.5\t2\n")
    with pytest.raises(EmerError, match="not a whole-number time"):
        join_trials([tmp_path / "b.tsv"], tmp_path / "j.tsv")
    with pytest.raises(EmerError, match="no trial files"):
        join_trials([], tmp_path / "j.tsv")
    (tmp_path / "c.tsv").write_text("Time\tx\n100\t1\n200\t2\n")
    (tmp_path / "d.tsv").write_text("Time\tx\n900\t3\n1000\t4\n")
    joined = join_trials([tmp_path / "d.tsv", tmp_path / "c.tsv"], tmp_path / "j.tsv").read_text().splitlines()
    assert joined == ["Time\tx", "0\t1", "100\t2", "3433\t3", "3533\t4"]  # one sample period between trials


def test_the_bundled_model_on_real_eyes(tmp_path, shared_data, real_video, capsys):
    if not default_model_path().exists():
        pytest.skip("default model not exported yet")
    tx300 = shared_data / "eyetracking" / "i2mc_tobii_tx300"
    # its stated targets, and a stricter one it cannot meet on the same run: exit 1, the miss named
    rc = main(["check-model", "--video", str(real_video), "--tx300", str(tx300), "--participant", "participant1",
               "--no-simulated", "--max-differ-p", "0.0", "--json", str(tmp_path / "c.json")])
    res = json.loads((tmp_path / "c.json").read_text())
    s = res["real_eyes"]["participant1"]
    assert s["windows"] >= 60 and misses(s, Targets()) == []
    err = capsys.readouterr().err
    if s["unflagged_differs_max"] is not None:  # some unflagged window differs: 0.0 cannot be met
        assert rc == 1 and "participant1: missed: ER top probability" in err and "targets missed" in err
    else:
        assert rc == 0
    with pytest.raises(SystemExit):
        main(["check-model", "--video", str(real_video)])  # --tx300 is required
    assert main(["check-model", "--video", str(tmp_path / "none.mp4"), "--tx300", str(tx300)]) == 2
