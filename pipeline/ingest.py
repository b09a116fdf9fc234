"""Validate a source's tables against the canonical schema; account for every row.

Structural problems (a required table or column missing) always stop the run. Row
problems are of three kinds:

- **a required value is wrong** (a negative amount, an unreadable date, an id such as
  ``"-"``, a complaint resolved before it was opened, a date outside
  ``[min_date, max_date)``, an event after the export, an amount far beyond the
  plausible bound): the row is quarantined with the reason;
- **an optional value is wrong** (a rating of 0 on the 1-5 scale, a 1900-01-01
  delivery placeholder, a delivery before the order): the value is nulled and counted,
  and the row is kept, because dropping a purchase for a bad rating would distort the
  churn labels;
- **rows disagree with each other** (a duplicate key, a row about a customer nobody
  knows, an order line of an order not accepted): the later or orphan row is
  quarantined. Without a customers table, the known customers are those who placed an
  accepted order: a complaint never invents a customer.

Zero amounts are kept and flagged. ``on_bad_rows="fail"`` stops the run on any row
not accepted as it is (quarantined, or with a value nulled), with the table, the
column, the row count and a few values; ``"quarantine"`` sets the rows aside. Either
way, rows read = rows accepted + rows quarantined, per table and reason.

Rows are checked in chunks (:func:`check_rows`); the rules that need the whole table
(duplicate keys, orphans) run in DuckDB (:func:`duplicate_positions`,
:func:`orphan_positions`), so a million-customer shop is validated in bounded memory
on disk (:mod:`pipeline.ingest_parquet`). :func:`validate_table` and
:func:`ingest_tables` do the same in memory. :func:`check_run` decides whether the
run may go on, from the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa

from pipeline.ledger import LINE, PROVENANCE
from pipeline.schema import EVENT_TIME, REQUIRED_TABLES, TABLES, Column, Table

log = logging.getLogger(__name__)

OnBadRows = Literal["quarantine", "fail"]

_NULL = {
    "string": pd.StringDtype(),
    "datetime": "datetime64[us]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}
# Money columns with an outlier bound.
AMOUNT_COLUMNS = {"orders": "amount", "returns": "amount"}
# Optional timestamps that may lie after the export: a promise, and the export itself.
_AFTER_EXPORT_ALLOWED = frozenset({"promised_delivery_at", "attributes_observed_at"})
# Optional values whose null means something: a complaint without a resolution is
# still open, so a resolution before the opening quarantines the complaint instead.
_NULL_WOULD_INVENT = frozenset({("complaints", "resolved_at")})
# Without a customers table, the customers are those who ordered.
DERIVED_CUSTOMERS = "(derived from accepted orders)"
QUARANTINE_REASON = "quarantine_reason"
# Days with no event that make the rows after them "lone": the gap must be this
# unlikely under the shop's usual daily rate (Poisson), and at least a day.
_GAP_PROBABILITY = 1e-4
# Rows after the dense period: at most this share of all rows, at a rate under this
# share of the usual one, or they are the shop's real recent days.
_LONE_MAX_SHARE = 0.01
_LONE_MAX_RATE = 0.25
BATCH_ROWS = 500_000


class IngestError(ValueError):
    """A table cannot be ingested; the message says which rows and why."""


# ------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Rules:
    """What a row must satisfy beyond the schema: dates, the export, plausible amounts.

    Attributes
    ----------
    min_date, max_date
        Timestamps outside ``[min_date, max_date)`` are invalid.
    export_before
        Events at or after this moment happened after the export: impossible.
    export_note
        How ``export_before`` was decided (for messages and the ledger).
    amount_bounds
        Per table, the largest plausible amount; above it the row is quarantined.
    """

    min_date: dt.date
    max_date: dt.date
    export_before: pd.Timestamp | None = None
    export_note: str = ""
    amount_bounds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportDate:
    """The export date the data imply: where the dense period ends, and what lies after."""

    bound: pd.Timestamp | None  # events at or after it are lone far-future rows
    last_dense_day: pd.Timestamp | None
    lone_rows: int
    rate_per_day: float


def detect_export_date(daily: pd.DataFrame) -> ExportDate:
    """Find lone far-future rows from events per day.

    Parameters
    ----------
    daily
        ``day`` (midnight timestamps) and ``n`` (events that day), any order.

    Returns
    -------
    ExportDate
        ``bound`` is the midnight after the last day of the dense period when the
        rows after it are lone: after a run of empty days that the shop's usual daily
        rate makes unlikely (probability under 1e-4), at most 1% of all rows, and at a
        rate under a quarter of the usual one. Otherwise ``bound`` is None: the data
        end where they end.
    """
    daily = daily[daily["n"] > 0].sort_values("day").reset_index(drop=True)
    if daily.empty:
        return ExportDate(None, None, 0, 0.0)
    days = pd.to_datetime(daily["day"]).dt.normalize().to_numpy(dtype="datetime64[D]")
    counts = daily["n"].to_numpy(dtype="int64")
    span = int((days[-1] - days[0]).astype(int)) + 1
    calendar = np.zeros(span, dtype="int64")
    np.add.at(calendar, (days - days[0]).astype(int), counts)
    rate = float(np.median(calendar)) or float(counts.sum() / span)
    min_gap = max(1, math.ceil(-math.log(_GAP_PROBABILITY) / rate)) if rate > 0 else 1
    total = int(counts.sum())
    tail_after = np.cumsum(counts[::-1])[::-1]  # events on day i and later
    cut = None
    for i in range(len(days) - 2, -1, -1):
        tail = int(tail_after[i + 1])
        if tail > _LONE_MAX_SHARE * total:
            break
        gap = int((days[i + 1] - days[i]).astype(int)) - 1
        period = int((days[-1] - days[i]).astype(int))
        if gap >= min_gap and tail / period < _LONE_MAX_RATE * rate:
            cut = i
    last_dense = pd.Timestamp(days[cut if cut is not None else -1])
    if cut is None:
        return ExportDate(None, last_dense, 0, rate)
    return ExportDate(
        last_dense + pd.Timedelta(days=1), last_dense, int(tail_after[cut + 1]), rate
    )


def amount_bound(p99: float | None, factor: float, median: float | None = None) -> float | None:
    """The largest plausible amount: ``factor`` times the 99th percentile, and at most
    ``factor`` squared times the median (None: no bound).

    The percentile is taken with the outliers in it: in a file of a few dozen rows one
    amount of 1e9 lifts it to hundreds of millions, so the median, which a few rows
    cannot move, caps the bound (100 x 100 x a median order of 50: 500,000)."""
    if p99 is None or not np.isfinite(p99) or p99 <= 0:
        return None
    bound = float(p99 * factor)
    if median is not None and np.isfinite(median) and median > 0:
        bound = min(bound, float(median * factor * factor))
    return bound


# --------------------------------------------------------------- row checks


def _examples(values: pd.Series, k: int = 5, lines: pd.Series | None = None) -> str:
    shown = []
    for i, v in enumerate(values.head(k).tolist()):
        where = ""
        if lines is not None and i < len(lines) and pd.notna(lines.iloc[i]):
            where = f" (line {int(lines.iloc[i])})"
        shown.append(f"{v!r}{where}")
    more = f" ... (+{len(values) - k} more)" if len(values) > k else ""
    return ", ".join(shown) + more


def coerce_table(df: pd.DataFrame, table: Table) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
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
            if pd.api.types.is_datetime64_dtype(s.dtype):
                c = s
            else:
                c = pd.to_datetime(s, errors="coerce", format="ISO8601")
            if getattr(c.dt, "tz", None) is not None:
                c = c.dt.tz_convert("UTC").dt.tz_localize(None)
            c = c.astype("datetime64[us]")
        elif col.dtype in ("float", "int"):
            c = pd.to_numeric(s, errors="coerce").astype("float64")
            # an infinite amount is not a number a shop can have taken
            c = c.where(np.isfinite(c))
            if col.dtype == "int":
                c = c.where(c % 1 == 0).astype("Int64")
        elif col.dtype == "bool":
            if pd.api.types.is_bool_dtype(s):
                c = s.astype("boolean")
            else:
                m = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}
                lowered = s.map(lambda v: v.lower() if isinstance(v, str) else v)
                c = lowered.map(m).astype("boolean")
        else:
            c = s.astype(pd.StringDtype())
            if col.allowed is not None:
                # "Delivery " is the category delivery: spelled as the schema spells it
                spelled = {a.casefold(): a for a in col.allowed}
                folded = c.str.strip().str.casefold()
                c = folded.map(spelled).astype(pd.StringDtype()).fillna(c)
            elif col.key_like:
                c = c.str.strip().str.casefold().mask(lambda v: v == "")
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


def _check_reason(column: Column, check: str) -> str:
    """pandera's check name as the schema states it: ``not >= 1``, ``not in [...]``."""
    if "not_nullable" in check:
        return "missing value"
    if "greater_than" in check and column.min is not None:
        return f"not >= {column.min:g}"
    if "less_than" in check and column.max is not None:
        return f"not <= {column.max:g}"
    if "isin" in check and column.allowed is not None:
        return f"not in {list(column.allowed)}"
    return f"not {check}"


