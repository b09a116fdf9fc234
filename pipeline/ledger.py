"""The run's ledger: every row of every input accounted for once, from file to table.

A row read from an input (a shop's file, an Online Retail file, or a table of the
synthetic shop) ends in exactly one of four places:

- **accepted**: it is a row of a canonical table;
- **merged**: its content is in another accepted row, by a stated rule (order lines
  summed into one order);
- **set aside** by the source: it could not be mapped (unreadable required value, an
  exact copy of another row, an order shared by several customers...);
- **quarantined** by ingest: it broke a rule of the canonical schema or a plausibility
  check (a duplicate key, an unknown customer, dated after the export...).

so that, per input and in total, ``read = accepted + merged + set_aside +
quarantined``. Values changed in rows that were kept (an optional value nulled
because it was unreadable or implausible) and values read as missing are counted too.

The source stage hands each canonical row's provenance to ingest in three
bookkeeping columns of ``data/raw/<table>.parquet``: the input it came from
(``_input``), the line it starts on (``_line``), and how many input rows it stands for
(``_rows``). Tables without them (the synthetic shop) are their own input, a row each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INPUT, LINE, ROWS = "_input", "_line", "_rows"
PROVENANCE = (INPUT, LINE, ROWS)
OUTCOMES = ("accepted", "merged", "set_aside", "quarantined")


class LedgerError(RuntimeError):
    """The ledger does not reconcile: a bug, never a property of the data."""


def empty_account(rows_read: int = 0) -> dict[str, Any]:
    """Counts of one input or table before anything is known."""
    return {"rows_read": rows_read, **{k: 0 for k in OUTCOMES}}


def reconcile(accounts: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise unless ``rows_read == accepted + merged + set_aside + quarantined`` for each.

    Raises
    ------
    LedgerError
        Naming the input and its counts.
    """
    for name, a in accounts.items():
        total = sum(int(a[k]) for k in OUTCOMES)
        if int(a["rows_read"]) != total:
            counts = {k: a[k] for k in ("rows_read", *OUTCOMES)}
            raise LedgerError(
                f"the ledger of {name!r} does not reconcile: {counts} "
                f"({a['rows_read']} read != {total} accounted for)"
            )


