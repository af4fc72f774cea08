"""The session writer's only door to the disk. Kept tiny so tests can put a double in its place
that fails the way a full disk or a revoked folder does, at a chosen moment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class FileLayer:
    def makedirs(self, path: Path) -> None:
        os.makedirs(path, exist_ok=True)

    def open_append(self, path: Path):
        # Unbuffered: every write reaches the OS at once and in the order it was made, so a killed
        # process leaves each stream's file complete up to its last write, all streams in step.
        return open(path, "ab", buffering=0)

    def write_new(self, path: Path, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)

    def replace_atomic(self, path: Path, data: bytes) -> None:
        """Write beside, sync, rename: a reader sees the old or the new file, never half of one.
        The temporary file gets a fresh random name, created exclusively: a file or link planted in
        the folder under a predictable name is never written through."""
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        try:
            if hasattr(os, "fchmod"):  # mkstemp makes it private; a session file is as readable as the others
                os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            try:  # a full disk must not leave a stray half-written .tmp behind
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self.sync_path(path.parent)

    def reserve(self, path: Path, nbytes: int) -> None:
        """A file of nbytes zeros: disk space set aside, given back by remove()."""
        with open(path, "wb") as f:
            f.write(bytes(nbytes))

    def remove(self, path: Path) -> bool:
        """Delete a file; False if it was not there."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True

    def sync(self, f) -> None:
        f.flush()
        os.fsync(f.fileno())

    def sync_path(self, path: Path) -> None:
        """fsync a file or a folder by name (a folder's entry list holds new file names)."""
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
