"""Segments against each customer's own rhythm: early warning, lapsing, lapsed, steady."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.segments import assign_segments, rhythm

NA = np.nan


def test_rhythm_is_the_customers_own_gap_plus_its_spread() -> None:
    frame = pd.DataFrame(
        {
            "days_since_last_order": [10.0, 40.0, 30.0, 5.0, 50.0],
            "order_gap_mean_days": [20.0, 20.0, 20.0, 0.01, NA],
            "order_gap_std_days": [8.0, 2.0, 0.0, 0.0, NA],
        }
    )

    out = rhythm(frame)

    assert out["usual_gap_days"].tolist()[:4] == [20.0, 20.0, 20.0, 1.0]
    # spread: the measured one, at least a quarter of the gap
    assert out["due_days"].tolist()[:4] == [28.0, 25.0, 25.0, 1.25]
    assert out["overdue_days"].tolist()[:4] == [0.0, 15.0, 5.0, 3.75]
    # one order: the shop's median rhythm of repeat customers stands in
    assert out["usual_gap_days"].iloc[4] == 20.0
    assert out["due_days"].iloc[4] == pytest.approx(20.0 + 5.0)
    assert out["own_rhythm"].tolist() == [True, True, True, True, False]


def test_rhythm_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match=r"order_gap_std_days"):
        rhythm(pd.DataFrame({"days_since_last_order": [1.0], "order_gap_mean_days": [2.0]}))
    bad = pd.DataFrame(
        {
            "days_since_last_order": [1.0, NA],
            "order_gap_mean_days": [2.0, 3.0],
            "order_gap_std_days": [0.0, 0.0],
        },
        index=["a", "b"],
    )
    with pytest.raises(ValueError, match=r"missing for 1 of 2 rows \(index \['b'\]\)"):
        rhythm(bad)


CASES = {
    # name: (days since last order, due after, p, p previous) -> segment
    "gone a whole horizon: lapsed, whatever the risk": ((90.0, 400.0, 0.1, 0.1), "lapsed"),
    "overdue, inside the horizon: lapsing": ((40.0, 25.0, 0.2, 0.2), "lapsing"),
    "overdue beats a high risk": ((40.0, 25.0, 0.9, 0.1), "lapsing"),
    "in rhythm, high risk: early warning": ((10.0, 25.0, 0.6, 0.6), "early_warning"),
    "in rhythm, risk rising from medium: early warning": (
        (10.0, 25.0, 0.45, 0.3),
        "early_warning",
    ),
    "in rhythm, rising but still low: steady": ((10.0, 25.0, 0.25, 0.05), "steady"),
    "in rhythm, medium and flat: steady": ((10.0, 25.0, 0.5, 0.45), "steady"),
    "not in the previous snapshot, medium: steady": ((10.0, 25.0, 0.5, NA), "steady"),
    "exactly due: not yet overdue": ((25.0, 25.0, 0.1, 0.1), "steady"),
    "one day short of the horizon: lapsing": ((89.0, 25.0, 0.1, 0.1), "lapsing"),
}


def test_segment_rules() -> None:
    frame = pd.DataFrame(
        [row for row, _ in CASES.values()],
        columns=[
            "days_since_last_order",
            "due_days",
            "churn_probability",
            "churn_probability_prev",
        ],
        index=list(CASES),
    )

    out = assign_segments(frame, horizon_days=90, high_risk=0.6, rising_by=0.15, rising_floor=0.3)

    assert out.name == "segment"
    assert out.to_dict() == {name: segment for name, (_, segment) in CASES.items()}


def test_a_rhythm_longer_than_the_horizon_is_no_early_warning() -> None:
    """Reviewed on Online Retail: 146 of 393 on the call list (16 of its top 30) bought
    every 90 days or less often, "on schedule", yet early warnings: no order within 90
    days is their normal. A fast rhythm at the same risk is a warning."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [25.0, 25.0, 25.0, 25.0],
            "due_days": [700.0, 40.0, 700.0, 700.0],
            "usual_gap_days": [612.0, 30.0, 612.0, 612.0],
            "own_rhythm": [True, True, False, True],
            "churn_probability": [0.77, 0.77, 0.77, 0.77],
            "churn_probability_prev": [0.75, 0.75, 0.75, 0.3],
        },
        index=["twice_a_year", "monthly", "shops_rhythm", "slow_but_rising"],
    )
    out = assign_segments(frame, horizon_days=90, high_risk=0.6, rising_by=0.15, rising_floor=0.3)
    assert out.to_dict() == {
        "twice_a_year": "steady",
        "monthly": "early_warning",
        "shops_rhythm": "early_warning",  # no rhythm of their own: the shop's holds
        "slow_but_rising": "steady",  # its risk rises with every day of its long gap
    }


def test_one_gap_is_no_rhythm_of_ones_own() -> None:
    """Reviewed: bought on 20 and 22 June, then silent for 79 days: "usually every 2
    days", lapsing since day 3. Below three days of purchases the shop's rhythm holds."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [79.0, 79.0, 10.0, 10.0],
            "order_gap_mean_days": [2.0, 2.0, 30.0, 40.0],
            "order_gap_std_days": [NA, 1.0, 5.0, 8.0],
            "purchase_days_total": [2, 3, 5, NA],
        }
    )
    out = rhythm(frame)
    assert out["own_rhythm"].tolist() == [False, True, True, True]
    assert out["usual_gap_days"].tolist()[0] == 30.0  # the median of the others: 2, 30, 40
    assert out["usual_gap_days"].tolist()[1:] == [2.0, 30.0, 40.0]


def test_a_rhythm_written_as_the_horizon_is_a_slow_one() -> None:
    """Reviewed on Online Retail: early warnings whose usual gap 89.96 the lists write
    as 90.0, "usually every 90 days": by the written number their own rhythm is the
    horizon, and such a customer is no early warning."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [40.0, 40.0],
            "due_days": [120.0, 120.0],
            "usual_gap_days": [89.96, 89.9],
            "own_rhythm": [True, True],
            "churn_probability": [0.9, 0.9],
            "churn_probability_prev": [0.9, 0.9],
        }
    )
    out = assign_segments(frame, horizon_days=90, high_risk=0.6, rising_by=0.15, rising_floor=0.3)
    assert out.tolist() == ["steady", "early_warning"]
