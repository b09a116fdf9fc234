"""Ingest on disk: Parquet in, Parquet out, in chunks, in bounded memory.

What lets a million-customer shop be validated on a laptop: no table is ever whole in
pandas. Each table is read in chunks and checked row by row
(:func:`pipeline.ingest.check_rows`); accepted rows go straight to the canonical
file, their keys and provenance to a narrow file on which DuckDB runs the rules that
need other rows (duplicate keys, orphans, order lines of orders not accepted). The
canonical file is written again only when those rules drop rows. Before that,
:func:`plan_rules` reads the raw tables once in DuckDB for the run's rules: the export
moment (set, or detected from events per day) and the plausible amount bounds.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipeline import streaming
from pipeline.ingest import (
    AMOUNT_COLUMNS,
    BATCH_ROWS,
    DERIVED_CUSTOMERS,
    EVENT_TIME,
    QUARANTINE_REASON,
    IngestError,
    Rules,
    TableOutcome,
    Tally,
    amount_bound,
    check_rows,
    coerce_table,
    cross_row_problems,
    derive_customers,
    detect_export_date,
    require_columns,
    sql_name,
)
from pipeline.ledger import INPUT, LINE, PROVENANCE, ROWS, set_aside_file
from pipeline.schema import REQUIRED_TABLES, TABLES, Table

log = logging.getLogger(__name__)


def _connect(temp_dir: Path | None = None, memory_limit: str = "2GB") -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": memory_limit, "threads": 2}
    if temp_dir is not None:
        config["temp_directory"] = str(temp_dir)
    return duckdb.connect(config=config)


def _parquet(path: Path) -> str:
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def event_days(raw: Mapping[str, Path], *, min_date: dt.date, max_date: dt.date) -> pd.DataFrame:
    """Events per day over every table's event time (``day``, ``n``), within the date range."""
    parts = []
    for name, column in EVENT_TIME.items():
        if name == "order_lines" or name not in raw:
            continue  # order lines repeat the orders' times
        if column not in streaming.column_names(raw[name]):
            continue
        parts.append(
            f"SELECT TRY_CAST({sql_name(column)} AS TIMESTAMP) AS t FROM {_parquet(raw[name])}"
        )
    if not parts:
        return pd.DataFrame(
            {"day": pd.Series(dtype="datetime64[us]"), "n": pd.Series(dtype="int64")}
        )
    con = _connect()
    try:
        sql = f"""
            SELECT date_trunc('day', t) AS day, count(*) AS n
            FROM ({" UNION ALL ".join(parts)})
            WHERE t >= TIMESTAMP '{min_date}' AND t < TIMESTAMP '{max_date}'
            GROUP BY 1 ORDER BY 1
        """
        return con.execute(sql).df()
    finally:
        con.close()


def amount_quantiles(path: Path, column: str) -> tuple[float | None, float | None]:
    """The median and the 99th percentile of a table's positive finite amounts (None:
    no such amount)."""
    if column not in streaming.column_names(path):
        return None, None
    con = _connect()
    try:
        median, p99 = con.execute(
            f"""SELECT quantile_cont(a, 0.5), quantile_cont(a, 0.99) FROM (
                    SELECT TRY_CAST({sql_name(column)} AS DOUBLE) AS a FROM {_parquet(path)}
                ) WHERE a > 0 AND isfinite(a)"""
        ).fetchone()
    finally:
        con.close()
    return (None if median is None else float(median)), (None if p99 is None else float(p99))


def latest_possible_day() -> pd.Timestamp:
    """Midnight two days after today (UTC): the first moment no event of an export can
    have happened at, whatever the shop's time zone."""
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    return today + pd.Timedelta(days=2)


