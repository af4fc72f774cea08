"""Tobii gaze source: the real SDK where it loads (no tracker attached here), and a test double
of the SDK's EyeTracker that calls our callbacks from its own thread at 600 and 1200 Hz."""

from __future__ import annotations

import math
import sys
import threading
import time

import numpy as np
import pytest

from emer_live.clock import now_ns
from emer_live.errors import SourceError
from emer_live.sources.tobii import TobiiGazeSource, find_trackers, import_sdk
from emer_live.types import GAZE_COL, GazeSample, SourceEvent
from tobii_sdk_double import NAMES, SYS_OFFSET_US, FakeEyeTracker, _fake_sdk, _gaze_dict, fake_clock_us


def _real_sdk():
    try:
        return import_sdk()
    except SourceError as e:
        pytest.skip(f"real tobii-research SDK not usable here: {e}")


# --- the real SDK (no tracker attached) ---------------------------------------------------------

@pytest.mark.tobii
def test_real_sdk_finds_no_tracker():
    tr = _real_sdk()
    assert find_trackers(tr) == []


@pytest.mark.tobii
def test_real_sdk_clock_mapping():
    from emer_live.clock import ClockMapping
    tr = _real_sdk()
    m = ClockMapping.measure(tr.get_system_time_stamp, source="tobii")
    assert m.uncertainty_ns < 5_000_000
    # The mapping puts "now" on the SDK clock at "now" on the host clock, within a few ms.
    assert abs(m.to_host_ns(tr.get_system_time_stamp()) - now_ns()) < 5_000_000


@pytest.mark.tobii
def test_real_sdk_connect_without_tracker_is_a_clear_error():
    _real_sdk()
    with pytest.raises(SourceError, match="no Tobii eye tracker found"):
        TobiiGazeSource().open()
    with pytest.raises(SourceError, match="tet-tcp://192.0.2.1"):
        TobiiGazeSource("tet-tcp://192.0.2.1").open()


@pytest.mark.skipif(sys.version_info[:2] == (3, 10), reason="checks the message on Pythons without the SDK")
def test_sdk_missing_on_other_pythons():
    with pytest.raises(SourceError, match="Python 3.10"):
        import_sdk()


# --- test double of the SDK ---------------------------------------------------------------------

def test_fake_constants_match_the_real_sdk():
    tr = _real_sdk()
    for n in NAMES:
        assert getattr(tr, n) == n.lower()


