"""Shared by the hostile-input tests (tests/test_hostile_*.py): one small real session recorded
once per module, copied per case; the CLI run in-process with its output captured; and a digest
of a folder, to show a command changed nothing it must not touch."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import signal
import stat
import traceback
from pathlib import Path

SECRET = b"outside-the-session: must never be read, written or truncated\n"


def record_session(folder: Path, video: Path, card: Path, seconds: float = 3.0) -> Path:
    """The real video through the real face stage, simulated gaze, the model double; with a
    stimulus, a self-assessment (so labels.csv has a segment) and a marker."""
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.offline import run_offline
    from emer_live.recording.session import RecordingSession
    from emer_live.sources.simulated_gaze import SimulatedGazeSource
    from emer_live.sources.video_file import VideoFileSource

    engine = InferenceEngine(card, prefer_gpu=False)
    t0 = 5_000_000_000
    s = RecordingSession(folder, "P01", consent=True, model_card=engine.card, notes="first, \"quoted\"\nsecond line",
                         pipeline={"update_hz": 5.0, "use_eye": True}, block_when_full=True)
    run_offline(VideoFileSource(video, realtime=False, t0_ns=t0), SimulatedGazeSource(rate_hz=60, realtime=False, t0_ns=t0),
                engine, sinks=[s.sink], update_hz=5.0, duration_s=seconds)
    s.begin_stimulus("clip, \"A\"", host_ns=t0 + 200_000_000)
    s.end_stimulus(host_ns=t0 + 2_800_000_000)
    s.add_self_assessment(valence=2, arousal=8, emotion7="fear")
    s.add_marker("=HYPERLINK(\"http://x\")", host_ns=t0 + 1_000_000_000)
    s.close(stop_reason="end_of_input")
    return folder


def copy(session: Path, dest: Path) -> Path:
    shutil.copytree(session, dest, symlinks=True)
    return dest


def cli(*argv) -> tuple[int, str, str]:
    """emer-live ARGV in this process: (exit code, stdout, stderr). Any exception other than
    argparse's exit is a traceback the user would see: it fails the test with that traceback."""
    from emer_live.cli import main

    out, err = io.StringIO(), io.StringIO()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    debug = os.environ.get("EMER_LIVE_DEBUG")
    os.environ["EMER_LIVE_DEBUG"] = "1"  # a bug raises here instead of becoming "internal error"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in argv])
            except SystemExit as e:  # argparse: usage error
                rc = e.code if isinstance(e.code, int) else 2
    except Exception:
        raise AssertionError(f"emer-live {' '.join(map(str, argv))} raised (a traceback for the user):\n"
                             f"{traceback.format_exc()}\nstderr:\n{err.getvalue()}") from None
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
        if debug is None:
            del os.environ["EMER_LIVE_DEBUG"]
        else:
            os.environ["EMER_LIVE_DEBUG"] = debug
    return rc, out.getvalue(), err.getvalue()


def digest(folder: Path) -> dict:
    """{relative path: (kind, sha256 or link target)} for everything under folder, links not followed."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            st = os.lstat(p)
            rel = str(p.relative_to(folder))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
            elif not stat.S_ISDIR(st.st_mode):
                out[rel] = ("special", st.st_mode)
    return out


def bait(folder: Path) -> Path:
    """A folder outside the session holding a file no command may touch (see SECRET)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "secret.csv"
    p.write_bytes(SECRET)
    return p


def untouched(path: Path) -> bool:
    return path.read_bytes() == SECRET
