"""The at-risk list: who, how likely, how much value, why, and what to do.

Value is what the customer is expected to spend over the next horizon if they stay
(the value model of the train stage); expected value at risk is churn probability x
that value. Retention effort goes to the value at risk first (the
80/20 logic: a few customers carry most of the value, and some are not worth a
discount), so the list is ranked by expected value at risk, not by probability alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.loyalty import recommend_play, relationship_stage

LIST_COLUMNS = (
    "rank",
    "customer_id",
    "churn_probability",
    "risk_band",
    "loyalty_type",
    "loyalty_type_probability",
    "loyalty_type_source",
    "relationship_stage",
    "value_365d",
    "expected_value",
    "expected_value_at_risk",
    "reason_1",
    "reason_2",
    "reason_3",
    "recommended_action",
    "keeps_them",
)


def build_list(
    scoring: pd.DataFrame,
    features: pd.DataFrame,
    *,
    band_thresholds: tuple[float, float],
) -> pd.DataFrame:
    """Every customer of the scoring population, ranked by expected value at risk.

    Parameters
    ----------
    scoring
        One row per customer: ``churn_probability``, loyalty type columns, ``reason_1..``,
        ``protective_1``, ``reason_family_1..`` (from the explain stage).
    features
        The same customers' features at the scoring cutoff.
    band_thresholds
        (low/medium, medium/high) probability thresholds.

    Returns
    -------
    DataFrame
        :data:`LIST_COLUMNS`, rank 1 first.
    """
    f = features.set_index("customer_id").loc[scoring["customer_id"]]
    out = scoring.reset_index(drop=True).copy()
    # Round first, so that the list's own columns multiply to its value at risk.
    out["churn_probability"] = out["churn_probability"].round(4)
    # what they really spent in the last year: cancellations and returns taken off
    spent = f["net_spend_365d"] if "net_spend_365d" in f else f["spend_365d"]
    out["value_365d"] = spent.fillna(0.0).to_numpy().round(2)
    out["expected_value"] = out["expected_value"].to_numpy().round(2)
    out["expected_value_at_risk"] = (out["churn_probability"] * out["expected_value"]).round(2)
    lo, hi = band_thresholds
    out["risk_band"] = np.select(
        [out["churn_probability"] >= hi, out["churn_probability"] >= lo],
        ["high", "medium"],
        default="low",
    )
    out["relationship_stage"] = relationship_stage(f.reset_index()).to_numpy()
    value_rank_share = out["expected_value"].rank(ascending=False, method="first") / len(out)
    out["recommended_action"] = recommend_play(
        out["loyalty_type"],
        out.filter(regex=r"^reason_family_\d+$"),
        pd.Series(f["overdue_ratio"].to_numpy() if "overdue_ratio" in f else np.nan),
        value_rank_share,
    ).to_numpy()
    out["keeps_them"] = out.get("protective_1")
    out = out.sort_values(
        ["expected_value_at_risk", "churn_probability", "customer_id"],
        ascending=[False, False, True],
        ignore_index=True,
    )
    out["rank"] = np.arange(1, len(out) + 1)
    out["loyalty_type_probability"] = out["loyalty_type_probability"].round(3)
    for col in LIST_COLUMNS:
        if col not in out:
            out[col] = None
    return out[list(LIST_COLUMNS)]


def summarise_list(scored: pd.DataFrame, *, at_risk_size: int) -> dict[str, object]:
    """Headline numbers for ``dvc metrics`` and MLflow."""
    value = scored["value_365d"].sort_values(ascending=False)
    top20 = value.head(max(1, int(round(0.2 * len(value))))).sum()
    top = scored.head(at_risk_size)
    return {
        "customers_scored": len(scored),
        "expected_churners": float(scored["churn_probability"].sum().round(1)),
        "value_365d_total": float(value.sum().round(2)),
        "expected_value_at_risk_total": float(scored["expected_value_at_risk"].sum().round(2)),
        "value_share_of_top_20pct_customers": float(round(top20 / max(value.sum(), 1e-9), 4)),
        "at_risk_list_size": len(top),
        "at_risk_list_value_at_risk_share": float(
            round(
                top["expected_value_at_risk"].sum()
                / max(scored["expected_value_at_risk"].sum(), 1e-9),
                4,
            )
        ),
        "risk_bands": scored["risk_band"].value_counts().sort_index().to_dict(),
        "loyalty_types": scored["loyalty_type"].value_counts().sort_index().to_dict(),
        "relationship_stages": scored["relationship_stage"].value_counts().sort_index().to_dict(),
    }
