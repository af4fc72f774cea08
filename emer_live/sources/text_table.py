"""Delimited text tables as eye-tracking software writes them: encoding and delimiter sniffed,
the body read in chunks by pandas' C parser into numpy columns.

Tobii Pro Lab writes UTF-8 (with or without a byte-order mark) or UTF-16; Tobii Studio writes
tab- or comma-separated files, under some locales semicolon-separated with decimal commas, and
older Studio exports put a block of "Name:<TAB>value" lines in front of the header. sniff_head
finds the header line with a predicate, so that preamble is skipped.

An hour of 600 Hz gaze is millions of rows: read_columns never holds the file, or its cells as
Python strings, at once. Numbers become float64 arrays chunk by chunk; text columns (sensor,
participant, validity words, ...) become small integer codes into their distinct values.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from emer_live.errors import SourceError

DELIMITERS = ("\t", ",", ";")
DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon"}
HEADER_SEARCH_LINES = 60  # a preamble longer than this is not a Tobii export
HEAD_BYTES = 1 << 20  # enough for the header search and the encoding sniff
CHUNK_ROWS = 25000  # rows parsed at a time: bounds the parser's own memory


@dataclass
class TableHead:
    header: list[str]
    delimiter: str
    encoding: str
    header_line: int  # 1-based line number of the header


@dataclass
class Columns:
    """The rows of a table as columns: `num` float64 arrays (empty or unreadable cells NaN);
    `codes` int32 arrays indexing `values` (each distinct cell, stripped); `line` the 1-based
    line number of each row."""

    num: dict
    codes: dict
    values: dict
    line: np.ndarray

    def __len__(self) -> int:
        return len(self.line)

    def has(self, name: str) -> bool:
        return name in self.num or name in self.codes

    def text(self, name: str) -> np.ndarray:
        """The column's cells as an object array of str (shared, one object per distinct value)."""
        return np.array(self.values[name], dtype=object)[self.codes[name]]

    def where(self, name: str, predicate: Callable[[str], bool]) -> np.ndarray:
        """Bool per row: predicate(cell), evaluated once per distinct value."""
        return np.array([bool(predicate(v)) for v in self.values[name]], dtype=bool)[self.codes[name]]

    def take(self, idx: np.ndarray) -> "Columns":
        return Columns({k: v[idx] for k, v in self.num.items()}, {k: v[idx] for k, v in self.codes.items()},
                       self.values, self.line[idx])

    def keep_rows(self, idx: np.ndarray) -> None:
        """Keep only these rows, in place, one column at a time (an hour of samples is never
        held twice)."""
        for d in (self.num, self.codes):
            for k in list(d):
                d[k] = d[k][idx]
        self.line = self.line[idx]


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
    except UnicodeDecodeError as e:
        if e.start >= len(data) - 3:  # a character cut by the end of the sniffed head
            return "utf-8"
        return "cp1252"  # Windows tools' ANSI code page


def sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties: the order of DELIMITERS (tab first)
    return best if counts[best] else "\t"


def sniff_head(path: Path, is_header: Optional[Callable[[list[str]], bool]] = None) -> TableHead:
    """Encoding, delimiter and header of a delimited text file, from its first megabyte. The
    header is the first line within HEADER_SEARCH_LINES that is_header accepts (else the first
    non-empty line). Raises SourceError naming the file."""
    try:
        with open(path, "rb") as f:
            data = f.read(HEAD_BYTES)
    except OSError as e:
        raise SourceError(f"{path}: cannot be read ({e.strerror or e})") from None
    encoding = sniff_encoding(data)
    try:
        text = data.decode(encoding, errors="strict" if len(data) < HEAD_BYTES else "ignore")
    except UnicodeDecodeError as e:
        raise SourceError(f"{path}: not a text file ({encoding} fails: {e.reason})") from None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise SourceError(f"{path}: not a text table (binary content)")
    lines = text.split("\n")
    if len(data) == HEAD_BYTES:
        lines = lines[:-1]  # the last line may be cut
    lines = [ln.rstrip("\r") for ln in lines]
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
    header = [h.strip() for h in next(csv.reader([lines[at]], delimiter=delimiter))]
    return TableHead(header, delimiter, encoding, at + 1)