def is_id_column(column: Column) -> bool:
    """Text columns that identify something (an id, or the customer who referred)."""
    return column.dtype == "string" and (
        column.name.endswith("_id") or column.name == "referred_by"
    )


def _not_an_id(values: pd.Series) -> pd.Series:
    # "-", "?", "#", "." : a placeholder, not a customer
    has_alnum = values.str.contains(r"[^\W_]", regex=True)
    return (values.notna() & ~has_alnum.fillna(False)).astype(bool)


Problem = tuple[str, str, pd.Series]  # column, why, boolean mask


def _row_problems(
    typed: pd.DataFrame, unreadable: Mapping[str, pd.Series], table: Table, rules: Rules
) -> tuple[list[Problem], list[Problem], dict[str, int]]:
    """(problems that quarantine the row, problems that null a value, flags)."""
    index = typed.index

    def mask(values: Any) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=bool), index=index)

    required: list[Problem] = []
    optional: list[Problem] = []

    def add(column: str, why: str, m: pd.Series, *, invents: bool = False) -> None:
        if not m.any():
            return
        col = table.column(column)
        (required if (not col.nullable or invents) else optional).append((column, why, m))

    for column, values in unreadable.items():
        add(column, "unreadable value", mask(typed.index.isin(values.index)))
    for col in table.columns:
        if is_id_column(col):
            add(col.name, "not an id (no letter or digit)", mask(_not_an_id(typed[col.name])))
    try:
        _pandera_schema(table).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases.dropna(subset=["index"])
        for (column, check), grp in fc.groupby(["column", "check"], sort=True):
            m = mask(index.isin(grp["index"].astype("int64")))
            if column in unreadable:  # an unreadable value is null by now: counted once
                m &= ~mask(index.isin(unreadable[column].index))
            add(str(column), _check_reason(table.column(str(column)), str(check)), m)
    for earlier, later in table.ordered_pairs:
        m = mask((typed[later] < typed[earlier]).fillna(False))
        add(later, f"before {earlier}", m, invents=(table.name, later) in _NULL_WOULD_INVENT)
    lo, hi = pd.Timestamp(rules.min_date), pd.Timestamp(rules.max_date)
    for col in table.columns:
        if col.dtype != "datetime":
            continue
        s = typed[col.name]
        add(
            col.name,
            f"outside {rules.min_date} .. {rules.max_date}",
            mask(((s < lo) | (s >= hi)).fillna(False)),
        )
    if rules.export_before is not None:
        bound = rules.export_before
        for col in table.columns:
            if col.dtype != "datetime" or col.name in _AFTER_EXPORT_ALLOWED:
                continue
            if col.nullable and col.name != EVENT_TIME.get(table.name):
                why = f"after the export ({bound:%Y-%m-%d %H:%M})"
            else:
                why = f"after the export ({bound:%Y-%m-%d %H:%M}; {rules.export_note})"
            add(col.name, why, mask((typed[col.name] >= bound).fillna(False)))
    if table.name == "contacts" and typed["play"].notna().any():
        # a treated contact whose play is unknown cannot teach what any play does (a
        # history that names no play at all is the uplift stage's to refuse, once)
        treated_without = (typed["arm"] == "treatment") & typed["play"].isna()
        add("play", "treatment without a play", mask(treated_without.fillna(False)), invents=True)
    flags: dict[str, int] = {}
    amount = AMOUNT_COLUMNS.get(table.name)
    if amount is not None:
        bound = rules.amount_bounds.get(table.name)
        if bound is not None:
            add(
                amount,
                f"above the plausible bound {bound:,.2f}",
                mask((typed[amount] > bound).fillna(False)),
            )
        zero = int((typed[amount] == 0).fillna(False).sum())
        if zero:
            flags[f"{amount}_zero"] = zero
    return required, optional, flags


