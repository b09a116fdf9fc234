"""One record per feature: what it is, how a retention team reads it, when it is a strength.

The feature builder computes the values (``pipeline.features``); everything that
*talks* about a feature reads this catalogue: the reasons on the at-risk list, what
keeps a customer, the drivers in words of the report. A new feature is one new
:class:`Feature` here.

Each feature belongs to

* a **family**, the loyalty theory's unit of measurement (the five behavioural signs of
  loyalty, voiced and silent complaints, fulfilment, ...), the same as
  ``pipeline.features.FAMILIES`` (a test keeps the two equal);
* a **concept**, the unit a person reasons in. SHAP values are summed within a concept
  and each concept gives at most one reason, so "0 visits in 90 days" and "last visit
  95 days ago" can no longer fill two of three reasons. Calendar, region and
  acquisition channel are ``context``: they stay in the model and never become a
  reason, because nobody can act on them.

A reason is phrased with the customer's own value against their own norm ("last order
102 days ago; usually every 21 days") or, where they have none, against the shop's median
("rates orders 3.2/5 on average; half the shop's customers rate over 4.4"). Templates
name features (and a few derived norms, :data:`NORMS`) in braces, with a format after
``|``:

``{x}``
    a whole number with thousands separators;
``{x|order}`` or ``{x|delivery/deliveries}``
    a count with its noun: "no orders", "1 order", "3 orders";
``{x|days}``
    "less than a day", "1 day", "12 days" (rounded: a gap, a duration);
``{x|ago}``
    the same, in whole days elapsed, as the lists' ``days_since_last_order`` counts
    them: 85 days and 21 hours is "85 days", never "86 days" beside an 85;
``{x|duration}``
    days as "45 days", "7 months" or "3 years";
``{x|months}``
    days as "less than a month", "1 month", "16 months" or "3 years" (a duration set
    against the shop's: both in the same units);
``{x|%}``, ``{x|money}``, ``{x|1}``
    a percentage, a whole amount of money, one decimal (dropped when zero);
``{x|1 order}``
    one decimal with its noun: "1 order", "0.8 orders", "2.5 orders".

A phrase applies to the rows where every value it names is known and its ``when``
holds; the first that applies wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# returns count as a quality problem from the share of the year's spend the plays use
from pipeline.loyalty import MATERIAL_RETURN_SHARE, SLOW_RESOLUTION_DAYS
from pipeline.segments import MIN_RHYTHM_DAYS, overdue, usual_spread

Predicate = Callable[[pd.DataFrame], np.ndarray]

CONTEXT = "context"

# Concept key -> (label for people, what it covers). Order = how the report lists them.
CONCEPTS: dict[str, tuple[str, str]] = {
    "recency_visits": (
        "Recency and visits",
        "how long since the last order, against the customer's own rhythm, and whether "
        "they still visit the shop",
    ),
    "order_rhythm": (
        "Order rhythm",
        "how often and how regularly the customer orders, against their own past",
    ),
    "complaints": (
        "Complaints",
        "complaints voiced, still open, slow to resolve or escalated: the tip of the iceberg",
    ),
    "deliveries": (
        "Deliveries",
        "late deliveries, most of them never complained about",
    ),
    "returns_ratings": (
        "Returns and ratings",
        "returns, low ratings and whether the customer kept buying after a problem: the "
        "silent part of the iceberg",
    ),
    "price_promotions": (
        "Price and promotions",
        "discounts and promotion days: customers who come for the price leave for a price",
    ),
    "spend": ("Spend", "how much the customer spends and whether it is falling"),
    "engagement": (
        "Engagement",
        "channels used, time taken to choose, abandoned carts",
    ),
    "switching_costs": (
        "Switching costs",
        "loyalty points and membership: what the customer would give up by leaving",
    ),
    "tenure": (
        "Tenure and advocacy",
        "how long the relationship has lasted and whether the customer recommends the shop",
    ),
}


# A concept whose label and description speak of data a shop may not record: without
# any of these features (none in the model, or no value for anyone), the concept is
# named and described by what the shop does record (an orders-only shop has no visits,
# ratings, referrals or discounts to speak of).
CONCEPTS_WITHOUT: dict[str, tuple[tuple[str, ...], str, str]] = {
    "recency_visits": (
        (
            "browse_only_sessions_90d",
            "browse_only_session_share_90d",
            "sessions_30d",
            "sessions_90d",
            "days_since_last_session",
        ),
        "Recency",
        "how long since the last order, against the customer's own rhythm",
    ),
    "returns_ratings": (
        ("low_ratings_365d", "rating_mean_365d"),
        "Returns",
        "returns and whether the customer kept buying after a problem: the silent part of "
        "the iceberg",
    ),
    "price_promotions": (
        (
            "discounted_order_share_365d",
            "discount_depth_mean_365d",
            "promotion_day_order_share_365d",
        ),
        "Price",
        "the prices the customer pays: customers who come for the price leave for a price",
    ),
    "tenure": (("referrals_made",), "Tenure", "how long the relationship has lasted"),
}


def concept_words(concept: str, recorded: set[str] | frozenset[str]) -> tuple[str, str]:
    """A concept's label and what it covers, for a shop that records ``recorded``
    (the features with a value for some customer): :data:`CONCEPTS`, or
    :data:`CONCEPTS_WITHOUT` where the shop records none of the features it needs."""
    label, covers = CONCEPTS[concept]
    if concept in CONCEPTS_WITHOUT:
        needs, short_label, short_covers = CONCEPTS_WITHOUT[concept]
        if not recorded.intersection(needs):
            return short_label, short_covers
    return label, covers


@dataclass(frozen=True)
class Phrase:
    """A sentence template and, optionally, the rows it is meant for."""

    template: str
    when: Predicate | None = None


@dataclass(frozen=True)
class Feature:
    """Everything the pipeline says about one feature.

    Attributes
    ----------
    name
        Column name in the feature table.
    family
        Loyalty-theory family (the same as ``pipeline.features.FAMILIES``).
    concept
        Key of :data:`CONCEPTS`, or ``"context"`` (never a reason).
    label
        What the value is, as a noun phrase ("days since the last order").
    reason
        How to say it when it raises the risk, first applicable phrase wins.
    absent
        What a missing value means for the customer.
    absent_is_risk
        Whether that absence can be a reason ("no visits in the last 90 days" can; "no
        open complaint" cannot, it is good news).
    strength
        When the value is a real strength (advocacy, points, an on-schedule rhythm, a
        resolved complaint) and how to say it; ``None`` if it never is. A strength is
        never given as a reason, and ``keeps_them`` is only ever a strength.
    """

    name: str
    family: str
    concept: str
    label: str
    reason: tuple[Phrase, ...]
    absent: str | None = None
    absent_is_risk: bool = True
    strength: Phrase | None = None


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce")


def _ge(name: str, threshold: float) -> Predicate:
    return lambda f: (_col(f, name) >= threshold).to_numpy()


def _le(name: str, threshold: float) -> Predicate:
    return lambda f: (_col(f, name) <= threshold).to_numpy()


def _gt(name: str, threshold: float) -> Predicate:
    return lambda f: (_col(f, name) > threshold).to_numpy()


def _has_a_rhythm(f: pd.DataFrame) -> np.ndarray:
    # a usual gap needs two gaps at least, three days of purchases (segments.rhythm
    # uses the shop's rhythm below that): "usually every 2 days" of a customer who
    # bought on 20 and 22 June and never again read as a habit (reviewed). An unknown
    # count is given the benefit of the doubt
    days = _col(f, "purchase_days_total")
    return (days.isna() | (days >= MIN_RHYTHM_DAYS)).to_numpy()


def _two_days(f: pd.DataFrame) -> np.ndarray:
    return (_col(f, "purchase_days_total") == 2).to_numpy()


def _on_schedule(f: pd.DataFrame) -> np.ndarray:
    # ordered again within the usual gap: the rhythm itself is holding (a customer who
    # bought on one day only, however many orders, has no usual gap: never on schedule).
    # A customer silent for a whole horizon has met the churn definition, whatever their
    # rhythm: the win-back list never reads "on schedule" (horizon_days, when the caller
    # gives it, see explain.reasons)
    days = _col(f, "days_since_last_order")
    within = days <= _col(f, "usual_gap")
    if "horizon_days" in f:
        within &= days < _col(f, "horizon_days")
    return within.to_numpy() & _has_a_rhythm(f)


def _kept_their_spend(f: pd.DataFrame) -> np.ndarray:
    # spend they did not take back: a customer who returned half the year's spend or
    # more is not "spending more", whatever their gross orders say
    share = _col(f, "returned_amount_share_365d")
    net = _col(f, "net_spend_365d")
    return ((share.isna() | (share < 0.5)) & (net.isna() | (net > 0))).to_numpy()


def _customer_for(days: float) -> Predicate:
    # "this season last year", "of the last 12 months", "the 90 before" speak of a time
    # the customer was there for: a customer of 51 days never "spent 0.00 in this season
    # last year" (an unknown age is given the benefit of the doubt)
    def holds(f: pd.DataFrame) -> np.ndarray:
        age = _col(f, "first_order_age_days")
        return (age.isna() | (age >= days)).to_numpy()

    return holds


_customer_for_a_year = _customer_for(365)


def _fell(now: str, before: str) -> Predicate:
    # A spend said as a risk against an earlier spend is a fall, by a tenth at least
    # (reviewed: "spent 441.65 in the last 90 days; 115.66 a quarter on average in the
    # nine months before" was a reason on 381 rows, a rise a manager reads as a strength)
    return lambda f: (_col(f, now) < 0.9 * _col(f, before)).to_numpy()


def _bought_on_several_days(f: pd.DataFrame) -> np.ndarray:
    # with one day of purchases the first order is the last ("one order so far, 52 days
    # ago" says when) and there is no habit to speak of (an unknown count is given the
    # benefit of the doubt)
    days = _col(f, "purchase_days_total")
    return (days.isna() | (days >= 2)).to_numpy()


def _tenure_of_its_own(f: pd.DataFrame) -> np.ndarray:
    # the relationship says more than the first order's age only when it began a month
    # or more before it (a signup), or there were orders after the first day
    began_before = _col(f, "tenure_days") - _col(f, "first_order_age_days") >= 30
    return _bought_on_several_days(f) | began_before.to_numpy()


def _material_issue(f: pd.DataFrame) -> np.ndarray:
    # a complaint, or returns worth speaking of, in the last year
    complained = _col(f, "complaints_365d") >= 1
    share = _col(f, "returned_amount_share_365d")
    returned = (_col(f, "returns_365d") >= 1) & (share.isna() | (share >= MATERIAL_RETURN_SHARE))
    return (complained | returned).to_numpy()


def _material_returns(count: str) -> Predicate:
    """Returns worth speaking of: some, and at least :data:`MATERIAL_RETURN_SHARE` of
    the year's spend where the share is known (reviewed on Online Retail: "1 return in
    the last year" was one cancelled line of 12.75 in a year of about 880, and "returned
    1% of spend" a customer's only reason)."""

    def test(f: pd.DataFrame) -> np.ndarray:
        share = _col(f, "returned_amount_share_365d")
        material = share.isna() | (share >= MATERIAL_RETURN_SHARE)
        return ((_col(f, count) > 0) & material).to_numpy()

    return test


def _since_issue(template: str, when: Predicate | None = None) -> tuple[Phrase, ...]:
    """``template`` with ISSUE said as what the shop records: "return or complaint",
    "return" (an orders-only shop's cancellations) or "complaint"; only for rows with a
    material issue (:func:`_material_issue`)."""

    def recorded(returns: bool, complaints: bool) -> Predicate:
        def holds(f: pd.DataFrame) -> np.ndarray:
            ok = ("returns_365d" in f) == returns and ("complaints_365d" in f) == complaints
            ok_rows = _material_issue(f) if ok else np.zeros(len(f), dtype=bool)
            return ok_rows & (np.asarray(when(f), dtype=bool) if when else True)

        return holds

    return tuple(
        Phrase(template.replace("ISSUE", words), recorded(returns, complaints))
        for words, returns, complaints in (
            ("return or complaint", True, True),
            ("return", True, False),
            ("complaint", False, True),
        )
    )


def _more_than_usual(f: pd.DataFrame) -> np.ndarray:
    usual = (_col(f, "orders_90d") >= 2) & (_col(f, "orders_90d") >= _col(f, "usual_orders_90d"))
    return usual.to_numpy() & _not_overdue(f)


def _not_overdue(f: pd.DataFrame) -> np.ndarray:
    # A recent strength ("as many orders as usual", "spending more") is none of a
    # customer overdue against their own rhythm, the segments' lapsing (reviewed: 17
    # lapsing rows "kept" by it): the usual gap plus its spread, as segments.rhythm
    # measures it, or a whole horizon of silence
    days = _col(f, "days_since_last_order")
    gap = _col(f, "order_gap_mean_days").clip(lower=1.0)
    late = overdue(days, gap + usual_spread(gap, _col(f, "order_gap_std_days").fillna(0.0)))
    if "horizon_days" in f:
        late |= (days >= _col(f, "horizon_days")).fillna(False)
    return ~late.to_numpy(dtype=bool)


def _full_price(f: pd.DataFrame) -> np.ndarray:
    return (
        (_col(f, "orders_365d") >= 2) & (_col(f, "discounted_order_share_365d") <= 0.1)
    ).to_numpy()


def _open_complaint(f: pd.DataFrame) -> np.ndarray:
    return (_col(f, "complaints_unresolved_now") >= 1).to_numpy()


def _tier_held(f: pd.DataFrame) -> np.ndarray:
    if "membership_tier" not in f:
        return np.zeros(len(f), dtype=bool)
    tier = f["membership_tier"].astype("object")
    return (tier.notna() & ~tier.isin(["none", "None", "", "basic"])).to_numpy()


# Norms a reason compares the customer with: derived from their own features.
NORMS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    # Two invoices in one visit make a gap of minutes: a rhythm is at least a day.
    "usual_gap": lambda f: _col(f, "order_gap_mean_days").clip(lower=1.0),
    "usual_orders_30d": lambda f: _col(f, "order_rate_per_30d"),
    "usual_orders_90d": lambda f: _col(f, "order_rate_per_30d") * 3.0,
    "usual_orders_365d": lambda f: _col(f, "order_rate_per_30d") * 365.0 / 30.0,
    "visits_a_month_before": lambda f: (_col(f, "sessions_90d") - _col(f, "sessions_30d")) / 2.0,
    "spend_a_month_before": lambda f: (_col(f, "spend_365d") - _col(f, "spend_30d")) / 11.0,
    "spend_a_quarter_before": lambda f: (_col(f, "spend_365d") - _col(f, "spend_90d")) / 3.0,
    # the shop's median over the scoring population, when the caller knows it
    # (SHOP_NORMS); a reason without it falls back to the customer's own value
    "shop_choice_time": lambda f: _col(f, "shop_choice_time_minutes"),
    "shop_unit_price": lambda f: _col(f, "shop_unit_price_mean"),
    # trend t = (a - b) / (a + b) with a the last 90 days, b the 90 before: b = a(1-t)/(1+t)
    "spend_prev_90d": lambda f: (
        _col(f, "spend_90d")
        * (1.0 - _col(f, "spend_trend_90d"))
        / (1.0 + _col(f, "spend_trend_90d")).where(_col(f, "spend_trend_90d") > -1.0)
    ),
}

