"""SIGTERM and SIGHUP (docker stop, systemd, closing the terminal or logging out) stop a command the
way Ctrl+C does: a KeyboardInterrupt in the main thread, so the run ends, the recording is synced
and marked closed, and the summary is written. Every later stop signal (Ctrl+C included) is
ignored while that happens: a second signal must not cut the close or the summary short."""

from __future__ import annotations

import os
import signal
import sys

_stopping: list[str] = []  # every stop signal's name, in order of arrival


def _stop(signum, frame) -> None:
    name = signal.Signals(signum).name
    first = not _stopping
    _stopping.append(name)
    if not first:
        return  # already stopping: let the close finish
    if name != "SIGINT":
        try:
            print(f"emer-live: {name} received: stopping as on Ctrl+C", file=sys.stderr, flush=True)
        except (OSError, ValueError):  # the terminal is gone (SIGHUP)
            pass
    raise KeyboardInterrupt


def install() -> None:
    _stopping.clear()
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _stop)


def stopping() -> bool:
    """Whether a stop signal has arrived (an error raised after it is the interruption's doing: an
    import cut short by Ctrl+C fails as an ImportError, for instance)."""
    return bool(_stopping)


def received_signal() -> str:
    """The name of the stop signal that ended the command ('' for none or for Ctrl+C, which the
    commands report as "interrupted")."""
    return _stopping[0] if _stopping and _stopping[0] != "SIGINT" else ""


def output_gone() -> int:
    """stdout was closed under us (the terminal or the pipe's reader went away): say nothing more
    there, and exit 0 when a stop signal asked for the end, else 141 (as a shell reports SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 0 if _stopping else 128 + 13
