"""Two runs side by side: params, metric deltas with intervals, drivers, call-list overlap."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline.compare import (
    Run,
    build,
    driver_shifts,
    list_overlap,
    metric_table,
    paired_intervals,
    param_changes,
    to_html,
    to_markdown,
)
from pipeline.registry import keyed_predictions

KEY = b"k" * 32


def predictions(noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    signal = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "cutoff": "2024-10-01",
            "churned": (signal + rng.normal(size=n) > 0).astype(int),
        }
    )
    score = signal + noise * np.random.default_rng(seed).normal(size=n)
    frame["p_lightgbm"] = 1 / (1 + np.exp(-score))
    return keyed_predictions(frame, KEY, model="lightgbm")


def calls(keys: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"position": range(1, len(keys) + 1), "customer_key": keys})


def run(label: str, **kw) -> Run:
    base = dict(
        label=label,
        ref=label,
        run_id=label * 32,
        name=f"run {label}",
        version="1",
        aliases=(),
        params={},
        metrics={},
        tags={"test_cutoff": "2024-10-01"},
        predictions=None,
        call_list=None,
    )
    return Run(**(base | kw))


def test_params_that_differ_leave_out_tracking_and_registry():
    a = {"train.learning_rate": "0.05", "train.seed": "7", "registry.auc_margin": "0.0"}
    b = {"train.learning_rate": "0.1", "train.seed": "7", "registry.auc_margin": "0.01"}
    assert param_changes(a, b) == [("train.learning_rate", "0.05", "0.1")]
    assert param_changes(a, {**a, "churn.new": "1"}) == [("churn.new", "-", "1")]


def test_driver_shifts_rank_both_runs():
    a = {"driver.recency": 0.5, "driver.complaints": 0.3, "driver.region": 0.2, "x": 1.0}
    b = {"driver.recency": 0.3, "driver.complaints": 0.6, "driver.region": 0.1}
    shifts = driver_shifts(a, b, "driver")
    assert shifts["driver"].tolist() == ["complaints", "recency", "region"]
    assert shifts["rank_a"].tolist() == [2, 1, 3] and shifts["rank_b"].tolist() == [1, 2, 3]
    assert shifts["shift"].tolist() == [1, -1, 0]  # complaints climbed one place


def test_list_overlap_counts_shared_customers():
    overlap = list_overlap(calls([1, 2, 3, 4]), calls([3, 4, 5, 6, 7, 8]))
    assert overlap["shared"] == 2 and overlap["size_a"] == 4 and overlap["size_b"] == 6
    assert overlap["share_of_b"] == 2 / 6 and overlap["jaccard"] == 2 / 8
    assert overlap["top"] == 4 and overlap["top_shared"] == 2
    assert list_overlap(None, calls([1])) is None


def test_a_difference_of_float_noise_reads_as_none():
    a = run("A", metrics={"shipped.brier": 0.1})
    iv = {"shipped.brier": {"difference": -1e-12, "low": -3e-12, "high": -1e-13, "customers": 9}}
    ((_, _, _, _, interval),) = metric_table(a, a, iv)
    assert interval == "+0.0000 [+0.0000, +0.0000] n=9"


def test_the_uplift_headline_is_compared_but_not_all_of_uplift_json():
    # MLflow's uplift.* holds metrics.json's uplift headline and uplift.json flattened
    m = {
        "shipped.roc_auc": 0.9,
        "uplift.auuc_model": 4.22,
        "uplift.oracle_share": 0.376,
        "uplift.sleeping_dogs_marked_share": 0.46,
        "uplift.true_saved_vs_risk_per_1000": 1112.4,
        "uplift.policies.model.auuc": 4.22,
        "uplift.contacts": 44990.0,
    }
    a = run("A", metrics=m)
    b = run("B", metrics=m | {"uplift.auuc_model": 4.06, "uplift.oracle_share": 0.35})
    rows = {r[0]: r for r in metric_table(a, b, {})}
    assert list(rows) == [
        "shipped.roc_auc",
        "uplift.auuc_model",
        "uplift.oracle_share",
        "uplift.sleeping_dogs_marked_share",
        "uplift.true_saved_vs_risk_per_1000",
    ]
    assert rows["uplift.auuc_model"][3] == "-0.1600"


def test_paired_intervals_are_of_b_minus_a_on_shared_customers():
    a = run("A", predictions=predictions(1.5, 1))
    b = run("B", predictions=predictions(0.2, 2))
    iv = paired_intervals(a, b, n_boot=100)
    auc, brier = iv["shipped.roc_auc"], iv["shipped.brier"]
    assert auc["customers"] == 300
    assert auc["difference"] > 0 and auc["low"] <= auc["difference"] <= auc["high"]
    assert brier["difference"] < 0  # B is the better model
    assert paired_intervals(run("A"), b) == {}


def test_markdown_and_offline_html_show_every_section():
    a = run(
        "A",
        params={"train.learning_rate": "0.05"},
        metrics={"shipped.roc_auc": 0.80, "list.size": 100.0, "driver.recency": 1.0},
        predictions=predictions(1.5, 1),
        call_list=calls([1, 2, 3]),
        aliases=("champion",),
    )
    b = run(
        "B",
        params={"train.learning_rate": "0.1"},
        metrics={"shipped.roc_auc": 0.85, "list.size": 100.0, "driver.recency": 1.0},
        predictions=predictions(0.2, 2),
        call_list=calls([2, 3, 4]),
    )
    tables = build(a, b)
    md = to_markdown(a, b, tables)
    assert "| train.learning_rate | 0.05 | 0.1 |" in md
    # the interval comes with its own point (reviewed: a mean-of-origins B - A sat beside
    # a pooled interval, on its edge)
    iv = paired_intervals(a, b)["shipped.roc_auc"]
    assert f"| +0.0500 | {iv['difference']:+.4f} [{iv['low']:+.4f}, {iv['high']:+.4f}]" in md
    assert "No paired interval" not in md
    # no interval: said why (reviewed: one reason was given for both)
    c = run("C", metrics=b.metrics)
    assert "No paired interval: C logged no forecasts" in to_markdown(a, c, build(a, c))
    elsewhere = predictions(0.2, 2).assign(cutoff="2023-10-01")
    d = run("D", metrics=b.metrics, predictions=elsewhere, tags={"test_cutoff": "2023-10-01"})
    assert "the runs forecast no customer in common" in to_markdown(a, d, build(a, d))
    assert "| on both lists | 2 | 67% of B's list" in md
    assert "A: run A [version 1 (champion)" in md
    page = to_html(a, b, tables)
    assert page.startswith("<!doctype html>") and "<svg" in page and "<table>" in page
    assert not re.search(r"(src|href)=|https?://|@import|<script", page)