# Norms of the whole scoring population, not of one row: name -> the feature whose
# median they are. The caller computes them on everyone scored (pipeline.explain.reasons
# takes them as ``shop``), so a reason reads the same whoever else is explained.
SHOP_NORMS: dict[str, str] = {
    "shop_choice_time_minutes": "choice_time_mean_minutes_365d",
    "shop_unit_price_mean": "unit_price_mean_365d",
    # a fact with no norm of the customer's own ("no loyalty points banked", "customer
    # for 8 months") says little until it is set beside the shop's: see _against_shop
    "shop_points_balance": "points_balance",
    "shop_tenure_days": "tenure_days",
    "shop_net_spend_365d": "net_spend_365d",
    "shop_order_value_mean_365d": "order_value_mean_365d",
    "shop_quantity_per_order_mean_365d": "quantity_per_order_mean_365d",
    "shop_order_rate_per_30d": "order_rate_per_30d",
    "shop_rating_mean_365d": "rating_mean_365d",
    "shop_discounted_order_share_365d": "discounted_order_share_365d",
    "shop_discount_depth_mean_365d": "discount_depth_mean_365d",
    "shop_promotion_day_order_share_365d": "promotion_day_order_share_365d",
    "shop_spend_365d": "spend_365d",
    "shop_first_order_age_days": "first_order_age_days",
    "shop_spend_total": "spend_total",
    "shop_distinct_products_365d": "distinct_products_365d",
    "shop_sessions_90d": "sessions_90d",
    "shop_orders_365d": "orders_365d",
}
# the shop's medians, under their own names for the templates that name them as they are
NORMS.update({n: (lambda f, n=n: _col(f, n)) for n in SHOP_NORMS})

