"""Why a customer is at risk: TreeSHAP values, global drivers, per-customer reasons.

SHAP values come from LightGBM's own TreeSHAP (``pred_contrib=True``), which is what
``shap.TreeExplainer`` calls for LightGBM models: exact, and about 1 ms per row on two
threads. They are in log-odds of churn; a positive value raises the risk.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping

import lightgbm as lgb
import numpy as np
import pandas as pd

from pipeline.train import Design

# Short, plain phrases for the retention team; "{v}" is the customer's value.
PHRASES: dict[str, str] = {
    "orders_30d": "{v} orders in the last 30 days",
    "orders_90d": "{v} orders in the last 90 days",
    "orders_365d": "{v} orders in the last year",
    "orders_total": "{v} orders in all",
    "orders_same_window_last_year": "{v} orders in this season last year",
    "spend_same_window_last_year": "spent {v} in this season last year",
    "active_months_365d": "bought in {v} of the last 12 months",
    "cutoff_month": "time of year: {v}",
    "days_since_last_order": "last order {v} days ago",
    "order_gap_mean_days": "usually orders every {v} days",
    "order_gap_std_days": "order rhythm varies by {v} days",
    "overdue_ratio": "{v}x past the usual gap between orders",
    "order_rate_per_30d": "{v} orders a month on average",
    "recency_share_of_tenure": "silent for {v} of the relationship",
    "choice_time_mean_minutes_365d": "takes {v} min to choose",
    "discounted_order_share_365d": "{v} of orders discounted",
    "discount_depth_mean_365d": "average discount {v}",
    "promotion_day_order_share_365d": "{v} of orders on promotion days",
    "unit_price_mean_365d": "average unit price {v}",
    "browse_only_sessions_90d": "{v} visits without buying (90 d)",
    "browse_only_session_share_90d": "{v} of visits without buying (90 d)",
    "cart_abandonment_share_90d": "{v} of carts abandoned (90 d)",
    "orders_since_last_issue": "{v} orders since the last problem",
    "days_since_last_issue": "last problem {v} days ago",
    "complaints_90d": "{v} complaints (90 d)",
    "complaints_365d": "{v} complaints (year)",
    "complaints_delivery_365d": "{v} delivery complaints (year)",
    "complaints_quality_365d": "{v} quality complaints (year)",
    "complaints_service_365d": "{v} service complaints (year)",
    "complaints_billing_365d": "{v} billing complaints (year)",
    "complaints_unresolved_now": "{v} unresolved complaints",
    "complaint_open_days_max_now": "complaint open for {v} days",
    "complaint_resolve_days_mean_365d": "complaints took {v} days to resolve",
    "complaints_escalated_365d": "{v} escalated complaints",
    "complaint_satisfaction_mean_365d": "satisfaction after complaint {v}/5",
    "returns_90d": "{v} returns (90 d)",
    "returns_365d": "{v} returns (year)",
    "returned_amount_share_365d": "{v} of spend returned",
    "low_ratings_365d": "{v} low ratings (year)",
    "rating_mean_365d": "average rating {v}/5",
    "late_deliveries_without_complaint_365d": "{v} late deliveries, never complained",
    "late_deliveries_90d": "{v} late deliveries (90 d)",
    "late_delivery_share_365d": "{v} of deliveries late",
    "delivery_delay_mean_days_365d": "deliveries {v} days late on average",
    "spend_30d": "spent {v} in 30 days",
    "spend_90d": "spent {v} in 90 days",
    "spend_365d": "spent {v} in the last year",
    "spend_total": "spent {v} in all",
    "spend_trend_90d": "spend trend {v} (90 d vs the 90 d before)",
    "order_value_mean_365d": "average order {v}",
    "quantity_per_order_mean_365d": "{v} items per order",
    "distinct_products_365d": "{v} different products (year)",
    "sessions_30d": "{v} visits (30 d)",
    "sessions_90d": "{v} visits (90 d)",
    "days_since_last_session": "last visit {v} days ago",
    "channels_used_365d": "uses {v} channels",
    "tenure_days": "customer for {v} days",
    "points_balance": "{v} loyalty points",
    "membership_tier": "tier: {v}",
    "acquisition_channel": "acquired via {v}",
    "region": "region: {v}",
    "referrals_made": "referred {v} customers",
}


# What a missing value means for the customer (a ratio with nothing to divide by).
MISSING: dict[str, str] = {
    "browse_only_session_share_90d": "no visits in 90 days",
    "cart_abandonment_share_90d": "no carts in 90 days",
    "days_since_last_session": "no visits in the last year",
    "order_gap_mean_days": "only one order so far",
    "order_gap_std_days": "fewer than three orders so far",
    "overdue_ratio": "only one order so far",
    "rating_mean_365d": "no ratings given",
    "complaint_satisfaction_mean_365d": "no resolved complaint",
    "complaint_resolve_days_mean_365d": "no resolved complaint",
    "complaint_open_days_max_now": "no open complaint",
    "days_since_last_issue": "no returns or complaints",
    "orders_since_last_issue": "no returns or complaints",
    "spend_trend_90d": "no spend in the last 180 days",
    "choice_time_mean_minutes_365d": "no tracked visit before buying",
}


def _format(name: str, value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING.get(name, f"{name.replace('_', ' ')}: none")
    if isinstance(value, str):
        v = value
    elif name == "cutoff_month":
        v = calendar.month_name[int(value)]
    elif "share" in name or name in ("discount_depth_mean_365d",):
        v = f"{float(value):.0%}"
    elif name in ("overdue_ratio", "spend_trend_90d", "order_rate_per_30d"):
        v = f"{float(value):.1f}"
    else:
        v = f"{float(value):,.0f}"
    return PHRASES.get(name, name.replace("_", " ") + " {v}").format(v=v)


def shap_values(booster: lgb.Booster, design: Design, frame: pd.DataFrame) -> pd.DataFrame:
    """TreeSHAP contributions per row and feature (log-odds), plus ``_base``."""
    contrib = booster.predict(design.matrix(frame), pred_contrib=True)
    out = pd.DataFrame(contrib[:, :-1], columns=list(design.features), index=frame.index)
    out["_base"] = contrib[:, -1]
    return out


def global_drivers(values: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Mean |SHAP| per feature, with its family, largest first."""
    v = values.drop(columns="_base")
    out = pd.DataFrame({"feature": v.columns, "mean_abs_shap": v.abs().mean().to_numpy()})
    out["family"] = out["feature"].map(families)
    return out.sort_values(
        ["mean_abs_shap", "feature"], ascending=[False, True], ignore_index=True
    )


