"""How the pipeline's answers compare with the synthetic shop's ground truth.

Run after `make run` (default synthetic source): `python benchmarks/synthetic_truth.py`.
The pipeline itself never reads data/truth; this script (and the tests) do.
"""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import f1_score

truth = pd.read_parquet("data/truth/truth.parquet")
surveyed = set(pd.read_parquet("data/canonical/surveys.parquet")["customer_id"])
scored = pd.read_csv("data/scored/customers.csv").merge(truth, on="customer_id")
unseen = scored[~scored["customer_id"].isin(surveyed)]
acc = (unseen["loyalty_type"] == unseen["true_type"]).mean()
chance = unseen["true_type"].value_counts(normalize=True).max()
f1 = f1_score(unseen["true_type"], unseen["loyalty_type"], average="macro")
print(f"loyalty type vs truth, {len(unseen)} scored customers never surveyed:")
print(f"  accuracy {acc:.3f} (majority class {chance:.3f}), macro-F1 {f1:.3f}")
print(pd.crosstab(unseen["true_type"], unseen["loyalty_type"]).to_string())

drivers = pd.read_csv("reports/explain/drivers_by_feature.csv")
drivers["rank"] = range(1, len(drivers) + 1)
print("\nSHAP rank (of", len(drivers), "features) of planted causes and of the control:")
for f in (
    "complaints_unresolved_now",
    "complaint_open_days_max_now",
    "late_deliveries_90d",
    "late_deliveries_without_complaint_365d",
    "promotion_day_order_share_365d",
    "discounted_order_share_365d",
    "points_balance",
    "membership_tier",
    "region",
):
    row = drivers[drivers["feature"] == f]
    if len(row):
        rank, shap = int(row["rank"].iloc[0]), row["mean_abs_shap"].iloc[0]
        print(f"  {f:<42} rank {rank:>3}  mean|SHAP| {shap:.4f}")
