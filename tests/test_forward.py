"""The forward test: outcomes read exactly, intervals that cover, honest refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline import evaluate, forward
from pipeline.config import Params
from tests.conftest import canonical, ts


def test_outcomes_read_the_half_open_window_and_net_out_returns():
    orders = canonical(
        "orders",
        [
            {"order_id": "1", "customer_id": "A", "ordered_at": ts("2024-01-01"), "amount": 10.0},
            {"order_id": "2", "customer_id": "A", "ordered_at": ts("2024-02-01"), "amount": 5.0},
            # exactly at D + horizon: outside
            {"order_id": "3", "customer_id": "B", "ordered_at": ts("2024-03-31"), "amount": 7.0},
            # before D: the past
            {"order_id": "4", "customer_id": "C", "ordered_at": ts("2023-12-31"), "amount": 9.0},
        ],
    )
    returns = canonical(
        "returns",
        [{"return_id": "r", "customer_id": "A", "returned_at": ts("2024-01-05"), "amount": 4.0}],
    )
    out = forward.outcomes(
        orders,
        returns,
        pd.Series(["C", "B", "A"]),
        start=ts("2024-01-01"),
        horizon_days=90,
    )
    assert out.to_dict("list") == {
        "customer_id": ["C", "B", "A"],
        "churned": [1, 1, 0],
        "future_spend": [0.0, 0.0, 11.0],
    }


def test_a_horizon_beyond_the_data_is_not_judged():
    orders = canonical(
        "orders",
        [{"order_id": "1", "customer_id": "A", "ordered_at": ts("2024-06-30 12:00"), "amount": 1}],
    )
    until = forward.observed_until(orders)
    assert until == ts("2024-06-30")
    report = forward.not_evaluable(ts("2024-05-01"), 90, until)
    assert report["evaluable"] is False
    assert "at least 90 days before the end of the data" in report["reason"]
    assert "not evaluable" in forward.render(report)


def test_paired_bootstrap_interval_covers_a_known_difference():
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 2, n)
    informative = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, n), 0.01, 0.99)
    noise = np.clip(rng.uniform(0.2, 0.8, n), 0.01, 0.99)
    same = evaluate.paired_bootstrap(y, informative, informative, n_boot=200)
    assert same["roc_auc"]["difference"] == 0.0
    assert same["roc_auc"]["low"] == same["roc_auc"]["high"] == 0.0
    better = evaluate.paired_bootstrap(y, informative, noise, n_boot=300, seed=1)
    auc, brier = better["roc_auc"], better["brier"]
    assert auc["low"] > 0.2 and auc["low"] < auc["difference"] < auc["high"]
    assert brier["high"] < 0
    # a hair's difference is not a win: its interval straddles zero
    nudged = np.clip(informative + rng.normal(0, 0.002, n), 0.01, 0.99)
    tie = evaluate.paired_bootstrap(y, nudged, informative, n_boot=300, seed=2)["roc_auc"]
    assert tie["low"] < 0 < tie["high"]


def test_report_judges_the_list_and_each_baseline_on_the_same_customers():
    rng = np.random.default_rng(1)
    n = 500
    ids = pd.Series([f"c{i}" for i in range(n)])
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.1, n), 0.01, 0.99)
    shipped = pd.DataFrame(
        {"customer_id": ids, "churn_probability": p.round(4), "expected_value": 50.0}
    )
    predictions = pd.DataFrame(
        {"customer_id": ids[::-1], "p_bgnbd": np.full(n, y.mean())[::-1], "p_recency": 0.5}
    )
    happened = pd.DataFrame(
        {"customer_id": ids, "churned": y, "future_spend": np.where(y == 0, 60.0, 0.0)}
    )
    report = forward.forward_report(
        shipped, predictions, happened, Params(), as_of=ts("2024-01-01")
    )
    assert report["customers"] == n and report["evaluable"]
    assert set(report["metrics"]) == {"shipped", "bgnbd", "recency"}
    assert report["metrics"]["bgnbd"]["roc_auc"] == pytest.approx(0.5)
    assert report["difference"]["bgnbd"]["roc_auc"]["low"] > 0.3
    assert report["value"]["value_model"]["mae"] == pytest.approx(10.0)
    bins = report["calibration"]["shipped"]
    assert sum(b["n"] for b in bins) == n and all(b["n"] > 0 for b in bins)
    assert "vs bgnbd" in forward.render(report)
    # the same customers in another order (the lists first, as customers.csv has them,
    # and a change of segments reorders them): the same report, intervals included
    order = rng.permutation(n)
    again = forward.forward_report(
        shipped.iloc[order], predictions, happened, Params(), as_of=ts("2024-01-01")
    )
    assert json.dumps(again, sort_keys=True) == json.dumps(report, sort_keys=True)


def test_the_forward_command_says_the_workspace_holds_the_past_lists(tmp_path, capsys):
    """Reviewed: after `make forward` the lists in data/scored/ were the ones shipped for
    2024-10-01, and only a Makefile comment said so."""
    path = tmp_path / "forward.json"
    judged = {
        "evaluable": True, "as_of": "2024-10-01", "customers": 2, "horizon_days": 90,
        "churn_rate": 0.5, "metrics": {}, "difference": {},
    }  # fmt: skip
    path.write_text(json.dumps(judged))
    forward.main([str(path)])
    said = capsys.readouterr().out
    assert "lists in data/scored/ are the ones shipped for 2024-10-01" in said
    assert "`make run` puts today's back" in said
    path.write_text(json.dumps({"evaluable": False, "reason": "future"}))
    forward.main([str(path)])
    assert "data/scored" not in capsys.readouterr().out
