"""Delimited text tables as eye-tracking software writes them: encoding and delimiter sniffed.

Tobii Pro Lab writes UTF-8 (with or without a byte-order mark) or UTF-16; Tobii Studio writes
tab- or comma-separated files, under some locales semicolon-separated with decimal commas, and
older Studio exports put a block of "Name:<TAB>value" lines in front of the header. read_table
finds the header line with a predicate, so that preamble is skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from emer_live.errors import SourceError

DELIMITERS = ("\t", ",", ";")
DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon"}
HEADER_SEARCH_LINES = 60  # a preamble longer than this is not a Tobii export


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    delimiter: str
    encoding: str
    header_line: int  # 1-based line number of the header
    row_lines: list[int]  # 1-based line number of each row (blank lines are skipped)


def sniff_encoding(data: bytes) -> str:
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    head = data[:4096]
    if head.count(b"\x00") > len(head) // 4:  # UTF-16 without a byte-order mark
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"  # Windows tools' ANSI code page


def sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties: the order of DELIMITERS (tab first)
    return best if counts[best] else "\t"


def read_table(path: Path, is_header: Optional[Callable[[list[str]], bool]] = None) -> Table:
    """Read a delimited text file. The header is the first line within HEADER_SEARCH_LINES that
    is_header accepts (else the first non-empty line). Raises SourceError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SourceError(f"{path}: cannot be read ({e.strerror or e})") from None
    encoding = sniff_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise SourceError(f"{path}: not a text file ({encoding} fails: {e.reason})") from None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise SourceError(f"{path}: not a text table (binary content)")
    lines = text.splitlines()
    candidates = [(i, ln) for i, ln in enumerate(lines[:HEADER_SEARCH_LINES]) if ln.strip()]
    if not candidates:
        raise SourceError(f"{path}: empty file, expected a header row of gaze columns")
    at = candidates[0][0]
    delimiter = sniff_delimiter(candidates[0][1])
    if is_header is not None:
        for i, ln in candidates:
            d = sniff_delimiter(ln)
            if is_header([c.strip() for c in next(csv.reader([ln], delimiter=d))]):
                at, delimiter = i, d
                break
    try:
        parsed = list(csv.reader(lines[at:], delimiter=delimiter))
    except csv.Error as e:
        raise SourceError(f"{path}: malformed {DELIMITER_NAMES[delimiter]}-separated text ({e})") from None
    header = [h.strip() for h in parsed[0]]
    keep = [(k, r) for k, r in enumerate(parsed[1:]) if any(c.strip() for c in r)]
    # csv rows match lines one to one unless a quoted cell spans lines (Tobii never writes one)
    return Table(header, [r for _, r in keep], delimiter, encoding, at + 1, [at + 2 + k for k, _ in keep])
