"""Stage ``explain``: what drives the shipped model, and what it says about each customer.

Outputs: ``reports/explain/`` (SHAP drivers by feature, family, concept and loyalty type
on a seeded sample of the scoring population; a beeswarm and a bar plot) and
``data/explain/scoring.parquet`` (every customer of the scoring population: the shipped
churn probability, the same model's probability at the previous snapshot, the expected
value if retained, the loyalty type). Per-customer reasons are built by the score stage
for the customers someone will read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightgbm as lgb
import matplotlib
import numpy as np
import pandas as pd

from pipeline import explain, io
from pipeline.calibration import Calibrator
from pipeline.config import Params
from pipeline.loyalty import BEHAVIOUR_RULES, assign_types
from pipeline.progress import Progress
from pipeline.stages._common import (
    EXPLAIN,
    FEATURES,
    MODELS,
    PREDICTIONS,
    REPORTS,
    SHAP_SAMPLE,
    stage_main,
)
from pipeline.train import ChurnScore, Design, LoyaltyModel, load_churn_score, predict_types

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import shap  # noqa: E402

log = logging.getLogger(__name__)
SHIPPED = PREDICTIONS / "score.parquet"
SHAP_BATCH = 5_000


def load_design() -> Design:
    return load_churn_score(MODELS / "churn").design


def shipped_predictions(rows: pd.DataFrame) -> pd.DataFrame:
    """The probabilities and values the list ships: the ONE place that reads them.

    ``data/predictions/score.parquet``, written by the train stage with the shipped
    model: the calibrated churn probability, the score before calibration and the value
    model's expected spend over the next horizon if retained.

    Returns
    -------
    DataFrame
        Index of ``rows``: ``churn_probability``, ``churn_score_raw``,
        ``expected_value``, ``value_source``.

    Raises
    ------
    ValueError
        If the predictions file misses customers of ``rows``.
    """
    pred = io.read_parquet(SHIPPED)
    pred = pred[pred["cutoff"] == rows["cutoff"].iloc[0]].set_index("customer_id")
    missing = ~rows["customer_id"].isin(pred.index)
    if missing.any():
        raise ValueError(
            f"{SHIPPED}: {int(missing.sum())} of {len(rows)} scored customers have no "
            f"prediction, e.g. {rows.loc[missing, 'customer_id'].head(5).tolist()}"
        )
    pred = pred.loc[rows["customer_id"]]
    return pd.DataFrame(
        {
            "churn_probability": pred["p_lightgbm"].to_numpy(),
            "churn_score_raw": pred["churn_score_raw"].to_numpy(),
            "expected_value": pred["expected_value"].to_numpy(),
            "value_source": "value model",
        },
        index=rows.index,
    )


def previous_probability(
    snapshots: pd.DataFrame, score_cutoff: pd.Timestamp, score: ChurnScore
) -> tuple[pd.Series, pd.Timestamp | None]:
    """The shipped model's probability at the latest snapshot before the scoring cutoff.

    The same score and calibrator as the list's, applied to the earlier snapshot, so
    that "rising" compares like with like. Returns the probabilities by customer id and
    that cutoff (None if there is none).
    """
    earlier = snapshots.loc[snapshots["cutoff"] < score_cutoff, "cutoff"]
    if earlier.empty:
        return pd.Series(dtype=float), None
    prev_cutoff = earlier.max()
    rows = snapshots[snapshots["cutoff"] == prev_cutoff]
    calibrator = Calibrator.from_dict(io.read_json(MODELS / "churn" / "calibrator.json"))
    p = calibrator.predict(score.predict(rows))
    return pd.Series(p, index=rows["customer_id"].to_numpy()), prev_cutoff


def loyalty_types(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Type per customer: from the classifier when one was trained, else from rules."""
    meta = io.read_json(MODELS / "loyalty" / "meta.json")
    if meta["source"] == "classifier":
        booster = lgb.Booster(model_file=str(MODELS / "loyalty" / "model.txt"))
        model = LoyaltyModel(booster, tuple(meta["classes"]), {}, pd.DataFrame(), pd.DataFrame())
        out = predict_types(model, design, frame)
    else:
        out = assign_types(frame, BEHAVIOUR_RULES)[["loyalty_type"]]
        out["loyalty_type_probability"] = np.nan
    out["loyalty_type_source"] = meta["source"]
    return out


