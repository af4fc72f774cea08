"""Tobii gaze source: the real SDK where it loads (no tracker attached here), and a test double
of the SDK's EyeTracker that calls our callbacks from its own thread at 600 and 1200 Hz."""

from __future__ import annotations

import math
import sys
import threading
import time
import types

import numpy as np
import pytest

from emer_live.clock import now_ns
from emer_live.errors import SourceError
from emer_live.sources.tobii import _NOTES, TobiiGazeSource, find_trackers, import_sdk
from emer_live.types import GAZE_COL, GazeSample, SourceEvent
from tobii_sdk_double import sdk_gaze_dict


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

NAMES = [*_NOTES, "EYETRACKER_GAZE_DATA", "EYETRACKER_STREAM_ERRORS", "EYETRACKER_EYE_OPENNESS_DATA",
         "CAPABILITY_HAS_EYE_OPENNESS_DATA"]
SYS_OFFSET_US = 987_654_321  # the SDK's system clock is not the host clock


def test_fake_constants_match_the_real_sdk():
    tr = _real_sdk()
    for n in NAMES:
        assert getattr(tr, n) == n.lower()


def _gaze_dict(i, dev_us, sys_us):
    """A sample as tobii-research 2.x sends it (tobii_sdk_double: checked by the SDK's GazeData)."""
    x, y = 0.5 + 0.1 * math.sin(i / 50), 0.5 + 0.1 * math.cos(i / 70)
    blink = 100 <= i % 400 < 130
    eyes = {eye: None if blink else {"display": (x + dx, y), "gaze_ucs": ((x - 0.5) * 527, 170.0, 0.0), "pupil": 3.4,
                                     "origin_ucs": (dx * 6000, 320.0, 600.0)}
            for eye, dx in (("left", -0.005), ("right", 0.005))}
    return sdk_gaze_dict(dev_us, sys_us, eyes)


class FakeEyeTracker:
    """Stands in for tobii_research.EyeTracker: holds subscriptions and, in play(), calls them
    from its own thread in bursts (as the SDK does) at `rate` Hz, leaving out the samples of a
    gap and of a connection outage it announces with notifications."""

    def __init__(self, rate):
        self.serial_number, self.address, self.model = "TPFC2-010206235", "tobii-prp://TPFC2-010206235", "Tobii Pro Fusion"
        self.device_name = "fake fusion"
        self.device_capabilities = ("capability_has_gaze_data", "capability_has_eye_openness_data")
        self.rate = rate
        self.subs = {}

    def get_all_gaze_output_frequencies(self):
        return (60.0, 120.0, 250.0, 600.0, 1200.0)

    def get_gaze_output_frequency(self):
        return float(self.rate)

    def set_gaze_output_frequency(self, f):
        self.rate = f

    def subscribe_to(self, kind, callback, as_dictionary=False):
        assert as_dictionary
        self.subs.setdefault(kind, []).append(callback)

    def unsubscribe_from(self, kind, callback=None):
        self.subs.pop(kind, None)

    def _send(self, kind, d):
        for cb in self.subs.get(kind, []):
            cb(d)

    def _note(self, name, **extra):
        self._send(name.lower(), {"notification_type": name.lower(),
                                  "system_time_stamp": fake_clock_us(), **extra})

    def play(self, n, gap, outage, on_done):
        """Send samples 0..n-1 except those in range `gap` and `outage`; returns the thread."""
        period_us = 1e6 / self.rate
        dev0 = 5_000_000

        def run():
            t0 = time.monotonic()
            i = 0
            while i < n:
                due = int((time.monotonic() - t0) * self.rate) + 1
                while i < min(due, n):
                    if i == outage.start:
                        self._note("EYETRACKER_NOTIFICATION_CONNECTION_LOST")
                    if i == outage.stop:
                        self._note("EYETRACKER_NOTIFICATION_CONNECTION_RESTORED")
                        self._note("EYETRACKER_NOTIFICATION_STREAM_BUFFER_OVERFLOW")
                        self._send("eyetracker_stream_errors", {"system_time_stamp": fake_clock_us(),
                                   "error": "stream_error_internal_error", "source": "stream_error_source_stream_pump",
                                   "message": "test"})
                    if i not in gap and i not in outage:
                        dev = dev0 + int(round(i * period_us))
                        self._send("eyetracker_gaze_data", _gaze_dict(i, dev, fake_clock_us()))
                        self._send("eyetracker_eye_openness_data", {
                            "device_time_stamp": dev, "system_time_stamp": fake_clock_us(),
                            "left_eye_validity": 1, "left_eye_openness_value": 11.5,
                            "right_eye_validity": 0, "right_eye_openness_value": math.nan})
                    i += 1
                time.sleep(0.004)
            on_done()

        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th


def fake_clock_us():
    return time.monotonic_ns() // 1000 + SYS_OFFSET_US


def _fake_sdk(tracker):
    sdk = types.SimpleNamespace(**{n: n.lower() for n in NAMES})
    sdk.find_all_eyetrackers = lambda: (tracker,)
    sdk.get_system_time_stamp = fake_clock_us
    sdk.EyeTracker = lambda address: tracker
    return sdk


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
