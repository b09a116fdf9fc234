"""A shop's own CSV/Parquet files -> the canonical tables.

``source.columns`` maps canonical column names to the file's names, per table; a
canonical column not mentioned is taken by its own name when the file has it.

Files are read as they were written (``pipeline.reading``: encoding, delimiter,
decimal and thousands separators, day/month order, time zones, missing-value
markers), each choice set in ``source.read`` or detected and recorded. Values are
parsed to the canonical dtypes (ids to strings, timestamps to naive UTC, numbers to
float) and nothing is dropped or changed silently:

- a row that is an exact copy of an earlier row of the same file is set aside as
  ``duplicate_row`` (a copy is never summed or counted twice);
- a row whose required value is missing or unreadable is set aside with the reason;
- an unreadable optional value becomes null and is counted;
- every value read as missing is counted per column and marker.

Every input is accounted for as ``rows_read == rows_used + sum(rows set aside per
reason)``, each set-aside row keeps its line in the file, and each canonical row
carries its provenance (input, first line, rows it stands for) for the ledger.

An ``orders`` file may hold order *lines* (rows that differ but share an order id, or
a product column): lines are then summed to one order each, and the canonical
``order_lines`` table is emitted when product, quantity and unit price are all known.
An "order id" whose lines span weeks is not one (a customer column mapped as the
order id, say): the run stops.

``SourceResult`` and the helpers that conform a frame to a schema table are shared by
every source (``pipeline.sources.online_retail`` imports them from here).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import config, reading, schema
from pipeline.ingest import detect_export_date
from pipeline.ledger import INPUT, LINE, ROWS

log = logging.getLogger(__name__)

STRING = pd.StringDtype()
REASON = "reason"
LINE_COLUMN = "line"
DETAIL = "detail"
ROWS_READ = "rows_read"
ROWS_USED = "rows_used"
# Report entries named "<table>:<note>" carry facts that are not row accounting
# (a derived table, values nulled); they never have a ``rows_read`` key.
NOTE_SEPARATOR = ":"

# Tokens that mean "no value" in text columns of the Online Retail files (parquet
# files written from spreadsheets store missing text as the string "nan"). A shop's
# own files use ``source.read.missing_values`` instead.
_NULL_TOKENS = ("", "nan", "NaN", "NAN", "None", "NULL", "null", "NaT")
_TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "0.0"})
# Extra canonical names an orders file given as lines may carry (from ``order_lines``).
_ORDER_LINE_EXTRAS: dict[str, schema.DType] = {"product_id": "string", "unit_price": "float"}
# Orders columns summed over the lines of one order; the other columns take the
# earliest (ordered_at), latest (other timestamps), mean (rating) or first value.
_ADDITIVE_ORDER_COLUMNS = (
    "amount",
    "quantity",
    "discount_amount",
    "points_earned",
    "points_redeemed",
)
_TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
# The lines of one order are placed within minutes; an "order" whose lines are
# further apart than this is not an order.
MAX_ORDER_SPAN = pd.Timedelta(days=7)
# More than this share of all orders spanning longer: the order id column is not an
# order id, and the run stops instead of setting much of the file aside. Fewer (a
# reused order number) are set aside as order_lines_weeks_apart.
MAX_SPANNING_SHARE = 0.05
# Each table's event time (order lines come inside the orders file here): the latest
# one is the default moment customers' attributes were observed.
EVENT_TIME = {k: v for k, v in schema.EVENT_TIME.items() if k != "order_lines"}
MERGE_RULE = "order lines summed into one order per order_id"


@dataclass(frozen=True)
class SourceResult:
    """What a source hands to the rest of the pipeline.

    Attributes
    ----------
    tables
        Canonical tables by name (only those the source can provide), each with every
        column of its ``schema.Table`` in schema order and canonical dtypes.
    report
        Row accounting per input file or table: ``{"rows_read": n, "rows_used": m,
        "<reason>": k, ...}`` with ``rows_read == rows_used + sum(reasons)``. Entries
        named ``"<table>:<note>"`` (no ``rows_read``) record facts such as a table
        derived from another one.
    set_aside
        Per input file or table, the rows set aside while mapping: the original
        columns plus a ``reason`` column (and, for a shop's files, ``line`` and
        ``detail``).
    details
        Per input: the file, the tables it feeds, how it was read, values read as
        missing, values nulled, the rule by which rows are merged, and notes.
    provenance
        Per table fed by an input, row-aligned with it: the input (``_input``), first
        line (``_line``) and number of input rows (``_rows``) behind each row.
    derived
        Tables built from another input's rows (``order_lines`` from an orders file of
        lines), with how; their rows are accounted for through that input.
    """

    tables: dict[str, pd.DataFrame]
    report: dict[str, dict[str, int]]
    set_aside: dict[str, pd.DataFrame]
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, pd.DataFrame] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- IO


def _check_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    suffix = "".join(path.suffixes) or "(none)"
    raise ValueError(
        f"cannot read {str(path)!r}: extension {suffix!r} is not one of "
        f"{', '.join(_TABLE_SUFFIXES)}"
    )


def read_table_file(path: str | Path, choices: reading.ReadChoices | None = None) -> pd.DataFrame:
    """Read one CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file.

    CSV cells are read as text, so that ids keep their leading zeros and every value
    goes through the same parsing (and accounting) as Parquet text columns; the
    encoding and delimiter are detected unless ``choices`` sets them.

    Raises
    ------
    ValueError
        If the extension is none of the supported ones (the message names the path
        and the extension), or the file cannot be read as written
        (:class:`pipeline.reading.ReadError`).
    FileNotFoundError
        If the file does not exist.
    """
    return _read(Path(path), choices or reading.ReadChoices())[0]


def _read(
    path: Path, choices: reading.ReadChoices
) -> tuple[pd.DataFrame, np.ndarray, reading.ReadChoices, np.ndarray]:
    kind = _check_suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {str(path)!r}")
    if kind == "csv":
        return reading.read_csv_text(path, choices)
    if path.stat().st_size == 0:
        raise reading.ReadError(f"{str(path)!r} is empty: expected a Parquet file")
    frame = pd.read_parquet(path)
    lines = np.arange(1, len(frame) + 1, dtype="int64")
    log.info("read %s: %d rows (Parquet)", path, len(frame))
    return frame, lines, choices, np.full(len(frame), frame.shape[1], dtype="int64")


def read_choices(
    read: config.SourceRead, timezone: str | None = None, table: str = "orders"
) -> reading.ReadChoices:
    """The ``source.read`` options as the reader's starting choices for ``table``'s file
    (None: detect)."""
    date_format = read.date_format_of(table)
    given = [
        k
        for k in ("encoding", "delimiter", "decimal", "thousands")
        if getattr(read, k) is not None
    ] + (["date_format"] if date_format is not None else [])
    return reading.ReadChoices(
        encoding=read.encoding,
        delimiter=read.delimiter,
        decimal=read.decimal or ".",
        thousands=read.thousands if read.thousands is not None else "",
        date_format=date_format,
        timezone=timezone,
        given=tuple(given) + (("timezone",) if timezone is not None else ()),
    )


def load_files(
    files: config.SourceFiles,
    columns: Mapping[str, Mapping[str, str]],
    *,
    read: config.SourceRead | None = None,
    timezone: str | None = None,
    export_date: pd.Timestamp | None = None,
) -> SourceResult:
    """Read a shop's own files and map them to the canonical tables.

    Parameters
    ----------
    files
        Paths per canonical table (``orders`` at least); tables without a path are
        skipped.
    columns
        Canonical column name -> file column name, per table (``source.columns``).
    read
        How the files were written (``source.read``); unset options are detected.
    timezone
        ``source.timezone``: the zone of timestamps written without an offset.
    export_date
        ``source.export_date``: when the files were exported (customers' attributes
        were observed then).

    Returns
    -------
    SourceResult
        See :func:`map_tables`.

    Raises
    ------
    ValueError
        If no orders file is given, a file has an unsupported extension, cannot be
        read as written, or a column mapping does not fit the files (see
        :func:`map_tables`).
    """
    read = read or config.SourceRead()
    paths = {name: path for name, path in files.model_dump().items() if path}
    if "orders" not in paths:
        raise ValueError("source.files.orders is not set: the orders table is required")
    raw, lines, chosen, fields = {}, {}, {}, {}
    for name, path in paths.items():
        try:
            raw[name], lines[name], chosen[name], fields[name] = _read(
                Path(path), read_choices(read, timezone, name)
            )
        except FileNotFoundError as err:
            folder = Path(path).parent
            beside = sorted(p.name for p in folder.iterdir())[:10] if folder.is_dir() else []
            raise FileNotFoundError(
                f"source.files.{name}: {err}"
                + (f"; {str(folder)!r} holds {beside}" if beside else "")
            ) from err
    return map_tables(
        raw,
        columns,
        lines=lines,
        fields=fields,
        choices=chosen,
        paths=paths,
        missing_values=read.missing_values,
        decimal=read.decimal,
        thousands=read.thousands,
        export_date=export_date,
    )


# ------------------------------------------------------------------ parsing


def clean_text(values: pd.Series) -> pd.Series:
    """Text as ``string`` dtype, stripped, with empty and ``nan``-like tokens as NA."""
    text = values.astype(STRING).str.strip()
    return text.mask(text.isin(_NULL_TOKENS))


def strip_text(values: pd.Series) -> pd.Series:
    """Text as ``string`` dtype, stripped; an empty cell is missing, nothing else is."""
    text = values.astype(STRING).str.strip()
    return text.mask(text == "")


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or isinstance(values.dtype, pd.StringDtype)


def parse_ids(values: pd.Series) -> pd.Series:
    """Ids as strings; integral floats (``12346.0``, or the text ``"12346.0"``) lose ``.0``.

    A column of whole numbers stored as floats (what a missing value does to an integer
    column) must give the same ids as the integers themselves.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(STRING)
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.astype("Float64")
        present = numbers.dropna()
        if bool(np.isfinite(present).all()) and bool((present % 1 == 0).all()):
            return numbers.astype("Int64").astype(STRING)
        return strip_text(values)
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype(STRING)
    text = strip_text(values)
    present = text.dropna()
    looks_integral = present.str.fullmatch(r"-?\d+(\.0+)?")
    if len(present) and bool(looks_integral.all()) and bool(present.str.contains(".").any()):
        text = text.str.replace(r"\.0+$", "", regex=True)
    return text


