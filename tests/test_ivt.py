"""Tobii-style I-VT (features/ivt.py): centred velocity window, the causal classifier's lag, and
Tobii's optional steps at their defaults."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from emer_live.features import ivt
from emer_live.features.eye_v1 import MISSING, EyeParams, _binocular, _display_mean, process_gaze
from emer_live.sources.tobii_tsv import read_tobii_tsv

RATE = 300.0
REPO = Path(__file__).resolve().parents[1]


def _t(n):
    return (np.arange(n) * 1e9 / RATE).astype(np.int64)


def _dirs(deg_x):
    """Unit directions looking deg_x degrees to the side."""
    a = np.radians(np.asarray(deg_x, float))
    return np.column_stack([np.sin(a), np.zeros_like(a), np.cos(a)])


def test_centred_window_puts_the_saccade_on_the_movement():
    deg = np.zeros(300)
    deg[150:] = 10.0  # an instant 10 degree jump between samples 149 and 150
    d = _dirs(deg)
    centred = ivt.classify(_t(300), d, steps=None)
    causal = ivt.classify(_t(300), d, steps=None, centred=False)
    sc, sk = np.flatnonzero(centred == ivt.SACCADE), np.flatnonzero(causal == ivt.SACCADE)
    assert abs((sc[0] + sc[-1]) / 2 - 149.5) <= 0.5  # centred on the jump
    assert (sk[0] + sk[-1]) / 2 > 149.5 + 3  # the causal label runs late


def test_causal_lag_on_real_data_matches_the_documented_lag(tx300_files):
    """Measured on a real TX300 recording: the shift aligning causal with centred labels."""
    rec = read_tobii_tsv(next(f for f in tx300_files if f.as_posix().endswith("participant2/1.tsv")))
    t = rec.t_us * 1000
    p = process_gaze(t, rec.raw)
    n = len(p.t_ns)
    with np.errstate(invalid="ignore"):  # NaN marks missing samples
        both = _binocular(p.vec[:, 30:36].astype(float).reshape(n, 2, 3), _display_mean(p.vec.astype(float)),
                          EyeParams())
    both[p.event == MISSING] = np.nan
    causal = ivt.classify(p.t_ns, both, steps=None, centred=False) == ivt.FIXATION
    centred = ivt.classify(p.t_ns, both, steps=None) == ivt.FIXATION
    ok = p.event != MISSING
    agree = {k: np.mean((causal[k:] == centred[:n - k])[ok[k:] & ok[:n - k]]) for k in range(0, 12)}
    lag = max(agree, key=agree.get)
    assert abs(lag / RATE - ivt.CAUSAL_LAG_S) <= 1 / RATE
    assert agree[lag] > 0.95 and agree[lag] > agree[0] + 0.02
    # Compensated timestamps put the causal labels back onto the movement.
    assert np.allclose(ivt.compensate_lag(p.t_ns[lag:]) - p.t_ns[:n - lag], 0, atol=1.5e6)


def test_gap_fill_in_up_to_75_ms():
    d = _dirs(np.zeros(200))
    d[50:65] = np.nan  # 15 samples = 53 ms lost (gap from last before to first after: 16 periods)
    d[120:150] = np.nan  # 100 ms lost
    labels = ivt.classify(_t(200), d, steps=ivt.TobiiSteps())
    assert (labels[50:65] == ivt.FIXATION).all()  # filled in, classified
    assert (labels[120:150] == ivt.MISSING).all()  # too long: stays missing
    assert (ivt.classify(_t(200), d, steps=None)[50:65] == ivt.MISSING).all()


def test_merge_adjacent_fixations():
    t = _t(500)
    deg = np.zeros(500)
    deg[110:] = 0.3  # a fixation 0.3 deg from the first, 33 ms later: merged
    deg[250:] = 5.3  # 5 deg away: kept apart
    deg[400:] = 5.6  # 0.3 deg away but 100 ms later: kept apart
    labels = np.full(500, ivt.FIXATION, dtype=np.int8)
    labels[100:110] = ivt.SACCADE
    labels[240:250] = ivt.SACCADE
    labels[370:400] = ivt.SACCADE
    out = ivt.merge_adjacent(t, labels, _dirs(deg), 0.075, 0.5)
    assert (out[:240] == ivt.FIXATION).all()
    assert (out[240:250] == ivt.SACCADE).all() and (out[370:400] == ivt.SACCADE).all()


def test_discard_short_fixations():
    deg = np.concatenate([np.zeros(100), np.linspace(0, 20, 10), np.full(12, 20.0), np.linspace(20, 40, 10),
                          np.full(100, 40.0)])
    lab = ivt.classify(_t(len(deg)), _dirs(deg))  # Tobii's defaults: fixations under 60 ms discarded
    assert (lab[110:122] != ivt.FIXATION).all() and (lab[110:122] == ivt.UNCLASSIFIED).any()
    assert (lab[:90] == ivt.FIXATION).all() and (lab[-80:] == ivt.FIXATION).all()
    kept = ivt.classify(_t(len(deg)), _dirs(deg), steps=ivt.TobiiSteps(discard_short=False))
    assert (kept[110:122] == ivt.FIXATION).any()


def test_agreement_script_reports_the_figures(tx300_files, tmp_path, capsys):
    """research/ivt_agreement.py on one real recording: kappa, count ratio, medians, causal lag."""
    pytest.importorskip("I2MC")
    spec = importlib.util.spec_from_file_location("ivt_agreement", REPO / "research" / "ivt_agreement.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    f = next(f for f in tx300_files if f.as_posix().endswith("participant2/1.tsv"))
    out = tmp_path / "agree.json"
    assert mod.main([str(f), "--json", str(out)]) == 0
    r = json.loads(out.read_text())["recordings"][0]
    assert r["reference"] == "I2MC" and r["causal_lag_samples"] == 5
    assert r["centred"]["kappa"] > r["causal"]["kappa"]  # centring the windows removes the lag
    assert 0.5 < r["centred"]["count_ratio"] < 2.0 and r["centred"]["median_ms"] > 100

