"""argparse types for numeric options: the one place numbers from the command line are checked.
NaN and infinity are refused everywhere (a NaN rate never stops a run, a NaN constant ends up in
the JSON output); argparse then exits 2 with the option's name and the reason."""

from __future__ import annotations

import argparse
import math


def _number(text: str, need: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: {need}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number: {need}")
    return v


def finite_float(text: str) -> float:
    return _number(text, "must be a finite number")


def positive_float(text: str) -> float:
    need = "must be a positive number"
    v = _number(text, need)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: {need}")
    return v


def nonnegative_float(text: str) -> float:
    need = "must be a number >= 0"
    v = _number(text, need)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: {need}")
    return v


def int_range(lo: int, hi: int | None = None):
    """An int type accepting lo..hi (hi None: no upper bound)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {lo} to {hi}" if hi is not None else
                                             f"{text!r}: must be at least {lo}")
        return v

    parse.__name__ = "whole number"
    return parse
