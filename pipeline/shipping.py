"""The ship procedure: everything fitted, chosen and calibrated for one date, and nothing else.

A model shipped for date ``at`` (the scoring date, or a backtest origin) learns only
from snapshots whose label windows end by ``at``:

* the **validation cutoff(s)** are the latest labelled cutoffs whose horizon ends by
  ``at``; the **training cutoffs** are those whose horizon ends by the first
  validation cutoff, so validation is out of time;
* LightGBM trains on the training cutoffs and early-stops on the validation cutoff;
* the calibration map (none, Platt or isotonic) is chosen by cross-fitting on the
  validation cutoff and then fitted on all of it, **for this booster**: no refit
  follows, so the calibrator is only ever applied to the scores it was fitted on;
* every baseline gets the same opportunity: the recency rule and the logistic
  regression train on the training cutoffs, BG/NBD on the orders before the
  validation cutoff, and each is calibrated on the validation cutoff the same way;
  BG/NBD is also shipped the way people usually ship it (fitted on every order before
  ``at``, uncalibrated) as ``bgnbd_raw``;
* the value model (spend over the next horizon if retained) trains and early-stops on
  the same cutoffs.

The backtest runs this very procedure as of each origin, and the list is scored by it
as of the scoring date: what is reported is what ships.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import lightgbm as lgb
import numpy as np
import pandas as pd

from pipeline import baselines, clv
from pipeline.calibration import Calibrator, choose_calibration, fit_calibrator
from pipeline.config import Params
from pipeline.labels import Cutoffs, Split, sample_rows, split_for
from pipeline.names import MODEL, RAW_BGNBD
from pipeline.train import (
    ChurnScore,
    Design,
    bgnbd_reference,
    choose_bgnbd_weight,
    fit_churn,
    fit_value,
    predict,
)

log = logging.getLogger(__name__)


YEAR = pd.Timedelta(days=365)
# Fewer customers than this in last year's window: its churn rate is too noisy to move
# the calibration by.
MIN_SEASON_POPULATION = 200


def churn_rate(
    orders: pd.DataFrame, at: pd.Timestamp, *, lookback_days: int, horizon_days: int
) -> tuple[float, int]:
    """Share of the customers active in ``[at - lookback, at)`` who bought nothing in
    ``[at, at + horizon)``, and how many customers that is."""
    t = orders["ordered_at"]
    active = orders.loc[(t >= at - pd.Timedelta(days=lookback_days)) & (t < at), "customer_id"]
    came_back = orders.loc[(t >= at) & (t < at + pd.Timedelta(days=horizon_days)), "customer_id"]
    population = pd.Index(active.unique())
    if population.empty:
        return float("nan"), 0
    return float(1.0 - population.isin(came_back.unique()).mean()), len(population)


def seasonal_shift(
    orders: pd.DataFrame,
    *,
    at: pd.Timestamp,
    valid: tuple[pd.Timestamp, ...],
    lookback_days: int,
    horizon_days: int,
    min_history_days: int,
) -> dict[str, object]:
    """How much the churn base rate moves from the validation window to ``at``'s window.

    A calibrator fitted on the validation cutoff carries that window's base rate to the
    window it is shipped for. Three months apart the season differs (a summer lull
    against the Christmas peak), so every calibrated model over- or under-states churn
    by the same few points. The shift in log-odds between the same two windows one year
    earlier estimates that season's effect (a label-shift correction): all of it is
    history whose outcomes were known long before ``at``.

    Returns
    -------
    dict
        ``shift`` (log-odds to add; 0 when it cannot be estimated), the two rates and
        populations it came from, and ``reason`` when it was not applied.
    """
    first = orders["ordered_at"].min()
    then_valid = [v - YEAR for v in valid]
    then_at = at - YEAR
    out: dict[str, object] = {"shift": 0.0, "year_before": str(then_at.date())}
    if pd.isna(first) or min(then_valid) < first + pd.Timedelta(days=min_history_days):
        starts = "no orders" if pd.isna(first) else f"the data starts {first:%Y-%m-%d}"
        out["reason"] = (
            f"{starts}: less than {min_history_days} days of history "
            f"a year before the validation cutoff"
        )
        return out
    before = orders[orders["ordered_at"] < at]
    rates = [
        churn_rate(before, c, lookback_days=lookback_days, horizon_days=horizon_days)
        for c in (*then_valid, then_at)
    ]
    if min(n for _, n in rates) < MIN_SEASON_POPULATION:
        out["reason"] = f"fewer than {MIN_SEASON_POPULATION} customers a year earlier"
        return out
    r_valid = float(np.mean([r for r, _ in rates[:-1]]))
    r_at = rates[-1][0]
    out.update(
        shift=float(_logit(r_at) - _logit(r_valid)),
        rate_year_before_validation=r_valid,
        rate_year_before_shipping=r_at,
    )
    return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


@dataclass(frozen=True)
class Calibrated:
    """A churn score and the calibrator fitted on its own validation scores."""

    calibrator: Calibrator
    cross_fitted_brier: dict[str, float]

    @property
    def method(self) -> str:
        return self.calibrator.method


@dataclass(frozen=True)
class Shipped:
    """Everything fitted for one date; :meth:`predict` scores that date's customers."""

    split: Split
    design: Design
    churn: ChurnScore
    value_booster: lgb.Booster
    calibrated: dict[str, Calibrated]  # model name -> its calibrator
    recency: baselines.RecencyRule
    logistic: object  # a fitted scikit-learn pipeline
    bgnbd: clv.BgNbd | None
    bgnbd_raw: clv.BgNbd | None
    horizon_days: int
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def calibration(self) -> str:
        return self.calibrated[MODEL].method

    @property
    def booster(self) -> lgb.Booster:
        return self.churn.booster

    def raw_scores(
        self, rows: pd.DataFrame, orders: pd.DataFrame, *, model: bool = True
    ) -> dict[str, np.ndarray]:
        """Uncalibrated scores of every model for ``rows`` (one cutoff's snapshot);
        ``model=False``: the baselines only."""
        out = {MODEL: self.churn.predict(rows)} if model else {}
        out |= {
            "recency": self.recency.predict_proba(rows["days_since_last_order"].to_numpy())[:, 1],
            "logistic": self.logistic.predict_proba(self.design.matrix(rows))[:, 1],
        }
        if self.bgnbd is not None:
            out["bgnbd"] = self.bgnbd.p_no_purchase(
                *_bgnbd_inputs(rows, orders), horizon_days=self.horizon_days
            )
        return out

    def predict(self, rows: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
        """The shipped probabilities (each model with its own calibrator) and value.

        Parameters
        ----------
        rows
            The snapshot of ONE cutoff: features as of that cutoff.
        orders
            ``customer_id``, ``ordered_at`` of the orders BEFORE that cutoff (BG/NBD's
            history); nothing later may be passed.

        Returns
        -------
        DataFrame
            Same index: ``p_<model>`` for the model and every baseline (calibrated),
            ``p_bgnbd_raw``, ``churn_score_raw`` (the shipped score before calibration:
            the booster, blended with BG/NBD when its weight is not 0) and
            ``expected_value`` (spend over the next horizon if retained).
        """
        cutoffs = rows["cutoff"].unique()
        if len(cutoffs) != 1:
            raise ValueError(f"predict scores one cutoff at a time, got {len(cutoffs)}")
        late = orders["ordered_at"] >= cutoffs[0]
        if late.any():
            raise ValueError(
                f"orders passed to predict hold {int(late.sum())} orders at or after the "
                f"cutoff {pd.Timestamp(cutoffs[0]):%Y-%m-%d}, e.g. "
                f"{orders.loc[late, 'ordered_at'].head(3).tolist()}: that is the future"
            )
        raw = self.raw_scores(rows, orders)
        out = {f"p_{name}": self.calibrated[name].calibrator.predict(p) for name, p in raw.items()}
        if self.bgnbd_raw is not None:
            out[f"p_{RAW_BGNBD}"] = self.bgnbd_raw.p_no_purchase(
                *_bgnbd_inputs(rows, orders), horizon_days=self.horizon_days
            )
        out["churn_score_raw"] = raw[MODEL]
        out["expected_value"] = predict(self.value_booster, self.design, rows)
        return pd.DataFrame(out, index=rows.index)


def _bgnbd_inputs(
    rows: pd.DataFrame, orders: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD's frequency, recency and age (days) of ``rows``' customers at their cutoff."""
    cutoff = pd.Timestamp(rows["cutoff"].iloc[0])
    summary = clv.bgnbd_summary(orders, cutoff=cutoff, customer_ids=rows["customer_id"].to_numpy())
    return tuple(summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))


def _fit_bgnbd(orders: pd.DataFrame, cutoff: pd.Timestamp, seed: int) -> clv.BgNbd:
    summary = clv.bgnbd_summary(orders, cutoff=cutoff)
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    return clv.fit_bgnbd(x, t_x, T, seed=seed)


def _rows(snapshots: pd.DataFrame, cutoffs: Sequence[pd.Timestamp]) -> pd.DataFrame:
    return snapshots[snapshots["cutoff"].isin(list(cutoffs))].reset_index(drop=True)


def _calibrate(y: np.ndarray, p: np.ndarray, setting: str, seed: int) -> Calibrated:
    if setting == "auto":
        method, brier = choose_calibration(y, p, seed=seed)
    else:
        method, brier = setting, {}
    return Calibrated(fit_calibrator(y, p, method=method), brier)


def training_rows(
    snapshots: pd.DataFrame, split: Split, params: Params
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training rows (sampled above ``train.max_rows``) and validation rows of a split.

    Raises
    ------
    ValueError
        If either holds a single class (the message says which parameters to check).
    """
    train = sample_rows(
        _rows(snapshots, split.train), max_rows=params.train.max_rows, seed=params.train.seed
    )
    valid = _rows(snapshots, split.valid)
    for name, rows in (("training", train), ("validation", valid)):
        y = rows["churned"].to_numpy(int)
        if y.min() == y.max():
            raise ValueError(
                f"the {name} snapshots for {split.at:%Y-%m-%d} hold only "
                f"{'churners' if y.min() else 'customers who stayed'} ({len(y)} rows): "
                "the churn horizon or the population is degenerate; check "
                "churn.horizon_days, churn.lookback_days and score.as_of"
            )
    return train, valid


def fit_shipped_churn(
    train: pd.DataFrame, valid: pd.DataFrame, design: Design, params: Params
) -> tuple[ChurnScore, Calibrated]:
    """The churn score and the calibrator chosen and fitted on ITS validation scores.

    The booster early-stops on the validation cutoff; the same cutoff chooses its blend
    with BG/NBD (``train.bgnbd_blend``) and then the calibration of the blend.
    """
    booster = fit_churn(train, valid, design, params.train)
    trees = booster.predict(design.matrix(valid), raw_score=True)  # once, for every choice
    weight = (
        choose_bgnbd_weight(booster, design, valid, trees) if params.train.bgnbd_blend else 0.0
    )
    score = ChurnScore(booster, design, weight, bgnbd_reference(valid) if weight else 0.0)
    y = valid["churned"].to_numpy(int)
    calibrated = _calibrate(
        y, score.predict(valid, trees), params.train.calibration, params.train.seed
    )
    return score, calibrated


def ship(
    snapshots: pd.DataFrame,
    orders: pd.DataFrame,
    cuts: Cutoffs,
    at: pd.Timestamp,
    design: Design,
    params: Params,
) -> Shipped:
    """Fit the churn model, its calibrator, the value model and the baselines for ``at``.

    Parameters
    ----------
    snapshots
        Labelled snapshots (at least every cutoff whose horizon ends by ``at``).
    orders
        ``customer_id``, ``ordered_at``; only those before ``at`` are read.
    cuts
        The snapshot grid.
    at
        The date the models are shipped for.
    design
        Feature columns and category levels.
    params
        Pipeline parameters.

    Returns
    -------
    Shipped
    """
    split = split_for(cuts, at, validation_cutoffs=params.snapshots.validation_cutoffs)
    seed = params.train.seed
    train, valid = training_rows(snapshots, split, params)
    y_train = train["churned"].to_numpy(int)

    churn, churn_calibrated = fit_shipped_churn(train, valid, design, params)
    value_booster = fit_value(train, valid, design, params.train)
    recency = baselines.fit_recency_rule(train["days_since_last_order"].to_numpy(), y_train)
    logistic = baselines.fit_logistic_baseline(design.matrix(train), y_train, seed=seed)
    use_bgnbd = params.evaluate.bgnbd
    before_valid = orders[orders["ordered_at"] < split.valid[0]]
    bgnbd = _fit_bgnbd(before_valid, split.valid[0], seed) if use_bgnbd else None
    bgnbd_raw = _fit_bgnbd(orders[orders["ordered_at"] < at], at, seed) if use_bgnbd else None

    partial = Shipped(
        split=split,
        design=design,
        churn=churn,
        value_booster=value_booster,
        calibrated={},
        recency=recency,
        logistic=logistic,
        bgnbd=bgnbd,
        bgnbd_raw=bgnbd_raw,
        horizon_days=cuts.horizon_days,
    )
    # Each baseline's own validation scores decide and fit its own calibrator.
    valid_scores: dict[str, list[np.ndarray]] = {}
    for cutoff in split.valid:
        rows = valid[valid["cutoff"] == cutoff]
        history = orders[orders["ordered_at"] < cutoff]
        # the model's own calibrator is fitted already (fit_shipped_churn)
        for name, p in partial.raw_scores(rows, history, model=False).items():
            valid_scores.setdefault(name, []).append(p)
    y_valid = np.concatenate([valid.loc[valid["cutoff"] == c, "churned"] for c in split.valid])
    calibrated = {MODEL: churn_calibrated} | {
        name: _calibrate(y_valid, np.concatenate(parts), params.train.calibration, seed)
        for name, parts in valid_scores.items()
    }
    season: dict[str, object] = {"shift": 0.0, "reason": "train.seasonal_shift is off"}
    if params.train.seasonal_shift:
        season = seasonal_shift(
            orders,
            at=at,
            valid=split.valid,
            lookback_days=params.churn.lookback_days,
            horizon_days=cuts.horizon_days,
            min_history_days=params.snapshots.min_history_days,
        )
    # every model's calibration carries the same seasonal move: same opportunity
    calibrated = {
        name: replace(c, calibrator=replace(c.calibrator, shift=season["shift"]))
        for name, c in calibrated.items()
    }
    log.info(
        "shipped for %s: trained on %d cutoffs (%d rows), validated on %s, calibration %s, "
        "%d trees",
        at.date(),
        len(split.train),
        len(train),
        [str(c.date()) for c in split.valid],
        {k: v.method for k, v in calibrated.items()},
        churn.booster.num_trees(),
    )
    return Shipped(
        split=split,
        design=design,
        churn=churn,
        value_booster=value_booster,
        calibrated=calibrated,
        recency=recency,
        logistic=logistic,
        bgnbd=bgnbd,
        bgnbd_raw=bgnbd_raw,
        horizon_days=cuts.horizon_days,
        notes={
            "training_rows": len(train),
            "validation_rows": len(valid),
            "seasonal_shift": season,
        },
    )