# How far from the shop's median a value must lie to be said against it: "3.9/5; half
# the shop's customers rate over 4.0" reads as a difference nobody would act on.
SHOP_GAP = 0.1


def _not_above_shop(feature: str, when: Predicate | None = None) -> Predicate:
    """Rows whose value is not clearly above the shop's median (or with no median):
    where more is better (spend, tenure, orders, ratings), a value above the shop's is
    a strength, never a reason the customer may leave (reviewed: "spent 14,264.85 in
    all" was the reason of 47% of a shop's call list, "customer for 38 months; half the
    shop's customers for under 16 months" of 12%)."""

    def test(f: pd.DataFrame) -> np.ndarray:
        x, m = _col(f, feature), _col(f, f"shop_{feature}")
        ok = (m.isna() | ~(x > (1 + SHOP_GAP) * m)).to_numpy()
        return ok & when(f) if when is not None else ok

    return test


# The features said against the shop's median only on the side where less is worse
# (_against_shop with above=False): where the model's risk rises with one on this shop
# instead, a value under the median is no reason, whatever the shop's median says.
MORE_IS_BETTER: set[str] = set()
# Features said against the shop's median on the side the model's risk rises toward
DIRECTED: set[str] = {"unit_price_mean_365d"}
# The column prefix of the model's direction per feature (explain.reasons sets it from
# the SHAP values: higher, lower or mixed)
MODEL_DIRECTION = "model_direction_"


def _model_not(feature: str, direction: str) -> Predicate:
    """Rows where the model's direction for ``feature`` on this shop (explain.reasons
    sets ``model_direction_<feature>``: higher, lower or mixed) is not ``direction``."""

    def test(f: pd.DataFrame) -> np.ndarray:
        column = MODEL_DIRECTION + feature
        if column not in f:
            return np.ones(len(f), dtype=bool)
        return (f[column] != direction).to_numpy(dtype=bool)

    return test


def _col_known(name: str) -> Predicate:
    return lambda f: _col(f, name).notna().to_numpy()


def _against_shop(
    template: str,
    feature: str,
    spec: str,
    *,
    verb: str = "",
    after: str = "",
    when: Predicate | None = None,
    above: bool = True,
) -> tuple[Phrase, ...]:
    """``template`` against the shop's median of ``feature`` (``shop_<feature>``):
    "; half the shop's customers {verb} over {median}{after}" when the customer's value
    lies at least :data:`SHOP_GAP` below it, "under" when as far above (``above``), and
    (a duration: both in months or years, never "38 days" beside "16 months")
    nothing (the next phrase) when it is close, zero or not known."""
    norm = f"shop_{feature}"
    if spec == "duration":
        template, spec = template.replace("|duration}", "|months}"), "months"

    def side(sign: int) -> Predicate:
        def test(f: pd.DataFrame) -> np.ndarray:
            x, m = _col(f, feature), _col(f, norm)
            far = x < (1 - SHOP_GAP) * m if sign < 0 else x > (1 + SHOP_GAP) * m
            hit = (far & (m > 0)).to_numpy()
            return hit & when(f) if when is not None else hit

        return test

    verb = f"{verb} " if verb else ""

    def say(side_word: str) -> str:
        return f"{template}; half the shop's customers {verb}{side_word} {{{norm}|{spec}}}{after}"

    if above:
        return (Phrase(say("over"), side(-1)), Phrase(say("under"), side(+1)))
    MORE_IS_BETTER.add(feature)
    agrees = _model_not(feature, "higher")
    below = side(-1)
    return (Phrase(say("over"), lambda f: below(f) & agrees(f)),)


def _one_day_several_orders(f: pd.DataFrame) -> np.ndarray:
    # several invoices of one visit (or one day): one purchase, no rhythm yet
    return ((_col(f, "orders_total") >= 2) & (_col(f, "purchase_days_total") <= 1)).to_numpy()


