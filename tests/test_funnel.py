"""The relationship-stage funnel, counted from the canonical tables before the scoring date."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import canonical, ts

from pipeline.funnel import FUNNEL, relationship_funnel

AS_OF = ts("2024-06-01")


def tables(con, **frames):
    return {name: con.create_table(name, frame, overwrite=True) for name, frame in frames.items()}


def counts(out: pd.DataFrame) -> dict[str, float]:
    return dict(zip(out["stage"], out["customers"], strict=True))


def test_visitors_and_carts_who_never_bought_before_the_scoring_date(con) -> None:
    customers = canonical(
        "customers",
        [
            {"customer_id": "visitor", "signup_at": ts("2024-01-01")},
            {"customer_id": "carter", "signup_at": ts("2024-01-01")},
            {"customer_id": "quiet", "signup_at": ts("2024-01-01")},
            {"customer_id": "buyer", "signup_at": ts("2023-01-01")},
            {"customer_id": "old_buyer", "signup_at": ts("2022-01-01")},
            {"customer_id": "later", "signup_at": ts("2024-07-01")},  # after the date
            {"customer_id": "buys_later", "signup_at": ts("2024-01-01")},
        ],
    )
    orders = canonical(
        "orders",
        [
            {"order_id": "1", "customer_id": "buyer", "ordered_at": ts("2024-05-01"), "amount": 1},
            {
                "order_id": "2",
                "customer_id": "old_buyer",
                "ordered_at": ts("2022-03-01"),
                "amount": 1,
            },
            # on the scoring date: not before it, so still a visitor who never bought
            {"order_id": "3", "customer_id": "buys_later", "ordered_at": AS_OF, "amount": 1},
        ],
    )
    sessions = canonical(
        "sessions",
        [
            {
                "session_id": "a",
                "customer_id": "visitor",
                "started_at": ts("2024-02-01"),
                "added_to_cart": False,
            },
            {
                "session_id": "b",
                "customer_id": "carter",
                "started_at": ts("2024-02-01"),
                "added_to_cart": False,
            },
            {
                "session_id": "c",
                "customer_id": "carter",
                "started_at": ts("2024-03-01"),
                "added_to_cart": True,
            },
            # a cart after the scoring date does not count
            {
                "session_id": "d",
                "customer_id": "visitor",
                "started_at": ts("2024-07-01"),
                "added_to_cart": True,
            },
            {
                "session_id": "e",
                "customer_id": "buys_later",
                "started_at": ts("2024-05-01"),
                "added_to_cart": None,
            },
        ],
    )
    scored = pd.Series(["repeat_purchase", "advocate", "repeat_purchase"])

    out = relationship_funnel(
        tables(con, customers=customers, orders=orders, sessions=sessions),
        as_of=AS_OF,
        lookback_days=365,
        scored_stages=scored,
    )

    assert out["stage"].tolist() == [key for key, _ in FUNNEL]
    assert counts(out) == {
        "registered": 1.0,  # quiet
        "suspicion": 2.0,  # visitor, buys_later
        "expectation": 1.0,  # carter
        "first_purchase": 0.0,
        "repeat_purchase": 2.0,
        "advocate": 1.0,
        "left": 1.0,  # old_buyer: last order more than 365 days before
    }
    assert out.loc[out["scored"], "stage"].tolist() == [
        "first_purchase",
        "repeat_purchase",
        "advocate",
    ]


def test_without_customers_or_sessions_the_first_stages_are_unknown(con) -> None:
    orders = canonical(
        "orders",
        [{"order_id": "1", "customer_id": "a", "ordered_at": ts("2024-05-01"), "amount": 1}],
    )

    out = relationship_funnel(
        tables(con, orders=orders),
        as_of=AS_OF,
        lookback_days=365,
        scored_stages=pd.Series(["first_purchase"]),
    )

    got = counts(out)
    assert all(np.isnan(got[k]) for k in ("registered", "suspicion", "expectation"))
    assert got["first_purchase"] == 1.0 and got["left"] == 0.0


def test_a_shop_without_visits_or_advocacy_data_shows_gaps_not_zeros(con) -> None:
    """Online Retail's report showed "registered, never visited 53" (customers seen only
    on cancellations: no visit data exists) and "advocate: 0" (no referrals or ratings
    exist): the first is labelled for what it counts, the second is unknown."""
    orders = canonical(
        "orders",
        [{"order_id": "1", "customer_id": "a", "ordered_at": ts("2024-05-01"), "amount": 1}],
    )
    customers = canonical("customers", [{"customer_id": c, "signup_at": None} for c in ("a", "b")])

    out = relationship_funnel(
        tables(con, orders=orders, customers=customers),
        as_of=AS_OF,
        lookback_days=365,
        scored_stages=pd.Series(["first_purchase"]),
        advocacy_known=False,
    )

    got = counts(out)
    assert got["registered"] == 1.0
    assert out.set_index("stage").loc["registered", "label"] == (
        "known, never bought (no visits recorded)"
    )
    assert np.isnan(got["advocate"]) and got["first_purchase"] == 1.0