def plan_rules(
    raw: Mapping[str, Path],
    *,
    min_date: dt.date,
    max_date: dt.date,
    export_moment: dt.datetime | None,
    outlier_factor: float,
) -> tuple[Rules, dict[str, Any]]:
    """The rules of this run: the export moment (set or detected), the amount bounds.

    Returns
    -------
    rules, facts
        ``facts`` says, for the ledger, where the export moment came from and what
        the bounds are.
    """
    facts: dict[str, Any] = {}
    if export_moment is not None:
        bound = pd.Timestamp(export_moment)
        note = "source.export_date"
        facts["export_date"] = str(bound)
        facts["export_date_from"] = "set in source.export_date"
    else:
        daily = event_days(raw, min_date=min_date, max_date=max_date)
        # Nothing in an export happened after the export was read: rows dated later
        # than tomorrow (time zones) are typos, however many. Detection reads the rest.
        ceiling = latest_possible_day()
        future = daily["day"] >= ceiling
        found = detect_export_date(daily[~future])
        bound = found.bound
        n = int(daily.loc[future, "n"].sum())
        if n and bound is None:
            last = found.last_dense_day
            bound = ceiling
            note = "the day after the ingest: nothing can have happened later"
            facts["export_date"] = str(bound)
            facts["export_date_from"] = (
                f"not set; {n} rows are dated after the ingest ({ceiling:%Y-%m-%d} on), "
                f"up to {daily.loc[future, 'day'].max():%Y-%m-%d}: quarantined"
                + (f"; the other data end on {last:%Y-%m-%d}" if last is not None else "")
            )
            log.warning("%d rows are dated after the ingest day: quarantined", n)
        elif found.bound is not None:
            note = "detected; set source.export_date to override"
            facts["export_date"] = str(found.bound)
            facts["export_date_from"] = (
                f"detected: events are dense until {found.last_dense_day:%Y-%m-%d} "
                f"(about {found.rate_per_day:,.0f} a day); {found.lone_rows + n} lone rows "
                "lie after it"
            )
            log.warning(
                "export date detected: the data are dense until %s; %d lone rows after it "
                "are quarantined (set source.export_date to override)",
                f"{found.last_dense_day:%Y-%m-%d}",
                found.lone_rows + n,  # those dated after the ingest too, as the ledger
            )
        else:
            note = ""
            facts["export_date"] = None
            last = found.last_dense_day
            facts["export_date_from"] = (
                f"not set; the data end on {last:%Y-%m-%d} with no lone rows after it"
                if last is not None
                else "not set; no dated events"
            )
    bounds = {}
    for name, column in AMOUNT_COLUMNS.items():
        if name in raw:
            median, p99 = amount_quantiles(raw[name], column)
            b = amount_bound(p99, outlier_factor, median)
            if b is not None:
                bounds[name] = b
    facts["amount_bounds"] = {
        name: {
            "bound": round(b, 2),
            "rule": f"{outlier_factor:g} x the 99th percentile, at most "
            f"{outlier_factor**2:g} x the median",
        }
        for name, b in bounds.items()
    }
    rules = Rules(
        min_date=min_date,
        max_date=max_date,
        export_before=bound,
        export_note=note,
        amount_bounds=bounds,
    )
    return rules, facts


@functools.cache
def _template(table: Table) -> pd.DataFrame:
    typed, _ = coerce_table(
        pd.DataFrame({c.name: pd.Series([], dtype=object) for c in table.columns}), table
    )
    return typed


def _canonical_template(table: Table) -> pd.DataFrame:
    """An empty frame of the table's canonical dtypes (what the Parquet schema follows)."""
    return _template(table).copy()


def _as_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = {}
    for c in columns:
        if c in frame.columns:
            values = frame[c]
            if values.dtype == object:
                values = values.map(lambda v: v if v is None or isinstance(v, str) else str(v))
            out[c] = values.astype(pd.StringDtype())
        else:
            out[c] = pd.Series(pd.NA, index=frame.index, dtype=pd.StringDtype())
    return pd.DataFrame(out, index=frame.index)


def _quarantine_template(table: Table) -> pd.DataFrame:
    names = [*table.names, "reason"]
    frame = pd.DataFrame({c: pd.Series([], dtype=pd.StringDtype()) for c in names})
    frame["input"] = pd.Series([], dtype=pd.StringDtype())
    frame["line"] = pd.Series([], dtype="int64")
    frame["rows"] = pd.Series([], dtype="int64")
    return frame


