"""The event-once design of ``pipeline.features``: per-event history, batches, exact sums.

``tests/test_features.py`` checks the feature values; these tests check what makes them
scale and stay reproducible: the running values each order carries, that computing the
cutoffs in batches gives the rows of one query, and that no result depends on the
order in which rows arrive (what threads combining partial sums in any order amounts to).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from pipeline.features import (
    PAIR_ID,
    available_features,
    build_features,
    features_at,
    order_history,
    prepare_events,
)
from pipeline.ingest import present_columns
from pipeline.labels import cutoff_table
from pipeline.loyalty import relationship_stage
from tests.conftest import canonical, ts
from tests.test_features import _random_shop, compute


def test_each_order_carries_its_customers_running_history(con) -> None:
    orders = canonical(
        "orders",
        [
            {"order_id": "a1", "customer_id": "A", "ordered_at": ts("2024-01-01 10:00"),
             "amount": 0.1, "channel": "web", "points_earned": 5.0},
            # same day: a second order, not a second purchase day
            {"order_id": "a2", "customer_id": "A", "ordered_at": ts("2024-01-01 18:00"),
             "amount": 0.2, "channel": "app"},
            # two orders at the same moment: ordered by id
            {"order_id": "a3", "customer_id": "A", "ordered_at": ts("2024-01-08 10:00"),
             "amount": 10.0, "channel": "web", "points_redeemed": 2.0},
            {"order_id": "a4", "customer_id": "A", "ordered_at": ts("2024-01-08 10:00"),
             "amount": 1.0, "channel": "web"},
            {"order_id": "b1", "customer_id": "B", "ordered_at": ts("2024-01-03"),
             "amount": 5.0},
        ],
    )  # fmt: skip
    fs = available_features(present_columns({"orders": orders}))
    h = order_history(con.create_table("orders", orders), fs).to_pandas()
    h = h.sort_values(["customer_id", "order_no"], ignore_index=True)
    a = h[h["customer_id"] == "A"]
    assert a["order_no"].tolist() == [1, 2, 3, 4]
    assert a["purchase_days"].tolist() == [1, 1, 2, 2]
    # money in exact units of 1/10,000: 0.1 + 0.2 is 0.3, not 0.30000000000000004
    assert a["money_total"].tolist() == [1_000, 3_000, 103_000, 113_000]
    assert a["points_total"].tolist() == [50_000, 50_000, 30_000, 30_000]
    # the first of two simultaneous orders is followed at once; only the last one has
    # a later next order (none here), so a cutoff never sees the first one as the last
    assert a["next_at"].tolist()[2] == ts("2024-01-08 10:00")
    assert pd.isna(a["next_at"].tolist()[3])
    assert a["first_at"].eq(ts("2024-01-01 10:00")).all()
    # the previous order in the same channel: a2 is the first "app" order
    assert pd.isna(a["prev_channel_at"].tolist()[1])
    assert a["prev_channel_at"].tolist()[2] == ts("2024-01-01 10:00")
    assert h.loc[h["customer_id"] == "B", "order_no"].tolist() == [1]


def test_a_regular_buyer_has_no_spread_and_money_adds_up_exactly(con) -> None:
    weekly = [
        {"order_id": f"o{k}", "customer_id": "A", "amount": (0.1, 0.2)[k % 2],
         "ordered_at": ts("2024-01-01 09:30") + pd.Timedelta(days=7 * k)}
        for k in range(9)
    ]  # fmt: skip
    out = compute({"orders": canonical("orders", weekly)}, ["2024-03-15"]).iloc[0]
    assert out["order_gap_mean_days"] == 7.0
    # exact integer sums: a perfectly regular buyer's gaps have no spread at all
    assert out["order_gap_std_days"] == 0.0
    assert out["spend_total"] == 1.3  # 0.1 + 0.2 + ... summed as floats is 1.2999999999999998
    assert out["spend_30d"] == 0.3  # the last two orders, 0.2 + 0.1


def test_batches_of_cutoffs_give_the_rows_of_one_query() -> None:
    frames = _random_shop(21)
    fs = available_features(present_columns(frames))
    cutoffs = ["2023-06-01", "2023-08-15", "2024-01-01", "2024-04-20"]
    whole = compute(frames, cutoffs, fs)

    con = ibis.duckdb.connect()
    tables = {n: con.create_table(n, df) for n, df in frames.items()}
    stored = prepare_events(tables, fs, keep=lambda name, t: con.create_table(f"events_{name}", t))
    parts = []
    for c in cutoffs:
        ct = con.create_table("batch", cutoff_table([ts(c)]), overwrite=True)
        parts.append(features_at(stored, ct, fs, lookback_days=365, horizon_days=90).to_pandas())
    batched = pd.concat(parts).sort_values(["cutoff", "customer_id"], ignore_index=True)
    pd.testing.assert_frame_equal(batched, whole, check_exact=True)
    assert whole["cutoff"].nunique() == 4


def test_customer_cutoff_pairs_give_those_customers_rows_of_the_grid() -> None:
    # The campaigns' features: each contacted customer at their own day of contact. The
    # pairs query must give exactly the grid query's row for that customer and day, and
    # nothing for a customer outside the population that day.
    frames = _random_shop(5)
    fs = available_features(present_columns(frames))
    cutoffs = ["2023-06-01", "2023-08-15", "2024-01-01", "2024-04-20"]
    whole = compute(frames, cutoffs, fs)
    rng = np.random.default_rng(2)
    picked = whole.sample(n=12, random_state=rng)[["customer_id", "cutoff"]]
    # a customer with no order in the lookback at that cutoff: no row
    absent = pd.DataFrame({"customer_id": ["nobody"], "cutoff": [ts("2024-01-01")]})
    pairs = pd.concat([picked, absent], ignore_index=True).rename(columns={"customer_id": PAIR_ID})
    pairs["cutoff"] = pairs["cutoff"].astype("datetime64[us]")

    con = ibis.duckdb.connect()
    tables = {n: con.create_table(n, df) for n, df in frames.items()}
    events = prepare_events(tables, fs)
    ct = con.create_table("pairs", pairs)
    got = features_at(events, ct, fs, lookback_days=365, horizon_days=90).to_pandas()
    got = got.sort_values(["cutoff", "customer_id"], ignore_index=True)
    want = whole.merge(picked, on=["customer_id", "cutoff"])
    want = want.sort_values(["cutoff", "customer_id"], ignore_index=True)
    assert len(got) == 12 and got["cutoff"].nunique() > 1
    assert want["referrals_made"].gt(0).any()  # the referrer-side join is exercised
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_the_order_of_the_input_rows_changes_no_bit() -> None:
    # Threads combine partial sums in whatever order they finish; so does a shuffled
    # input. Float sums would move in the last digits; exact sums do not move at all.
    frames = _random_shop(8)
    fs = available_features(present_columns(frames))
    rng = np.random.default_rng(1)
    shuffled = {
        n: df.sample(frac=1.0, random_state=rng).reset_index(drop=True) for n, df in frames.items()
    }
    cutoffs = ["2023-07-01", "2024-02-01"]
    pd.testing.assert_frame_equal(
        compute(shuffled, cutoffs, fs), compute(frames, cutoffs, fs), check_exact=True
    )


def test_build_features_is_prepare_events_then_features_at(con) -> None:
    frames = _random_shop(3)
    fs = available_features(present_columns(frames))
    tables = {n: con.create_table(n, df) for n, df in frames.items()}
    ct = con.create_table("cutoffs", cutoff_table([ts("2024-01-01")]))
    direct = build_features(tables, ct, fs, lookback_days=365, horizon_days=90)
    events = prepare_events(tables, fs)
    assert events.sessions is not None and events.order_lines is not None
    staged = features_at(events, ct, fs, lookback_days=365, horizon_days=90)
    key = ["customer_id"]
    pd.testing.assert_frame_equal(
        staged.to_pandas().sort_values(key, ignore_index=True),
        direct.to_pandas().sort_values(key, ignore_index=True),
    )


def test_the_rhythm_is_between_purchase_days_not_invoices(con) -> None:
    """Reviewed on the real shop's list: a visit split into three invoices three minutes
    apart made "usually every 1 day" of a customer who buys weekly. Gaps run between
    purchase days; a customer who bought on one day only has no rhythm at all."""
    at = [ts("2024-01-01 10:00") + pd.Timedelta(minutes=m) for m in (0, 3, 6)]
    at += [ts("2024-01-08 10:00"), ts("2024-01-15 10:00")]
    rows = [
        {"order_id": f"a{k}", "customer_id": "A", "amount": 1.0, "ordered_at": t}
        for k, t in enumerate(at)
    ]
    rows += [
        {
            "order_id": f"b{k}",
            "customer_id": "B",
            "amount": 1.0,
            "ordered_at": ts("2024-01-10 12:00") + pd.Timedelta(minutes=k),
        }
        for k in range(2)
    ]
    # fmt: skip
    out = compute({"orders": canonical("orders", rows)}, ["2024-01-20"]).set_index("customer_id")
    a, b = out.loc["A"], out.loc["B"]
    assert (a["orders_total"], a["purchase_days_total"]) == (5, 3)
    six_minutes = 6 / 60 / 24
    # from the visit's last invoice to the next day's order, then a week: not 14 / 4 days
    assert a["order_gap_mean_days"] == pytest.approx((14 - six_minutes) / 2)
    assert a["order_gap_std_days"] == pytest.approx(six_minutes / 2)
    overdue = a["days_since_last_order"] / a["order_gap_mean_days"]
    assert a["overdue_ratio"] == pytest.approx(overdue)
    assert (b["orders_total"], b["purchase_days_total"]) == (2, 1)
    assert pd.isna(b["order_gap_mean_days"]) and pd.isna(b["order_gap_std_days"])
    assert pd.isna(b["overdue_ratio"])
    assert relationship_stage(out).to_dict() == {"A": "repeat_purchase", "B": "first_purchase"}
