"""A session folder is untrusted input: sessions travel between labs. Every path a session file
names, and every file the commands open in the folder, goes through here, so that nothing in it
(a row naming ../../etc/passwd, a symbolic link, a FIFO that would block a read forever, a device)
makes a command read or write outside the folder.

Rules: a name from a session file must be relative, without '..', and resolve inside the folder;
only regular files are opened, and never through a symbolic link (O_NOFOLLOW on the file, a
resolved-path check on the folders above it). Numbers read from the files are bounds-checked to
what an int64 holds.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Optional

from emer_live.errors import RecordingError

INT64_MAX = 2**63 - 1
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer


class UnsafePath(RecordingError):
    """A session file names a path outside the session, or a file that is not a regular file."""


def inside(folder: Path, name: str) -> Path:
    """folder/name, for a `name` read from a session file; UnsafePath if it could reach outside."""
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        raise UnsafePath(f"{name!r} is not a file name inside the session")
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or Path(name).is_absolute():
        raise UnsafePath(f"{name!r} points outside the session folder")
    path = Path(folder) / rel
    check_within(folder, path.parent)
    return path


def check_within(folder: Path, path: Path) -> None:
    """UnsafePath when `path` (a folder in the session) resolves outside `folder` (a symlink)."""
    root = os.path.realpath(folder)
    real = os.path.realpath(path)
    if real != root and not real.startswith(root + os.sep):
        raise UnsafePath(f"{path} leads outside the session folder (a symbolic link)")


def open_regular(path: Path, flags: int = os.O_RDONLY) -> int:
    """A descriptor for a regular file, opened without following a symbolic link. Raises
    FileNotFoundError when absent and UnsafePath when it is a link, a FIFO, a device or a folder."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as e:
        if os.path.islink(path):
            raise UnsafePath(f"{path} is a symbolic link; a session holds only plain files") from None
        raise e
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafePath(f"{path} is not a plain file (a folder, FIFO or device); it is not read")
    if _NONBLOCK:
        os.set_blocking(fd, True)
    return fd


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file (see open_regular)."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def read_range(path: Path, offset: int, length: int) -> Optional[bytes]:
    """`length` bytes at `offset`, or None when the range is not wholly in the file."""
    if offset < 0 or length <= 0 or offset > INT64_MAX or length > INT64_MAX:
        return None
    fd = open_regular(path)
    try:
        if offset + length > os.fstat(fd).st_size:
            return None
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def file_size(path: Path) -> int:
    """Size of a regular file; FileNotFoundError when absent, UnsafePath for a link or special file."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(f"{path} is a symbolic link; a session holds only plain files")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path} is not a plain file (a folder, FIFO or device); it is not read")
    return st.st_size


def plain_size(path: Path) -> int:
    """Size of a regular file that is not a link; 0 for anything else (absent, link, FIFO...)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0
