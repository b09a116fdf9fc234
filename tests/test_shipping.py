"""The ship procedure: which cutoffs it learns from, and a calibrator that belongs to
its own booster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.calibration import fit_calibrator
from pipeline.config import Params
from pipeline.labels import Cutoffs
from pipeline.shipping import ship, split_for
from pipeline.train import Design, predict
from tests.conftest import ts

GRID = tuple(ts("2023-01-01") + pd.Timedelta(days=30 * k) for k in range(12))
CUTS = Cutoffs(
    labelled=GRID, score=GRID[-1] + pd.Timedelta(days=91), every_days=30, horizon_days=90
)


def test_split_for_a_backtest_origin_and_for_the_scoring_date():
    origin = GRID[-1]
    split = split_for(CUTS, origin)
    assert split.valid == (GRID[-4],)  # its horizon ends exactly at the origin
    assert split.train == GRID[:-6]  # horizons that end by the validation cutoff
    # the scoring date is off the grid: the latest labelled cutoff that has ended
    score = split_for(CUTS, CUTS.score)
    assert score.valid == (GRID[-1],)
    assert max(score.train) + pd.Timedelta(days=90) <= score.valid[0]
    two = split_for(CUTS, CUTS.score, validation_cutoffs=2)
    assert two.valid == (GRID[-2], GRID[-1])
    with pytest.raises(ValueError, match="lower\\s+snapshots.min_history_days|Lower snapshots"):
        split_for(CUTS, GRID[3])


def _snapshots(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for cutoff in GRID:
        n = 600
        recency = rng.exponential(60, n)
        spend = rng.gamma(2.0, 50.0, n)
        noise = rng.normal(size=n)
        risk = 1 / (1 + np.exp(-(recency - 60) / 25 + 0.3 * noise))
        churned = (rng.random(n) < risk).astype("int8")
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "cutoff": cutoff,
                    "days_since_last_order": recency,
                    "spend_365d": spend,
                    "noise": noise,
                    "churned": churned,
                    "future_spend": np.where(
                        churned == 0, spend / 4 * rng.uniform(0.5, 1.5, n), 0
                    ),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_the_shipped_calibrator_is_fitted_on_the_shipped_boosters_own_scores():
    snapshots = _snapshots()
    design = Design(features=("days_since_last_order", "spend_365d", "noise"), categories={})
    params = Params.model_validate(
        {"evaluate": {"bgnbd": False}, "train": {"max_rounds": 200, "calibration": "platt"}}
    )
    at = GRID[-1]
    shipped = ship(
        snapshots, pd.DataFrame(columns=["customer_id", "ordered_at"]), CUTS, at, design, params
    )
    assert shipped.split == split_for(CUTS, at)
    valid = snapshots[snapshots["cutoff"].isin(shipped.split.valid)]
    own = predict(shipped.booster, design, valid)
    refit = fit_calibrator(valid["churned"].to_numpy(), own, method="platt")
    assert shipped.calibrated["lightgbm"].calibrator == refit
    rows = snapshots[snapshots["cutoff"] == at]
    no_orders = pd.DataFrame(
        {"customer_id": pd.Series(dtype="string"), "ordered_at": pd.Series(dtype="datetime64[us]")}
    )
    out = shipped.predict(rows, no_orders)
    np.testing.assert_array_equal(
        out["p_lightgbm"], refit.predict(predict(shipped.booster, design, rows))
    )
    np.testing.assert_array_equal(out["churn_score_raw"], predict(shipped.booster, design, rows))
    assert (out["expected_value"] > 0).all()
    # value if retained follows spend: the value model learnt something
    assert np.corrcoef(out["expected_value"], rows["spend_365d"])[0, 1] > 0.5
    with pytest.raises(ValueError, match="that is the future"):
        shipped.predict(rows, pd.DataFrame({"customer_id": ["c1"], "ordered_at": [at]}))


def test_choices_do_not_read_the_origins_own_labels():
    """Relabel everything whose horizon ends after the origin: nothing shipped changes."""
    snapshots = _snapshots(1)
    design = Design(features=("days_since_last_order", "spend_365d", "noise"), categories={})
    params = Params.model_validate({"evaluate": {"bgnbd": False}, "train": {"max_rounds": 100}})
    at = GRID[-3]
    no_orders = pd.DataFrame(columns=["customer_id", "ordered_at"])
    first = ship(snapshots, no_orders, CUTS, at, design, params)
    future = snapshots["cutoff"] + pd.Timedelta(days=90) > at
    scrambled = snapshots.copy()
    scrambled.loc[future, "churned"] = 1 - scrambled.loc[future, "churned"]
    scrambled.loc[future, "future_spend"] = 0.0
    second = ship(scrambled, no_orders, CUTS, at, design, params)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.calibrated == second.calibrated
    assert first.value_booster.model_to_string() == second.value_booster.model_to_string()