@dataclass
class Tally:
    """Counts of one table across chunks: read, quarantined by reason, nulled, flagged."""

    rows_read: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    nulled: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    # (kind, column, why) -> a few offending values with their lines, in the order seen
    examples: dict[tuple[str, str, str], list[tuple[Any, Any]]] = field(default_factory=dict)

    def note(
        self, kind: str, column: str, why: str, values: pd.Series, lines: pd.Series | None
    ) -> None:
        shown = self.examples.setdefault((kind, column, why), [])
        if len(shown) < 5:
            take = values.head(5 - len(shown))
            line_values = lines.loc[take.index] if lines is not None else [None] * len(take)
            shown.extend(zip(take.tolist(), list(line_values), strict=True))

    def add(self, other: Tally) -> None:
        self.rows_read += other.rows_read
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v
        for column, per in other.nulled.items():
            mine = self.nulled.setdefault(column, {})
            for k, v in per.items():
                mine[k] = mine.get(k, 0) + v
        for k, v in other.flags.items():
            self.flags[k] = self.flags.get(k, 0) + v
        for key, shown in other.examples.items():
            mine = self.examples.setdefault(key, [])
            mine.extend(shown[: 5 - len(mine)])


@dataclass(frozen=True)
class Checked:
    """One chunk after the row checks."""

    accepted: pd.DataFrame  # canonical dtypes, provenance columns kept
    quarantined: pd.DataFrame  # source values, provenance, ``quarantine_reason``
    passed: np.ndarray  # per input row: accepted by the row checks
    tally: Tally