def parse_floats(
    values: pd.Series, *, decimal: str = ".", thousands: str = ","
) -> tuple[pd.Series, pd.Series]:
    """Numbers as float64, and a mask of values present but not readable as a finite number.

    Text is read with the file's ``decimal`` and ``thousands`` separators
    (:func:`pipeline.reading.parse_number_text`).
    """
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)
        present = values.notna()
    else:
        text = strip_text(values)
        numbers = reading.parse_number_text(text, decimal=decimal, thousands=thousands)
        present = text.notna()
    numbers = numbers.where(np.isfinite(numbers))
    return numbers, present & numbers.isna()


def parse_ints(
    values: pd.Series, *, decimal: str = ".", thousands: str = ","
) -> tuple[pd.Series, pd.Series]:
    """Whole numbers as Int64, and a mask of values present but not whole numbers."""
    numbers, unparseable = parse_floats(values, decimal=decimal, thousands=thousands)
    fractional = numbers.notna() & (numbers % 1 != 0)
    whole = numbers.where(~fractional)
    return whole.astype("Int64"), unparseable | fractional


def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Flags as nullable boolean (true/false, yes/no, y/n, t/f, 1/0), and the unreadable ones."""
    if pd.api.types.is_bool_dtype(values.dtype):
        flags = values.astype("boolean")
        return flags, pd.Series(False, index=values.index)
    text = strip_text(values)
    lower = text.str.lower()
    flags = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flags[lower.isin(_TRUE_TOKENS).fillna(False).astype(bool)] = True
    flags[lower.isin(_FALSE_TOKENS).fillna(False).astype(bool)] = False
    return flags, text.notna() & flags.isna()


def parse_datetimes(
    values: pd.Series,
    *,
    what: str = "values",
    date_format: str | None = None,
    day_first: bool | None = None,
    timezone: str | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Timestamps as naive UTC ``datetime64[us]``, and a mask of present but unreadable values.

    ISO 8601 first (offsets are converted to UTC); then ``date_format``, or the
    ``31/12/2024``-style layouts of the day/month order (``day_first``; proven from
    these values when not given).

    Raises
    ------
    pipeline.reading.ReadError
        If day-first and month-first readings both fit and disagree (``01/02/2024``),
        the values mix both orders, or mix offsets and naive times without ``timezone``.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        values.dtype
    ):
        return (
            reading.localize_stamps(values, timezone, what=what),
            pd.Series(False, index=values.index),
        )
    text = strip_text(values)
    if date_format is None and day_first is None:
        day_first = reading.decide_day_first(reading.date_evidence([text]), what=what)
    stamps = reading.parse_timestamp_text(
        text, date_format=date_format, day_first=day_first, timezone=timezone, what=what
    )
    return stamps, text.notna() & stamps.isna()


@dataclass(frozen=True)
class _Formats:
    """How the text of one file is parsed (decided once per file)."""

    decimal: str = "."
    thousands: str = ","
    date_format: str | None = None
    day_first: bool | None = None
    timezone: str | None = None


def parse_column(
    values: pd.Series,
    dtype: schema.DType,
    *,
    what: str = "values",
    formats: _Formats | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Parse one column to its canonical dtype; return (values, unparseable mask)."""
    formats = formats or _Formats()
    if dtype == "string":
        return parse_ids(values), pd.Series(False, index=values.index)
    if dtype == "datetime":
        return parse_datetimes(
            values,
            what=what,
            date_format=formats.date_format,
            day_first=formats.day_first,
            timezone=formats.timezone,
        )
    if dtype == "float":
        return parse_floats(values, decimal=formats.decimal, thousands=formats.thousands)
    if dtype == "int":
        return parse_ints(values, decimal=formats.decimal, thousands=formats.thousands)
    if dtype == "bool":
        return parse_bools(values)
    raise ValueError(f"{what}: unknown canonical dtype {dtype!r}")


# --------------------------------------------------------- canonical shape


