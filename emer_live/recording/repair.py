"""Make a session left by a crash or a full disk safe for any reader, not only ours.

A killed writer can leave the last line of a table cut short ("1" with no newline): pandas reads
that as a row of NaN. Trimming each table back to its last newline removes it. Only done when no
process is writing the session: the writer holds an advisory lock on the session folder while it
writes, and the operating system drops that lock when the process dies, however it dies.
"""

from __future__ import annotations

import os
from pathlib import Path

from emer_live.recording import layout as L
from emer_live.recording.untrusted import UnsafePath, open_regular

try:
    import fcntl
except ImportError:  # Windows: no flock; sessions are then never trimmed on open
    fcntl = None


def hold_writer_lock(folder: Path):
    """Take the session's writer lock; returns the descriptor to close when done (None without flock)."""
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def being_written(folder: Path) -> bool:
    """True when a live process holds the session's writer lock (or when that cannot be told)."""
    if fcntl is None:
        return True
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock taken just now
    return False


def _trim_file(path: Path) -> int:
    """Cut a text file back to its last newline; returns the bytes removed. Only a plain file in
    the session is touched: a link planted in its place (to a file elsewhere) is left alone."""
    try:
        fd = open_regular(path, os.O_RDWR)
    except (OSError, UnsafePath):  # absent, a link, a FIFO: nothing of ours to trim
        return 0
    size = os.fstat(fd).st_size
    if size == 0:
        os.close(fd)
        return 0
    with os.fdopen(fd, "rb+") as f:
        f.seek(max(0, size - 65536))
        tail = f.read()
        if tail.endswith(b"\n"):
            return 0
        cut = tail.rfind(b"\n")
        if cut < 0 and size > len(tail):
            return 0  # a single line longer than 64 KiB: leave it to the readers
        keep = size - len(tail) + cut + 1
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return size - keep


def trim_torn_tails(folder: Path) -> dict[str, int]:
    """Trim every streamed table of the session back to its last complete line.
    Returns {file name: bytes removed} for the files that were torn."""
    folder = Path(folder)
    out = {}
    for name in L.STREAMED_TABLES:
        n = _trim_file(folder / name)
        if n:
            out[name] = n
    return out
