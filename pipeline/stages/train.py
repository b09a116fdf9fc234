"""Stage ``train``: backtest, fit and save the churn and loyalty-type models.

Outputs: ``models/churn/`` (the scoring model refitted on every labelled snapshot, the
test-cutoff model, the calibrator, the design), ``models/loyalty/`` (the type
classifier or, without surveys, a note that types come from rules),
``reports/train.json`` (metrics), ``reports/backtest.csv``, the curves under
``reports/plots/``, and ``data/predictions/test.parquet``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline import curves, evaluate, io
from pipeline.backtest import (
    MODEL,
    backtest_origins,
    backtest_table,
    choose_calibration,
    run_origin,
    variant_name,
)
from pipeline.config import Params
from pipeline.labels import Cutoffs
from pipeline.loyalty import SURVEY_RULES, assign_types
from pipeline.stages._common import CANONICAL, FEATURES, MODELS, PREDICTIONS, REPORTS, stage_main
from pipeline.train import Design, fit_loyalty, refit_churn

log = logging.getLogger(__name__)

MIN_SURVEY_LABELS = 50


def load_cutoffs(meta: dict) -> Cutoffs:
    return Cutoffs(
        labelled=tuple(pd.Timestamp(c) for c in meta["cutoffs"]["labelled"]),
        score=pd.Timestamp(meta["cutoffs"]["score"]),
        every_days=meta["every_days"],
        horizon_days=meta["horizon_days"],
    )


def survey_labels(snapshots: pd.DataFrame, surveys: pd.DataFrame | None) -> pd.DataFrame:
    """Features (latest snapshot) of surveyed customers with their rule-table type."""
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


def run(params: Params) -> None:
    snapshots = io.read_parquet(FEATURES / "snapshots.parquet")
    meta = io.read_json(FEATURES / "meta.json")
    cuts = load_cutoffs(meta)
    orders = pd.read_parquet(CANONICAL / "orders.parquet", columns=["customer_id", "ordered_at"])
    if params.score.as_of:
        orders = orders[orders["ordered_at"] < pd.Timestamp(params.score.as_of)]
    labelled = snapshots[snapshots["labelled"]].reset_index(drop=True)
    design = Design.fit(labelled, meta["features"], meta["categorical"])

    origins = backtest_origins(
        cuts,
        n=params.evaluate.backtest_origins,
        validation_cutoffs=params.snapshots.validation_cutoffs,
    )
    results = [run_origin(labelled, orders, cuts, o, design, params) for o in origins]
    main = results[-1]
    per_cutoff = backtest_table(results, params)
    summary = evaluate.summarise_backtest(per_cutoff)
    test_metrics = main.metrics(params)
    calibration = choose_calibration(results, params.train.calibration)
    selected = variant_name(calibration)
    grade = evaluate.grade(test_metrics[selected], test_metrics["recency"])
    log.info(
        "test %s: %s",
        main.test.date(),
        {k: round(v["roc_auc"], 4) for k, v in test_metrics.items()},
    )

    rounds = main.booster.num_trees()
    scoring = refit_churn(labelled, design, params.train, rounds=rounds)

    surveyed = survey_labels(snapshots, _optional_table("surveys"))
    loyalty = None
    if len(surveyed) >= MIN_SURVEY_LABELS:
        try:
            loyalty = fit_loyalty(surveyed, surveyed["loyalty_type"], design, params.train)
        except ValueError as err:
            log.warning("loyalty classifier not trained (%s); types will come from rules", err)
    else:
        log.info(
            "%d surveyed customers (< %d): loyalty types will come from behaviour rules",
            len(surveyed),
            MIN_SURVEY_LABELS,
        )

    metrics = {
        "churn": {
            "test_cutoff": str(main.test.date()),
            "test_customers": len(main.y),
            "test_churn_rate": float(main.y.mean()),
            "selected_model": selected,
            "calibration": calibration,
            "grade": grade,
            "best_iteration": rounds,
            "test": test_metrics,
            "backtest": _summary_dict(summary),
        },
        "loyalty": (
            {"source": "classifier", **loyalty.metrics}
            if loyalty is not None
            else {"source": "rules", "n_labelled": len(surveyed)}
        ),
    }
    test_pred = pd.DataFrame(
        {"customer_id": main.customer_id, "cutoff": main.test, "churned": main.y}
        | {f"p_{k}": v for k, v in main.scores.items()}
    )
    # plot columns: the selected model as "model", then the baselines
    scores = {"model": main.scores[selected]} | {
        k: v for k, v in main.scores.items() if not k.startswith(MODEL) and not np.isnan(v).any()
    }

    with (
        io.staged_dir(MODELS / "churn") as churn_dir,
        io.staged_dir(MODELS / "loyalty") as loyalty_dir,
        io.staged_dir(PREDICTIONS) as pred,
    ):
        scoring.save_model(churn_dir / "model.txt")
        main.booster.save_model(churn_dir / "model_test_cutoff.txt")
        io.write_json(main.calibrators[calibration].to_dict(), churn_dir / "calibrator.json")
        io.write_json(
            {"features": list(design.features), "categories": design.categories},
            churn_dir / "design.json",
        )
        if loyalty is not None:
            loyalty.booster.save_model(loyalty_dir / "model.txt")
            io.write_json(
                {"source": "classifier", "classes": list(loyalty.classes)},
                loyalty_dir / "meta.json",
            )
        else:
            io.write_json({"source": "rules"}, loyalty_dir / "meta.json")
        io.write_parquet(test_pred, pred / "test.parquet")
        # metrics and plots are single files: DVC tracks each on its own
        io.write_json(metrics, REPORTS / "train.json")
        plots = REPORTS / "plots"
        io.write_csv(curves.roc_table(main.y, scores), plots / "roc.csv")
        io.write_csv(curves.pr_table(main.y, scores), plots / "precision_recall.csv")
        io.write_csv(curves.lift_table(main.y, scores), plots / "lift.csv")
        io.write_csv(
            curves.calibration_table(
                main.y,
                {"before": main.scores[MODEL]}
                | {m: main.scores[variant_name(m)] for m in ("isotonic", "platt")},
            ),
            plots / "calibration.csv",
        )
        io.write_csv(per_cutoff, REPORTS / "backtest.csv")
        if loyalty is not None:
            io.write_csv(loyalty.out_of_fold, plots / "loyalty_confusion.csv")
        else:
            io.write_csv(
                pd.DataFrame(columns=["actual", "predicted"]), plots / "loyalty_confusion.csv"
            )


def _optional_table(name: str) -> pd.DataFrame | None:
    path = CANONICAL / f"{name}.parquet"
    return io.read_parquet(path) if path.exists() else None


BACKTEST_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift", "emp", "ece")


def _summary_dict(summary: pd.DataFrame) -> dict:
    """Mean and spread across cutoffs per model (the last cutoff is ``test``)."""
    out: dict[str, dict[str, float]] = {}
    for _, row in summary.iterrows():
        out[row["model"]] = {"n_cutoffs": int(row["n_cutoffs"])} | {
            f"{m}_{stat}": float(row[f"{m}_{stat}"])
            for m in BACKTEST_METRICS
            for stat in ("mean", "std")
            if pd.notna(row[f"{m}_{stat}"])
        }
    return out


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
