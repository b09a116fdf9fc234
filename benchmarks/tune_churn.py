"""Choose churn hyperparameters on the past of a forward-test date, never on its outcome.

Run after `dvc repro` (it reads data/features and data/canonical of the workspace):

    python benchmarks/tune_churn.py --before 2011-09-10 --origins 4
    python benchmarks/tune_churn.py --before 2011-09-10 --grid num_leaves=7,15

For each candidate it fits the shipped churn model (pipeline.shipping.fit_shipped_churn
and its seasonal shift, exactly what the list gets: early stopping, the BG/NBD blend and
calibration on the validation cutoff, on the cutoffs pipeline.shipping.split_for gives)
at each of the
last ``--origins`` labelled cutoffs whose horizon ends by ``--before``, and prints the
shipped model's mean ROC-AUC and Brier across them. Those origins' outcomes were all
known on ``--before``, so the choice is one a data scientist could have made that day.
The rule, fixed before looking: the highest mean ROC-AUC; a candidate within 0.002 of
it with a lower mean Brier wins.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from dataclasses import replace

import pandas as pd
import yaml

from pipeline import evaluate, io
from pipeline.config import load_params
from pipeline.labels import split_for
from pipeline.shipping import fit_shipped_churn, seasonal_shift, training_rows
from pipeline.stages._common import CANONICAL, FEATURES
from pipeline.stages.train import load_cutoffs
from pipeline.train import Design

GRID = {
    "early_stopping_metric": ["binary_logloss", "auc"],
    "num_leaves": [7, 15],
    "min_child_samples": [50, 100],
    "feature_fraction": [0.5, 0.8],
}


def _grid(overrides: list[str]) -> dict[str, list[object]]:
    """GRID, or only the knobs given as ``name=v1,v2`` (values parsed as YAML)."""
    if not overrides:
        return GRID
    out: dict[str, list[object]] = {}
    for item in overrides:
        name, _, values = item.partition("=")
        out[name] = [yaml.safe_load(v) for v in values.split(",")]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="forward-test date D (YYYY-MM-DD)")
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument(
        "--grid",
        nargs="*",
        default=[],
        metavar="NAME=V1,V2",
        help="search only these train params (e.g. num_leaves=7,15); default: GRID",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    before = pd.Timestamp(args.before)
    params = load_params()
    snapshots = io.read_parquet(FEATURES / "snapshots.parquet")
    meta = io.read_json(FEATURES / "meta.json")
    cuts = load_cutoffs(meta)
    horizon = pd.Timedelta(days=cuts.horizon_days)
    labelled = snapshots[snapshots["labelled"]].reset_index(drop=True)
    design = Design.fit(labelled, meta["features"], meta["categorical"])
    vc = params.snapshots.validation_cutoffs
    orders = pd.read_parquet(CANONICAL / "orders.parquet", columns=["customer_id", "ordered_at"])
    known = [c for c in cuts.labelled if c + horizon <= before]
    origins = known[-args.origins :]
    names = [str(o.date()) for o in origins]
    print("tuning origins:", names, f"(outcomes known by {before:%Y-%m-%d})")
    rows = []
    grid = _grid(args.grid)
    for values in itertools.product(*grid.values()):
        cand = dict(zip(grid, values, strict=True))
        p = params.model_copy(update={"train": params.train.model_copy(update=cand)})
        start = time.perf_counter()
        aucs, briers = [], []
        for o in origins:
            train, valid = training_rows(labelled, split_for(cuts, o, validation_cutoffs=vc), p)
            split = split_for(cuts, o, validation_cutoffs=vc)
            score, calibrated = fit_shipped_churn(train, valid, design, p)
            season = seasonal_shift(
                orders[orders["ordered_at"] < o],
                at=o,
                valid=split.valid,
                lookback_days=p.churn.lookback_days,
                horizon_days=cuts.horizon_days,
                min_history_days=p.snapshots.min_history_days,
            )
            calibrator = replace(calibrated.calibrator, shift=season["shift"])
            rows_o = labelled[labelled["cutoff"] == o]
            shipped_p = calibrator.predict(score.predict(rows_o))
            m = evaluate.binary_metrics(rows_o["churned"].to_numpy(int), shipped_p)
            aucs.append(m["roc_auc"])
            briers.append(m["brier"])
        rows.append(
            cand
            | {
                "roc_auc": sum(aucs) / len(aucs),
                "brier": sum(briers) / len(briers),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).sort_values("roc_auc", ascending=False, ignore_index=True)
    best = table["roc_auc"].iloc[0]
    close = table[table["roc_auc"] >= best - 0.002].sort_values("brier")
    print(table.to_string(index=False))
    print("\nchosen:", close.iloc[0].to_dict())


if __name__ == "__main__":
    main()
