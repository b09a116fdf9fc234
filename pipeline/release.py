"""Everything the train stage produces, as one pure function of the snapshots.

A release is: the rolling-origin backtest of the ship procedure (each origin a forward
test at a past date), the models shipped for the scoring date with their predictions
for its population, the loyalty-type classifier, and the metrics, curves and tables
that report them. :func:`build_release` computes it; the stage only reads and writes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from pipeline import curves, evaluate
from pipeline.backtest import (
    OriginResult,
    backtest_origins,
    backtest_table,
    predict_origin,
    run_origin,
)
from pipeline.config import Params
from pipeline.labels import Cutoffs
from pipeline.loyalty import SURVEY_RULES, assign_types
from pipeline.shipping import MODEL, RAW_BGNBD, Shipped, ship
from pipeline.train import Design, LoyaltyModel, fit_loyalty

log = logging.getLogger(__name__)

MIN_SURVEY_LABELS = 50
BACKTEST_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift", "emp", "ece")
# The paired bootstrap compares the shipped model with these, at the test cutoff.
COMPARED_WITH = ("bgnbd", RAW_BGNBD, "logistic", "recency")


@dataclass(frozen=True)
class Release:
    origins: list[OriginResult]
    shipped: Shipped
    score_predictions: pd.DataFrame
    loyalty: LoyaltyModel | None
    metrics: dict
    backtest: pd.DataFrame
    plots: dict[str, pd.DataFrame]

    @property
    def test(self) -> OriginResult:
        return self.origins[-1]

    def test_predictions(self) -> pd.DataFrame:
        """Every origin's predictions, with their outcomes (the backtest's raw material)."""
        return pd.concat([r.predictions for r in self.origins], ignore_index=True)


def survey_labels(snapshots: pd.DataFrame, surveys: pd.DataFrame | None) -> pd.DataFrame:
    """Features (latest snapshot) of surveyed customers with their rule-table type.

    ``surveys`` must already hold only answers given before the scoring date.
    """
    if surveys is None or surveys.empty:
        return pd.DataFrame()
    latest_survey = surveys.sort_values(["customer_id", "surveyed_at"]).drop_duplicates(
        "customer_id", keep="last"
    )
    latest_row = snapshots.sort_values(["customer_id", "cutoff"]).drop_duplicates(
        "customer_id", keep="last"
    )
    frame = latest_row.merge(
        latest_survey[["customer_id", "attachment", "recommend", "main_reason"]],
        on="customer_id",
        how="inner",
    ).sort_values("customer_id", ignore_index=True)
    return pd.concat([frame, assign_types(frame, SURVEY_RULES)], axis=1)


def fit_loyalty_types(
    snapshots: pd.DataFrame, surveys: pd.DataFrame | None, design: Design, params: Params
) -> tuple[LoyaltyModel | None, int]:
    """The loyalty-type classifier when enough customers answered a survey, else None."""
    return _fit_loyalty_labelled(survey_labels(snapshots, surveys), design, params)


def _fit_loyalty_labelled(
    surveyed: pd.DataFrame, design: Design, params: Params
) -> tuple[LoyaltyModel | None, int]:
    if len(surveyed) < MIN_SURVEY_LABELS:
        log.info(
            "%d surveyed customers (< %d): loyalty types will come from behaviour rules",
            len(surveyed),
            MIN_SURVEY_LABELS,
        )
        return None, len(surveyed)
    try:
        return fit_loyalty(surveyed, surveyed["loyalty_type"], design, params.train), len(surveyed)
    except ValueError as err:
        log.warning("loyalty classifier not trained (%s); types will come from rules", err)
        return None, len(surveyed)


def refused_why(metrics: dict) -> str:
    """Why a type classifier that knows no more than the survey's shares is not used."""
    d = metrics["log_loss_vs_shares"]
    return (
        f"on {metrics['n_judged']:,} surveyed customers it never saw, its log loss "
        f"{metrics['log_loss']:.3f} is no better than giving everyone the survey's type "
        f"shares ({metrics['shares_log_loss']:.3f}; difference {d['difference']:+.3f} "
        f"[{d['low']:+.3f}, {d['high']:+.3f}]; accuracy {metrics['accuracy']:.3f} against "
        f"{metrics['chance_accuracy']:.3f} for the commonest type): the answers do not "
        "follow the behaviour the features see"
    )


def _summary_dict(summary: pd.DataFrame) -> dict:
    out: dict[str, dict[str, float]] = {}
    for _, row in summary.iterrows():
        out[row["model"]] = {"n_cutoffs": int(row["n_cutoffs"])} | {
            f"{m}_{stat}": float(row[f"{m}_{stat}"])
            for m in BACKTEST_METRICS
            for stat in ("mean", "std")
            if pd.notna(row.get(f"{m}_{stat}"))
        }
    return out


