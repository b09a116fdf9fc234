"""The workbook, read back with openpyxl as a spreadsheet program would."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline import workbook
from pipeline.workbook import HOW_TO_READ, workbook_bytes

AS_OF = dt.datetime(2024, 12, 31)


@pytest.fixture
def lists() -> tuple[pd.DataFrame, pd.DataFrame]:
    call = pd.DataFrame(
        {
            "as_of": [dt.date(2024, 12, 31)] * 2,
            "rank": [1, 2],
            "customer_id": ["C1", "C2"],
            "churn_probability": [0.8123, 0.5],
            "expected_value": [280000.55, 12.3],
            "reason_1": ["1 complaint open for 34 days", None],
        }
    )
    return call, call.iloc[:0]


def read(data: bytes):
    return load_workbook(io.BytesIO(data))


def build(call: pd.DataFrame, winback: pd.DataFrame) -> bytes:
    return workbook_bytes(
        [("Call list", "who to call", call), ("Win-back", "lapsed", winback)],
        about=[("As of", "2024-12-31"), ("Horizon", "90 days"), ("Currency", "GBP")],
        columns={c: f"meaning of {c}" for c in call.columns},
        money=("expected_value",),
        percent=("churn_probability",),
        dates=("as_of",),
        as_of=AS_OF,
    )


def test_sheets_values_and_formats_read_back(lists) -> None:
    wb = read(build(*lists))

    assert wb.sheetnames == [HOW_TO_READ, "Call list", "Win-back"]
    ws = wb["Call list"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == (
        "as_of",
        "rank",
        "customer_id",
        "churn_probability",
        "expected_value",
        "reason_1",
    )
    assert rows[1][1:] == (1, "C1", 0.8123, 280000.55, "1 complaint open for 34 days")
    assert rows[1][0] == dt.datetime(2024, 12, 31)
    assert rows[2][5] is None
    assert ws["E2"].number_format == "#,##0.00"  # money with cents
    assert ws["D2"].number_format == "0.0%"
    assert ws["A2"].number_format == "yyyy-mm-dd"
    assert ws["B2"].number_format == "General"
    # header frozen, filters on over the whole table, header bold
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F3"
    assert ws["A1"].font.b


def test_how_to_read_sheet_has_the_facts_and_every_column(lists) -> None:
    ws = read(build(*lists))[HOW_TO_READ]
    pairs = [(a, b) for a, b in ws.iter_rows(values_only=True) if a]

    assert ("As of", "2024-12-31") in pairs
    assert ("Horizon", "90 days") in pairs
    assert ("Currency", "GBP") in pairs
    assert ("Call list", "who to call") in pairs
    for column in lists[0].columns:
        assert (column, f"meaning of {column}") in pairs


def test_an_empty_list_is_a_header_only_sheet(lists) -> None:
    ws = read(build(*lists))["Win-back"]

    assert list(ws.iter_rows(values_only=True)) == [tuple(lists[0].columns)]


def test_bytes_are_reproducible(lists) -> None:
    assert build(*lists) == build(*lists)
    props = read(build(*lists)).properties
    assert props.created == AS_OF and props.modified == AS_OF


def test_a_long_sheet_keeps_its_first_rows_and_says_so(lists, monkeypatch) -> None:
    monkeypatch.setattr(workbook, "MAX_ROWS", 3)  # Excel's limit, header included
    call = pd.concat([lists[0]] * 3, ignore_index=True)

    wb = read(build(call, lists[1]))

    assert wb["Call list"].max_row == 3
    notes = dict(wb[HOW_TO_READ].iter_rows(values_only=True, min_col=1, max_col=2))
    assert notes["Call list"] == "who to call (first 2 of 6 rows; every row is in the CSV)"


def test_max_rows_caps_every_sheet(lists) -> None:
    call = pd.concat([lists[0]] * 5, ignore_index=True)
    data = workbook_bytes(
        [("Call list", "who to call", call)], about=[], columns={}, as_of=AS_OF, max_rows=4
    )

    wb = read(data)

    assert wb["Call list"].max_row == 5  # header and four rows
    assert wb["Call list"].auto_filter.ref == "A1:F5"


def test_missing_and_numpy_values_are_written_as_cells() -> None:
    frame = pd.DataFrame(
        {"a": pd.array([1, None], dtype="Int64"), "b": [np.float64(2.5), np.nan], "c": ["x", "y"]}
    )
    data = workbook_bytes([("S", "s", frame)], about=[], columns={}, as_of=AS_OF)

    rows = list(read(data)["S"].iter_rows(values_only=True))

    assert rows[1:] == [(1, 2.5, "x"), (None, None, "y")]


def test_text_that_looks_like_a_formula_stays_text() -> None:
    frame = pd.DataFrame({"customer_id": ['=HYPERLINK("http://x")', "+1", "C3"]})
    data = workbook_bytes([("S", "s", frame)], about=[], columns={}, as_of=AS_OF)

    ws = read(data)["S"]

    assert [c.value for c in ws["A"]][1:] == ['=HYPERLINK("http://x")', "+1", "C3"]
    assert {c.data_type for c in ws["A"]} == {"s"}


def test_days_keep_the_precision_the_csv_gives_them(lists) -> None:
    call = lists[0].assign(days_since_last_order=[34.349, 2.0], usual_gap_days=[9.65, None])
    data = workbook_bytes(
        [("Call list", "who to call", call)],
        about=[],
        columns={},
        number_formats={"days_since_last_order": "0", "usual_gap_days": "0.0"},
        as_of=AS_OF,
    )

    ws = read(data)["Call list"]

    assert (ws["G2"].value, ws["G2"].number_format) == (34.349, "0")  # the value stays exact
    assert (ws["H2"].value, ws["H2"].number_format) == (9.65, "0.0")
    assert ws["H3"].value is None
