"""Every stop leaves its reason on disk, and signals at any moment end a command without a
traceback: Ctrl+C during start-up, SIGHUP with the terminal (stdout) gone, two stop signals at
once. Two recorders started in the same second into one folder both get a session."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from emer_live.recording import layout as L
from emer_live.recording.session import RecordingSession, new_session_folder
from emer_live.recording.session_reader import SessionReader
from emer_live.types import Frame
from hostile_cases import cli
from test_recording_session import FullDiskDouble, _gaze, _image


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    from model_doubles import build_model_double

    return str(build_model_double(tmp_path_factory.mktemp("m"), window_s=1.0))


class SmallDisk(FullDiskDouble):
    """A disk of `free` bytes shared by every write the session makes, session.json's temporary
    file included (the plain FullDiskDouble lets session.json through; a real full disk does not).
    Removing a file gives its bytes back."""

    def __init__(self, free: int):
        super().__init__(free)
        self.free, self.sizes = free, {}

    def _take(self, n, path):
        if n > self.free:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        self.free -= n
        self.sizes[str(path)] = self.sizes.get(str(path), 0) + n

    def reserve(self, path, nbytes):
        self._take(nbytes, path)
        super().reserve(path, nbytes)

    def replace_atomic(self, path, data):
        self._take(len(data), path)  # the new copy needs room before the old one is gone
        super().replace_atomic(path, data)
        self.free += self.sizes.pop(str(path), 0)
        self.sizes[str(path)] = len(data)

    def remove(self, path):
        self.free += self.sizes.pop(str(path), 0)
        return super().remove(path)


def _fill(session):
    for i in range(400):
        session.sink.on_frame(Frame(host_ns=1_000_000_000 + i * 33_000_000, index=i, image=_image(i)), None)
        session.sink.on_gaze(_gaze(i))
        if session.error is not None:
            break
        time.sleep(0.001)


@pytest.mark.parametrize("reserve", [True, False])
def test_a_full_disk_still_leaves_closed_and_the_reason_in_session_json(tmp_path, monkeypatch, reserve):
    """With the reserved space, session.json says closed, recording_error and stop_reason after a
    full disk. Without it (the baseline: reserve 0 bytes), session.json stays as it was at the
    start, closed: false and no reason: the stop looks like a crash."""
    import emer_live.recording.session as S

    if not reserve:
        monkeypatch.setattr(S, "RESERVE_BYTES", 0)
    s = RecordingSession(tmp_path / "s", "P01", consent=True, fs=SmallDisk(200_000), block_when_full=True)
    _fill(s)
    s.close(stop_reason="end_of_input")
    assert s.error is not None and "disk is full" in str(s.error)
    meta = json.loads((tmp_path / "s" / L.SESSION_JSON).read_text())
    if reserve:
        assert meta["closed"] is True and meta["stop_reason"] == "recording_error"
        assert meta["ended_by"] == "recording_error" and "disk is full" in meta["recording_error"]["message"]
        assert not (tmp_path / "s" / L.SPACE_RESERVE).exists()
    else:
        assert meta["closed"] is False and "recording_error" not in meta and "stop_reason" not in meta


def test_replay_and_export_say_how_the_recording_ended(tmp_path):
    s = RecordingSession(tmp_path / "s", "P01", consent=True, fs=SmallDisk(200_000), block_when_full=True)
    _fill(s)
    s.close()
    rc, out, err = cli("export", tmp_path / "s", "--out", tmp_path / "x")
    assert rc == 0 and "stopped on a write error" in err and "disk is full" in err, err
    assert json.loads(out)["recorded_end"]["stop_reason"] == "recording_error"
    crashed = tmp_path / "crashed"  # a session a killed recorder left: never closed
    RecordingSession(crashed, "P01", consent=True).writer.close()
    rc, out, err = cli("export", crashed, "--out", tmp_path / "y")
    assert rc == 0 and "never closed" in err, err


@pytest.fixture(scope="module")
def clips(tmp_path_factory, real_video):
    """The first 3 s of the real video as an MJPEG AVI, and the same file cut to 60% of its bytes
    (its header still promises 72 frames)."""
    import cv2

    folder = tmp_path_factory.mktemp("clips")
    cap, writer = cv2.VideoCapture(str(real_video)), None
    for _ in range(72):
        ok, img = cap.read()
        if writer is None:
            writer = cv2.VideoWriter(str(folder / "short.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                                     cap.get(cv2.CAP_PROP_FPS), (img.shape[1], img.shape[0]))
        writer.write(img)
    writer.release()
    cap.release()
    data = (folder / "short.avi").read_bytes()
    (folder / "cut.avi").write_bytes(data[: int(len(data) * 0.6)])
    return folder / "short.avi", folder / "cut.avi"


def test_a_cut_video_warns_about_the_frames_it_could_not_read(tmp_path, card, clips):
    rc, out, err = cli("run", "--headless", "--video", clips[1], "--gaze", "simulated", "--model", card, "--fast",
                       "--no-frame-fer")
    assert rc == 0 and "warning" in err and "of 72 (file truncated or damaged)" in err, err


@pytest.mark.parametrize("extra, reason", [(("--duration", "1"), "duration"), ((), "end_of_stream")])
def test_run_writes_why_it_stopped(tmp_path, card, clips, extra, reason):
    rc, out, err = cli("run", "--headless", "--video", clips[0], "--gaze", "simulated", "--model", card, "--fast",
                       "--record", tmp_path, "--participant", "P01", "--consent", "--no-frame-fer", *extra)
    assert rc == 0, err
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    meta = SessionReader(folder).meta
    assert meta["closed"] and meta["stop_reason"] == reason
    rc, out, err = cli("replay", folder, "--fast", "--headless", "--quiet", "--model", card)
    assert rc == 0 and json.loads(out.splitlines()[-1])["summary"]["recorded_end"]["stop_reason"] == reason


def test_recorders_started_in_the_same_second_each_get_a_folder(tmp_path):
    barrier, made, errors = threading.Barrier(8), [], []

    def start():
        barrier.wait()
        try:
            made.append(new_session_folder(tmp_path, "P01"))
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(made)) == 8 and all(p.is_dir() for p in made)
    sessions = [RecordingSession(p, "P01", consent=True) for p in made]  # each folder is usable
    for s in sessions:
        s.close()


# --- signals, in a child process --------------------------------------------------------------

def _env(repo_root):
    return {**os.environ, "PYTHONPATH": str(repo_root), "QT_QPA_PLATFORM": "offscreen"}


@pytest.fixture(scope="module")
def interpreter_start_s():
    """How long a bare Python takes to start here: a Ctrl+C before that lands in Python's own start-up,
    which no program can catch, so the delays below count from it (on a loaded machine it is long)."""
    t = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - t


@pytest.mark.parametrize("delay_s", [0.3, 0.6, 1.0])
def test_ctrl_c_during_start_up_is_quiet(repo_root, card, real_video, delay_s, interpreter_start_s):
    p = subprocess.Popen([sys.executable, "-m", "emer_live", "run", "--headless", "--video", str(real_video),
                          "--gaze", "simulated", "--model", card], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=repo_root, env=_env(repo_root))
    time.sleep(interpreter_start_s + delay_s)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert p.returncode in (0, 130), err


def _recording_child(repo_root, card, real_video, root):
    return subprocess.Popen([sys.executable, "-m", "emer_live", "run", "--headless", "--video", str(real_video),
                             "--realtime", "--gaze", "simulated", "--model", card, "--record", str(root),
                             "--participant", "P01", "--consent"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=repo_root, env=_env(repo_root))


def _wait_recording(root, timeout_s=120):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        for f in root.glob("*/" + L.PREDICTIONS_JSONL):
            if f.read_bytes().count(b"\n") >= 2:
                return f.parent
        time.sleep(0.05)
    raise AssertionError("the run never recorded a prediction")


def test_sighup_with_the_terminal_gone(tmp_path, repo_root, card, real_video):
    p = _recording_child(repo_root, card, real_video, tmp_path)
    try:
        folder = _wait_recording(tmp_path)
        p.stdout.close()  # the terminal is gone: the next write to stdout fails (EPIPE)
        p.send_signal(signal.SIGHUP)
        err = p.stderr.read().decode()
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert p.returncode in (0, 141), err  # 0: stopped as asked; 141: stdout went first (as SIGPIPE)
    meta = SessionReader(folder).meta
    assert meta["closed"] and meta["stop_reason"] in ("signal SIGHUP", "output_closed")


def test_two_stop_signals_at_once_keep_the_summary(tmp_path, repo_root, card, real_video):
    p = _recording_child(repo_root, card, real_video, tmp_path)
    try:
        folder = _wait_recording(tmp_path)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    out, err = out.decode(), err.decode()
    assert p.returncode == 0 and "Traceback" not in err, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["type"] == "summary" and summary["stopped_by"] == "signal SIGTERM"
    meta = SessionReader(folder).meta
    assert meta["closed"] and meta["stop_reason"] == "signal SIGTERM"