def null_column(column: schema.Column, index: pd.Index) -> pd.Series:
    """An all-missing column of the canonical dtype."""
    if column.dtype == "string":
        return pd.Series(pd.NA, index=index, dtype=STRING)
    if column.dtype == "datetime":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[us]")
    if column.dtype == "float":
        return pd.Series(np.nan, index=index, dtype="float64")
    if column.dtype == "int":
        return pd.Series(pd.NA, index=index, dtype="Int64")
    return pd.Series(pd.NA, index=index, dtype="boolean")


def _as_canonical(values: pd.Series, column: schema.Column) -> pd.Series:
    if column.dtype == "string":
        return values.astype(STRING)
    if column.dtype == "datetime":
        return values.astype("datetime64[us]")
    if column.dtype == "float":
        return values.astype("float64")
    if column.dtype == "int":
        return values.astype("int64") if values.notna().all() else values.astype("Int64")
    return values.astype("boolean")


def conform_table(table: schema.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Every column of ``table`` in schema order and canonical dtype; absent optional ones null.

    Raises
    ------
    ValueError
        If a required column is absent (a bug in the source, not in the data).
    """
    missing = [c.name for c in table.columns if c.required and c.name not in frame.columns]
    if missing:
        raise ValueError(f"table {table.name!r}: required columns {missing} were not produced")
    index = pd.RangeIndex(len(frame))
    frame = frame.reset_index(drop=True)
    out = {
        c.name: (
            _as_canonical(frame[c.name], c) if c.name in frame.columns else null_column(c, index)
        )
        for c in table.columns
    }
    return pd.DataFrame(out, index=index)


def provenance_frame(input_name: str, lines: Any, rows: Any) -> pd.DataFrame:
    """The bookkeeping columns of :mod:`pipeline.ledger` for a table's rows."""
    lines = np.asarray(lines, dtype="int64")
    return pd.DataFrame(
        {
            INPUT: pd.array([input_name] * len(lines), dtype=STRING),
            LINE: lines,
            ROWS: np.asarray(rows, dtype="int64"),
        }
    )


def check_accounting(report: Mapping[str, Mapping[str, int]]) -> None:
    """Raise if an accounting entry of ``report`` does not add up.

    Raises
    ------
    RuntimeError
        Naming the entry and its counts, when ``rows_read != rows_used + reasons``.
    """
    for name, counts in report.items():
        if ROWS_READ not in counts:
            continue
        set_aside = sum(v for k, v in counts.items() if k not in (ROWS_READ, ROWS_USED))
        if counts[ROWS_READ] != counts[ROWS_USED] + set_aside:
            raise RuntimeError(
                f"row accounting of {name!r} does not add up: {dict(counts)} "
                f"({counts[ROWS_READ]} read != {counts[ROWS_USED]} used + {set_aside} set aside)"
            )


def set_aside_rows(
    raw: pd.DataFrame,
    reasons: pd.Series,
    *,
    lines: np.ndarray | None = None,
    details: pd.Series | None = None,
) -> pd.DataFrame:
    """The rows of ``raw`` with a reason, original columns kept, plus ``reason``.

    With ``lines``, each row's line in the file is added as ``line`` (before the
    reason); with ``details``, a ``detail`` column follows (e.g. "copy of line 7").
    A file column that already has one of these names is renamed ``<name>_in_file``.
    """
    keep = reasons.notna().to_numpy()
    rows = raw.loc[keep].copy()
    added = [REASON] + ([LINE_COLUMN] if lines is not None else [])
    added += [DETAIL] if details is not None else []
    rows = rows.rename(columns={c: f"{c}_in_file" for c in added if c in rows.columns})
    if lines is not None:
        rows[LINE_COLUMN] = np.asarray(lines, dtype="int64")[keep]
    rows[REASON] = pd.array(reasons[reasons.notna()].astype(STRING).to_numpy(), dtype=STRING)
    if details is not None:
        rows[DETAIL] = pd.array(details[keep].astype(STRING).to_numpy(), dtype=STRING)
    return rows


def count_reasons(reasons: pd.Series, *, order: tuple[str, ...] = ()) -> dict[str, int]:
    """Rows per set-aside reason: every reason in ``order`` (zeros too), then the others."""
    counts = reasons.dropna().value_counts()
    out = {r: int(counts.get(r, 0)) for r in order}
    out.update({str(r): int(n) for r, n in counts.items() if r not in out})
    return out


# ------------------------------------------------------------------ mapping


@dataclass
class _Mapped:
    """One input table after column selection and parsing (internal)."""

    values: pd.DataFrame  # canonical names, parsed
    unparseable: pd.DataFrame  # same columns, bool
    source: dict[str, str]  # canonical name -> the file's column
    missing: dict[str, dict[str, int]]  # canonical name -> marker -> values read as missing


@dataclass(frozen=True)
class _Input:
    """One file as handed to the mapping: rows, lines, how it was read (internal)."""

    name: str
    raw: pd.DataFrame
    lines: np.ndarray
    choices: reading.ReadChoices
    path: str | None
    fields: np.ndarray | None = None  # per row, the fields written on its line


def _describe_lookup(table: str, canonical: str, mapping: Mapping[str, str]) -> str:
    if canonical in mapping:
        return f"file column {mapping[canonical]!r} (source.columns.{table}.{canonical})"
    return f"file column {canonical!r} (same name; source.columns.{table} does not map it)"


def _where(src: _Input) -> str:
    return f"file {src.path!r} ({src.name})" if src.path else f"table {src.name!r}"


def _file_formats(
    src: _Input,
    sources: Mapping[str, str],
    dtypes: Mapping[str, schema.DType],
    *,
    decimal: str | None,
    thousands: str | None,
) -> tuple[_Formats, reading.ReadChoices]:
    """Decide the file's number format and day/month order from all its text columns."""
    choices = src.choices
    detected = list(choices.detected)
    numeric = {
        f"{src.name}.{c} ({sources[c]!r})": src.raw[sources[c]]
        for c, d in dtypes.items()
        if d in ("float", "int") and c in sources and _is_text(src.raw[sources[c]])
    }
    if decimal is None:
        evidence = reading.number_evidence(numeric)
        decimal_used, thousands_used = reading.decide_number_format(
            evidence, what=_where(src), thousands=thousands
        )
        if evidence.comma or evidence.point:
            detected.append("decimal")
        # detected only when values group digits with it; otherwise it is the default
        # (the mark that is not the decimal one): "thousands: , (detected)" in a
        # comma-delimited file read as found in the data (reviewed)
        if thousands is None and evidence.grouped:
            detected.append("thousands")
    else:
        decimal_used = decimal
        thousands_used = "." if decimal == "," else ","
        if thousands is None:
            # the decimal mark given, the thousands separator still shows in the values
            # (3 193,92 with decimal ","); two of them stop the run
            grouping = reading.grouping_separator(numeric, decimal=decimal, what=_where(src))
            if grouping is not None:
                thousands_used = grouping
                detected.append("thousands")
    if thousands is not None:
        thousands_used = thousands
    dates = {
        f"{src.name}.{c} ({sources[c]!r})": src.raw[sources[c]]
        for c, d in dtypes.items()
        if d == "datetime" and c in sources and _is_text(src.raw[sources[c]])
    }
    day_first = None
    evidence = dict(choices.evidence)
    if choices.date_format is None and dates:
        found = reading.date_evidence(dates)
        day_first = reading.decide_day_first(found, what=_where(src))
        if day_first is not None:
            detected.append("day_first")
            evidence["day_first"] = reading.day_first_evidence(found, day_first)
    formats = _Formats(
        decimal=decimal_used,
        thousands=thousands_used,
        date_format=choices.date_format,
        day_first=day_first,
        timezone=choices.timezone,
    )
    chosen = reading.ReadChoices(
        encoding=choices.encoding,
        delimiter=choices.delimiter,
        decimal=decimal_used,
        thousands=thousands_used,
        date_format=choices.date_format,
        day_first=day_first,
        timezone=choices.timezone,
        detected=tuple(dict.fromkeys(detected)),
        given=choices.given,
        evidence=tuple(evidence.items()),
    )
    return formats, chosen


def _select(
    table: str,
    src: _Input,
    mapping: Mapping[str, str],
    dtypes: Mapping[str, schema.DType],
    required: tuple[str, ...],
    *,
    missing_values: tuple[str, ...],
    decimal: str | None,
    thousands: str | None,
) -> tuple[_Mapped, reading.ReadChoices]:
    raw = src.raw
    unknown = sorted(set(mapping) - set(dtypes))
    if unknown:
        raise ValueError(
            f"source.columns.{table} maps unknown canonical columns {unknown}; "
            f"{table} columns are {list(dtypes)}"
        )
    actual = [str(c) for c in raw.columns]
    for canonical, column in mapping.items():
        if column not in raw.columns:
            kind = "required" if canonical in required else "optional"
            raise ValueError(
                f"table {table!r}: {kind} column {canonical!r} not found: looked for "
                f"{_describe_lookup(table, canonical, mapping)}; the file has columns {actual}"
            )
    for canonical in required:
        if mapping.get(canonical, canonical) not in raw.columns:
            raise ValueError(
                f"table {table!r}: required column {canonical!r} not found: looked for "
                f"{_describe_lookup(table, canonical, mapping)}; the file has columns {actual}"
            )
    sources = {c: mapping.get(c, c) for c in dtypes if mapping.get(c, c) in raw.columns}
    # positions, not labels, tie parsed rows to the file's rows (an index may repeat)
    raw = raw.reset_index(drop=True)
    raw, missing_by_column = reading.apply_missing_markers(
        raw,
        missing_values,
        columns=list(dict.fromkeys(sources.values())),
        counted=None if src.fields is None else np.asarray(src.fields) >= raw.shape[1],
    )
    src = _Input(src.name, raw, src.lines, src.choices, src.path)
    formats, chosen = _file_formats(src, sources, dtypes, decimal=decimal, thousands=thousands)
    values, unparseable = {}, {}
    for canonical, column in sources.items():
        parsed, bad = parse_column(
            raw[column],
            dtypes[canonical],
            what=f"{table}.{canonical} ({column!r}) of {_where(src)}",
            formats=formats,
        )
        values[canonical], unparseable[canonical] = parsed, bad
    missing = {c: missing_by_column[s] for c, s in sources.items() if s in missing_by_column}
    mapped = _Mapped(
        pd.DataFrame(values, index=raw.index),
        pd.DataFrame(unparseable, index=raw.index),
        sources,
        missing,
    )
    return mapped, chosen


def _written(
    details: pd.Series, rows: pd.Series, raw: pd.DataFrame, mapped: _Mapped, column: str
) -> pd.Series:
    """``details`` with "column 'Total': '-25.0'" (the file's name and text) on ``rows``."""
    written = mapped.source.get(column, column)
    text = raw[written] if written in raw.columns else None
    if isinstance(text, pd.DataFrame):  # a repeated column name
        text = text.iloc[:, 0]
    out = details.copy()
    hit = np.asarray(rows, dtype=bool)
    if text is None:
        out[hit] = f"column {written!r}"
    else:
        out[hit] = [f"column {written!r}: {str(v)!r}" for v in text.to_numpy()[hit]]
    return out


def _owners(
    details: pd.Series, rows: pd.Series, values: pd.DataFrame, lines: np.ndarray
) -> pd.Series:
    """``details`` naming, for each row of an order id several customers claim, every
    customer with the lines they are on ("order 'SO-1' of customers 'C1' (line 5),
    'C2' (line 9)")."""
    hit = np.asarray(rows, dtype=bool)
    sub = pd.DataFrame(
        {
            "order_id": values["order_id"].to_numpy()[hit],
            "customer_id": values["customer_id"].to_numpy()[hit],
            "line": np.asarray(lines)[hit],
        }
    )
    said = {}
    for order, group in sub.groupby("order_id", sort=False):
        per = group.groupby("customer_id", sort=True)["line"].apply(
            lambda s: ", ".join(str(x) for x in s.head(3))
        )
        said[order] = f"order {order!r} of customers " + ", ".join(
            f"{c!r} (line {ls})" for c, ls in per.items()
        )
    out = details.copy()
    out[hit] = sub["order_id"].map(said).to_numpy()
    return out


def _first_reasons(
    mapped: _Mapped,
    required: list[str],
    reasons: pd.Series,
    details: pd.Series,
    raw: pd.DataFrame,
) -> tuple[pd.Series, pd.Series]:
    """Add the first reason each row cannot be used: a required value missing or
    unreadable; the detail names the file's column and, unreadable, the value as written
    (``column 'total': '€18.21'``), so a message shows what to fix."""
    for column in required:
        bad = mapped.unparseable[column].to_numpy()
        missing = mapped.values[column].isna().to_numpy() & ~bad
        new_bad = reasons.isna().to_numpy() & bad
        new_missing = reasons.isna().to_numpy() & missing
        reasons = reasons.mask(new_bad, f"unparseable_{column}")
        reasons = reasons.mask(new_missing, f"missing_{column}")
        if new_missing.any():
            written = mapped.source.get(column, column)
            details = details.mask(new_missing, f"column {written!r} empty")
        if new_bad.any():
            details = _written(details, new_bad, raw, mapped, column)
    return reasons, details


def nulled_examples(
    raw: pd.DataFrame, mapped: _Mapped, used: pd.Series, nulled: Mapping[str, int], k: int = 3
) -> dict[str, list[str]]:
    """Per column with unreadable optional values, the first ``k`` distinct of them as
    written (for the stop message when most of a column cannot be read)."""
    out = {}
    for column in nulled:
        hit = (mapped.unparseable[column] & used).to_numpy(dtype=bool)
        written = raw.iloc[np.flatnonzero(hit), raw.columns.get_loc(mapped.source[column])]
        out[column] = [str(v) for v in pd.unique(written.astype(str))[:k]]
    return out


def _count_nulled(mapped: _Mapped, required: list[str], used: pd.Series) -> dict[str, int]:
    """Unreadable optional values of used rows (parsed to null), per column."""
    nulled = {}
    for column in mapped.values.columns:
        if column in required:
            continue
        n = int((mapped.unparseable[column] & used).sum())
        if n:
            nulled[column] = n
    return nulled


def duplicate_rows(raw: pd.DataFrame, lines: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """Rows that are exact copies of an earlier row (every column, as read), and of which line.

    Returns
    -------
    reasons, details
        ``"duplicate_row"`` for each copy (NA otherwise), and ``"copy of line N"``.
    """
    index = pd.RangeIndex(len(raw))
    reasons = pd.Series(None, index=index, dtype=object)
    details = pd.Series(None, index=index, dtype=object)
    if raw.empty or raw.shape[1] == 0:
        return reasons, details
    frame = raw.reset_index(drop=True)
    frame.columns = range(frame.shape[1])  # repeated or odd names must not matter
    group = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(frame))).groupby(group).transform("first").to_numpy()
    copies = first != np.arange(len(frame))
    if copies.any():
        reasons[copies] = "duplicate_row"
        origin = np.asarray(lines, dtype="int64")[first[copies]]
        details[copies] = [f"copy of line {n}" for n in origin]
    return reasons, details


