"""Stage ``train``: backtest the ship procedure, ship for the scoring date, save it all.

Outputs: ``models/churn/`` (the shipped booster, the calibrator fitted on ITS
validation scores, the feature design, and what it was shipped from), ``models/value/``
(spend if retained), ``models/loyalty/`` (the type classifier or a note that types come
from rules), ``data/predictions/score.parquet`` (every shipped probability and value for
the scoring population: the list uses exactly these), ``data/predictions/backtest.parquet``
(every origin's predictions with the outcomes), ``reports/train.json``,
``reports/backtest.csv`` and the curves under ``reports/plots/``.

Nothing on or after the scoring date is read: orders and surveys are cut at it.
"""

from __future__ import annotations

import logging

import pandas as pd

from pipeline import io
from pipeline.config import Params
from pipeline.labels import Cutoffs
from pipeline.release import Release, build_release
from pipeline.stages._common import CANONICAL, FEATURES, MODELS, PREDICTIONS, REPORTS, stage_main
from pipeline.train import Design

log = logging.getLogger(__name__)


def load_cutoffs(meta: dict) -> Cutoffs:
    return Cutoffs(
        labelled=tuple(pd.Timestamp(c) for c in meta["cutoffs"]["labelled"]),
        score=pd.Timestamp(meta["cutoffs"]["score"]),
        every_days=meta["every_days"],
        horizon_days=meta["horizon_days"],
    )


def read_before(name: str, columns: list[str], time_column: str, end: pd.Timestamp):
    """A canonical table's rows before ``end`` (None when the shop has no such table)."""
    path = CANONICAL / f"{name}.parquet"
    if not path.exists():
        return None
    return pd.read_parquet(path, columns=columns, filters=[(time_column, "<", end)])


def write_release(release: Release, design: Design) -> None:
    shipped = release.shipped
    with (
        io.staged_dir(MODELS / "churn") as churn_dir,
        io.staged_dir(MODELS / "value") as value_dir,
        io.staged_dir(MODELS / "loyalty") as loyalty_dir,
        io.staged_dir(PREDICTIONS) as pred,
    ):
        shipped.booster.save_model(churn_dir / "model.txt")
        io.write_json(
            shipped.calibrated["lightgbm"].calibrator.to_dict(), churn_dir / "calibrator.json"
        )
        io.write_json(
            {"features": list(design.features), "categories": design.categories},
            churn_dir / "design.json",
        )
        io.write_json(shipped.churn.to_dict(), churn_dir / "score.json")
        io.write_json(release.metrics["shipped"], churn_dir / "shipped.json")
        shipped.value_booster.save_model(value_dir / "model.txt")
        if release.loyalty is not None:
            release.loyalty.booster.save_model(loyalty_dir / "model.txt")
            io.write_json(
                {"source": "classifier", "classes": list(release.loyalty.classes)},
                loyalty_dir / "meta.json",
            )
        else:
            io.write_json({"source": "rules"}, loyalty_dir / "meta.json")
        io.write_parquet(release.score_predictions, pred / "score.parquet")
        io.write_parquet(release.test_predictions(), pred / "backtest.parquet")
        # metrics and plots are single files: DVC tracks each on its own
        io.write_json(release.metrics, REPORTS / "train.json")
        io.write_csv(release.backtest, REPORTS / "backtest.csv")
        for name, table in release.plots.items():
            io.write_csv(table, REPORTS / "plots" / f"{name}.csv")


def run(params: Params) -> None:
    meta = io.read_json(FEATURES / "meta.json")
    cuts = load_cutoffs(meta)
    snapshots = io.read_parquet(FEATURES / "snapshots.parquet")
    orders = read_before("orders", ["customer_id", "ordered_at"], "ordered_at", cuts.score)
    surveys = read_before(
        "surveys",
        ["customer_id", "surveyed_at", "attachment", "recommend", "main_reason"],
        "surveyed_at",
        cuts.score,
    )
    labelled = snapshots[snapshots["labelled"]]
    design = Design.fit(labelled, meta["features"], meta["categorical"])
    release = build_release(snapshots, orders, surveys, cuts, design, params)
    write_release(release, design)


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
