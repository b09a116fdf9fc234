"""Why a customer is at risk: reasons, phrases and drivers from a hand-made SHAP frame."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pipeline.explain import (
    drivers_by_type,
    family_drivers,
    global_drivers,
    shap_values,
    top_reasons,
)
from pipeline.train import Design

NA = np.nan
FAMILIES = {
    "days_since_last_order": "recency",
    "orders_365d": "frequency",
    "discounted_order_share_365d": "price",
    "complaints_unresolved_now": "voiced_complaints",
    "overdue_ratio": "recency",
}


@pytest.fixture
def values() -> pd.DataFrame:
    """SHAP values (log-odds) of three customers; exact binary fractions."""
    return pd.DataFrame(
        {
            "days_since_last_order": [0.75, -0.25, 0.0],
            "orders_365d": [-0.5, 0.25, 0.0],
            "discounted_order_share_365d": [0.125, -0.5, 0.0],
            "complaints_unresolved_now": [0.0, 1.0, 0.0],
            "overdue_ratio": [0.25, 0.25, 0.0],
            "_base": [-1.0, -1.0, -1.0],
        },
        index=[10, 11, 12],
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    """The customers' feature values, in another row order than the SHAP frame."""
    return pd.DataFrame(
        {
            "customer_id": ["z", "y", "x"],
            "days_since_last_order": [1.0, 3.0, 120.4],
            "orders_365d": [1.0, 12.0, 2.0],
            "discounted_order_share_365d": [0.0, 0.756, NA],
            "complaints_unresolved_now": [0.0, 2.0, 0.0],
            "overdue_ratio": [1.0, 0.5, NA],
        },
        index=[12, 11, 10],
    )