def short_rows(raw: pd.DataFrame, fields: np.ndarray | None) -> tuple[pd.Series, pd.Series]:
    """Rows whose line holds fewer fields than the file has columns.

    Returns
    -------
    reasons, details
        ``"too_few_fields"`` for each such row (NA otherwise), and ``"2 of the
        header's 3 fields: ..."``.
    """
    index = pd.RangeIndex(len(raw))
    reasons = pd.Series(None, index=index, dtype=object)
    details = pd.Series(None, index=index, dtype=object)
    if fields is None:
        return reasons, details
    short = np.asarray(fields) < raw.shape[1]
    if short.any():
        reasons[short] = "too_few_fields"
        details[short] = [
            f"{n} of the header's {raw.shape[1]} fields: the line was cut short or lost a "
            "delimiter, so its values may sit in the wrong columns"
            for n in np.asarray(fields)[short]
        ]
    return reasons, details


def _start(src: _Input, mapped: _Mapped) -> tuple[pd.Series, pd.Series]:
    """Reasons and details with malformed rows and copies already set aside: lines with
    too few fields (:func:`short_rows`), exact copies among the others, then copies
    once read (:func:`copies_once_read`)."""
    reasons, details = short_rows(src.raw, src.fields)
    whole = reasons.isna().to_numpy()
    if whole.all():
        reasons, details = duplicate_rows(src.raw, src.lines)
    else:  # a short row padded with empty values must not pass for another's copy
        copies, origin = duplicate_rows(src.raw.loc[whole], src.lines[whole])
        reasons[whole], details[whole] = copies.to_numpy(), origin.to_numpy()
    more, first = copies_once_read(src.raw, mapped, reasons.isna().to_numpy())
    if more.any():
        reasons[more] = "duplicate_row"
        lines = np.asarray(src.lines, dtype="int64")[first[more]]
        details[more] = [f"copy of line {n} once read (written differently)" for n in lines]
    return reasons, details