def family_contributions(values: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Per row, the summed SHAP of each feature family."""
    v = values.drop(columns="_base")
    return v.T.groupby(v.columns.map(families)).sum().T


def family_drivers(values: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Mean |summed SHAP| per family: how much each part of the theory moves the risk."""
    fam = family_contributions(values, families)
    out = pd.DataFrame({"family": fam.columns, "mean_abs_shap": fam.abs().mean().to_numpy()})
    return out.sort_values(["mean_abs_shap", "family"], ascending=[False, True], ignore_index=True)


def drivers_by_type(
    values: pd.DataFrame, families: Mapping[str, str], loyalty_type: pd.Series
) -> pd.DataFrame:
    """Mean summed SHAP per family within each loyalty type (signed: + raises risk)."""
    fam = family_contributions(values, families)
    fam["loyalty_type"] = loyalty_type.to_numpy()
    long = (
        fam.groupby("loyalty_type")
        .mean()
        .reset_index()
        .melt(id_vars="loyalty_type", var_name="family", value_name="mean_shap")
    )
    counts = loyalty_type.value_counts()
    long["customers"] = long["loyalty_type"].map(counts).astype("int64")
    return long.sort_values(
        ["loyalty_type", "mean_shap"], ascending=[True, False], ignore_index=True
    )


def top_reasons(
    values: pd.DataFrame, frame: pd.DataFrame, families: Mapping[str, str], *, k: int = 3
) -> pd.DataFrame:
    """The ``k`` features that raise and the ``k`` that lower each customer's risk.

    Returns
    -------
    DataFrame
        Same index: ``reason_1..k`` (raising, as phrases with the value),
        ``protective_1..k`` (lowering) and ``reason_family_1..k`` (the feature family
        of each raising reason, which picks the recommended play).
    """
    v = values.drop(columns="_base")
    names = np.asarray(v.columns)
    arr = v.to_numpy()
    # stable sorts: equal contributions keep column order, so reasons are reproducible
    up = np.argsort(-arr, axis=1, kind="stable")[:, :k]
    down = np.argsort(arr, axis=1, kind="stable")[:, :k]
    out: dict[str, list[object]] = {}
    rows = np.arange(len(v))
    raw = frame.loc[v.index, list(names)].astype("object").to_numpy()
    for j in range(k):
        for label, idx, sign in (("reason", up, 1), ("protective", down, -1)):
            col = []
            for r, f in zip(rows, idx[:, j], strict=True):
                if sign * arr[r, f] <= 0:
                    col.append(None)
                else:
                    col.append(_format(names[f], raw[r, f]))
            out[f"{label}_{j + 1}"] = col
    for j in range(k):
        out[f"reason_family_{j + 1}"] = [
            families[names[f]] if arr[r, f] > 0 else None
            for r, f in zip(rows, up[:, j], strict=True)
        ]
    return pd.DataFrame(out, index=v.index)
