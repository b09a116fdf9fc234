"""Read a shop's files as they were written: encoding, delimiter, numbers, dates, markers.

Nothing here guesses silently. Each choice is either set in ``source.read`` or
detected from evidence in the file, and recorded (``ReadChoices.describe()``) so the
ledger says how every file was read. Where the evidence does not decide (dates that
read as well day-first as month-first, numbers such as ``1.250`` with no other clue),
the run stops with an error that says which option to set.

- Encoding: a byte-order mark, else strict UTF-8, else GB18030 (a superset of GBK and
  GB2312) when the bytes look like Chinese double-byte text, else Windows-1252 (Latin-1
  plus the euro sign and typographic quotes), else Latin-1.
- Delimiter: the one of ``, ; TAB |`` that splits nine in ten of the first lines into
  the header's number (more than one) of fields; the most fields wins.
- Decimal separator: a value such as ``12,5`` or ``1.250,00`` proves a decimal comma,
  ``12.5`` or ``1,250.00`` a decimal point; a file with both stops the run.
- Thousands separator: the one values group digits by three with (``1.250,00``,
  ``3 193,92`` with a space or the no-break spaces French Excel writes, Swiss
  ``3'193.92``), else the mark that is not the decimal one; two such separators in a
  file, or a space found elsewhere between digits (``12 50``), stop the run.
- Quotes: a quoted value holding lines that look like rows of their own (a stray quote
  swallowed them), or never closed, stops the run with the line it opens on.
- Day/month order: ``25/03/2024`` proves day-first, ``03/25/2024`` month-first; a file
  with both, or with only dates such as ``01/02/2024``, stops the run.
- Time zones: a column mixing ``+08:00`` and naive timestamps stops the run unless
  ``source.timezone`` says where the naive ones were written.
- Missing values: only the markers listed in ``source.read.missing_values`` (``NA`` is
  not one: it is a region or a country code), counted per column.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import itertools
import logging
import re
import sys
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

STRING = pd.StringDtype()
DELIMITERS = (",", ";", "\t", "|")
# Bytes read to detect an encoding and a delimiter.
SAMPLE_BYTES = 4 << 20
EMPTY_MARK = "(empty)"
NULL_MARK = "(null)"
# Thousands separators shown by name where they would not show in the ledger.
_SEPARATOR_LABELS = {
    " ": "space",
    "\u00a0": "U+00A0 (no-break space)",
    "\u202f": "U+202F (narrow no-break space)",
}


class ReadError(ValueError):
    """A file cannot be read as written; the message names the file and what to set."""


@dataclass(frozen=True)
class ReadChoices:
    """How one file is read; ``detected`` names the choices made from the data."""

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    thousands: str = ""
    date_format: str | None = None
    day_first: bool | None = None
    timezone: str | None = None
    detected: tuple[str, ...] = field(default=())
    given: tuple[str, ...] = field(default=())
    # (choice, what it was detected from) where the data's evidence is worth saying
    evidence: tuple[tuple[str, str], ...] = field(default=())

    def describe(self) -> dict[str, str]:
        """The choices as text, each marked ``(detected)``, ``(set)`` or ``(default)``."""
        shown = {
            "encoding": self.encoding,
            "delimiter": {"\t": "TAB"}.get(self.delimiter or "", self.delimiter),
            "decimal": self.decimal,
            "thousands": _SEPARATOR_LABELS.get(self.thousands, self.thousands) or "none",
            "date_format": self.date_format,
            "day_first": None if self.day_first is None else str(self.day_first).lower(),
            "timezone": self.timezone,
        }

        notes = dict(self.evidence)

        def how(key: str) -> str:
            if key in self.detected:
                return f"detected {notes[key]}" if key in notes else "detected"
            return "set" if key in self.given else "default"

        return {k: f"{v} ({how(k)})" for k, v in shown.items() if v is not None}


# ------------------------------------------------------------------- encoding


def _gb_share(sample: bytes) -> float:
    """Share of non-ASCII bytes that have a non-ASCII neighbour, both in 0xA1..0xFE.

    GB2312 characters are two such bytes; a Latin-1 accented letter stands alone
    between ASCII bytes.
    """
    data = np.frombuffer(sample, dtype=np.uint8)
    high = data >= 0x80
    if not high.any():
        return 0.0
    gb = data >= 0xA1
    neighbour = np.zeros(len(data), dtype=bool)
    neighbour[1:] |= gb[:-1]
    neighbour[:-1] |= gb[1:]
    return float((gb & neighbour).sum() / high.sum())


def detect_encoding(sample: bytes) -> str:
    """The encoding a file's first bytes were written in (see the module docstring).

    A sample cut in the middle of a multi-byte character still decodes: the last three
    bytes are allowed to be incomplete.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"

    def decodes(encoding: str) -> bool:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            decoder.decode(sample, final=False)
        except UnicodeDecodeError:
            return False
        return True

    if decodes("utf-8"):
        return "utf-8"
    # Latin-1 text decodes as GB18030 too (GB18030 maps almost any byte pair), but its
    # accented letters stand alone between ASCII bytes; Chinese text comes in pairs.
    if decodes("gb18030") and _gb_share(sample) >= 0.9:
        return "gb18030"
    if decodes("cp1252"):
        return "cp1252"
    return "latin-1"


# ------------------------------------------------------------------ delimiter


