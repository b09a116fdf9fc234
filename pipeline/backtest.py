"""Rolling-origin evaluation of the churn model against its baselines.

At each origin (a labelled test cutoff) everything is refitted from scratch on the
snapshots whose labels end before it: the LightGBM model (early-stopped on the
validation cutoff), its calibrator (fitted on that validation cutoff only), the
recency rule and the logistic regression (fitted on the training cutoffs), and BG/NBD
(fitted on the order history before the origin). All are scored on the same customers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from pipeline import baselines, evaluate
from pipeline.calibration import Calibrator, fit_calibrator
from pipeline.config import Params
from pipeline.labels import Cutoffs
from pipeline.train import Design, fit_churn, predict

log = logging.getLogger(__name__)

MODEL = "lightgbm"
# Calibration variants, each fitted on the validation cutoff only. "none" is the
# identity map (Platt with slope 1, intercept 0) so every variant saves the same way.
CALIBRATIONS = ("none", "isotonic", "platt")
IDENTITY = Calibrator(method="platt", coef=1.0, intercept=0.0)


def variant_name(calibration: str) -> str:
    return MODEL if calibration == "none" else f"{MODEL}_{calibration}"


@dataclass(frozen=True)
class OriginResult:
    test: pd.Timestamp
    customer_id: np.ndarray
    y: np.ndarray
    scores: dict[str, np.ndarray]  # model name -> churn probability, same row order
    booster: lgb.Booster
    calibrators: dict[str, Calibrator]
    valid_y: np.ndarray
    valid_p: np.ndarray

    def metrics(self, params: Params) -> dict[str, dict[str, float]]:
        e = params.evaluate
        out = {}
        for name, p in self.scores.items():
            m = evaluate.binary_metrics(self.y, p)
            m["ece"] = evaluate.expected_calibration_error(self.y, p)
            m["emp"], m["emp_share_contacted"] = evaluate.emp_churn(
                self.y,
                p,
                clv=e.clv,
                incentive_cost=e.incentive_cost,
                contact_cost=e.contact_cost,
                alpha=e.acceptance_alpha,
                beta=e.acceptance_beta,
            )
            out[name] = {k: float(v) for k, v in m.items()}
        return out


def run_origin(
    snapshots: pd.DataFrame,
    orders: pd.DataFrame,
    cuts: Cutoffs,
    test: pd.Timestamp,
    design: Design,
    params: Params,
) -> OriginResult:
    """Fit every model for one test cutoff and score its population."""
    train_c, valid_c = cuts.split(test, validation_cutoffs=params.snapshots.validation_cutoffs)
    by = snapshots.groupby("cutoff", sort=True)
    train = pd.concat([by.get_group(c) for c in train_c], ignore_index=True)
    valid = pd.concat([by.get_group(c) for c in valid_c], ignore_index=True)
    test_rows = by.get_group(test).reset_index(drop=True)
    booster = fit_churn(train, valid, design, params.train)
    valid_p = predict(booster, design, valid)
    valid_y = valid["churned"].to_numpy()
    calibrators = {"none": IDENTITY} | {
        m: fit_calibrator(valid_y, valid_p, method=m) for m in CALIBRATIONS if m != "none"
    }
    p = predict(booster, design, test_rows)
    scores = {MODEL: p} | {
        variant_name(m): c.predict(p) for m, c in calibrators.items() if m != "none"
    }

    rule = baselines.fit_recency_rule(
        train["days_since_last_order"].to_numpy(), train["churned"].to_numpy()
    )
    scores["recency"] = rule.predict_proba(test_rows["days_since_last_order"].to_numpy())[:, 1]
    logit = baselines.fit_logistic_baseline(
        design.matrix(train), train["churned"].to_numpy(), seed=params.train.seed
    )
    scores["logistic"] = logit.predict_proba(design.matrix(test_rows))[:, 1]
    if params.evaluate.bgnbd:
        summary = baselines.bgnbd_summary(
            orders, cutoff=test, customer_ids=test_rows["customer_id"].to_numpy()
        )
        model = baselines.fit_bgnbd(baselines.bgnbd_summary(orders, cutoff=test))
        prob = baselines.bgnbd_prob_no_purchase(
            model, summary, horizon_days=params.churn.horizon_days
        )
        aligned = pd.Series(prob, index=summary["customer_id"].to_numpy())
        scores["bgnbd"] = aligned.reindex(test_rows["customer_id"].to_numpy()).to_numpy()
    log.info("origin %s: %d train rows, %d test rows", test.date(), len(train), len(test_rows))
    return OriginResult(
        test=test,
        customer_id=test_rows["customer_id"].to_numpy(),
        y=test_rows["churned"].to_numpy().astype(int),
        scores=scores,
        booster=booster,
        calibrators=calibrators,
        valid_y=valid["churned"].to_numpy().astype(int),
        valid_p=valid_p,
    )


def backtest_origins(cuts: Cutoffs, *, n: int, validation_cutoffs: int) -> list[pd.Timestamp]:
    """The last ``n`` labelled cutoffs that still leave a training cutoff, oldest first.

    Raises
    ------
    ValueError
        If not even the last labelled cutoff has a training cutoff far enough before
        it; the message says how far ``snapshots.min_history_days`` must come down.
    """
    origins = []
    for c in reversed(cuts.labelled):
        try:
            cuts.split(c, validation_cutoffs=validation_cutoffs)
        except ValueError:
            break
        origins.append(c)
        if len(origins) == n:
            break
    if not origins:
        step = pd.Timedelta(days=cuts.every_days)
        gap = step * -(-cuts.horizon_days // cuts.every_days)
        last_train = cuts.test - gap - step * (validation_cutoffs - 1) - gap
        short = (cuts.labelled[0] - last_train).days
        raise ValueError(
            f"no test cutoff can be evaluated: the last labelled cutoff is "
            f"{cuts.test:%Y-%m-%d}, so training snapshots must end by {last_train:%Y-%m-%d}, "
            f"but the first snapshot is {cuts.labelled[0]:%Y-%m-%d}. Lower "
            f"snapshots.min_history_days by at least {short} days, or churn.horizon_days."
        )
    return origins[::-1]


def choose_calibration(results: list[OriginResult], setting: str) -> str:
    """The calibration to use: as set, or with ``auto`` the one with the lowest mean
    Brier score on the backtest origins *before* the last (the test stays untouched;
    with a single origin, that origin decides)."""
    if setting != "auto":
        return setting
    earlier = results[:-1] or results
    brier = {
        m: float(
            np.mean(
                [evaluate.binary_metrics(r.y, r.scores[variant_name(m)])["brier"] for r in earlier]
            )
        )
        for m in CALIBRATIONS
    }
    best = min(CALIBRATIONS, key=lambda m: (brier[m], CALIBRATIONS.index(m)))
    log.info("calibration: mean Brier on earlier origins %s -> %s", brier, best)
    return best


def backtest_table(results: list[OriginResult], params: Params) -> pd.DataFrame:
    """One row per (model, cutoff) with every metric."""
    rows = []
    for r in results:
        for model, m in r.metrics(params).items():
            rows.append({"model": model, "cutoff": r.test, **m})
    return pd.DataFrame(rows)