def _shipped_dict(shipped: Shipped) -> dict:
    cal = shipped.calibrated[MODEL]
    return {
        **shipped.split.to_dict(),
        "model": MODEL,
        "calibration": cal.method,
        "calibration_cross_fitted_brier": cal.cross_fitted_brier,
        "baseline_calibration": {k: v.method for k, v in shipped.calibrated.items() if k != MODEL},
        "trees": int(shipped.booster.num_trees()),
        "bgnbd_weight": shipped.churn.bgnbd_weight,
        "value_trees": int(shipped.value_booster.num_trees()),
        **shipped.notes,
    }


def _value_summary(origins: list[OriginResult]) -> dict:
    per_origin = [r.value_metrics() for r in origins]
    out: dict[str, dict] = {"test": per_origin[-1], "backtest": {}}
    for name in per_origin[-1]:
        for metric in ("mae", "spearman", "total_ratio"):
            values = [m[name][metric] for m in per_origin if name in m]
            out["backtest"].setdefault(name, {})[f"{metric}_mean"] = float(np.mean(values))
    return out


def report_metrics(
    origins: list[OriginResult],
    shipped: Shipped,
    loyalty: LoyaltyModel | None,
    n_surveyed: int,
    per_cutoff: pd.DataFrame,
    params: Params,
) -> dict:
    """``reports/train.json``: the test cutoff, the backtest, what shipped, the types."""
    test = origins[-1]
    test_metrics = test.metrics(params)
    y = test.y
    scores = test.scores
    comparisons = evaluate.paired_bootstraps(
        y,
        scores[MODEL],
        {other: scores[other] for other in COMPARED_WITH if other in scores},
        seed=params.train.seed,
    )
    return {
        "churn": {
            "test_cutoff": str(test.test.date()),
            "test_customers": len(y),
            "test_churn_rate": float(y.mean()),
            "selected_model": MODEL,
            "calibration": test.shipped.calibration,
            "grade": evaluate.grade(test_metrics[MODEL], test_metrics["recency"]),
            "best_iteration": int(test.shipped.booster.num_trees()),
            "test": test_metrics,
            "test_difference": comparisons,
            "backtest": _summary_dict(evaluate.summarise_backtest(per_cutoff)),
            "origins": [
                {
                    **r.shipped.split.to_dict(),
                    "calibration": r.shipped.calibration,
                    "bgnbd_weight": r.shipped.churn.bgnbd_weight,
                }
                for r in origins
            ],
        },
        "value": _value_summary(origins),
        "shipped": _shipped_dict(shipped),
        "loyalty": (
            {"source": "classifier", **loyalty.metrics}
            if loyalty is not None
            else {"source": "rules", "n_labelled": n_surveyed}
        ),
    }


def curve_tables(test: OriginResult, loyalty: LoyaltyModel | None) -> dict[str, pd.DataFrame]:
    """The test cutoff's curves for ``dvc plots``: every shipped model, one column each."""
    y, scores = test.y, test.scores
    ranked = {"shipped": scores[MODEL]} | {k: v for k, v in scores.items() if k != MODEL}
    calibration = {"shipped_before_calibration": test.predictions["churn_score_raw"]} | ranked
    return {
        "roc": curves.roc_table(y, ranked),
        "precision_recall": curves.pr_table(y, ranked),
        "lift": curves.lift_table(y, ranked),
        "calibration": curves.calibration_table(y, calibration),
        "loyalty_confusion": (
            loyalty.out_of_fold
            if loyalty is not None
            else pd.DataFrame(columns=["actual", "predicted"])
        ),
    }