def check_rows(df: pd.DataFrame, table: Table, rules: Rules) -> Checked:
    """Check one chunk of a table row by row (no rule that needs other rows).

    Parameters
    ----------
    df
        Rows as the source produced them (any dtypes), maybe with the provenance
        columns of :mod:`pipeline.ledger`.
    table
        The canonical definition.
    rules
        Dates, export and amount bounds.

    Returns
    -------
    Checked
        Accepted rows in canonical dtypes (bad optional values nulled), quarantined
        rows with their first reason, and the counts.
    """
    df = df.reset_index(drop=True)
    provenance = [c for c in PROVENANCE if c in df.columns]
    typed, unreadable = coerce_table(df, table)
    required, optional, flags = _row_problems(typed, unreadable, table, rules)
    lines = df[LINE] if LINE in df.columns else None
    tally = Tally(rows_read=len(df), flags=flags)
    reason = pd.Series(pd.NA, index=typed.index, dtype=pd.StringDtype())
    for column, why, m in required:
        new = m & reason.isna()
        if new.any():
            label = f"{column}: {why}"
            reason = reason.mask(new, label)
            tally.reasons[label] = tally.reasons.get(label, 0) + int(new.sum())
            source = df if column in df.columns else typed
            tally.note("quarantined", column, why, source.loc[new.to_numpy(), column], lines)
    bad = reason.notna().to_numpy()
    nulled: dict[str, np.ndarray] = {}
    for column, why, m in optional:
        # a value breaking several rules is nulled once, under its first reason
        m = m & ~bad & ~nulled.get(column, np.zeros(len(df), dtype=bool))
        nulled[column] = nulled.get(column, np.zeros(len(df), dtype=bool)) | m.to_numpy()
        if m.any():
            per = tally.nulled.setdefault(column, {})
            per[why] = per.get(why, 0) + int(m.sum())
            source = df if column in df.columns else typed
            tally.note("nulled", column, why, source.loc[m.to_numpy(), column], lines)
            typed.loc[m.to_numpy(), column] = None
    if tally.flags:
        # flags are about kept rows only
        amount = AMOUNT_COLUMNS.get(table.name)
        zero = (typed[amount] == 0).fillna(False).to_numpy() & ~bad
        tally.flags = {f"{amount}_zero": int(zero.sum())} if zero.any() else {}
    accepted = typed.loc[~bad]
    if provenance:
        accepted = pd.concat([accepted, df.loc[~bad, provenance]], axis=1)
    quarantined = df.loc[bad].assign(**{QUARANTINE_REASON: reason[bad].to_numpy()})
    return Checked(
        accepted.reset_index(drop=True), quarantined.reset_index(drop=True), ~bad, tally
    )


# ---------------------------------------------------------- cross-row rules


def sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duplicate_positions(
    con: duckdb.DuckDBPyConnection, relation: str, key: Sequence[str]
) -> np.ndarray:
    """``_pos`` of every row whose key an earlier row (lower ``_pos``) already has."""
    keys = ", ".join(sql_name(k) for k in key)
    sql = f"""
        WITH repeated AS (
            SELECT {keys} FROM {relation} GROUP BY ALL HAVING count(*) > 1
        ), rows AS (
            SELECT r._pos, {", ".join(f"r.{sql_name(k)}" for k in key)}
            FROM {relation} r SEMI JOIN repeated d USING ({keys})
        )
        SELECT _pos FROM (
            SELECT _pos, row_number() OVER (PARTITION BY {keys} ORDER BY _pos) AS k FROM rows
        ) WHERE k > 1 ORDER BY _pos
    """
    return con.execute(sql).fetchnumpy()["_pos"].astype("int64")


# A row whose key an earlier row of the file has: the first is kept, whatever the others
# say (reviewed: a survey answered 6 then 2 for one key kept 6, and the ledger said only
# "duplicate key", so nobody could tell which copy the run used)
DUPLICATE_KEY = "duplicate key (the first row with it in the file is kept)"

# Why a row about a customer whose own customers row was not accepted is quarantined:
# the ledger holds that row, with its line and reason.
CUSTOMER_REFUSED = "customer's row not accepted (see the customers input in the ledger)"


# A contact written twice with another arm or play: which did the customer get? Every row
# of it is quarantined (keeping the first would feed the uplift model a guess).
CONTACT_CONFLICT = "one contact written twice with another arm or play"


def disagreeing_positions(
    con: duckdb.DuckDBPyConnection, relation: str, key: Sequence[str], columns: Sequence[str]
) -> np.ndarray:
    """``_pos`` of every row whose key other rows share with other ``columns`` values."""
    keys = ", ".join(sql_name(k) for k in key)
    values = ", ".join(f"coalesce(CAST({sql_name(c)} AS VARCHAR), '')" for c in columns)
    sql = f"""
        WITH torn AS (
            SELECT {keys} FROM {relation} GROUP BY ALL
            HAVING count(DISTINCT ({values})) > 1
        )
        SELECT r._pos FROM {relation} r SEMI JOIN torn USING ({keys}) ORDER BY r._pos
    """
    return con.execute(sql).fetchnumpy()["_pos"].astype("int64")


def orphan_positions(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    column: str,
    known: str,
    known_column: str,
    *,
    among: str | None = None,
) -> np.ndarray:
    """``_pos`` of every row whose ``column`` is not among ``known``'s ``known_column``
    (and, with ``among``, is among that relation's ``known_column``, or begins one whose
    ``cut`` is true: an id read from a line that lost the delimiter after it)."""
    value, known_value = sql_name(column), sql_name(known_column)
    within = (
        f"""SEMI JOIN (SELECT DISTINCT {known_value} AS a, cut FROM {among}) a
            ON r.{value} = a.a OR (a.cut AND starts_with(a.a, r.{value}))"""
        if among is not None
        else ""
    )
    sql = f"""
        SELECT r._pos FROM {relation} r
        ANTI JOIN (SELECT DISTINCT {known_value} AS k FROM {known}) k ON r.{value} = k.k
        {within}
        WHERE r.{value} IS NOT NULL
        ORDER BY r._pos
    """
    return con.execute(sql).fetchnumpy()["_pos"].astype("int64")


# An id no customer has, though one has it apart from case, spaces or leading zeros
# (reviewed: contacts written c010358 for C010358 and sessions C1666 for C001666 went as
# "unknown customer" with no hint; the ids are not matched, as 007 and 7 may be two)
NEAR_ID = (
    "unknown customer (not in customers, but a customer's id matches it apart from case, "
    "spaces or leading zeros: write the ids as the customers file does)"
)