def read_columns(path: Path, head: TableHead, numeric: dict, text: dict, chunk_rows: int = CHUNK_ROWS,
                 single: tuple = ()) -> Columns:
    """The named columns of every row below the header: numeric {name: column index} as float64
    (float32 for the names in `single`; decimal commas read as points), text {name: column index}
    as codes into distinct values. Rows empty in every named column (blank lines) are left out;
    line numbers stay exact."""
    used = sorted(set(numeric.values()) | set(text.values()))
    names = [f"c{i}" for i in range(len(head.header))]
    dtype = {f"c{i}": str for i in text.values()}
    na = {f"c{i}": [""] for i in numeric.values() if i not in text.values()}
    num_parts: dict = {k: [] for k in numeric}
    code_parts: dict = {k: [] for k in text}
    seen: dict = {k: {} for k in text}  # per text column: stripped value -> code
    line_parts: list = []
    encoding = head.encoding
    for attempt in range(2):
        try:
            reader = pd.read_csv(path, sep=head.delimiter, header=None, names=names, usecols=[names[i] for i in used],
                                 skiprows=head.header_line, dtype=dtype, keep_default_na=False, na_values=na,
                                 skip_blank_lines=False, index_col=False, encoding=encoding, chunksize=chunk_rows,
                                 engine="c", low_memory=True)
            row0 = head.header_line + 1
            with reader:
                for chunk in reader:
                    filled = np.zeros(len(chunk), dtype=bool)
                    nums = {k: _numbers(chunk[names[i]]) for k, i in numeric.items()}
                    for v in nums.values():
                        filled |= ~np.isnan(v)
                    codes = {}
                    for k, i in text.items():
                        codes[k] = _codes(chunk[names[i]], seen[k])
                        empty = seen[k].get("")
                        filled |= codes[k] != (empty if empty is not None else -1)
                    keep = np.flatnonzero(filled)
                    for k, v in nums.items():
                        num_parts[k].append(v[keep].astype(np.float32) if k in single else v[keep])
                    for k, c in codes.items():
                        code_parts[k].append(c[keep])
                    line_parts.append(row0 + keep)
                    row0 += len(chunk)
            break
        except UnicodeDecodeError as e:
            if attempt or encoding not in ("utf-8", "utf-8-sig"):
                raise SourceError(f"{path}: not a text file ({encoding} fails: {e.reason})") from None
            encoding = head.encoding = "cp1252"  # a non-UTF-8 byte past the sniffed head: the Windows code page
            num_parts, code_parts = {k: [] for k in numeric}, {k: [] for k in text}
            seen, line_parts = {k: {} for k in text}, []
        except pd.errors.EmptyDataError:
            break
        except (pd.errors.ParserError, ValueError, OverflowError) as e:
            raise SourceError(f"{path}: malformed {DELIMITER_NAMES[head.delimiter]}-separated text "
                              f"({str(e).strip()})") from None
    return Columns({k: _join(num_parts, k, np.float32 if k in single else np.float64) for k in list(num_parts)},
                   {k: _join(code_parts, k, _code_type(len(seen[k]))) for k in list(code_parts)},
                   {k: list(s) for k, s in seen.items()}, _join({"line": line_parts}, "line", np.int64))


def _join(parts: dict, key: str, dtype) -> np.ndarray:
    """One column from its chunks; the chunks are let go first, so a column is never held twice."""
    chunks = parts.pop(key)
    out = np.empty(sum(len(c) for c in chunks), dtype=dtype)
    at = 0
    while chunks:
        c = chunks.pop(0)
        out[at:at + len(c)] = c
        at += len(c)
    return out


def _code_type(n_values: int):
    return np.int8 if n_values < 128 else np.int16 if n_values < 32768 else np.int32


def _numbers(s: pd.Series) -> np.ndarray:
    if s.dtype.kind in "fiub":
        return s.to_numpy(np.float64)
    # Text in the column: decimal commas, spaces, words. Unreadable cells become NaN.
    return pd.to_numeric(s.astype(str).str.strip().str.replace(",", ".", regex=False),
                         errors="coerce").to_numpy(np.float64)


def _codes(s: pd.Series, seen: dict) -> np.ndarray:
    codes, uniques = pd.factorize(s.fillna(""), sort=False)
    to_global = np.array([seen.setdefault(str(u).strip(), len(seen)) for u in uniques], dtype=np.int32)
    return to_global[codes] if len(to_global) else np.zeros(len(s), np.int32)
