"""What the shipped uplift learner does for customers with an open complaint.

Run from a checkout after `make run` (reads data/features, data/scored):

    .venv/bin/python benchmarks/open_complaints.py

Prints, for the labelled campaign contacts with an open complaint at the contact
(``complaints_unresolved_now > 0``): the control arm's churn and each play's; the
baseline's mean chance of churning without contact on those controls, as the booster
says it and as the shipped learner uses it (recalibrated, where the code does). Then,
for today's early-warning, lapsing and lapsed customers with an open complaint: their
plays and how many are on a list. The learner is refitted as the uplift stage ships it
(every labelled contact, the same sample and seed), so the figures are the list's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import io, uplift  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.stages._common import FEATURES  # noqa: E402
from pipeline.stages.uplift import CAMPAIGNS, Fitted  # noqa: E402

OPEN = "complaints_unresolved_now"


def main() -> None:
    params = load_params()
    meta = io.read_json(FEATURES / "meta.json")
    rows = pd.read_parquet(CAMPAIGNS)
    labelled = rows[rows["labelled"].astype(bool)].reset_index(drop=True)
    labelled = uplift.sample_contacts(
        labelled, max_rows=params.uplift.max_rows, seed=params.train.seed
    )
    fitted = Fitted(
        labelled,
        meta,
        params,
        as_of=pd.Timestamp(meta["cutoffs"]["score"]),
        comparison=False,
        contacts=rows,
    )
    first = next(iter(fitted.learners.values()))
    open_ = labelled[labelled[OPEN].fillna(0) > 0]
    control = open_[open_["arm"] == uplift.CONTROL]
    print(f"contacts with an open complaint: {len(open_):,} of {len(labelled):,}")
    print(f"  control: {len(control):,}, churned {control['churned'].mean():.3f}")
    for play, arm in open_[open_["arm"] == uplift.TREATMENT].groupby("play", observed=True):
        print(f"  {play}: {len(arm):,}, churned {arm['churned'].mean():.3f}")
    raw = first.baseline.predict(first.design.matrix(control)).mean()
    used = first.baseline_churn(control).mean()
    print(f"  baseline on those controls: booster {raw:.3f}, as the learner uses it {used:.3f}")

    scored = pd.read_csv(
        "data/scored/customers.csv", usecols=["customer_id", "segment", "play", "list"]
    )
    snap = pd.read_parquet(
        FEATURES / "snapshots.parquet",
        columns=["customer_id", "cutoff", OPEN],
        filters=[("cutoff", "==", pd.Timestamp(meta["cutoffs"]["score"]))],
    )
    today = scored.merge(snap, on="customer_id", how="inner", validate="one_to_one")
    today = today[(today[OPEN].fillna(0) > 0) & (today["segment"] != "steady")]
    print(f"today's early-warning, lapsing and lapsed with an open complaint: {len(today):,}")
    print(f"  plays: {today['play'].value_counts().to_dict()}")
    print(f"  on a list: {int(today['list'].notna().sum()):,}")


if __name__ == "__main__":
    main()