def near_orphan_positions(
    con: duckdb.DuckDBPyConnection, relation: str, known: str, column: str = "customer_id"
) -> np.ndarray:
    """``_pos`` of every row whose ``column`` is not among ``known``'s, but is one of them
    once both are trimmed, upper-cased and stripped of the zeros leading their digits."""
    value = sql_name(column)

    def loose(x: str) -> str:
        # the zeros that lead the first run of digits, after any letters: C001666, 0040
        text = f"upper(trim(CAST({x} AS VARCHAR)))"
        return f"regexp_replace({text}, '^([^0-9]*)0+([0-9])', '\\1\\2')"

    sql = f"""
        WITH k AS (SELECT DISTINCT {value} AS k, {loose(value)} AS loose FROM {known})
        SELECT r._pos FROM {relation} r
        ANTI JOIN k ON r.{value} = k.k
        SEMI JOIN (SELECT DISTINCT loose FROM k) n ON {loose("r." + value)} = n.loose
        WHERE r.{value} IS NOT NULL
        ORDER BY r._pos
    """
    return con.execute(sql).fetchnumpy()["_pos"].astype("int64")


def cross_row_problems(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    table: Table,
    *,
    customers: str | None,
    customers_derived: bool = False,
    orders: str | None = None,
    refused: str | None = None,
) -> list[tuple[str, str, np.ndarray]]:
    """(column, why, positions) for duplicate keys, orphans, and lines without an order.

    ``refused``: a relation of the ``customer_id`` of customers rows not accepted (set
    aside by the source, or quarantined): a row about one of them is an orphan because
    its customer's row was refused, not because the id is unknown
    (:data:`CUSTOMER_REFUSED`)."""
    problems = []
    if table.name == "contacts":  # before the duplicate key: every row of the contact goes
        problems.append(
            (
                ",".join(table.key),
                CONTACT_CONFLICT,
                disagreeing_positions(con, relation, table.key, ("arm", "play")),
            )
        )
    problems.append(
        (",".join(table.key), DUPLICATE_KEY, duplicate_positions(con, relation, table.key))
    )
    if customers is not None and table.name != "customers" and "customer_id" in table.names:
        if refused is not None:
            problems.append(
                (
                    "customer_id",
                    CUSTOMER_REFUSED,
                    orphan_positions(
                        con, relation, "customer_id", customers, "customer_id", among=refused
                    ),
                )
            )
        why = (
            "unknown customer (no accepted order; no customers file)"
            if customers_derived
            else "unknown customer (not in customers)"
        )
        orphans = orphan_positions(con, relation, "customer_id", customers, "customer_id")
        if len(orphans) and not customers_derived:  # before: a row takes the first reason
            problems.append(
                ("customer_id", NEAR_ID, near_orphan_positions(con, relation, customers))
            )
        problems.append(("customer_id", why, orphans))
    if orders is not None and table.name == "order_lines":
        problems.append(
            (
                "order_id",
                "order not accepted",
                orphan_positions(con, relation, "order_id", orders, "order_id"),
            )
        )
    return [(c, w, p) for c, w, p in problems if len(p)]


def _first_reason(problems: list[tuple[str, str, np.ndarray]]) -> dict[int, str]:
    """Position -> the first reason (a row breaking several rules is counted once)."""
    first: dict[int, str] = {}
    for column, why, positions in problems:
        label = f"{column}: {why}"
        for p in positions.tolist():
            first.setdefault(p, label)
    return first


# --------------------------------------------------------------- in memory


def _fail_message(
    table: str, column: str, why: str, n: int, rows: int, examples: str, *, nulled: bool
) -> str:
    action = "null them and count them" if nulled else "set them aside"
    return (
        f"table {table!r}, column {column!r}: {n} of {rows} rows {why}; e.g. {examples}. "
        f"Fix the source, or set ingest.on_bad_rows: quarantine to {action}."
    )


def first_failure(table: str, tally: Tally) -> str | None:
    """The message ``on_bad_rows="fail"`` raises for a table, or None when it is clean."""
    for (kind, column, why), shown in tally.examples.items():
        if kind == "quarantined":
            n = tally.reasons.get(f"{column}: {why}", 0)
        else:
            n = tally.nulled.get(column, {}).get(why, 0)
        if not n:
            continue
        values = pd.Series([v for v, _ in shown], dtype=object)
        lines = pd.Series([line for _, line in shown], dtype=object)
        text = _examples(values, lines=lines if lines.notna().any() else None)
        if n > len(shown):
            text = text + f" ... (+{n - len(shown)} more)"
        return _fail_message(table, column, why, n, tally.rows_read, text, nulled=kind == "nulled")
    return None