_LAST_ORDER = (
    Phrase(
        "last order {days_since_last_order|ago} ago; usually every {usual_gap|days}",
        _has_a_rhythm,
    ),
    Phrase(
        "last order {days_since_last_order|ago} ago, {usual_gap|days} after their first",
        _two_days,
    ),
    Phrase(
        "{orders_total|order} so far, all on one day, {days_since_last_order|ago} ago",
        _one_day_several_orders,
    ),
    Phrase("one order so far, {days_since_last_order|ago} ago"),
)
# how often the customer bought, in the facts BG/NBD reads too
_PURCHASE_DAYS = "ordered on {purchase_days_total|day} in {tenure_days|duration} as a customer"
# what a missing gap means: one order, or several on a single day
_NO_RHYTHM = "bought on a single day so far"
_ON_SCHEDULE = Phrase(
    "on schedule: last order {days_since_last_order|ago} ago, usually every {usual_gap|days}",
    _on_schedule,
)
_OPEN_COMPLAINT = Phrase(
    "{complaints_unresolved_now|complaint} open for {complaint_open_days_max_now|ago}",
    _open_complaint,
)


def _f(
    name: str,
    family: str,
    concept: str,
    label: str,
    *reason: str | Phrase,
    absent: str | None = None,
    absent_is_risk: bool = True,
    strength: Phrase | None = None,
) -> Feature:
    phrases = tuple(p if isinstance(p, Phrase) else Phrase(p) for p in reason)
    return Feature(name, family, concept, label, phrases, absent, absent_is_risk, strength)