def _none(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def test_top_reasons_raise_and_protect_in_order(values, frame) -> None:
    out = top_reasons(values, frame, FAMILIES, k=3)

    assert out.index.tolist() == [10, 11, 12]
    x, y, z = (out.loc[i].to_dict() for i in (10, 11, 12))
    # x: biggest push first; missing values read as what they mean for the customer
    assert [x["reason_1"], x["reason_2"], x["reason_3"]] == [
        "last order 120 days ago",
        "only one order so far",  # overdue_ratio is missing: MISSING phrase
        "discounted order share 365d: none",  # no MISSING phrase: generic
    ]
    assert x["protective_1"] == "2 orders in the last year"
    assert _none(x["protective_2"]) and _none(x["protective_3"])
    assert [x[f"reason_family_{i}"] for i in (1, 2, 3)] == ["recency", "recency", "price"]
    # y: equal contributions (orders, overdue: +0.25) keep column order
    assert [y["reason_1"], y["reason_2"], y["reason_3"]] == [
        "2 unresolved complaints",
        "12 orders in the last year",
        "0.5x past the usual gap between orders",
    ]
    assert [y["protective_1"], y["protective_2"]] == [
        "76% of orders discounted",
        "last order 3 days ago",
    ]
    assert _none(y["protective_3"])
    assert y["reason_family_1"] == "voiced_complaints"
    # z: nothing moves the risk, so there is no reason and no family
    assert all(_none(z[c]) for c in z)


def test_top_reasons_with_k_one(values, frame) -> None:
    out = top_reasons(values, frame, FAMILIES, k=1)

    assert out.columns.tolist() == ["reason_1", "protective_1", "reason_family_1"]
    assert out["reason_1"].tolist()[:2] == ["last order 120 days ago", "2 unresolved complaints"]


def test_reason_phrases_format_values_by_kind() -> None:
    names = [
        "spend_365d",
        "membership_tier",
        "rating_mean_365d",
        "late_delivery_share_365d",
        "spend_trend_90d",
        "discount_depth_mean_365d",
    ]
    contributions = pd.DataFrame([[0.6, 0.5, 0.4, 0.3, 0.2, 0.1]], columns=names).assign(_base=0.0)
    row = pd.DataFrame([[1234.4, "gold", NA, 0.13, -0.3, 0.2]], columns=names)

    out = top_reasons(contributions, row, {n: "f" for n in names}, k=6)

    assert out.loc[0, [f"reason_{i}" for i in range(1, 7)]].tolist() == [
        "spent 1,234 in the last year",  # money and counts as whole numbers
        "tier: gold",  # categories as they are
        "no ratings given",
        "13% of deliveries late",  # shares as percentages
        "spend trend -0.3 (90 d vs the 90 d before)",  # ratios with one decimal
        "average discount 20%",
    ]
    assert all(_none(v) for v in out.loc[0, [f"protective_{i}" for i in range(1, 7)]])


# ------------------------------------------------------------------------- drivers


def test_global_drivers_mean_absolute_shap(values) -> None:
    out = global_drivers(values, FAMILIES)

    expected = pd.DataFrame(
        {
            # equal means: alphabetical
            "feature": [
                "complaints_unresolved_now",
                "days_since_last_order",
                "orders_365d",
                "discounted_order_share_365d",
                "overdue_ratio",
            ],
            "mean_abs_shap": [1 / 3, 1 / 3, 0.75 / 3, 0.625 / 3, 0.5 / 3],
            "family": ["voiced_complaints", "recency", "frequency", "price", "recency"],
        }
    )
    pd.testing.assert_frame_equal(out, expected)


def test_family_drivers_sum_members_per_row_before_taking_abs(values) -> None:
    out = family_drivers(values, FAMILIES)

    # recency per row: 0.75 + 0.25, -0.25 + 0.25, 0: the two cancel for customer 11
    expected = pd.DataFrame(
        {
            "family": ["recency", "voiced_complaints", "frequency", "price"],
            "mean_abs_shap": [1 / 3, 1 / 3, 0.75 / 3, 0.625 / 3],
        }
    )
    pd.testing.assert_frame_equal(out, expected)


def test_drivers_by_type_signed_means_per_type(values) -> None:
    out = drivers_by_type(values, FAMILIES, pd.Series(["a", "b", "a"], index=["p", "q", "r"]))

    expected = pd.DataFrame(
        [
            ("a", "recency", 0.5, 2),
            ("a", "price", 0.0625, 2),
            ("a", "voiced_complaints", 0.0, 2),
            ("a", "frequency", -0.25, 2),
            ("b", "voiced_complaints", 1.0, 1),
            ("b", "frequency", 0.25, 1),
            ("b", "recency", 0.0, 1),
            ("b", "price", -0.5, 1),
        ],
        columns=["loyalty_type", "family", "mean_shap", "customers"],
    )
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    assert out["customers"].dtype == "int64"


# ----------------------------------------------------------------------- shap_values


def test_shap_values_add_up_to_the_raw_score() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (x["a"] + 0.5 * rng.normal(size=200) > 0).astype(int)
    params = {"objective": "binary", "num_threads": 1, "verbose": -1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=5)
    design = Design(features=("a", "b"), categories={})
    rows = x.head(4).set_axis([7, 3, 9, 1])

    out = shap_values(booster, design, rows)

    assert out.columns.tolist() == ["a", "b", "_base"]
    assert out.index.tolist() == [7, 3, 9, 1]
    np.testing.assert_allclose(
        out.sum(axis=1).to_numpy(), booster.predict(rows, raw_score=True), rtol=1e-9
    )
    assert (out["a"].abs() > 0).all()  # the informative feature moves every row


def test_each_raising_reason_carries_its_family_in_reason_order(frame) -> None:
    values = pd.DataFrame(
        {
            "days_since_last_order": [1.0],
            "orders_365d": [0.0],
            "discounted_order_share_365d": [0.0],
            "complaints_unresolved_now": [0.5],
            "overdue_ratio": [0.0],
            "_base": [-1.0],
        },
        index=[11],
    )
    out = top_reasons(values, frame, FAMILIES, k=3).loc[11]
    assert [out["reason_family_1"], out["reason_family_2"]] == ["recency", "voiced_complaints"]
    assert out["reason_2"] == "2 unresolved complaints"
    assert _none(out["reason_family_3"])  # nothing else raises the risk
