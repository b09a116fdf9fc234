"""A straightforward pandas implementation of some of the features, to compare against.

What a data scientist would write first: for every cutoff, take the events before it
and group them by customer. It computes this subset of the features stage's columns
(the ones that need only orders, sessions and returns):

    orders_30d, orders_90d, orders_365d, orders_total, purchase_days_total,
    days_since_last_order, first_order_age_days, order_gap_mean_days,
    order_gap_std_days, spend_30d, spend_90d, spend_365d, spend_total,
    sessions_30d, sessions_90d, days_since_last_session, churned, future_spend

for the same population (an order in the lookback) at the same cutoffs, and checks its
values against ``data/features/snapshots.parquet`` when that file exists, so the
comparison is like for like. The other 45 features (complaints, deliveries, ratings,
discounts, channels, customers, ...) are not computed here: the timing is a lower
bound for a pandas version of the whole stage.

Usage, in a directory holding ``data/canonical`` and ``data/features`` (the features
stage's output), with the project's interpreter::

    python benchmarks/pandas_features.py [--lookback-days 365] [--horizon-days 90]

``benchmarks/scale.py --pandas`` runs it after the features stage and times it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
SUBSET = (
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "orders_total",
    "purchase_days_total",
    "days_since_last_order",
    "first_order_age_days",
    "order_gap_mean_days",
    "order_gap_std_days",
    "spend_30d",
    "spend_90d",
    "spend_365d",
    "spend_total",
    "sessions_30d",
    "sessions_90d",
    "days_since_last_session",
    "churned",
    "future_spend",
)


def features_at(
    orders: pd.DataFrame,
    sessions: pd.DataFrame,
    returns: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    lookback_days: int,
    horizon_days: int,
    labelled: bool,
) -> pd.DataFrame:
    """The subset at one cutoff, one row per customer of the population."""
    past = orders[orders["ordered_at"] < cutoff]
    by = past.groupby("customer_id", sort=True)
    last, first = by["ordered_at"].max(), by["ordered_at"].min()
    population = last.index[last >= cutoff - pd.Timedelta(days=lookback_days)]
    age = (cutoff - past["ordered_at"]) / DAY
    out = pd.DataFrame(index=population)
    for days in (30, 90, 365):
        recent = age < days
        out[f"orders_{days}d"] = recent.groupby(past["customer_id"]).sum()
        out[f"spend_{days}d"] = (
            past["amount"].where(recent, 0.0).groupby(past["customer_id"]).sum()
        )
    out["orders_total"] = by.size()
    out["spend_total"] = by["amount"].sum()
    out["purchase_days_total"] = (
        past["ordered_at"].dt.normalize().groupby(past["customer_id"]).nunique()
    )
    out["days_since_last_order"] = (cutoff - last) / DAY
    out["first_order_age_days"] = (cutoff - first) / DAY
    ordered = past.sort_values(["customer_id", "ordered_at", "order_id"])
    gaps = ordered.groupby("customer_id")["ordered_at"].diff() / DAY
    # the rhythm is between purchase days: a second order on the same day is no gap
    day = ordered["ordered_at"].dt.normalize()
    new_day = day.ne(day.groupby(ordered["customer_id"]).shift())
    gaps = gaps.where(new_day)
    by_gap = gaps.groupby(ordered["customer_id"])
    out["order_gap_mean_days"] = by_gap.mean()
    out["order_gap_std_days"] = by_gap.std(ddof=0)

    window = sessions[
        (sessions["started_at"] < cutoff)
        & (sessions["started_at"] >= cutoff - pd.Timedelta(days=365))
    ]
    session_age = (cutoff - window["started_at"]) / DAY
    for days in (30, 90):
        out[f"sessions_{days}d"] = (session_age < days).groupby(window["customer_id"]).sum()
    out["days_since_last_session"] = session_age.groupby(window["customer_id"]).min()

    if labelled:
        end = cutoff + pd.Timedelta(days=horizon_days)
        future = orders[(orders["ordered_at"] >= cutoff) & (orders["ordered_at"] < end)]
        back = returns[(returns["returned_at"] >= cutoff) & (returns["returned_at"] < end)]
        bought = future.groupby("customer_id")["amount"].agg(["size", "sum"])
        out["churned"] = bought["size"].reindex(population).isna().astype("Int8")
        out["future_spend"] = bought["sum"].reindex(population).fillna(0.0) - back.groupby(
            "customer_id"
        )["amount"].sum().reindex(population).fillna(0.0)
    else:
        out["churned"] = pd.array([pd.NA] * len(population), dtype="Int8")
        out["future_spend"] = np.nan
    counts = [c for c in out.columns if c.startswith(("orders_", "sessions_"))]
    out[counts] = out[counts].fillna(0).astype("int64")
    for column in ("spend_30d", "spend_90d", "spend_365d"):
        out[column] = out[column].fillna(0.0)
    out = out.rename_axis("customer_id").reset_index()
    out.insert(1, "cutoff", cutoff)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookback-days", type=int, default=365)
    parser.add_argument("--horizon-days", type=int, default=90)
    args = parser.parse_args()

    began = time.perf_counter()
    canonical = Path("data/canonical")
    orders = pd.read_parquet(
        canonical / "orders.parquet", columns=["order_id", "customer_id", "ordered_at", "amount"]
    )
    sessions = pd.read_parquet(
        canonical / "sessions.parquet", columns=["customer_id", "started_at"]
    )
    returns = pd.read_parquet(
        canonical / "returns.parquet", columns=["customer_id", "returned_at", "amount"]
    )
    meta = json.loads(Path("data/features/meta.json").read_text())
    labelled = [pd.Timestamp(c) for c in meta["cutoffs"]["labelled"]]
    cutoffs = [*labelled, pd.Timestamp(meta["cutoffs"]["score"])]
    frames = [
        features_at(
            orders,
            sessions,
            returns,
            c,
            lookback_days=args.lookback_days,
            horizon_days=args.horizon_days,
            labelled=c in labelled,
        )
        for c in cutoffs
    ]
    reference = pd.concat(frames, ignore_index=True)
    seconds = time.perf_counter() - began
    print(f"pandas reference: {len(reference)} rows x {len(SUBSET)} columns in {seconds:.1f} s")

    snapshots = Path("data/features/snapshots.parquet")
    if snapshots.exists():
        stage = pd.read_parquet(snapshots, columns=["customer_id", "cutoff", *SUBSET])
        key = ["cutoff", "customer_id"]
        stage = stage.sort_values(key, ignore_index=True)
        reference = reference.sort_values(key, ignore_index=True)
        same_rows = (
            len(stage) == len(reference)
            and (stage[key].to_numpy() == reference[key].to_numpy()).all()
        )
        print(f"same rows as the features stage: {same_rows}")
        if not same_rows:
            # above train.max_rows the stage computes the labelled cutoffs before the
            # last only for the training sample and the surveyed: compare on its rows
            found = stage[key].merge(reference[key], on=key, how="left", indicator=True)
            missing = int((found["_merge"] != "both").sum())
            print(
                f"the stage computed {len(stage):,} of the reference's {len(reference):,} "
                f"rows (sampled above train.max_rows); {missing} of its rows are not in "
                "the reference"
            )
            reference = stage[key].merge(reference, on=key, how="inner")
            stage = stage.merge(reference[key], on=key, how="inner")
        worst = 0.0
        for column in SUBSET:
            a = stage[column].astype("float64").to_numpy()
            b = reference[column].astype("float64").to_numpy()
            both = ~(np.isnan(a) | np.isnan(b))
            if (np.isnan(a) != np.isnan(b)).any():
                print(f"  {column}: NULLs differ")
            diff = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1.0)
            worst = max(worst, diff.max(initial=0.0))
        print(f"largest difference from the stage: {worst:.2g} (relative, or absolute below 1)")


if __name__ == "__main__":
    main()
