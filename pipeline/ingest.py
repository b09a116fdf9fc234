"""Validate a source's tables against the canonical schema; account for every row.

Structural problems (a required table or column missing) always stop the run. Row
problems (a negative amount, a complaint resolved before it was opened, an order of an
unknown customer, a duplicate id, a date out of range...) either stop the run with an
error that names the table, the column, the number of rows and a few values
(``on_bad_rows="fail"``) or set those rows aside in a quarantine table with the reason
(``on_bad_rows="quarantine"``). Either way, rows read = rows accepted + rows set aside.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import pandera.pandas as pa

from pipeline.schema import REQUIRED_TABLES, TABLES, Table

log = logging.getLogger(__name__)

_NULL = {
    "string": pd.StringDtype(),
    "datetime": "datetime64[us]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}


class IngestError(ValueError):
    """A table cannot be ingested; the message says which rows and why."""


@dataclass(frozen=True)
class IngestResult:
    tables: dict[str, pd.DataFrame]
    quarantine: dict[str, pd.DataFrame]
    report: dict[str, dict[str, int]]


def _examples(values: pd.Series, k: int = 5) -> str:
    shown = [repr(v) for v in values.head(k).tolist()]
    more = f" ... (+{len(values) - k} more)" if len(values) > k else ""
    return ", ".join(shown) + more


def _coerce(df: pd.DataFrame, table: Table) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Cast to canonical dtypes; return the rows whose value could not be read."""
    out = {}
    bad: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.name not in df.columns:
            out[col.name] = pd.Series(None, index=df.index, dtype=_NULL[col.dtype])
            if col.dtype == "datetime":
                out[col.name] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[us]")
            continue
        s = df[col.name]
        if col.dtype == "datetime":
            c = pd.to_datetime(s, errors="coerce", format="ISO8601")
            if getattr(c.dt, "tz", None) is not None:
                c = c.dt.tz_convert("UTC").dt.tz_localize(None)
            c = c.astype("datetime64[us]")
        elif col.dtype in ("float", "int"):
            c = pd.to_numeric(s, errors="coerce").astype("float64")
            if col.dtype == "int":
                c = c.astype("Int64")
        elif col.dtype == "bool":
            if pd.api.types.is_bool_dtype(s):
                c = s.astype("boolean")
            else:
                m = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}
                lowered = s.map(lambda v: v.lower() if isinstance(v, str) else v)
                c = lowered.map(m).astype("boolean")
        else:
            c = s.astype(pd.StringDtype())
        unreadable = s.notna() & c.isna()
        if unreadable.any():
            bad[col.name] = s[unreadable]
        out[col.name] = c
    return pd.DataFrame(out, index=df.index), bad


def _pandera_schema(table: Table) -> pa.DataFrameSchema:
    columns = {}
    for col in table.columns:
        checks = []
        if col.min is not None:
            checks.append(pa.Check.ge(col.min, name=f">= {col.min:g}"))
        if col.max is not None:
            checks.append(pa.Check.le(col.max, name=f"<= {col.max:g}"))
        if col.allowed is not None:
            checks.append(pa.Check.isin(list(col.allowed), name=f"in {list(col.allowed)}"))
        columns[col.name] = pa.Column(checks=checks, nullable=col.nullable, required=True)
    return pa.DataFrameSchema(columns, name=table.name)


def _row_problems(
    df: pd.DataFrame, table: Table, *, min_date: dt.date, max_date: dt.date
) -> list[tuple[str, str, pd.Series]]:
    """(column, reason, boolean mask of offending rows) for every failed rule."""
    problems: list[tuple[str, str, pd.Series]] = []
    try:
        _pandera_schema(table).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases.dropna(subset=["index"])
        for (column, check), grp in fc.groupby(["column", "check"], sort=True):
            mask = df.index.isin(grp["index"].astype("int64"))
            reason = "missing value" if "not_nullable" in str(check) else f"not {check}"
            problems.append((str(column), reason, pd.Series(mask, index=df.index)))
    for earlier, later in table.ordered_pairs:
        mask = (df[later] < df[earlier]).fillna(False).astype(bool)
        problems.append((later, f"before {earlier}", mask))
    lo, hi = pd.Timestamp(min_date), pd.Timestamp(max_date)
    for col in table.columns:
        if col.dtype == "datetime":
            s = df[col.name]
            mask = ((s < lo) | (s >= hi)).fillna(False).astype(bool)
            problems.append((col.name, f"outside {min_date} .. {max_date}", mask))
    dup = df.duplicated(subset=list(table.key), keep="first")
    problems.append((",".join(table.key), "duplicate key", dup))
    return [(c, r, m) for c, r, m in problems if m.any()]