def copies_once_read(
    raw: pd.DataFrame, mapped: _Mapped, candidate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows equal to an earlier one in every value as read, though written differently
    (``18.210`` and ``18.21``, ``"1000 "`` and ``1000``, ``T`` or a space in a time).

    Compared: each mapped column's parsed value (its text where it did not parse) and
    every unmapped column as written, among the ``candidate`` rows. An order line copied
    this way would be summed into its order twice.

    Returns
    -------
    copies, first
        A mask of the copies, and per row the position of the first row it equals.
    """
    n = len(raw)
    first = np.arange(n)
    values = mapped.values
    # equal rows share their customer and first time column: only rows that repeat
    # those are compared in full (benchmarks/source_files.py, a million orders: the
    # check added 1.0-1.7 s to 7 s of mapping compared in full, 0.2-0.7 s this way)
    quick = [c for c in values.columns if c == "customer_id"] + [
        c for c in values.columns if pd.api.types.is_datetime64_any_dtype(values[c])
    ][:1]
    if quick:
        candidate = candidate & values[quick].duplicated(keep=False).to_numpy()
    if candidate.sum() < 2:
        return np.zeros(n, dtype=bool), first
    key: dict[str, object] = {}
    for i, column in enumerate(values.columns):
        key[f"v{i}"] = values[column].to_numpy()
        written = mapped.source.get(column)
        if column in mapped.unparseable and written in raw.columns:
            bad = mapped.unparseable[column].to_numpy(dtype=bool)
            text = raw[written]
            if isinstance(text, pd.DataFrame):  # a repeated column name
                text = text.iloc[:, 0]
            key[f"u{i}"] = np.where(bad, text.to_numpy(dtype=object), None)
    read = set(mapped.source.values())
    for j in range(raw.shape[1]):
        if raw.columns[j] not in read:
            key[f"r{j}"] = raw.iloc[:, j].to_numpy()
    frame = pd.DataFrame(key).loc[candidate]
    group = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()
    positions = np.flatnonzero(candidate)
    earliest = pd.Series(positions).groupby(group).transform("first").to_numpy()
    first[positions] = earliest
    return first != np.arange(n), first


def _details(
    src: _Input,
    table: str,
    chosen: reading.ReadChoices,
    mapped: _Mapped,
    nulled: Mapping[str, int],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "file": src.path,
        "tables": [table],
        "read": chosen.describe(),
        "columns": dict(mapped.source),
        "missing_values": mapped.missing,
        "nulled": {c: {"unreadable": n} for c, n in nulled.items()},
        "merge_rule": None,
        "notes": [],
    }
    return out


def _note_unread(src: _Input, info: dict[str, Any]) -> None:
    """What of an optional file the run does not read, in the log and the ledger's
    notes: a file with a header only (its table's features are left out), and columns
    no canonical column maps (reviewed: both went without a word; a misspelled header
    would vanish the same way)."""
    notes = info.setdefault("notes", [])
    if len(src.raw) == 0:
        said = (
            f"{_where(src)} has a header but no rows: the run goes on without any "
            f"{src.name}, and the features made from them are left out"
        )
        log.warning("%s", said)
        notes.append(said)
    used = {str(c) for c in info.get("columns", {}).values()}
    unread = [str(c) for c in src.raw.columns if str(c) not in used]
    if unread:
        said = (
            f"file columns not read (no {src.name} column maps to them; see "
            f"source.columns.{src.name}): {unread}"
        )
        log.info("%s: %s", src.name, said)
        notes.append(said)


def _map_generic(
    src: _Input,
    mapping: Mapping[str, str],
    *,
    missing_values: tuple[str, ...],
    decimal: str | None,
    thousands: str | None,
) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame, dict[str, int], dict, pd.DataFrame]:
    name = src.name
    table = schema.TABLES[name]
    dtypes = {c.name: c.dtype for c in table.columns}
    # line_no is a position: numbered from the file's order when absent
    required = tuple(
        c.name
        for c in table.columns
        if c.required and not (name == "order_lines" and c.name == "line_no")
    )
    mapped, chosen = _select(
        name,
        src,
        mapping,
        dtypes,
        required,
        missing_values=missing_values,
        decimal=decimal,
        thousands=thousands,
    )
    log.info("%s: read as %s", _where(src), chosen.describe())
    must_have = [c for c in mapped.values.columns if not table.column(c).nullable]
    reasons, details = _start(src, mapped)
    reasons, details = _first_reasons(mapped, must_have, reasons, details, src.raw)
    used = reasons.isna()
    nulled = _count_nulled(mapped, must_have, used)
    examples = nulled_examples(src.raw, mapped, used, nulled)
    frame = mapped.values.loc[used.to_numpy()]
    if name == "order_lines" and "line_no" not in frame.columns:
        frame = frame.assign(line_no=frame.groupby("order_id", sort=False).cumcount())
    report = {ROWS_READ: len(src.raw), ROWS_USED: int(used.sum()), **count_reasons(reasons)}
    aside = set_aside_rows(src.raw, reasons, lines=src.lines, details=details)
    info = _details(src, name, chosen, mapped, nulled)
    info["nulled_examples"] = examples
    prov = provenance_frame(name, src.lines[used.to_numpy()], np.ones(int(used.sum())))
    return conform_table(table, frame), report, aside, nulled, info, prov


def _beside_unreadable_lines(
    order_id: pd.Series, reasons: pd.Series, lines: np.ndarray
) -> pd.Series:
    """Per row, why its order may have lost a line whose order id cannot be read (NA
    where not), for an orders file of lines.

    A line set aside with too few fields (or without an order id) whose id matches no
    other line's lost its order: ``100228C00079,...`` lost the delimiter after the
    order id. Summing the rest of that order would put it short. Its order is the one
    whose id starts the line's first value, or else, when the file keeps each order's
    lines together, the order of the lines around it (either, when they differ). When
    the lines of an order are scattered, the order cannot be told from its place:
    nothing is set aside for it (its line is, with its own reason)."""
    ids = order_id.astype(object).where(order_id.notna(), None).to_numpy()
    reason = reasons.to_numpy(dtype=object)
    set_aside = pd.notna(reason) & (reason != "duplicate_row")
    unsure = set_aside & ((reason == "too_few_fields") | pd.isna(order_id).to_numpy())
    out = pd.Series(None, index=reasons.index, dtype=object)
    if not unsure.any():
        return out
    known = set(ids[~unsure & pd.notna(order_id).to_numpy()])
    lost = np.flatnonzero(unsure & ~pd.Series(ids).isin(known).to_numpy())
    if not lost.size:
        return out
    readable = np.flatnonzero(~unsure & pd.notna(order_id).to_numpy())
    if not readable.size:
        return out
    sequence = ids[readable]
    runs = 1 + int((sequence[1:] != sequence[:-1]).sum())
    together = runs == len(set(sequence))
    after = np.searchsorted(readable, lost)
    blamed: dict[object, int] = {}
    for row, k in zip(lost, after, strict=True):
        around = [sequence[j] for j in (k - 1, k) if 0 <= j < len(sequence)]
        text = "" if ids[row] is None else str(ids[row])
        named = [o for o in around if text.startswith(str(o))]
        if named:
            around = named[:1]
        elif not together:
            continue
        for o in dict.fromkeys(around):
            blamed.setdefault(o, int(lines[row]))
    if blamed:
        hit = pd.Series(ids, index=reasons.index).map(blamed)
        has = hit.notna()
        out[has] = [
            f"line {int(n)} beside this order's lines could not be read and may be one of "
            "them: the order would be summed short"
            for n in hit[has]
        ]
    return out


def _generate_order_ids(customer_id: pd.Series, ordered_at: pd.Series) -> pd.Series:
    # customer, time and occurrence: stable when rows are appended or reordered
    occurrence = pd.DataFrame({"c": customer_id, "t": ordered_at}).groupby(["c", "t"]).cumcount()
    return (
        customer_id.astype(STRING)
        + "-"
        + ordered_at.dt.strftime("%Y%m%dT%H%M%S").astype(STRING)
        + "-"
        + occurrence.astype(STRING)
    )


def _aggregate_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """One order per order id from its lines (see the module docstring for the rules)."""
    groups = lines.groupby("order_id", sort=False)
    orders = pd.DataFrame(
        {"customer_id": groups["customer_id"].first(), "ordered_at": groups["ordered_at"].min()}
    )
    additive = [c for c in _ADDITIVE_ORDER_COLUMNS if c in lines.columns]
    orders = orders.join(groups[additive].sum(min_count=1))
    if "product_id" in lines.columns:
        orders["distinct_products"] = groups["product_id"].nunique().astype("float64")
    elif "distinct_products" in lines.columns:
        orders["distinct_products"] = groups["distinct_products"].sum(min_count=1)
    for column in ("promised_delivery_at", "delivered_at", "rated_at"):
        if column in lines.columns:
            orders[column] = groups[column].max()
    if "rating" in lines.columns:
        orders["rating"] = groups["rating"].mean()
    if "promotion_day" in lines.columns:
        orders["promotion_day"] = groups["promotion_day"].max()
    for column in ("channel", "session_id"):
        if column in lines.columns:
            orders[column] = groups[column].first()
    orders[LINE] = groups[LINE].min()
    orders[ROWS] = groups.size()
    return orders.reset_index()


def _check_order_ids(src: _Input, mapped: _Mapped, candidate: pd.Series) -> pd.Series:
    """Rows of "orders" whose lines span more than a week; stop when that is most of them.

    Raises
    ------
    ValueError
        If ``order_id`` and ``customer_id`` are the same file column or hold the same
        values, or more than :data:`MAX_SPANNING_SHARE` of all orders span more than
        :data:`MAX_ORDER_SPAN`: the column does not identify orders. Fewer are set
        aside (a reused order number in a file of one row per order is the only
        multi-line order, 100% of those, but a tiny share of all orders).
    """
    values = mapped.values
    order_col, customer_col = mapped.source["order_id"], mapped.source["customer_id"]
    advice = (
        "Map source.columns.orders.order_id to the file's order or invoice number, or "
        "leave it unmapped to take each row as an order"
    )
    present = candidate & values["order_id"].notna() & values["customer_id"].notna()
    same_values = bool(present.any()) and bool(
        (values.loc[present, "order_id"] == values.loc[present, "customer_id"]).all()
    )
    if order_col == customer_col or same_values:
        n_orders = values.loc[present, "order_id"].nunique()
        raise ValueError(
            f"{_where(src)}: order_id ({order_col!r}) is the customer column "
            f"({customer_col!r}): {int(present.sum())} rows would collapse into "
            f"{n_orders} orders, one per customer. {advice}"
        )
    rows = values.loc[present, ["order_id", "ordered_at"]]
    groups = rows.groupby("order_id")["ordered_at"]
    span = groups.max() - groups.min()
    size = groups.size()
    multi = int((size > 1).sum())
    spanning = span[span > MAX_ORDER_SPAN]
    if len(spanning) > MAX_SPANNING_SHARE * len(size):  # of all orders, not the multi-line
        example = spanning.index[0]
        first, last = groups.min()[example], groups.max()[example]
        raise ValueError(
            f"{_where(src)}: {len(spanning)} of {multi} orders with several lines "
            f"({len(spanning) / len(size):.0%} of all {len(size):,} orders) "
            f"have lines more than {MAX_ORDER_SPAN.days} days apart (e.g. order {example!r} "
            f"from {first:%Y-%m-%d} to {last:%Y-%m-%d}): column {order_col!r} does not "
            f"identify orders. {advice}"
        )
    bad = pd.Series(False, index=values.index)
    bad[rows.index] = rows["order_id"].isin(spanning.index).to_numpy()
    return bad


def _map_orders(
    src: _Input,
    mapping: Mapping[str, str],
    *,
    missing_values: tuple[str, ...],
    decimal: str | None,
    thousands: str | None,
) -> tuple[
    dict[str, pd.DataFrame],
    dict[str, int],
    pd.DataFrame,
    dict[str, dict[str, int]],
    dict[str, Any],
    pd.DataFrame,
]:
    raw = src.raw
    dtypes: dict[str, schema.DType] = {c.name: c.dtype for c in schema.ORDERS.columns}
    dtypes.update(_ORDER_LINE_EXTRAS)
    has = {c for c in dtypes if mapping.get(c, c) in raw.columns}
    # amount may be derived from quantity x unit price, and order ids generated
    amount_from_lines = "amount" not in has and {"quantity", "unit_price"} <= has
    required = ("customer_id", "ordered_at") + (() if amount_from_lines else ("amount",))
    mapped, chosen = _select(
        "orders",
        src,
        mapping,
        dtypes,
        required,
        missing_values=missing_values,
        decimal=decimal,
        thousands=thousands,
    )
    log.info("%s: read as %s", _where(src), chosen.describe())
    values = mapped.values
    reasons, details = _start(src, mapped)

    # copies are set aside first: what repeats after them are real lines
    distinct = reasons.isna()
    repeated_ids = "order_id" in has and bool(
        values.loc[distinct, "order_id"].dropna().duplicated().any()
    )
    lines_mode = repeated_ids or "product_id" in has or amount_from_lines
    emits_lines = lines_mode and {"product_id", "quantity", "unit_price"} <= has
    must_have = [c for c in ("order_id", "customer_id", "ordered_at", "amount") if c in has]
    if emits_lines:
        must_have += ["product_id", "quantity", "unit_price"]
    elif amount_from_lines:
        must_have += ["quantity", "unit_price"]
    reasons, details = _first_reasons(mapped, must_have, reasons, details, src.raw)
    if lines_mode:
        # a negative line inside a sum would hide a return or a correction in the
        # order amount; returns belong in the returns table
        for column in ("amount", "quantity", "unit_price"):
            if column in has:
                negative = reasons.isna() & (values[column] < 0).fillna(False).to_numpy()
                reasons = reasons.mask(negative, f"negative_{column}")
                if negative.any():  # the value, as the rows' detail (reviewed: it was empty)
                    details = _written(details, negative, src.raw, mapped, column)
    notes: dict[str, dict[str, int]] = {}
    if "order_id" in has and lines_mode:
        candidate = reasons.isna()
        spanning = _check_order_ids(src, mapped, candidate)
        reasons = reasons.mask(candidate & spanning, "order_lines_weeks_apart")
        candidate = reasons.isna()
        owners = values.loc[candidate, ["order_id", "customer_id"]]
        n_customers = owners.groupby("order_id")["customer_id"].transform("nunique")
        several = pd.Series(False, index=values.index)
        several[owners.index] = (n_customers > 1).to_numpy()
        reasons = reasons.mask(several, "order_with_several_customers")
        if several.any():  # whose: every customer the order id names, with their lines
            details = _owners(details, several, values, src.lines)
        # an order missing a line would be summed short: its other lines go too
        # (copies of a line are not part of the order and do not count)
        broken = values.loc[reasons.notna() & (reasons != "duplicate_row"), "order_id"].dropna()
        incomplete = reasons.isna() & values["order_id"].isin(set(broken)).to_numpy()
        reasons = reasons.mask(incomplete, "line_of_an_incomplete_order")
        details = details.mask(incomplete, "another line of this order was set aside")
        beside = _beside_unreadable_lines(values["order_id"], reasons, src.lines)
        beside = beside.where(reasons.isna())
        reasons = reasons.mask(beside.notna(), "line_of_an_incomplete_order")
        details = details.mask(beside.notna(), beside)
    elif "order_id" in has and mapped.source.get("order_id") == mapped.source.get("customer_id"):
        _check_order_ids(src, mapped, reasons.isna())

    used = reasons.isna()
    nulled = _count_nulled(mapped, must_have, used)
    if nulled:
        notes["orders:unparseable_values_nulled"] = nulled
    info = _details(src, "orders", chosen, mapped, nulled)
    info["nulled_examples"] = nulled_examples(src.raw, mapped, used, nulled)
    lines = values.loc[used.to_numpy()].copy()
    lines[LINE] = src.lines[used.to_numpy()]
    if "order_id" not in has:
        lines["order_id"] = _generate_order_ids(lines["customer_id"], lines["ordered_at"])
        notes["orders:generated_order_ids"] = {"orders": len(lines)}
        info["notes"].append(
            "no order id: each row is an order, id '<customer>-<YYYYmmddTHHMMSS>-<k>'"
        )
    if amount_from_lines:
        lines["amount"] = lines["quantity"] * lines["unit_price"]
        info["notes"].append("amount = quantity x unit_price")

    tables = {}
    if lines_mode:
        orders = _aggregate_lines(lines)
        notes["orders:built_from_lines"] = {"lines": len(lines), "orders": len(orders)}
        info["merge_rule"] = MERGE_RULE
        if emits_lines:
            groups = lines.groupby("order_id", sort=False)
            tables["order_lines"] = conform_table(
                schema.ORDER_LINES,
                lines.assign(
                    line_no=groups.cumcount(), ordered_at=groups["ordered_at"].transform("min")
                ),
            )
    else:
        orders = lines.assign(**{ROWS: 1})
    tables["orders"] = conform_table(schema.ORDERS, orders)
    prov = provenance_frame("orders", orders[LINE].to_numpy(), orders[ROWS].to_numpy())
    report = {ROWS_READ: len(raw), ROWS_USED: int(used.sum()), **count_reasons(reasons)}
    aside = set_aside_rows(raw, reasons, lines=src.lines, details=details)
    return tables, report, aside, notes, info, prov


def _latest_event(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    """The latest event time, lone far-future rows left out (ingest quarantines those)."""
    stamps = pd.concat(
        [
            tables[name][column].dropna()
            for name, column in EVENT_TIME.items()
            if name in tables and len(tables[name])
        ]
        or [pd.Series([], dtype="datetime64[us]")]
    )
    if stamps.empty:
        return None
    days = stamps.dt.normalize().value_counts().rename_axis("day").reset_index(name="n")
    bound = detect_export_date(days).bound
    if bound is not None:
        stamps = stamps[stamps < bound]
    return stamps.max()


def _observe_attributes(
    customers: pd.DataFrame,
    mapped_column: bool,
    export_date: pd.Timestamp | None,
    tables: Mapping[str, pd.DataFrame],
    info: dict[str, Any],
) -> pd.DataFrame:
    """Fill ``attributes_observed_at`` when the file has no such column."""
    if mapped_column:
        info["notes"].append("attributes_observed_at read from the file")
        return customers
    when, why = export_date, "source.export_date"
    if when is None:
        when, why = _latest_event(tables), "the latest event time in the data"
    if when is None:
        return customers
    when = pd.Timestamp(when)
    log.info("customers: membership tier and region taken as observed at %s (%s)", when, why)
    info["notes"].append(
        f"attributes_observed_at = {when} ({why}): tier and region are used only at "
        "cutoffs after it; map the column when the file says when they were observed"
    )
    out = customers.copy()
    out["attributes_observed_at"] = pd.Series(when, index=out.index).astype("datetime64[us]")
    return out


def map_tables(
    raw: Mapping[str, pd.DataFrame],
    columns: Mapping[str, Mapping[str, str]],
    *,
    lines: Mapping[str, np.ndarray] | None = None,
    fields: Mapping[str, np.ndarray] | None = None,
    choices: Mapping[str, reading.ReadChoices] | None = None,
    paths: Mapping[str, str] | None = None,
    missing_values: tuple[str, ...] = config.MISSING_VALUES,
    decimal: str | None = None,
    thousands: str | None = None,
    export_date: pd.Timestamp | None = None,
) -> SourceResult:
    """Map a shop's tables (as read from its files) to the canonical tables.

    Parameters
    ----------
    raw
        Frames by canonical table name; ``orders`` is required. An orders frame may
        hold order lines: distinct rows sharing an order id, a ``product_id`` column,
        or ``quantity`` and ``unit_price`` without ``amount``. Lines are summed per
        order (amount, quantity, discounts, points), ``ordered_at`` is the earliest
        line, ``distinct_products`` counts distinct products, and the canonical
        ``order_lines`` table is emitted when product, quantity and unit price are
        known. Without an order id, each row is an order and its id is
        ``"<customer_id>-<YYYYmmddTHHMMSS>-<k>"`` (k-th such row).
    columns
        Canonical column name -> the file's column name, per table. Columns not
        mentioned are taken by their canonical name when present.
    lines
        Per table, each row's line in its file (default: 1, 2, ... by position).
    fields
        Per table, the fields written on each row's line (default: all of them). A row
        with fewer than the file's columns is set aside (``too_few_fields``): its line
        was cut short or lost a delimiter, so its values may sit in the wrong columns.
    choices
        Per table, how the file was read (encoding, delimiter, date format...).
    paths
        Per table, the file's path (for messages and the ledger).
    missing_values
        Text markers read as missing (``source.read.missing_values``), counted.
    decimal, thousands
        ``source.read.decimal`` / ``thousands``; ``None``: decided per file from its
        numbers (:func:`pipeline.reading.decide_number_format`).
    export_date
        ``source.export_date``: customers' attributes were observed then (default:
        the latest event time in the tables), unless the customers file says when.

    Returns
    -------
    SourceResult
        ``orders`` (and ``order_lines`` when the orders file holds product lines), and
        every other table given. No ``customers`` table is invented when no customers
        file is given: ingest takes the customers who placed an accepted order, and
        rows of other tables about anyone else are orphans. Exact copies of a row are
        set aside (``duplicate_row``), as are rows with a required value missing or
        unreadable (``missing_<column>``, ``unparseable_<column>``); order lines also
        for ``negative_<column>``, ``order_with_several_customers``,
        ``order_lines_weeks_apart``, and ``line_of_an_incomplete_order`` (every line of
        an order one of whose lines is set aside: a partial sum would be wrong).
        Unreadable optional values become null and are counted in
        ``report["<table>:unparseable_values_nulled"]``.

    Raises
    ------
    ValueError
        If ``orders`` is absent, a table name is unknown, a required column is not
        found (the message names the table, the column, the mapping tried and the
        file's columns), the order id is the customer column, or the file's dates or
        numbers cannot be read unambiguously (:class:`pipeline.reading.ReadError`).
    """
    unknown = sorted((set(raw) | set(columns)) - set(schema.TABLES))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; canonical tables are {list(schema.TABLES)}")
    if "orders" not in raw:
        raise ValueError(f"no orders table among the inputs {sorted(raw)}: orders is required")

    lines = lines or {}
    choices = choices or {}
    paths = paths or {}
    inputs = {
        name: _Input(
            name,
            frame,
            np.asarray(lines[name], dtype="int64")
            if name in lines
            else np.arange(1, len(frame) + 1, dtype="int64"),
            choices.get(name, reading.ReadChoices()),
            str(paths[name]) if name in paths else None,
            np.asarray(fields[name], dtype="int64") if fields and name in fields else None,
        )
        for name, frame in raw.items()
    }
    if len(inputs["orders"].raw) == 0:
        raise ValueError(
            f"{_where(inputs['orders'])} has a header but no rows: the orders table is "
            "required (export the orders again)"
        )
    if "customers" in inputs and len(inputs["customers"].raw) == 0:
        # every order would be about an unknown customer, and the error would blame them
        raise ValueError(
            f"{_where(inputs['customers'])} has a header but no rows: every customer would "
            "be unknown. Export the customers again, or leave source.files.customers unset "
            "(the customers are then those with an accepted order)"
        )
    options = {"missing_values": tuple(missing_values), "decimal": decimal, "thousands": thousands}
    for name in sorted(set(columns) - set(raw)):
        log.warning("source.columns.%s is set but no %s file is given: ignored", name, name)
    tables, report, set_aside, details, provenance, derived = {}, {}, {}, {}, {}, {}
    order_tables, report["orders"], set_aside["orders"], notes, info, prov = _map_orders(
        inputs["orders"], columns.get("orders", {}), **options
    )
    if "order_lines" in order_tables and "order_lines" in raw:
        raise ValueError(
            "the orders file holds product lines and an order_lines file is given too: "
            "give the lines in one of them only"
        )
    tables.update(order_tables)
    report.update(notes)
    details["orders"], provenance["orders"] = info, prov
    _note_unread(inputs["orders"], info)
    if "order_lines" in order_tables:
        derived["order_lines"] = "orders: the lines of the orders file"
    for name, src in inputs.items():
        if name == "orders":
            continue
        tables[name], report[name], set_aside[name], nulled, details[name], provenance[name] = (
            _map_generic(src, columns.get(name, {}), **options)
        )
        if nulled:
            report[f"{name}:unparseable_values_nulled"] = nulled
        _note_unread(src, details[name])
    if "customers" in tables:
        mapping = columns.get("customers", {})
        has_column = (
            mapping.get("attributes_observed_at", "attributes_observed_at")
            in raw["customers"].columns
        )
        tables["customers"] = _observe_attributes(
            tables["customers"], has_column, export_date, tables, details["customers"]
        )
    for name, counts in report.items():
        reasons = {k: v for k, v in counts.items() if k not in (ROWS_READ, ROWS_USED)}
        if ROWS_READ in counts and any(reasons.values()):
            log.warning(
                "%s: %d of %d rows set aside %s",
                name,
                sum(reasons.values()),
                counts[ROWS_READ],
                reasons,
            )
    for name, info in details.items():
        if info["missing_values"]:
            log.info("%s: values read as missing %s", name, info["missing_values"])
        for column, per in info["nulled"].items():
            shown = info.get("nulled_examples", {}).get(column, [])
            log.warning(
                "%s: %d value(s) of column %r (%r in the file) cannot be read and are left "
                "empty, the rows kept%s",
                name,
                sum(per.values()),
                column,
                info["columns"].get(column, column),
                f", e.g. {', '.join(repr(v) for v in shown)}" if shown else "",
            )
    check_accounting(report)
    ordered = {n: tables[n] for n in schema.TABLES if n in tables}
    return SourceResult(
        tables=ordered,
        report=report,
        set_aside=set_aside,
        details=details,
        provenance=provenance,
        derived=derived,
    )
