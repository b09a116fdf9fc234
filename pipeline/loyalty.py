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


def _buys_on(days: int) -> Condition:
    # repeat buying is buying on several days: two invoices of one visit (an orders-only
    # shop's split baskets) are one purchase, no habit yet
    return _c("purchase_days_total", ">=", days, True)


# An answer is qualified by the relationship it describes: bought on two days or more so
# far, not in the year before whichever snapshot is read (the latest, often months after
# the answer: a habit buyer who lapsed since is still a habit buyer who lapsed, not one
# held back from buying)
REPEAT = _c("purchase_days_total", ">=", 2)
ONE_OFF = _c("purchase_days_total", "<=", 1)

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
    # buying on promotion days is what a price-loyal customer does too: their answer is
    # read before the promotion-day share can overrule it
    Rule("price", ("lowest_price",), (), "follows the lowest price"),
    Rule(
        "incentive",
        None,
        (
            _c("promotion_day_order_share_365d", ">=", 0.6),
            _c("orders_365d", ">=", 2),  # one order on a promotion day is not a pattern
            _buys_on(2),
            _c("attachment", "<=", 4),
        ),
        "says otherwise, but buys almost only on promotion days",
    ),
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
        (
            _c("promotion_day_order_share_365d", ">=", 0.5),
            _c("orders_365d", ">=", 2),
            _buys_on(2),
        ),
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
            _buys_on(4),
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
        (
            _c("orders_365d", ">=", 3),
            _buys_on(3),
            _c("choice_time_mean_minutes_365d", "<=", 10),
        ),
        "frequent and quick to decide",
    ),
    Rule(
        "inertia",
        None,
        (_c("orders_365d", ">=", 2), _buys_on(2)),
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

    # A relationship repeats when the customer comes back on another day: three
    # invoices of one visit are one purchase.
    orders = col("purchase_days_total") if "purchase_days_total" in frame else col("orders_total")
    advocate = (orders >= 2) & ((col("referrals_made") >= 1) | (col("rating_mean_365d") >= 4.5))
    stage = np.select(
        [advocate, orders >= 2, orders == 1, col("carts_90d") > 0],
        ["advocate", "repeat_purchase", "first_purchase", "expectation"],
        default="suspicion",
    )
    return pd.Series(stage, index=frame.index, name="relationship_stage")


@dataclass(frozen=True)
class Play:
    """A retention play: what to do, what it costs, how well it works.

    ``offer_cost`` is spent per contact on top of the contact itself (a goodwill
    credit, points, a gift); ``success_factor`` multiplies the segment's chance that a
    contact keeps a customer who would otherwise leave. Both are defaults that
    ``retention.plays`` in ``params.yaml`` may override.
    """

    action: str
    why: str
    offer_cost: float
    success_factor: float


# The list names what was seen (returns, or ratings): a shop without ratings never reads
# of them.
QUALITY_ACTION = "Quality follow-up: ask what went wrong with {what}"

# The plays the literature recommends, by situation (LOYALTY.md). The defaults follow
# its logic: a complaint resolved quickly and well can restore loyalty (1.5x); price
# customers cannot be made loyal (0.3x, and never a discount); incentive customers leave
# when the rewards end (0.8x); premium customers respond to being valued (1.2x).
PLAYS: dict[str, Play] = {
    "service_recovery": Play(
        "Service recovery: apologise, fix the open complaint, follow up personally",
        "an unresolved or slow complaint drives the customer away; one resolved well can "
        "restore loyalty",
        10.0,
        1.5,
    ),
    "fulfilment_fix": Play(
        "Fulfilment fix: free express delivery on the next order (and a goodwill credit "
        "if a delivery was late)",
        "late deliveries break the first promise an online shop makes",
        10.0,
        1.2,
    ),
    "quality_follow_up": Play(
        QUALITY_ACTION.format(what="the recent returns or low ratings"),
        "nine in ten unhappy customers never complain: returns and low ratings are their voice",
        0.0,
        1.0,
    ),
    "vip_care": Play(
        "Personal thanks and VIP care; no blanket discount",
        "premium customers are attached: value them, do not train them to wait for discounts",
        5.0,
        1.2,
    ),
    "switching_costs": Play(
        "Raise switching costs: membership, saved preferences, subscription",
        "inertia customers stay out of habit and are poached by a better offer",
        5.0,
        1.0,
    ),
    "convenience": Play(
        "Add convenience: another channel (app), saved baskets, faster delivery",
        "convenience customers stay for ease and leave for more of it",
        0.0,
        1.0,
    ),
    "earn_attachment": Play(
        "Earn real attachment before an alternative appears: service, brand",
        "monopoly loyalty is false loyalty: it ends when an alternative appears",
        0.0,
        0.8,
    ),
    "points": Play(
        "A points bonus, in a tier scheme that rewards staying (not one-off coupons)",
        "incentive customers buy when rewarded and leave when the rewards end",
        5.0,
        0.8,
    ),
    "no_discount": Play(
        "Do not buy back with discounts: a plain reminder at most",
        "price customers follow the lowest price and cannot be made loyal",
        0.0,
        0.3,
    ),
    "remove_obstacle": Play(
        "Remove the obstacle: stock, delivery area, payment options",
        "latent customers want more but something holds them back",
        0.0,
        1.0,
    ),
    "winback": Play(
        "Win-back: a personal note and a reason to return",
        "winning back a lapsed customer succeeds twice as often as winning a new one",
        5.0,
        1.0,
    ),
    "winback_recovery": Play(
        "Win-back with an apology: fix the open complaint first, then invite them back",
        "they left with a complaint still open: no invitation works before the fix",
        10.0,
        1.2,
    ),
    "let_go": Play(
        "Let go: no win-back offer",
        "a price customer of low value: buying them back with discounts does not pay",
        0.0,
        0.0,
    ),
    # Plays that past campaigns tested (pipeline.uplift decides them where it can).
    "discount": Play(
        "Discount coupon, for a limited time",
        "price and incentive customers respond while it lasts; premium customers are put off",
        7.0,
        1.0,
    ),
    "do_not_contact": Play(
        "Do not contact: past campaigns say a contact could push them away",
        "in past campaigns' control groups, customers like them stayed more when left alone",
        0.0,
        0.0,
    ),
    "none": Play(
        "No contact: keep serving them well",
        "within their rhythm and not at high risk",
        0.0,
        0.0,
    ),
}

# Plays that contact no one: they cost nothing and save nothing.
NO_CONTACT_PLAYS = ("none", "do_not_contact", "let_go")

# What each loyalty type means for retention, in a line (the workbook's glossary).
TYPE_MEANING: dict[str, str] = {
    "premium": "attached to the brand and its value; the most valuable, never a blanket discount",
    "inertia": "stays out of habit, not satisfaction; a better offer poaches them",
    "convenience": "stays for nearness, ease and speed; leaves for more of it",
    "monopoly": "stays for want of an alternative; leaves when one appears",
    "incentive": "buys when rewarded (points, campaigns); leaves when the rewards end",
    "price": "follows the lowest price; cannot be made loyal",
    "latent": "wants more but something holds them back (stock, reach, payment)",
}

TYPE_PLAY: dict[str, str] = {
    "premium": "vip_care",
    "inertia": "switching_costs",
    "convenience": "convenience",
    "monopoly": "earn_attachment",
    "incentive": "points",
    "price": "no_discount",
    "latent": "remove_obstacle",
}

# Situations that call for a fix before anything else, strongest first.
SITUATION_PLAY: dict[str, str] = {
    "complaint": "service_recovery",
    "fulfilment": "fulfilment_fix",
    "quality": "quality_follow_up",
}
WINBACK_PLAYS = ("winback", "winback_recovery")
# Returns in the last 90 days call for a quality follow-up only when the year's returns
# are at least this share of the year's spend: a cancelled line worth pennies of a
# customer's hundreds (a real shop's C invoices) is no sign of a quality problem. Where
# the share is unknown (no amounts), any return counts. The reasons use the same bar.
MATERIAL_RETURN_SHARE = 0.05
# A complaint resolved in more days than this on average was resolved slowly: a reason
# to recover the customer, and a reason they may leave (the reasons use the same bar;
# a quick resolution is no risk, "complaints took less than a day to resolve" was one).
SLOW_RESOLUTION_DAYS = 7


def situations(frame: pd.DataFrame) -> pd.DataFrame:
    """The situation that calls for a fix first, from the customer's own record.

    A fact, not a model attribution: an open complaint needs recovery whether or not
    the model weighs it. Strongest first: an open (or recent and slow) complaint, then
    late deliveries in the last 90 days, then recent returns or poor ratings.

    Returns
    -------
    DataFrame
        Same index: ``situation`` (``complaint``, ``fulfilment``, ``quality`` or
        missing), ``situation_fact`` (what was seen, in words) and ``situation_action``
        (the fix, naming what was seen: a shop that records no ratings never reads
        "low ratings" in an action; missing where there is nothing to fix).
    """
    n = len(frame)

    def col(name: str) -> pd.Series:
        if name not in frame:
            return pd.Series(np.nan, index=frame.index)
        return pd.to_numeric(frame[name], errors="coerce")

    open_now = col("complaints_unresolved_now").fillna(0)
    slow = (col("complaints_90d").fillna(0) >= 1) & (
        col("complaint_resolve_days_mean_365d").fillna(0) > SLOW_RESOLUTION_DAYS
    )
    late = col("late_deliveries_90d").fillna(0)
    returns = col("returns_90d").fillna(0)
    share = col("returned_amount_share_365d")
    returns = returns.where(share.isna() | (share >= MATERIAL_RETURN_SHARE), 0)
    rating = col("rating_mean_365d")
    poor = (col("low_ratings_365d").fillna(0) >= 1) & (rating <= 3)
    # (situation, rows, what was seen, the fix): the text is built for the matching rows
    recover, deliver = PLAYS["service_recovery"].action, PLAYS["fulfilment_fix"].action
    rules: list[tuple[str, pd.Series, Callable[[pd.Series], pd.Series], str]] = [
        (
            "complaint",
            open_now >= 1,
            lambda m: (
                _count(open_now[m], "complaint")
                + " open for "
                + _days(col("complaint_open_days_max_now")[m], elapsed=True)
            ),
            recover,
        ),
        (
            "complaint",
            slow,
            lambda m: (
                "a complaint took "
                + _days(col("complaint_resolve_days_mean_365d")[m])
                + " to resolve"
            ),
            recover,
        ),
        (
            "fulfilment",
            late >= 1,
            lambda m: _count(late[m], "late delivery", "late deliveries") + " in the last 90 days",
            deliver,
        ),
        (
            "quality",
            returns >= 1,
            lambda m: _count(returns[m], "return") + " in the last 90 days",
            QUALITY_ACTION.format(what="the recent returns"),
        ),
        (
            "quality",
            poor,
            lambda m: "rates orders " + rating[m].round(1).astype(str) + "/5",
            QUALITY_ACTION.format(what="the low ratings"),
        ),
    ]
    situation = np.full(n, None, dtype=object)
    fact = np.full(n, None, dtype=object)
    action = np.full(n, None, dtype=object)
    todo = np.ones(n, dtype=bool)
    for name, mask, say, fix in rules:
        hit = todo & mask.to_numpy(dtype=bool)
        if hit.any():
            situation[hit] = name
            fact[hit] = say(hit).to_numpy(dtype=object)
            action[hit] = fix
            todo &= ~hit
    return pd.DataFrame(
        {"situation": situation, "situation_fact": fact, "situation_action": action},
        index=frame.index,
    )


def _count(values: pd.Series, one: str, many: str | None = None) -> pd.Series:
    many = many or one + "s"
    n = values.fillna(0).round().astype("int64")
    return n.astype(str) + pd.Series(np.where(n == 1, " " + one, " " + many), index=n.index)


def _days(values: pd.Series, *, elapsed: bool = False) -> pd.Series:
    """ "12 days": rounded, or ``elapsed`` in whole days as the lists count them."""
    v = values.fillna(0)
    n = (np.floor(v) if elapsed else v.round()).astype("int64")
    return n.astype(str) + pd.Series(np.where(n == 1, " day", " days"), index=n.index)


def recommend_play(
    segment: pd.Series,
    loyalty_type: pd.Series,
    situation: pd.Series,
    valuable: pd.Series,
) -> pd.Series:
    """One play key (of :data:`PLAYS`) per customer: the play follows the segment.

    * steady customers are not contacted;
    * lapsed customers get a win-back (with the apology first if a complaint is still
      open); a lapsed price customer who is not valuable is let go, never bought back;
    * early-warning and lapsing customers get the fix their situation calls for (an
      open complaint, late deliveries, returns or poor ratings) first, else the play of
      their loyalty type. Raising switching costs is never offered to someone gone.

    Parameters
    ----------
    segment
        From :func:`pipeline.segments.assign_segments`.
    loyalty_type
        Predicted type per customer (unknown types get the latent play).
    situation
        From :func:`situations` (missing: nothing to fix).
    valuable
        True for the customers worth a win-back whatever their type (the top 20% by
        value: the 80/20 logic).
    """
    seg = segment.to_numpy(dtype=object)
    sit = situation.to_numpy(dtype=object)
    by_type = loyalty_type.map(TYPE_PLAY).fillna("remove_obstacle").to_numpy(dtype=object)
    fix = pd.Series(sit).map(SITUATION_PLAY).to_numpy(dtype=object)
    has_fix = pd.notna(fix)
    is_price = (loyalty_type == "price").to_numpy()
    lapsed = seg == "lapsed"
    play = np.select(
        [
            seg == "steady",
            lapsed & (sit == "complaint"),
            lapsed & is_price & ~valuable.to_numpy(dtype=bool),
            lapsed,
            has_fix,
        ],
        ["none", "winback_recovery", "let_go", "winback", fix],
        default=by_type,
    )
    return pd.Series(play, index=segment.index, name="play")
