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
