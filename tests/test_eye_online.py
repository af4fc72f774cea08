"""EyeProcessor (online) gives the batch pipeline's numbers, with bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.features.eye import EyeProcessor
from emer_live.features.eye_v1 import EyeParams, encode_window, process_gaze
from emer_live.sources.simulated_gaze import simulate_raw
from emer_live.sources.tobii_tsv import read_tobii_tsv
from emer_live.types import GazeSample


def _stream_from_tx300(files) -> tuple[np.ndarray, np.ndarray]:
    """Real recordings one after the other on one clock (a 50 ms pause between files)."""
    ts, raws, start = [], [], 10**12
    for f in files:
        rec = read_tobii_tsv(f)
        t = (rec.t_us - rec.t_us[0]) * 1000 + start
        ts.append(t)
        raws.append(rec.raw)
        start = int(t[-1]) + 50_000_000
    return np.concatenate(ts), np.concatenate(raws)


def _check_against_batch(t, raw, history_s, windows, every=97):
    ep = EyeProcessor(history_s=history_s)
    checks = 0
    for i in range(len(t)):
        ep.push(GazeSample(int(t[i]), raw[i]))
        if i % every and i != len(t) - 1:
            continue
        batch = process_gaze(t[: i + 1], raw[: i + 1])
        for window_s in windows:
            for enc in ("segment", "point"):
                for end in (int(t[i]), int(t[i]) - 300_000_000):
                    a = ep.window(end, window_s, enc)
                    b = encode_window(batch, end, window_s, enc)
                    np.testing.assert_allclose(a.eye, b.eye, rtol=0, atol=1e-6)
                    np.testing.assert_allclose(a.fixation, b.fixation, rtol=0, atol=1e-6)
                    assert (a.n_samples, a.valid_fraction) == (b.n_samples, b.valid_fraction)
                    checks += 1
    return ep, checks


def test_online_windows_equal_batch_on_real_recordings(tx300_files):
    # files with blinks, long losses and an open gap at the end: every path of the pipeline
    picked = [f for f in tx300_files if f.parent.name == "participant2" and f.stem in ("1", "4")]
    picked += [f for f in tx300_files if f.parent.name == "participant1" and f.stem == "3"]
    t, raw = _stream_from_tx300(picked)
    ep, checks = _check_against_batch(t, raw, history_s=130, windows=(0.5, 2.0, 8.0))
    assert checks > 400 and ep.stats.accepted == len(t)


def test_online_equals_batch_with_short_history_and_bad_samples():
    rng = np.random.default_rng(3)
    t, raw = simulate_raw("sadness", 12.0, 250, rng, t0_ns=10**12)
    raw = raw.copy()
    raw[500:520] = np.nan  # NaN values, whatever the flags say
    raw[900, 6] = -2.0  # negative pupil
    _check_against_batch(t, raw, history_s=1.5, windows=(0.5, 1.2), every=61)


def test_push_rejects_bad_samples_and_counts_them():
    ep = EyeProcessor()
    raw = simulate_raw("neutral", 1.0, 120, np.random.default_rng(0))[1]
    assert ep.push(GazeSample(1000, raw[0]))
    assert not ep.push(GazeSample(1000, raw[1]))  # repeated time
    assert not ep.push(GazeSample(999, raw[1]))  # backwards
    assert not ep.push(GazeSample(2000, raw[1][:10]))  # wrong shape
    assert ep.stats.rejected_time == 2 and ep.stats.rejected_shape == 1 and ep.stats.accepted == 1
    w = ep.window(2000, 8.0)
    assert w.n_samples == 1 and np.isfinite(np.delete(w.eye, [11, 12, 13, 26, 27, 28], axis=1)).all()  # no track box


@pytest.mark.parametrize("rate", [250, 1200])
def test_memory_stays_bounded(rate):
    ep = EyeProcessor(history_s=2.0)
    t, raw = simulate_raw("happiness", 30.0, rate, np.random.default_rng(1))
    for i in range(len(t)):
        ep.push(GazeSample(int(t[i]), raw[i]))
        if i % (rate // 10) == 0:
            ep.window(int(t[i]), 2.0)
    rows = len(ep._out.cols["t"]) + len(ep._raw.cols["t"])
    assert rows <= 4 * (2.0 + 1.0) * rate + 4096  # capacity: twice what history and look-back need


def test_rolling_baseline_from_cached_blocks_equals_batch(tx300_files):
    # eye-v3's rolling baseline over real recordings long enough that it is summed from cached
    # blocks of final rows, and slides on past the oldest ones
    params = EyeParams(schema="eye-v3", baseline_s=10.0)
    t, raw = _stream_from_tx300(sorted(tx300_files))
    batch = process_gaze(t, raw, params)
    ep = EyeProcessor(params)
    k, cached = 0, set()
    for end in np.linspace(t[0] + 3e9, t[-1] - 1e9, 25).astype(np.int64):
        while k < len(t) and t[k] <= end + 0.5e9:  # samples settle once blink_max + edge have passed
            ep.push(GazeSample(int(t[k]), raw[k]))
            k += 1
        for enc in ("segment", "point"):
            a, b = ep.window(int(end), 1.0, enc), encode_window(batch, int(end), 1.0, enc)
            np.testing.assert_array_equal(np.isnan(a.eye), np.isnan(b.eye))
            np.testing.assert_allclose(a.eye, b.eye, rtol=1e-6, atol=1e-6, equal_nan=True)
        cached |= set(ep._block_sums)
    assert len(cached) > 2 * len(ep._block_sums) >= 4  # blocks used, and dropped once the baseline moved past