def validate_table(
    df: pd.DataFrame,
    table: Table,
    *,
    on_bad_rows: Literal["quarantine", "fail"],
    min_date: dt.date,
    max_date: dt.date,
    known_customers: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Validate one table.

    Parameters
    ----------
    df
        The table as the source produced it.
    table
        Its canonical definition.
    on_bad_rows
        ``"fail"`` raises on the first rule a row breaks; ``"quarantine"`` sets the
        rows aside with the reason.
    min_date, max_date
        Timestamps outside ``[min_date, max_date)`` are invalid.
    known_customers
        Customer ids of the customers table; rows of other customers are orphans.

    Returns
    -------
    accepted, quarantined, report
        The valid rows in canonical dtypes; the rejected rows (source values) with a
        ``quarantine_reason`` column; counts ``rows_read``, ``rows_accepted`` and one
        per reason.

    Raises
    ------
    IngestError
        If a required column is missing, or a row is invalid and ``on_bad_rows`` is
        ``"fail"``.
    """
    missing = [c.name for c in table.columns if c.required and c.name not in df.columns]
    if missing:
        raise IngestError(
            f"table {table.name!r}: required column(s) {missing} missing "
            f"({len(df)} rows; columns present: {list(df.columns)})"
        )
    df = df.reset_index(drop=True)
    typed, unreadable = _coerce(df, table)
    problems = [
        (col, "unreadable value", pd.Series(typed.index.isin(vals.index), index=typed.index))
        for col, vals in unreadable.items()
    ]
    problems += _row_problems(typed, table, min_date=min_date, max_date=max_date)
    if (
        known_customers is not None
        and "customer_id" in typed.columns
        and table.name != "customers"
    ):
        orphan = ~typed["customer_id"].isin(known_customers) & typed["customer_id"].notna()
        if orphan.any():
            problems.append(("customer_id", "unknown customer (not in customers)", orphan))

    reason = pd.Series(pd.NA, index=typed.index, dtype=pd.StringDtype())
    report = {"rows_read": len(df)}
    for column, why, mask in problems:
        n = int(mask.sum())
        label = f"{column}: {why}"
        if on_bad_rows == "fail":
            raise IngestError(
                f"table {table.name!r}, column {column!r}: {n} of {len(df)} rows {why}; "
                f"e.g. {_examples(df.loc[mask.to_numpy(), column.split(',')[0]])}. "
                "Fix the source, or set ingest.on_bad_rows: quarantine to set them aside."
            )
        # A row breaking several rules is set aside once, under its first reason.
        new = mask & reason.isna()
        reason = reason.mask(new, label)
        report[label] = int(new.sum())
    bad = reason.notna().to_numpy()
    accepted = typed.loc[~bad].reset_index(drop=True)
    quarantined = df.loc[bad].assign(quarantine_reason=reason[bad].to_numpy())
    report = {k: v for k, v in report.items() if v or k == "rows_read"}
    report["rows_accepted"] = len(accepted)
    report["rows_quarantined"] = int(bad.sum())
    assert report["rows_read"] == report["rows_accepted"] + report["rows_quarantined"]
    for label, n in report.items():
        if ":" in label:
            log.warning("%s: set aside %d rows (%s)", table.name, n, label)
    return accepted, quarantined.reset_index(drop=True), report


def ingest_tables(
    raw: Mapping[str, pd.DataFrame],
    *,
    on_bad_rows: Literal["quarantine", "fail"],
    min_date: dt.date,
    max_date: dt.date,
) -> IngestResult:
    """Validate every table a source produced; derive ``customers`` if it is absent.

    Raises
    ------
    IngestError
        If a required table is missing or empty, on unknown tables, and on invalid
        rows when ``on_bad_rows`` is ``"fail"``.
    """
    unknown = sorted(set(raw) - set(TABLES))
    if unknown:
        raise IngestError(f"unknown table(s) {unknown}; canonical tables: {sorted(TABLES)}")
    for name in REQUIRED_TABLES:
        if name not in raw or raw[name] is None or len(raw[name]) == 0:
            raise IngestError(f"required table {name!r} is missing or empty")
    tables: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    report: dict[str, dict[str, int]] = {}
    kwargs = dict(on_bad_rows=on_bad_rows, min_date=min_date, max_date=max_date)

    if "customers" in raw:
        acc, q, rep = validate_table(raw["customers"], TABLES["customers"], **kwargs)
        tables["customers"], quarantine["customers"], report["customers"] = acc, q, rep
        known = acc["customer_id"]
    else:
        known = None
    for name in TABLES:
        if name == "customers" or name not in raw:
            continue
        acc, q, rep = validate_table(raw[name], TABLES[name], known_customers=known, **kwargs)
        tables[name], quarantine[name], report[name] = acc, q, rep
    if "customers" not in tables:
        ids = pd.Series(tables["orders"]["customer_id"].unique(), dtype=pd.StringDtype())
        derived = pd.DataFrame({"customer_id": ids.sort_values(ignore_index=True)})
        tables["customers"], _, _ = validate_table(derived, TABLES["customers"], **kwargs)
        report["customers"] = {"derived_from_orders": len(derived)}
        log.info("no customers table: derived %d customers from orders", len(derived))
    absent = [n for n in TABLES if n not in raw]
    if absent:
        log.info("tables not provided (their features will be dropped): %s", absent)
    return IngestResult(tables=tables, quarantine=quarantine, report=report)


def present_columns(tables: Mapping[str, pd.DataFrame]) -> dict[str, set[str]]:
    """Columns that exist and hold at least one value, per table."""
    return {name: {c for c in df.columns if df[c].notna().any()} for name, df in tables.items()}
