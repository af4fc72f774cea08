"""Timestamps that misbehave, on the real TX300 timestamps: the same rules in the gaze file reader
and the live Tobii source (through the SDK test double). A spike loses one sample, a clock step
starts a new segment and the stream goes on, a repeat is one duplicate; one warning per episode."""

from __future__ import annotations

import numpy as np
import pytest

from emer_live.sources.timestamps import DUPLICATE, NEW_SEGMENT, SPIKE, TimestampGuard
from emer_live.sources.tobii import TobiiGazeSource
from emer_live.sources.tobii_tsv import TobiiTsvSource
from emer_live.types import GazeSample, SourceEvent
from tobii_sdk_double import FakeEyeTracker, _fake_sdk, _gaze_dict, fake_clock_us

SPIKE_US = 3_600_000_000  # one corrupt timestamp an hour ahead
CASES = {
    # name: (how the device times change, samples lost, new segments, warning episodes); each
    # change maps (times, source row of each sample) to new ones
    "spike_forward": (lambda s: _at(s, 300, SPIKE_US), 1, 0, [(SPIKE, 1)]),
    "spike_back": (lambda s: _at(s, 300, -2_000_000), 1, 0, [(SPIKE, 1)]),
    "step_back": (lambda s: _from(s, 300, -5_000_000), 0, 1, [(NEW_SEGMENT, 1)]),
    "step_forward": (lambda s: _from(s, 300, SPIKE_US), 0, 1, [(NEW_SEGMENT, 1)]),
    "repeats": (lambda s: _repeat(s, 300, 5), 5, 0, [(DUPLICATE, 5)]),
    "all_at_once": (lambda s: _repeat(_from(_at(s, 100, SPIKE_US), 600, -5_000_000), 900, 3), 4, 1,
                    [(SPIKE, 1), (NEW_SEGMENT, 1), (DUPLICATE, 3)]),
}


def _at(s, i, jump):
    t, rows = s[0].copy(), s[1]
    t[i] += jump
    return t, rows


def _from(s, i, step):
    t, rows = s[0].copy(), s[1]
    t[i:] += step
    return t, rows


def _repeat(s, i, n):
    """n more samples repeating sample i (its row and its timestamp)."""
    t, rows = s
    return np.insert(t, i + 1, [t[i]] * n), np.insert(rows, i + 1, [rows[i]] * n)


@pytest.fixture(scope="module")
def real_times(tx300_files):
    """Device timestamps (µs) and rows of a real 1,200-sample TX300 recording."""
    lines = tx300_files[1].read_text().splitlines()
    rows = [ln.split("\t") for ln in lines[1:]]
    return lines[0], rows, np.array([int(r[0]) for r in rows], dtype=np.int64)


@pytest.mark.parametrize("case", list(CASES))
def test_gaze_file(tmp_path, real_times, case):
    header, rows, t = real_times
    change, lost, segments, episodes = CASES[case]
    t2, src_rows = change((t, np.arange(len(t))))
    path = tmp_path / f"{case}.tsv"
    path.write_text(header + "\n" + "".join("\t".join([str(v), *rows[k][1:]]) + "\n" for v, k in zip(t2, src_rows)))
    src = TobiiTsvSource(path)
    with src:
        items = list(src.samples())
    samples = [i for i in items if isinstance(i, GazeSample)]
    assert len(samples) == len(t2) - lost  # the stream continues to the end of the file
    assert src.stats.invalid == lost
    rec = src.recordings[0]
    assert len(rec.segment_starts) == segments + 1
    breaks = [i for i in items if isinstance(i, SourceEvent) and i.kind == "stream_break"]
    assert len(breaks) == segments
    warn = [i for i in items if isinstance(i, SourceEvent) and i.kind == "warning"]
    assert [(w.data["problem"], w.data["count"]) for w in warn] == episodes  # one event per episode
    host = np.array([s.host_ns for s in samples])
    assert np.all(np.diff(host) > 0) and np.diff(host).max() < 50e6  # one timeline, no invented gap


@pytest.mark.parametrize("case", list(CASES))
def test_live_source(real_times, case):
    _, _, t = real_times
    change, lost, segments, episodes = CASES[case]
    t2, _ = change((t, np.arange(len(t))))
    src = TobiiGazeSource(sdk=_fake_sdk(FakeEyeTracker(300)))
    src.open()
    for i, dev in enumerate(t2):  # the SDK thread's callback, fed the real device times
        src._on_gaze(_gaze_dict(i, int(dev), fake_clock_us()))
    src.close()
    items = list(src.samples())
    samples = [i for i in items if isinstance(i, GazeSample)]
    assert len(samples) == len(t2) - lost == src.stats.delivered
    assert src.stats.invalid == lost and src.stats.extra.get("clock_steps", 0) == segments
    warn = [i for i in items if isinstance(i, SourceEvent) and i.kind == "warning"]
    assert [(w.data["problem"], w.data["count"]) for w in warn] == episodes


def test_guard_holds_back_only_after_a_jump():
    g = TimestampGuard()
    assert [k for _, k in g.feed(0, "a")] == ["ok"]
    assert [k for _, k in g.feed(3333, "b")] == ["ok"]  # released at once
    assert g.feed(10**9, "c") == []  # a jump: waits for the next sample
    assert g.feed(6667, "d") == [("c", SPIKE), ("d", "ok")]
    assert g.feed(6667, "e") == [("e", DUPLICATE)]
    assert g.feed(None, "f") == [("f", "unreadable")]
    assert g.feed(20_000_000, "g") == []  # 20 s ahead, followed: lost samples, not a clock step
    assert g.feed(20_003_333, "h") == [("g", "ok"), ("h", "ok")]
    assert g.feed(5, "i") == [] and g.flush() == [("i", SPIKE)]  # nothing came to confirm it


def test_live_jump_in_the_last_sample_is_rejected_and_counted(real_times):
    _, _, t = real_times
    t2 = _at((t[:50], np.arange(50)), 49, SPIKE_US)[0]
    src = TobiiGazeSource(sdk=_fake_sdk(FakeEyeTracker(300)))
    src.open()
    for i, dev in enumerate(t2):
        src._on_gaze(_gaze_dict(i, int(dev), fake_clock_us()))
    src.close()
    items = list(src.samples())
    assert sum(isinstance(i, GazeSample) for i in items) == 49 and src.stats.invalid == 1
    warn = [i for i in items if isinstance(i, SourceEvent) and i.kind == "warning"]
    assert [(w.data["problem"], w.data["count"]) for w in warn] == [(SPIKE, 1)]
