"""UCI Online Retail and Online Retail II invoice lines -> the canonical tables.

The data (UCI Machine Learning Repository; Chen, Sain & Guo 2012; CC BY 4.0) are
invoice lines of a UK online gift retailer. Mapping them honestly means:

- the two files overlap on 2010-12-01 .. 2010-12-09: those days are taken from the
  file that starts later (the 2010-2011 one), the other file's lines are set aside;
- a purchase is a line of a non-``C`` invoice with quantity > 0 and price > 0; one
  order per invoice, one order line per product line. Postage, carriage, manual
  charges and bank charges billed on an invoice are part of what the customer paid:
  they count in the order's amount but are not products (no order line), and an
  invoice of nothing else is still a purchase (the data README's 3,370 buyers before
  2011-09-10 include two such customers);
- a ``C`` invoice is a cancellation, mapped to the ``returns`` table: returns are the
  "silent complaints" of customers who never wrote in. The data do not link a
  cancellation to the invoice it cancels, so ``returns.order_id`` stays null;
- customers are known only through their lines: ``signup_at`` stays null, because a
  first purchase in the data is not a signup (the shop existed before the extract).
  A customer's region is the country of their first invoice, observed then
  (``attributes_observed_at``): the most common country over the whole file would
  read invoices after every cutoff;
- an invoice cancelled in full on the day it was placed (a ``C`` invoice with exactly
  its lines, same customer and day) never happened: both are set aside by rule
  (``cancelled_the_same_day``). Cutoffs fall on the start of a day, so none sees one
  without the other; a cancellation on a later day stays a return;
- everything else (no customer id, test and adjustment codes, bad-debt adjustments,
  exact duplicate lines, non-positive quantities or prices) is set aside with a
  reason, and
  each file is accounted for: ``rows_read == rows_used + sum(set aside per reason)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import schema
from pipeline.ledger import INPUT, LINE, ROWS
from pipeline.sources.files import (
    ROWS_READ,
    ROWS_USED,
    SourceResult,
    check_accounting,
    clean_text,
    conform_table,
    count_reasons,
    parse_ids,
    provenance_frame,
    read_table_file,
    set_aside_rows,
)

log = logging.getLogger(__name__)

FILES = ("online_retail_2010_2011.parquet", "online_retail_II_2009_2010_sheet.parquet")

# file column -> internal name, per layout of the two UCI releases
LAYOUTS: dict[str, dict[str, str]] = {
    "online_retail": {
        "InvoiceNo": "invoice",
        "StockCode": "stock_code",
        "Description": "description",
        "Quantity": "quantity",
        "InvoiceDate": "invoice_date",
        "UnitPrice": "price",
        "CustomerID": "customer_id",
        "Country": "country",
    },
    "online_retail_ii": {
        "Invoice": "invoice",
        "StockCode": "stock_code",
        "Description": "description",
        "Quantity": "quantity",
        "InvoiceDate": "invoice_date",
        "Price": "price",
        "Customer ID": "customer_id",
        "Country": "country",
    },
}

# Stock codes that are not goods but are billed to the customer on the invoice, read
# off both files (upper-cased): postage and carriage (POST, DOT, C2, C3), manual
# entries (M), discounts (D), samples (S), fees and commissions (BANK CHARGES,
# AMAZONFEE, CRUK), bad-debt adjustments (B), a 0.001 filler (PADS) and gift vouchers
# (GIFT). They count in an order's (or a cancellation's) amount, never as products.
NON_PRODUCT_CODES = frozenset(
    {
        "POST",
        "DOT",
        "C2",
        "C3",
        "M",
        "D",
        "S",
        "B",
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",
        "PADS",
        "GIFT",
    }
)
# ADJUST/ADJUST2 manual adjustments, TEST001/TEST002 test products, DCGS... the
# Dotcom/eBay channel's own codes (never with a customer id), gift_0001_<value> vouchers:
# not a sale to the customer, set aside.
NON_PRODUCT_PREFIXES = ("ADJUST", "TEST", "DCGS", "GIFT_")

# Reasons that are this adapter's documented rules, not damage to the data: guest
# lines without a customer, fees and adjustments, the days one file repeats. They are
# set aside and accounted for like any other, but do not count as bad rows
# (ingest.max_bad_share, on_bad_rows: fail).
BY_RULE = (
    "overlap_duplicate_period",
    "adjustment",
    "non_product_code",
    "no_customer_id",
    "cancelled_the_same_day",
)

INVOICE_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Set-aside reasons, in the order they are tested: a line gets the first that applies.
REASONS = (
    "unparseable_invoice_date",
    "unparseable_quantity",
    "unparseable_price",
    "overlap_duplicate_period",
    "adjustment",
    "non_product_code",
    "no_customer_id",
    "duplicate_line",
    "cancellation_nonnegative_quantity",
    "nonpositive_quantity",
    "nonpositive_price",
    "invoice_with_several_customers",
    "cancelled_the_same_day",
)


def load_online_retail(directory: str | Path) -> SourceResult:
    """Read both UCI Online Retail files from ``directory`` and map them.

    Parameters
    ----------
    directory
        Holds ``online_retail_2010_2011.parquet`` and
        ``online_retail_II_2009_2010_sheet.parquet``.

    Returns
    -------
    SourceResult
        See :func:`map_online_retail`; report and set-aside rows are keyed by file name.

    Raises
    ------
    FileNotFoundError
        If either file is missing (the message names the path).
    """
    directory = Path(directory)
    missing = [str(directory / name) for name in FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"Online Retail files not found: {missing}")
    frames = [read_table_file(directory / name) for name in FILES]
    return map_online_retail(frames, names=FILES)


def _layout(frame: pd.DataFrame, name: str) -> str:
    for layout, columns in LAYOUTS.items():
        if set(columns) == set(frame.columns):
            return layout
    expected = {layout: list(columns) for layout, columns in LAYOUTS.items()}
    raise ValueError(
        f"{name}: columns {list(frame.columns)} match no Online Retail layout {expected}"
    )


def _numbers(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text = clean_text(values).to_numpy(dtype=object, na_value=None)
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    return pd.Series(numbers, index=values.index)


def _invoice_times(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype("datetime64[us]")
    stamps = pd.to_datetime(clean_text(values), format=INVOICE_DATE_FORMAT, errors="coerce")
    return stamps.astype("datetime64[us]")


def _normalise(frame: pd.DataFrame, name: str, position: int) -> pd.DataFrame:
    """One file's lines under internal names, parsed; ``file`` is the frame's position."""
    lines = frame.rename(columns=LAYOUTS[_layout(frame, name)]).reset_index(drop=True)
    return pd.DataFrame(
        {
            "file": np.full(len(lines), position, dtype="int64"),
            # the row's position in its file, from 1 (Parquet files have no lines)
            "line": np.arange(1, len(lines) + 1, dtype="int64"),
            "invoice": clean_text(lines["invoice"]),
            # "85123a" and "85123A" are one product; one file pads a code with a space
            "product_id": clean_text(lines["stock_code"]).str.upper(),
            "quantity": _numbers(lines["quantity"]),
            "price": _numbers(lines["price"]),
            "invoiced_at": _invoice_times(lines["invoice_date"]),
            "customer_id": parse_ids(lines["customer_id"]),
            "country": clean_text(lines["country"]),
            # exact duplicates of an earlier line of the same file, as stored
            "duplicate": frame.duplicated(keep="first").to_numpy(),
        }
    )


def _overlap_starts(lines: pd.DataFrame, n_files: int) -> np.ndarray:
    """Per file, the first day taken from a later-starting file instead (NaT: none)."""
    starts = lines.groupby("file")["invoiced_at"].min().reindex(range(n_files))
    order = sorted(
        range(n_files),
        key=lambda i: (starts[i] if pd.notna(starts[i]) else pd.Timestamp.max, i),
    )
    cut = np.full(n_files, np.datetime64("NaT"), dtype="datetime64[us]")
    for rank, i in enumerate(order):
        later = [starts[j] for j in order[rank + 1 :] if pd.notna(starts[j])]
        if later:
            cut[i] = np.datetime64(min(later).floor("D"), "us")
    return cut


def _reasons(lines: pd.DataFrame, n_files: int) -> pd.Series:
    invoice = lines["invoice"]
    is_cancellation = invoice.str.startswith("C").fillna(False).to_numpy(dtype=bool)
    stock = lines["product_id"]
    non_product = stock.str.startswith(NON_PRODUCT_PREFIXES).fillna(False).to_numpy(dtype=bool)
    cut = _overlap_starts(lines, n_files)[lines["file"].to_numpy()]
    at = lines["invoiced_at"].to_numpy()
    quantity, price = lines["quantity"].to_numpy(), lines["price"].to_numpy()
    conditions = [
        np.isnat(at),
        np.isnan(quantity),
        np.isnan(price),
        ~np.isnat(cut) & (at >= cut),
        invoice.str.startswith("A").fillna(False).to_numpy(dtype=bool),
        non_product,
        lines["customer_id"].isna().to_numpy(),
        lines["duplicate"].to_numpy(),
        is_cancellation & (quantity >= 0),
        ~is_cancellation & (quantity <= 0),
        price <= 0,
    ]
    codes = np.select(conditions, list(range(len(conditions))), default=-1)
    # invoices are orders and returns: one customer each, or they cannot be attributed
    candidate = codes == -1
    owners = lines.loc[candidate, ["invoice", "customer_id"]]
    several = (owners.groupby("invoice")["customer_id"].transform("nunique") > 1).to_numpy()
    codes[np.flatnonzero(candidate)[several]] = REASONS.index("invoice_with_several_customers")
    undone = _cancelled_the_same_day(lines[codes == -1])
    codes[np.flatnonzero(codes == -1)[undone]] = REASONS.index("cancelled_the_same_day")
    return pd.Series(pd.Categorical.from_codes(codes, categories=REASONS), index=lines.index)


def _cancelled_the_same_day(lines: pd.DataFrame) -> np.ndarray:
    """Which lines belong to an invoice cancelled in full on the day it was placed, or to
    the cancellation itself.

    A ``C`` invoice with exactly the lines of an earlier invoice of the same customer and
    day (products, quantities, prices) undoes it: the 80,995-piece order of customer 16446
    (168,469.60) cancelled twelve minutes later made them the shop's most valuable
    customer on every list. Both invoices are set aside by rule. Cutoffs fall on the
    start of a day, so no cutoff ever sees the order without its cancellation: nothing
    after a cutoff leaks into it. A cancellation on a later day stays a return (at the
    cutoffs between, the order was real). Each cancellation undoes one order, the
    earliest of that day's identical ones not yet undone.
    """
    if lines.empty:
        return np.zeros(0, dtype=bool)
    quantity = lines["quantity"].abs().map("{:g}".format)
    line = (
        lines["product_id"].fillna("") + ":" + quantity + ":" + lines["price"].map("{:g}".format)
    )
    invoices = (
        pd.DataFrame(
            {
                "invoice": lines["invoice"].to_numpy(),
                "customer": lines["customer_id"].astype("string").to_numpy(),
                "at": lines["invoiced_at"].to_numpy(),
                "line": line.to_numpy(),
            }
        )
        .groupby("invoice", sort=False)
        .agg(
            customer=("customer", "first"),
            at=("at", "min"),
            lines=("line", lambda v: "|".join(sorted(v))),
        )
    )
    invoices["key"] = (
        invoices["customer"]
        + "/"
        + invoices["at"].dt.strftime("%Y-%m-%d")
        + "/"
        + invoices["lines"]
    )
    invoices["cancel"] = invoices.index.str.startswith("C")
    # only keys holding both an order and a cancellation can pair (a few hundred)
    both = invoices.groupby("key")["cancel"].transform("nunique") == 2
    # in time order, an order before a cancellation of the same minute
    events = invoices[both].sort_values(["key", "at", "cancel"], kind="stable")
    undone: set[str] = set()
    for _, group in events.groupby("key", sort=False):
        waiting: list[str] = []  # this key's orders not yet undone, earliest first
        for invoice, cancel in zip(group.index, group["cancel"], strict=True):
            if not cancel:
                waiting.append(invoice)
            elif waiting:  # a cancellation before any order of its lines cancels none
                undone.update((waiting.pop(0), invoice))
    return lines["invoice"].isin(undone).to_numpy(dtype=bool)


def _is_fee(lines: pd.DataFrame) -> pd.Series:
    return lines["product_id"].isin(NON_PRODUCT_CODES).fillna(False)


def _orders(purchases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    fee = _is_fee(purchases)
    purchases = purchases.assign(
        amount=purchases["quantity"] * purchases["price"],
        product_quantity=purchases["quantity"].where(~fee, 0.0),
        product=purchases["product_id"].where(~fee),
    )
    groups = purchases.groupby("invoice", sort=False)
    orders = (
        pd.DataFrame(
            {
                "customer_id": groups["customer_id"].first(),
                # an invoice's lines can straddle a minute boundary: the order is placed
                # when its first line is
                "ordered_at": groups["invoiced_at"].min(),
                "amount": groups["amount"].sum(),
                "quantity": groups["product_quantity"].sum(),
                "distinct_products": groups["product"].nunique().astype("float64"),
                "file": groups["file"].first(),
                LINE: groups["line"].min(),
                ROWS: groups.size(),
            }
        )
        .rename_axis("order_id")
        .reset_index()
    )
    products = purchases[~fee.to_numpy()]
    lines = pd.DataFrame(
        {
            "order_id": products["invoice"],
            "line_no": products.groupby("invoice", sort=False).cumcount(),
            "customer_id": products["customer_id"],
            "ordered_at": groups["invoiced_at"].transform("min")[~fee.to_numpy()],
            "product_id": products["product_id"],
            "quantity": products["quantity"],
            "unit_price": products["price"],
        }
    )
    orders = orders.sort_values(["ordered_at", "order_id"], kind="stable")
    lines = lines.sort_values(["ordered_at", "order_id", "line_no"], kind="stable")
    return (
        conform_table(schema.ORDERS, orders),
        conform_table(schema.ORDER_LINES, lines),
        orders[["file", LINE, ROWS]].reset_index(drop=True),
    )


def _returns(cancellations: pd.DataFrame) -> pd.DataFrame:
    returned = cancellations.assign(
        quantity=cancellations["quantity"].abs(),
        amount=cancellations["quantity"].abs() * cancellations["price"],
    )
    groups = returned.groupby("invoice", sort=False)
    returns = (
        pd.DataFrame(
            {
                "customer_id": groups["customer_id"].first(),
                "returned_at": groups["invoiced_at"].min(),
                "amount": groups["amount"].sum(),
                "quantity": groups["quantity"].sum(),
                "file": groups["file"].first(),
                LINE: groups["line"].min(),
                ROWS: groups.size(),
            }
        )
        .rename_axis("return_id")
        .reset_index()
    )
    returns = returns.sort_values(["returned_at", "return_id"], kind="stable")
    return (
        conform_table(schema.RETURNS, returns),
        returns[["file", LINE, ROWS]].reset_index(drop=True),
    )


def _provenance(origin: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Bookkeeping columns of :mod:`pipeline.ledger`: the file's name for its position."""
    frame = provenance_frame("", origin[LINE].to_numpy(), origin[ROWS].to_numpy())
    frame[INPUT] = pd.array(
        np.asarray(names, dtype=object)[origin["file"].to_numpy()], dtype="string"
    )
    return frame


