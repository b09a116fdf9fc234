"""The at-risk list: ranking by expected value at risk, risk bands, headline numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.loyalty import PLAYS
from pipeline.score import LIST_COLUMNS, build_list, summarise_list

BANDS = (0.3, 0.6)


def scoring(ids: list[str], probabilities: list[float], **columns) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "churn_probability": probabilities,
            "expected_value": columns.pop("expected_value", [100.0] * n),
            "loyalty_type": columns.pop("loyalty_type", ["inertia"] * n),
            "loyalty_type_probability": [0.81234] * n,
            "loyalty_type_source": ["model"] * n,
            "reason_1": [f"reason of {c}" for c in ids],
            "reason_2": [None] * n,
            "reason_3": [None] * n,
            "protective_1": [f"keeps {c}" for c in ids],
            "reason_family_1": columns.pop("reason_family_1", ["recency"] * n),
            "reason_family_2": [None] * n,
            **columns,
        }
    )


@pytest.fixture
def five() -> tuple[pd.DataFrame, pd.DataFrame]:
    s = scoring(
        ["a", "b", "c", "d", "e"],
        [0.5, 0.25, 0.6, 0.3, 0.1],
        loyalty_type=["premium", "price", "inertia", "latent", "incentive"],
        # spend over the next horizon if they stay (the value model's)
        expected_value=[200.004, 400.0, 0.0, 100.0, 1000.0],
    )
    # features in another order, with a customer who is not being scored
    f = pd.DataFrame(
        {
            "customer_id": ["e", "x", "d", "c", "b", "a"],
            "spend_365d": [1000.0, 5000.0, 100.0, np.nan, 400.0, 200.004],
            "orders_total": [5, 9, 1, 0, 2, 3],
            "overdue_ratio": [3.0, 9.0, 0.5, 0.0, 0.5, 0.5],
        }
    )
    return s, f


def test_list_is_ranked_by_expected_value_at_risk(five) -> None:
    out = build_list(*five, band_thresholds=BANDS)

    assert out.columns.tolist() == list(LIST_COLUMNS)
    got = out[
        [
            "rank",
            "customer_id",
            "churn_probability",
            "expected_value",
            "expected_value_at_risk",
            "risk_band",
        ]
    ]
    expected = pd.DataFrame(
        [
            # a, b, e tie on value at risk (100.0): the likelier churner first
            (1, "a", 0.5, 200.0, 100.0, "medium"),
            (2, "b", 0.25, 400.0, 100.0, "low"),
            (3, "e", 0.1, 1000.0, 100.0, "low"),
            (4, "d", 0.3, 100.0, 30.0, "medium"),
            # the likeliest churner is last: nothing to spend if they stay, nothing at risk
            (5, "c", 0.6, 0.0, 0.0, "high"),
        ],
        columns=got.columns,
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_list_rows_carry_their_own_customer_details(five) -> None:
    out = build_list(*five, band_thresholds=BANDS).set_index("customer_id")

    assert out["reason_1"].to_dict() == {c: f"reason of {c}" for c in "abedc"}
    assert out["keeps_them"].to_dict() == {c: f"keeps {c}" for c in "abedc"}
    assert out["relationship_stage"].to_dict() == {
        "a": "repeat_purchase",
        "b": "repeat_purchase",
        "e": "repeat_purchase",
        "d": "first_purchase",
        "c": "suspicion",
    }
    assert out["recommended_action"].to_dict() == {
        "a": PLAYS["premium"],
        "b": PLAYS["price"],
        # e is the most valuable customer and 3x past their usual gap
        "e": PLAYS["winback"],
        "d": PLAYS["latent"],
        "c": PLAYS["inertia"],
    }
    assert set(out["loyalty_type_probability"]) == {0.812}


def test_every_scored_customer_appears_exactly_once(five) -> None:
    out = build_list(*five, band_thresholds=BANDS)

    assert sorted(out["customer_id"]) == ["a", "b", "c", "d", "e"]
    assert out["rank"].tolist() == [1, 2, 3, 4, 5]


def test_exact_ties_are_broken_by_customer_id() -> None:
    s = scoring(["z", "m", "a"], [0.4, 0.4, 0.4])
    f = pd.DataFrame({"customer_id": ["a", "m", "z"], "spend_365d": [50.0] * 3})

    out = build_list(s, f, band_thresholds=BANDS)

    assert out["customer_id"].tolist() == ["a", "m", "z"]


def test_risk_band_boundaries_go_to_the_higher_band() -> None:
    probabilities = [0.0, 0.2999, 0.3, 0.5999, 0.6, 1.0]
    ids = [f"c{i}" for i in range(len(probabilities))]
    f = pd.DataFrame({"customer_id": ids, "spend_365d": 1.0})

    out = build_list(scoring(ids, probabilities), f, band_thresholds=BANDS)

    assert out.set_index("customer_id")["risk_band"].to_dict() == {
        "c0": "low",
        "c1": "low",
        "c2": "medium",
        "c3": "medium",
        "c4": "high",
        "c5": "high",
    }


def test_list_without_overdue_ratio_recommends_by_type() -> None:
    s = scoring(["a", "b"], [0.9, 0.1], loyalty_type=["price", "convenience"])
    f = pd.DataFrame({"customer_id": ["a", "b"], "spend_365d": [10.0, 20.0]})

    out = build_list(s, f, band_thresholds=BANDS)

    assert out["recommended_action"].tolist() == [PLAYS["price"], PLAYS["convenience"]]


def test_unknown_customer_in_scoring_raises() -> None:
    s = scoring(["a", "ghost"], [0.5, 0.5])
    f = pd.DataFrame({"customer_id": ["a"], "spend_365d": [10.0]})

    with pytest.raises(KeyError, match="ghost"):
        build_list(s, f, band_thresholds=BANDS)


# ----------------------------------------------------------------------- summarise_list


def test_summary_numbers_by_hand(five) -> None:
    out = build_list(*five, band_thresholds=BANDS)

    summary = summarise_list(out, at_risk_size=2)

    assert summary == {
        "customers_scored": 5,
        "expected_churners": 1.8,  # 0.5 + 0.25 + 0.6 + 0.3 + 0.1 = 1.75
        "value_365d_total": 1700.0,  # 200 + 400 + 0 + 100 + 1000
        "expected_value_at_risk_total": 330.0,  # 100 + 100 + 100 + 30 + 0
        # the top 20% (1 of 5 customers) holds 1000 of 1700
        "value_share_of_top_20pct_customers": round(1000 / 1700, 4),
        "at_risk_list_size": 2,
        # the first two rows hold 200 of 330
        "at_risk_list_value_at_risk_share": round(200 / 330, 4),
        "risk_bands": {"high": 1, "low": 2, "medium": 2},
        "loyalty_types": {"incentive": 1, "inertia": 1, "latent": 1, "premium": 1, "price": 1},
        "relationship_stages": {"first_purchase": 1, "repeat_purchase": 3, "suspicion": 1},
    }


def test_summary_list_size_is_capped_by_customers() -> None:
    s = scoring(["a", "b"], [0.5, 0.5], expected_value=[0.0, 0.0])
    out = build_list(
        s,
        pd.DataFrame({"customer_id": ["a", "b"], "spend_365d": [0.0, 0.0]}),
        band_thresholds=BANDS,
    )

    summary = summarise_list(out, at_risk_size=500)

    assert summary["at_risk_list_size"] == 2
    # nothing at risk at all: shares are 0, not a division error
    assert summary["at_risk_list_value_at_risk_share"] == 0.0
    assert summary["value_share_of_top_20pct_customers"] == 0.0
