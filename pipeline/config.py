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
    contacts: str | None = None


class OnlineRetail(_Model):
    """Where the UCI Online Retail files live."""

    dir: str = "data/online_retail"


# What a shop's files write for "no value". "NA" is not among them: it is North
# America, or Namibia's country code. Every value read as missing is counted.
MISSING_VALUES = ("", "NULL", "null", "None", "NaN", "nan", "NaT", "N/A", "n/a", "#N/A")


class SourceRead(_Model):
    """How a shop's CSV files were written; ``null`` means: detect it, and log the choice."""

    # utf-8, utf-8-sig (with BOM), gb18030 (also reads GBK), cp1252, latin-1, ...
    encoding: str | None = None
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    decimal: Literal[".", ","] | None = None
    # "" means none; "\u00a0" and "\u202f" (double-quoted in params.yaml) are the
    # no-break space and narrow no-break space French Excel writes (1\u00a0250,00).
    # null: the separator values group digits with (1 250,00, 3'193.92, 1.250,00), else
    # "," with a decimal point, "." with a decimal comma
    thousands: Literal["", ",", ".", " ", "'", "\u00a0", "\u202f"] | None = None
    # a strptime format for every date of the files (e.g. "%d/%m/%Y %H:%M"), or one per
    # table ({orders: "%d/%m/%Y %H:%M", contacts: "%d/%m/%Y"}; a table not named is
    # detected); null: ISO 8601, or a day/month order proven by the data (ambiguous
    # dates stop the run)
    date_format: str | dict[str, str] | None = None
    missing_values: tuple[str, ...] = MISSING_VALUES

    @model_validator(mode="after")
    def _separators_differ(self) -> SourceRead:
        if self.decimal is not None and self.decimal == self.thousands:
            raise ValueError(
                f"source.read.decimal and source.read.thousands are both {self.decimal!r}"
            )
        if isinstance(self.date_format, dict):
            tables = list(SourceFiles.model_fields)
            unknown = sorted(set(self.date_format) - set(tables))
            if unknown:
                raise ValueError(
                    f"source.read.date_format names {unknown}, not tables of source.files "
                    f"({', '.join(tables)})"
                )
        return self

    def date_format_of(self, table: str) -> str | None:
        """The date format the ``table``'s file was written with (None: detect)."""
        if isinstance(self.date_format, dict):
            return self.date_format.get(table)
        return self.date_format


class Source(_Model):
    kind: Literal["synthetic", "files", "online_retail"] = "synthetic"
    files: SourceFiles = SourceFiles()
    # canonical column name -> the file's column name, per table
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    read: SourceRead = SourceRead()
    # IANA zone of timestamps written without an offset (e.g. "Asia/Shanghai"); they
    # are converted to UTC. Unset, a column mixing offsets and naive times is an error.
    timezone: str | None = None
    # When the data were exported: later rows are quarantined. Null: detected from the
    # data (the end of its dense period; lone far-future rows are quarantined).
    export_date: dt.date | dt.datetime | None = None
    online_retail: OnlineRetail = OnlineRetail()

    @property
    def export_moment(self) -> dt.datetime | None:
        """When the export was taken: a date alone means the end of that day."""
        if self.export_date is None or isinstance(self.export_date, dt.datetime):
            return self.export_date
        return dt.datetime.combine(self.export_date + dt.timedelta(days=1), dt.time())

    @model_validator(mode="after")
    def _known_timezone(self) -> Source:
        if self.timezone is not None:
            import zoneinfo

            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
                raise ValueError(
                    f"source.timezone {self.timezone!r} is not an IANA time zone "
                    "(e.g. 'Europe/Berlin', 'Asia/Shanghai', 'UTC')"
                ) from err
        return self


class Synthetic(_Model):
    """The embedded default shop."""

    n_customers: int = Field(20_000, gt=0)
    start: dt.date = dt.date(2023, 1, 1)
    days: int = Field(730, ge=120)
    seed: int = 42
    survey_share: float = Field(0.10, ge=0.0, le=1.0)


class Ingest(_Model):
    # quarantine: set bad rows aside with a reason; fail: stop on any row not accepted
    # as it is (set aside, quarantined, a duplicate, or an optional value nulled)
    on_bad_rows: Literal["quarantine", "fail"] = "quarantine"
    min_date: dt.date = dt.date(1990, 1, 1)
    max_date: dt.date = dt.date(2100, 1, 1)
    # in either mode, stop when more than this share of an input's rows is not accepted
    max_bad_share: float = Field(0.05, ge=0.0, le=1.0)
    # amounts above this many times the 99th percentile are quarantined as implausible
    outlier_factor: float = Field(100.0, gt=1.0)

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


class Features(_Model):
    """Where the feature expressions run."""

    engine: Literal["duckdb", "spark"] = "duckdb"
    # DuckDB's memory cap: joins, aggregates and sorts spill to disk beyond it.
    memory_gb: float = Field(4.0, gt=0)


