"""Tests for pipeline.evaluate (metrics, curves, EMP, grades, backtest summary) and
pipeline.calibration (kept here so this change touches only the evaluation test module)."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from pipeline.calibration import Calibrator, fit_calibrator, platt_fit
from pipeline.evaluate import (
    binary_metrics,
    emp_churn,
    expected_calibration_error,
    grade,
    paired_bootstrap,
    paired_bootstraps,
    reliability_table,
    summarise_backtest,
)

# --- binary_metrics ---------------------------------------------------------------------


def test_binary_metrics_hand_computed() -> None:
    # Ranked: 0.8 (churner), 0.6 (no), 0.4 (churner), 0.2 (no).
    # AUC: 3 of the 4 (churner, non-churner) pairs are ordered right -> 0.75.
    # AP: recall 0.5 at precision 1, recall 1 at precision 2/3 -> 0.5 + 0.5 * 2/3.
    # Brier: (0.2^2 + 0.6^2 + 0.6^2 + 0.2^2) / 4 = 0.2.
    # Log loss: -(ln 0.8 + ln 0.4 + ln 0.4 + ln 0.8) / 4 = -ln(0.32) / 2.
    # Top decile: ceil(0.4) = 1 customer, a churner: 1.0 / 0.5 = 2.
    metrics = binary_metrics([1, 1, 0, 0], [0.8, 0.4, 0.6, 0.2])
    assert metrics == pytest.approx(
        {
            "roc_auc": 0.75,
            "pr_auc": 0.5 + 0.5 * 2 / 3,
            "brier": 0.2,
            "log_loss": -math.log(0.32) / 2,
            "top_decile_lift": 2.0,
            "base_rate": 0.5,
            "mean_predicted": 0.5,
            "n": 4.0,
        }
    )
    assert all(isinstance(v, float) for v in metrics.values())


def test_top_decile_lift_breaks_ties_by_input_order() -> None:
    p = np.full(10, 0.5)
    churner_last = np.array([0] * 9 + [1])
    churner_first = churner_last[::-1].copy()
    assert binary_metrics(churner_last, p)["top_decile_lift"] == 0.0
    assert binary_metrics(churner_first, p)["top_decile_lift"] == 10.0


def test_log_loss_clips_hard_zero_and_one() -> None:
    metrics = binary_metrics([1, 0], [0.0, 1.0])
    # 1 - 1e-15 is not exact in floating point, hence the tolerance.
    assert metrics["log_loss"] == pytest.approx(-math.log(1e-15), rel=1e-4)


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        ([0, 1], [0.5], "y_true has 2 rows but p has 1"),
        ([0, 2], [0.5, 0.5], "y_true must hold only 0 and 1"),
        ([0, 1], [0.5, 1.5], "p must be probabilities"),
        ([0, 1], [0.5, np.nan], "p must be finite"),
        ([1, 1], [0.5, 0.6], "both churners"),
        ([], [], "empty"),
    ],
)
def test_binary_metrics_rejects_bad_input(y: list, p: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        binary_metrics(y, p)


# --- calibration metrics ----------------------------------------------------------------


def test_reliability_table_and_ece_hand_computed() -> None:
    # Uniform bins [0, 0.5) and [0.5, 1]: means 0.2 and 0.7, churn rates 0.5 and 1.0.
    y = [0, 1, 1, 1]
    p = [0.1, 0.3, 0.6, 0.8]
    expected = pd.DataFrame(
        {
            "bin": np.array([0, 1], dtype=np.int64),
            "mean_predicted": [0.2, 0.7],
            "fraction_positive": [0.5, 1.0],
            "count": np.array([2, 2], dtype=np.int64),
        }
    )
    table = reliability_table(y, p, n_bins=2, strategy="uniform")
    pd.testing.assert_frame_equal(table, expected)
    # |0.2 - 0.5| and |0.7 - 1.0|, both weighted 2/4.
    assert expected_calibration_error(y, p, n_bins=2, strategy="uniform") == pytest.approx(0.3)


def test_quantile_bins_keep_equal_scores_together() -> None:
    p = [0.2] * 6 + [0.9] * 4
    y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    table = reliability_table(y, p, n_bins=10)
    assert table["count"].tolist() == [6, 4]
    assert table["mean_predicted"].tolist() == pytest.approx([0.2, 0.9])
    assert table["fraction_positive"].tolist() == pytest.approx([1 / 6, 0.75])


def test_ece_matches_slow_loop_and_is_small_when_calibrated() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(size=5000)
    y = (rng.uniform(size=5000) < p).astype(int)
    # Slow reference: equal-count bins by sorting, 500 customers each (scores are distinct).
    order = np.argsort(p)
    reference = sum(
        abs(p[idx].mean() - y[idx].mean()) * len(idx) for idx in np.array_split(order, 10)
    ) / len(p)
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(reference)
    assert reference < 0.03
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.15


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_bins": 0}, "n_bins"), ({"strategy": "equal"}, "strategy")],
)
def test_ece_rejects_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        expected_calibration_error([0, 1], [0.2, 0.8], **kwargs)


# --- curves -------------------------------------------------------------------------------


def _emp_reference(
    y: np.ndarray,
    p: np.ndarray,
    *,
    clv: float,
    d: float,
    f: float,
    alpha: float,
    beta: float,
    n_grid: int = 200_000,
) -> tuple[float, float]:
    """Slow, obviously correct: integrate max-over-thresholds profit over a gamma grid."""
    n = len(y)
    thresholds = np.r_[np.inf, np.unique(p)]  # inf: contact nobody
    tp = np.array([y[p >= t].sum() for t in thresholds], dtype=float)
    fp = np.array([(1 - y[p >= t]).sum() for t in thresholds], dtype=float)
    gamma = (np.arange(n_grid) + 0.5) / n_grid  # midpoint rule on [0, 1]
    weight = stats.beta.pdf(gamma, alpha, beta) / n_grid
    profit = (tp[None, :] * (gamma[:, None] * (clv - d) - f) - fp[None, :] * (d + f)) / n
    best = profit.argmax(axis=1)
    emp = float((profit[np.arange(n_grid), best] * weight).sum())
    share = float((((tp + fp)[best] / n) * weight).sum())
    return emp, share


def test_emp_hand_computed_with_uniform_acceptance() -> None:
    # 5 customers by descending score: churner, churner, no, churner, no (pi0 = 3/5).
    # ROC hull (FP, TP): (0, 0) -> (0, 2) -> (1, 3) -> (2, 3); clv=200, d=10, f=1.
    # Profit per customer at (FP, TP): [TP * (190 g - 1) - FP * 11] / 5.
    #   (0, 2): 76 g - 0.4        pays from g1 = f / (clv - d) = 1/190
    #   (1, 3): 114 g - 2.8       better from g2 = (1*1 + 11*1) / (190*1) = 12/190
    #   (2, 3): never better (adds a non-churner only).
    # gamma ~ Beta(1, 1) = Uniform(0, 1):
    #   EMP = int_{g1}^{g2} (76 g - 0.4) dg + int_{g2}^{1} (114 g - 2.8) dg = 51563/950
    #   share = 2/5 * (g2 - g1) + 4/5 * (1 - g2) = 367/475
    g1, g2 = Fraction(1, 190), Fraction(12, 190)
    emp_exact = (
        Fraction(76) * (g2**2 - g1**2) / 2
        - Fraction(2, 5) * (g2 - g1)
        + Fraction(114) * (1 - g2**2) / 2
        - Fraction(14, 5) * (1 - g2)
    )
    assert emp_exact == Fraction(51563, 950)
    emp, share = emp_churn([1, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.5], alpha=1.0, beta=1.0)
    assert emp == pytest.approx(51563 / 950, abs=1e-12)
    assert share == pytest.approx(367 / 475, abs=1e-12)


def test_emp_matches_published_example() -> None:
    # The docstring example of empulse's empc (a port of the R package EMP).
    emp, share = emp_churn([0, 1, 0, 1, 0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9])
    assert emp == pytest.approx(23.875593418348124, rel=1e-10)
    assert share == pytest.approx(0.8743700763487141, rel=1e-10)


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        (0, {"clv": 200.0, "d": 10.0, "f": 1.0, "alpha": 6.0, "beta": 14.0}),
        (1, {"clv": 50.0, "d": 5.0, "f": 2.0, "alpha": 2.0, "beta": 3.0}),
        (2, {"clv": 500.0, "d": 40.0, "f": 0.0, "alpha": 6.0, "beta": 14.0}),
        (3, {"clv": 120.0, "d": 0.0, "f": 3.0, "alpha": 1.5, "beta": 8.0}),
    ],
)
def test_emp_matches_slow_grid_integration(seed: int, params: dict) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=80)
    # Rounded scores: plenty of ties, which must be contacted together.
    p = np.round(np.clip(0.25 * y + rng.uniform(0, 0.75, size=80), 0, 1), 1)
    expected = _emp_reference(y, p, **params)
    got = emp_churn(
        y,
        p,
        clv=params["clv"],
        incentive_cost=params["d"],
        contact_cost=params["f"],
        alpha=params["alpha"],
        beta=params["beta"],
    )
    assert got[0] == pytest.approx(expected[0], abs=1e-4)
    assert got[1] == pytest.approx(expected[1], abs=1e-4)


def test_emp_depends_only_on_ranking_and_rewards_better_ranking() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=300)
    p = np.clip(0.2 * y + rng.uniform(0, 0.8, size=300), 0, 1)
    assert emp_churn(y, p) == pytest.approx(emp_churn(y, np.log(p + 1e-3) * 7 - 2))
    assert emp_churn(y, y * 0.5 + 0.25)[0] > emp_churn(y, p)[0] > emp_churn(y, 1 - p)[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"clv": 10.0, "incentive_cost": 10.0}, "clv must exceed incentive_cost"),
        ({"alpha": 0.0}, "alpha"),
        ({"beta": -1.0}, "beta"),
        ({"contact_cost": -1.0}, "contact_cost"),
        ({"clv": float("nan")}, "clv"),
    ],
)
def test_emp_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        emp_churn([0, 1], [0.1, 0.9], **kwargs)


# --- grade --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "baseline", "expected"),
    [
        ({"roc_auc": 0.80, "pr_auc": 0.50}, {"roc_auc": 0.75, "pr_auc": 0.45}, "A"),
        # AUC clearly better but PR AUC only 2 % better: not clearly better.
        ({"roc_auc": 0.80, "pr_auc": 0.459}, {"roc_auc": 0.75, "pr_auc": 0.45}, "B"),
        # PR AUC much better but AUC only 0.01 better.
        ({"roc_auc": 0.76, "pr_auc": 0.60}, {"roc_auc": 0.75, "pr_auc": 0.45}, "B"),
        ({"roc_auc": 0.75, "pr_auc": 0.60}, {"roc_auc": 0.75, "pr_auc": 0.45}, "C"),
        ({"roc_auc": 0.70, "pr_auc": 0.40}, {"roc_auc": 0.75, "pr_auc": 0.45}, "C"),
    ],
)
def test_grade(model: dict, baseline: dict, expected: str) -> None:
    assert grade({**model, "brier": 0.1}, baseline) == expected


def test_grade_names_the_incomplete_argument() -> None:
    with pytest.raises(KeyError, match="baseline lacks"):
        grade({"roc_auc": 0.8, "pr_auc": 0.5}, {"roc_auc": 0.7})
    with pytest.raises(ValueError, match=r"model\['roc_auc'\]"):
        grade({"roc_auc": float("nan"), "pr_auc": 0.5}, {"roc_auc": 0.7, "pr_auc": 0.4})


# --- summarise_backtest -------------------------------------------------------------------


def _per_cutoff() -> pd.DataFrame:
    cutoffs = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    return pd.DataFrame(
        {
            "model": ["lgbm"] * 3 + ["recency"] * 3,
            "cutoff": list(cutoffs) * 2,
            "roc_auc": [0.80, 0.82, 0.84, 0.70, 0.70, 0.73],
            "brier": [0.10, 0.12, 0.11, 0.20, 0.22, 0.21],
        }
    )


def test_summarise_backtest_hand_computed() -> None:
    summary = summarise_backtest(_per_cutoff())
    expected = pd.DataFrame(
        {
            "model": ["lgbm", "recency"],
            "n_cutoffs": np.array([3, 3], dtype=np.int64),
            "last_cutoff": pd.to_datetime(["2024-03-01", "2024-03-01"]),
            "roc_auc_mean": [0.82, 0.71],
            "roc_auc_std": [0.02, math.sqrt(0.0003)],  # deviations (-2, 0, 2) and (-1, -1, 2) %
            "roc_auc_last": [0.84, 0.73],
            "brier_mean": [0.11, 0.21],
            "brier_std": [0.01, 0.01],
            "brier_last": [0.11, 0.21],
        }
    )
    pd.testing.assert_frame_equal(summary, expected, check_exact=False, rtol=1e-9)


def test_summarise_backtest_last_means_latest_cutoff_not_last_row() -> None:
    frame = _per_cutoff()
    shuffled = frame.iloc[[5, 2, 0, 4, 1, 3]].reset_index(drop=True)
    pd.testing.assert_frame_equal(summarise_backtest(shuffled), summarise_backtest(frame))


def test_summarise_backtest_rejects_bad_frames() -> None:
    frame = _per_cutoff()
    with pytest.raises(ValueError, match="lacks columns"):
        summarise_backtest(frame.drop(columns="cutoff"))
    with pytest.raises(ValueError, match="repeats"):
        summarise_backtest(pd.concat([frame, frame.head(1)]))
    with pytest.raises(ValueError, match="numeric"):
        summarise_backtest(frame.assign(note="x"))
    with pytest.raises(ValueError, match="no metric columns"):
        summarise_backtest(frame[["model", "cutoff"]])


# --- calibration ----------------------------------------------------------------------------


def test_isotonic_calibrator_hand_computed() -> None:
    # PAV pools the violating pair (0.2 -> 1, 0.3 -> 0) into 0.5; the ends hit y_min/y_max.
    calibrator = fit_calibrator([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], method="isotonic")
    eps = calibrator.eps
    got = calibrator.predict([0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 1.0])
    np.testing.assert_allclose(
        got, [eps, eps, (eps + 0.5) / 2, 0.5, 0.5, 0.5, 1 - eps, 1 - eps], atol=1e-12
    )


def test_isotonic_calibrator_reproduces_sklearn_without_it() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < p**2).astype(int)
    calibrator = fit_calibrator(y, p)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6).fit(p, y)
    grid = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(calibrator.predict(grid), iso.predict(grid), atol=1e-12)


def test_platt_calibrator_hand_computed() -> None:
    # logit(p) is -1 for four customers (one churns) and +1 for four (three churn). The
    # saturated logistic fit reproduces both rates: coef * (+-1) + intercept = +-ln 3.
    p = expit(np.array([-1.0] * 4 + [1.0] * 4))
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    calibrator = fit_calibrator(y, p, method="platt")
    assert calibrator.coef == pytest.approx(math.log(3), abs=1e-4)
    assert calibrator.intercept == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(calibrator.predict(p), [0.25] * 4 + [0.75] * 4, atol=1e-4)


def test_platt_calibrator_recovers_known_logistic() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(0.0, 1.5, size=40_000)
    y = (rng.uniform(size=z.size) < expit(2.0 * z - 0.5)).astype(int)
    calibrator = fit_calibrator(y, expit(z), method="platt")
    assert calibrator.coef == pytest.approx(2.0, abs=0.08)
    assert calibrator.intercept == pytest.approx(-0.5, abs=0.06)


@pytest.mark.parametrize("n", [60, 5_000])
def test_platt_fit_is_the_unpenalised_maximum_likelihood_fit(n: int) -> None:
    # Newton's two-parameter fit lands where scikit-learn's unpenalised solver does at a
    # tight tolerance: the calibrators it replaced, to far below any reported digit.
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(n)
    z = rng.normal(0.3, 1.8, size=n)
    y = (rng.uniform(size=n) < expit(0.8 * z - 0.4)).astype(int)
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(z.reshape(-1, 1), y)
    coef, intercept = platt_fit(z, y)
    assert coef == pytest.approx(lr.coef_[0, 0], abs=1e-7)
    assert intercept == pytest.approx(lr.intercept_[0], abs=1e-7)


def test_platt_fit_with_one_score_learns_the_base_rate() -> None:
    # every validation score equal: no slope to learn, the intercept is the churn rate
    coef, intercept = platt_fit(np.zeros(10), np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]))
    assert expit(coef * 0.0 + intercept) == pytest.approx(0.3, abs=1e-9)


def test_paired_bootstraps_give_each_comparison_what_it_gets_alone() -> None:
    rng = np.random.default_rng(4)
    y = (rng.uniform(size=3_000) < 0.4).astype(int)
    model = np.clip(0.3 * y + 0.7 * rng.uniform(size=y.size), 0, 1)
    others = {
        "noise": rng.uniform(size=y.size),
        "close": np.clip(model + rng.normal(0, 0.1, y.size), 0, 1),
    }
    together = paired_bootstraps(y, model, others, n_boot=250, seed=3)
    for name, other in others.items():
        assert together[name] == paired_bootstrap(y, model, other, n_boot=250, seed=3)
    assert together["noise"]["roc_auc"]["low"] > 0  # the informative model wins clearly


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibrator_json_round_trip(method: str) -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p).astype(int)
    calibrator = fit_calibrator(y, p, method=method)
    restored = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    assert restored == calibrator
    np.testing.assert_array_equal(restored.predict(p), calibrator.predict(p))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            {"format_version": 2, "method": "platt", "coef": 1, "intercept": 0, "eps": 1e-6},
            "format_version",
        ),
        ({"format_version": 1, "method": "beta", "eps": 1e-6}, "method"),
        ({"format_version": 1, "method": "platt", "coef": 1.0, "eps": 1e-6}, "intercept"),
        (
            {
                "format_version": 1,
                "method": "isotonic",
                "eps": 1e-6,
                "x_thresholds": [0.1, 0.2],
                "y_thresholds": [0.5, 0.4],
            },
            "non-decreasing",
        ),
    ],
)
def test_calibrator_from_dict_rejects_bad_data(data: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Calibrator.from_dict(data)


def test_fit_calibrator_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="method"):
        fit_calibrator([0, 1], [0.2, 0.8], method="beta")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="both classes"):
        fit_calibrator([1, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="p_val must hold probabilities"):
        fit_calibrator([0, 1], [0.2, 1.8])
    with pytest.raises(ValueError, match="y_val must be 1-D with 2 rows"):
        fit_calibrator([0, 1, 1], [0.2, 0.8])
    calibrator = fit_calibrator([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="p must hold probabilities"):
        calibrator.predict([-0.1])


def test_weighted_auc_is_the_auc_of_the_resample() -> None:
    # Each bootstrap AUC must be exactly the AUC of the customers counted that many
    # times, ties between a churner and a stayer counting one half.
    from pipeline.evaluate import _weighted_auc

    rng = np.random.default_rng(11)
    n = 3_000
    y = (rng.random(n) < 0.35).astype(float)
    for score in (rng.random(n) + 0.3 * y, np.round(rng.random(n) + 0.3 * y, 1)):
        weights = rng.poisson(1.0, size=(4, n)).astype(float)
        got = _weighted_auc(y, score, weights)
        for row, w in zip(got, weights, strict=True):
            want = roc_auc_score(np.repeat(y, w.astype(int)), np.repeat(score, w.astype(int)))
            assert row == pytest.approx(want, abs=1e-12)
        assert _weighted_auc(y, score, np.ones((1, n)))[0] == pytest.approx(
            roc_auc_score(y, score), abs=1e-12
        )