def _to_quarantine(rows: pd.DataFrame, reasons: Sequence[str], table: Table) -> pd.DataFrame:
    out = _as_text(rows, table.names)
    out["reason"] = pd.array(list(reasons), dtype=pd.StringDtype())
    out["input"] = pd.array(rows[INPUT].astype(object).tolist(), dtype=pd.StringDtype())
    out["line"] = rows[LINE].to_numpy(dtype="int64")
    out["rows"] = rows[ROWS].to_numpy(dtype="int64")
    return out.reset_index(drop=True)


def _with_provenance(chunk: pd.DataFrame, name: str, positions: np.ndarray) -> pd.DataFrame:
    """Rows with their provenance; a table without any is its own input, a row each."""
    if INPUT not in chunk.columns:
        chunk = chunk.assign(**{INPUT: pd.array([name] * len(chunk), dtype=pd.StringDtype())})
    if LINE not in chunk.columns:
        chunk = chunk.assign(**{LINE: np.asarray(positions, dtype="int64") + 1})
    if ROWS not in chunk.columns:
        chunk = chunk.assign(**{ROWS: np.ones(len(chunk), dtype="int64")})
    return chunk


def _account(outcome: TableOutcome, name: str) -> dict[str, Any]:
    return outcome.inputs.setdefault(
        name, {"accepted": 0, "merged": 0, "quarantined": 0, "reasons": {}}
    )


def _count_quarantined(outcome: TableOutcome, rows: pd.DataFrame, reasons: Sequence[str]) -> None:
    frame = pd.DataFrame(
        {
            "input": rows[INPUT].astype(object).to_numpy(),
            "rows": rows[ROWS].to_numpy(dtype="int64"),
            "reason": list(reasons),
        }
    )
    for (name, reason), n in frame.groupby(["input", "reason"], sort=False)["rows"].sum().items():
        account = _account(outcome, str(name))
        account["quarantined"] += int(n)
        account["reasons"][str(reason)] = account["reasons"].get(str(reason), 0) + int(n)


def _key_columns(table: Table) -> list[str]:
    """What the rules needing other rows read: the key, the customer, the order (and a
    contact's arm and play)."""
    names = list(table.key)
    extra = ("customer_id", "order_id") + (("arm", "play") if table.name == "contacts" else ())
    for column in extra:
        if column in table.names and column not in names:
            names.append(column)
    return names


def _ingest_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    path: Path,
    *,
    staging: Path,
    canonical: Path,
    quarantine: streaming.ParquetSink,
    rules: Rules,
    customers: str | None,
    customers_derived: bool,
    orders: str | None,
    batch_rows: int,
    refused: str | None = None,
) -> TableOutcome:
    """One table: row checks chunk by chunk, then the rules needing other rows.

    The accepted rows go straight to the canonical file, and their keys (with the
    position and provenance) to a narrow file in ``staging``. The rules needing other
    rows run on the narrow file; only when they drop rows is the canonical file
    written again without them.
    """
    rows = streaming.row_count(path)
    names = streaming.column_names(path)
    require_columns(names, table, rows)
    provenance = [c for c in PROVENANCE if c in names]
    outcome = TableOutcome(Tally())
    target = canonical / f"{table.name}.parquet"
    keys_path = staging / f"{table.name}.keys.parquet"
    key_template = _canonical_template(table)[_key_columns(table)].assign(
        _pos=pd.Series([], dtype="int64"),
        **{
            c: pd.Series([], dtype=pd.StringDtype() if c == INPUT else "int64") for c in provenance
        },
    )
    start = 0
    with (
        streaming.ParquetSink(target, _canonical_template(table)) as out,
        streaming.ParquetSink(keys_path, key_template, compression="none") as keys,
    ):
        for chunk in streaming.iter_frames(path, batch_rows):
            checked = check_rows(chunk, table, rules)
            outcome.tally.add(checked.tally)
            accepted = checked.accepted
            out.write(accepted[list(table.names)])
            keys.write(
                accepted[_key_columns(table) + provenance].assign(
                    _pos=start + np.flatnonzero(checked.passed)
                )
            )
            if len(checked.quarantined):
                gone = _with_provenance(
                    checked.quarantined, table.name, start + np.flatnonzero(~checked.passed)
                )
                reasons = gone[QUARANTINE_REASON].astype(object).tolist()
                quarantine.write(_to_quarantine(gone, reasons, table))
                _count_quarantined(outcome, gone, reasons)
            start += len(chunk)
    problems = cross_row_problems(
        con,
        _parquet(keys_path),
        table,
        customers=customers,
        customers_derived=customers_derived,
        orders=orders,
        refused=refused,
    )
    labels = [f"{c}: {w}" for c, w, _ in problems]
    if problems:
        stacked = np.concatenate([p for _, _, p in problems])
        codes = np.concatenate([np.full(len(p), i) for i, (_, _, p) in enumerate(problems)])
        drop, first = np.unique(stacked, return_index=True)
        drop_code = codes[first]
    else:
        drop, drop_code = np.array([], dtype="int64"), np.array([], dtype="int64")
    for i, label in enumerate(labels):
        n = int((drop_code == i).sum())
        if n:
            outcome.tally.reasons[label] = outcome.tally.reasons.get(label, 0) + n
    _count_accepted(con, outcome, keys_path, table.name, drop, provenance)
    if len(drop):
        _drop_rows(
            table,
            target,
            keys_path,
            drop,
            drop_code,
            labels,
            problems,
            outcome,
            quarantine,
            batch_rows=batch_rows,
        )
    outcome.accepted = streaming.row_count(target)
    keys_path.unlink()
    return outcome


