"""What training on a sample (``train.max_rows``) costs in AUC, on a shop already built.

Ships the churn model for the test cutoff exactly as the train stage's backtest does
(``shipping.ship``: booster early-stopped on the validation cutoff, BG/NBD blend,
calibrator), once per ``--max-rows`` setting, with the training and validation cutoffs
sampled the way the features stage draws the training sample (``stages/features``
``draw_sample``: every (cutoff, label) cell keeps the same seeded share). Every setting
is then scored on the WHOLE test cutoff, so the settings are compared on the same
customers; BG/NBD shipped the same way is printed
for scale. ``0`` means no sample.

It needs every snapshot row: above ``train.max_rows`` the features stage computes the
labelled cutoffs before the last only for the training sample, so build the features
once with the cap out of the way (the script refuses sampled snapshots and says so).
Usage, from the checkout, on a working directory kept by ``benchmarks/scale.py``::

    .venv/bin/python benchmarks/scale.py 1000000 --keep /tmp/scale \\
        --stages source ingest features --set train.max_rows=100000000
    .venv/bin/python benchmarks/sample_cost.py /tmp/scale/n1000000 --max-rows 250000 1000000 0
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import evaluate, io  # noqa: E402
from pipeline.backtest import predict_origin  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.labels import split_for, stratified_keep  # noqa: E402
from pipeline.shipping import MODEL, ship  # noqa: E402
from pipeline.stages._common import FEATURES  # noqa: E402
from pipeline.stages.train import load_cutoffs, read_before  # noqa: E402
from pipeline.train import Design  # noqa: E402


def sampled(path: Path, cutoffs: list[pd.Timestamp], share: float, seed: int) -> pd.DataFrame:
    """The cutoffs' rows, each (cutoff, label) cell cut to ``share`` (as the train stage)."""
    parts = []
    for i, cutoff in enumerate(cutoffs):
        rows = io.read_at(path, cutoff)
        if share < 1:
            rng = np.random.default_rng([seed, i])
            rows = rows[stratified_keep(rows, share, rng, floor=True)]
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="a directory kept by benchmarks/scale.py")
    parser.add_argument(
        "--max-rows", type=int, nargs="+", default=[250_000, 1_000_000, 0], help="0: all rows"
    )
    args = parser.parse_args()
    os.chdir(args.workdir)
    params = load_params("params.yaml")
    meta = io.read_json(FEATURES / "meta.json")
    if meta.get("sample"):
        raise SystemExit(
            f"{args.workdir}/data/features holds a training sample, not every row "
            f"({meta['sample']}): rebuild the features with train.max_rows above the "
            "training rows (see this script's docstring)"
        )
    cuts = load_cutoffs(meta)
    path = FEATURES / "snapshots.parquet"
    test = cuts.test
    split = split_for(cuts, test, validation_cutoffs=params.snapshots.validation_cutoffs)
    keys = pd.read_parquet(path, columns=["cutoff"])["cutoff"]
    n_train = int(keys.isin(list(split.train)).sum())
    orders = read_before(
        "orders",
        ["customer_id", "ordered_at"],
        "ordered_at",
        cuts.score,
        categorical=["customer_id"],
    )
    truth = io.read_at(path, test).reset_index(drop=True)
    y = truth["churned"].to_numpy(int)
    print(
        f"test cutoff {test.date()}: {len(truth):,} customers, churn {y.mean():.4f}; "
        f"{n_train:,} rows in its {len(split.train)} training cutoffs"
    )
    print(
        f"{'max_rows':>10} {'rows':>10} {'AUC':>7} {'Brier':>7} {'BG/NBD AUC':>10} {'ship s':>7}"
    )
    results = []
    for max_rows in args.max_rows:
        share = 1.0 if max_rows == 0 or max_rows >= n_train else max_rows / n_train
        cap = max(max_rows, n_train) if share == 1.0 else max_rows
        p = params.model_copy(update={"train": params.train.model_copy(update={"max_rows": cap})})
        ordered = sorted(set(split.train) | set(split.valid))
        snaps = sampled(path, ordered, share, params.train.seed)
        design = Design.fit(snaps, meta["features"], meta["categorical"])
        began = time.perf_counter()
        shipped = ship(snaps, orders[orders["ordered_at"] < test], cuts, test, design, p)
        pred = predict_origin(shipped, truth, orders, cuts.horizon_days)
        took = time.perf_counter() - began
        m = evaluate.binary_metrics(y, pred[f"p_{MODEL}"].to_numpy())
        bg = evaluate.binary_metrics(y, pred["p_bgnbd"].to_numpy()) if "p_bgnbd" in pred else {}
        n_rows = int(snaps["cutoff"].isin(list(split.train)).sum())
        label = "all" if max_rows == 0 else f"{max_rows:,}"
        print(
            f"{label:>10} {n_rows:>10,} {m['roc_auc']:7.4f} {m['brier']:7.4f} "
            f"{bg.get('roc_auc', float('nan')):10.4f} {took:7.0f}",
            flush=True,
        )
        results.append((label, n_rows, m["roc_auc"], m["brier"]))
        del snaps, shipped, pred
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(f"peak RSS {peak:.2f} GB")
    if len(results) > 1:
        base = results[-1]
        for label, _, auc, brier in results[:-1]:
            print(
                f"max_rows {label}: AUC {auc - base[2]:+.4f}, Brier {brier - base[3]:+.4f} "
                f"against max_rows {base[0]}"
            )


if __name__ == "__main__":
    main()
