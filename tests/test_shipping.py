"""The ship procedure: which cutoffs it learns from, and a calibrator that belongs to
its own booster."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pipeline.calibration import fit_calibrator
from pipeline.config import Params
from pipeline.labels import Cutoffs, split_for
from pipeline.shipping import churn_rate, seasonal_shift, ship
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
    assert shipped.churn.bgnbd_weight == 0.0  # no BG/NBD feature in this design
    own = predict(shipped.booster, design, valid)
    refit = fit_calibrator(valid["churned"].to_numpy(), own, method="platt")
    shipped_map = shipped.calibrated["lightgbm"].calibrator
    # the same map to the last digits (the scores differ only in how the sigmoid is
    # taken: LightGBM's own or ours on its raw log-odds); another booster's scores would
    # move it in the third digit
    assert shipped_map.method == refit.method == "platt"
    assert shipped_map.coef == pytest.approx(refit.coef, rel=1e-12)
    assert shipped_map.intercept == pytest.approx(refit.intercept, rel=1e-12)
    rows = snapshots[snapshots["cutoff"] == at]
    no_orders = pd.DataFrame(
        {"customer_id": pd.Series(dtype="string"), "ordered_at": pd.Series(dtype="datetime64[us]")}
    )
    out = shipped.predict(rows, no_orders)
    np.testing.assert_allclose(
        out["p_lightgbm"], refit.predict(predict(shipped.booster, design, rows)), rtol=1e-12
    )
    np.testing.assert_allclose(
        out["churn_score_raw"], predict(shipped.booster, design, rows), rtol=1e-12
    )
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


def _orders(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": [r[0] for r in rows], "ordered_at": pd.to_datetime([r[1] for r in rows])}
    )


def test_churn_rate_counts_the_active_who_did_not_come_back():
    orders = _orders(
        [
            ("a", "2023-01-10"),
            ("a", "2023-03-01"),  # came back inside the horizon
            ("b", "2023-01-20"),  # never came back
            ("c", "2022-01-01"),  # not active in the lookback
            ("c", "2023-03-05"),
            ("d", "2023-02-01"),
            ("d", "2023-05-01"),  # back, but after the horizon
        ]
    )
    rate, n = churn_rate(orders, ts("2023-02-15"), lookback_days=60, horizon_days=60)
    assert (rate, n) == (pytest.approx(2 / 3), 3)


def test_seasonal_shift_is_last_years_move_between_the_two_windows():
    rng = np.random.default_rng(0)
    rows = []
    # a shop where customers who buy before June rarely come back in summer, while
    # autumn brings them back: the June window churns more than the September one
    for year in (2022, 2023):
        for i in range(600):
            cid = f"{year}-{i}"
            rows.append((cid, f"{year}-0{rng.integers(3, 6)}-1{rng.integers(0, 9)}"))
            if rng.random() < 0.3:
                rows.append((cid, f"{year}-07-1{rng.integers(0, 9)}"))
            if rng.random() < 0.8:
                rows.append((cid, f"{year}-10-1{rng.integers(0, 9)}"))
    orders = _orders(rows)
    at, valid = ts("2023-09-10"), (ts("2023-06-12"),)
    out = seasonal_shift(
        orders, at=at, valid=valid, lookback_days=120, horizon_days=90, min_history_days=60
    )
    r_june, _ = churn_rate(orders, ts("2022-06-12"), lookback_days=120, horizon_days=90)
    r_sept, _ = churn_rate(orders, ts("2022-09-10"), lookback_days=120, horizon_days=90)
    assert out["rate_year_before_validation"] == pytest.approx(r_june)
    assert out["rate_year_before_shipping"] == pytest.approx(r_sept)
    expected = np.log(r_sept / (1 - r_sept)) - np.log(r_june / (1 - r_june))
    assert out["shift"] == pytest.approx(expected) and out["shift"] < -1.0
    # no year of history before the validation cutoff: nothing to learn the season from
    short = seasonal_shift(
        orders[orders["ordered_at"] >= "2023-01-01"],
        at=at,
        valid=valid,
        lookback_days=120,
        horizon_days=90,
        min_history_days=60,
    )
    assert short["shift"] == 0.0 and "history" in short["reason"]
    # the calibrator carries the shift: a constant move in log-odds
    moved = fit_calibrator([0, 1, 0, 1], [0.2, 0.4, 0.6, 0.8], method="platt")
    moved = replace(moved, shift=-1.0)
    base = replace(moved, shift=0.0)
    p = np.array([0.3, 0.7])
    got = moved.predict(p)
    np.testing.assert_allclose(
        np.log(got / (1 - got)),
        np.log(base.predict(p) / (1 - base.predict(p))) - 1.0,
        rtol=1e-9,
    )
