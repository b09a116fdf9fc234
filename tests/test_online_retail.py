"""Tests for pipeline.sources.online_retail: UCI Online Retail lines -> canonical tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import schema
from pipeline.sources.online_retail import (
    FILES,
    NON_PRODUCT_PREFIXES,
    REASONS,
    SourceResult,
    load_online_retail,
    map_online_retail,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "online_retail"
UK = "United Kingdom"


def strings(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype=pd.StringDtype())


def stamps(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="ISO8601"), dtype="datetime64[us]")


def floats(*values: float) -> pd.Series:
    return pd.Series(list(values), dtype="float64")


def reasons(**counts: int) -> dict[str, int]:
    return {r: counts.get(r, 0) for r in REASONS}


def sheet_2009_2010() -> pd.DataFrame:
    """Online Retail II layout (the earlier file): one line per case, reason in comments."""
    rows = [
        ("489434", "85048", 12, "2009-12-01 07:45:00", 6.95, 13085, UK),  # purchase
        ("489434", "79323p", 12, "2009-12-01 07:45:00", 6.75, 13085, UK),  # purchase
        ("489435", "POST", 1, "2009-12-02 10:00:00", 18.0, 13085, UK),  # postage-only order
        ("489436", "85048", 5, "2009-12-03 11:00:00", 6.95, None, UK),  # no_customer_id
        ("C489437", "85048", -2, "2009-12-04 12:00:00", 6.95, 13085, UK),  # return
        ("489434", "85048", 12, "2009-12-01 07:45:00", 6.95, 13085, UK),  # duplicate_line
        ("536365", "85123A", 6, "2010-12-01 08:26:00", 2.55, 17850, UK),  # overlap
        ("489438", "85048", 0, "2009-12-05 10:00:00", 6.95, 13086, UK),  # nonpositive_quantity
        ("489439", "85048", 3, "2009-12-05 11:00:00", 0.0, 13086, UK),  # nonpositive_price
        ("A506401", "B", 1, "2010-04-29 13:36:00", -53594.36, None, UK),  # adjustment
        ("C489441", "85048", 1, "2009-12-06 10:00:00", 6.95, 13086, UK),  # C with qty >= 0
        ("489442", "DCGS0058", 1, "2009-12-06 11:00:00", 0.83, None, UK),  # non_product_code
        ("489443", "gift_0001_20", 1, "2009-12-06 12:00:00", 17.02, 13086, UK),  # non_product
        ("489444", "47503J ", 1, "2009-12-07 10:00:00", 16.13, 13087, UK),  # purchase
        ("489445", "85048", 1, "2009-12-08 10:00:00", 6.95, 13088, UK),  # several customers
        ("489445", "79323P", 1, "2009-12-08 10:00:00", 6.75, 13089, UK),  # several customers
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "Invoice",
            "StockCode",
            "Quantity",
            "InvoiceDate",
            "Price",
            "Customer ID",
            "Country",
        ],
    )
    frame.insert(2, "Description", "nan")
    frame["Quantity"] = frame["Quantity"].astype("Int64")
    frame["Customer ID"] = frame["Customer ID"].astype("Int64")
    return frame


def file_2010_2011() -> pd.DataFrame:
    """Online Retail layout (the later file): float customer ids, as stored."""
    rows = [
        ("536365", "85123A", 6, "2010-12-01 08:26:00", 2.55, 17850.0, UK),  # purchase
        ("536365", "71053", 6, "2010-12-01 08:26:00", 3.39, 17850.0, UK),  # purchase
        ("C536379", "D", -1, "2010-12-01 09:41:00", 27.5, 14527.0, UK),  # a discount back
        ("C536383", "35004C", -1, "2010-12-01 09:49:00", 4.65, 15311.0, UK),  # return
        ("536414", "22139", 56, "2010-12-01 11:52:00", 0.0, np.nan, UK),  # no_customer_id
        ("536365", "71053", 6, "2010-12-01 08:26:00", 3.39, 17850.0, UK),  # duplicate_line
        ("540000", "22139", 3, "2011-01-05 10:00:00", 4.0, 13085.0, "EIRE"),  # purchase
        ("540001", "22139", 1, "2011-01-06 00:00:00", 4.0, 17850.0, "France"),  # purchase
        ("540002", "22139", 2, "2011-01-07 25:00:00", 4.0, 17850.0, UK),  # unparseable date
    ]
    return later_layout(rows)


def later_layout(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (invoice, stock code, quantity, date, price, customer, country) as the
    2010-2011 file stores them."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "InvoiceNo",
            "StockCode",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ],
    )
    frame.insert(2, "Description", "X")
    return frame


def test_tiny_frames_of_both_layouts_map_to_exact_tables() -> None:
    earlier, later = sheet_2009_2010(), file_2010_2011()
    result = map_online_retail([later, earlier])

    expected_orders = pd.DataFrame(
        {
            # 489435 billed only postage: a purchase (the customer paid), no product
            "order_id": strings("489434", "489435", "489444", "536365", "540000", "540001"),
            "customer_id": strings("13085", "13085", "13087", "17850", "13085", "17850"),
            "ordered_at": stamps(
                "2009-12-01 07:45:00",
                "2009-12-02 10:00:00",
                "2009-12-07 10:00:00",
                "2010-12-01 08:26:00",
                "2011-01-05 10:00:00",
                "2011-01-06 00:00:00",
            ),
            "amount": floats(12 * 6.95 + 12 * 6.75, 18.0, 16.13, 6 * 2.55 + 6 * 3.39, 12.0, 4.0),
            "quantity": floats(24, 0, 1, 12, 3, 1),
            "distinct_products": floats(2, 0, 1, 2, 1, 1),
        }
    )
    orders = result.tables["orders"]
    pd.testing.assert_frame_equal(orders[expected_orders.columns], expected_orders)
    unset = [c for c in schema.ORDERS.names if c not in expected_orders.columns]
    assert orders[unset].isna().all().all()

    expected_lines = pd.DataFrame(
        {
            "order_id": strings(
                "489434", "489434", "489444", "536365", "536365", "540000", "540001"
            ),
            "line_no": pd.Series([0, 1, 0, 0, 1, 0, 0], dtype="int64"),
            "customer_id": strings("13085", "13085", "13087", "17850", "17850", "13085", "17850"),
            "ordered_at": stamps(
                "2009-12-01 07:45:00",
                "2009-12-01 07:45:00",
                "2009-12-07 10:00:00",
                "2010-12-01 08:26:00",
                "2010-12-01 08:26:00",
                "2011-01-05 10:00:00",
                "2011-01-06 00:00:00",
            ),
            # stock codes upper-cased and stripped: "79323p" is "79323P", "47503J " is "47503J"
            "product_id": strings(
                "85048", "79323P", "47503J", "85123A", "71053", "22139", "22139"
            ),
            "quantity": floats(12, 12, 1, 6, 6, 3, 1),
            "unit_price": floats(6.95, 6.75, 16.13, 2.55, 3.39, 4.0, 4.0),
        }
    )
    pd.testing.assert_frame_equal(result.tables["order_lines"], expected_lines)

    expected_returns = pd.DataFrame(
        {
            "return_id": strings("C489437", "C536379", "C536383"),
            "customer_id": strings("13085", "14527", "15311"),
            "returned_at": stamps(
                "2009-12-04 12:00:00", "2010-12-01 09:41:00", "2010-12-01 09:49:00"
            ),
            "amount": floats(2 * 6.95, 27.5, 4.65),
            "order_id": strings(None, None, None),
            "quantity": floats(2, 1, 1),
        }
    )
    pd.testing.assert_frame_equal(result.tables["returns"], expected_returns)

    customers = result.tables["customers"]
    # region: the country of the first invoice (13085 later buys from EIRE, 17850 from
    # France), known from that invoice on
    assert customers[["customer_id", "region"]].to_dict("list") == {
        "customer_id": ["13085", "13087", "14527", "15311", "17850"],
        "region": [UK, UK, UK, UK, UK],
    }
    assert (
        customers["attributes_observed_at"].tolist()
        == stamps(
            "2009-12-01 07:45:00",
            "2009-12-07 10:00:00",
            "2010-12-01 09:41:00",
            "2010-12-01 09:49:00",
            "2010-12-01 08:26:00",
        ).tolist()
    )
    assert customers["signup_at"].isna().all()
    assert customers[["acquisition_channel", "membership_tier", "referred_by"]].isna().all().all()
    assert list(result.tables) == ["customers", "orders", "order_lines", "returns"]
    for name, table in result.tables.items():
        assert tuple(table.columns) == schema.TABLES[name].names

    assert result.report == {
        "online_retail": {
            "rows_read": 9,
            "rows_used": 6,
            **reasons(unparseable_invoice_date=1, no_customer_id=1, duplicate_line=1),
        },
        "online_retail_ii": {
            "rows_read": 16,
            "rows_used": 5,
            **reasons(
                overlap_duplicate_period=1,
                adjustment=1,
                non_product_code=2,
                no_customer_id=1,
                duplicate_line=1,
                cancellation_nonnegative_quantity=1,
                nonpositive_quantity=1,
                nonpositive_price=1,
                invoice_with_several_customers=2,
            ),
        },
        "customers:derived": {"from_invoice_lines": 5, "with_several_countries": 2},
    }


def test_set_aside_rows_keep_the_file_columns_and_say_why() -> None:
    earlier = sheet_2009_2010()
    result = map_online_retail([file_2010_2011(), earlier], names=["new", "old"])

    aside = result.set_aside["old"]
    assert list(aside.columns) == [*earlier.columns, "reason"]
    assert aside.index.tolist() == [3, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15]
    assert aside["reason"].tolist() == [
        "no_customer_id",
        "duplicate_line",
        "overlap_duplicate_period",
        "nonpositive_quantity",
        "nonpositive_price",
        "adjustment",
        "cancellation_nonnegative_quantity",
        "non_product_code",
        "non_product_code",
        "invoice_with_several_customers",
        "invoice_with_several_customers",
    ]
    pd.testing.assert_frame_equal(aside.drop(columns="reason"), earlier.loc[aside.index])
    assert result.set_aside["new"]["reason"].tolist() == [
        "no_customer_id",
        "duplicate_line",
        "unparseable_invoice_date",
    ]


def test_an_order_cancelled_in_full_the_same_day_never_happened() -> None:
    """Customer 16446 ordered 80,995 pieces (168,469.60) and cancelled them twelve
    minutes later, the file's last day: the order made them #1 on the call list, worth
    9,891 a quarter. An invoice undone in full on its day is set aside with its
    cancellation; a cancellation on a later day, or of part of it, stays a return."""
    rows = [
        ("581483", "23843", 80995, "2011-12-09 09:15:00", 2.08, 16446.0, UK),  # undone
        ("C581484", "23843", -80995, "2011-12-09 09:27:00", 2.08, 16446.0, UK),  # undoes it
        ("553573", "22980", 1, "2011-05-18 09:52:00", 1.65, 16446.0, UK),  # kept
        ("553573", "22982", 1, "2011-05-18 09:52:00", 1.25, 16446.0, UK),  # kept
        ("560000", "22139", 4, "2011-07-14 10:00:00", 4.0, 13085.0, UK),  # kept: its
        ("C560050", "22139", -4, "2011-07-15 09:00:00", 4.0, 13085.0, UK),  # return a day on
        ("560100", "22139", 4, "2011-07-20 10:00:00", 4.0, 13085.0, UK),  # kept: part of
        ("560100", "22138", 2, "2011-07-20 10:00:00", 3.0, 13085.0, UK),  # it
        ("C560101", "22139", -4, "2011-07-20 11:00:00", 4.0, 13085.0, UK),  # is returned
        ("C560200", "22139", -4, "2011-07-21 09:00:00", 4.0, 13085.0, UK),  # before its
        ("560201", "22139", 4, "2011-07-21 10:00:00", 4.0, 13085.0, UK),  # order: both kept
        # 15802's only order, a manual entry of 451.42, came between two identical
        # cancellations: the one before it cancels nothing of theirs and stays a return,
        # the one two minutes after undoes it (it used to be paired with the first, fail
        # the time check, and leave the order standing: #8 on the call list)
        ("C560645", "M", -1, "2011-07-20 11:23:00", 451.42, 15802.0, UK),
        ("560651", "M", 1, "2011-07-20 11:38:00", 451.42, 15802.0, UK),  # undone
        ("C560653", "M", -1, "2011-07-20 11:40:00", 451.42, 15802.0, UK),  # undoes it
        ("560660", "M", 1, "2011-07-20 12:00:00", 451.42, 15802.0, UK),  # kept: nothing
    ]
    result = map_online_retail([later_layout(rows)], names=["f"])

    assert result.set_aside["f"]["reason"].tolist() == ["cancelled_the_same_day"] * 4
    assert result.set_aside["f"].index.tolist() == [0, 1, 12, 13]
    assert result.report["f"]["cancelled_the_same_day"] == 4
    orders = result.tables["orders"].set_index("order_id")["amount"]
    assert orders.to_dict() == pytest.approx(
        {"553573": 2.90, "560000": 16.0, "560100": 22.0, "560201": 16.0, "560660": 451.42}
    )
    assert sorted(result.tables["returns"]["return_id"]) == [
        "C560050",
        "C560101",
        "C560200",
        "C560645",
    ]


def test_overlap_goes_to_the_later_file_whatever_the_order_given() -> None:
    one = map_online_retail([file_2010_2011(), sheet_2009_2010()])
    other = map_online_retail([sheet_2009_2010(), file_2010_2011()])
    for name in one.tables:
        pd.testing.assert_frame_equal(one.tables[name], other.tables[name])
    assert one.report == other.report


def test_inputs_are_not_mutated() -> None:
    earlier, later = sheet_2009_2010(), file_2010_2011()
    map_online_retail([later, earlier])
    pd.testing.assert_frame_equal(earlier, sheet_2009_2010())
    pd.testing.assert_frame_equal(later, file_2010_2011())


def test_unknown_layout_and_bad_names_raise() -> None:
    frame = file_2010_2011().rename(columns={"UnitPrice": "Cost"})
    with pytest.raises(ValueError, match=r"'Cost'.*match no Online Retail layout"):
        map_online_retail([frame])
    with pytest.raises(ValueError, match="one per frame"):
        map_online_retail([file_2010_2011()], names=["a", "b"])


def test_missing_files_are_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"online_retail_2010_2011\.parquet"):
        load_online_retail(tmp_path)


# ------------------------------------------------------------------ real data

needs_data = pytest.mark.skipif(
    not all((DATA / name).is_file() for name in FILES), reason=f"no Online Retail files in {DATA}"
)


@pytest.fixture(scope="module")
def real() -> SourceResult:
    return load_online_retail(DATA)


@pytest.fixture(scope="module")
def raw_2010_2011() -> pd.DataFrame:
    return pd.read_parquet(DATA / FILES[0])


@needs_data
def test_real_files_are_fully_accounted_for(real: SourceResult) -> None:
    assert real.report[FILES[0]] == {
        "rows_read": 541_909,
        "rows_used": 400_650,
        **reasons(
            adjustment=3,
            non_product_code=79,
            no_customer_id=134_998,
            duplicate_line=5_225,
            nonpositive_price=40,
            cancelled_the_same_day=914,
        ),
    }
    assert real.report[FILES[1]] == {
        "rows_read": 525_461,
        "rows_used": 395_340,
        **reasons(
            overlap_duplicate_period=22_523,
            adjustment=3,
            non_product_code=265,
            no_customer_id=100_019,
            duplicate_line=6_451,
            nonpositive_price=28,
            cancelled_the_same_day=832,
        ),
    }
    for name in FILES:
        counts = real.report[name]
        set_aside = sum(v for k, v in counts.items() if k not in ("rows_read", "rows_used"))
        assert counts["rows_read"] == counts["rows_used"] + set_aside
        assert len(real.set_aside[name]) == set_aside
    used = sum(real.report[name]["rows_used"] for name in FILES)
    # lines used but not order lines: cancellations, and fees billed with an order
    other_lines = used - len(real.tables["order_lines"])
    assert (len(real.tables["order_lines"]), other_lines) == (775_754, 20_236)
    assert {name: len(table) for name, table in real.tables.items()} == {
        "customers": 5_920,
        "orders": 36_783,
        "order_lines": 775_754,
        "returns": 7_727,
    }


@needs_data
def test_real_tables_have_unique_keys_and_known_customers(
    real: SourceResult, raw_2010_2011: pd.DataFrame
) -> None:
    tables = real.tables
    for name, table in tables.items():
        key = list(schema.TABLES[name].key)
        assert not table.duplicated(key).any(), name
        assert tuple(table.columns) == schema.TABLES[name].names
    known = set(tables["customers"]["customer_id"])
    for name in ("orders", "order_lines", "returns"):
        assert set(tables[name]["customer_id"]) <= known
        assert tables[name]["customer_id"].str.fullmatch(r"\d{5}").all()
    # the overlap days come from one file: each 2010-12-01..09 purchase invoice of the
    # 2010-2011 file once (but one cancelled in full the same day), and nothing else
    orders = tables["orders"]
    ordered_at = orders["ordered_at"]
    overlap = orders[(ordered_at >= "2010-12-01") & (ordered_at < "2010-12-10")]
    raw = raw_2010_2011
    code = raw["StockCode"].str.strip().str.upper()
    reference = raw[
        (raw["InvoiceDate"] < "2010-12-10")
        & raw["InvoiceNo"].str.fullmatch(r"\d+")
        & (raw["Quantity"] > 0)
        & (raw["UnitPrice"] > 0)
        & raw["CustomerID"].notna()
        & ~code.str.startswith(NON_PRODUCT_PREFIXES)
    ]
    aside = real.set_aside[FILES[0]]
    undone = set(aside.loc[aside["reason"] == "cancelled_the_same_day", "InvoiceNo"])
    reference = reference[~reference["InvoiceNo"].isin(undone)]
    assert sorted(overlap["order_id"]) == sorted(reference["InvoiceNo"].unique())
    assert len(overlap) == 775
    assert (orders["amount"] > 0).all() and (tables["returns"]["amount"] > 0).all()


@needs_data
def test_real_reference_figures(real: SourceResult, raw_2010_2011: pd.DataFrame) -> None:
    """The data README's figures: 3,370 buyers before 2011-09-10, 1,449 silent after it.

    The README counts any non-C line with quantity > 0 and a customer id as a purchase.
    So do the canonical orders: a manual entry (15802, code M) or bank charges (15823)
    billed on an invoice are a purchase too, though not of a product. Two of the 3,370
    bought nothing: 12346's only order (74,215 storage jars, 77,183.60) was cancelled 16
    minutes later, and 15802's (a manual entry of 451.42) 2 minutes later, so the
    canonical orders hold 3,368, and 1,448 of them bought nothing after.
    """
    cutoff = pd.Timestamp("2011-09-10")
    orders = real.tables["orders"]
    in_period = orders["ordered_at"] >= pd.Timestamp("2010-12-01")
    before = set(orders.loc[in_period & (orders["ordered_at"] < cutoff), "customer_id"])
    after = set(orders.loc[orders["ordered_at"] >= cutoff, "customer_id"])
    assert (len(before), len(before - after)) == (3_368, 1_448)

    raw = raw_2010_2011
    purchase = (
        ~raw["InvoiceNo"].str.startswith("C") & (raw["Quantity"] > 0) & raw["CustomerID"].notna()
    )
    bought = raw[purchase].assign(customer_id=raw["CustomerID"].astype("Int64").astype(str))
    at = pd.to_datetime(bought["InvoiceDate"])
    ref_before = set(bought.loc[at < cutoff, "customer_id"])
    ref_after = set(bought.loc[at >= cutoff, "customer_id"])
    assert (len(ref_before), len(ref_before - ref_after)) == (3_370, 1_449)
    assert ref_before - before == {"12346", "15802"} and before <= ref_before
    # 13256's one line after the cutoff has price 0 (12,540 units given away): not a sale;
    # 16446's (80,995 pieces, 168,469.60) was cancelled twelve minutes later
    assert ref_after - after == {"13256", "16446"} and after <= ref_after

    # the same purchases, put back together from what was set aside, give the README's sets
    aside = real.set_aside[FILES[0]]
    back = aside[
        aside["reason"].isin(
            ["non_product_code", "nonpositive_price", "duplicate_line", "cancelled_the_same_day"]
        )
        & ~aside["InvoiceNo"].str.startswith("C")
        & (aside["Quantity"] > 0)
        & aside["CustomerID"].notna()
    ]
    back_at = pd.to_datetime(back["InvoiceDate"])
    back_ids = back["CustomerID"].astype("Int64").astype(str)
    assert before | set(back_ids[back_at < cutoff]) == ref_before
    assert after | set(back_ids[back_at >= cutoff]) == ref_after