def headline(inputs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Totals over the inputs, the share not accepted, and whether it reconciles."""
    totals = empty_account()
    for a in inputs.values():
        for k in ("rows_read", *OUTCOMES):
            totals[k] += int(a[k])
    totals["set_aside_by_rule"] = sum(int(a.get("set_aside_by_rule", 0)) for a in inputs.values())
    bad = totals["set_aside"] + totals["quarantined"]
    read = totals["rows_read"]
    totals["not_accepted_share"] = round(bad / read, 6) if read else 0.0
    totals["bad_share"] = round((bad - totals["set_aside_by_rule"]) / read, 6) if read else 0.0
    totals["reconciles"] = totals["rows_read"] == sum(totals[k] for k in OUTCOMES)
    return totals


def render_headline(ledger: Mapping[str, Any]) -> str:
    """The ledger in a few lines for a person: totals, then one line per input."""
    h = ledger["headline"]
    lines = [
        f"ledger: {h['rows_read']:,} rows read = {h['accepted']:,} accepted + "
        f"{h['merged']:,} merged + {h['set_aside']:,} set aside + "
        f"{h['quarantined']:,} quarantined" + ("" if h["reconciles"] else "  (DOES NOT RECONCILE)")
    ]
    if h.get("set_aside_by_rule"):
        lines.append(
            f"  ({h['set_aside_by_rule']:,} of the rows set aside by the source's own rules, "
            "e.g. lines without a customer)"
        )
    for name, a in ledger["inputs"].items():
        reasons = {**a.get("set_aside_reasons", {}), **a.get("quarantine_reasons", {})}
        ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        top = [f"{r}: {n:,}" for r, n in ranked[:3]]
        if len(ranked) > 3:  # the rest counted, so the parts add up to the whole
            rest = ranked[3:]
            top.append(
                f"{len(rest)} more reasons: {sum(n for _, n in rest):,}, reports/ledger.json"
            )
        why = f" ({', '.join(top)})" if top else ""
        lines.append(
            f"  {name}: {a['rows_read']:,} read, {a['accepted']:,} accepted, "
            f"{a['merged']:,} merged, {a['set_aside']:,} set aside, "
            f"{a['quarantined']:,} quarantined{why}"
        )
    # at ingest (a value breaking a rule) and at the source (a value it cannot read)
    nulled = sum(
        n
        for per_column in [
            *(t.get("nulled", {}) for t in ledger.get("tables", {}).values()),
            *(a.get("nulled_at_source", {}) for a in ledger.get("inputs", {}).values()),
        ]
        for per_reason in per_column.values()
        for n in per_reason.values()
    )
    flagged = sum(
        n for t in ledger.get("tables", {}).values() for n in t.get("flags", {}).values()
    )
    if nulled or flagged:
        lines.append(f"  values nulled in kept rows: {nulled:,}; rows flagged: {flagged:,}")
    if ledger.get("export_date"):
        lines.append(f"  export date: {ledger['export_date']} ({ledger.get('export_date_from')})")
    lines.append("  details: reports/ledger.json; rows not accepted: data/ledger/")
    return "\n".join(lines)


def folders(root: str = "data/ledger") -> dict[str, str]:
    """Where the rows not accepted are, under ``root`` (a failed run's: ``data/ledger.failed``)."""
    return {
        "set_aside": f"{root}/set_aside/<input>.parquet",
        "quarantined": f"{root}/quarantined/<table>.parquet",
    }


def build_ledger(
    source: Mapping[str, Any],
    tables: Mapping[str, Mapping[str, Any]],
    facts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One ledger from what the source handed over and what ingest made of it.

    Parameters
    ----------
    source
        The source's own account (``data/raw/_ledger/source.json``): ``kind``, and
        per input ``file``, ``tables``, ``report`` (``rows_read``, ``rows_used``, one
        count per set-aside reason), ``read``, ``missing_values``, ``nulled``,
        ``merge_rule``, ``notes``; ``derived`` tables.
    tables
        Per canonical table, ingest's account: ``rows_in``, ``accepted``,
        ``quarantined``, ``reasons``, ``nulled``, ``flags``, ``derived`` and, per
        input, ``accepted``, ``merged``, ``quarantined`` and ``reasons`` counted in the
        input's rows.
    facts
        The run's rules: export date and where it came from, amount bounds.

    Returns
    -------
    dict
        ``headline``, ``inputs`` (each reconciling), ``tables``, and the facts.

    Raises
    ------
    LedgerError
        If an input does not reconcile.
    """
    inputs: dict[str, dict[str, Any]] = {}
    described = source.get("inputs") or {
        name: {
            "file": None,
            "tables": [name],
            "report": {"rows_read": t["rows_in"], "rows_used": t["rows_in"]},
        }
        for name, t in tables.items()
        if not t.get("derived")
    }
    for name, info in described.items():
        report = info.get("report", {})
        reasons = {
            k: int(v) for k, v in report.items() if k not in ("rows_read", "rows_used") and v
        }
        account = empty_account(int(report.get("rows_read", 0)))
        account["set_aside"] = sum(reasons.values())
        by_rule = {r: n for r, n in reasons.items() if r in info.get("set_aside_by_rule", [])}
        quarantine_reasons: dict[str, int] = {}
        for table in info.get("tables", []):
            per_input = tables.get(table, {}).get("inputs", {}).get(name)
            if per_input is None:
                continue
            for k in ("accepted", "merged", "quarantined"):
                account[k] += int(per_input[k])
            for reason, n in per_input.get("reasons", {}).items():
                label = f"{table}.{reason}"
                quarantine_reasons[label] = quarantine_reasons.get(label, 0) + int(n)
        inputs[name] = {
            "file": info.get("file"),
            "tables": list(info.get("tables", [])),
            **account,
            "set_aside_reasons": reasons,
            # set aside by a documented rule of the source, not because the row is bad
            "set_aside_by_rule": sum(by_rule.values()),
            "quarantine_reasons": quarantine_reasons,
            "merge_rule": info.get("merge_rule"),
            "read": info.get("read", {}),
            "missing_values": info.get("missing_values", {}),
            "nulled_at_source": info.get("nulled", {}),
            "nulled_examples": info.get("nulled_examples", {}),
            "columns": dict(info.get("columns", {})),
            "notes": list(info.get("notes", [])),
        }
    reconcile(inputs)
    table_part = {
        name: {k: v for k, v in t.items() if k != "inputs"} for name, t in tables.items()
    }
    return {
        "kind": source.get("kind"),
        "headline": headline(inputs),
        **dict(facts or {}),
        "inputs": inputs,
        "tables": table_part,
        "source_notes": source.get("notes", {}),
        "folders": folders(),
    }


def metrics(ledger: Mapping[str, Any], reports: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """The numbers of ``reports/ingest.json``: per table counts, and the ledger totals."""
    h = ledger["headline"]
    totals = {k: h[k] for k in ("accepted", "merged", "set_aside", "quarantined")}
    totals["read"] = h["rows_read"]
    totals["not_accepted_share"] = h["not_accepted_share"]
    totals["bad_share"] = h["bad_share"]
    return {**{name: dict(r) for name, r in reports.items()}, "ledger": totals}


def set_aside_file(input_name: str) -> str:
    """The file of an input's set-aside rows in ``set_aside/``."""
    return f"{input_name.removesuffix('.parquet')}.parquet"