def build_release(
    snapshots: pd.DataFrame,
    orders: pd.DataFrame,
    surveys: pd.DataFrame | None,
    cuts: Cutoffs,
    design: Design,
    params: Params,
) -> Release:
    """Backtest the ship procedure, ship for the scoring date, type the customers.

    Parameters
    ----------
    snapshots
        Every snapshot: the labelled cutoffs and the scoring cutoff.
    orders
        ``customer_id``, ``ordered_at`` of the orders before the scoring date.
    surveys
        Survey answers given before the scoring date, or None.
    cuts
        The snapshot grid.
    design
        Feature columns and category levels.
    params
        Pipeline parameters.
    """
    late = orders["ordered_at"] >= cuts.score
    if late.any():
        raise ValueError(
            f"build_release got {int(late.sum())} orders on or after the scoring date "
            f"{cuts.score:%Y-%m-%d}: nothing from then on may be read"
        )
    labelled = snapshots[snapshots["cutoff"] < cuts.score].reset_index(drop=True)
    origins_at = backtest_origins(
        cuts,
        n=params.evaluate.backtest_origins,
        validation_cutoffs=params.snapshots.validation_cutoffs,
    )
    surveyed = survey_labels(snapshots, surveys)
    # the biggest fit first (the scoring date's: every labelled cutoff), so the last
    # to start are the small ones and the processes finish together
    jobs = [("ship", cuts.score), *(("origin", at) for at in reversed(origins_at))]
    jobs.append(("loyalty", None))
    with _fitting(_Inputs(labelled, orders, cuts, design, params, surveyed)) as run:
        done = dict(zip(jobs, run(jobs), strict=True))
        shipped = done[("ship", cuts.score)]
        origins = [done[("origin", at)] for at in origins_at]
        loyalty, n_surveyed = done[("loyalty", None)]
        refused = None
        if loyalty is not None and not loyalty.metrics.get("beats_shares", True):
            refused, loyalty = loyalty.metrics, None
            log.warning(
                "loyalty classifier not used: %s; types will come from behaviour rules",
                refused_why(refused),
            )
        score_rows = snapshots[snapshots["cutoff"] == cuts.score].reset_index(drop=True)
        score_predictions = predict_origin(shipped, score_rows, orders, cuts.horizon_days)
    per_cutoff = backtest_table(origins, params)
    metrics = report_metrics(origins, shipped, loyalty, n_surveyed, per_cutoff, params)
    if refused is not None:
        metrics["loyalty"] |= {"why": refused_why(refused), "classifier_refused": refused}
    log.info(
        "test %s: %s",
        origins[-1].test.date(),
        {k: round(v["roc_auc"], 4) for k, v in metrics["churn"]["test"].items()},
    )
    return Release(
        origins=origins,
        shipped=shipped,
        score_predictions=score_predictions,
        loyalty=loyalty,
        metrics=metrics,
        backtest=per_cutoff,
        plots=curve_tables(origins[-1], loyalty),
    )


# The fits of a release run ``train.num_threads`` at a time, each on ONE thread (LightGBM
# and BLAS alike): the same models, bit for bit, whatever the thread count or the
# machine's cores. Two single-threaded fits side by side beat one fit on two threads,
# and what is not LightGBM (the baselines, BG/NBD, calibration) no longer leaves a core
# idle. Each process gets the labelled snapshots and the orders once.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_WORKER: dict[str, object] = {}


def _one_thread(params: Params) -> Params:
    return params.model_copy(update={"train": params.train.model_copy(update={"num_threads": 1})})


@dataclass(frozen=True)
class _Inputs:
    """What every fit of a release reads (sent once to each process)."""

    labelled: pd.DataFrame
    orders: pd.DataFrame
    cuts: Cutoffs
    design: Design
    params: Params
    surveyed: pd.DataFrame


def _start_worker(inputs: _Inputs | str, log_level: int | None = None) -> None:
    """``inputs``: the inputs, or the path of a file holding them pickled (a fresh
    process reads them from there)."""
    if log_level is not None:  # a fresh process: its logging and threads
        logging.basicConfig(
            level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        threadpool_limits(1)
    if isinstance(inputs, str):
        with open(inputs, "rb") as f:
            inputs = pickle.load(f)
    _WORKER["inputs"] = inputs


def _run_job(job: tuple[str, pd.Timestamp | None]) -> object:
    kind, at = job
    w: _Inputs = _WORKER["inputs"]
    if kind == "origin":
        return run_origin(w.labelled, w.orders, w.cuts, at, w.design, w.params)
    if kind == "ship":
        return ship(w.labelled, w.orders, w.cuts, at, w.design, w.params)
    return _fit_loyalty_labelled(w.surveyed, w.design, w.params)


@contextmanager
def _fitting(inputs: _Inputs) -> Iterator:
    """A function running jobs in order of submission and returning their results in
    that order, in ``train.num_threads`` fresh processes (one: in this one)."""
    processes = inputs.params.train.num_threads
    args = (replace(inputs, params=_one_thread(inputs.params)),)
    with threadpool_limits(1):
        if processes == 1:
            _start_worker(*args)
            try:
                yield lambda jobs: [_run_job(job) for job in jobs]
            finally:
                _WORKER.clear()
            return
        # fresh interpreters (not fork: OpenMP does not survive a fork once it has run),
        # told to use one thread from the start. The inputs go through a file: sent as
        # the initializer's arguments, each process's start would wait for the one
        # before to import and unpickle them (a spawned child reads what it was sent
        # only after importing), and the second process would start a second late.
        saved = {k: os.environ.get(k) for k in ONE_THREAD_ENV}
        os.environ.update(ONE_THREAD_ENV)
        try:
            with tempfile.TemporaryDirectory(prefix="release-") as tmp:
                path = Path(tmp) / "inputs.pickle"
                with path.open("wb") as f:
                    pickle.dump(args[0], f, protocol=pickle.HIGHEST_PROTOCOL)
                with ProcessPoolExecutor(
                    max_workers=processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(str(path), logging.getLogger().level),
                ) as pool:
                    yield lambda jobs: list(pool.map(_run_job, jobs))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