def _count_accepted(
    con: duckdb.DuckDBPyConnection,
    outcome: TableOutcome,
    keys_path: Path,
    name: str,
    drop: np.ndarray,
    provenance: Sequence[str],
) -> None:
    """Accepted and merged input rows per input, from the keys of the rows kept."""
    con.register("dropped", pd.DataFrame({"_pos": drop}))
    input_sql = sql_name(INPUT) if INPUT in provenance else f"'{name}'"
    rows_sql = sql_name(ROWS) if ROWS in provenance else "1"
    counts = con.execute(
        f"""SELECT {input_sql} AS input, count(*) AS n, sum({rows_sql}) AS r
            FROM {_parquet(keys_path)} ANTI JOIN dropped USING (_pos)
            GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    con.unregister("dropped")
    for input_name, n, r in counts:
        account = _account(outcome, str(input_name))
        account["accepted"] += int(n)
        account["merged"] += int(r) - int(n)


def _drop_rows(
    table: Table,
    target: Path,
    keys_path: Path,
    drop: np.ndarray,
    drop_code: np.ndarray,
    labels: Sequence[str],
    problems: Sequence[tuple[str, str, np.ndarray]],
    outcome: TableOutcome,
    quarantine: streaming.ParquetSink,
    *,
    batch_rows: int,
) -> None:
    """Write the canonical file again without the dropped rows; quarantine those."""
    keys = pd.read_parquet(keys_path)  # narrow: a few columns per accepted row
    hit = np.isin(keys["_pos"].to_numpy(), drop, assume_unique=True)
    gone_keys = _with_provenance(
        keys.loc[hit].reset_index(drop=True), table.name, keys.loc[hit, "_pos"].to_numpy()
    )
    reasons = [labels[c] for c in drop_code[np.searchsorted(drop, gone_keys["_pos"].to_numpy())]]
    rewritten = target.with_name(f".{target.name}.rewrite")
    offset = 0
    with streaming.ParquetSink(rewritten, _canonical_template(table)) as out:
        for chunk in streaming.iter_frames(target, batch_rows):
            mask = hit[offset : offset + len(chunk)]
            offset += len(chunk)
            out.write(chunk.loc[~mask])
            if mask.any():
                gone = chunk.loc[mask].reset_index(drop=True)
                start = int(np.count_nonzero(hit[: offset - len(chunk)]))
                prov = gone_keys.iloc[start : start + len(gone)].reset_index(drop=True)
                gone = pd.concat([gone, prov[[INPUT, LINE, ROWS]]], axis=1)
                quarantine.write(_to_quarantine(gone, reasons[start : start + len(gone)], table))
    rewritten.replace(target)
    _count_quarantined(outcome, gone_keys, reasons)
    for (column, why, _), label in zip(problems, labels, strict=True):
        mine = gone_keys.loc[np.asarray(reasons) == label]
        if len(mine):
            key = column.split(",")[0]
            outcome.tally.note("quarantined", column, why, mine[key], mine[LINE])


def ingest_directory(
    raw: Path,
    canonical: Path,
    quarantined: Path,
    *,
    rules: Rules,
    derived: Mapping[str, str] | None = None,
    batch_rows: int = BATCH_ROWS,
    set_aside_customers: Sequence[tuple[str, bool]] = (),
) -> dict[str, TableOutcome]:
    """Validate every ``<table>.parquet`` of ``raw`` in chunks; write the accepted rows.

    Parameters
    ----------
    raw
        The source's tables (with the provenance columns of :mod:`pipeline.ledger`
        when the source has them).
    canonical
        Where the accepted rows go, one ``<table>.parquet`` each, canonical dtypes.
    quarantined
        Where the quarantined rows go, one ``<table>.parquet`` each: the table's
        columns as text, ``reason``, and the ``input``, ``line`` and ``rows`` behind it.
    rules
        Dates, export and amount bounds (:func:`plan_rules`).
    derived
        Tables the source built from another input's rows (not inputs themselves).
    batch_rows
        Rows per chunk: what bounds the memory.
    set_aside_customers
        The ids of customers rows the source set aside, each with whether its line
        was short (``too_few_fields``: the id may have swallowed the next value). A
        row of another table about one of them, or about a customer whose row is
        quarantined here, is quarantined as :data:`pipeline.ingest.CUSTOMER_REFUSED`,
        not as an unknown customer.

    Returns
    -------
    dict
        Per table, its :class:`TableOutcome` (``customers`` derived from the accepted
        orders when the source has no customers table).

    Raises
    ------
    IngestError
        If a required table is missing or empty, a table is unknown, or a required
        column is missing.
    """
    paths = {p.stem: p for p in sorted(Path(raw).glob("*.parquet"))}
    unknown = sorted(set(paths) - set(TABLES))
    if unknown:
        raise IngestError(f"unknown table(s) {unknown}; canonical tables: {sorted(TABLES)}")
    for name in REQUIRED_TABLES:
        # an empty one is accounted for by the ledger (every row set aside): the run
        # checks (check_run) say why
        if name not in paths:
            raise IngestError(f"required table {name!r} is missing")
    derived = dict(derived or {})
    canonical.mkdir(parents=True, exist_ok=True)
    staging = canonical / ".staging"
    staging.mkdir()
    con = _connect(staging)
    outcomes: dict[str, TableOutcome] = {}
    sinks = {
        name: streaming.ParquetSink(
            quarantined / f"{name}.parquet", _quarantine_template(TABLES[name])
        )
        for name in paths
    }
    try:
        known = refused = None
        if "customers" in paths:
            outcomes["customers"] = _ingest_table(
                con,
                TABLES["customers"],
                paths["customers"],
                staging=staging,
                canonical=canonical,
                quarantine=sinks["customers"],
                rules=rules,
                customers=None,
                customers_derived=False,
                orders=None,
                batch_rows=batch_rows,
            )
            known = _parquet(canonical / "customers.parquet")
            refused = _refused_customers(con, paths["customers"], known, set_aside_customers)
        outcomes["orders"] = _ingest_table(
            con,
            TABLES["orders"],
            paths["orders"],
            staging=staging,
            canonical=canonical,
            quarantine=sinks["orders"],
            rules=rules,
            customers=known,
            customers_derived=False,
            orders=None,
            batch_rows=batch_rows,
            refused=refused,
        )
        if "customers" not in paths:
            accepted = _parquet(canonical / "orders.parquet")
            ids = con.execute(f"SELECT DISTINCT customer_id FROM {accepted} ORDER BY 1").df()[
                "customer_id"
            ]
            customers = derive_customers(ids)
            with streaming.ParquetSink(
                canonical / "customers.parquet", _canonical_template(TABLES["customers"])
            ) as out:
                out.write(customers)
            outcomes["customers"] = TableOutcome(
                Tally(rows_read=len(customers)), accepted=len(customers), derived=DERIVED_CUSTOMERS
            )
            known = _parquet(canonical / "customers.parquet")
            log.info(
                "no customers table: derived %d customers from the accepted orders", len(customers)
            )
        for name in TABLES:
            if name in ("customers", "orders") or name not in paths:
                continue
            outcomes[name] = _ingest_table(
                con,
                TABLES[name],
                paths[name],
                staging=staging,
                canonical=canonical,
                quarantine=sinks[name],
                rules=rules,
                customers=known,
                customers_derived="customers" not in paths,
                orders=_parquet(canonical / "orders.parquet") if name == "order_lines" else None,
                batch_rows=batch_rows,
                refused=refused,
            )
            if name in derived:
                outcomes[name].derived = derived[name]
        if "customers" in derived and "customers" in outcomes:
            outcomes["customers"].derived = derived["customers"]
    finally:
        con.close()
        for sink in sinks.values():
            sink.close()
        shutil.rmtree(staging, ignore_errors=True)
    for name, outcome in outcomes.items():
        log.info("%s: %s", name, outcome.report())
        for column, per in outcome.tally.nulled.items():
            log.warning("%s.%s: values nulled, the rows kept: %s", name, column, per)
    return outcomes


def _refused_customers(
    con: duckdb.DuckDBPyConnection,
    raw: Path,
    accepted: str,
    set_aside: Sequence[tuple[str, bool]],
) -> str | None:
    """A relation (``customer_id``, ``cut``) of the ids of customers rows not accepted:
    set aside by the source (``set_aside``: id and whether its line was short, so that
    the id may have swallowed the next value) or quarantined here (in ``raw``, not in
    ``accepted``); None if none."""
    con.register(
        "set_aside_customers",
        pd.DataFrame(
            {
                "customer_id": pd.array([i for i, _ in set_aside], dtype="string"),
                "cut": pd.array([c for _, c in set_aside], dtype="boolean"),
            }
        ),
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE refused_customers AS
            SELECT customer_id, bool_or(cut) AS cut FROM (
                SELECT customer_id, false AS cut FROM (
                    SELECT customer_id FROM {_parquet(raw)} WHERE customer_id IS NOT NULL
                    EXCEPT SELECT customer_id FROM {accepted}
                )
                UNION ALL SELECT customer_id, cut FROM set_aside_customers
            ) GROUP BY customer_id"""
    )
    con.unregister("set_aside_customers")
    n = con.execute("SELECT count(*) FROM refused_customers").fetchone()[0]
    return "refused_customers" if n else None