def save_shap_plots(values: pd.DataFrame, rows: pd.DataFrame, design: Design, out: Path) -> None:
    matrix = design.matrix(rows)
    data = np.column_stack(
        [
            matrix[c].cat.codes.replace(-1, np.nan).to_numpy(dtype=float)
            if c in design.categories
            else matrix[c].to_numpy(dtype=float)
            for c in design.features
        ]
    )
    expl = shap.Explanation(
        values=values[list(design.features)].to_numpy(),
        base_values=values["_base"].to_numpy(),
        data=data,
        feature_names=list(design.features),
    )
    for name, plot in (("beeswarm", shap.plots.beeswarm), ("bar", shap.plots.bar)):
        # shap's beeswarm jitters points with NumPy's global RNG: seeded, the same run
        # draws the same PNG, and dvc.lock (which hashes reports/explain) stays put.
        np.random.seed(0)
        plt.figure()
        plot(expl, max_display=20, show=False)
        plt.title(f"Churn drivers (SHAP, log-odds) at the scoring date: {name}")
        plt.tight_layout()
        plt.savefig(out / f"shap_{name}.png", dpi=110)
        plt.close("all")


def run(params: Params) -> None:
    meta = io.read_json(FEATURES / "meta.json")
    families = meta["families"]
    score = load_churn_score(MODELS / "churn")
    design = score.design
    cutoff = pd.Timestamp(meta["cutoffs"]["score"])
    # the scoring cutoff and the one before it ("rising" risk): nothing else is read
    earlier = [c for c in map(pd.Timestamp, meta["cutoffs"]["labelled"]) if c < cutoff]
    snapshots = io.read_at(FEATURES / "snapshots.parquet", cutoff, *earlier[-1:])

    rows = snapshots[snapshots["cutoff"] == cutoff].sort_values("customer_id", ignore_index=True)
    predictions = shipped_predictions(rows)
    prev, prev_cutoff = previous_probability(snapshots, cutoff, score)
    types = loyalty_types(rows, design)
    scoring = pd.concat(
        [
            rows[["customer_id", "cutoff"]],
            predictions,
            pd.DataFrame(
                {
                    "churn_probability_prev": rows["customer_id"].map(prev).astype(float),
                    "previous_cutoff": prev_cutoff,
                },
                index=rows.index,
            ),
            types,
        ],
        axis=1,
    )

    sample = rows
    if len(sample) > params.explain.max_rows:
        sample = sample.sample(params.explain.max_rows, random_state=params.train.seed)
    sample = sample.sort_values("customer_id", ignore_index=True)
    batches = -(-len(sample) // SHAP_BATCH)
    with Progress("SHAP for the drivers", batches, unit="batches", logger=log) as progress:
        values = explain.shap_values(score, sample, batch_size=SHAP_BATCH, progress=progress)
    sample_types = loyalty_types(sample, design)
    log.info(
        "scored %d customers (previous snapshot %s); drivers from %d of them",
        len(scoring),
        prev_cutoff.date() if prev_cutoff is not None else "none",
        len(sample),
    )

    with io.staged_dir(REPORTS / "explain") as rep, io.staged_dir(EXPLAIN) as data:
        io.write_csv(explain.global_drivers(values, families), rep / "drivers_by_feature.csv")
        io.write_csv(explain.family_drivers(values, families), rep / "drivers_by_family.csv")
        io.write_csv(explain.concept_drivers(values, sample), rep / "drivers_by_concept.csv")
        io.write_csv(
            explain.drivers_by_type(values, families, sample_types["loyalty_type"]),
            rep / "drivers_by_loyalty_type.csv",
        )
        save_shap_plots(values, sample, design, rep)
        io.write_parquet(scoring, data / "scoring.parquet")
        io.write_parquet(
            pd.concat([sample[["customer_id"]], values], axis=1),
            data / SHAP_SAMPLE.name,
        )


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
