"""Logging: a rotating log in the user's data folder, one in each recorded session folder, and
failures written with their tracebacks."""

from __future__ import annotations

import logging
import logging.handlers
import sys

import pytest

from emer_live import log_setup


@pytest.fixture
def fresh_user_log():
    log_setup.stop_user_log()
    yield
    log_setup.stop_user_log()


def test_the_user_log_folder_is_the_platforms_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("EMER_LIVE_LOG_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    expected = {"linux": tmp_path / "data" / "emer-live" / "logs", "win32": tmp_path / "local" / "emer-live" / "logs"}
    got = log_setup.user_log_dir()
    if sys.platform in expected:
        assert got == expected[sys.platform]
    monkeypatch.setenv("EMER_LIVE_LOG_DIR", str(tmp_path / "elsewhere"))
    assert log_setup.user_log_dir() == tmp_path / "elsewhere"


def test_a_failure_is_logged_with_its_traceback_to_a_rotating_file(tmp_path, fresh_user_log):
    path = log_setup.setup_logging(log_dir=tmp_path / "logs")
    assert path == tmp_path / "logs" / log_setup.LOG_FILE
    assert log_setup.setup_logging(log_dir=tmp_path / "other") == path  # once per process
    handlers = [h for h in logging.getLogger("emer_live").handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(handlers) == 1 and handlers[0].maxBytes == log_setup.MAX_BYTES and handlers[0].backupCount > 0
    try:
        {}["missing"]
    except KeyError as e:
        logging.getLogger("emer_live.pipeline.live").error("face stage failed: %s", e, exc_info=e)
    handlers[0].flush()
    text = path.read_text(encoding="utf-8")
    assert "ERROR" in text and "face stage failed" in text and "Traceback (most recent call last)" in text
    assert "KeyError: 'missing'" in text


def test_an_unwritable_log_folder_does_not_stop_the_program(tmp_path, fresh_user_log):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert log_setup.setup_logging(log_dir=blocker / "logs") is None


def test_each_recorded_session_keeps_its_own_log(tmp_path):
    from emer_live.recording.session import RecordingSession

    session = RecordingSession(tmp_path / "s1", participant="P01", consent=True)
    try:
        raise RuntimeError("landmark graph crashed (test)")
    except RuntimeError as e:
        logging.getLogger("emer_live.pipeline.live").error("face stage failed (1 so far): %s", e, exc_info=e)
    session.close()
    logging.getLogger("emer_live.pipeline.live").error("after the session: not in its log")
    text = (tmp_path / "s1" / log_setup.SESSION_LOG_FILE).read_text(encoding="utf-8")
    assert "face stage failed (1 so far): landmark graph crashed" in text and "Traceback" in text
    assert "after the session" not in text
