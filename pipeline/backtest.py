"""Rolling-origin backtest of the ship procedure: forward tests at past dates.

At each origin (a labelled cutoff) :func:`pipeline.shipping.ship` runs exactly as it
does for the scoring date, seeing only snapshots whose labels end by the origin and
orders before it; the shipped model (with its own calibrator), the value model and
every baseline (shipped the same way) then score the origin's population, and are
compared with what those customers did in the horizon after it. The last origin is the
test cutoff: its figures are a forward test of the list as it would have shipped then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import evaluate
from pipeline.config import Params
from pipeline.evaluate import churn_metrics
from pipeline.labels import Cutoffs, split_for
from pipeline.shipping import MODEL, Shipped, ship
from pipeline.train import Design

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OriginResult:
    """One origin: the shipped models' predictions for its population, and the truth."""

    test: pd.Timestamp
    predictions: pd.DataFrame  # customer_id, cutoff, churned, future_spend, p_*, value
    shipped: Shipped

    @property
    def y(self) -> np.ndarray:
        return self.predictions["churned"].to_numpy(dtype=int)

    @property
    def scores(self) -> dict[str, np.ndarray]:
        """Model name -> shipped churn probability, in the row order of ``predictions``."""
        return {
            c.removeprefix("p_"): self.predictions[c].to_numpy()
            for c in self.predictions.columns
            if c.startswith("p_")
        }

    def metrics(self, params: Params) -> dict[str, dict[str, float]]:
        return churn_metrics(self.y, self.scores, params)

    def value_metrics(self) -> dict[str, dict[str, float]]:
        """Predicted against actual spend over the horizon, among customers who stayed."""
        kept = self.predictions[self.predictions["churned"] == 0]
        if kept.empty:
            return {}
        actual = kept["future_spend"].to_numpy(dtype=float)
        return {
            "value_model": evaluate.value_metrics(actual, kept["expected_value"].to_numpy()),
            # the naive guess: the last horizon's spend again
            "last_horizon_spend": evaluate.value_metrics(
                actual, kept["spend_last_horizon"].to_numpy(dtype=float)
            ),
        }


def spend_last_horizon(rows: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """The naive value forecast: spend in the last horizon, from the nearest window."""
    for days in (30, 90, 365):
        if horizon_days <= days:
            return rows[f"spend_{days}d"].to_numpy(dtype=float) * horizon_days / days
    return rows["spend_365d"].to_numpy(dtype=float) * horizon_days / 365


def predict_origin(
    shipped: Shipped, rows: pd.DataFrame, orders: pd.DataFrame, horizon_days: int
) -> pd.DataFrame:
    """The shipped predictions for one cutoff's rows, with its labels when known."""
    cutoff = pd.Timestamp(rows["cutoff"].iloc[0])
    pred = shipped.predict(rows, orders[orders["ordered_at"] < cutoff])
    keep = [c for c in ("customer_id", "cutoff", "churned", "future_spend") if c in rows]
    out = pd.concat([rows[keep], pred], axis=1)
    out["spend_last_horizon"] = spend_last_horizon(rows, horizon_days)
    return out.reset_index(drop=True)


def run_origin(
    snapshots: pd.DataFrame,
    orders: pd.DataFrame,
    cuts: Cutoffs,
    test: pd.Timestamp,
    design: Design,
    params: Params,
) -> OriginResult:
    """Ship as of ``test`` with only what was known then, and score ``test``'s population."""
    shipped = ship(snapshots, orders[orders["ordered_at"] < test], cuts, test, design, params)
    rows = snapshots[snapshots["cutoff"] == test].reset_index(drop=True)
    predictions = predict_origin(shipped, rows, orders, cuts.horizon_days)
    log.info(
        "origin %s: %d customers, AUC %.4f, calibration %s",
        test.date(),
        len(rows),
        evaluate.binary_metrics(rows["churned"].to_numpy(int), predictions[f"p_{MODEL}"])[
            "roc_auc"
        ],
        shipped.calibration,
    )
    return OriginResult(test=test, predictions=predictions, shipped=shipped)


def backtest_origins(cuts: Cutoffs, *, n: int, validation_cutoffs: int) -> list[pd.Timestamp]:
    """The last ``n`` labelled cutoffs a model can be shipped for, oldest first.

    Raises
    ------
    ValueError
        If not even the last labelled cutoff leaves training and validation cutoffs
        before it; the message says how far ``snapshots.min_history_days`` must come
        down.
    """
    origins = []
    for c in reversed(cuts.labelled):
        try:
            split_for(cuts, c, validation_cutoffs=validation_cutoffs)
        except ValueError:
            break
        origins.append(c)
        if len(origins) == n:
            break
    if not origins:
        step = pd.Timedelta(days=cuts.every_days)
        horizon = pd.Timedelta(days=cuts.horizon_days)
        last_valid = cuts.test - horizon
        last_train = last_valid - step * (validation_cutoffs - 1) - horizon
        short = (cuts.labelled[0] - last_train).days
        raise ValueError(
            f"no test cutoff can be evaluated: the last labelled cutoff is "
            f"{cuts.test:%Y-%m-%d}, so training snapshots must end by {last_train:%Y-%m-%d}, "
            f"but the first snapshot is {cuts.labelled[0]:%Y-%m-%d}. Lower "
            f"snapshots.min_history_days by at least {max(short, 1)} days, or "
            "churn.horizon_days."
        )
    return origins[::-1]


def backtest_table(results: list[OriginResult], params: Params) -> pd.DataFrame:
    """One row per (model, cutoff) with every metric."""
    rows = []
    for r in results:
        for model, m in r.metrics(params).items():
            rows.append({"model": model, "cutoff": r.test, **m})
    return pd.DataFrame(rows)
