"""Choose churn hyperparameters on the backtest's *earlier* origins, never the test.

Run after `dvc repro` (it reads data/features and data/canonical):

    python benchmarks/tune_churn.py --origins 3

For each candidate it refits LightGBM at each of the last ``--origins`` labelled
cutoffs *before* the test cutoff and prints mean ROC-AUC and Brier across them.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time

import pandas as pd

from pipeline import evaluate, io
from pipeline.backtest import backtest_origins
from pipeline.config import load_params
from pipeline.stages._common import FEATURES
from pipeline.stages.train import load_cutoffs
from pipeline.train import Design, fit_churn, predict

GRID = {
    "learning_rate": [0.03, 0.05],
    "num_leaves": [7, 15, 31],
    "min_child_samples": [50, 200],
    "feature_fraction": [0.5, 0.8],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--origins", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = load_params()
    snapshots = io.read_parquet(FEATURES / "snapshots.parquet")
    meta = io.read_json(FEATURES / "meta.json")
    cuts = load_cutoffs(meta)
    labelled = snapshots[snapshots["labelled"]].reset_index(drop=True)
    design = Design.fit(labelled, meta["features"], meta["categorical"])
    origins = backtest_origins(
        cuts, n=args.origins + 1, validation_cutoffs=params.snapshots.validation_cutoffs
    )[:-1]
    print("tuning origins:", [str(o.date()) for o in origins], "(test cutoff excluded)")
    by = labelled.groupby("cutoff")
    rows = []
    for values in itertools.product(*GRID.values()):
        cand = dict(zip(GRID, values, strict=True))
        p = params.train.model_copy(update=cand)
        start = time.perf_counter()
        aucs, briers = [], []
        for o in origins:
            tr, va = cuts.split(o, validation_cutoffs=params.snapshots.validation_cutoffs)
            train = pd.concat([by.get_group(c) for c in tr])
            valid = pd.concat([by.get_group(c) for c in va])
            test = by.get_group(o)
            m = evaluate.binary_metrics(
                test["churned"].to_numpy(),
                predict(fit_churn(train, valid, design, p), design, test),
            )
            aucs.append(m["roc_auc"])
            briers.append(m["brier"])
        rows.append(
            cand
            | {
                "roc_auc": sum(aucs) / len(aucs),
                "brier": sum(briers) / len(briers),
                "seconds": time.perf_counter() - start,
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).sort_values("roc_auc", ascending=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