def set_aside_examples(kept: Path) -> Callable[[str], str]:
    """A function giving a few lines of an input not accepted (for error messages): set
    aside by the source (``kept/set_aside/``, with their detail) and quarantined by
    ingest (``kept/quarantined/``, with the value the reason names)."""

    def examples(name: str) -> str:
        shown: list[tuple[int, str]] = []
        con = duckdb.connect()
        try:
            path = kept / "set_aside" / set_aside_file(name)
            if path.exists():
                columns = _columns(con, path)
                detail = "detail" if "detail" in columns else "NULL"
                rows = con.execute(
                    f"""SELECT reason, line, {detail} FROM read_parquet('{path}')
                        QUALIFY row_number() OVER (PARTITION BY reason ORDER BY line) <= 2
                        ORDER BY line LIMIT 4"""
                ).fetchall()
                shown += [(ln, f"line {ln} {r}{f' ({d})' if d else ''}") for r, ln, d in rows]
            for path in sorted((kept / "quarantined").glob("*.parquet")):
                columns = _columns(con, path)
                if not {"input", "line", "reason"} <= columns:
                    continue
                frame = con.execute(
                    f"""SELECT * FROM read_parquet('{path}') WHERE input = ?
                        QUALIFY row_number() OVER (PARTITION BY reason ORDER BY line) <= 2
                        ORDER BY line LIMIT 4""",
                    [name],
                ).df()
                for row in frame.itertuples(index=False):
                    column = str(row.reason).split(":")[0]
                    value = getattr(row, column, None) if column in frame.columns else None
                    known = value is not None and pd.notna(value)
                    said = f" ({column} {value!r})" if known else ""
                    shown.append((int(row.line), f"line {row.line} {row.reason}{said}"))
        finally:
            con.close()
        shown = sorted(shown)[:4]
        return f"; e.g. {', '.join(text for _, text in shown)}" if shown else ""

    return examples


def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()}
