"""Cutoff grid, time-ordered split and churn labels on hand-typed orders."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.labels import Cutoffs, churn_labels, cutoff_table, plan_cutoffs
from tests.conftest import canonical, ts

DAY = pd.Timedelta(days=1)
GRID = {"horizon_days": 90, "every_days": 30, "min_history_days": 180}


def grid(first: str, last: str, n: int, every: int = 30) -> tuple[pd.Timestamp, ...]:
    """``n`` cutoffs ``every`` days apart, from ``first`` to ``last``."""
    out = tuple(ts(first) + pd.Timedelta(days=every * k) for k in range(n))
    assert out[-1] == ts(last)
    return out


# ------------------------------------------------------------------------- plan_cutoffs


def test_grid_ends_a_horizon_before_the_last_order_day() -> None:
    cutoffs = plan_cutoffs(ts("2023-01-01 09:00"), ts("2024-06-30 15:00"), **GRID)

    # 2024-06-30 may be a partial day: the last full horizon is [04-01, 06-30)
    assert cutoffs.labelled == grid("2023-07-06", "2024-04-01", 10)
    assert cutoffs.test == ts("2024-04-01")
    assert cutoffs.score == ts("2024-07-01")  # midnight after the last order
    assert (cutoffs.every_days, cutoffs.horizon_days) == (30, 90)
    # no cutoff without min_history_days of history behind it
    assert cutoffs.labelled[0] >= ts("2023-01-01") + pd.Timedelta(days=180)


def test_as_of_sets_the_score_date_and_the_last_labelled_cutoff() -> None:
    cutoffs = plan_cutoffs(
        ts("2023-01-01"), ts("2024-06-30"), **GRID, as_of=ts("2024-05-01 13:00")
    )

    assert cutoffs.score == ts("2024-05-01")
    assert cutoffs.test == ts("2024-05-01") - pd.Timedelta(days=90)
    assert cutoffs.labelled == grid("2023-07-06", "2024-02-01", 8)


def test_a_single_cutoff_when_the_data_just_fits() -> None:
    # earliest cutoff = 2024-01-01 + 180 d = 2024-06-29; + 90 d horizon = 2024-09-27
    cutoffs = plan_cutoffs(ts("2024-01-01"), ts("2024-09-27 08:00"), **GRID)

    assert cutoffs.labelled == (ts("2024-06-29"),)


def test_data_one_day_too_short_raises() -> None:
    with pytest.raises(ValueError) as err:
        plan_cutoffs(ts("2024-01-01"), ts("2024-09-26 23:00"), **GRID)

    assert str(err.value) == (
        "orders span 2024-01-01 .. 2024-09-26: no cutoff has 180 d of history behind it "
        "and a full 90 d horizon after it"
    )


# ------------------------------------------------------------------------------ split


def test_split_keeps_validation_labels_before_test_and_training_before_validation() -> None:
    cutoffs = plan_cutoffs(ts("2023-01-01"), ts("2024-06-30"), **GRID)

    train, valid = cutoffs.split(cutoffs.test)

    # gap = ceil(90 / 30) * 30 = 90 days
    assert valid == (ts("2024-01-02"),)
    assert train == grid("2023-07-06", "2023-10-04", 4)
    assert valid[-1] + pd.Timedelta(days=90) <= cutoffs.test
    assert train[-1] + pd.Timedelta(days=90) <= valid[0]


def test_split_with_two_validation_cutoffs() -> None:
    cutoffs = plan_cutoffs(ts("2023-01-01"), ts("2024-06-30"), **GRID)

    train, valid = cutoffs.split(cutoffs.test, validation_cutoffs=2)

    assert valid == (ts("2023-12-03"), ts("2024-01-02"))
    assert train == grid("2023-07-06", "2023-09-04", 3)


def test_split_gap_rounds_the_horizon_up_to_whole_grid_steps() -> None:
    labelled = grid("2024-01-01", "2024-09-27", 10)
    cutoffs = Cutoffs(labelled=labelled, score=ts("2025-01-01"), every_days=30, horizon_days=45)

    train, valid = cutoffs.split(labelled[-1])

    # ceil(45 / 30) * 30 = 60 days: a 45-day label window must end by the next cutoff
    assert valid == (labelled[-1] - pd.Timedelta(days=60),)
    assert train == labelled[: len(labelled) - 4]
    assert train[-1] == valid[0] - pd.Timedelta(days=60)


def test_split_raises_when_no_training_cutoff_is_left() -> None:
    cutoffs = plan_cutoffs(ts("2023-01-01"), ts("2024-01-10"), **GRID)
    assert cutoffs.labelled == grid("2023-07-14", "2023-10-12", 4)

    with pytest.raises(ValueError) as err:
        cutoffs.split(cutoffs.test)

    assert str(err.value) == (
        "test cutoff 2023-10-12: no training cutoff on or before 2023-04-15; the data is "
        "too short for horizon 90 d (lower snapshots.min_history_days or churn.horizon_days)"
    )


def test_split_raises_when_validation_cutoff_is_off_the_grid() -> None:
    cutoffs = plan_cutoffs(ts("2023-01-01"), ts("2024-06-30"), **GRID)

    with pytest.raises(ValueError, match="not on the snapshot grid"):
        cutoffs.split(cutoffs.test + DAY)


# ---------------------------------------------------------------------- churn_labels


def test_cutoff_table_is_one_microsecond_datetime_column() -> None:
    table = cutoff_table([ts("2024-01-01"), ts("2024-01-31")])

    assert table.columns.tolist() == ["cutoff"]
    assert table["cutoff"].dtype == "datetime64[us]"
    assert table["cutoff"].tolist() == [ts("2024-01-01"), ts("2024-01-31")]


def test_churn_window_is_half_open(con) -> None:
    orders = canonical(
        "orders",
        [
            # A orders exactly at the cutoff: inside [c, c + h)
            {"order_id": "1", "customer_id": "A", "ordered_at": ts("2024-01-01"), "amount": 1.0},
            # B orders exactly at c + h: outside
            {"order_id": "2", "customer_id": "B", "ordered_at": ts("2024-03-31"), "amount": 1.0},
            # C ordered just before c: that is history, not the future
            {
                "order_id": "3",
                "customer_id": "C",
                "ordered_at": ts("2023-12-31 23:59:59"),
                "amount": 1.0,
            },
            # D orders on the last second of the window, twice
            {
                "order_id": "4",
                "customer_id": "D",
                "ordered_at": ts("2024-03-30 23:59:59"),
                "amount": 1.0,
            },
            {"order_id": "5", "customer_id": "D", "ordered_at": ts("2024-02-01"), "amount": 1.0},
            # F is not in the population
            {"order_id": "6", "customer_id": "F", "ordered_at": ts("2024-02-01"), "amount": 1.0},
        ],
    )
    population = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "A"],
            "cutoff": [ts("2024-01-01")] * 5 + [ts("2024-01-02")],
        }
    ).astype({"cutoff": "datetime64[us]"})

    returns = canonical(
        "returns",
        [
            # D returns half of what it bought, inside the window: net spend 1.0
            {
                "return_id": "r1",
                "customer_id": "D",
                "returned_at": ts("2024-03-01"),
                "amount": 1.0,
            },
            # A returns after the window: not part of it
            {
                "return_id": "r2",
                "customer_id": "A",
                "returned_at": ts("2024-04-01"),
                "amount": 1.0,
            },
        ],
    )

    labels = churn_labels(
        con.create_table("orders", orders),
        con.create_table("population", population),
        horizon_days=90,
        returns=con.create_table("returns", returns),
    ).to_pandas()

    labels = labels.sort_values(["cutoff", "customer_id"], ignore_index=True)
    assert labels.columns.tolist() == ["customer_id", "cutoff", "churned", "future_spend"]
    assert labels["churned"].dtype == "int8"
    assert list(labels.itertuples(index=False, name=None)) == [
        ("A", ts("2024-01-01"), 0, 1.0),
        ("B", ts("2024-01-01"), 1, 0.0),
        ("C", ts("2024-01-01"), 1, 0.0),
        ("D", ts("2024-01-01"), 0, 1.0),
        ("E", ts("2024-01-01"), 1, 0.0),  # no orders at all
        ("A", ts("2024-01-02"), 1, 0.0),  # a day later, A's order is in the past
    ]


def test_no_order_before_as_of_says_to_move_as_of() -> None:
    with pytest.raises(
        ValueError, match=r"no order before score.as_of 2020-01-01.*after the first"
    ):
        plan_cutoffs(pd.NaT, pd.NaT, as_of=ts("2020-01-01"), **GRID)


def test_no_accepted_order_points_to_the_ledger() -> None:
    with pytest.raises(ValueError, match=r"no accepted order.*reports/ledger.json"):
        plan_cutoffs(pd.NaT, pd.NaT, **GRID)
