"""How right the loyalty types are, against the types the embedded shop planted.

Run from a checkout after `make run` (reads data/features, data/canonical, data/scored
and the simulator's data/truth, which no stage reads):

    .venv/bin/python benchmarks/planted_types.py

Prints two agreements no real shop can measure:

* the survey labels: the rule table (``pipeline.loyalty.SURVEY_RULES``) applied to every
  surveyed customer's latest answer and latest snapshot, as the train stage labels the
  type classifier's examples; what the classifier can learn is bounded by them;
* the list's types (``data/scored/customers.csv``) of the customers never surveyed,
  which only the classifier types.

For each: the share right, the macro-F1 and the confusion table (planted type by row).
Then the customers the list marks "do not contact", by planted type (the simulator's
latent customers are the sleeping dogs of every play).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.release import survey_labels  # noqa: E402


def agreement(name: str, given: pd.Series, planted: pd.Series) -> None:
    right = float((given == planted).mean())
    macro = f1_score(planted, given, average="macro")
    print(f"{name}: {len(given):,} customers, {right:.1%} right, macro-F1 {macro:.3f}")
    table = pd.crosstab(planted.rename("planted"), given.rename("given"))
    print(table.to_string(), end="\n\n")


def main() -> None:
    truth = pd.read_parquet("data/truth/truth.parquet").set_index("customer_id")["true_type"]
    surveys = pd.read_parquet("data/canonical/surveys.parquet")
    snapshots = pd.read_parquet("data/features/snapshots.parquet")
    labels = survey_labels(snapshots, surveys)
    agreement(
        "survey labels (rule table on the answers)",
        labels["loyalty_type"],
        labels["customer_id"].map(truth),
    )
    scored = pd.read_csv(
        "data/scored/customers.csv", usecols=["customer_id", "loyalty_type", "play"]
    )
    never = scored[~scored["customer_id"].isin(set(surveys["customer_id"]))]
    agreement(
        "the list's types, customers never surveyed",
        never["loyalty_type"],
        never["customer_id"].map(truth),
    )
    marked = scored.loc[scored["play"] == "do_not_contact", "customer_id"].map(truth)
    marked = marked.rename("planted type").reset_index(drop=True)
    print(f'marked "do not contact": {len(marked):,}, by planted type:')
    print(marked.value_counts().to_string())


if __name__ == "__main__":
    main()