def detect_delimiter(lines: Sequence[str]) -> str:
    """The delimiter that splits ``lines`` (header first) into the header's fields on
    nine lines in ten or more.

    Quoted fields are respected. Among those delimiters, the one giving the header the
    most fields wins; ``,`` when none splits anything. A line cut short is not a reason
    to give up a delimiter (reviewed: one short line among the first 200 of a ``;``
    export had the file read with ``,``, as one column); it is set aside when read.
    """
    best, best_fields = ",", 1
    lines = [line for line in lines if line.strip()][:200]
    if not lines:
        return best
    for delimiter in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delimiter))
        width, body = len(rows[0]), rows[1:]
        same = sum(len(row) == width for row in body)
        if width > best_fields and same >= 0.9 * len(body):
            best, best_fields = delimiter, width
    return best


# --------------------------------------------------------------- reading CSV


def _open_bytes(path: Path) -> io.BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 (returned to the caller)


def _head(path: Path) -> bytes:
    with _open_bytes(path) as stream:
        return stream.read(SAMPLE_BYTES)


def _line_fields(path: Path, delimiter: str) -> tuple[np.ndarray, bool, bool]:
    """Each physical line's fields counted on bytes (delimiters + 1; a last line
    without a line break counts too), whether a quote appears anywhere, and whether the
    file ends in a line break.

    The counts are a record's only when no quote can hide a delimiter or a line break
    and the encoding writes them as the ASCII bytes (:func:`_ascii_safe`).
    """
    mark = ord(delimiter) if len(delimiter) == 1 and delimiter.isascii() else -1
    counts, carry, quoted, last = [], 0, False, b"\n"
    with _open_bytes(path) as stream:
        while chunk := stream.read(1 << 24):
            data = np.frombuffer(chunk, dtype=np.uint8)
            breaks = np.flatnonzero(data == 10)
            marks = np.flatnonzero(data == mark)
            quoted = quoted or b'"' in chunk
            before = np.searchsorted(marks, breaks)
            if len(breaks):
                counts.append(np.diff(before, prepend=0) + 1)
                counts[-1][0] += carry
                carry = len(marks) - int(before[-1])
            else:
                carry += len(marks)
            last = chunk[-1:]
    if last != b"\n":
        counts.append(np.array([carry + 1]))
    fields = np.concatenate(counts) if counts else np.zeros(0, dtype="int64")
    return fields.astype("int64"), quoted, last in (b"\n", b"\r")


def _ascii_safe(encoding: str) -> bool:
    """Whether every delimiter, quote and line break of the encoding is its ASCII byte,
    never part of another character (UTF-8 and the single-byte code pages; not GB18030,
    whose second bytes include ``|``, nor UTF-16)."""
    name = codecs.lookup(encoding).name
    return name in ("utf-8", "utf-8-sig", "ascii") or name.startswith(("iso8859-", "cp125"))


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _clip(line: str, width: int = 80) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


@contextlib.contextmanager
def _no_field_limit() -> Iterator[None]:
    """Let :mod:`csv` read a value of any size (one a stray quote made huge, too)."""
    limit = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _physical_line(path: Path, encoding: str, number: int) -> str:
    """Line ``number`` (the first being 1) of the file, without its line break."""
    with _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        line = next(itertools.islice(text, number - 1, None), "")
    return line.rstrip("\r\n")


def _row_like(piece: str, delimiter: str, n_columns: int) -> bool:
    """Whether one line splits into exactly a row's fields (``n_columns``)."""
    fields = next(csv.reader([piece], delimiter=delimiter), [])
    return len(fields) == n_columns


def _check_quoted_lines(
    path: Path, record: Sequence[str], start: int, delimiter: str, n_columns: int
) -> None:
    """Stop if a quoted value of ``record`` (starting on line ``start``) swallowed rows.

    A value holding two or more lines that each split into exactly a row's fields is
    not a comment or an address written on several lines: a quote opened there and was
    closed by a stray quote lines later, and every line in between (whole rows) was
    read into that one value. One such line alone may be prose ("shoes, a bag, a belt"
    in a five-column file), and so may any line of a two-column file (one comma): they
    are logged, with the first one's line, not stopped on.
    """
    line = start
    for value in record:
        pieces = _LINE_BREAK.split(value)
        rows = [
            k for k, piece in enumerate(pieces[1:], 1) if _row_like(piece, delimiter, n_columns)
        ]
        end = line + len(pieces) - 1
        if len(rows) >= 2 and n_columns >= 3:
            k = rows[0]
            raise ReadError(
                f"{str(path)!r}: a quoted value opening on line {line} closes only on line "
                f"{end}: {len(rows)} of the {end - line} lines after line {line} split into "
                f"the {n_columns} fields of a row (e.g. line {line + k}: "
                f"{_clip(pieces[k])!r}) and were read into that one value. A stray quote does "
                f"this (an unclosed '\"' on line {line}, a quote such as an inch mark on line "
                f"{end}): close or remove it in the file, or escape a quote inside a quoted "
                'value as "", and read it again'
            )
        if rows:
            log.warning(
                "%s: the quoted value opening on line %d holds line %d, which splits into a "
                "row's %d fields (%r): if that is a row, a stray quote swallowed it",
                path,
                line,
                line + rows[0],
                n_columns,
                _clip(pieces[rows[0]]),
            )
        line = end


def _record_lines(path: Path, encoding: str, delimiter: str) -> tuple[np.ndarray, np.ndarray]:
    """The line each data record starts on, and its fields, the slow way (quoted
    newlines, blank lines).

    Raises
    ------
    ReadError
        If a quoted value holds lines that look like rows of their own (a stray quote
        swallowed them; see :func:`_check_quoted_lines`).
    """
    starts, fields = [], []
    n_columns = 0
    with _no_field_limit(), _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter)
        previous_end = 0
        for record in reader:
            # a line of spaces alone is blank to pandas too (when rows have more than
            # one field): counting it would shift every later line number by one
            blank = len(record) == 1 and not record[0].strip() and n_columns > 1
            if record and not blank:
                start = previous_end + 1
                if not starts:
                    n_columns = len(record)  # the header
                elif reader.line_num > start and n_columns > 1:
                    _check_quoted_lines(path, record, start, delimiter, n_columns)
                starts.append(start)
                fields.append(len(record))
            previous_end = reader.line_num
    # the header is not a record
    return np.asarray(starts[1:], dtype="int64"), np.asarray(fields[1:], dtype="int64")


