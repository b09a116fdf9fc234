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
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline import io
from pipeline.config import Params
from pipeline.features import SAMPLED
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


def read_snapshots(path: Path) -> pd.DataFrame:
    """The snapshots the stage learns from: the rows the features stage marked ``sampled``.

    Every row when the shipped model's training cutoffs hold at most ``train.max_rows``;
    above it, the stratified sample the features stage drew (every (cutoff, label) cell
    the same seeded share), so the shipped model trains on at most ``max_rows`` rows and
    each backtest origin on the same share of its own, judged on that share of its test
    cutoff. The scoring cutoff is always whole: everyone on it gets a probability.
    """
    frame = pd.read_parquet(path, filters=[(SAMPLED, "==", True)])
    if len(frame) < pq.ParquetFile(path).metadata.num_rows:
        log.info("%d sampled snapshot rows (the features stage's training sample)", len(frame))
    return frame.drop(columns=SAMPLED)


def read_before(
    name: str, columns: list[str], time_column: str, end: pd.Timestamp, *, categorical=()
):
    """A canonical table's rows before ``end`` (None when the shop has no such table).

    ``categorical`` columns come as pandas categoricals (Arrow dictionaries): the
    orders' customer ids, grouped a dozen times per run, are hashed once, here.
    """
    path = CANONICAL / f"{name}.parquet"
    if not path.exists():
        return None
    table = pq.read_table(path, columns=columns, filters=[(time_column, "<", end)])
    frame = table.drop_columns(list(categorical)).to_pandas()
    for name in categorical:
        column = table.column(name)
        if column.null_count:
            values = pd.Categorical(column.to_pandas())
        else:
            # one dictionary for the whole column (Arrow's hashing: faster than pandas')
            encoded = column.combine_chunks().dictionary_encode()
            values = pd.Categorical.from_codes(
                encoded.indices.to_numpy(), pd.Index(encoded.dictionary.to_pandas())
            )
        frame.insert(columns.index(name), name, values)
    return frame


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


def read_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, Cutoffs, Design]:
    """What the release is built from: the snapshots, the orders and survey answers before
    the scoring date, the cutoffs and the feature design."""
    meta = io.read_json(FEATURES / "meta.json")
    cuts = load_cutoffs(meta)
    snapshots = read_snapshots(FEATURES / "snapshots.parquet")
    orders = read_before(
        "orders",
        ["customer_id", "ordered_at"],
        "ordered_at",
        cuts.score,
        categorical=["customer_id"],
    )
    surveys = read_before(
        "surveys",
        ["customer_id", "surveyed_at", "attachment", "recommend", "main_reason"],
        "surveyed_at",
        cuts.score,
    )
    labelled = snapshots[snapshots["labelled"]]
    design = Design.fit(labelled, meta["features"], meta["categorical"])
    return snapshots, orders, surveys, cuts, design


def run(params: Params) -> None:
    snapshots, orders, surveys, cuts, design = read_inputs()
    release = build_release(snapshots, orders, surveys, cuts, design, params)
    write_release(release, design)


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