class Spark(_Model):
    # local[N] on this machine, or a cluster: spark://host:7077, yarn, k8s://...
    master: str = "local[2]"


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
    # risk bands by churn probability: [low, high) thresholds
    band_thresholds: tuple[float, float] = (0.3, 0.6)
    # Columns of the customers file (source.files.customers, named as in the file)
    # copied into the lists, e.g. [name, email, phone]. Never logged, never in MLflow.
    pass_through: tuple[str, ...] = ()
    # What money is counted in, for the people reading the lists (null: from the
    # source when it knows, else "the shop's currency").
    currency: str | None = None
    # Rows per sheet of at_risk.xlsx (the CSVs hold everyone): the workbook is written
    # at about 100,000 cells a second; spreadsheets slow down long before 1M rows.
    workbook_rows: int = Field(100_000, gt=0)

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
    # Blend LightGBM with BG/NBD's own churn probability in log-odds, by the weight
    # (0, 0.1, ... 1) with the best AUC on the validation cutoff; 0 keeps LightGBM alone.
    bgnbd_blend: bool = True
    # Move every calibrated probability by the change in the churn base rate between the
    # validation window and the scoring window, measured on the same windows a year
    # earlier (pipeline.shipping.seasonal_shift); off: the validation window's rate.
    seasonal_shift: bool = True
    # Above this many training rows, train on a sample stratified by cutoff and label.
    max_rows: int = Field(250_000, gt=0)
    # What the shop knows of its own churn, imposed on the churn booster as monotone
    # constraints: features along which the risk never falls (a longer silence) and never
    # rises (the chance, by purchase history, that the customer is still active). Empty:
    # the trees find every shape themselves.
    risk_rises_with: list[str] = []
    risk_falls_with: list[str] = []

    @model_validator(mode="after")
    def _one_direction_each(self) -> Train:
        both = sorted(set(self.risk_rises_with) & set(self.risk_falls_with))
        if both:
            raise ValueError(
                f"train.risk_rises_with and train.risk_falls_with both name {both}: "
                "the risk cannot both rise and fall along a feature"
            )
        return self


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
    # customers explained for the global drivers (a seeded sample)
    max_rows: int = Field(5000, gt=0)
    top_reasons: int = Field(3, gt=0)
    # Reasons for every scored customer up to this many (about 1 ms each); above it,
    # only the customers on the call and win-back lists are explained.
    reasons_for_all_up_to: int = Field(100_000, ge=0)


class Budget(_Model):
    """A list's limits: contacts, money (contacts plus offers), or both; null = none."""

    contacts: int | None = Field(None, ge=0)
    money: float | None = Field(None, ge=0)


class PlayEconomics(_Model):
    offer_cost: float | None = Field(None, ge=0)
    success_factor: float | None = Field(None, ge=0)


class SegmentSuccess(_Model):
    """Chance that a contact keeps a customer who would otherwise leave, by segment."""

    early_warning: float = Field(0.30, ge=0, le=1)
    lapsing: float = Field(0.20, ge=0, le=1)
    lapsed: float = Field(0.10, ge=0, le=1)


class Retention(_Model):
    """Economics of the call list and the win-back list."""

    budget: Budget = Budget(contacts=500)
    winback_budget: Budget = Budget(money=1000.0)
    # share of spend that is profit: what keeping a customer's spend is worth
    margin: float = Field(0.3, gt=0, le=1)
    success: SegmentSuccess = SegmentSuccess()
    # early warning: the probability rose this much since the previous snapshot ...
    rising_by: float = Field(0.15, gt=0, le=1)
    # per play (pipeline.loyalty.PLAYS): override its offer cost or success factor
    plays: dict[str, PlayEconomics] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_plays(self) -> Retention:
        from pipeline.loyalty import PLAYS

        unknown = sorted(set(self.plays) - set(PLAYS))
        if unknown:
            raise ValueError(
                f"retention.plays: unknown play(s) {unknown}; known plays: {sorted(PLAYS)}"
            )
        return self


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


