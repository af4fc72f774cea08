"""`emer-live` entry point. Each subcommand lives in emer_live/commands/<name>.py with
`add_arguments(parser)` and `main(args) -> int`; heavy imports happen inside main().
With no subcommand, the desktop app opens (on the built-in demo input when nothing is attached).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from emer_live import __version__
from emer_live.errors import EmerError

COMMANDS = {
    "app": "open the desktop app (default)",
    "run": "run the pipeline on chosen sources; --headless prints JSON lines",
    "devices": "list cameras and Tobii eye trackers",
    "gaze-info": "list the recordings and participants in a recorded gaze file",
    "replay": "replay a recorded session through the pipeline",
    "export": "export a recorded session to CSV or Parquet",
    "annotate": "auto-annotate, review and fuse labels of a recorded session",
    "faces": "real faces through the app's face pipeline once, for training: crops (cache) or a face network's logits",
    "labels": "import segment labels (self-assessment, FER) from a CSV/TSV or PsychoPy log into a session",
    "bench": "measure every pipeline stage and write a JSON + Markdown report",
    "check-model": "check a model on real eye recordings; exits 1 when it misses its targets",
}

# Commands that end cleanly on SIGTERM / SIGHUP as on Ctrl+C (the window handles its own).
STOPPED_LIKE_CTRL_C = ("run", "replay", "export")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with only: the options of that one command (others keep their name and
    help). Each command module pulls in what its options need (numpy, recording, ...): importing all
    of them cost about 0.2 s before the window could be shown."""
    parser = argparse.ArgumentParser(prog="emer-live", description="EMER Live: facial expression vs genuine emotion, live.")
    parser.add_argument("--version", action="version", version=f"emer-live {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = importlib.import_module(f"emer_live.commands.{name.replace('-', '_')}")
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 bad input or a failure explained on stderr (one line, no traceback),
    1 an internal error (a bug), 130 interrupted before the command could stop cleanly."""
    from emer_live.commands import stop_signals

    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
            argv = ["app", *argv]
        args = build_parser(argv[0] if argv[0] in COMMANDS else "").parse_args(argv)
        from emer_live.log_setup import setup_logging

        setup_logging()  # the user's rotating log: failures keep their tracebacks there
        if args.command in STOPPED_LIKE_CTRL_C:
            stop_signals.install()
        return int(args._module.main(args) or 0)
    except EmerError as e:
        if stop_signals.stopping():  # the failure is the interruption's (e.g. an import it cut short)
            return 130
        logging.getLogger("emer_live.cli").error("%s", e)
        _say(f"emer-live: {e}")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return stop_signals.output_gone()
    except OSError as e:  # a file named on the command line or in a session that the OS refuses
        where = f"{e.filename}: " if e.filename else ""
        _say(f"emer-live: {where}{e.strerror or e}")
        return 2
    except Exception as e:  # a bug, not bad input: one line, exit 1; the traceback on request
        if os.environ.get("EMER_LIVE_DEBUG"):
            raise
        logging.getLogger("emer_live.cli").exception("internal error")
        _say(f"emer-live: internal error (a bug; please report it): {type(e).__name__}: {e}. "
             "Set EMER_LIVE_DEBUG=1 to see where it happened")
        return 1


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr is gone too (the terminal closed)
        pass
