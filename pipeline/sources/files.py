"""A shop's own CSV/Parquet files -> the canonical tables.

``source.columns`` maps canonical column names to the file's names, per table; a
canonical column not mentioned is taken by its own name when the file has it. Values
are parsed to the canonical dtypes (ids to strings, timestamps to naive UTC, numbers to
float) and nothing is dropped silently: a row whose required value is missing or
cannot be parsed is set aside with a reason, and every input table is accounted for as
``rows_read == rows_used + sum(rows set aside per reason)``.

An ``orders`` file may hold order *lines* (several rows per order id, or a product
column): lines are then summed to one order each, and the canonical ``order_lines``
table is emitted when product, quantity and unit price are all known.

``SourceResult`` and the helpers that conform a frame to a schema table are shared by
every source (``pipeline.sources.online_retail`` imports them from here).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config, schema

log = logging.getLogger(__name__)

STRING = pd.StringDtype()
REASON = "reason"
ROWS_READ = "rows_read"
ROWS_USED = "rows_used"
# Report entries named "<table>:<note>" carry facts that are not row accounting
# (a derived table, values nulled); they never have a ``rows_read`` key.
NOTE_SEPARATOR = ":"

# Tokens that mean "no value" in text columns (parquet files written from spreadsheets
# store missing text as the string "nan").
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
        columns plus a ``reason`` column.
    """

    tables: dict[str, pd.DataFrame]
    report: dict[str, dict[str, int]]
    set_aside: dict[str, pd.DataFrame]


# --------------------------------------------------------------------------- IO


def read_table_file(path: str | Path) -> pd.DataFrame:
    """Read one CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file.

    CSV cells are read as text, so that ids keep their leading zeros and every value
    goes through the same parsing (and accounting) as Parquet text columns.

    Parameters
    ----------
    path
        The file; its extension picks the reader.

    Returns
    -------
    pandas.DataFrame
        The file's rows, columns as stored.

    Raises
    ------
    ValueError
        If the extension is none of the supported ones (the message names the path
        and the extension).
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path, dtype=str)
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    suffix = "".join(path.suffixes) or "(none)"
    raise ValueError(
        f"cannot read {str(path)!r}: extension {suffix!r} is not one of "
        f"{', '.join(_TABLE_SUFFIXES)}"
    )


def load_files(
    files: config.SourceFiles, columns: Mapping[str, Mapping[str, str]]
) -> SourceResult:
    """Read a shop's own files and map them to the canonical tables.

    Parameters
    ----------
    files
        Paths per canonical table (``orders`` at least); tables without a path are
        skipped.
    columns
        Canonical column name -> file column name, per table (``source.columns``).

    Returns
    -------
    SourceResult
        See :func:`map_tables`.

    Raises
    ------
    ValueError
        If no orders file is given, a file has an unsupported extension, or a column
        mapping does not fit the files (see :func:`map_tables`).
    """
    paths = {name: path for name, path in files.model_dump().items() if path}
    if "orders" not in paths:
        raise ValueError("source.files.orders is not set: the orders table is required")
    raw = {}
    for name, path in paths.items():
        raw[name] = read_table_file(path)
        log.info("read %s: %d rows from %s", name, len(raw[name]), path)
    return map_tables(raw, columns)


# ------------------------------------------------------------------ parsing


def clean_text(values: pd.Series) -> pd.Series:
    """Text as ``string`` dtype, stripped, with empty and ``nan``-like tokens as NA."""
    text = values.astype(STRING).str.strip()
    return text.mask(text.isin(_NULL_TOKENS))


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
        return clean_text(values)
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype(STRING)
    text = clean_text(values)
    present = text.dropna()
    looks_integral = present.str.fullmatch(r"-?\d+(\.0+)?")
    if len(present) and bool(looks_integral.all()) and bool(present.str.contains(".").any()):
        text = text.str.replace(r"\.0+$", "", regex=True)
    return text


def parse_floats(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as float64, and a mask of values present but not readable as a finite number."""
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)
        present = values.notna()
    else:
        text = clean_text(values)
        raw = text.to_numpy(dtype=object, na_value=None)
        numbers = pd.Series(
            pd.to_numeric(raw, errors="coerce").astype("float64"), index=values.index
        )
        present = text.notna()
    numbers = numbers.where(np.isfinite(numbers))
    return numbers, present & numbers.isna()