class Uplift(_Model):
    """Learning from past retention campaigns (the ``contacts`` table)."""

    top_share: float = Field(0.2, gt=0.0, le=1.0)  # the budget the policies are compared at
    min_arm: int = Field(50, gt=0)  # treated contacts a play needs for a model of its own
    n_boot: int = Field(500, gt=0)  # bootstrap resamples of the policy differences
    shrink: float = Field(0.5, ge=0.0, le=1.0)  # weight of a play's own estimate vs any contact
    max_rows: int = Field(500_000, gt=0)  # above this many contacts, learn from a sample
    # hazard: each play multiplies the churn hazard by type and situation (few
    # coefficients); x_shrunk: boosted X-learners shrunk to any contact's. Both chosen
    # on the campaign before the held-out one (benchmarks/uplift_learners.py).
    learner: Literal["hazard", "x_shrunk"] = "hazard"
    ridge: float = Field(30.0, ge=0.0)  # the hazard learner's L2 penalty on its coefficients
    # the penalty pulling the baseline's correction on the controls toward the booster
    # (pipeline.uplift.fit_hazard_plays): on the type probabilities' coefficients
    # (null: ``ridge``, the plays' own) and on the situations' (open complaint, late
    # delivery, recent order; null: baseline_ridge's). Chosen on the four campaigns
    # before the held-out one (benchmarks/uplift_learners.py --campaigns 4 --only
    # 'loglog_pooled_30_b*'; README "Who is marked 'do not contact'"), each by a rule
    # fixed before scoring: 30 on everything raised the F1 of the sleeping dogs among
    # the marked by 0.029 for 0.4 point of oracle share; then 1 on the situations, as
    # before, gave 1.3 points and 0.015 more (36.0%, F1 0.446): the booster reads the
    # features the type model reads, a rare observed fact is what its leaves cannot.
    baseline_ridge: float | None = Field(None, ge=0.0)
    situation_ridge: float | None = Field(1.0, ge=0.0)
    # how the hazard learner's multiplier acts on the chance of churning without contact:
    # loglog divides the rate of ordering, cloglog multiplies the hazard of leaving
    # (pipeline.uplift.HAZARD_LINKS; chosen on the campaigns before the held-out one)
    link: Literal["cloglog", "loglog"] = "loglog"
    # "do not contact" also when no play pays for itself and the type model gives more
    # than harm_probability to the loyalty types every play pushes away, a type counting
    # as pushed away when every play's multiplier for it is above 1 + harm_margin
    # (pipeline.uplift.harm_probability). Chosen on the four campaigns before the
    # held-out one by a rule fixed before the grid was first scored: the highest F1 of
    # the sleeping dogs among the marked, within 0.01 of it the highest threshold, then
    # the smallest margin (benchmarks/uplift_learners.py --campaigns 4 --only
    # 'loglog_pooled_30_m*'; README "Who is marked 'do not contact'"). Re-scored when
    # the baseline's correction changed: 0.3 and 0.05 (0.4 and 0 before); and when the
    # order rhythm moved to purchase days (commit 1c06f05): 0.3 and 0.1.
    harm_probability: float = Field(0.3, ge=0.0, le=1.0)
    harm_margin: float = Field(0.1, ge=0.0)
    # The lists take their plays from the model only when, on the held-out campaign,
    # targeting its top share by the model saved more than targeting by churn risk,
    # by the arms alone, with the bootstrap interval of the difference above zero (the
    # forward test's rule: a margin whose interval holds 0 is no win); otherwise from
    # the rules, and the report says why. false: from the model whenever one is fitted.
    require_lead: bool = True


class Params(_Model):
    source: Source = Source()
    synthetic: Synthetic = Synthetic()
    ingest: Ingest = Ingest()
    churn: Churn = Churn()
    features: Features = Features()
    spark: Spark = Spark()
    snapshots: Snapshots = Snapshots()
    score: Score = Score()
    train: Train = Train()
    evaluate: Evaluate = Evaluate()
    explain: Explain = Explain()
    retention: Retention = Retention()
    uplift: Uplift = Uplift()
    tracking: Tracking = Tracking()
    registry: Registry = Registry()

    @model_validator(mode="after")
    def _files_need_orders(self) -> Params:
        if self.source.kind == "files" and not self.source.files.orders:
            raise ValueError("source.kind is 'files' but source.files.orders is not set")
        if self.score.pass_through and not (
            self.source.kind == "files" and self.source.files.customers
        ):
            raise ValueError(
                f"score.pass_through {list(self.score.pass_through)} copies columns of the "
                "customers file, but source.files.customers is not set (source.kind: "
                f"{self.source.kind})"
            )
        return self


def unquoted_dates(raw: object, prefix: str = "") -> list[tuple[str, object]]:
    """(key, value) of every date YAML read unquoted: DVC cannot read those."""
    if isinstance(raw, dict):
        return [
            found
            for key, value in raw.items()
            for found in unquoted_dates(value, f"{prefix}{key}.")
        ]
    if isinstance(raw, list):
        return [found for i, v in enumerate(raw) for found in unquoted_dates(v, f"{prefix}{i}.")]
    if isinstance(raw, dt.date):
        return [(prefix.rstrip("."), raw)]
    return []


def check_params_file(path: str | Path = "params.yaml") -> Params:
    """:func:`load_params`, and refuse unquoted dates, which stop ``dvc repro``.

    DVC reads ``params.yaml`` itself and fails on a YAML date with "Unsupported value
    of type 'date'", before any stage runs; this says which key and what to write.

    Raises
    ------
    ValueError
        Naming each unquoted date and how to quote it.
    """
    raw = yaml.safe_load(Path(path).read_text()) or {}
    found = unquoted_dates(raw)
    if found:
        keys = ", ".join(f'{key}: "{value}"' for key, value in found)
        raise ValueError(
            f"{path}: quote the date(s) ({keys}): DVC cannot read an unquoted date "
            "and stops with \"Unsupported value of type 'date'\""
        )
    return Params.model_validate(raw)


def main() -> None:
    """``python -m pipeline.config [params.yaml]``: check the params before ``dvc repro``."""
    import sys

    path = sys.argv[1] if len(sys.argv) > 1 else "params.yaml"
    try:
        check_params_file(path)
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        sys.exit(f"params check failed: {err}")


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


if __name__ == "__main__":
    main()
