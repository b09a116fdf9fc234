"""How long the list-building steps take for a million customers (prints numbers).

    .venv/bin/python benchmarks/lists_at_scale.py [n_customers]

Resamples the scoring rows of the last run (``data/features``, ``data/explain``) up to
``n`` customers with new ids and random SHAP values, then times the steps of the score
stage that must scale: segments, plays and economics, the two lists, the reasons
(vectorised, for everyone), the CSV text and, on a tenth of the rows, the workbook.
SHAP itself is not timed here: about 1 ms a row on two threads, so the stage explains
everyone only up to `explain.reasons_for_all_up_to` customers, else the two lists.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time

import numpy as np
import pandas as pd

from pipeline import explain
from pipeline.score import (
    Economics,
    build_lists,
    format_for_csv,
    list_columns,
    score_customers,
)
from pipeline.workbook import workbook_bytes


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    meta = pd.read_json("data/features/meta.json", typ="series")
    snaps = pd.read_parquet("data/features/snapshots.parquet")
    rows = snaps[snaps["cutoff"] == pd.Timestamp(meta["cutoffs"]["score"])]
    scoring = pd.read_parquet("data/explain/scoring.parquet")
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(rows), n)
    ids = np.char.add("B", np.arange(n).astype(str))
    features = rows.iloc[pick].reset_index(drop=True).assign(customer_id=ids)
    scored_in = scoring.set_index("customer_id").loc[rows["customer_id"].iloc[pick]]
    scored_in = scored_in.reset_index(drop=True).assign(customer_id=ids)
    names = list(meta["features"])
    values = pd.DataFrame(rng.normal(0, 0.3, (n, len(names))), columns=names)
    values["_base"] = -0.5
    economics = Economics.with_defaults(
        margin=0.3, contact_cost=1.0, success={"early_warning": 0.3, "lapsing": 0.2, "lapsed": 0.1}
    )
    print(f"{n:,} customers, {len(names)} features")  # noqa: T201

    # CPU seconds as well as wall seconds: on a shared machine the wall clock mostly
    # measures the neighbours
    def timed(label, fn):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        print(f"{label:<34} {wall:7.1f} s wall {used:7.1f} s CPU")  # noqa: T201
        return out

    customers = timed(
        "segments, plays, economics",
        lambda: score_customers(
            scored_in,
            features,
            horizon_days=90,
            band_thresholds=(0.3, 0.6),
            rising_by=0.15,
            economics=economics,
        ),
    )
    scored = timed(
        "both lists (rank, budget rule)",
        lambda: build_lists(customers, call_budget=(500, None), winback_budget=(None, 1000.0)),
    )
    reasons = timed("reasons for everyone", lambda: explain.reasons(values, features, k=3))
    scored = scored.join(reasons).assign(as_of=dt.date(2024, 12, 31))
    frame = scored[list_columns(3)]
    timed("CSV text (money with cents)", lambda: format_for_csv(frame))
    tenth = frame.head(n // 10)
    data = timed(
        f"workbook, {len(tenth):,} rows",
        lambda: workbook_bytes(
            [("Everyone", "everyone", tenth)],
            about=[],
            columns={},
            money=("expected_value",),
            percent=("churn_probability",),
            as_of=dt.datetime(2024, 12, 31),
        ),
    )
    print(f"workbook size {len(data) / 1e6:.1f} MB")  # noqa: T201
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"peak RSS {peak:.1f} GB")  # noqa: T201


if __name__ == "__main__":
    main()