def parse_ints(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole numbers as Int64, and a mask of values present but not whole numbers."""
    numbers, unparseable = parse_floats(values)
    fractional = numbers.notna() & (numbers % 1 != 0)
    whole = numbers.where(~fractional)
    return whole.astype("Int64"), unparseable | fractional


def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Flags as nullable boolean (true/false, yes/no, y/n, t/f, 1/0), and the unreadable ones."""
    if pd.api.types.is_bool_dtype(values.dtype):
        flags = values.astype("boolean")
        return flags, pd.Series(False, index=values.index)
    text = clean_text(values)
    lower = text.str.lower()
    flags = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flags[lower.isin(_TRUE_TOKENS).fillna(False).astype(bool)] = True
    flags[lower.isin(_FALSE_TOKENS).fillna(False).astype(bool)] = False
    return flags, text.notna() & flags.isna()


def _datetime_formats() -> list[tuple[str, str | None]]:
    """(format, its day/month-swapped twin) for the common non-ISO layouts."""
    pairs: list[tuple[str, str | None]] = []
    for sep in ("/", "-", "."):
        for clock in (" %H:%M:%S", " %H:%M", ""):
            day_first = f"%d{sep}%m{sep}%Y{clock}"
            month_first = f"%m{sep}%d{sep}%Y{clock}"
            pairs += [(day_first, month_first), (month_first, day_first)]
    for clock in (" %H:%M:%S", " %H:%M", ""):
        pairs.append((f"%Y/%m/%d{clock}", None))
    pairs.append(("%Y%m%d", None))
    return pairs


_DATETIME_FORMATS = _datetime_formats()


def parse_datetimes(values: pd.Series, *, what: str = "values") -> tuple[pd.Series, pd.Series]:
    """Timestamps as naive UTC ``datetime64[us]``, and a mask of present but unreadable values.

    ISO 8601 first (offsets are converted to UTC); what is left is tried against
    common layouts (``31/12/2024 13:05``, ``12/31/2024``, ``31.12.2024``...), the layout
    that reads most of it first.

    Raises
    ------
    ValueError
        If day-first and month-first readings both fit the same values and disagree
        (``01/02/2024``): guessing would shift dates by months without a trace.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        stamps = values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        return stamps, pd.Series(False, index=values.index)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype("datetime64[us]"), pd.Series(False, index=values.index)
    text = clean_text(values)
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    stamps = parsed.dt.tz_localize(None).astype("datetime64[us]")
    todo = text.notna() & stamps.isna()
    while todo.any():
        rest = text[todo]
        best, best_count, best_twin = None, 0, None
        for fmt, twin in _DATETIME_FORMATS:
            count = int(pd.to_datetime(rest, format=fmt, errors="coerce").notna().sum())
            if count > best_count:
                best, best_count, best_twin = fmt, count, twin
        if best is None:
            break
        reading = pd.to_datetime(rest, format=best, errors="coerce")
        if best_twin is not None:
            other = pd.to_datetime(rest, format=best_twin, errors="coerce")
            differs = reading.notna() & other.notna() & (reading != other)
            if int(other.notna().sum()) == best_count and bool(differs.any()):
                examples = rest[differs].unique()[:3].tolist()
                raise ValueError(
                    f"{what}: dates such as {examples} read equally well as {best!r} and "
                    f"{best_twin!r}; write them as ISO 8601 (YYYY-MM-DD) in the file"
                )
        stamps[todo] = reading.astype("datetime64[us]")
        todo = text.notna() & stamps.isna()
    return stamps, text.notna() & stamps.isna()


def parse_column(
    values: pd.Series, dtype: schema.DType, *, what: str = "values"
) -> tuple[pd.Series, pd.Series]:
    """Parse one column to its canonical dtype; return (values, unparseable mask)."""
    if dtype == "string":
        return parse_ids(values), pd.Series(False, index=values.index)
    if dtype == "datetime":
        return parse_datetimes(values, what=what)
    if dtype == "float":
        return parse_floats(values)
    if dtype == "int":
        return parse_ints(values)
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


def set_aside_rows(raw: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    """The rows of ``raw`` with a reason, original columns kept, plus ``reason``."""
    rows = raw.loc[reasons.notna().to_numpy()].copy()
    if REASON in rows.columns:
        rows = rows.rename(columns={REASON: f"{REASON}_in_file"})
    rows[REASON] = pd.array(reasons[reasons.notna()].astype(STRING).to_numpy(), dtype=STRING)
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


def _describe_lookup(table: str, canonical: str, mapping: Mapping[str, str]) -> str:
    if canonical in mapping:
        return f"file column {mapping[canonical]!r} (source.columns.{table}.{canonical})"
    return f"file column {canonical!r} (same name; source.columns.{table} does not map it)"


def _select(
    table: str,
    raw: pd.DataFrame,
    mapping: Mapping[str, str],
    dtypes: Mapping[str, schema.DType],
    required: tuple[str, ...],
) -> _Mapped:
    unknown = sorted(set(mapping) - set(dtypes))
    if unknown:
        raise ValueError(
            f"source.columns.{table} maps unknown canonical columns {unknown}; "
            f"{table} columns are {list(dtypes)}"
        )
    actual = [str(c) for c in raw.columns]
    for canonical, source in mapping.items():
        if source not in raw.columns:
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
    # positions, not labels, tie parsed rows to the file's rows (an index may repeat)
    raw = raw.reset_index(drop=True)
    values, unparseable = {}, {}
    for canonical, dtype in dtypes.items():
        source = mapping.get(canonical, canonical)
        if source not in raw.columns:
            continue
        parsed, bad = parse_column(raw[source], dtype, what=f"{table}.{canonical} ({source!r})")
        values[canonical], unparseable[canonical] = parsed, bad
    return _Mapped(
        pd.DataFrame(values, index=raw.index), pd.DataFrame(unparseable, index=raw.index)
    )


def _first_reasons(mapped: _Mapped, required: list[str]) -> pd.Series:
    """The first reason each row cannot be used: a required value missing or unreadable."""
    reasons = pd.Series(None, index=mapped.values.index, dtype=object)
    for column in required:
        bad = mapped.unparseable[column].to_numpy()
        missing = mapped.values[column].isna().to_numpy() & ~bad
        reasons = reasons.mask(reasons.isna() & bad, f"unparseable_{column}")
        reasons = reasons.mask(reasons.isna() & missing, f"missing_{column}")
    return reasons


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


def _map_generic(
    name: str, raw: pd.DataFrame, mapping: Mapping[str, str]
) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame, dict[str, int]]:
    table = schema.TABLES[name]
    dtypes = {c.name: c.dtype for c in table.columns}
    # line_no is a position: numbered from the file's order when absent
    required = tuple(
        c.name
        for c in table.columns
        if c.required and not (name == "order_lines" and c.name == "line_no")
    )
    mapped = _select(name, raw, mapping, dtypes, required)
    must_have = [c for c in mapped.values.columns if not table.column(c).nullable]
    reasons = _first_reasons(mapped, must_have)
    used = reasons.isna()
    nulled = _count_nulled(mapped, must_have, used)
    frame = mapped.values.loc[used.to_numpy()]
    if name == "order_lines" and "line_no" not in frame.columns:
        frame = frame.assign(line_no=frame.groupby("order_id", sort=False).cumcount())
    report = {ROWS_READ: len(raw), ROWS_USED: int(used.sum()), **count_reasons(reasons)}
    return conform_table(table, frame), report, set_aside_rows(raw, reasons), nulled


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
    return orders.reset_index()


def _map_orders(
    raw: pd.DataFrame, mapping: Mapping[str, str]
) -> tuple[dict[str, pd.DataFrame], dict[str, int], pd.DataFrame, dict[str, dict[str, int]]]:
    dtypes: dict[str, schema.DType] = {c.name: c.dtype for c in schema.ORDERS.columns}
    dtypes.update(_ORDER_LINE_EXTRAS)
    has = {c for c in dtypes if mapping.get(c, c) in raw.columns}
    # amount may be derived from quantity x unit price, and order ids generated
    amount_from_lines = "amount" not in has and {"quantity", "unit_price"} <= has
    required = ("customer_id", "ordered_at") + (() if amount_from_lines else ("amount",))
    mapped = _select("orders", raw, mapping, dtypes, required)
    values = mapped.values

    repeated_ids = "order_id" in has and bool(values["order_id"].dropna().duplicated().any())
    lines_mode = repeated_ids or "product_id" in has or amount_from_lines
    emits_lines = lines_mode and {"product_id", "quantity", "unit_price"} <= has
    must_have = [c for c in ("order_id", "customer_id", "ordered_at", "amount") if c in has]
    if emits_lines:
        must_have += ["product_id", "quantity", "unit_price"]
    elif amount_from_lines:
        must_have += ["quantity", "unit_price"]
    reasons = _first_reasons(mapped, must_have)
    if lines_mode:
        # a negative line inside a sum would hide a return or a correction in the
        # order amount; returns belong in the returns table
        for column in ("amount", "quantity", "unit_price"):
            if column in has:
                negative = reasons.isna() & (values[column] < 0).fillna(False).to_numpy()
                reasons = reasons.mask(negative, f"negative_{column}")
    notes: dict[str, dict[str, int]] = {}
    if "order_id" in has and lines_mode:
        candidate = reasons.isna()
        owners = values.loc[candidate, ["order_id", "customer_id"]]
        n_customers = owners.groupby("order_id")["customer_id"].transform("nunique")
        several = pd.Series(False, index=values.index)
        several[owners.index] = (n_customers > 1).to_numpy()
        reasons = reasons.mask(several, "order_with_several_customers")

    used = reasons.isna()
    nulled = _count_nulled(mapped, must_have, used)
    if nulled:
        notes["orders:unparseable_values_nulled"] = nulled
    lines = values.loc[used.to_numpy()].copy()
    if "order_id" not in has:
        lines["order_id"] = _generate_order_ids(lines["customer_id"], lines["ordered_at"])
        notes["orders:generated_order_ids"] = {"orders": len(lines)}
    if amount_from_lines:
        lines["amount"] = lines["quantity"] * lines["unit_price"]

    tables = {}
    if lines_mode:
        orders = _aggregate_lines(lines)
        notes["orders:built_from_lines"] = {"lines": len(lines), "orders": len(orders)}
        if emits_lines:
            groups = lines.groupby("order_id", sort=False)
            tables["order_lines"] = conform_table(
                schema.ORDER_LINES,
                lines.assign(
                    line_no=groups.cumcount(), ordered_at=groups["ordered_at"].transform("min")
                ),
            )
    else:
        orders = lines
    tables["orders"] = conform_table(schema.ORDERS, orders)
    report = {ROWS_READ: len(raw), ROWS_USED: int(used.sum()), **count_reasons(reasons)}
    return tables, report, set_aside_rows(raw, reasons), notes


def _derive_customers(tables: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict[str, int]]:
    from_orders = tables["orders"]["customer_id"].dropna().unique()
    others = [t["customer_id"] for n, t in tables.items() if n != "orders" and "customer_id" in t]
    every = pd.concat([tables["orders"]["customer_id"], *others]).dropna().drop_duplicates()
    ids = every.sort_values().reset_index(drop=True)
    customers = conform_table(schema.CUSTOMERS, pd.DataFrame({"customer_id": ids}))
    note = {"from_orders": len(from_orders), "from_other_tables": len(ids) - len(from_orders)}
    return customers, note


def map_tables(
    raw: Mapping[str, pd.DataFrame], columns: Mapping[str, Mapping[str, str]]
) -> SourceResult:
    """Map a shop's tables (as read from its files) to the canonical tables.

    Parameters
    ----------
    raw
        Frames by canonical table name; ``orders`` is required. An orders frame may
        hold order lines: rows sharing an order id, a ``product_id`` column, or
        ``quantity`` and ``unit_price`` without ``amount``. Lines are summed per order
        (amount, quantity, discounts, points), ``ordered_at`` is the earliest line,
        ``distinct_products`` counts distinct products, and the canonical
        ``order_lines`` table is emitted when product, quantity and unit price are
        known. Without an order id, each row is an order and its id is
        ``"<customer_id>-<YYYYmmddTHHMMSS>-<k>"`` (k-th such row).
    columns
        Canonical column name -> the file's column name, per table. Columns not
        mentioned are taken by their canonical name when present.

    Returns
    -------
    SourceResult
        ``customers`` (derived from the other tables' customer ids when no customers
        frame is given, noted in ``report["customers:derived"]``), ``orders``, and
        every other table given. Rows with a required value missing or unreadable are
        set aside (``missing_<column>``, ``unparseable_<column>``); order lines also
        for ``negative_<column>`` and ``order_with_several_customers``. Unreadable
        optional values become null and are counted in
        ``report["<table>:unparseable_values_nulled"]``.

    Raises
    ------
    ValueError
        If ``orders`` is absent, a table name is unknown, a required column is not
        found (the message names the table, the column, the mapping tried and the
        file's columns), or dates are ambiguous between day-first and month-first.
    """
    unknown = sorted((set(raw) | set(columns)) - set(schema.TABLES))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; canonical tables are {list(schema.TABLES)}")
    if "orders" not in raw:
        raise ValueError(f"no orders table among the inputs {sorted(raw)}: orders is required")

    for name in sorted(set(columns) - set(raw)):
        log.warning("source.columns.%s is set but no %s file is given: ignored", name, name)
    tables, report, set_aside = {}, {}, {}
    order_tables, report["orders"], set_aside["orders"], notes = _map_orders(
        raw["orders"], columns.get("orders", {})
    )
    if "order_lines" in order_tables and "order_lines" in raw:
        raise ValueError(
            "the orders file holds product lines and an order_lines file is given too: "
            "give the lines in one of them only"
        )
    tables.update(order_tables)
    report.update(notes)
    for name, frame in raw.items():
        if name == "orders":
            continue
        tables[name], report[name], set_aside[name], nulled = _map_generic(
            name, frame, columns.get(name, {})
        )
        if nulled:
            report[f"{name}:unparseable_values_nulled"] = nulled
    if "customers" not in raw:
        tables["customers"], report["customers:derived"] = _derive_customers(tables)
        log.info(
            "no customers file: %d customers derived from the orders' customer ids",
            len(tables["customers"]),
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
    check_accounting(report)
    ordered = {n: tables[n] for n in schema.TABLES if n in tables}
    return SourceResult(tables=ordered, report=report, set_aside=set_aside)