def _header(head_text: str, delimiter: str) -> list[str]:
    """The header's fields (its lines may end in ``\r`` alone: Excel for Mac's CSV)."""
    return next(csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter), [])


def _full_width(header: list[str], fields: np.ndarray) -> int:
    """The fields a whole row has: the header's up to its last named column (``a,b,c,``
    names three of four), or more where most rows have more (every line ending in the
    delimiter: a row one field short of those is cut, reviewed)."""
    named = [i for i, name in enumerate(header, start=1) if name.strip()]
    width = named[-1] if named else len(header)
    usual = int(np.bincount(fields).argmax()) if len(fields) else width
    return max(width, min(usual, len(header)))


def _check_header(path: Path, head_text: str, delimiter: str) -> None:
    """Stop on a column name the header gives twice: pandas would read the second as
    ``amount.1`` and the pipeline would use the first, a guess at which holds the data.

    Raises
    ------
    ReadError
        Naming each repeated column and its positions (1 = the first column).
    """
    names = [h.strip() for h in _header(head_text, delimiter)]
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name:
            seen.setdefault(name, []).append(i)
    repeated = {n: at for n, at in seen.items() if len(at) > 1}
    if repeated:
        said = "; ".join(
            f"{n!r} in columns {', '.join(map(str, at))}" for n, at in repeated.items()
        )
        raise ReadError(
            f"{str(path)!r}: the header names a column more than once ({said}). Which of "
            "them holds the data would be a guess: rename or drop the extra column, then "
            "map the one to use in source.columns"
        )


def _gzip_error(path: Path, err: BaseException) -> ReadError:
    return ReadError(
        f"cannot read {str(path)!r}: {err}. If it is a .gz file, it was probably cut short "
        "while it was written or copied: compress the export again"
    )


def _physical_line_of_record(path: Path, encoding: str, delimiter: str, record: int) -> int:
    """The file line on which pandas' ``line N`` (its record N, the header being 1)
    starts: they differ after quoted values written on several lines (reviewed)."""
    try:
        starts, _ = _record_lines(path, encoding, delimiter)
    except (ReadError, csv.Error, UnicodeDecodeError):
        return record
    return int(starts[record - 2]) if 2 <= record <= len(starts) + 1 else record


def _unclosed_quote_error(path: Path, encoding: str, delimiter: str) -> ReadError:
    """The error for a quoted value still open at the end of the file, naming its line."""
    with _no_field_limit(), _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter)
        previous_end, start, record = 0, 1, []
        for row in reader:
            if row:
                start, record = previous_end + 1, row
            previous_end = reader.line_num
    # the last record is the one left open; its last value holds the rest of the file
    line = start + sum(len(_LINE_BREAK.findall(value)) for value in record[:-1])
    swallowed = len(_LINE_BREAK.findall(record[-1].rstrip("\r\n"))) if record else 0
    if swallowed == 0:  # the file ends inside a value of its last line: cut short
        return ReadError(
            f"{str(path)!r} ends inside a quoted value on its last line, {line} "
            f"({_clip(_physical_line(path, encoding, line))!r}): the export was probably "
            "cut short. Export it again (or, if the quote is a typo, close or remove it)"
        )
    return ReadError(
        f"{str(path)!r}: a quoted value opening on line {line} is never closed, so the "
        f"{swallowed} lines after it, to the end of the file, would be read into that one "
        f"value (line {line}: {_clip(_physical_line(path, encoding, line))!r}). Close or "
        'remove the quote in the file, or escape a quote inside a quoted value as "", and '
        "read it again"
    )


def _decode_error(path: Path, encoding: str, err: UnicodeDecodeError, how: str) -> ReadError:
    sample = _head(path)
    at = err.start if err.object is not None and len(err.object) == len(sample) else None
    where = f" at byte {at}" if at is not None else ""
    return ReadError(
        f"cannot read {str(path)!r} as {encoding} ({how}){where}: {err.reason}. Set "
        "source.read.encoding to the file's encoding (e.g. 'gb18030' for a Chinese "
        "GBK export, 'cp1252' for a Windows Western export, 'utf-8-sig')"
    )


def _read_text_frame(path: Path, delimiter: str, encoding: str) -> pd.DataFrame:
    """Every cell as text, nothing read as missing, blank lines skipped."""
    return pd.read_csv(
        path,
        sep=delimiter,
        encoding=encoding,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=True,
        engine="c",
        # never the first column as an index when line 2 has one field more than the
        # header: every column would shift by one (reviewed); that line stops the run
        index_col=False,
    )


