"""Logging: the standard `logging` module, to a rotating file in the user's data folder and,
while a session is recorded, to a log file in that session's folder.

Every module logs to its own `logging.getLogger(__name__)` under "emer_live"; failures are
logged with their traceback (log.exception / exc_info) so a stop can be explained afterwards.
The user's log folder is platform-appropriate: $XDG_DATA_HOME/emer-live/logs (default
~/.local/share) on Linux, ~/Library/Logs/emer-live on macOS, %LOCALAPPDATA%\\emer-live\\logs on
Windows; EMER_LIVE_LOG_DIR overrides it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Optional

ROOT = "emer_live"
LOG_FILE = "emer-live.log"
SESSION_LOG_FILE = "emer-live.log"
MAX_BYTES = 2_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

_user_handler: Optional[logging.Handler] = None


def user_log_dir() -> Path:
    override = os.environ.get("EMER_LIVE_LOG_DIR")
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / "emer-live"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "emer-live" / "logs"
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "emer-live" / "logs"


def setup_logging(level: int = logging.INFO, log_dir: Optional[Path] = None) -> Optional[Path]:
    """Send the "emer_live" loggers to a rotating file (once per process). Returns the file, or
    None when the folder cannot be written (the program runs on without a log file)."""
    global _user_handler
    logger = logging.getLogger(ROOT)
    logger.setLevel(min(logger.level or level, level))
    if _user_handler is not None:
        return Path(_user_handler.baseFilename)
    folder = Path(log_dir) if log_dir is not None else user_log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    _user_handler = handler
    return folder / LOG_FILE


def stop_user_log() -> None:
    """Detach the user log file (tests; a process that changes its log folder)."""
    global _user_handler
    if _user_handler is not None:
        logging.getLogger(ROOT).removeHandler(_user_handler)
        _user_handler.close()
        _user_handler = None


class SessionLog:
    """A log file inside one session folder, attached while the session is recorded."""

    def __init__(self, folder: Path, level: int = logging.INFO):
        self.path = Path(folder) / SESSION_LOG_FILE
        self._handler: Optional[logging.Handler] = None
        self.level = level

    def open(self) -> None:
        if self._handler is not None:
            return
        try:
            handler = logging.FileHandler(self.path, encoding="utf-8")
        except OSError:
            logging.getLogger(__name__).warning("cannot write the session log %s", self.path, exc_info=True)
            return
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.setLevel(self.level)
        logger = logging.getLogger(ROOT)
        if logger.level == logging.NOTSET or logger.level > self.level:
            logger.setLevel(self.level)
        logger.addHandler(handler)
        self._handler = handler

    def close(self) -> None:
        if self._handler is not None:
            logging.getLogger(ROOT).removeHandler(self._handler)
            self._handler.close()
            self._handler = None
