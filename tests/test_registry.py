"""The champion gate: paired comparisons on hashed customers, and what it decides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Registry
from pipeline.registry import (
    CHALLENGER,
    CHAMPION,
    Check,
    customer_keys,
    decide,
    first_version,
    keyed_predictions,
    pair,
    pinned_list,
)

KEY = bytes(range(32))
CUTOFFS = ("2024-08-01", "2024-09-01", "2024-10-01")


def outcomes(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cutoff in CUTOFFS:
        ids = [f"C{i:05d}" for i in range(n)]
        rows.append(pd.DataFrame({"customer_id": ids, "cutoff": pd.Timestamp(cutoff)}))
    frame = pd.concat(rows, ignore_index=True)
    frame["signal"] = rng.normal(size=len(frame))
    frame["churned"] = (frame["signal"] + rng.normal(size=len(frame)) > 0).astype("Int8")
    return frame


def predictions(frame: pd.DataFrame, noise: float, seed: int) -> pd.DataFrame:
    """A model that sees the signal through ``noise``: more noise, a worse model."""
    rng = np.random.default_rng(seed)
    score = frame["signal"] + noise * rng.normal(size=len(frame))
    backtest = frame.assign(p_lightgbm=1 / (1 + np.exp(-1.7 * score)))
    return keyed_predictions(backtest, KEY, model="lightgbm")


def test_customer_keys_pair_runs_and_hide_ids():
    ids = pd.Series(["C00001", "C00002", "C00001"])
    keys = customer_keys(ids, KEY)
    assert keys.dtype == np.int64 and keys[0] == keys[2] != keys[1]
    np.testing.assert_array_equal(keys, customer_keys(ids, KEY))  # stable across runs
    assert (customer_keys(ids, b"another key") != keys).all()  # nothing without the key
    frame = keyed_predictions(
        pd.DataFrame(
            {"customer_id": ids, "cutoff": ["2024-10-01"] * 3, "churned": [1, 0, 1], "p_m": 0.5}
        ),
        KEY,
        model="m",
    )
    assert list(frame.columns) == ["customer_key", "cutoff", "churned", "churn_probability"]
    assert "C0000" not in frame.to_csv()


def test_missing_ids_and_columns_are_errors():
    with pytest.raises(ValueError, match="1 of 2 customer ids are missing"):
        customer_keys(pd.Series(["C1", None]), KEY)
    with pytest.raises(ValueError, match=r"lack columns \['p_lightgbm'\]"):
        keyed_predictions(
            pd.DataFrame({"customer_id": ["C1"], "cutoff": ["2024-01-01"], "churned": [1]}),
            KEY,
            model="lightgbm",
        )


def test_better_model_takes_over_and_worse_one_is_a_challenger():
    truth = outcomes()
    good, bad = predictions(truth, 0.3, 1), predictions(truth, 1.5, 2)
    config = Registry(n_boot=100)
    won = decide(good, bad, test_cutoff=CUTOFFS[-1], config=config, seed=0)
    assert won.alias == CHAMPION and won.promoted
    assert {(c.name, c.metric) for c in won.checks} == {
        (n, m) for n in ("forward", "backtest") for m in ("roc_auc", "brier")
    }
    assert all(c.improvement > 0 and c.passed for c in won.checks)
    assert won.customers == {"forward": 400, "backtest": 1200}
    lost = decide(bad, good, test_cutoff=CUTOFFS[-1], config=config, seed=0)
    assert lost.alias == CHALLENGER and not lost.promoted
    assert any("forward roc_auc" in r and "does not beat" in r for r in lost.reasons)
    # the pooled backtest AUC is not the mean of the origins' the README reports: said so
    assert any(r.startswith("backtest (origins pooled) roc_auc") for r in lost.reasons)
    metrics = lost.metrics()
    assert metrics["gate.forward.roc_auc.improvement"] < 0
    assert metrics["gate.backtest.brier.low"] <= metrics["gate.backtest.brier.high"]
    assert "the champion stays version 1" in lost.render(2, 1)


def test_a_tie_or_a_win_inside_the_margin_does_not_move_the_champion():
    truth = outcomes()
    same = predictions(truth, 0.3, 1)
    assert decide(
        same, same, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=50), seed=0
    ).alias == (CHALLENGER)
    good, bad = predictions(truth, 0.3, 1), predictions(truth, 1.5, 2)
    strict = Registry(auc_margin=0.5, n_boot=50)
    assert decide(good, bad, test_cutoff=CUTOFFS[-1], config=strict, seed=0).alias == CHALLENGER


def test_interval_evidence_asks_for_more_than_the_estimate():
    truth = outcomes(n=150)
    slightly = predictions(truth, 0.9, 5)  # a little better, on few customers
    base = predictions(truth, 1.0, 105)
    estimate = decide(slightly, base, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=200), seed=0)
    interval = decide(
        slightly,
        base,
        test_cutoff=CUTOFFS[-1],
        config=Registry(n_boot=200, evidence="interval"),
        seed=0,
    )
    # the same numbers; only what must clear the margin differs
    assert [c.improvement for c in estimate.checks] == [c.improvement for c in interval.checks]
    assert sum(c.passed for c in interval.checks) <= sum(c.passed for c in estimate.checks)
    assert all(c.low <= c.improvement <= c.high for c in interval.checks)
    assert estimate.alias == CHAMPION  # every estimate clears 0 ...
    assert interval.alias == CHALLENGER  # ... but not every interval


def test_runs_that_forecast_other_outcomes_or_customers_are_not_compared():
    truth = outcomes()
    a = predictions(truth, 0.3, 1)
    b = a.assign(churned=1 - a["churned"])
    with pytest.raises(ValueError, match="another outcome"):
        pair(a, b, list(CUTOFFS))
    d = decide(a, b, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=50), seed=0)
    assert d.alias == CHALLENGER and "not comparable" in d.reasons[0]
    other = predictions(truth, 0.3, 1).assign(customer_key=lambda f: f["customer_key"] + 1)
    d = decide(a, other, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=50), seed=0)
    assert d.alias == CHALLENGER and "share 0 customers" in d.reasons[0]


def test_float_noise_between_the_same_models_beats_no_margin():
    truth = outcomes()
    same = predictions(truth, 0.3, 1)
    # the same model's scores, up to the last bits: the Brier "improves" by 2.8e-17
    noisy = same.assign(churn_probability=same["churn_probability"] * (1 + 3e-16))
    d = decide(noisy, same, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=50), seed=0)
    assert not any(c.passed for c in d.checks)
    assert all(c.improvement == 0.0 for c in d.checks)
    assert not any("beats the margin" in r for r in d.reasons)


def test_a_difference_too_small_for_four_decimals_is_shown_with_its_digits():
    """Reviewed: the gate printed "improvement +0.0000 ... beats the margin +0.0000"."""
    check = Check(
        "backtest", "brier", 0.1156917, 0.1156871, -4.6e-06, -2.1e-05, 1.2e-05, 0.0, False
    )
    said = check.describe()
    assert "0.115692 vs champion 0.115687, improvement -4.6e-06 [95% -2.1e-05, +1.2e-05]" in said
    assert said.endswith("does not beat the margin +0.0000")
    wide = Check("forward", "roc_auc", 0.9, 0.89, 0.01, 0.004, 0.02, 0.0, True)
    assert (
        "0.9000 vs champion 0.8900, improvement +0.0100 [95% +0.0040, +0.0200]" in wide.describe()
    )


def test_the_first_version_becomes_champion():
    d = first_version()
    assert d.promoted and "first registered version" in d.reasons[0]
    assert d.render(1, None).startswith("registry: version 1 is the new champion")


def test_pinned_list_ranks_a_models_scores_like_the_list():
    scores = pd.DataFrame(
        {
            "churn_probability": [0.123456, 0.9, 0.5],
            "expected_value": [1000.0, 10.0, 100.0],
            "loyalty_type": ["premium", "price", "inertia"],
            "loyalty_type_source": "classifier",
        }
    )
    out = pinned_list(pd.Series(["C1", "C2", "C3"]), scores, version="4")
    assert out["customer_id"].tolist() == ["C1", "C3", "C2"]  # by value at risk
    assert out["rank"].tolist() == [1, 2, 3]
    assert out["churn_probability"].tolist() == [0.1235, 0.5, 0.9]
    # the list's value at risk: the unrounded probability times the value, to the cent
    # (not 0.1235 x 1000 = 123.50)
    assert out["value_at_risk"].tolist() == [123.46, 50.0, 9.0]
    assert (out["model_version"] == "4").all()


def test_after_new_data_the_latest_cutoff_both_forecast_is_the_forward_test():
    truth = outcomes()
    good, bad = predictions(truth, 0.3, 1), predictions(truth, 1.5, 2)
    # the champion's run ended a month earlier: it never forecast the last cutoff
    older = bad[bad["cutoff"] != CUTOFFS[-1]]
    d = decide(good, older, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=50), seed=0)
    assert d.promoted and d.customers == {"forward": 400, "backtest": 800}
    assert d.reasons[0].startswith(f"forward test: 400 customers at {CUTOFFS[1]}")
    assert "did not forecast the test cutoff" in d.reasons[1]
    nothing = bad[bad["cutoff"] == "1999-01-01"]
    d = decide(good, nothing, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=50), seed=0)
    assert d.alias == CHALLENGER and "not comparable" in d.reasons[0]


def test_a_versions_description_gives_the_headline_and_each_checks_verdict():
    from pipeline.stages.track import version_description

    truth = outcomes()
    good, bad = predictions(truth, 0.3, 1), predictions(truth, 1.5, 2)
    lost = decide(bad, good, test_cutoff=CUTOFFS[-1], config=Registry(n_boot=50), seed=0)
    text = version_description(lost, {"roc_auc": 0.81234, "brier": 0.17}, CUTOFFS[-1])
    assert text.startswith(
        f"challenger: ROC-AUC 0.8123, Brier 0.1700 at the test cutoff {CUTOFFS[-1]}."
    )
    assert "forward roc_auc -0." in text and "not over the margin +0.0000" in text
    first = version_description(first_version(), {"roc_auc": 0.8, "brier": 0.2}, CUTOFFS[-1])
    assert first.endswith("the first registered version becomes champion")
