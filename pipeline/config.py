"""Typed view of ``params.yaml``: loaded once, validated, frozen.

Unknown keys are rejected (a typo in ``params.yaml`` must not silently fall back to a
default), and every stage reads its parameters from these models, never from a dict.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceFiles(_Model):
    """Paths of a shop's own files (CSV or Parquet, by extension)."""

    orders: str | None = None
    customers: str | None = None
    order_lines: str | None = None
    returns: str | None = None
    sessions: str | None = None
    complaints: str | None = None
    surveys: str | None = None


class OnlineRetail(_Model):
    """Where the UCI Online Retail files live."""

    dir: str = "data/online_retail"


class Source(_Model):
    kind: Literal["synthetic", "files", "online_retail"] = "synthetic"
    files: SourceFiles = SourceFiles()
    # canonical column name -> the file's column name, per table
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    online_retail: OnlineRetail = OnlineRetail()


class Synthetic(_Model):
    """The embedded default shop."""

    n_customers: int = Field(20_000, gt=0)
    start: dt.date = dt.date(2023, 1, 1)
    days: int = Field(730, ge=120)
    seed: int = 42
    survey_share: float = Field(0.10, ge=0.0, le=1.0)


class Ingest(_Model):
    on_bad_rows: Literal["quarantine", "fail"] = "quarantine"
    min_date: dt.date = dt.date(1990, 1, 1)
    max_date: dt.date = dt.date(2100, 1, 1)

    @model_validator(mode="after")
    def _range_not_empty(self) -> Ingest:
        if self.min_date >= self.max_date:
            raise ValueError(
                f"ingest.min_date ({self.min_date}) must be before ingest.max_date "
                f"({self.max_date}), or every dated row is out of range"
            )
        return self


class Churn(_Model):
    horizon_days: int = Field(90, gt=0)
    lookback_days: int = Field(365, gt=0)


class Snapshots(_Model):
    every_days: int = Field(30, gt=0)
    # First cutoff: this many days after the first order in the data, so that the
    # earliest snapshot already has some history behind it.
    min_history_days: int = Field(180, ge=0)
    # The last `validation_cutoffs` labelled cutoffs before the test cutoff
    # early-stop the model; everything earlier trains it.
    validation_cutoffs: int = Field(1, ge=1)


class Score(_Model):
    as_of: dt.date | None = None
    at_risk_size: int = Field(500, gt=0)
    # risk bands by churn probability: [low, high) thresholds
    band_thresholds: tuple[float, float] = (0.3, 0.6)

    @model_validator(mode="after")
    def _bands_increase(self) -> Score:
        lo, hi = self.band_thresholds
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(
                f"score.band_thresholds must be increasing probabilities in [0, 1], got "
                f"{list(self.band_thresholds)}"
            )
        return self


class Train(_Model):
    seed: int = 7
    num_threads: int = Field(2, gt=0)
    learning_rate: float = Field(0.05, gt=0.0)
    num_leaves: int = Field(15, gt=1)
    min_child_samples: int = Field(100, gt=0)
    feature_fraction: float = Field(0.5, gt=0.0, le=1.0)
    bagging_fraction: float = Field(0.8, gt=0.0, le=1.0)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0.0)
    max_rounds: int = Field(2000, gt=0)
    early_stopping_rounds: int = Field(50, gt=0)
    # What early stopping watches on the validation cutoff. The calibrator sets the
    # level afterwards, so ranking (auc) is enough; log loss also punishes a base rate
    # that moved between training and validation (a season), and stops early for it.
    early_stopping_metric: Literal["binary_logloss", "auc"] = "binary_logloss"
    loyalty_max_rounds: int = Field(300, gt=0)
    # Calibration map fitted on the validation cutoff only, for the booster whose scores
    # it maps; "auto" picks none, Platt or isotonic by cross-fitted Brier on that cutoff.
    calibration: Literal["auto", "none", "isotonic", "platt"] = "auto"
    # Above this many training rows, train on a sample stratified by cutoff and label.
    max_rows: int = Field(1_000_000, gt=0)


class Evaluate(_Model):
    # Rolling-origin backtest: this many of the latest labelled cutoffs are test origins.
    backtest_origins: int = Field(4, ge=1)
    bgnbd: bool = True
    # Expected maximum profit (Verbraken et al. 2013): value of a retained customer,
    # cost of the offer and of the contact, and Beta(alpha, beta) acceptance rate.
    clv: float = Field(200.0, gt=0)
    incentive_cost: float = Field(10.0, ge=0)
    contact_cost: float = Field(1.0, ge=0)
    acceptance_alpha: float = Field(6.0, gt=0)
    acceptance_beta: float = Field(14.0, gt=0)


class Explain(_Model):
    # rows of the test cutoff explained for global drivers (a seeded sample)
    max_rows: int = Field(5000, gt=0)
    top_reasons: int = Field(3, gt=0)


class Tracking(_Model):
    experiment: str = "churn-loyalty"


class Registry(_Model):
    """The champion gate (pipeline/registry.py): how much better a new model must be."""

    model_name: str = Field("churn-loyalty", min_length=1)
    # A new version becomes champion only if it beats the champion's ROC-AUC by more than
    # auc_margin and its Brier score by more than brier_margin (lower is better), on the
    # test cutoff and over the backtest, on the same customers.
    auc_margin: float = Field(0.0, ge=-1.0, le=1.0)
    brier_margin: float = Field(0.0, ge=-1.0, le=1.0)
    # estimate: the paired difference must clear the margin; interval: its whole 95%
    # paired bootstrap interval must.
    evidence: Literal["estimate", "interval"] = "estimate"
    n_boot: int = Field(500, ge=50)


class Params(_Model):
    source: Source = Source()
    synthetic: Synthetic = Synthetic()
    ingest: Ingest = Ingest()
    churn: Churn = Churn()
    snapshots: Snapshots = Snapshots()
    score: Score = Score()
    train: Train = Train()
    evaluate: Evaluate = Evaluate()
    explain: Explain = Explain()
    tracking: Tracking = Tracking()
    registry: Registry = Registry()

    @model_validator(mode="after")
    def _files_need_orders(self) -> Params:
        if self.source.kind == "files" and not self.source.files.orders:
            raise ValueError("source.kind is 'files' but source.files.orders is not set")
        return self


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``.

    Parameters
    ----------
    path
        The YAML file; missing sections take their defaults.

    Returns
    -------
    Params
        Frozen, validated parameters.

    Raises
    ------
    pydantic.ValidationError
        If a key is unknown or a value is out of range; the message names the key.
    """
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return Params.model_validate(raw)
