"""Markers sent over LSL by experiment software (as PsychoPy, Psychtoolbox and Presentation send
them: a string stream of type Markers) land in the recording session at their sending time, and
tie a log to the recording through labels import --sync."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from emer_live.clock import now_ns
from emer_live.errors import RecordingError
from emer_live.recording.lsl_markers import LslMarkerInlet
from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.types import Frame


def test_markers_from_an_lsl_outlet_are_recorded_at_their_sending_time(tmp_path):
    name = f"PsychoPyMarkers-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, "string", name))
    s = RecordingSession(tmp_path / "s", "P01", consent=True, block_when_full=True)
    inlet = LslMarkerInlet(name=name, resolve_timeout_s=10.0).start(s)
    time.sleep(1.0)  # the inlet's connection is up before the experiment starts sending
    img = np.zeros((8, 8, 3), np.uint8)
    sent = {}
    for i, label in enumerate(("start_trigger", "trial_1", "trial_2")):
        sent[label] = now_ns()
        outlet.push_sample([label], pylsl.local_clock())
        s.sink.on_frame(Frame(host_ns=now_ns(), index=i, image=img))
        time.sleep(0.3)
    deadline = time.monotonic() + 5.0
    while inlet.received < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inlet.close() == 3
    s.close()
    got = {m["label"]: m["host_ns"] for m in SessionReader(tmp_path / "s").markers()}
    assert set(got) == set(sent)
    for label, t in sent.items():  # at the sending time, not when it arrived
        assert abs(got[label] - t) < 50_000_000, (label, (got[label] - t) / 1e6)


def test_no_marker_stream_is_said():
    with pytest.raises(RecordingError, match="no LSL marker stream named 'nobody-sends-this'"):
        LslMarkerInlet(name="nobody-sends-this", resolve_timeout_s=0.5)


def test_a_run_refuses_lsl_markers_it_cannot_place(tmp_path, capsys):
    from emer_live.cli import main

    base = ["run", "--headless", "--demo", "--fast", "--duration", "1", "--out", str(tmp_path / "o.jsonl")]
    assert main(base + ["--lsl-markers"]) == 2
    assert "--lsl-markers records into a session: it needs --record" in capsys.readouterr().err
    assert main(base + ["--lsl-markers", "--record", str(tmp_path / "rec"), "--participant", "P01", "--consent"]) == 2
    assert "needs a live run" in capsys.readouterr().err
    assert not (tmp_path / "rec").exists() or not any((tmp_path / "rec").iterdir())  # no session left behind