def read_csv_text(
    path: str | Path, choices: ReadChoices
) -> tuple[pd.DataFrame, np.ndarray, ReadChoices, np.ndarray]:
    """Every cell of a CSV file as text, nothing read as missing yet, and each row's line.

    Parameters
    ----------
    path
        A ``.csv`` or ``.csv.gz`` file.
    choices
        ``encoding`` and ``delimiter`` when set; each one left ``None`` is detected.

    Returns
    -------
    frame, lines, choices, fields
        The cells as ``string`` (empty cells as ``""``); for each row the line it starts
        on, the header being line 1; the choices with the detected ones filled in; for
        each row the fields written on it, fewer than ``frame``'s columns where the line
        stops short (pandas fills the rest with ``""``, so a cut line or a missing
        delimiter would otherwise read as empty values, or as values in the wrong
        column).

    Raises
    ------
    ReadError
        If the file is empty, has no header, or does not decode in the encoding used
        (the message names the file and ``source.read.encoding``); if a quoted value
        never closes, or holds lines that look like rows (a stray quote swallowed
        them: the message names the line it opens on and the lines it swallowed).
    """
    path = Path(path)
    try:
        sample = _head(path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise _gzip_error(path, err) from err
    if not sample.strip():
        raise ReadError(f"{str(path)!r} is empty: expected a header line and one row per record")
    detected = list(choices.detected)
    encoding = choices.encoding
    if encoding is None:
        encoding = detect_encoding(sample)
        detected.append("encoding")
    try:
        head_text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(
            sample, final=len(sample) < SAMPLE_BYTES
        )
    except UnicodeDecodeError as err:
        raise _decode_error(path, encoding, err, "source.read.encoding") from err
    except LookupError as err:
        raise ReadError(
            f"{str(path)!r}: source.read.encoding {encoding!r} is not an encoding Python knows"
        ) from err
    delimiter = choices.delimiter
    if delimiter is None:
        delimiter = detect_delimiter(head_text.splitlines()[:200])
        detected.append("delimiter")
    try:
        with warnings.catch_warnings():  # a line longer than the header stops the run below
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            frame = _read_text_frame(path, delimiter, encoding)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise _gzip_error(path, err) from err
    except pd.errors.EmptyDataError as err:
        raise ReadError(f"{str(path)!r} has no header line: {err}") from err
    except UnicodeDecodeError as err:
        raise _decode_error(
            path, encoding, err, "detected" if "encoding" in detected else "set"
        ) from err
    except pd.errors.ParserError as err:
        ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if ragged:
            want, line, saw = ragged.groups()
            line = _physical_line_of_record(path, encoding, delimiter, int(line))
            raise ReadError(
                f"{str(path)!r}: line {line} has {saw} fields where the lines before it have "
                f"{want} (delimiter {delimiter!r}{' detected' if 'delimiter' in detected else ''})"
                f". A value holding {delimiter!r} must be quoted: fix or quote that line; set "
                f"source.read.delimiter only if {delimiter!r} is not the file's delimiter"
            ) from err
        if "EOF inside string" in str(err):
            raise _unclosed_quote_error(path, encoding, delimiter) from err
        raise ReadError(
            f"{str(path)!r} does not split into columns with delimiter {delimiter!r}: {err}. "
            "Set source.read.delimiter"
        ) from err
    _check_header(path, head_text, delimiter)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.astype(STRING)
    per_line, quoted, ends_in_break = _line_fields(path, delimiter)
    # one record per line and nothing to hide a delimiter: count on bytes; else the csv
    # module reads each record (quoted values, blank lines, multi-byte encodings)
    by_bytes = not quoted and len(delimiter) == 1 and delimiter.isascii()
    if len(per_line) == len(frame) + 1 and by_bytes and _ascii_safe(encoding):
        lines, fields = np.arange(2, len(frame) + 2, dtype="int64"), per_line[1:]
    else:
        lines, fields = _record_lines(path, encoding, delimiter)
    if len(lines) != len(frame):  # pandas and csv disagree: fall back to positions
        log.warning(
            "%s: %d records by pandas, %d by the csv module; line numbers in the ledger "
            "are row positions + 1 and may be off after blank or multi-line rows, and "
            "rows with too few fields are not told apart",
            path,
            len(frame),
            len(lines),
        )
        lines = np.arange(2, len(frame) + 2, dtype="int64")
        fields = np.full(len(frame), frame.shape[1], dtype="int64")
    header = _header(head_text, delimiter)
    longer = np.flatnonzero(fields > len(header))
    if len(longer):  # pandas pads or drops without a word; line 2 would shift every column
        raise ReadError(
            f"{str(path)!r}: line {lines[longer[0]]} has {fields[longer[0]]} fields where the "
            f"header has {len(header)} (delimiter {delimiter!r}; {len(longer)} such line(s)). "
            f"A value holding {delimiter!r} must be quoted: fix or quote that line"
        )
    # a row may stop short of unnamed trailing columns (a header ending in a delimiter)
    fields = np.where(fields >= _full_width(header, fields), frame.shape[1], fields)
    if not ends_in_break and len(frame) > 1:
        log.warning(
            "%s does not end in a line break, as an export cut short would not: if it "
            "was, its last line (%d: %r) may have lost the end of its last value",
            path,
            lines[-1],
            _clip(_physical_line(path, encoding, int(lines[-1]))),
        )
    chosen = replace(choices, encoding=encoding, delimiter=delimiter, detected=tuple(detected))
    log.info("read %s: %d rows", path, len(frame))
    return frame, lines, chosen, fields


# ------------------------------------------------------------- missing values


def apply_missing_markers(
    frame: pd.DataFrame,
    markers: Iterable[str],
    *,
    columns: Iterable[str] | None = None,
    counted: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Text cells equal to a marker (after stripping) become missing; count them.

    Parameters
    ----------
    frame
        A file as read.
    markers
        The values that mean "no value" (``source.read.missing_values``).
    columns
        The columns to treat and count (default: all).
    counted
        The rows whose values are counted (default: all). A line with fewer fields
        than the header is set aside whole: the cells it never wrote are not values
        read as missing.

    Returns
    -------
    frame, counts
        A copy with markers as ``<NA>``; per column, values read as missing by marker
        (``"(empty)"`` for an empty cell, ``"(null)"`` for a null already in the file).
    """
    markers = tuple(markers)
    out = frame.copy()
    counts: dict[str, dict[str, int]] = {}
    every = counted is None or bool(np.all(counted))
    for column in columns if columns is not None else frame.columns:
        values = frame[column]
        per_marker: dict[str, int] = {}
        null = values.isna().to_numpy(dtype=bool)
        nulls = int(null.sum() if every else (null & counted).sum())
        if nulls:
            per_marker[NULL_MARK] = nulls
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = values.astype(STRING).str.strip()
            hit = text.isin(markers).fillna(False).to_numpy(dtype=bool)
            if hit.any():
                found = text[hit if every else hit & counted].value_counts()
                per_marker.update(
                    {(EMPTY_MARK if k == "" else str(k)): int(v) for k, v in found.items()}
                )
                out[column] = values.mask(hit)
        if per_marker:
            counts[str(column)] = per_marker
    return out, counts


# ------------------------------------------------------------------- numbers

_COMMA_DECIMAL = re.compile(
    r"[+-]?(\d+,(\d{1,2}|\d{4,})|\d{1,3}(\.\d{3})+,\d+|\d{1,3}(\.\d{3}){2,})"
)
_POINT_DECIMAL = re.compile(
    r"[+-]?(\d+\.(\d{1,2}|\d{4,})|\d{1,3}(,\d{3})+\.\d+|\d{1,3}(,\d{3}){2,})"
)
_AMBIGUOUS_NUMBER = re.compile(r"[+-]?\d{1,3}[.,]\d{3}")
# Thousands grouped by a point or a comma, told from a decimal mark by the other mark
# after them or by a second group.
_GROUPED_BY_MARK = {
    ".": re.compile(r"[+-]?(\d{1,3}(\.\d{3})+,\d+|\d{1,3}(\.\d{3}){2,})"),
    ",": re.compile(r"[+-]?(\d{1,3}(,\d{3})+\.\d+|\d{1,3}(,\d{3}){2,})"),
}
# Thousands separators that are never a decimal mark: a space, the no-break space
# (U+00A0) and narrow no-break space (U+202F) French Excel writes, the Swiss apostrophe.
GROUP_SEPARATORS = (" ", "\u00a0", "\u202f", "'")
_SEPARATOR_NAMES = {
    " ": "a space",
    "\u00a0": "a no-break space (U+00A0)",
    "\u202f": "a narrow no-break space (U+202F)",
    "'": "an apostrophe",
    ".": "a point",
    ",": "a comma",
}


def _grouped_by(separator: str, decimal: str = ".,") -> str:
    """A number grouping its digits by three with ``separator`` (``3 193,92``), its
    decimals (if any) after one of ``decimal``."""
    return rf"[+-]?\d{{1,3}}({re.escape(separator)}\d{{3}})+([{re.escape(decimal)}]\d+)?"


@dataclass(frozen=True)
class NumberEvidence:
    """Values proving a decimal comma, a decimal point, or deciding nothing (examples).

    ``grouped`` pairs each thousands separator values group digits with (``1.250,00``,
    ``3 193,92``, ``3'193.92``) with examples; ``misgrouped`` pairs a separator of
    :data:`GROUP_SEPARATORS` with values holding it between digits otherwise
    (``12 50``).
    """

    comma: tuple[str, ...]
    point: tuple[str, ...]
    ambiguous: tuple[str, ...]
    grouped: tuple[tuple[str, tuple[str, ...]], ...] = ()
    misgrouped: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # rows (values as written, repeats counted) of each kind, and of any kind
    n_comma: int = 0
    n_point: int = 0
    n_ambiguous: int = 0
    n_values: int = 0


def _labelled(
    values: Mapping[str, pd.Series] | Iterable[pd.Series],
) -> list[tuple[str, pd.Series]]:
    if isinstance(values, Mapping):
        return list(values.items())
    return [("", s) for s in values]


def _show(found: pd.Series, label: str) -> list[str]:
    suffix = f" ({label})" if label else ""
    return [f"{v!r}{suffix}" for v in found.head(5).tolist()]


def _distinct(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Each value once (in the order first seen) and how many rows wrote it."""
    counts = text.value_counts(sort=False)
    return pd.Series(counts.index, dtype=STRING), counts.to_numpy(dtype="int64")


def _rows(n: int, of: int) -> str:
    return f"{n:,} of {of:,} values" if of else f"{n:,} values"


def _matches(text: pd.Series, pattern: str, *, whole: bool = True) -> np.ndarray:
    found = text.str.fullmatch(pattern) if whole else text.str.contains(pattern)
    return found.fillna(False).to_numpy(dtype=bool)


def number_evidence(values: Mapping[str, pd.Series] | Iterable[pd.Series]) -> NumberEvidence:
    """Collect a few values of each kind from text columns holding numbers.

    ``values`` may name each column (``{"orders.amount": series}``): examples then say
    where they come from. A value grouped by a space, a no-break space or an apostrophe
    (``3 193,92``) also tells the decimal mark, read without its separators
    (``3193,92``).
    """
    comma: list[str] = []
    point: list[str] = []
    ambiguous: list[str] = []
    grouped: dict[str, list[str]] = {}
    misgrouped: dict[str, list[str]] = {}
    rows = {"comma": 0, "point": 0, "ambiguous": 0, "values": 0}
    for label, series in _labelled(values):
        written = series.dropna().astype(STRING).str.strip()
        text, repeats = _distinct(written[written.str.len() > 0])
        rows["values"] += int(repeats.sum())
        plain = text
        for separator in GROUP_SEPARATORS:
            between = _matches(text, rf"\d{re.escape(separator)}\d", whole=False)
            if not between.any():
                continue
            fits = _matches(text, _grouped_by(separator))
            grouped.setdefault(separator, []).extend(_show(text[fits], label))
            misgrouped.setdefault(separator, []).extend(_show(text[between & ~fits], label))
            plain = plain.mask(fits, plain.str.replace(separator, "", regex=False))
        for separator, pattern in _GROUPED_BY_MARK.items():
            grouped.setdefault(separator, []).extend(
                _show(text[_matches(text, pattern.pattern)], label)
            )
        for pattern, found, kind in (
            (_COMMA_DECIMAL, comma, "comma"),
            (_POINT_DECIMAL, point, "point"),
            (_AMBIGUOUS_NUMBER, ambiguous, "ambiguous"),
        ):
            hits = _matches(plain, pattern.pattern)
            found.extend(_show(text[hits], label))
            rows[kind] += int(repeats[hits].sum())
    return NumberEvidence(
        tuple(comma[:5]),
        tuple(point[:5]),
        tuple(ambiguous[:5]),
        n_comma=rows["comma"],
        n_point=rows["point"],
        n_ambiguous=rows["ambiguous"],
        n_values=rows["values"],
        grouped=tuple((k, tuple(v[:5])) for k, v in grouped.items() if v),
        misgrouped=tuple((k, tuple(v[:5])) for k, v in misgrouped.items() if v),
    )


def _two_separators(grouped: Mapping[str, Sequence[str]], what: str) -> ReadError:
    shown = " and with ".join(
        f"{_SEPARATOR_NAMES[k]} ({', '.join(v[:2])})" for k, v in grouped.items()
    )
    return ReadError(
        f"{what}: numbers grouping thousands with {shown} in the same file. Set "
        "source.read.thousands (the others are then set aside as unreadable), or export "
        "the file again"
    )


def grouping_separator(
    values: Mapping[str, pd.Series] | Iterable[pd.Series], *, decimal: str, what: str
) -> str | None:
    """The thousands separator values group digits with, the decimal mark being known.

    With ``decimal`` given (``source.read.decimal``), ``1,250`` and ``3 193.92`` are
    unambiguous: each separator other than the decimal mark that some value groups
    digits by three with is a candidate. None when no value groups digits.

    Raises
    ------
    ReadError
        If values group with two separators (``1,250.00`` and ``1 100.00``).
    """
    found: dict[str, list[str]] = {}
    for label, series in _labelled(values):
        text, _ = _distinct(series.dropna().astype(STRING).str.strip())
        for separator in (",", ".", *GROUP_SEPARATORS):
            if separator == decimal:
                continue
            hits = _show(text[_matches(text, _grouped_by(separator, decimal))], label)
            if hits:
                found.setdefault(separator, []).extend(hits)
    if len(found) > 1:
        raise _two_separators(found, what)
    return next(iter(found), None)


def decide_number_format(
    evidence: NumberEvidence, *, what: str, thousands: str | None = None
) -> tuple[str, str]:
    """(decimal, thousands) the evidence proves; ``(".", ",")`` when there is none.

    The thousands separator is the one values group digits with (a space, a no-break
    space, an apostrophe, or the mark that is not the decimal one); with no value
    grouped, the mark that is not the decimal one. ``thousands``, when the shop set it,
    is returned as set, and how values group is not checked (values it does not read
    are set aside as unreadable).

    Raises
    ------
    ReadError
        If values prove both a decimal comma and a decimal point, or only values such
        as ``1.250`` (1250 or 1.25?) carry a separator; if values group thousands with
        two separators, or hold the one they group with elsewhere between digits
        (``3 193,92`` and ``12 50``).
    """
    if evidence.comma and evidence.point:
        n = evidence.n_values
        raise ReadError(
            f"{what}: numbers written with a decimal comma ({_rows(evidence.n_comma, n)}, "
            f"e.g. {', '.join(evidence.comma[:3])}) and with a decimal point "
            f"({_rows(evidence.n_point, n)}, e.g. {', '.join(evidence.point[:3])}) "
            "in the same file. Set source.read.decimal (and source.read.thousands), or export "
            "the file again"
        )
    # the shop set the separator: only the decimal mark is decided here
    grouped = dict(evidence.grouped) if thousands is None else {}
    if len(grouped) > 1:
        raise _two_separators(grouped, what)
    misgrouped = dict(evidence.misgrouped)
    for separator, examples in grouped.items():
        if separator in misgrouped:
            raise ReadError(
                f"{what}: numbers such as {', '.join(examples[:3])} group thousands with "
                f"{_SEPARATOR_NAMES[separator]}, but {', '.join(misgrouped[separator][:3])} "
                f"hold it elsewhere between digits. Set source.read.thousands to "
                f"{separator!r} (those are then set aside as unreadable), or correct them "
                "in the file"
            )
    if evidence.comma:
        decimal = ","
    elif evidence.point or not evidence.ambiguous:
        decimal = "."
    else:
        raise ReadError(
            f"{what}: {_rows(evidence.n_ambiguous, evidence.n_values)}, such as "
            f"{', '.join(evidence.ambiguous[:3])}, read as thousands or as decimals, and no "
            "other value decides. Set source.read.decimal ('.' or ',')"
        )
    if thousands is not None:
        return decimal, thousands
    if not grouped:
        return decimal, "." if decimal == "," else ","
    ((thousands, examples),) = grouped.items()
    if thousands in GROUP_SEPARATORS:
        log.info(
            "%s: thousands grouped by %s, detected from values such as %s",
            what,
            _SEPARATOR_NAMES[thousands],
            ", ".join(examples[:3]),
        )
    return decimal, thousands


def parse_number_text(text: pd.Series, *, decimal: str, thousands: str) -> pd.Series:
    """Numbers from text written with ``decimal`` and ``thousands`` separators (float64).

    Thousands separators are removed only where they group digits by three, so
    ``1,5`` with a decimal point stays unreadable instead of becoming 15.
    """
    s = text.astype(STRING).str.strip()
    if thousands:
        t, d = re.escape(thousands), re.escape(decimal)
        grouped = s.str.fullmatch(rf"[+-]?\d{{1,3}}({t}\d{{3}})+({d}\d*)?").fillna(False)
        s = s.mask(grouped.to_numpy(dtype=bool), s.str.replace(thousands, "", regex=False))
    if decimal != ".":
        # a point is not a number's decimal separator here: "1.5" stays unreadable
        s = s.mask(s.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool))
        s = s.str.replace(decimal, ".", regex=False)
    raw = s.to_numpy(dtype=object, na_value=None)
    numbers = pd.to_numeric(raw, errors="coerce")
    return pd.Series(np.asarray(numbers, dtype="float64"), index=text.index)


# --------------------------------------------------------------------- dates

_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?"
)
_OFFSET = re.compile(r".*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)")
_DAY_MONTH = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(\D.*)?")


@dataclass(frozen=True)
class DateEvidence:
    """Non-ISO dates proving day-first, month-first, or deciding nothing (examples)."""

    day_first: tuple[str, ...]
    month_first: tuple[str, ...]
    ambiguous: tuple[str, ...]
    # rows (dates as written, repeats counted) of each kind, and of any kind
    n_day_first: int = 0
    n_month_first: int = 0
    n_ambiguous: int = 0
    n_values: int = 0


def date_evidence(values: Mapping[str, pd.Series] | Iterable[pd.Series]) -> DateEvidence:
    """Collect a few ``a/b/yyyy`` dates of each kind from text date columns (named or not)."""
    day_first: list[str] = []
    month_first: list[str] = []
    ambiguous: list[str] = []
    rows = [0, 0, 0, 0]
    for label, series in _labelled(values):
        text, repeats = _distinct(series.dropna().astype(STRING).str.strip())
        rows[3] += int(repeats.sum())
        parts = text.str.extract("^" + _DAY_MONTH.pattern + "$")
        a = pd.to_numeric(parts[0], errors="coerce")
        b = pd.to_numeric(parts[1], errors="coerce")
        ok = a.between(1, 31) & b.between(1, 31)
        for k, (found, kind) in enumerate(
            (
                (day_first, ok & (a > 12) & (b <= 12)),
                (month_first, ok & (b > 12) & (a <= 12)),
                (ambiguous, ok & (a <= 12) & (b <= 12) & (a != b)),
            )
        ):
            hits = kind.fillna(False).to_numpy(dtype=bool)
            found += _show(text[hits], label)
            rows[k] += int(repeats[hits].sum())
    return DateEvidence(
        tuple(day_first[:5]),
        tuple(month_first[:5]),
        tuple(ambiguous[:5]),
        n_day_first=rows[0],
        n_month_first=rows[1],
        n_ambiguous=rows[2],
        n_values=rows[3],
    )


def day_first_evidence(evidence: DateEvidence, day_first: bool) -> str:
    """What decided the day/month order, for the ledger: "from 1 of 4,000 dates
    (31/01/2024)". One stray value in a file of ISO dates decides it too, and a reader
    should see that it did."""
    n = evidence.n_day_first if day_first else evidence.n_month_first
    shown = evidence.day_first if day_first else evidence.month_first
    return f"from {n:,} of {evidence.n_values:,} dates, e.g. {', '.join(shown[:2])}"


def decide_day_first(evidence: DateEvidence, *, what: str) -> bool | None:
    """True (DD/MM), False (MM/DD), or None when the file has no such dates.

    Raises
    ------
    ReadError
        If the file holds dates only one order can read each way (``25/03`` and
        ``03/25``), or only dates both orders read differently (``01/02/2024``).
    """
    if evidence.day_first and evidence.month_first:
        raise ReadError(
            f"{what}: dates written day-first ({_rows(evidence.n_day_first, evidence.n_values)}, "
            f"e.g. {', '.join(evidence.day_first[:3])}) and month-first "
            f"({_rows(evidence.n_month_first, evidence.n_values)}, e.g. "
            f"{', '.join(evidence.month_first[:3])}) in the same file: "
            "reading either way would move the others by months. Export the dates as "
            "ISO 8601 (YYYY-MM-DD), or set source.read.date_format for the right one "
            "(the others are then set aside as unreadable)"
        )
    if evidence.day_first:
        return True
    if evidence.month_first:
        return False
    if evidence.ambiguous:
        raise ReadError(
            f"{what}: {_rows(evidence.n_ambiguous, evidence.n_values)}, dates such as "
            f"{', '.join(evidence.ambiguous[:3])}, read as well day-first as month-first, "
            "and no date in the file decides. Set "
            "source.read.date_format (e.g. '%d/%m/%Y %H:%M' or '%m/%d/%Y %H:%M')"
        )
    return None


def _layouts(day_first: bool) -> list[str]:
    first, second = ("%d", "%m") if day_first else ("%m", "%d")
    out = []
    for sep in ("/", "-", "."):
        for year in ("%Y", "%y"):
            for clock in (" %H:%M:%S", " %H:%M", ""):
                out.append(f"{first}{sep}{second}{sep}{year}{clock}")
    return out


_OTHER_LAYOUTS = [f"%Y/%m/%d{c}" for c in (" %H:%M:%S", " %H:%M", "")] + ["%Y%m%d"]


def has_offset(text: pd.Series) -> pd.Series:
    """Whether each timestamp text ends with a UTC offset (``Z``, ``+08:00``, ``-0500``)."""
    return text.str.fullmatch(_OFFSET.pattern).fillna(False).astype(bool)


def parse_timestamp_text(
    text: pd.Series,
    *,
    date_format: str | None = None,
    day_first: bool | None = None,
    timezone: str | None = None,
    what: str = "values",
) -> pd.Series:
    """Timestamps as naive UTC ``datetime64[us]`` from stripped text (``<NA>`` = missing).

    ISO 8601 first (with or without an offset); then ``date_format`` when given, else
    the ``a/b/yyyy`` layouts of the proven order (``day_first``). Values matching
    nothing are ``NaT``; the caller counts them as unreadable.

    Raises
    ------
    ReadError
        If some values carry a UTC offset and others do not while ``timezone`` is
        unset: the naive ones would otherwise be taken as UTC, hours off.
    """
    present = text.notna().to_numpy(dtype=bool)
    offset = has_offset(text).to_numpy(dtype=bool) & present
    iso = text.str.fullmatch(_ISO.pattern).fillna(False).to_numpy(dtype=bool)
    naive = present & ~offset
    # only values that read as dates take part: junk is unreadable, not naive
    datelike = iso | text.str.fullmatch(_DAY_MONTH.pattern).fillna(False).to_numpy(dtype=bool)
    if offset.any() and (naive & datelike).any() and timezone is None:
        with_offset = text[offset].head(2).tolist()
        without = text[naive & datelike].head(2).tolist()
        raise ReadError(
            f"{what}: {int(offset.sum())} timestamps carry a UTC offset (e.g. {with_offset}) "
            f"and {int((naive & datelike).sum())} do not (e.g. {without}). Set "
            "source.timezone to the zone "
            "the naive ones were written in (e.g. 'Asia/Shanghai'), or export every "
            "timestamp with its offset"
        )
    stamps = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if offset.any():
        parsed = pd.to_datetime(text[offset], format="ISO8601", errors="coerce", utc=True)
        stamps[offset] = parsed.dt.tz_localize(None).astype("datetime64[us]").to_numpy()
    local = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    todo = naive & iso
    if todo.any():
        parsed = pd.to_datetime(text[todo], format="ISO8601", errors="coerce")
        local[todo] = parsed.astype("datetime64[us]").to_numpy()
    todo = naive & local.isna().to_numpy()
    if todo.any():
        formats = [date_format] if date_format else []
        if not date_format:
            formats += _OTHER_LAYOUTS + (_layouts(day_first) if day_first is not None else [])
        for fmt in formats:
            if not todo.any():
                break
            parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
            local[todo] = parsed.astype("datetime64[us]").to_numpy()
            todo = naive & local.isna().to_numpy()
    if timezone is not None and naive.any():
        local[naive] = _zone_to_utc(local[naive], timezone, what=what).to_numpy()
    stamps[naive] = local[naive].to_numpy()
    return stamps


def _zone_to_utc(local: pd.Series, timezone: str, *, what: str = "values") -> pd.Series:
    """Naive local times in ``timezone`` as naive UTC.

    Where the clocks change, a local time may not exist (the hour skipped in spring: read
    as the time it would be after the change, shift_forward) or exist twice (the hour
    repeated in autumn: read as standard time). Both readings are a convention, not the
    data: a warning counts them and shows a few, so nobody mistakes them for recorded.
    One pass over every value; only those two kinds are localized again.
    """
    read = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    odd = (local.notna() & read.isna()).to_numpy()
    if odd.any():
        times = local[odd]
        skipped = times.dt.tz_localize(timezone, ambiguous=False, nonexistent="NaT").isna()
        read[odd] = times.dt.tz_localize(timezone, ambiguous=False, nonexistent="shift_forward")
        for mask, how in (
            (skipped, "do not exist (the hour the clocks skipped): read as after the change"),
            (~skipped, "occur twice (the hour the clocks repeated): read as standard time"),
        ):
            if mask.any():
                shown = ", ".join(times[mask].astype(str).head(3))
                log.warning(
                    "%s: %d local times in %s %s, e.g. %s",
                    what,
                    int(mask.sum()),
                    timezone,
                    how,
                    shown,
                )
    return read.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def localize_stamps(stamps: pd.Series, timezone: str | None, *, what: str = "values") -> pd.Series:
    """Typed timestamps as naive UTC: aware ones converted, naive ones read in ``timezone``
    (local times the clocks skipped or repeated are counted in a warning)."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return stamps.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    stamps = stamps.astype("datetime64[us]")
    if timezone is None:
        return stamps
    return _zone_to_utc(stamps, timezone, what=what)


def examples_with_lines(
    values: pd.Series, lines: np.ndarray | None, mask: np.ndarray, k: int = 3
) -> str:
    """``'abc' (line 7), ...`` for the first ``k`` rows of ``mask``."""
    positions = np.flatnonzero(mask)[:k]
    shown = []
    for p in positions:
        where = f" (line {int(lines[p])})" if lines is not None else ""
        shown.append(f"{values.iloc[p]!r}{where}")
    more = f" ... (+{int(mask.sum()) - k} more)" if int(mask.sum()) > k else ""
    return ", ".join(shown) + more


def describe_counts(counts: Mapping[str, int], k: int = 3) -> str:
    """``reason 12, other 3`` for the ``k`` largest counts."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return ", ".join(f"{name} {n}" for name, n in top)
