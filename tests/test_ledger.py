"""Tests for pipeline.ledger: every input row is accounted for once, or the run says so."""

from __future__ import annotations

import pytest

from pipeline.ledger import LedgerError, build_ledger, metrics, reconcile, render_headline

SOURCE = {
    "kind": "files",
    "inputs": {
        "orders": {
            "file": "data/shop/orders.csv",
            "tables": ["orders"],
            "report": {"rows_read": 10, "rows_used": 8, "duplicate_row": 1, "no_customer_id": 1},
            "set_aside_by_rule": ["no_customer_id"],
            "merge_rule": "order lines summed into one order per order_id",
            "read": {"encoding": "utf-8 (detected)"},
            "missing_values": {"channel": {"(empty)": 2}},
            "nulled": {},
            "notes": [],
        },
        "complaints": {
            "file": "data/shop/complaints.csv",
            "tables": ["complaints"],
            "report": {"rows_read": 3, "rows_used": 3},
        },
    },
    "derived": {},
}
TABLES = {
    # 8 order lines: 5 orders, 2 of them of 2 lines (2 merged), 1 order of 2 lines quarantined
    "orders": {
        "rows_in": 5,
        "accepted": 4,
        "quarantined": 1,
        "reasons": {"ordered_at: after the export": 1},
        "nulled": {"rating": {"not >= 1": 2}},
        "flags": {"amount_zero": 1},
        "derived": None,
        "inputs": {
            "orders": {
                "accepted": 4,
                "merged": 2,
                "quarantined": 2,
                "reasons": {"ordered_at: after the export": 2},
            }
        },
    },
    "complaints": {
        "rows_in": 3,
        "accepted": 2,
        "quarantined": 1,
        "reasons": {"customer_id: unknown customer": 1},
        "nulled": {},
        "flags": {},
        "derived": None,
        "inputs": {
            "complaints": {
                "accepted": 2,
                "merged": 0,
                "quarantined": 1,
                "reasons": {"customer_id: unknown customer": 1},
            }
        },
    },
    "customers": {
        "rows_in": 4,
        "accepted": 4,
        "quarantined": 0,
        "reasons": {},
        "nulled": {},
        "flags": {},
        "derived": "(derived from accepted orders)",
        "inputs": {},
    },
}


def test_every_input_reconciles_and_the_headline_adds_up() -> None:
    ledger = build_ledger(SOURCE, TABLES, {"export_date": "2024-12-31 00:00:00"})

    orders = ledger["inputs"]["orders"]
    assert {
        k: orders[k] for k in ("rows_read", "accepted", "merged", "set_aside", "quarantined")
    } == {
        "rows_read": 10,
        "accepted": 4,
        "merged": 2,
        "set_aside": 2,
        "quarantined": 2,
    }
    assert orders["set_aside_by_rule"] == 1
    assert orders["quarantine_reasons"] == {"orders.ordered_at: after the export": 2}
    assert orders["missing_values"] == {"channel": {"(empty)": 2}}
    assert ledger["headline"] == {
        "rows_read": 13,
        "accepted": 6,
        "merged": 2,
        "set_aside": 2,
        "quarantined": 3,
        "set_aside_by_rule": 1,
        "not_accepted_share": round(5 / 13, 6),
        "bad_share": round(4 / 13, 6),
        "reconciles": True,
    }
    assert ledger["export_date"] == "2024-12-31 00:00:00"
    assert "inputs" not in ledger["tables"]["orders"]


def test_an_input_that_does_not_reconcile_is_a_bug_and_stops() -> None:
    broken = {
        **TABLES,
        "orders": {
            **TABLES["orders"],
            "inputs": {"orders": {**TABLES["orders"]["inputs"]["orders"], "merged": 1}},
        },
    }
    with pytest.raises(LedgerError, match=r"'orders' does not reconcile.*10 read != 9"):
        build_ledger(SOURCE, broken)
    reconcile(
        {"x": {"rows_read": 1, "accepted": 1, "merged": 0, "set_aside": 0, "quarantined": 0}}
    )


def test_without_a_source_account_each_table_is_its_own_input() -> None:
    tables = {
        "orders": {
            **TABLES["orders"],
            "inputs": {"orders": {"accepted": 4, "merged": 0, "quarantined": 1, "reasons": {}}},
        }
    }
    ledger = build_ledger({}, tables)
    assert ledger["inputs"]["orders"]["rows_read"] == 5


def test_the_headline_names_totals_inputs_reasons_and_where_to_look() -> None:
    text = render_headline(
        build_ledger(
            SOURCE, TABLES, {"export_date": "2024-12-31 00:00:00", "export_date_from": "detected"}
        )
    )

    lines = text.splitlines()
    assert lines[0] == "ledger: 13 rows read = 6 accepted + 2 merged + 2 set aside + 3 quarantined"
    assert "orders: 10 read, 4 accepted, 2 merged, 2 set aside, 2 quarantined" in text
    assert "orders.ordered_at: after the export: 2" in text
    assert "values nulled in kept rows: 2; rows flagged: 1" in text
    assert "export date: 2024-12-31 00:00:00 (detected)" in text
    assert lines[-1].endswith("data/ledger/")


def test_metrics_keep_the_table_counts_and_add_the_totals() -> None:
    ledger = build_ledger(SOURCE, TABLES)
    out = metrics(ledger, {"orders": {"rows_read": 5, "rows_accepted": 4, "rows_quarantined": 1}})
    assert out["orders"] == {"rows_read": 5, "rows_accepted": 4, "rows_quarantined": 1}
    assert out["ledger"]["read"] == 13 and out["ledger"]["quarantined"] == 3
    assert "rows_read" not in out["ledger"]


def test_the_headline_counts_the_reasons_it_does_not_name() -> None:
    """Reviewed: "9 set aside (duplicate_row: 3, order_with_several_customers: 2,
    unknown customer: 2)": five of nine, and no word of the other two reasons."""
    source = {
        "kind": "files",
        "inputs": {
            "orders": {
                "file": "orders.csv",
                "tables": ["orders"],
                "report": {
                    "rows_read": 20,
                    "rows_used": 11,
                    **{"a": 3, "b": 2, "c": 2, "d": 1, "e": 1},  # rows set aside, by reason
                },
            }
        },
    }
    tables = {
        "orders": {
            "rows_read": 11,
            "inputs": {"orders": {"accepted": 11, "merged": 0, "quarantined": 0, "reasons": {}}},
        }
    }
    text = render_headline(build_ledger(source, tables))
    assert (
        "9 set aside, 0 quarantined (a: 3, b: 2, c: 2, 2 more reasons: 2, reports/ledger.json)"
        in text
    )
