"""Reading the time and number cells labs write: what experiment software and spreadsheets in any
locale put in a label table.

- numbers with a decimal point or a decimal comma (`2.5`, `2,5`: German or French Excel);
- durations `h:mm:ss(.f)` or `mm:ss(.f)` (a video player's or Excel's elapsed time);
- ISO 8601 date-times as Python 3.11's `datetime.fromisoformat` reads them, on every Python this
  project supports: any number of fraction digits (with `.` or `,`), `Z`, offsets `+01:00`,
  `+0100`, `+01`, and the basic forms `20260301T101502`. Read to the nanosecond with integer
  arithmetic, so a time with nine fraction digits is not rounded through a float.

Each parser returns None for a cell that is not of its kind, so callers can say what the cell
looked like instead of a parser's exception.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_HMS = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:[.,]\d+)?)$")
_ISO = re.compile(
    r"^(?P<y>\d{4})-?(?P<mo>\d{2})-?(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2})(?::?(?P<mi>\d{2})(?::?(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d+)?)?)?)?)?$")
ISO_START = re.compile(r"^\d{4}-?\d{2}-?\d{2}[T ]\d{2}")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def number(cell: str) -> Optional[float]:
    """A decimal number with `.` or `,` as its decimal mark, or None."""
    c = cell.strip()
    if not _NUMBER.match(c):
        return None
    return float(c.replace(",", "."))


def duration_s(cell: str) -> Optional[float]:
    """Seconds from `h:mm:ss(.f)` or `mm:ss(.f)`, or None."""
    m = _HMS.match(cell.strip())
    if not m:
        return None
    h, mi, s = m.group(1), int(m.group(2)), float(m.group(3).replace(",", "."))
    if mi >= 60 and h is not None or s >= 60:
        return None
    return (int(h) if h else 0) * 3600 + mi * 60 + s


def seconds(cell: str) -> Optional[float]:
    """Seconds written as a number (decimal point or comma) or as h:mm:ss, or None."""
    x = number(cell)
    return x if x is not None else duration_s(cell)


class IsoTime:
    """A parsed ISO 8601 date-time: `unix_ns` counts from 1970-01-01 in the time's own zone and is
    true Unix time only when `has_zone`."""

    def __init__(self, unix_ns: int, has_zone: bool):
        self.unix_ns, self.has_zone = unix_ns, has_zone


def iso_time(cell: str) -> Optional[IsoTime]:
    """An ISO 8601 date-time (the forms Python 3.11's fromisoformat accepts), or None."""
    m = _ISO.match(cell.strip())
    if not m:
        return None
    try:
        day = dt.date(int(m["y"]), int(m["mo"]), int(m["d"])).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    h, mi, s = (int(m[k]) if m[k] else 0 for k in ("h", "mi", "s"))
    if h > 24 or mi > 59 or s > 59 or (h == 24 and (mi or s or m["f"] and int(m["f"]))):
        return None
    frac_ns = int((m["f"] or "0")[:9].ljust(9, "0"))
    ns = ((day * 24 + h) * 60 + mi) * 60 + s
    ns = ns * 1_000_000_000 + frac_ns
    z = m["z"]
    if z and z != "Z":
        sign = -1 if z[0] == "-" else 1
        digits = z[1:].replace(":", "")
        zh, zm = int(digits[:2]), int(digits[2:4] or 0)
        zs = float(digits[4:] or 0)
        if zh > 23 or zm > 59:
            return None
        ns -= sign * int(round((zh * 3600 + zm * 60 + zs) * 1e9))
    return IsoTime(ns, has_zone=bool(z))
