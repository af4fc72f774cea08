"""SIGTERM and SIGHUP (docker stop, systemd, closing the terminal or logging out) stop a command the
way Ctrl+C does: a KeyboardInterrupt in the main thread, so the run ends, the recording is synced
and marked closed, and the summary is written. Later signals are ignored while that happens."""

from __future__ import annotations

import signal
import sys

_received: list[str] = []


def _stop(signum, frame) -> None:
    name = signal.Signals(signum).name
    if _received:
        return  # already stopping: let the close finish
    _received.append(name)
    try:
        print(f"emer-live: {name} received: stopping as on Ctrl+C", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # the terminal is gone (SIGHUP)
        pass
    raise KeyboardInterrupt


def install() -> None:
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _stop)


def received_signal() -> str:
    """The name of the stop signal received, or ''."""
    return _received[0] if _received else ""