CATALOGUE: tuple[Feature, ...] = (
    # ---------------------------------------------------------------- repeat purchase
    _f(
        "orders_30d",
        "repeat_purchase",
        "order_rhythm",
        "orders in the last 30 days",
        # a habit only of a customer who bought on several days: beside "one order so
        # far, 161 days ago" a count of the last 90 days says nothing new
        Phrase(
            "{orders_30d|order} in the last 30 days; usually {usual_orders_30d|1} a month",
            lambda f: _bought_on_several_days(f) & _fell("orders_30d", "usual_orders_30d")(f),
        ),
    ),
    _f(
        "orders_90d",
        "repeat_purchase",
        "order_rhythm",
        "orders in the last 90 days",
        Phrase(
            "{orders_90d|order} in the last 90 days; usually {usual_orders_90d|1 order}",
            lambda f: _bought_on_several_days(f) & _fell("orders_90d", "usual_orders_90d")(f),
        ),
        strength=Phrase(
            "{orders_90d|order} in the last 90 days, as many as usual or more", _more_than_usual
        ),
    ),
    _f(
        "orders_365d",
        "repeat_purchase",
        "order_rhythm",
        "orders in the last year",
        # many orders are no reason to leave (reviewed: "40 orders in the last year" as
        # a risk beside the shop's one a month)
        Phrase("{orders_365d|order} in the last year", _not_above_shop("orders_365d")),
    ),
    _f(
        "orders_total",
        "repeat_purchase",
        "order_rhythm",
        "orders in all",
        # more orders a month than the shop's median is a strength, not a reason (reviewed:
        # "80 orders in 19 months as a customer" against the shop's 1 a month)
        Phrase(
            "{orders_total|order} in {tenure_days|duration} as a customer",
            _not_above_shop("order_rate_per_30d"),
        ),
        Phrase("{orders_total|order} in all", _not_above_shop("order_rate_per_30d")),
    ),
    _f(
        "purchase_days_total",
        "repeat_purchase",
        "order_rhythm",
        "days with an order, in all",
        _PURCHASE_DAYS,
        "ordered on {purchase_days_total|day} in all",
    ),
    _f(
        "days_since_last_order",
        "repeat_purchase",
        "recency_visits",
        "days since the last order",
        *_LAST_ORDER,
        strength=_ON_SCHEDULE,
    ),
    _f(
        "order_gap_mean_days",
        "repeat_purchase",
        "order_rhythm",
        "usual days between orders",
        Phrase("usually orders every {usual_gap|days}", _has_a_rhythm),
        Phrase("ordered on two days so far, {usual_gap|days} apart", _two_days),
        absent=_NO_RHYTHM,
    ),
    _f(
        "order_gap_std_days",
        "repeat_purchase",
        "order_rhythm",
        "spread of the days between orders",
        Phrase(
            "ordered on two days so far, {usual_gap|days} apart", _le("purchase_days_total", 2)
        ),
        "orders every {usual_gap|days}, give or take {order_gap_std_days|days}",
        absent=_NO_RHYTHM,
    ),
    _f(
        "overdue_ratio",
        "repeat_purchase",
        "recency_visits",
        "days since the last order over the usual gap",
        *_LAST_ORDER,
        absent=_NO_RHYTHM,
        strength=_ON_SCHEDULE,
    ),
    _f(
        "order_rate_per_30d",
        "repeat_purchase",
        "order_rhythm",
        "orders a month over the relationship",
        *_against_shop(
            "{order_rate_per_30d|1 order} a month on average",
            "order_rate_per_30d",
            "1",
            verb="order",
            after=" a month",
            when=_bought_on_several_days,
            above=False,
        ),
        Phrase(
            "{order_rate_per_30d|1 order} a month on average",
            _not_above_shop("order_rate_per_30d", _bought_on_several_days),
        ),
    ),
    _f(
        "recency_share_of_tenure",
        "repeat_purchase",
        "recency_visits",
        "share of the relationship spent silent",
        *_LAST_ORDER,
        strength=_ON_SCHEDULE,
    ),
    _f(
        "active_months_365d",
        "repeat_purchase",
        "order_rhythm",
        "months with an order in the last year",
        # only of a customer there for the whole year: a newer one's months say no more
        # than their tenure ("customer for 3 months") and first order
        Phrase("bought in {active_months_365d|month} of the last 12", _customer_for_a_year),
        strength=Phrase(
            "bought in {active_months_365d} of the last 12 months", _ge("active_months_365d", 6)
        ),
    ),
    # ----------------------------------------------------------------- seasonality
    _f(
        "bgnbd_p_alive",
        "repeat_purchase",
        "recency_visits",
        "chance the customer is still active, by their purchase history (BG/NBD)",
        _LAST_ORDER[0],
        "silent for longer than their purchase history suggests",
        strength=_ON_SCHEDULE,
    ),
    _f(
        "bgnbd_p_no_purchase",
        "repeat_purchase",
        "recency_visits",
        "chance of no order in the horizon, by purchase history alone (BG/NBD)",
        *_LAST_ORDER,
        absent=_NO_RHYTHM,
        strength=_ON_SCHEDULE,
    ),
    _f(
        "bgnbd_orders_per_30d_if_alive",
        "repeat_purchase",
        "order_rhythm",
        "orders a month expected while still active (BG/NBD)",
        # said by the purchases the model read, not as a habit: its rate is an estimate
        # pulled toward the shop's prior ("usually 0.3 orders a month" of a customer
        # who ordered every 2 days, three times), and with one day of purchases it is
        # the prior alone
        Phrase(_PURCHASE_DAYS, _bought_on_several_days),
    ),
    _f("cutoff_month", "seasonality", CONTEXT, "month of the year", "{cutoff_month}"),
    _f(
        "orders_same_window_last_year",
        "seasonality",
        "order_rhythm",
        "orders in the coming season last year",
        Phrase(
            "{orders_same_window_last_year|order} in this season last year", _customer_for_a_year
        ),
        strength=Phrase(
            "bought in this season last year ({orders_same_window_last_year|order})",
            _ge("orders_same_window_last_year", 1),
        ),
    ),
    _f(
        "spend_same_window_last_year",
        "seasonality",
        "spend",
        "spend in the coming season last year",
        # only nothing spent is a risk; a season's spend is no reason to leave
        Phrase(
            "spent {spend_same_window_last_year|money} in this season last year",
            lambda f: _customer_for_a_year(f) & _le("spend_same_window_last_year", 0)(f),
        ),
    ),
    # ----------------------------------------------------------------- choice time
    _f(
        "choice_time_mean_minutes_365d",
        "choice_time",
        "engagement",
        "minutes from visit to order",
        Phrase(
            "takes {choice_time_mean_minutes_365d} minutes from visit to order; half the "
            "shop's customers take under {shop_choice_time}",
            lambda f: (
                _col(f, "choice_time_mean_minutes_365d") > _col(f, "shop_choice_time")
            ).to_numpy(),
        ),
        "takes {choice_time_mean_minutes_365d} minutes from visit to order",
        absent="no tracked visit before buying",
        absent_is_risk=False,
    ),
    # ----------------------------------------------------------- price sensitivity
    _f(
        "discounted_order_share_365d",
        "price_sensitivity",
        "price_promotions",
        "share of orders discounted",
        *_against_shop(
            "{discounted_order_share_365d|%} of orders discounted",
            "discounted_order_share_365d",
            "%",
        ),
        "{discounted_order_share_365d|%} of orders discounted",
        strength=Phrase("buys at full price", _full_price),
    ),
    _f(
        "discount_depth_mean_365d",
        "price_sensitivity",
        "price_promotions",
        "average discount",
        *_against_shop(
            "average discount {discount_depth_mean_365d|%}",
            "discount_depth_mean_365d",
            "%",
            verb="get",
        ),
        "average discount {discount_depth_mean_365d|%}",
    ),
    _f(
        "promotion_day_order_share_365d",
        "price_sensitivity",
        "price_promotions",
        "share of orders on promotion days",
        *_against_shop(
            "{promotion_day_order_share_365d|%} of orders on promotion days",
            "promotion_day_order_share_365d",
            "%",
        ),
        "{promotion_day_order_share_365d|%} of orders on promotion days",
    ),
    _f(
        "unit_price_mean_365d",
        "price_sensitivity",
        "price_promotions",
        "average unit price",
        # a price means something against the shop's: low, the customer buys the cheap
        # end of the range; high, the dear end. A tenth from the median at least, and on
        # the side the model's risk rises toward on this shop (reviewed on Online Retail:
        # "average unit price 2.80; half the shop's customers pay over 2.80", and low
        # prices blamed beside the report's "the higher, the riskier")
        Phrase(
            "average unit price {unit_price_mean_365d|money}; half the shop's customers pay "
            "under {shop_unit_price|money}",
            lambda f: (
                (
                    _col(f, "unit_price_mean_365d") > (1 + SHOP_GAP) * _col(f, "shop_unit_price")
                ).to_numpy()
                & _model_not("unit_price_mean_365d", "lower")(f)
            ),
        ),
        Phrase(
            "average unit price {unit_price_mean_365d|money}; half the shop's customers pay "
            "over {shop_unit_price|money}",
            lambda f: (
                (
                    _col(f, "unit_price_mean_365d") < (1 - SHOP_GAP) * _col(f, "shop_unit_price")
                ).to_numpy()
                & _model_not("unit_price_mean_365d", "higher")(f)
            ),
        ),
        Phrase("average unit price {unit_price_mean_365d|money}", _col_known("shop_unit_price")),
        # no shop to compare with (a caller without the shop's norms)
        Phrase(
            "average unit price {unit_price_mean_365d|money}",
            lambda f: _col(f, "shop_unit_price").isna().to_numpy(),
        ),
    ),
    # ------------------------------------------------------- attitude to competitors
    _f(
        "browse_only_sessions_90d",
        "competitor_attitude",
        "recency_visits",
        "visits without buying in 90 days",
        Phrase("no visits in the last 90 days", _le("sessions_90d", 0)),
        "{browse_only_sessions_90d} of {sessions_90d|visit} in 90 days ended without buying",
    ),
    _f(
        "browse_only_session_share_90d",
        "competitor_attitude",
        "recency_visits",
        "share of visits without buying in 90 days",
        "{browse_only_sessions_90d} of {sessions_90d|visit} in 90 days ended without buying",
        "{browse_only_session_share_90d|%} of visits in 90 days ended without buying",
        absent="no visits in the last 90 days",
    ),
    _f(
        "cart_abandonment_share_90d",
        "competitor_attitude",
        "engagement",
        "share of carts abandoned in 90 days",
        "{cart_abandonment_share_90d|%} of carts abandoned in 90 days",
        absent="no carts in the last 90 days",
    ),
    # ---------------------------------------------------------- quality tolerance
    _f(
        "orders_since_last_issue",
        "quality_tolerance",
        "returns_ratings",
        "orders since the last return or complaint",
        *_since_issue(
            "no order since the last ISSUE, {days_since_last_issue|ago} ago",
            _le("orders_since_last_issue", 0),
        ),
        *_since_issue("{orders_since_last_issue|order} since the last ISSUE"),
        absent="no returns or complaints",
        absent_is_risk=False,
        strength=Phrase(
            "kept buying after a problem: {orders_since_last_issue|order} since",
            lambda f: _ge("orders_since_last_issue", 2)(f) & _material_issue(f),
        ),
    ),
    _f(
        "days_since_last_issue",
        "quality_tolerance",
        "returns_ratings",
        "days since the last return or complaint",
        *_since_issue(
            "no order since the last ISSUE, {days_since_last_issue|ago} ago",
            _le("orders_since_last_issue", 0),
        ),
        *_since_issue("last ISSUE {days_since_last_issue|ago} ago"),
        absent="no returns or complaints",
        absent_is_risk=False,
    ),
    # ---------------------------------------------------------- voiced complaints
    _f(
        "complaints_90d",
        "voiced_complaints",
        "complaints",
        "complaints in 90 days",
        _OPEN_COMPLAINT,
        # none is no reason ("no billing complaints in the last year" read as a risk)
        Phrase("{complaints_90d|complaint} in the last 90 days", _ge("complaints_90d", 1)),
    ),
    _f(
        "complaints_365d",
        "voiced_complaints",
        "complaints",
        "complaints in the last year",
        _OPEN_COMPLAINT,
        Phrase("{complaints_365d|complaint} in the last year", _ge("complaints_365d", 1)),
    ),
    _f(
        "complaints_delivery_365d",
        "voiced_complaints",
        "complaints",
        "delivery complaints in the last year",
        _OPEN_COMPLAINT,
        Phrase(
            "{complaints_delivery_365d|delivery complaint} in the last year",
            _ge("complaints_delivery_365d", 1),
        ),
    ),
    _f(
        "complaints_quality_365d",
        "voiced_complaints",
        "complaints",
        "quality complaints in the last year",
        _OPEN_COMPLAINT,
        Phrase(
            "{complaints_quality_365d|quality complaint} in the last year",
            _ge("complaints_quality_365d", 1),
        ),
    ),
    _f(
        "complaints_service_365d",
        "voiced_complaints",
        "complaints",
        "service complaints in the last year",
        _OPEN_COMPLAINT,
        Phrase(
            "{complaints_service_365d|service complaint} in the last year",
            _ge("complaints_service_365d", 1),
        ),
    ),
    _f(
        "complaints_billing_365d",
        "voiced_complaints",
        "complaints",
        "billing complaints in the last year",
        _OPEN_COMPLAINT,
        Phrase(
            "{complaints_billing_365d|billing complaint} in the last year",
            _ge("complaints_billing_365d", 1),
        ),
    ),
    _f(
        "complaints_unresolved_now",
        "voiced_complaints",
        "complaints",
        "complaints open now",
        _OPEN_COMPLAINT,
        "{complaints_unresolved_now|open complaint}",
    ),
    _f(
        "complaint_open_days_max_now",
        "voiced_complaints",
        "complaints",
        "days the oldest open complaint has been open",
        _OPEN_COMPLAINT,
        absent="no open complaint",
        absent_is_risk=False,
    ),
    _f(
        "complaint_resolve_days_mean_365d",
        "voiced_complaints",
        "complaints",
        "days taken to resolve a complaint",
        _OPEN_COMPLAINT,
        Phrase(
            "complaints took {complaint_resolve_days_mean_365d|days} to resolve",
            _gt("complaint_resolve_days_mean_365d", SLOW_RESOLUTION_DAYS),
        ),
        absent="no resolved complaint",
        absent_is_risk=False,
    ),
    _f(
        "complaints_escalated_365d",
        "voiced_complaints",
        "complaints",
        "escalated complaints in the last year",
        _OPEN_COMPLAINT,
        Phrase(
            "{complaints_escalated_365d|escalated complaint} in the last year",
            _ge("complaints_escalated_365d", 1),
        ),
    ),
    _f(
        "complaint_satisfaction_mean_365d",
        "voiced_complaints",
        "complaints",
        "satisfaction after a resolved complaint (1-5)",
        _OPEN_COMPLAINT,
        "satisfaction after the complaint {complaint_satisfaction_mean_365d|1}/5",
        absent="no resolved complaint",
        absent_is_risk=False,
        strength=Phrase(
            "a past complaint resolved to their satisfaction "
            "({complaint_satisfaction_mean_365d|1}/5)",
            _ge("complaint_satisfaction_mean_365d", 4),
        ),
    ),
    # --------------------------------------------------------- silent complaints
    _f(
        "returns_90d",
        "silent_complaints",
        "returns_ratings",
        "returns in 90 days",
        # none is no reason: it reads as good news, whatever the model makes of it
        Phrase("{returns_90d|return} in the last 90 days", _material_returns("returns_90d")),
    ),
    _f(
        "returns_365d",
        "silent_complaints",
        "returns_ratings",
        "returns in the last year",
        Phrase("{returns_365d|return} in the last year", _material_returns("returns_365d")),
    ),
    _f(
        "returned_amount_share_365d",
        "silent_complaints",
        "returns_ratings",
        "share of spend returned",
        # more than the year's spend: goods bought before it came back too
        Phrase(
            "returned more than they spent in the last year",
            _gt("returned_amount_share_365d", 1.0),
        ),
        Phrase(
            "returned {returned_amount_share_365d|%} of spend in the last year",
            _ge("returned_amount_share_365d", MATERIAL_RETURN_SHARE),
        ),
        absent="no returns in the last year",
        absent_is_risk=False,
    ),
    _f(
        "low_ratings_365d",
        "silent_complaints",
        "returns_ratings",
        "ratings of 1 or 2 stars in the last year",
        Phrase(
            "{low_ratings_365d|low rating} (1-2 stars) in the last year",
            _gt("low_ratings_365d", 0),
        ),
    ),
    _f(
        "rating_mean_365d",
        "silent_complaints",
        "returns_ratings",
        "average rating (1-5)",
        *_against_shop(
            "rates orders {rating_mean_365d|1}/5 on average",
            "rating_mean_365d",
            "1",
            verb="rate",
            above=False,
        ),
        Phrase(
            "rates orders {rating_mean_365d|1}/5 on average", _not_above_shop("rating_mean_365d")
        ),
        absent="no ratings given",
        strength=Phrase(
            "rates orders {rating_mean_365d|1}/5 on average", _ge("rating_mean_365d", 4.5)
        ),
    ),
    _f(
        "late_deliveries_without_complaint_365d",
        "silent_complaints",
        "deliveries",
        "late deliveries never complained about",
        "{late_deliveries_without_complaint_365d|late delivery/late deliveries} in the last "
        "year not complained about",
    ),
    # ---------------------------------------------------------------- fulfilment
    _f(
        "late_deliveries_90d",
        "fulfilment",
        "deliveries",
        "late deliveries in 90 days",
        "{late_deliveries_90d|late delivery/late deliveries} in the last 90 days",
    ),
    _f(
        "late_delivery_share_365d",
        "fulfilment",
        "deliveries",
        "share of deliveries late",
        "{late_delivery_share_365d|%} of deliveries late in the last year",
        absent="no delivery due in the last year",
        absent_is_risk=False,
    ),
    _f(
        "delivery_delay_mean_days_365d",
        "fulfilment",
        "deliveries",
        "average days late per delivery",
        # half a day late on average is no lateness anyone notices
        Phrase(
            "deliveries {delivery_delay_mean_days_365d|1 day} late on average",
            _ge("delivery_delay_mean_days_365d", 0.5),
        ),
        absent="no delivery due in the last year",
        absent_is_risk=False,
    ),
    # ----------------------------------------------------------------- monetary
    _f(
        "spend_30d",
        "monetary",
        "spend",
        "spend in the last 30 days",
        Phrase(
            "spent {spend_30d|money} in the last 30 days; {spend_a_month_before|money} a month "
            "before",
            lambda f: _customer_for_a_year(f) & _fell("spend_30d", "spend_a_month_before")(f),
        ),
    ),
    _f(
        "spend_90d",
        "monetary",
        "spend",
        "spend in the last 90 days",
        # "a quarter before" is the mean quarter of the nine months before, not one quarter
        Phrase(
            "spent {spend_90d|money} in the last 90 days; {spend_a_quarter_before|money} a "
            "quarter on average in the nine months before",
            lambda f: _customer_for_a_year(f) & _fell("spend_90d", "spend_a_quarter_before")(f),
        ),
    ),
    _f(
        "spend_365d",
        "monetary",
        "spend",
        "spend in the last year",
        *_against_shop(
            "spent {spend_365d|money} in the last year", "spend_365d", "money", above=False
        ),
        Phrase("spent {spend_365d|money} in the last year", _not_above_shop("spend_365d")),
    ),
    _f(
        "spend_total",
        "monetary",
        "spend",
        "spend in all",
        *_against_shop("spent {spend_total|money} in all", "spend_total", "money", above=False),
        Phrase("spent {spend_total|money} in all", _not_above_shop("spend_total")),
    ),
    _f(
        "net_spend_365d",
        "monetary",
        "spend",
        "spend in the last year after returns and cancellations",
        Phrase(
            "returned more than they bought in the last year",
            lambda f: (_col(f, "net_spend_365d") < 0).to_numpy(),
        ),
        *_against_shop(
            "spent {net_spend_365d|money} in the last year after returns",
            "net_spend_365d",
            "money",
            above=False,
        ),
        Phrase(
            "spent {net_spend_365d|money} in the last year after returns",
            _not_above_shop("net_spend_365d"),
        ),
    ),
    _f(
        "spend_trend_90d",
        "monetary",
        "spend",
        "spend trend, last 90 days against the 90 before",
        Phrase(
            "no spend in the last 90 days, after spending in the 90 before",
            _le("spend_trend_90d", -1.0),
        ),
        Phrase(
            "spent {spend_90d|money} in the last 90 days; {spend_prev_90d|money} the 90 before",
            lambda f: _customer_for(180)(f) & _fell("spend_90d", "spend_prev_90d")(f),
        ),
        absent="no spend in the last 180 days",
        strength=Phrase(
            "spending more: {spend_90d|money} in the last 90 days, {spend_prev_90d|money} "
            "the 90 before",
            # not of a customer whose first order is in the last 180 days: "0.00 the 90
            # before" was before they were a customer (reviewed: 188 of 203)
            lambda f: (
                _ge("spend_trend_90d", 0.2)(f)
                & _kept_their_spend(f)
                & _customer_for(180)(f)
                & _not_overdue(f)
            ),
        ),
    ),
    _f(
        "order_value_mean_365d",
        "monetary",
        "spend",
        "average order value",
        # not of orders mostly returned: the order they did not keep is not at stake
        *_against_shop(
            "average order {order_value_mean_365d|money}",
            "order_value_mean_365d",
            "money",
            when=_kept_their_spend,
            above=False,
        ),
        Phrase(
            "average order {order_value_mean_365d|money}",
            _not_above_shop("order_value_mean_365d", _kept_their_spend),
        ),
    ),
    _f(
        "quantity_per_order_mean_365d",
        "monetary",
        "spend",
        "items per order",
        # under one item an order is cancellations netted off, not a basket size
        *_against_shop(
            "{quantity_per_order_mean_365d|1 item} per order",
            "quantity_per_order_mean_365d",
            "1",
            verb="buy",
            when=_ge("quantity_per_order_mean_365d", 1),
        ),
        Phrase(
            "{quantity_per_order_mean_365d|1 item} per order",
            _ge("quantity_per_order_mean_365d", 1),
        ),
    ),
    _f(
        "distinct_products_365d",
        "monetary",
        "spend",
        "different products bought in the last year",
        *_against_shop(
            "{distinct_products_365d|different product} in the last year",
            "distinct_products_365d",
            "different product",
            verb="buy",
            above=False,
        ),
        Phrase(
            "{distinct_products_365d|different product} in the last year",
            _not_above_shop("distinct_products_365d"),
        ),
    ),
    # --------------------------------------------------------------- engagement
    _f(
        "sessions_30d",
        "engagement",
        "recency_visits",
        "visits in the last 30 days",
        Phrase(
            "{sessions_30d|visit} in the last 30 days; {visits_a_month_before|1} a month before",
            _fell("sessions_30d", "visits_a_month_before"),
        ),
        strength=Phrase("{sessions_30d|visit} in the last 30 days", _ge("sessions_30d", 4)),
    ),
    _f(
        "sessions_90d",
        "engagement",
        "recency_visits",
        "visits in the last 90 days",
        # many visits are no reason to leave, whatever the model makes of them (reviewed:
        # "16 visits in the last 90 days" a risk, visits a strength of 2,018 others)
        Phrase("{sessions_90d|visit} in the last 90 days", _not_above_shop("sessions_90d")),
    ),
    _f(
        "days_since_last_session",
        "engagement",
        "recency_visits",
        "days since the last visit",
        # one concept, one reason: the visit and the order rhythm said together, unless
        # the rhythm is on schedule (then a strength, said in keeps_them)
        Phrase(
            "last visit {days_since_last_session|ago} ago; last order "
            "{days_since_last_order|ago} ago, usually every {usual_gap|days}",
            lambda f: ~_on_schedule(f) & _has_a_rhythm(f),
        ),
        # one gap is no rhythm (reviewed: "usually every 101 days" beside a usual gap
        # of 26.1, the shop's, in the list's column)
        Phrase(
            "last visit {days_since_last_session|ago} ago; last order "
            "{days_since_last_order|ago} ago, {usual_gap|days} after their first",
            _two_days,
        ),
        Phrase(
            "last visit {days_since_last_session|ago} ago; {orders_total|order} so far, "
            "all on one day, {days_since_last_order|ago} ago",
            _one_day_several_orders,
        ),
        Phrase(
            "last visit {days_since_last_session|ago} ago; one order so far, "
            "{days_since_last_order|ago} ago",
            lambda f: _col(f, "usual_gap").isna().to_numpy(),  # no gap yet: one order
        ),
        "last visit {days_since_last_session|ago} ago",
        absent="no visits in the last year",
    ),
    _f(
        "channels_used_365d",
        "engagement",
        "engagement",
        "channels used (web, app, phone, store)",
        Phrase("buys through one channel only", _le("channels_used_365d", 1)),
        "buys through {channels_used_365d|channel}",
        strength=Phrase("buys through {channels_used_365d|channel}", _ge("channels_used_365d", 2)),
    ),
    # ------------------------------------------------------------- relationship
    _f(
        "tenure_days",
        "relationship",
        "tenure",
        "length of the relationship",
        *_against_shop(
            "customer for {tenure_days|duration}",
            "tenure_days",
            "duration",
            verb="for",
            when=_tenure_of_its_own,
            above=False,
        ),
        Phrase(
            "customer for {tenure_days|duration}",
            _not_above_shop("tenure_days", _tenure_of_its_own),
        ),
        strength=Phrase("customer for {tenure_days|duration}", _ge("tenure_days", 730)),
    ),
    _f(
        "first_order_age_days",
        "relationship",
        "tenure",
        "time since the first order",
        Phrase(
            "first order {first_order_age_days|duration} ago",
            _not_above_shop("first_order_age_days", _bought_on_several_days),
        ),
    ),
    _f(
        "points_balance",
        "relationship",
        "switching_costs",
        "loyalty points banked",
        # little to lose by leaving, said against what the shop's customers hold
        *_against_shop(
            "no loyalty points banked",
            "points_balance",
            "loyalty point",
            verb="hold",
            when=_le("points_balance", 0),
            above=False,
        ),
        Phrase("no loyalty points banked", _le("points_balance", 0)),
        *_against_shop(
            "only {points_balance|loyalty point} banked",
            "points_balance",
            "loyalty point",
            verb="hold",
            when=lambda f: (_col(f, "points_balance") < 100).to_numpy(),
            above=False,
        ),
        # a small balance is little to lose by leaving; a large one is a strength
        Phrase(
            "only {points_balance|loyalty point} banked",
            lambda f: (_col(f, "points_balance") < 100).to_numpy(),
        ),
        strength=Phrase("{points_balance|loyalty point} banked", _ge("points_balance", 100)),
    ),
    _f(
        "membership_tier",
        "relationship",
        "switching_costs",
        "membership tier",
        Phrase("no membership", lambda f: ~_tier_held(f)),
        "{membership_tier} member",
        strength=Phrase("{membership_tier} member", _tier_held),
    ),
    _f(
        "acquisition_channel",
        "relationship",
        CONTEXT,
        "acquisition channel",
        "{acquisition_channel}",
    ),
    _f("region", "relationship", CONTEXT, "region", "{region}"),
    _f(
        "referrals_made",
        "relationship",
        "tenure",
        "customers referred",
        # never a reason: not having referred anyone is nothing a team can act on
        strength=Phrase("referred {referrals_made|customer}", _gt("referrals_made", 0)),
    ),
)

BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOGUE}


def families() -> dict[str, str]:
    """Feature name -> family, in catalogue order."""
    return {f.name: f.family for f in CATALOGUE}


def concepts(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Feature name -> concept for the given features (unknown features are context)."""
    return {n: BY_NAME[n].concept if n in BY_NAME else CONTEXT for n in names}


def with_norms(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus the derived norms of :data:`NORMS` (a new frame)."""
    return frame.assign(**{name: fn(frame) for name, fn in NORMS.items()})


# ------------------------------------------------------------------- rendering


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def _whole(values: pd.Series) -> pd.Series:
    return values.round().astype("int64").map("{:,}".format)


def _count(values: pd.Series, nouns: str) -> pd.Series:
    one, _, many = nouns.partition("/")
    many = many or _plural(one)
    n = values.round().astype("int64")
    words = pd.Series(np.where(n == 1, one, many), index=values.index)
    numbers = n.map("{:,}".format)
    return (numbers + " " + words).where(n != 0, "no " + many)


def _decimal_count(values: pd.Series, nouns: str) -> pd.Series:
    one, _, many = nouns.partition("/")
    many = many or _plural(one)
    rounded = values.round(1)
    numbers = rounded.map("{:,.1f}".format).str.removesuffix(".0")
    words = pd.Series(np.where(rounded == 1.0, one, many), index=values.index)
    return numbers + " " + words


def _days(values: pd.Series) -> pd.Series:
    n = values.round().astype("int64")
    text = n.map("{:,}".format) + pd.Series(np.where(n == 1, " day", " days"), index=n.index)
    return text.where(values >= 0.5, "less than a day")


def _elapsed(values: pd.Series) -> pd.Series:
    n = np.floor(values).astype("int64")
    text = n.map("{:,}".format) + pd.Series(np.where(n == 1, " day", " days"), index=n.index)
    return text.where(values >= 1, "less than a day")


def _months(values: pd.Series) -> pd.Series:
    """Days as "less than a month", "1 month", "16 months" or "3 years"."""
    months = (values / 30.4375).round().astype("int64")
    years = (values / 365.25).round().astype("int64")
    text = months.map("{:,}".format) + pd.Series(
        np.where(months == 1, " month", " months"), index=values.index
    )
    return text.where(months >= 1, "less than a month").where(
        values < 730, years.map("{:,} years".format)
    )


def _duration(values: pd.Series) -> pd.Series:
    months = (values / 30.4375).round().astype("int64")
    years = (values / 365.25).round().astype("int64")
    return (
        _days(values)
        .where(values < 60, months.map("{:,} months".format))
        .where(values < 730, years.map("{:,} years".format))
    )


def _format(values: pd.Series, spec: str | None) -> pd.Series:
    if spec is None:
        if not pd.api.types.is_numeric_dtype(values):
            return values.astype(str)
        return _whole(values)
    if spec == "%":
        return (values * 100).round().astype("int64").map("{:,}%".format)
    if spec == "money":
        # with its cents, as in the lists: "average unit price 4" was 4.06
        return values.map("{:,.2f}".format)
    if spec == "1":
        # one decimal, none when it is zero: "2.8 a month", "3 a month"
        return values.round(1).map("{:,.1f}".format).str.removesuffix(".0")
    if spec.startswith("1 "):
        return _decimal_count(values, spec[2:])
    if spec == "days":
        return _days(values)
    if spec == "ago":
        return _elapsed(values)
    if spec == "duration":
        return _duration(values)
    if spec == "months":
        return _months(values)
    return _count(values, spec)


def _parse(template: str) -> list[tuple[str, str | None] | str]:
    """Literal text and ``(name, spec)`` placeholders, in order."""
    parts: list[tuple[str, str | None] | str] = []
    rest = template
    while "{" in rest:
        before, _, rest = rest.partition("{")
        inner, _, rest = rest.partition("}")
        name, _, spec = inner.partition("|")
        if before:
            parts.append(before)
        parts.append((name, spec or None))
    if rest:
        parts.append(rest)
    return parts


def placeholders(template: str) -> list[str]:
    """The feature or norm names a template refers to."""
    return [p[0] for p in _parse(template) if isinstance(p, tuple)]


def render(template: str, frame: pd.DataFrame) -> pd.Series:
    """Fill ``template`` for every row of ``frame`` (values must be present)."""
    out = pd.Series("", index=frame.index, dtype=object)
    for part in _parse(template):
        if isinstance(part, str):
            out = out + part
        else:
            name, spec = part
            out = out + _format(frame[name], spec)
    return out


def applicable(phrase: Phrase, frame: pd.DataFrame) -> np.ndarray:
    """Rows where every value the phrase names is known and its ``when`` holds."""
    ok = np.ones(len(frame), dtype=bool)
    for name in placeholders(phrase.template):
        if name not in frame:
            return np.zeros(len(frame), dtype=bool)
        ok &= frame[name].notna().to_numpy()
    if phrase.when is not None:
        ok &= np.asarray(phrase.when(frame), dtype=bool)
    return ok


def phrase_reason(feature: Feature, frame: pd.DataFrame) -> pd.Series:
    """How ``feature`` raises the risk of each row of ``frame`` (``None`` if unsayable).

    ``frame`` holds the feature values and :data:`NORMS` (see :func:`with_norms`). A
    phrase that names the feature itself skips rows where it is missing; those rows get
    the feature's absence, when an absence can be a reason.
    """
    out = pd.Series(None, index=frame.index, dtype=object)
    todo = np.ones(len(frame), dtype=bool)
    phrases = list(feature.reason)
    if feature.absent is not None and feature.absent_is_risk and feature.name in frame:
        phrases.append(Phrase(feature.absent, lambda f, n=feature.name: f[n].isna().to_numpy()))
    for phrase in phrases:
        rows = todo & applicable(phrase, frame)
        if rows.any():
            out[rows] = render(phrase.template, frame[rows]).to_numpy()
            todo &= ~rows
    return out


def sayable(feature: Feature, frame: pd.DataFrame) -> np.ndarray:
    """Rows for which :func:`phrase_reason` has something to say (no text is built)."""
    ok = np.zeros(len(frame), dtype=bool)
    for phrase in feature.reason:
        ok |= applicable(phrase, frame)
    if feature.absent is not None and feature.absent_is_risk and feature.name in frame:
        ok |= frame[feature.name].isna().to_numpy() & applicable(Phrase(feature.absent), frame)
    return ok


def is_strength(feature: Feature, frame: pd.DataFrame) -> np.ndarray:
    """Rows where the feature's value is a real strength of the relationship."""
    if feature.strength is None:
        return np.zeros(len(frame), dtype=bool)
    return applicable(feature.strength, frame)


def phrase_strength(feature: Feature, frame: pd.DataFrame) -> pd.Series:
    """The strength, said for every row of ``frame`` (all rows must be strengths)."""
    assert feature.strength is not None
    return render(feature.strength.template, frame)
