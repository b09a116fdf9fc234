"""The loyalty theory as code: types, relationship stages, rule tables, retention plays.

Two rule tables assign loyalty types:

* :data:`SURVEY_RULES` reads what a surveyed customer *said* (attachment, likelihood
  to recommend, main reason for buying here) together with what they *did* (repeat
  purchase, promotion dependence). Attitude plus behaviour is the definition of
  loyalty; these labels train the loyalty-type classifier, whose features are
  behaviour only, so it can type the customers nobody surveyed.
* :data:`BEHAVIOUR_RULES` reads behaviour alone, for shops with no survey at all. It
  cannot see attachment, so it can never say "monopoly" (false loyalty looks like
  any habit from the outside); the scored list flags these types as rule-based.

Rules are evaluated top to bottom; the first that matches wins.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.schema import LOYALTY_TYPES

STAGES = ("suspicion", "expectation", "first_purchase", "repeat_purchase", "advocate")

_OPS: dict[str, Callable[[pd.Series, float], pd.Series]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Condition:
    """``column op threshold``; ``if_missing`` decides rows where the value is unknown."""

    column: str
    op: str
    threshold: float
    if_missing: bool = False

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        if self.column not in frame.columns:
            return np.full(len(frame), self.if_missing)
        values = pd.to_numeric(frame[self.column], errors="coerce").astype("float64")
        result = _OPS[self.op](values, self.threshold).to_numpy(dtype=bool)
        return np.where(values.isna().to_numpy(), self.if_missing, result)


@dataclass(frozen=True)
class Rule:
    loyalty_type: str
    reasons: tuple[str, ...] | None  # survey main_reason values; None = any
    conditions: tuple[Condition, ...]
    why: str


def _c(column: str, op: str, threshold: float, if_missing: bool = False) -> Condition:
    return Condition(column, op, threshold, if_missing)


REPEAT = _c("orders_365d", ">=", 2)
ONE_OFF = _c("orders_365d", "<=", 1)

SURVEY_RULES: tuple[Rule, ...] = (
    Rule(
        "premium",
        ("brand_value", "convenience", "habit"),
        (_c("attachment", ">=", 6), _c("recommend", ">=", 8, True), REPEAT),
        "high attachment and advocacy, and buys again: real loyalty",
    ),
    Rule("monopoly", ("no_alternative",), (REPEAT,), "repeat buyer for want of alternatives"),
    Rule("inertia", ("habit",), (REPEAT,), "repeat buyer out of habit, low attachment"),
    Rule("convenience", ("convenience",), (REPEAT,), "repeat buyer for ease and speed"),
    Rule("incentive", ("promotions",), (), "buys for rewards and campaigns"),
    Rule(
        "incentive",
        None,
        (_c("promotion_day_order_share_365d", ">=", 0.6), _c("attachment", "<=", 4)),
        "says otherwise, but buys almost only on promotion days",
    ),
    Rule("price", ("lowest_price",), (), "follows the lowest price"),
    Rule("latent", ("held_back",), (), "wants more but is held back"),
    Rule(
        "latent",
        None,
        (ONE_OFF, _c("attachment", ">=", 5)),
        "attached but rarely buys: something holds them back",
    ),
    Rule(
        "premium",
        ("brand_value",),
        (_c("attachment", ">=", 5), REPEAT),
        "values the brand and buys again",
    ),
    Rule("inertia", None, (REPEAT,), "buys again without attachment"),
    Rule("latent", None, (), "low attachment, rare purchases"),
)

BEHAVIOUR_RULES: tuple[Rule, ...] = (
    Rule(
        "incentive",
        None,
        (_c("promotion_day_order_share_365d", ">=", 0.5), _c("orders_365d", ">=", 2)),
        "most orders fall on promotion days",
    ),
    Rule(
        "price",
        None,
        (_c("discounted_order_share_365d", ">=", 0.6),),
        "buys mostly when discounted",
    ),
    Rule(
        "premium",
        None,
        (
            _c("orders_365d", ">=", 4),
            _c("tenure_days", ">=", 365),
            _c("discounted_order_share_365d", "<", 0.3, True),
            _c("spend_trend_90d", ">=", -0.5, True),
            _c("returned_amount_share_365d", "<", 0.2, True),
        ),
        "long, frequent, full-price relationship",
    ),
    Rule(
        "convenience",
        None,
        (_c("orders_365d", ">=", 3), _c("choice_time_mean_minutes_365d", "<=", 10)),
        "frequent and quick to decide",
    ),
    Rule(
        "inertia",
        None,
        (_c("orders_365d", ">=", 2),),
        "repeat buyer with no sign of attachment or price hunting",
    ),
    Rule(
        "latent",
        None,
        (),
        "buys rarely",
    ),
)


def assign_types(frame: pd.DataFrame, rules: tuple[Rule, ...]) -> pd.DataFrame:
    """Apply a rule table.

    Parameters
    ----------
    frame
        One row per customer: behavioural features, plus for survey rules the columns
        ``main_reason``, ``attachment`` and ``recommend``.
    rules
        :data:`SURVEY_RULES` or :data:`BEHAVIOUR_RULES`.

    Returns
    -------
    DataFrame
        Same index: ``loyalty_type`` and ``loyalty_rule`` (the matching rule's reason).
    """
    n = len(frame)
    assigned = np.full(n, None, dtype=object)
    why = np.full(n, None, dtype=object)
    reasons = frame["main_reason"].astype("object") if "main_reason" in frame else None
    for rule in rules:
        match = np.ones(n, dtype=bool)
        if rule.reasons is not None:
            if reasons is None:
                continue
            match &= reasons.isin(rule.reasons).to_numpy()
        for cond in rule.conditions:
            match &= cond.evaluate(frame)
        new = match & (assigned == None)  # noqa: E711 (elementwise on object array)
        assigned[new] = rule.loyalty_type
        why[new] = rule.why
    assert set(assigned) <= set(LOYALTY_TYPES), set(assigned)
    return pd.DataFrame({"loyalty_type": assigned, "loyalty_rule": why}, index=frame.index)


def relationship_stage(frame: pd.DataFrame) -> pd.Series:
    """The five stages: suspicion -> expectation -> first purchase -> repeat -> advocate.

    ``frame`` holds point-in-time features; customers without orders are suspicion
    (visits only) or expectation (put something in a cart).
    """
    n = len(frame)

    def col(name: str, default: float = 0.0) -> np.ndarray:
        if name not in frame:
            return np.full(n, default)
        return pd.to_numeric(frame[name], errors="coerce").fillna(default).to_numpy()

    orders = col("orders_total")
    advocate = (orders >= 2) & ((col("referrals_made") >= 1) | (col("rating_mean_365d") >= 4.5))
    stage = np.select(
        [advocate, orders >= 2, orders == 1, col("carts_90d") > 0],
        ["advocate", "repeat_purchase", "first_purchase", "expectation"],
        default="suspicion",
    )
    return pd.Series(stage, index=frame.index, name="relationship_stage")


# What to do, by the situation the literature names. Order = priority.
PLAYS: dict[str, str] = {
    "complaint": "Service recovery: apologise, fix the open complaint, follow up personally",
    "fulfilment": "Fulfilment fix: expedite the next order, offer a goodwill credit",
    "quality": "Quality follow-up: ask what went wrong with recent returns or low ratings",
    "premium": "Personal thanks and VIP care; no blanket discount",
    "inertia": "Raise switching costs: membership, saved preferences, subscription",
    "convenience": "Add convenience: another channel (app), saved baskets, faster delivery",
    "monopoly": "Earn real attachment before an alternative appears: service, brand",
    "incentive": "Points and tiers that reward staying, not one-off coupons",
    "price": "Do not buy back with discounts; let go unless the customer is valuable",
    "latent": "Remove the obstacle: stock, delivery area, payment options",
    "winback": "Win-back: a personal note and a reason to return (lapsed, valuable)",
}

# Feature families whose risk-raising reasons call for a situational play first.
_FAMILY_PLAY = {
    "voiced_complaints": "complaint",
    "fulfilment": "fulfilment",
    "silent_complaints": "quality",
    "quality_tolerance": "quality",
}


def recommend_play(
    loyalty_type: pd.Series,
    reason_families: pd.DataFrame,
    overdue_ratio: pd.Series,
    value_rank_share: pd.Series,
) -> pd.Series:
    """One recommended action per customer.

    A complaint or fulfilment failure among the reasons for the risk is fixed first,
    whatever the type and even when another reason (say recency) is stronger; a
    valuable customer already well past their usual gap gets a win-back; else the play
    follows the loyalty type.

    Parameters
    ----------
    loyalty_type
        Predicted type per customer.
    reason_families
        Feature family of each reason raising this customer's risk, strongest first
        (one column per reason, missing where there is none).
    overdue_ratio
        Days since last order / usual gap.
    value_rank_share
        Customer's value rank as a share (0 = most valuable).
    """
    # the strongest reason that calls for a fix decides which fix
    situational = reason_families.apply(lambda c: c.map(_FAMILY_PLAY)).bfill(axis=1).iloc[:, 0]
    lapsed_valuable = (overdue_ratio.fillna(0) >= 2.0) & (value_rank_share <= 0.2)
    key = situational.where(situational.notna(), np.where(lapsed_valuable, "winback", None))
    key = key.where(key.notna(), loyalty_type)
    return key.map(PLAYS).fillna(PLAYS["latent"]).rename("recommended_action")
