"""Point-in-time features: exact values on a hand-typed shop, and no look-ahead."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from pipeline.features import FAMILIES, FeatureSet, available_features, build_features
from pipeline.ingest import present_columns
from pipeline.labels import cutoff_table
from tests.conftest import canonical, ts


def compute(
    frames: dict[str, pd.DataFrame], cutoffs: list[str], fs: FeatureSet | None = None, **kw
) -> pd.DataFrame:
    con = ibis.duckdb.connect()
    tables = {n: con.create_table(n, df, overwrite=True) for n, df in frames.items()}
    fs = fs or available_features(present_columns(frames))
    ct = con.create_table("cutoffs", cutoff_table([ts(c) for c in cutoffs]), overwrite=True)
    kw = {"lookback_days": 365, "horizon_days": 90, **kw}
    out = build_features(tables, ct, fs, **kw).to_pandas()
    return out.sort_values(["cutoff", "customer_id"], ignore_index=True)


@pytest.fixture
def shop() -> dict[str, pd.DataFrame]:
    customers = canonical(
        "customers",
        [
            {
                "customer_id": "A",
                "signup_at": ts("2023-12-01"),
                "region": "north",
                "membership_tier": "gold",
                "acquisition_channel": "organic",
                "attributes_observed_at": ts("2023-12-01"),
            },
            # tier and region as the export shows them, observed after the cutoff
            {
                "customer_id": "B",
                "signup_at": ts("2022-06-01"),
                "region": "south",
                "membership_tier": "gold",
                "attributes_observed_at": ts("2024-06-30"),
            },
            # region known, but nobody knows since when: never usable
            {
                "customer_id": "C",
                "signup_at": ts("2023-06-01"),
                "referred_by": "A",
                "region": "east",
                "acquisition_channel": "referral",
            },
        ],
    )
    orders = canonical(
        "orders",
        [
            {
                "order_id": "o1",
                "customer_id": "A",
                "ordered_at": ts("2024-01-01"),
                "amount": 100.0,
                "discount_amount": 20.0,
                "promotion_day": True,
                "channel": "web",
                "promised_delivery_at": ts("2024-01-03"),
                "delivered_at": ts("2024-01-05"),
                "rating": 2.0,
                "rated_at": ts("2024-01-06"),
                "session_id": "s1",
                "points_earned": 10.0,
            },
            {
                "order_id": "o2",
                "customer_id": "A",
                "ordered_at": ts("2024-02-01"),
                "amount": 50.0,
                "discount_amount": 0.0,
                "promotion_day": False,
                "channel": "app",
                "promised_delivery_at": ts("2024-02-03"),
                "delivered_at": ts("2024-02-02"),
            },
            # delivered after the cutoff: at the cutoff it is due and still on its way
            {
                "order_id": "o3",
                "customer_id": "A",
                "ordered_at": ts("2024-03-01"),
                "amount": 30.0,
                "discount_amount": 0.0,
                "promotion_day": False,
                "channel": "web",
                "promised_delivery_at": ts("2024-03-03"),
                "delivered_at": ts("2024-03-10"),
                "points_redeemed": 3.0,
            },
            # after the cutoff: invisible
            {
                "order_id": "o4",
                "customer_id": "A",
                "ordered_at": ts("2024-03-10"),
                "amount": 999.0,
                "discount_amount": 0.0,
                "session_id": "s3",
            },
            {"order_id": "o5", "customer_id": "B", "ordered_at": ts("2023-01-01"), "amount": 10.0},
            # promised before the cutoff and never delivered: late, still on its way
            {
                "order_id": "o7",
                "customer_id": "B",
                "ordered_at": ts("2024-02-20"),
                "amount": 15.0,
                "promised_delivery_at": ts("2024-02-25"),
            },
            {"order_id": "o6", "customer_id": "C", "ordered_at": ts("2024-03-04"), "amount": 20.0},
        ],
    )
    sessions = canonical(
        "sessions",
        [
            {
                "session_id": "s1",
                "customer_id": "A",
                "started_at": ts("2023-12-31 23:30"),
                "added_to_cart": True,
            },
            {
                "session_id": "s2",
                "customer_id": "A",
                "started_at": ts("2024-03-04"),
                "added_to_cart": True,
            },
            {
                "session_id": "s3",
                "customer_id": "A",
                "started_at": ts("2024-03-04 23:00"),
                "added_to_cart": True,
            },
        ],
    )
    complaints = canonical(
        "complaints",
        [
            {
                "complaint_id": "k1",
                "customer_id": "A",
                "order_id": "o1",
                "opened_at": ts("2024-01-07"),
                "resolved_at": ts("2024-01-20"),
                "category": "delivery",
                "escalated": False,
                "satisfaction_after": 4.0,
            },
            # resolved after the cutoff: open at the cutoff, its outcome unknown
            {
                "complaint_id": "k2",
                "customer_id": "A",
                "opened_at": ts("2024-03-01 12:00"),
                "resolved_at": ts("2024-03-06"),
                "category": "quality",
                "escalated": True,
                "satisfaction_after": 5.0,
            },
        ],
    )
    returns = canonical(
        "returns",
        [
            {
                "return_id": "r1",
                "customer_id": "A",
                "order_id": "o1",
                "returned_at": ts("2024-01-10"),
                "amount": 40.0,
            }
        ],
    )
    return {
        "customers": customers,
        "orders": orders,
        "sessions": sessions,
        "complaints": complaints,
        "returns": returns,
    }


def test_population_is_customers_with_an_order_in_the_lookback(shop):
    out = compute(shop, ["2024-03-05"])
    assert out["customer_id"].tolist() == ["A", "B", "C"]
    # B's only order in the lookback is o7; a year earlier o5 alone would not count
    out = compute(shop, ["2024-02-01"])
    assert out["customer_id"].tolist() == ["A"]


def test_exact_values_for_one_customer(shop):
    out = compute(shop, ["2024-03-05"]).set_index("customer_id")
    a = out.loc["A"]
    expected = {
        "orders_30d": 1,
        "orders_90d": 3,
        "orders_365d": 3,
        "orders_total": 3,
        "purchase_days_total": 3,
        "first_order_age_days": 64.0,
        "net_spend_365d": 140.0,
        "days_since_last_order": 4.0,
        "order_gap_mean_days": 30.0,
        "order_gap_std_days": 1.0,
        "overdue_ratio": 4 / 30,
        "spend_30d": 30.0,
        "spend_90d": 180.0,
        "spend_365d": 180.0,
        "spend_trend_90d": 1.0,
        "order_value_mean_365d": 60.0,
        "discounted_order_share_365d": 1 / 3,
        "discount_depth_mean_365d": (20 / 120) / 3,
        "promotion_day_order_share_365d": 1 / 3,
        "choice_time_mean_minutes_365d": 30.0,
        "late_deliveries_90d": 2,
        "late_delivery_share_365d": 2 / 3,
        "delivery_delay_mean_days_365d": 4 / 3,
        "late_deliveries_without_complaint_365d": 1,
        "low_ratings_365d": 1,
        "rating_mean_365d": 2.0,
        "complaints_90d": 2,
        "complaints_delivery_365d": 1,
        "complaints_quality_365d": 1,
        "complaints_unresolved_now": 1,
        "complaint_open_days_max_now": 3.5,
        "complaint_resolve_days_mean_365d": 13.0,
        "complaints_escalated_365d": 0,
        "complaint_satisfaction_mean_365d": 4.0,
        "returns_90d": 1,
        "returned_amount_share_365d": 40 / 180,
        "days_since_last_issue": 3.5,
        "orders_since_last_issue": 0,
        "sessions_30d": 2,
        "sessions_90d": 3,
        "browse_only_sessions_90d": 2,
        "browse_only_session_share_90d": 2 / 3,
        "cart_abandonment_share_90d": 2 / 3,
        "days_since_last_session": 1 / 24,
        "channels_used_365d": 2,
        "points_balance": 7.0,
        "referrals_made": 1,
        "tenure_days": 95.0,
        "membership_tier": "gold",
        "region": "north",
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name


def test_tenure_from_signup_and_missing_values_stay_missing(shop):
    c = compute(shop, ["2024-03-05"]).set_index("customer_id").loc["C"]
    assert c["tenure_days"] == pytest.approx((ts("2024-03-05") - ts("2023-06-01")).days)
    assert pd.isna(c["order_gap_mean_days"])  # one order: no gap, not zero
    assert pd.isna(c["discounted_order_share_365d"]) is False
    assert c["complaints_365d"] == 0


def test_one_order_has_no_overdue_ratio(shop):
    # DuckDB's GREATEST(NULL, 1.0) is 1.0: a one-time buyer's recency must not pass as
    # "N times past the usual gap" when there is no usual gap
    out = compute(shop, ["2024-03-05"]).set_index("customer_id")
    assert pd.isna(out.loc["C", "overdue_ratio"])
    assert out.loc["C", "days_since_last_order"] == pytest.approx(1.0)


def test_a_parcel_never_delivered_is_late(shop):
    b = compute(shop, ["2024-03-05"]).set_index("customer_id").loc["B"]
    assert b["late_deliveries_90d"] == 1
    assert b["late_delivery_share_365d"] == pytest.approx(1.0)
    # promised 2024-02-25, still not there on 2024-03-05
    assert b["delivery_delay_mean_days_365d"] == pytest.approx(9.0)
    # before the promised date it is not late yet
    early = compute(shop, ["2024-02-24"]).set_index("customer_id").loc["B"]
    assert early["late_deliveries_90d"] == 0


def test_attributes_count_only_once_observed(shop):
    out = compute(shop, ["2024-03-05"]).set_index("customer_id")
    assert out.loc["A", "membership_tier"] == "gold"
    # B's gold tier was exported on 2024-06-30: unknown on 2024-03-05
    assert pd.isna(out.loc["B", "membership_tier"]) and pd.isna(out.loc["B", "region"])
    # C's region has no observation time; the acquisition channel is a fact of signup
    assert pd.isna(out.loc["C", "region"])
    assert out.loc["C", "acquisition_channel"] == "referral"
    later = compute(shop, ["2024-07-01"]).set_index("customer_id")
    assert later.loc["B", "membership_tier"] == "gold"


def test_features_that_need_missing_tables_are_dropped(shop):
    fs = available_features(present_columns({"orders": shop["orders"][["order_id"]]}))
    assert "complaints_365d" not in fs.names
    assert fs.dropped["complaints_365d"] == "complaints.opened_at"
    only_orders = {"orders": shop["orders"].assign(discount_amount=np.nan)}
    out = compute(only_orders, ["2024-03-05"])
    assert "discounted_order_share_365d" not in out.columns
    assert "orders_90d" in out.columns and "sessions_90d" not in out.columns


def test_every_feature_has_a_family():
    assert set(FAMILIES.values()) == {
        "repeat_purchase",
        "choice_time",
        "price_sensitivity",
        "competitor_attitude",
        "quality_tolerance",
        "voiced_complaints",
        "silent_complaints",
        "fulfilment",
        "monetary",
        "engagement",
        "relationship",
        "seasonality",
    }


def _random_shop(seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    start = ts("2023-01-01")
    n_cust, n_ord = 12, 80

    def when(n: int) -> pd.Series:
        return pd.Series(start + pd.to_timedelta(rng.uniform(0, 500, n), unit="D")).dt.floor("h")

    cust = [f"c{i}" for i in range(n_cust)]
    ordered = when(n_ord)
    orders = canonical("orders", [{} for _ in range(n_ord)]).assign(
        order_id=[f"o{i}" for i in range(n_ord)],
        customer_id=rng.choice(cust, n_ord),
        ordered_at=ordered,
        amount=rng.uniform(5, 100, n_ord).round(2),
        discount_amount=rng.choice([0.0, 5.0], n_ord),
        promotion_day=rng.random(n_ord) < 0.3,
        channel=rng.choice(["web", "app"], n_ord),
        promised_delivery_at=ordered + pd.Timedelta(days=3),
        delivered_at=ordered + pd.to_timedelta(rng.integers(1, 8, n_ord), unit="D"),
        rating=rng.choice([1.0, 3.0, 5.0], n_ord),
        rated_at=ordered + pd.Timedelta(days=9),
        session_id=[f"s{i}" for i in range(n_ord)],
        points_earned=rng.uniform(0, 5, n_ord),
    )
    orders = orders.astype(
        {
            "customer_id": "string",
            "order_id": "string",
            "channel": "string",
            "session_id": "string",
            "promotion_day": "boolean",
        }
    )
    sessions = canonical("sessions", [{} for _ in range(n_ord + 40)])
    s_start = pd.concat([ordered - pd.Timedelta(minutes=20), when(40)], ignore_index=True)
    sessions = sessions.assign(
        session_id=[f"s{i}" for i in range(n_ord + 40)],
        customer_id=np.concatenate([orders["customer_id"], rng.choice(cust, 40)]),
        started_at=s_start,
        added_to_cart=rng.random(n_ord + 40) < 0.5,
    ).astype({"session_id": "string", "customer_id": "string", "added_to_cart": "boolean"})
    opened = when(15)
    complaints = (
        canonical("complaints", [{} for _ in range(15)])
        .assign(
            complaint_id=[f"k{i}" for i in range(15)],
            customer_id=rng.choice(cust, 15),
            order_id=rng.choice(orders["order_id"], 15),
            opened_at=opened,
            resolved_at=opened + pd.to_timedelta(rng.integers(1, 60, 15), unit="D"),
            category=rng.choice(["delivery", "quality"], 15),
            escalated=rng.random(15) < 0.3,
            satisfaction_after=rng.choice([1.0, 5.0], 15),
        )
        .astype(
            {
                "complaint_id": "string",
                "customer_id": "string",
                "order_id": "string",
                "category": "string",
                "escalated": "boolean",
            }
        )
    )
    returned = when(10)
    returns = (
        canonical("returns", [{} for _ in range(10)])
        .assign(
            return_id=[f"r{i}" for i in range(10)],
            customer_id=rng.choice(cust, 10),
            returned_at=returned,
            amount=rng.uniform(1, 50, 10),
        )
        .astype({"return_id": "string", "customer_id": "string"})
    )
    customers = (
        canonical("customers", [{} for _ in range(n_cust)])
        .assign(
            customer_id=cust,
            signup_at=when(n_cust) - pd.Timedelta(days=200),
            region=rng.choice(["n", "s"], n_cust),
            membership_tier=rng.choice(["none", "gold"], n_cust),
            acquisition_channel=rng.choice(["organic", "referral"], n_cust),
            referred_by=[None] + list(rng.choice(cust, n_cust - 1)),
            attributes_observed_at=when(n_cust),
        )
        .astype(
            {
                "customer_id": "string",
                "region": "string",
                "membership_tier": "string",
                "acquisition_channel": "string",
                "referred_by": "string",
            }
        )
    )
    lines = canonical("order_lines", [{} for _ in range(2 * n_ord)]).assign(
        order_id=np.repeat(orders["order_id"].to_numpy(), 2),
        line_no=np.tile([0, 1], n_ord),
        customer_id=np.repeat(orders["customer_id"].to_numpy(), 2),
        ordered_at=np.repeat(orders["ordered_at"].to_numpy(), 2),
        product_id=rng.choice(["p1", "p2", "p3"], 2 * n_ord),
        quantity=rng.integers(1, 4, 2 * n_ord).astype(float),
        unit_price=rng.uniform(1, 20, 2 * n_ord),
    )
    lines = lines.astype({"order_id": "string", "customer_id": "string", "product_id": "string"})
    return {
        "customers": customers,
        "orders": orders,
        "order_lines": lines,
        "sessions": sessions,
        "complaints": complaints,
        "returns": returns,
    }


# Each table's event time; columns that are outcomes of the event, known only from the
# moment in their own timestamp column (None: the outcome has no timestamp of its own and
# is known only with the event's resolution, ``resolved_at``).
EVENT_TIME = {
    "orders": "ordered_at",
    "order_lines": "ordered_at",
    "sessions": "started_at",
    "complaints": "opened_at",
    "returns": "returned_at",
}
OUTCOMES = {
    "orders": {"delivered_at": (), "rating": "rated_at"},
    "complaints": {"resolved_at": ("escalated", "satisfaction_after")},
}


def _scramble_after(frames, cutoff: pd.Timestamp, seed: int) -> dict[str, pd.DataFrame]:
    """Change everything the cutoff cannot see, in every table.

    Later events move, change their values or vanish; earlier events get other
    outcomes when the outcome came at or after the cutoff (a delivery, a rating, a
    resolution with its escalation and satisfaction), including outcomes appearing or
    disappearing (null <-> a later time); customers' mutable attributes change when they
    were observed at or after the cutoff (or never); signups after it move.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, df in frames.items():
        df = df.copy()
        n = len(df)
        time_col = EVENT_TIME.get(name)
        if time_col:
            late = (df[time_col] >= cutoff).to_numpy()
            for col in df.columns:
                if col in (time_col, "customer_id") or col.endswith("_id") and col != "order_id":
                    continue
                if pd.api.types.is_datetime64_any_dtype(df[col]):
                    shift = pd.to_timedelta(rng.integers(0, 40, late.sum()), unit="D")
                    df.loc[late, col] = df.loc[late, col] + shift
                elif pd.api.types.is_float_dtype(df[col]):
                    df.loc[late, col] = rng.uniform(1, 5, late.sum())
                elif pd.api.types.is_bool_dtype(df[col]):
                    df.loc[late, col] = rng.random(late.sum()) < 0.5
            shift = pd.to_timedelta(rng.integers(0, 40, late.sum()), unit="D")
            df.loc[late, time_col] = df.loc[late, time_col] + shift
        for stamp, dependants in OUTCOMES.get(name, {}).items():
            if isinstance(dependants, str):  # a value column with its own timestamp
                value, stamp = stamp, dependants
                unknown = ~(df[stamp] < cutoff).fillna(False).to_numpy()
                df.loc[unknown, value] = rng.choice([1.0, 5.0, np.nan], unknown.sum())
                continue
            unknown = ~(df[stamp] < cutoff).fillna(False).to_numpy()
            later = cutoff + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
            vanish = rng.random(n) < 0.5
            df[stamp] = df[stamp].where(~unknown, pd.Series(later, index=df.index).where(~vanish))
            for col in dependants:
                if pd.api.types.is_bool_dtype(df[col]):
                    df.loc[unknown, col] = rng.random(unknown.sum()) < 0.5
                else:
                    df.loc[unknown, col] = rng.choice([1.0, 5.0, np.nan], unknown.sum())
        if name == "customers":
            hidden = ~(df["attributes_observed_at"] < cutoff).fillna(False).to_numpy()
            df.loc[hidden, "membership_tier"] = rng.choice(["silver", None], hidden.sum())
            df.loc[hidden, "region"] = rng.choice(["w", None], hidden.sum())
            newer = (df["signup_at"] >= cutoff).fillna(False).to_numpy()
            df.loc[newer, "signup_at"] = df.loc[newer, "signup_at"] + pd.Timedelta(days=3)
        if time_col:
            drop = late & (rng.random(n) < 0.5)
            df = df.loc[~drop].reset_index(drop=True)
        out[name] = df
    return out


@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(seed=st.integers(0, 10_000), day=st.integers(120, 480))
def test_data_after_the_cutoff_changes_no_feature(seed, day):
    frames = _random_shop(seed)
    cutoff = ts("2023-01-01") + pd.Timedelta(days=day)
    # one feature design for both: which features a shop supports is decided once
    fs = available_features(present_columns(frames))
    before = compute(frames, [str(cutoff)], fs)
    after = compute(_scramble_after(frames, cutoff, seed + 1), [str(cutoff)], fs)
    pd.testing.assert_frame_equal(before, after)
    assert len(before) > 0
