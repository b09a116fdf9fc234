"""The relationship-stage funnel, registered visitors who never bought included.

The five stages of the relationship are suspicion (visits, no purchase), expectation
(shows intent: put something in a cart, no purchase), first purchase, repeat purchase
and advocate. The scored population requires an order, so its customers are only ever
in the last three stages; the first two are counted here from the canonical
``customers`` and ``sessions`` tables, as of the scoring date (nothing on or after it
is read). Customers who bought before but not within the lookback are counted apart:
they left the population.

The counting runs as Ibis expressions (DuckDB here), so it streams over a large
sessions table instead of loading it.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pandas as pd

FUNNEL = (
    ("registered", "registered, never visited"),
    ("suspicion", "suspicion: visited, never bought"),
    ("expectation", "expectation: put something in a cart, never bought"),
    ("first_purchase", "first purchase"),
    ("repeat_purchase", "repeat purchase"),
    ("advocate", "advocate: refers or rates highly"),
    ("left", "bought before, not within the lookback"),
)


def relationship_funnel(
    tables: Mapping[str, ir.Table],
    *,
    as_of: pd.Timestamp,
    lookback_days: int,
    scored_stages: pd.Series,
    advocacy_known: bool = True,
) -> pd.DataFrame:
    """How many customers are at each stage of the relationship on ``as_of``.

    Parameters
    ----------
    tables
        Canonical tables as Ibis tables: ``orders`` required, ``customers`` and
        ``sessions`` optional (without them the first stages cannot be seen).
    as_of
        The scoring date: only events before it count.
    lookback_days
        The population's lookback: buyers whose last order is older left it.
    scored_stages
        ``relationship_stage`` of every scored customer.
    advocacy_known
        Whether the shop's data can show an advocate (referrals or ratings); without
        them the stage is missing, not zero.

    Returns
    -------
    DataFrame
        One row per stage of :data:`FUNNEL`, in order: ``stage``, ``label``,
        ``customers`` (missing where the data cannot tell) and ``scored`` (whether the
        stage is part of the scored population). Without a sessions table nobody can be
        seen visiting: the first row counts the known customers who never bought, and
        its label says so.
    """
    cutoff = ibis.literal(as_of.to_pydatetime())
    orders = tables["orders"]
    before = orders.filter(orders.ordered_at < cutoff)
    last = before.group_by("customer_id").aggregate(last_order_at=before.ordered_at.max())
    lookback_start = ibis.literal((as_of - pd.Timedelta(days=lookback_days)).to_pydatetime())
    left = int(last.filter(last.last_order_at < lookback_start).count().to_pandas())

    counts: dict[str, float] = {"registered": float("nan"), "suspicion": float("nan")}
    counts["expectation"] = float("nan")
    if "customers" in tables:
        c = tables["customers"]
        registered = c.filter(c.signup_at.isnull() | (c.signup_at < cutoff)).select("customer_id")
        never = registered.distinct().anti_join(last, "customer_id")
        if "sessions" in tables:
            s = tables["sessions"]
            s = s.filter(s.started_at < cutoff)
            carted = (
                s.added_to_cart.fill_null(False).cast("int8")
                if "added_to_cart" in s.columns
                else ibis.literal(0).cast("int8")
            )
            visits = s.group_by("customer_id").aggregate(carts=carted.max())
            j = never.left_join(visits, never.customer_id == visits.customer_id)
            row = j.aggregate(
                registered=j.carts.isnull().sum(),
                suspicion=(j.carts == 0).sum(),
                expectation=(j.carts == 1).sum(),
            ).to_pandas()
            counts.update({k: float(row[k].iloc[0] or 0) for k in row.columns})
        else:
            counts["registered"] = float(never.count().to_pandas())
    stages = scored_stages.value_counts()
    for stage in ("first_purchase", "repeat_purchase", "advocate"):
        counts[stage] = float(stages.get(stage, 0))
    if not advocacy_known:
        counts["advocate"] = float("nan")
    counts["left"] = float(left)
    labels = dict(FUNNEL)
    if "sessions" not in tables:
        labels["registered"] = "known, never bought (no visits recorded)"
    return pd.DataFrame(
        [
            {
                "stage": key,
                "label": labels[key],
                "customers": counts[key],
                "scored": key in ("first_purchase", "repeat_purchase", "advocate"),
            }
            for key, _ in FUNNEL
        ]
    )
