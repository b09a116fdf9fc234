"""Stage ``explain``: SHAP drivers at the test cutoff, reasons at the scoring cutoff.

Outputs: ``reports/explain/`` (driver tables by feature, family and loyalty type; a
beeswarm and a bar plot) and ``data/explain/scoring.parquet`` (every customer of the
scoring population: churn probability, loyalty type, top reasons).
"""

from __future__ import annotations

import logging

import lightgbm as lgb
import matplotlib
import numpy as np
import pandas as pd

from pipeline import explain, io
from pipeline.config import Params
from pipeline.loyalty import BEHAVIOUR_RULES, assign_types
from pipeline.stages._common import FEATURES, MODELS, PREDICTIONS, REPORTS, stage_main
from pipeline.train import Design, LoyaltyModel, predict_types

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import shap  # noqa: E402

log = logging.getLogger(__name__)
EXPLAIN_DATA = FEATURES.parent / "explain"


def load_design() -> Design:
    d = io.read_json(MODELS / "churn" / "design.json")
    return Design(features=tuple(d["features"]), categories=d["categories"])


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


def save_shap_plots(values: pd.DataFrame, rows: pd.DataFrame, design: Design, out) -> None:
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
        plt.title(f"Churn drivers (SHAP, log-odds) at the test cutoff: {name}")
        plt.tight_layout()
        plt.savefig(out / f"shap_{name}.png", dpi=110)
        plt.close("all")


def run(params: Params) -> None:
    snapshots = io.read_parquet(FEATURES / "snapshots.parquet")
    meta = io.read_json(FEATURES / "meta.json")
    families = meta["families"]
    design = load_design()
    # The shipped booster explains both: the drivers at the test cutoff and each scored
    # customer's reasons. Its probabilities come from the train stage's predictions.
    score_model = lgb.Booster(model_file=str(MODELS / "churn" / "model.txt"))
    test_model = score_model
    shipped = io.read_parquet(PREDICTIONS / "score.parquet")

    test_rows = snapshots[snapshots["cutoff"] == pd.Timestamp(meta["cutoffs"]["test"])]
    if len(test_rows) > params.explain.max_rows:
        test_rows = test_rows.sample(params.explain.max_rows, random_state=params.train.seed)
    test_rows = test_rows.sort_values("customer_id", ignore_index=True)
    test_values = explain.shap_values(test_model, design, test_rows)
    test_types = loyalty_types(test_rows, design)

    score_rows = snapshots[snapshots["cutoff"] == pd.Timestamp(meta["cutoffs"]["score"])]
    score_rows = score_rows.sort_values("customer_id", ignore_index=True)
    score_values = explain.shap_values(score_model, design, score_rows)
    shipped = shipped.set_index("customer_id").loc[score_rows["customer_id"]]
    types = loyalty_types(score_rows, design)
    reasons = explain.top_reasons(score_values, score_rows, families, k=params.explain.top_reasons)
    scoring = pd.concat(
        [
            score_rows[["customer_id", "cutoff"]],
            pd.DataFrame(
                {
                    "churn_probability": shipped["p_lightgbm"].to_numpy(),
                    "churn_score_raw": shipped["churn_score_raw"].to_numpy(),
                    "expected_value": shipped["expected_value"].to_numpy(),
                },
                index=score_rows.index,
            ),
            types,
            reasons,
        ],
        axis=1,
    )
    log.info("explained %d test rows and %d scored customers", len(test_rows), len(scoring))

    with io.staged_dir(REPORTS / "explain") as rep, io.staged_dir(EXPLAIN_DATA) as data:
        io.write_csv(explain.global_drivers(test_values, families), rep / "drivers_by_feature.csv")
        io.write_csv(explain.family_drivers(test_values, families), rep / "drivers_by_family.csv")
        io.write_csv(
            explain.drivers_by_type(test_values, families, test_types["loyalty_type"]),
            rep / "drivers_by_loyalty_type.csv",
        )
        io.write_csv(
            explain.drivers_by_type(score_values, families, types["loyalty_type"]),
            rep / "drivers_by_loyalty_type_at_scoring.csv",
        )
        save_shap_plots(test_values, test_rows, design, rep)
        io.write_parquet(scoring, data / "scoring.parquet")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