@pytest.mark.parametrize("rate", [600, 1200])
def test_every_sample_delivered_and_drops_counted_exactly(rate):
    n = rate  # one second of data
    gap = range(n // 4, n // 4 + 7)  # 7 samples the tracker never sent
    outage = range(n // 2, n // 2 + rate // 10)  # 100 ms connection outage
    tracker = FakeEyeTracker(rate)
    src = TobiiGazeSource(sdk=_fake_sdk(tracker))
    src.open()
    assert src.label == "Tobii Tobii Pro Fusion TPFC2-010206235" and src.nominal_hz == rate
    th = tracker.play(n, gap, outage, on_done=src.close)
    samples, events = [], []
    for item in src.samples():
        (samples if isinstance(item, GazeSample) else events).append(item)
    th.join(5)

    expected = n - len(gap) - len(outage)
    assert len(samples) == expected == src.stats.delivered == src.arrived
    assert src.stats.dropped == len(gap) + len(outage)
    assert src.stats.gaps == 2 and src.stats.invalid == 0
    dev = np.array([s.device_us for s in samples])
    assert np.all(np.diff(dev) > 0)

    kinds = [e.kind for e in events]
    assert kinds.count("connection_lost") == 1 and kinds.count("connection_restored") == 1
    assert kinds.index("connection_lost") < kinds.index("connection_restored")
    assert "buffer_overflow" in kinds and "error" in kinds
    assert src.stats.extra["sdk_buffer_overflows"] == 1 and src.stats.extra["stream_errors"] == 1

    # Host times: the SDK's system clock mapped onto ours (offset removed), in order.
    host = np.array([s.host_ns for s in samples])
    assert np.all(np.diff(host) >= 0)
    assert abs(host[-1] - now_ns()) < 1e9
    assert src.info()["clock_mapping"]["device_ref_us"] > SYS_OFFSET_US

    # Values converted on the consumer side; blinks stay invalid NaN; openness attached.
    v = np.array([s.values for s in samples])
    assert set(np.unique(v[:, GAZE_COL["left_gaze_point_validity"]])) == {0.0, 1.0}
    assert np.isnan(v[v[:, GAZE_COL["left_gaze_point_validity"]] == 0, 0]).all()
    with_open = [s.eye_openness for s in samples if s.eye_openness is not None]
    assert len(with_open) > 0.9 * expected
    assert with_open[0][0] == 11.5 and math.isnan(with_open[0][1])


def test_backward_device_time_is_rejected():
    tracker = FakeEyeTracker(600)
    src = TobiiGazeSource(sdk=_fake_sdk(tracker))
    src.open()
    for i, dev in enumerate([1000, 2667, 2667, 1500, 4333]):
        src._on_gaze(_gaze_dict(i, dev, fake_clock_us()))
    src.close()
    items = list(src.samples())
    samples = [i for i in items if isinstance(i, GazeSample)]
    assert [s.device_us for s in samples] == [1000, 2667, 4333]
    assert src.stats.invalid == 2
    assert sum(1 for i in items if isinstance(i, SourceEvent) and i.kind == "warning") == 2


def test_bad_values_marked_invalid():
    tracker = FakeEyeTracker(600)
    src = TobiiGazeSource(sdk=_fake_sdk(tracker))
    src.open()
    d = _gaze_dict(0, 1000, fake_clock_us())
    d["left_pupil_diameter"] = -1.0
    d["right_gaze_point_on_display_area"] = (math.nan, 0.5)  # NaN although flagged valid
    src._on_gaze(d)
    src.close()
    s = next(i for i in src.samples() if isinstance(i, GazeSample))
    assert s.values[GAZE_COL["left_pupil_validity"]] == 0 and np.isnan(s.values[GAZE_COL["left_pupil_diameter"]])
    assert s.values[GAZE_COL["right_gaze_point_validity"]] == 0
    assert s.values[GAZE_COL["left_gaze_point_validity"]] == 1
    assert src.stats.extra["bad_values"] == 1


def test_stalled_stream_is_reported_lost_then_restored():
    tracker = FakeEyeTracker(600)
    src = TobiiGazeSource(sdk=_fake_sdk(tracker))
    src.open()
    src._on_gaze(_gaze_dict(0, 1000, fake_clock_us()))
    kinds = []

    def feed_later():
        time.sleep(0.7)  # silence longer than the 0.5 s stall limit
        src._on_gaze(_gaze_dict(1, 1000 + 1667, fake_clock_us()))
        time.sleep(0.05)
        src.close()

    threading.Thread(target=feed_later, daemon=True).start()
    for item in src.samples():
        kinds.append(item.kind if isinstance(item, SourceEvent) else "sample")
    assert kinds == ["sample", "connection_lost", "sample", "connection_restored"]


def test_unknown_serial_and_unsupported_frequency():
    tracker = FakeEyeTracker(600)
    with pytest.raises(SourceError, match="serial XYZ not found.*TPFC2-010206235"):
        TobiiGazeSource("XYZ", sdk=_fake_sdk(tracker)).open()
    with pytest.raises(SourceError, match="333 Hz not supported"):
        TobiiGazeSource(None, frequency=333, sdk=_fake_sdk(tracker)).open()
    src = TobiiGazeSource("TPFC2-010206235", frequency=1200, sdk=_fake_sdk(tracker))
    src.open()
    assert src.nominal_hz == 1200 and src.info()["device"]["frequencies"][-1] == 1200.0
    src.close()


def test_value_checks_same_in_blocks_as_one_by_one():
    """The consumer hands gaze on in blocks; the checks must not depend on how samples are
    grouped, nor on the array's memory layout, nor on whether a sample is checked as a list of
    floats (small blocks) or in an array. Hostile rows: flags that are not 0/1 (infinite ones
    too), NaN under a valid flag, pupils out of range, gaze far off the display or infinite,
    missing 3D points."""
    from emer_live.sources.gaze_checks import sanitize_gaze, sanitize_gaze_row

    rng = np.random.default_rng(3)
    a = rng.normal(0.5, 1.0, (3000, 30))
    for off in (0, 15):
        for c in (5, 7, 14):
            a[:, off + c] = rng.choice([0.0, 1.0, 1.0, 1.0, math.nan, 2.0, -1.0, 0.5, math.inf], len(a))
        a[:, off + 6] = rng.choice([3.0, -1.0, 0.0, 13.0, math.nan, 5.0, 12.0, math.inf], len(a))
    a[rng.random(a.shape) < 0.05] = math.nan
    a[rng.random(a.shape) < 0.01] = -math.inf
    lists = a.tolist()
    bad_lists = np.array([sanitize_gaze_row(r) for r in lists])
    one = a.copy()
    bad_one = np.array([sanitize_gaze(row)[0] for row in one])  # (30,) rows, in place
    block = a.copy()
    bad_block = sanitize_gaze(block)
    fortran = np.asfortranarray(a)
    bad_fortran = sanitize_gaze(fortran)
    assert bad_one.any() and not bad_one.all()
    assert np.array_equal(bad_block, bad_one) and np.array_equal(bad_fortran, bad_one)
    assert np.array_equal(block, one, equal_nan=True) and np.array_equal(fortran, one, equal_nan=True)
    assert np.array_equal(bad_lists, bad_one) and np.array_equal(np.array(lists), one, equal_nan=True)
    # what the checks promise, row by row: a valid flag is 0 or 1, and an invalid one carries NaN
    for off, (vcol, cols) in ((o, v) for o in (0, 15) for v in ((5, (0, 1, 2, 3, 4)), (7, (6,)), (14, range(8, 14)))):
        flag = one[:, off + vcol]
        assert set(np.unique(flag)) <= {0.0, 1.0}
        assert np.isnan(one[flag == 0][:, [off + c for c in cols]]).all()