def _customers(used: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per customer; region = the country of their first invoice, known from then.

    The first invoice's country is a fact from the moment of that invoice on; a country
    chosen over the whole file (most invoices, say) would read every later invoice.
    """
    invoices = used[["customer_id", "country", "invoice", "invoiced_at"]].drop_duplicates(
        ["customer_id", "invoice"]
    )
    several = int(invoices.groupby("customer_id")["country"].nunique(dropna=False).gt(1).sum())
    first = invoices.sort_values(
        ["customer_id", "invoiced_at", "invoice"], kind="stable"
    ).drop_duplicates("customer_id", keep="first")
    customers = pd.DataFrame(
        {
            "customer_id": first["customer_id"],
            "region": first["country"],
            "attributes_observed_at": first["invoiced_at"],
        }
    )
    return conform_table(schema.CUSTOMERS, customers), several


def map_online_retail(
    frames: Sequence[pd.DataFrame], *, names: Sequence[str] | None = None
) -> SourceResult:
    """Map Online Retail invoice lines (either release's layout) to the canonical tables.

    Parameters
    ----------
    frames
        One frame per file, as stored, in the ``online_retail`` (2010-2011: InvoiceNo,
        UnitPrice, CustomerID) or ``online_retail_ii`` (Invoice, Price, Customer ID)
        layout. Where files overlap in time, the one that starts later is kept from
        its first day on.
    names
        A name per frame for the report and the set-aside rows (the file names);
        defaults to the layout name, suffixed by the position when repeated.

    Returns
    -------
    SourceResult
        Tables ``customers``, ``orders``, ``order_lines`` and ``returns``. ``report``
        and ``set_aside`` are keyed by frame name; every reason of :data:`REASONS` is
        reported (zeros too). ``report["customers:derived"]`` notes that customers
        come from the lines and how many appear with several countries.

    Raises
    ------
    ValueError
        If a frame's columns match neither layout, or ``names`` does not fit ``frames``.
    """
    if names is None:
        layouts = [_layout(frame, f"frame {i}") for i, frame in enumerate(frames)]
        names = [
            layout if layouts.count(layout) == 1 else f"{layout}_{i}"
            for i, layout in enumerate(layouts)
        ]
    if len(names) != len(frames) or len(set(names)) != len(names):
        raise ValueError(f"names {list(names)} must be distinct, one per frame ({len(frames)})")
    if not frames:
        raise ValueError("no Online Retail frames given")

    lines = pd.concat(
        [
            _normalise(frame, name, i)
            for i, (frame, name) in enumerate(zip(frames, names, strict=True))
        ],
        ignore_index=True,
    )
    reasons = _reasons(lines, len(frames))
    used = lines[reasons.isna().to_numpy()]
    is_cancellation = used["invoice"].str.startswith("C").to_numpy(dtype=bool)
    orders, order_lines, order_origin = _orders(used[~is_cancellation])
    returns, return_origin = _returns(used[is_cancellation])
    customers, several_countries = _customers(used)

    report: dict[str, dict[str, int]] = {}
    set_aside: dict[str, pd.DataFrame] = {}
    for i, (frame, name) in enumerate(zip(frames, names, strict=True)):
        in_file = (lines["file"] == i).to_numpy()
        file_reasons = reasons[in_file].set_axis(frame.index)
        report[name] = {
            ROWS_READ: len(frame),
            ROWS_USED: int(file_reasons.isna().sum()),
            **count_reasons(file_reasons, order=REASONS),
        }
        set_aside[name] = set_aside_rows(frame, file_reasons)
        log.info("%s: %s", name, report[name])
    report["customers:derived"] = {
        "from_invoice_lines": len(customers),
        "with_several_countries": several_countries,
    }
    check_accounting(report)
    details = {
        name: {
            "file": name,
            "tables": ["orders", "returns"],
            "read": {"format": "Parquet (UCI Online Retail layout)"},
            "merge_rule": "invoice lines summed into one order (or return) per invoice",
            "set_aside_by_rule": list(BY_RULE),
            "notes": [],
        }
        for i, name in enumerate(names)
    }
    return SourceResult(
        tables={
            "customers": customers,
            "orders": orders,
            "order_lines": order_lines,
            "returns": returns,
        },
        report=report,
        set_aside=set_aside,
        details=details,
        provenance={
            "orders": _provenance(order_origin, names),
            "returns": _provenance(return_origin, names),
        },
        derived={
            "order_lines": "the purchase lines of the invoices (one per line)",
            "customers": "the customer ids of the used lines, region = main country",
        },
    )