def validate_table(
    df: pd.DataFrame,
    table: Table,
    *,
    on_bad_rows: OnBadRows,
    min_date: dt.date,
    max_date: dt.date,
    known_customers: pd.Series | None = None,
    customers_derived: bool = False,
    accepted_orders: pd.Series | None = None,
    rules: Rules | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Validate one table in memory.

    Parameters
    ----------
    df
        The table as the source produced it.
    table
        Its canonical definition.
    on_bad_rows
        ``"fail"`` raises on the first rule a row breaks (or a value nulled);
        ``"quarantine"`` sets the rows aside with the reason.
    min_date, max_date
        Timestamps outside ``[min_date, max_date)`` are invalid.
    known_customers
        Customer ids of the customers table; rows of other customers are orphans.
    customers_derived
        The known customers are those with an accepted order (no customers file).
    accepted_orders
        Order ids of the accepted orders (for ``order_lines``).
    rules
        Export and amount bounds (``min_date``/``max_date`` are taken from here).

    Returns
    -------
    accepted, quarantined, report
        The valid rows in canonical dtypes; the rejected rows (source values) with a
        ``quarantine_reason`` column; counts ``rows_read``, ``rows_accepted``,
        ``rows_quarantined`` and one per reason.

    Raises
    ------
    IngestError
        If a required column is missing, or a row is invalid and ``on_bad_rows`` is
        ``"fail"``.
    """
    accepted, quarantined, tally = _validate_in_memory(
        df,
        table,
        rules=rules or Rules(min_date=min_date, max_date=max_date),
        known_customers=known_customers,
        customers_derived=customers_derived,
        accepted_orders=accepted_orders,
    )
    if on_bad_rows == "fail":
        message = first_failure(table.name, tally)
        if message:
            raise IngestError(message)
    report = table_report(tally, len(accepted))
    for label, n in tally.reasons.items():
        log.warning("%s: set aside %d rows (%s)", table.name, n, label)
    for column, per in tally.nulled.items():
        log.warning("%s: nulled %s values of %s", table.name, per, column)
    return accepted, quarantined, report


def table_report(tally: Tally, accepted: int) -> dict[str, int]:
    """``rows_read``, one count per reason, ``rows_accepted``, ``rows_quarantined``."""
    quarantined = sum(tally.reasons.values())
    report = {"rows_read": tally.rows_read, **{k: v for k, v in tally.reasons.items() if v}}
    report["rows_accepted"] = accepted
    report["rows_quarantined"] = quarantined
    if report["rows_read"] != accepted + quarantined:
        raise RuntimeError(f"ingest accounting does not add up: {report}")
    return report


def require_columns(df: pd.DataFrame | Sequence[str], table: Table, rows: int) -> None:
    names = list(df.columns) if isinstance(df, pd.DataFrame) else list(df)
    present = [c for c in names if c not in PROVENANCE]
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    if missing:
        raise IngestError(
            f"table {table.name!r}: required column(s) {missing} missing "
            f"({rows} rows; columns present: {present})"
        )


def _validate_in_memory(
    df: pd.DataFrame,
    table: Table,
    *,
    rules: Rules,
    known_customers: pd.Series | None,
    customers_derived: bool,
    accepted_orders: pd.Series | None,
) -> tuple[pd.DataFrame, pd.DataFrame, Tally]:
    require_columns(df, table, len(df))
    df = df.reset_index(drop=True)
    checked = check_rows(df, table, rules)
    tally = checked.tally
    passed = checked.accepted.assign(_pos=np.flatnonzero(checked.passed))
    con = duckdb.connect()
    try:
        con.register("rel", passed)
        refs: dict[str, Any] = {"customers": None, "orders": None}
        if known_customers is not None:
            known = pd.DataFrame({"customer_id": pd.array(known_customers, dtype="string")})
            con.register("known", known)
            refs["customers"] = "known"
        if accepted_orders is not None:
            orders = pd.DataFrame({"order_id": pd.array(accepted_orders, dtype="string")})
            con.register("accepted_orders", orders)
            refs["orders"] = "accepted_orders"
        problems = cross_row_problems(
            con, "rel", table, customers_derived=customers_derived, **refs
        )
    finally:
        con.close()
    first = _first_reason(problems)
    _tally_cross_row(tally, problems, first, df, df[LINE] if LINE in df.columns else None)
    late = np.fromiter(first, dtype="int64", count=len(first))
    drop = passed["_pos"].isin(late).to_numpy()
    quarantined = pd.concat(
        [
            checked.quarantined.assign(_pos=np.flatnonzero(~checked.passed)),
            df.iloc[late].assign(**{QUARANTINE_REASON: [first[p] for p in late], "_pos": late}),
        ]
    ).sort_values("_pos", kind="stable")
    accepted = passed.loc[~drop].drop(columns=["_pos", *PROVENANCE], errors="ignore")
    quarantined = quarantined.drop(columns=["_pos", *PROVENANCE], errors="ignore")
    if QUARANTINE_REASON in quarantined:
        quarantined[QUARANTINE_REASON] = quarantined[QUARANTINE_REASON].astype(pd.StringDtype())
    return accepted.reset_index(drop=True), quarantined.reset_index(drop=True), tally


def _tally_cross_row(
    tally: Tally,
    problems: list[tuple[str, str, np.ndarray]],
    first: Mapping[int, str],
    rows: pd.DataFrame,
    lines: pd.Series | None,
) -> None:
    """Count cross-row problems under each row's first reason; note examples.

    ``rows`` is indexed by position (``_pos``) and holds the key columns.
    """
    for column, why, positions in problems:
        label = f"{column}: {why}"
        counted = [p for p in positions.tolist() if first[p] == label]
        if counted:
            tally.reasons[label] = tally.reasons.get(label, 0) + len(counted)
            key = column.split(",")[0]
            shown = rows.loc[counted[:5], key]
            tally.note(
                "quarantined",
                column,
                why,
                shown,
                lines.loc[counted[:5]] if lines is not None else None,
            )


@dataclass(frozen=True)
class IngestResult:
    tables: dict[str, pd.DataFrame]
    quarantine: dict[str, pd.DataFrame]
    report: dict[str, dict[str, int]]


def ingest_tables(
    raw: Mapping[str, pd.DataFrame],
    *,
    on_bad_rows: OnBadRows,
    min_date: dt.date,
    max_date: dt.date,
    rules: Rules | None = None,
) -> IngestResult:
    """Validate every table a source produced, in memory; derive ``customers`` if absent.

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
    rules = rules or Rules(min_date=min_date, max_date=max_date)
    tables: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    report: dict[str, dict[str, int]] = {}

    def run(name: str, **refs: Any) -> None:
        acc, q, rep = validate_table(
            raw[name],
            TABLES[name],
            on_bad_rows=on_bad_rows,
            min_date=min_date,
            max_date=max_date,
            rules=rules,
            **refs,
        )
        tables[name], quarantine[name], report[name] = acc, q, rep

    if "customers" in raw:
        run("customers")
    run(
        "orders",
        known_customers=tables["customers"]["customer_id"] if "customers" in tables else None,
    )
    if "customers" not in tables:
        tables["customers"] = derive_customers(tables["orders"]["customer_id"])
        report["customers"] = {"derived_from_orders": len(tables["customers"])}
        log.info("no customers table: derived %d customers from orders", len(tables["customers"]))
    known = tables["customers"]["customer_id"]
    derived = "customers" not in raw
    for name in TABLES:
        if name in ("customers", "orders") or name not in raw:
            continue
        refs: dict[str, Any] = {"known_customers": known, "customers_derived": derived}
        if name == "order_lines":
            refs["accepted_orders"] = tables["orders"]["order_id"]
        run(name, **refs)
    absent = [n for n in TABLES if n not in raw]
    if absent:
        log.info("tables not provided (their features will be dropped): %s", absent)
    return IngestResult(tables=tables, quarantine=quarantine, report=report)


def derive_customers(customer_ids: pd.Series) -> pd.DataFrame:
    """A canonical customers table holding just the distinct ids, sorted."""
    ids = pd.Series(customer_ids.dropna().unique(), dtype=pd.StringDtype()).sort_values(
        ignore_index=True
    )
    frame = pd.DataFrame({"customer_id": ids})
    for col in TABLES["customers"].columns[1:]:
        frame[col.name] = pd.Series(
            pd.NaT if col.dtype == "datetime" else None, index=frame.index, dtype=_NULL[col.dtype]
        )
    return frame


def present_columns(tables: Mapping[str, pd.DataFrame]) -> dict[str, set[str]]:
    """Columns that exist and hold at least one value, per table."""
    return {name: {c for c in df.columns if df[c].notna().any()} for name, df in tables.items()}


# ------------------------------------------------------------------ the run


@dataclass
class TableOutcome:
    """What became of one table: counts, and per input the rows behind them."""

    tally: Tally
    accepted: int = 0
    # input -> {"accepted", "merged", "quarantined", "reasons": {label: input rows}}
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    derived: str | None = None

    def report(self) -> dict[str, int]:
        return table_report(self.tally, self.accepted)


def table_account(outcome: TableOutcome, rows_in: int) -> dict[str, Any]:
    """A table's part of the ledger (see :func:`pipeline.ledger.build_ledger`)."""
    return {
        "rows_in": rows_in,
        "accepted": outcome.accepted,
        "quarantined": sum(outcome.tally.reasons.values()),
        "reasons": dict(outcome.tally.reasons),
        "nulled": {c: dict(p) for c, p in outcome.tally.nulled.items()},
        "flags": dict(outcome.tally.flags),
        "derived": outcome.derived,
        "inputs": outcome.inputs,
    }


# What to look at when a reason dominates an input's rows not accepted.
_ADVICE = {
    "duplicate_row": (
        "rows that repeat every column as written are copies; if they are distinct "
        "lines of one order with the same total, export a column that tells them apart "
        "(a product or line id; map it as source.columns.orders.product_id)"
    ),
    "too_few_fields": (
        "a few lines with fewer fields than the header were cut short (an export "
        "interrupted) or lost a delimiter: export the file again; most lines short the "
        "same way mean the header names a column the rows lack, or the exporter leaves "
        "out trailing empty fields: have it write every field, or drop the column from "
        "the header"
    ),
    "unparseable_": (
        "check source.read (encoding, decimal, thousands, date_format: one format for "
        "every file, or one per table, {orders: '%d/%m/%Y %H:%M', contacts: '%d/%m/%Y'})"
    ),
    "missing_": "check source.columns and source.read.missing_values",
    "after the export": "check source.export_date and the file's dates",
    "unknown customer": "check that the customers file and the ids match (source.columns)",
    CUSTOMER_REFUSED: (
        "mend the customers file's rows the ledger lists as not accepted: their "
        "customers' rows here follow them"
    ),
}


def _advice(reasons: Mapping[str, int]) -> str:
    if not reasons:
        return ""
    top = max(reasons.items(), key=lambda kv: (kv[1], kv[0]))[0]
    for key, advice in _ADVICE.items():
        if key in top:
            return f" For {top}: {advice}."
    return ""


def _top(reasons: Mapping[str, int], k: int = 3) -> str:
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return ", ".join(f"{r} ({n:,})" for r, n in top)


def check_run(
    ledger: Mapping[str, Any],
    outcomes: Mapping[str, TableOutcome],
    *,
    on_bad_rows: OnBadRows,
    max_bad_share: float,
    set_aside_examples: Callable[[str], str] = lambda name: "",
    rows_dir: str = "data/ledger/",
) -> None:
    """Stop the run when too much is lost, or, with ``fail``, when anything is.

    Raises
    ------
    IngestError
        In either mode, when more than ``max_bad_share`` of an input's rows are not
        accepted (naming the input, its file and table, and the top reasons). With
        ``on_bad_rows="fail"``, on the first input with rows set aside by the
        source, then the first table with a row quarantined or a value nulled.
        Messages point to ``rows_dir`` for the rows not accepted.
    """
    for name, a in ledger["inputs"].items():
        by_rule = int(a.get("set_aside_by_rule", 0))
        bad = a["set_aside"] - by_rule + a["quarantined"]
        if a["rows_read"] and bad / a["rows_read"] > max_bad_share:
            reasons = {**a["set_aside_reasons"], **a["quarantine_reasons"]}
            where = f"file {a['file']!r}" if a.get("file") else f"input {name!r}"
            read = ", ".join(f"{k} {v}" for k, v in a.get("read", {}).items())
            raise IngestError(
                f"{where} (table {', '.join(a['tables'])}): {bad:,} of {a['rows_read']:,} rows "
                f"({bad / a['rows_read']:.1%}) not accepted, above ingest.max_bad_share "
                f"{max_bad_share:g}. Top reasons: {_top(reasons)}{set_aside_examples(name)}."
                f"{_advice(reasons)} "
                "So many bad rows usually mean the file is read or mapped wrongly: check "
                f"source.read{f' (read as: {read})' if read else ''} and "
                f"source.columns.{a['tables'][0] if a['tables'] else name}; see "
                f"reports/ledger.json and {rows_dir}. Raise ingest.max_bad_share only if "
                "these rows really are bad."
            )
    for name, a in ledger["inputs"].items():
        for column, per in a.get("nulled_at_source", {}).items():
            n = int(sum(per.values()))
            if a["rows_read"] and n / a["rows_read"] > max_bad_share:
                where = f"file {a['file']!r}" if a.get("file") else f"input {name!r}"
                shown = a.get("nulled_examples", {}).get(column, [])
                column_in_file = a.get("columns", {}).get(column, column)
                raise IngestError(
                    f"{where} (table {', '.join(a['tables'])}): {n:,} of {a['rows_read']:,} "
                    f"values of column {column!r} ({column_in_file!r} in the file, "
                    f"{n / a['rows_read']:.1%}) cannot be read"
                    + (f", e.g. {', '.join(repr(v) for v in shown)}" if shown else "")
                    + f", above ingest.max_bad_share {max_bad_share:g}: the rows would be "
                    f"kept with {column} empty. Check source.read (decimal, thousands, "
                    f"date_format) and source.columns.{a['tables'][0] if a['tables'] else name}; "
                    "write the values as plain numbers or dates, or leave the column unmapped."
                )
    if on_bad_rows != "fail":
        return
    for name, a in ledger["inputs"].items():
        if a["set_aside"] > int(a.get("set_aside_by_rule", 0)):
            where = f"file {a['file']!r}" if a.get("file") else f"input {name!r}"
            raise IngestError(
                f"{where} (table {', '.join(a['tables'])}): {a['set_aside']:,} of "
                f"{a['rows_read']:,} rows set aside by the source: "
                f"{_top(a['set_aside_reasons'], k=5)}{set_aside_examples(name)}. Fix the "
                "file, or set ingest.on_bad_rows: quarantine to set them aside "
                f"({rows_dir}set_aside/)."
            )
        if a.get("nulled_at_source"):
            where = f"file {a['file']!r}" if a.get("file") else f"input {name!r}"
            raise IngestError(
                f"{where} (table {', '.join(a['tables'])}): unreadable optional values "
                f"nulled by the source: {a['nulled_at_source']}. Fix the file, or set "
                "ingest.on_bad_rows: quarantine to null them and count them."
            )
    for name, outcome in outcomes.items():
        message = first_failure(name, outcome.tally)
        if message:
            raise IngestError(message)


def check_orders_left(
    ledger: Mapping[str, Any],
    outcomes: Mapping[str, TableOutcome],
    rows_dir: str = "data/ledger/",
) -> None:
    """Raise when no order is accepted, whatever the thresholds.

    Raises
    ------
    IngestError
        Naming the inputs' top reasons.
    """
    if "orders" in outcomes and outcomes["orders"].accepted > 0:
        return
    reasons = {
        f"{name}: {r}": n
        for name, a in ledger["inputs"].items()
        for r, n in {**a["set_aside_reasons"], **a["quarantine_reasons"]}.items()
    }
    raise IngestError(
        f"no order accepted: the orders table is empty (top reasons: {_top(reasons) or 'none'}). "
        f"See reports/ledger.json and {rows_dir}"
    )
