"""The headline numbers: stable keys from train.json, score.json and forward.json."""

from __future__ import annotations

from pipeline.headline import headline, list_headline

TRAIN = {
    "churn": {
        "selected_model": "lightgbm",
        "test": {
            "lightgbm": {
                "roc_auc": 0.9,
                "pr_auc": 0.8,
                "brier": 0.1,
                "log_loss": 0.3,
                "ece": 0.02,
            },
            "recency": {"roc_auc": 0.7},
        },
        "backtest": {"lightgbm": {"roc_auc_mean": 0.88, "brier_mean": 0.11}},
    }
}
FLAT_SCORE = {
    "customers_scored": 1000,
    "expected_churners": 321.4,
    "expected_value_at_risk_total": 5000.0,
    "at_risk_list_size": 100,
    "at_risk_list_value_at_risk_share": 0.4,
}


def test_headline_keeps_the_shipped_model_and_the_list():
    out = headline(TRAIN, FLAT_SCORE, {"evaluable": False, "reason": "future"})
    assert out["shipped"] == {
        "roc_auc": 0.9,
        "pr_auc": 0.8,
        "brier": 0.1,
        "log_loss": 0.3,
        "ece": 0.02,
        "backtest_roc_auc": 0.88,
        "backtest_brier": 0.11,
    }
    assert out["list"] == {
        "customers": 1000,
        "expected_churners": 321.4,
        "size": 100,
        "value_at_risk": 2000.0,
        "value_at_risk_total": 5000.0,
    }
    assert "forward" not in out


def test_mlflow_gets_the_headline_unrounded_so_displays_round_once():
    """Reviewed: an AUC of 0.92104972 went to MLflow as 0.92105, which its tables and
    the registry showed as 0.9211, while the run's summary said 0.9210."""
    churn = {**TRAIN["churn"], "test": {"lightgbm": {"roc_auc": 0.9210497203480784}}}
    train = {**TRAIN, "churn": churn}
    rounded = headline(train, FLAT_SCORE, None)["shipped"]["roc_auc"]
    exact = headline(train, FLAT_SCORE, None, digits=None)["shipped"]["roc_auc"]
    assert rounded == 0.92105 and f"{rounded:.4f}" == "0.9211"  # rounding twice
    assert exact == 0.9210497203480784 and f"{exact:.4f}" == "0.9210"


def test_forward_numbers_join_when_the_list_could_be_judged():
    forward = {"evaluable": True, "metrics": {"shipped": {"roc_auc": 0.91, "brier": 0.09}}}
    assert headline(TRAIN, FLAT_SCORE, forward)["forward"] == {"roc_auc": 0.91, "brier": 0.09}


def test_list_headline_reads_the_call_list_section_too():
    score = {
        "customers_scored": 10,
        "value_at_risk_total": 90.0,
        "call_list": {"customers": 3, "value_at_risk": 40.5},
    }
    assert list_headline(score) == {
        "customers": 10,
        "size": 3,
        "value_at_risk": 40.5,
        "value_at_risk_total": 90.0,
    }


def test_every_uplift_headline_key_is_one_make_compare_shows():
    """make compare tells metrics.json's uplift keys from the flattened uplift.json by
    UPLIFT_HEADLINE: a key uplift_headline writes that it missed would be hidden."""
    import json
    from pathlib import Path

    from pipeline.headline import UPLIFT_HEADLINE, uplift_headline

    uplift = {
        "policies": {p: {"auuc": 1.0, "saved_value_top_share": 0.1} for p in ("model", "risk")},
        "truth": {
            "oracle_share": 0.4,
            "harmed_share_marked": 0.5,
            "difference_per_1000": {"risk": {"difference_per_1000": 9.0}},
        },
    }
    committed = json.loads((Path(__file__).parents[1] / "metrics.json").read_text())["uplift"]
    for key in [*uplift_headline(uplift), *committed]:
        assert UPLIFT_HEADLINE.fullmatch(key), key
    assert not UPLIFT_HEADLINE.fullmatch("policies.model.auuc")
    assert not UPLIFT_HEADLINE.fullmatch("contacts")
