"""Recording that fails loudly and stops cleanly: write errors told at once and written into
session.json, streams on disk in step, torn tails trimmed for third-party readers, malformed rows
skipped with a warning, failed starts leaving no folder, SIGTERM handled like Ctrl+C."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from emer_live.recording import layout as L
from emer_live.recording.session import RecordingSession
from emer_live.recording.session_reader import SessionReader
from emer_live.types import Frame
from test_recording_session import FullDiskDouble, _Face, _gaze, _image, _pred, record


def _wait_for(cond, timeout_s=10.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def _lines(path):
    return path.read_bytes().splitlines() if path.exists() else []


def test_streams_reach_the_disk_in_step_not_on_the_sync_timer(tmp_path):
    # fsync only every 30 s: what a killed process leaves must not depend on it
    s = RecordingSession(tmp_path / "s", "P01", consent=True, flush_interval_s=30.0)
    s.sink.on_frame(Frame(host_ns=1_000, index=0, image=_image(0)), _Face(True))
    s.sink.on_gaze(_gaze(0))
    s.sink.on_prediction(_pred(0))
    assert _wait_for(lambda: len(_lines(tmp_path / "s" / L.PREDICTIONS_JSONL)) == 1)
    # everything queued before the prediction is in the files already (the OS has it)
    assert len(_lines(tmp_path / "s" / L.FRAMES_CSV)) == 2 and len(_lines(tmp_path / "s" / L.GAZE_CSV)) == 2
    s.close()


def test_write_error_is_told_at_once_in_plain_words_and_marked_in_session_json(tmp_path):
    seen = []

    def on_error(err):  # what the run command and the window get, from the writer thread
        meta = json.loads((tmp_path / "s" / L.SESSION_JSON).read_text())
        seen.append((err, meta.get("recording_error")))

    s = RecordingSession(tmp_path / "s", "P01", consent=True, fs=FullDiskDouble(50_000, errno.ENOSPC),
                         on_error=on_error)
    for i in range(200):
        s.sink.on_frame(Frame(host_ns=1_000_000_000 + i * 33_000_000, index=i, image=_image(i)), None)
        if seen:
            break
        time.sleep(0.002)
    assert _wait_for(lambda: seen), "no error reported while recording"
    err, marked = seen[0]
    text = str(err)
    assert text.startswith("Recording stopped: the disk is full (No space left on device)")
    assert text.count("Recording stopped") == 1 and "kept and readable" in text
    assert marked["reason"].startswith("the disk is full") and marked["host_ns"] > 0  # while still running
    s.close()
    meta = SessionReader(tmp_path / "s").meta
    assert meta["closed"] and meta["ended_by"] == "recording_error" and meta["recording_error"]["message"] == text


def test_removed_folder_is_not_called_kept(tmp_path):
    seen = []
    s = RecordingSession(tmp_path / "s", "P01", consent=True, on_error=seen.append, flush_interval_s=0.05)
    s.sink.on_gaze(_gaze(0))
    assert _wait_for(lambda: (tmp_path / "s" / L.GAZE_CSV).exists())
    shutil.rmtree(tmp_path / "s")
    s.sink.on_gaze(_gaze(1))
    s.sink.on_face_crop(1, 1, np.zeros((112, 112, 3), np.uint8))  # a new file in the vanished folder
    assert _wait_for(lambda: seen, 20.0), "a vanished session folder went unnoticed"
    assert "is gone" in str(seen[0]) and "kept and readable" not in str(seen[0])
    s.close()


def _crashed_copy(tmp_path):
    """A session as a killed process leaves it: closed false, torn last lines."""
    record(tmp_path / "s").close()
    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "s", crashed)
    meta = json.loads((crashed / L.SESSION_JSON).read_text())
    meta["closed"] = False
    (crashed / L.SESSION_JSON).write_text(json.dumps(meta))
    with open(crashed / L.GAZE_CSV, "ab") as f:
        f.write(b"1")  # what a full disk left in the original report
    with open(crashed / L.PREDICTIONS_JSONL, "ab") as f:
        f.write(b'{"seq": 3, "window_e')
    return crashed


def test_torn_tails_are_trimmed_when_a_crashed_session_is_opened(tmp_path):
    import pandas as pd

    crashed = _crashed_copy(tmp_path)
    r = SessionReader(crashed)
    assert set(r.trimmed) == {L.GAZE_CSV, L.PREDICTIONS_JSONL}
    gaze = pd.read_csv(crashed / L.GAZE_CSV)
    assert len(gaze) == 200 and gaze["host_ns"].notna().all() and gaze["host_ns"].min() > 1
    assert len(pd.read_json(crashed / L.PREDICTIONS_JSONL, lines=True)) == 3


def test_a_session_being_written_is_never_trimmed(tmp_path):
    s = RecordingSession(tmp_path / "s", "P01", consent=True)
    s.sink.on_gaze(_gaze(0))
    assert _wait_for(lambda: len(_lines(tmp_path / "s" / L.GAZE_CSV)) == 2)
    with open(tmp_path / "s" / L.GAZE_CSV, "ab") as f:
        f.write(b"12")  # a row the writer is half way through, as a reader may see it
    r = SessionReader(tmp_path / "s")
    assert r.trimmed == {} and (tmp_path / "s" / L.GAZE_CSV).read_bytes().endswith(b"12")
    s.writer.close()


def test_pandas_recipe_in_the_docs_is_safe_on_a_live_session(tmp_path, repo_root):
    import pandas as pd

    doc = (repo_root / "docs" / "session-format.md").read_text()
    assert "data[: data.rfind(b\"\\n\") + 1]" in doc
    crashed = tmp_path / "live"
    record(tmp_path / "s").close()
    shutil.copytree(tmp_path / "s", crashed)
    with open(crashed / L.GAZE_CSV, "ab") as f:
        f.write(b"1")
    data = (crashed / L.GAZE_CSV).read_bytes()
    gaze = pd.read_csv(io.BytesIO(data[: data.rfind(b"\n") + 1]))
    assert len(gaze) == 200 and gaze["host_ns"].min() > 1


# --- malformed input: skipped and counted, or a clear error; never a traceback -----------------

@pytest.fixture()
def spoilt(tmp_path, real_video):
    """A real recorded session (real video, simulated gaze) with one bad row in the middle of
    frames.csv and gaze.csv (host_ns re-saved by a spreadsheet) and a predictions line that is
    not an object."""
    from model_doubles import build_model_double

    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.offline import run_offline
    from emer_live.sources.simulated_gaze import SimulatedGazeSource
    from emer_live.sources.video_file import VideoFileSource

    card = build_model_double(tmp_path / "model", window_s=1.0)
    engine = InferenceEngine(card, prefer_gpu=False)
    s = RecordingSession(tmp_path / "s", "P01", consent=True, model_card=engine.card,
                         pipeline={"update_hz": 5.0, "use_eye": True}, block_when_full=True)
    run_offline(VideoFileSource(real_video, realtime=False), SimulatedGazeSource(rate_hz=60, realtime=False),
                engine, sinks=[s.sink], update_hz=5.0, duration_s=3.0)
    s.close()
    folder = tmp_path / "s"
    for name, line in ((L.FRAMES_CSV, 10), (L.GAZE_CSV, 20)):
        rows = (folder / name).read_text().splitlines(keepends=True)
        cells = rows[line].split(",")
        col = L.CSV_HEADERS[name].index("host_ns")
        cells[col] = f"{float(cells[col]):.2E}"
        rows[line] = ",".join(cells)
        (folder / name).write_text("".join(rows))
    preds = (folder / L.PREDICTIONS_JSONL).read_text().splitlines(keepends=True)
    preds.insert(2, "[1, 2, 3]\n")
    (folder / L.PREDICTIONS_JSONL).write_text("".join(preds))
    return folder, card


def test_malformed_rows_are_skipped_counted_and_named(spoilt):
    folder, _ = spoilt
    r = SessionReader(folder)
    n_frames, n_gaze = len(r.frames()["host_ns"]), len(r.gaze()[0])
    r.predictions()
    assert dict(r.skipped) == {L.FRAMES_CSV: 1, L.GAZE_CSV: 1, L.PREDICTIONS_JSONL: 1}
    text = "\n".join(r.warnings())
    assert "frames.csv line 11: host_ns" in text and "gaze.csv line 21: host_ns" in text
    assert "predictions.jsonl line 3: a JSON list, not an object" in text
    assert n_frames == len(_lines(folder / L.FRAMES_CSV)) - 2 and n_gaze == len(_lines(folder / L.GAZE_CSV)) - 2


def test_replay_and_export_warn_about_bad_rows_and_go_on(spoilt, tmp_path, capsys):
    from emer_live.cli import main

    folder, card = spoilt
    assert main(["replay", str(folder), "--fast", "--headless", "--quiet", "--model", str(card)]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)["summary"]
    assert summary["skipped_rows"] == {L.FRAMES_CSV: 1, L.GAZE_CSV: 1, L.PREDICTIONS_JSONL: 1}
    assert "warning: frames.csv line 11" in err and "warning: gaze.csv line 21" in err
    for fmt in ("csv", "parquet"):
        assert main(["export", str(folder), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
        assert "warning: frames.csv line 11" in capsys.readouterr().err


@pytest.mark.parametrize("meta_change, words", [
    (lambda m: [m], "is a JSON list, not an object"),
    (lambda m: {**m, "started_host_ns": "soon"}, "started_host_ns is 'soon'"),
    (lambda m: {**m, "pipeline": "fast"}, "'pipeline' is a JSON str"),
])
def test_bad_session_json_is_a_clear_error(tmp_path, capsys, meta_change, words):
    from emer_live.cli import main

    record(tmp_path / "s").close()
    meta = json.loads((tmp_path / "s" / L.SESSION_JSON).read_text())
    (tmp_path / "s" / L.SESSION_JSON).write_text(json.dumps(meta_change(meta)))
    for argv in (["replay", str(tmp_path / "s"), "--fast", "--headless"],
                 ["export", str(tmp_path / "s"), "--out", str(tmp_path / "x")]):
        assert main(argv) == 2
        assert words in capsys.readouterr().err


@pytest.mark.parametrize("hz", ["-5", "0", "nan"])
def test_replay_update_hz_must_be_positive(tmp_path, capsys, hz):
    from emer_live.cli import main

    record(tmp_path / "s").close()
    with pytest.raises(SystemExit) as e:
        main(["replay", str(tmp_path / "s"), "--fast", "--headless", "--update-hz", hz])
    assert e.value.code == 2 and "must be a positive number" in capsys.readouterr().err


# --- the run command: failed starts, failed recordings, stop signals ----------------------------

@pytest.fixture(scope="module")
def card(tmp_path_factory):
    from model_doubles import build_model_double

    return str(build_model_double(tmp_path_factory.mktemp("m"), window_s=1.0))


def _record_args(root):
    return ["--record", str(root), "--participant", "P01", "--consent"]


@pytest.mark.parametrize("case", ["not_a_video", "empty_mp4", "bad_tsv", "no_tracker"])
def test_failed_start_leaves_no_session_folder(tmp_path, capsys, card, real_video, case):
    from emer_live.cli import main

    bad = tmp_path / "bad.mp4"
    if case == "not_a_video":
        bad.write_text("this is a text file, not a video\n")
        src = ["--video", str(bad), "--gaze", "simulated"]
    elif case == "empty_mp4":
        bad.write_bytes(b"")
        src = ["--video", str(bad), "--gaze", "simulated"]
    elif case == "bad_tsv":
        tsv = tmp_path / "bad.tsv"
        tsv.write_text("nothing\tlike\ta tobii export\n1\t2\t3\n")
        src = ["--video", str(real_video), "--gaze", f"tsv:{tsv}"]
    else:
        src = ["--video", str(real_video), "--gaze", "tobii:no-such-tracker"]
    rc = main(["run", "--headless", *src, "--model", card, *_record_args(tmp_path / "rec")])
    assert rc != 0
    left = list((tmp_path / "rec").iterdir()) if (tmp_path / "rec").exists() else []
    assert left == [], capsys.readouterr().err


def _child_env(repo_root):
    return {**os.environ, "PYTHONPATH": str(repo_root), "QT_QPA_PLATFORM": "offscreen"}


def test_headless_run_stops_when_recording_fails(tmp_path, card, real_video, repo_root):
    import resource

    def small_disk():  # every file stops growing at 2 MB: a write past it fails as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))

    cmd = [sys.executable, "-m", "emer_live", "run", "--headless", "--video", str(real_video), "--gaze", "simulated",
           "--model", card, *_record_args(tmp_path / "rec")]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root, env=_child_env(repo_root),
                       preexec_fn=small_disk, timeout=300)
    assert p.returncode == 2, p.stderr
    assert "Recording stopped: a file grew past the size this disk allows" in p.stderr
    assert "stopping the run" in p.stderr and "Traceback" not in p.stderr
    summary = json.loads(p.stdout.splitlines()[-1])
    assert summary["stopped_by"] == "recording_error" and summary["frames"] < 472
    (folder,) = (tmp_path / "rec").iterdir()
    meta = SessionReader(folder).meta
    assert meta["recording_error"]["reason"].startswith("a file grew past") and meta["ended_by"] == "recording_error"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path, card, real_video, repo_root, sig):
    cmd = [sys.executable, "-m", "emer_live", "run", "--headless", "--video", str(real_video), "--realtime",
           "--gaze", "simulated", "--model", card, *_record_args(tmp_path / "rec")]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=repo_root,
                         env=_child_env(repo_root))
    try:
        assert _wait_for(lambda: any(len(_lines(f / L.PREDICTIONS_JSONL)) > 2 for f in (tmp_path / "rec").glob("*")),
                         120), "the run never recorded a prediction"
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["stopped_by"] == f"signal {sig.name}" and summary["recording"]["error"] is None
    (folder,) = (tmp_path / "rec").iterdir()
    meta = SessionReader(folder).meta
    assert meta["closed"] and meta["ended_by"] == "close"


def test_a_write_cut_short_by_a_full_disk_is_trimmed(tmp_path):
    """The disk takes part of a row, then is full: the partial row must not stay behind."""
    from emer_live.recording.filelayer import FileLayer

    class HalfThenFull(FileLayer):
        def __init__(self):
            self.writes = 0

        def open_append(self, path):
            real, layer = super().open_append(path), self

            class _F:
                def write(self, data):
                    layer.writes += 1
                    if layer.writes == 40:  # the disk takes half the bytes of this write, then no more
                        real.write(bytes(data[: len(data) // 2]))
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
                    return real.write(data)

                def __getattr__(self, name):
                    return getattr(real, name)

            return _F()

    s = RecordingSession(tmp_path / "s", "P01", consent=True, fs=HalfThenFull(), block_when_full=True)
    for i in range(100):
        s.sink.on_gaze(_gaze(i))
    s.close()
    assert s.error is not None
    data = (tmp_path / "s" / L.GAZE_CSV).read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == 39  # header + 38 whole rows; the torn one is gone
