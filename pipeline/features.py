"""Point-in-time loyalty features, as Ibis expressions.

Every feature of a customer at a cutoff ``c`` is computed from events strictly before
``c``; what happened at or after ``c`` is invisible, including the *outcome* of events
that started before it (a delivery still on its way, a complaint not yet resolved, a
rating not yet given).

The work grows with the events, not with events x cutoffs:

- What does not depend on the cutoff is computed once per event (:func:`prepare_events`):
  each order's place in its customer's history (running count, spend, points, distinct
  purchase days, sums of gaps and of squared gaps), the time of the next event, how many
  orders preceded a complaint or a return.
- All-time features are read off the customer's last event before ``c``: a range join
  ``at < c <= next_at`` yields exactly that row, no aggregation over the whole past.
  The population at ``c`` needs an order in ``[c - lookback, c)``, so the last order
  before ``c`` always lies inside the lookback, and the join is bounded by it.
- Window features (30, 90, 365 days) aggregate bounded range joins: an event meets only
  the cutoffs less than a window after it.

Every aggregate is exact, so the result does not depend on how many threads run it or
in which order they combine: counts, minima and maxima; money and points as int64
units of 1/10,000; durations as int64 microseconds; squared gaps and float columns
(ratings, quantities, discount depths) as DECIMAL; one division at the end.

The expressions use only portable Ibis operations (joins, conditional aggregates,
window lag/lead and running sums, timestamp deltas) so that the same code runs on
DuckDB here and on Spark for a shop that outgrows one machine. Nothing here touches
pandas.

Feature names state their window and unit (``orders_90d``, ``delivery_delay_mean_days_365d``).
Each feature belongs to a *family*, the loyalty theory's unit of explanation: the five
behavioural measures of loyalty (repeat purchase, choice time, price sensitivity,
competitor attitude, quality tolerance), voiced and silent complaints, fulfilment,
monetary value, engagement and the relationship itself.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.types as ir

from pipeline.schema import MUTABLE_CUSTOMER_ATTRIBUTES

log = logging.getLogger(__name__)

KEY = ("customer_id", "cutoff")
DAY_US = 86_400_000_000
MINUTE_US = 60_000_000
# Money and points are summed as exact int64 counts of 1/10,000 of a unit: exact for
# every amount with up to four decimals (Online Retail has prices of 0.001).
MONEY_UNITS = 10_000
# Floats that are averaged (ratings, quantities, discount depths, unit prices) are
# summed as decimals; squared microsecond gaps as 38-digit integers.
EXACT = dtypes.Decimal(38, 18)
EXACT_INT = dtypes.Decimal(38, 0)
# Stands in for "no next event": later than any cutoff.
_FAR_FUTURE = ibis.literal(dt.datetime(9000, 1, 1))

# feature name -> family. The order here is the column order of the feature table.
FAMILIES: dict[str, str] = {
    # 1. repeat purchase
    "orders_30d": "repeat_purchase",
    "orders_90d": "repeat_purchase",
    "orders_365d": "repeat_purchase",
    "orders_total": "repeat_purchase",
    "purchase_days_total": "repeat_purchase",
    "days_since_last_order": "repeat_purchase",
    "order_gap_mean_days": "repeat_purchase",
    "order_gap_std_days": "repeat_purchase",
    "overdue_ratio": "repeat_purchase",
    "order_rate_per_30d": "repeat_purchase",
    "recency_share_of_tenure": "repeat_purchase",
    "active_months_365d": "repeat_purchase",
    # BG/NBD's posterior at the cutoff (pipeline.clv): fitted per cutoff, not in Ibis
    "bgnbd_p_alive": "repeat_purchase",
    "bgnbd_p_no_purchase": "repeat_purchase",
    "bgnbd_orders_per_30d_if_alive": "repeat_purchase",
    # seasonality: where the horizon falls in the shop's year
    "cutoff_month": "seasonality",
    "orders_same_window_last_year": "seasonality",
    "spend_same_window_last_year": "seasonality",
    # 2. choice time
    "choice_time_mean_minutes_365d": "choice_time",
    # 3. price sensitivity
    "discounted_order_share_365d": "price_sensitivity",
    "discount_depth_mean_365d": "price_sensitivity",
    "promotion_day_order_share_365d": "price_sensitivity",
    "unit_price_mean_365d": "price_sensitivity",
    # 4. attitude to competitors
    "browse_only_sessions_90d": "competitor_attitude",
    "browse_only_session_share_90d": "competitor_attitude",
    "cart_abandonment_share_90d": "competitor_attitude",
    # 5. quality tolerance
    "orders_since_last_issue": "quality_tolerance",
    "days_since_last_issue": "quality_tolerance",
    # voiced complaints (the tip of the iceberg)
    "complaints_90d": "voiced_complaints",
    "complaints_365d": "voiced_complaints",
    "complaints_delivery_365d": "voiced_complaints",
    "complaints_quality_365d": "voiced_complaints",
    "complaints_service_365d": "voiced_complaints",
    "complaints_billing_365d": "voiced_complaints",
    "complaints_unresolved_now": "voiced_complaints",
    "complaint_open_days_max_now": "voiced_complaints",
    "complaint_resolve_days_mean_365d": "voiced_complaints",
    "complaints_escalated_365d": "voiced_complaints",
    "complaint_satisfaction_mean_365d": "voiced_complaints",
    # silent complaints (the iceberg under the water)
    "returns_90d": "silent_complaints",
    "returns_365d": "silent_complaints",
    "returned_amount_share_365d": "silent_complaints",
    "low_ratings_365d": "silent_complaints",
    "rating_mean_365d": "silent_complaints",
    "late_deliveries_without_complaint_365d": "silent_complaints",
    # fulfilment
    "late_deliveries_90d": "fulfilment",
    "late_delivery_share_365d": "fulfilment",
    "delivery_delay_mean_days_365d": "fulfilment",
    # monetary
    "spend_30d": "monetary",
    "spend_90d": "monetary",
    "spend_365d": "monetary",
    "spend_total": "monetary",
    "net_spend_365d": "monetary",
    "spend_trend_90d": "monetary",
    "order_value_mean_365d": "monetary",
    "quantity_per_order_mean_365d": "monetary",
    "distinct_products_365d": "monetary",
    # engagement
    "sessions_30d": "engagement",
    "sessions_90d": "engagement",
    "days_since_last_session": "engagement",
    "channels_used_365d": "engagement",
    # relationship
    "tenure_days": "relationship",
    "first_order_age_days": "relationship",
    "points_balance": "relationship",
    "membership_tier": "relationship",
    "acquisition_channel": "relationship",
    "region": "relationship",
    "referrals_made": "relationship",
}

CATEGORICAL = ("membership_tier", "acquisition_channel", "region")
# Features computed per cutoff after the Ibis query, from its columns (pipeline.clv).
PER_CUTOFF = ("bgnbd_p_alive", "bgnbd_p_no_purchase", "bgnbd_orders_per_30d_if_alive")

# What each feature needs: (table, column) pairs that must exist and hold data.
_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "choice_time_mean_minutes_365d": (("orders", "session_id"), ("sessions", "started_at")),
    "discounted_order_share_365d": (("orders", "discount_amount"),),
    "discount_depth_mean_365d": (("orders", "discount_amount"),),
    "promotion_day_order_share_365d": (("orders", "promotion_day"),),
    "unit_price_mean_365d": (("order_lines", "unit_price"),),
    "browse_only_sessions_90d": (("sessions", "started_at"),),
    "browse_only_session_share_90d": (("sessions", "started_at"),),
    "cart_abandonment_share_90d": (("sessions", "added_to_cart"),),
    "returned_amount_share_365d": (("returns", "amount"),),
    "net_spend_365d": (("returns", "amount"),),
    "returns_90d": (("returns", "returned_at"),),
    "returns_365d": (("returns", "returned_at"),),
    "low_ratings_365d": (("orders", "rating"),),
    "rating_mean_365d": (("orders", "rating"),),
    "late_deliveries_without_complaint_365d": (
        ("orders", "promised_delivery_at"),
        ("orders", "delivered_at"),
    ),
    "late_deliveries_90d": (("orders", "promised_delivery_at"), ("orders", "delivered_at")),
    "late_delivery_share_365d": (
        ("orders", "promised_delivery_at"),
        ("orders", "delivered_at"),
    ),
    "delivery_delay_mean_days_365d": (
        ("orders", "promised_delivery_at"),
        ("orders", "delivered_at"),
    ),
    "quantity_per_order_mean_365d": (("orders", "quantity"),),
    "distinct_products_365d": (("order_lines", "product_id"),),
    "sessions_30d": (("sessions", "started_at"),),
    "sessions_90d": (("sessions", "started_at"),),
    "days_since_last_session": (("sessions", "started_at"),),
    "channels_used_365d": (("orders", "channel"),),
    "points_balance": (("orders", "points_earned"),),
    "membership_tier": (("customers", "membership_tier"),),
    "acquisition_channel": (("customers", "acquisition_channel"),),
    "region": (("customers", "region"),),
    "referrals_made": (("customers", "referred_by"),),
}
_NEEDS.update(
    {
        name: (("complaints", "opened_at"),)
        for name, family in FAMILIES.items()
        if family == "voiced_complaints"
    }
)


# Quality tolerance needs *some* quality issue to look at: a complaint or a return.
_NEEDS_ANY: dict[str, tuple[tuple[str, str], ...]] = {
    name: (("complaints", "opened_at"), ("returns", "returned_at"))
    for name, family in FAMILIES.items()
    if family == "quality_tolerance"
}


@dataclass(frozen=True)
class FeatureSet:
    """The features a shop's data supports, and why the others are missing."""

    names: tuple[str, ...]
    dropped: dict[str, str]
    # The shop records delivery times: a rating without its own timestamp is then known
    # only once the parcel arrived, never at order time.
    has_delivery_times: bool = False

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n in CATEGORICAL)


def available_features(present: Mapping[str, set[str]]) -> FeatureSet:
    """Decide which features the data supports.

    Parameters
    ----------
    present
        Table name -> the columns that exist *and hold at least one value*.

    Returns
    -------
    FeatureSet
        Supported feature names (in family order) and, for each dropped feature,
        the missing ``table.column`` that rules it out.
    """
    names: list[str] = []
    dropped: dict[str, str] = {}
    for name in FAMILIES:
        missing = [f"{t}.{c}" for t, c in _NEEDS.get(name, ()) if c not in present.get(t, ())]
        any_of = _NEEDS_ANY.get(name, ())
        if any_of and not any(c in present.get(t, ()) for t, c in any_of):
            missing.append(" or ".join(f"{t}.{c}" for t, c in any_of))
        if missing:
            dropped[name] = ", ".join(missing)
        else:
            names.append(name)
    return FeatureSet(
        names=tuple(names),
        dropped=dropped,
        has_delivery_times="delivered_at" in present.get("orders", ()),
    )


# --------------------------------------------------------------------------- arithmetic


def _us(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.IntegerValue:
    """Exact microseconds between two timestamps (int64)."""
    return later.delta(earlier, unit="microsecond")


def _days(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    # An exact integer divided once: the same double as the old epoch-seconds formula
    # for whole-second timestamps, and exact to the microsecond otherwise.
    return _us(later, earlier) / DAY_US


def to_units(value: ir.NumericValue) -> ir.IntegerValue:
    """Money (or points) as an exact int64 count of 1/10,000 of the currency unit."""
    return (value * MONEY_UNITS).round().cast("int64")


def _exact(value: ir.NumericValue) -> ir.DecimalValue:
    # Floats are summed as DECIMAL(38, 18): a sum of doubles depends on the order in
    # which threads combine their partial sums, a sum of decimals does not.
    return value.cast(EXACT)


def _mean(total: ir.NumericValue, count: ir.IntegerValue, scale: float = 1.0) -> ir.FloatingValue:
    """``total / count / scale`` as float64; NULL, not NaN, when nothing was counted."""
    mean = total.cast("float64") / count.cast("float64")
    if scale != 1.0:
        mean = mean / scale
    return ibis.ifelse(count > 0, mean, ibis.null("float64"))


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    # NULL, not 0 or inf, when there is nothing to divide by: "no orders" is not
    # "no discounted orders", and LightGBM handles missing values natively.
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null())


# -------------------------------------------------------------------- joins to cutoffs


# A cutoff table with this column holds (customer, cutoff) pairs: each customer's
# features at their own cutoffs only (the day each was contacted), instead of every
# customer at every cutoff. The joins then match on the customer too: the work is the
# customers' own events, whatever the number of distinct days.
PAIR_ID = "pair_customer_id"
# Snapshot rows the models learn from and are judged on (the features stage's training
# sample above ``train.max_rows``; every row below it).
SAMPLED = "sampled"


def _join(
    events: ir.Table, cutoffs: ir.Table, *on: ir.BooleanValue, who: ir.Value | None = None
) -> ir.Table:
    """``events`` joined to ``cutoffs`` on ``on``; for a table of pairs (:data:`PAIR_ID`)
    also on the customer (``who``, by default the events' ``customer_id``)."""
    if PAIR_ID not in cutoffs.columns:
        return events.join(cutoffs, list(on))
    who = events.customer_id if who is None else who
    return events.join(cutoffs, [who == cutoffs[PAIR_ID], *on]).drop(PAIR_ID)


def _within(events: ir.Table, cutoffs: ir.Table, time_col: str, *, days: int) -> ir.Table:
    """Each event paired with the cutoffs it precedes by at most ``days`` days.

    A bounded range join: an event meets at most ``days / every_days + 1`` cutoffs, so
    the cost grows with the events, never with events x all later cutoffs.
    """
    at = events[time_col]
    j = _join(
        events, cutoffs, at < cutoffs.cutoff, at >= cutoffs.cutoff - ibis.interval(days=days)
    )
    return j.mutate(age_days=_days(j.cutoff, j[time_col]))


def _latest(
    events: ir.Table, cutoffs: ir.Table, time_col: str, *, within_days: int | None = None
) -> ir.Table:
    """Each customer's last event before each cutoff (within ``within_days``), one row each.

    ``events`` carries ``next_at``, the time of the customer's next event (NULL for the
    last one; equal times are ordered by id, so only the last of them has a later
    ``next_at``). The last event before ``c`` is the one with ``at < c <= next_at``:
    a range join that yields exactly one row per customer and cutoff, without
    aggregating (and without an as-of join, which not every backend has).
    """
    at = events[time_col]
    until = ibis.coalesce(events.next_at, _FAR_FUTURE)
    if within_days is not None:
        limit = at + ibis.interval(days=within_days)
        until = ibis.ifelse(until > limit, limit, until)
    return _join(events, cutoffs, at < cutoffs.cutoff, cutoffs.cutoff <= until)


def _history(table: ir.Table, time_col: str, id_col: str) -> ir.Table:
    """Add ``next_at``: the time of the customer's next event (ties broken by id)."""
    w = ibis.window(group_by=table.customer_id, order_by=[table[time_col], table[id_col]])
    return table.mutate(next_at=table[time_col].lead().over(w))


# ---------------------------------------------------------------------------- orders


def _prepare_orders(tables: Mapping[str, ir.Table], fs: FeatureSet) -> ir.Table:
    """Attach to each order the facts about it that other tables hold."""
    orders = tables["orders"]
    if "choice_time_mean_minutes_365d" in fs.names:
        s = tables["sessions"].select(
            s_id=tables["sessions"].session_id, s_started=tables["sessions"].started_at
        )
        orders = orders.left_join(s, orders.session_id == s.s_id)
        orders = orders.mutate(
            choice_us=ibis.ifelse(
                orders.s_started <= orders.ordered_at,
                _us(orders.ordered_at, orders.s_started),
                ibis.null("int64"),
            )
        ).drop("s_id", "s_started")
    if "late_delivery_share_365d" in fs.names:
        if "complaints" in tables:
            c = tables["complaints"]
            first = c.filter(c.order_id.notnull()).group_by(c_order=c.order_id)
            first = first.aggregate(first_complaint_at=c.opened_at.min())
            orders = orders.left_join(first, orders.order_id == first.c_order).drop("c_order")
        else:
            orders = orders.mutate(first_complaint_at=ibis.null("timestamp"))
    if "rating_mean_365d" in fs.names:
        # Without a rating timestamp, the rating came with the delivery at the earliest.
        # A shop that records deliveries but not this one (never delivered, or after the
        # export) has a rating whose time is unknown: never usable. Only a shop with no
        # delivery data at all is taken to rate at order time.
        fallback = ibis.null("timestamp") if fs.has_delivery_times else orders.ordered_at
        orders = orders.mutate(
            rated_known_at=ibis.coalesce(orders.rated_at, orders.delivered_at, fallback)
        )
    return orders


def order_history(orders: ir.Table, fs: FeatureSet) -> ir.Table:
    """What each order adds to its customer's history, once per order.

    Nothing here depends on a cutoff: the running count, spend, points, purchase days
    and gap sums *after* each order are what a cutoff that falls between this order and
    the next one sees. Sums are exact (int64 units of money, DECIMAL(38, 0) squared
    microseconds), so they do not depend on how threads split the work.

    Returns
    -------
    ibis.Table
        The order columns the features read, plus ``prev_at``, ``next_at``, ``order_no``
        (1 for the first order), ``first_at``, ``money``, the running ``money_total``,
        ``points_total``, ``purchase_days``, ``gap_total`` and ``gap_sq_total`` (the
        gaps between purchase days) and, for the channels,
        ``prev_channel_at`` (the customer's previous order in the same channel).
    """
    w = ibis.window(group_by=orders.customer_id, order_by=[orders.ordered_at, orders.order_id])
    o = orders.mutate(
        prev_at=orders.ordered_at.lag().over(w),
        next_at=orders.ordered_at.lead().over(w),
        order_no=(ibis.row_number().over(w) + 1).cast("int64"),
        first_at=orders.ordered_at.min().over(w),
        money=to_units(orders.amount),
    )
    # Several orders on one day are one purchase occasion (BG/NBD's frequency + 1): a
    # shop that splits a visit into three invoices three minutes apart has a customer
    # who buys once, not one who "usually orders every day". The rhythm (the gaps, their
    # mean and spread) is between purchase days: the gap from the last order of the
    # previous day to the first order of a new one.
    new_day = (o.ordered_at.date() != o.prev_at.date()).fill_null(True)
    gap = ibis.ifelse(new_day, _us(o.ordered_at, o.prev_at), 0).fill_null(0).cast(EXACT_INT)
    running = ibis.cumulative_window(group_by=o.customer_id, order_by=[o.ordered_at, o.order_id])
    cols = {
        "money_total": o.money.sum().over(running).cast("int64"),
        "purchase_days": new_day.cast("int64").sum().over(running).cast("int64"),
        "gap_total": gap.sum().over(running),
        "gap_sq_total": (gap * gap).sum().over(running),
    }
    if "points_balance" in fs.names:
        points = to_units(o.points_earned.fill_null(0.0)) - to_units(
            o.points_redeemed.fill_null(0.0)
        )
        cols["points_total"] = points.sum().over(running).cast("int64")
    if "channels_used_365d" in fs.names:
        # Distinct channels in a window = orders whose previous order in the same
        # channel lies outside it: a count, not a COUNT(DISTINCT) per customer and cutoff.
        same = ibis.window(
            group_by=[o.customer_id, o.channel], order_by=[o.ordered_at, o.order_id]
        )
        cols["prev_channel_at"] = o.ordered_at.lag().over(same)
    o = o.mutate(**cols)
    keep = [
        "customer_id",
        "ordered_at",
        "amount",
        "money",
        *cols,
        "prev_at",
        "next_at",
        "order_no",
        "first_at",
        *(c for c, feature in _ORDER_COLUMNS if feature in fs.names),
    ]
    return o.select(*dict.fromkeys(keep))


# Order columns the window features read, by the feature that needs them.
_ORDER_COLUMNS = (
    ("discount_amount", "discounted_order_share_365d"),
    ("promotion_day", "promotion_day_order_share_365d"),
    ("quantity", "quantity_per_order_mean_365d"),
    ("channel", "channels_used_365d"),
    ("promised_delivery_at", "late_delivery_share_365d"),
    ("delivered_at", "late_delivery_share_365d"),
    ("first_complaint_at", "late_delivery_share_365d"),
    ("rating", "rating_mean_365d"),
    ("rated_known_at", "rating_mean_365d"),
    ("choice_us", "choice_time_mean_minutes_365d"),
)


def population(orders: ir.Table, cutoffs: ir.Table, *, lookback_days: int) -> ir.Table:
    """Customers with at least one order in ``[c - lookback_days, c)``, per cutoff.

    ``orders`` must come from :func:`order_history`. One row per customer and cutoff:
    the customer's last order before the cutoff, with its running totals.
    """
    return _latest(orders, cutoffs, "ordered_at", within_days=lookback_days)


def _running_features(last: ir.Table, fs: FeatureSet) -> ir.Table:
    """Features read off the last order before the cutoff and its running totals."""
    n_gaps = last.purchase_days - 1
    # Population variance of the gaps between purchase days from exact sums:
    # n * sum(g^2) - (sum g)^2 is an exact integer (zero for a perfectly regular buyer),
    # divided once at the end.
    spread = n_gaps.cast(EXACT_INT) * last.gap_sq_total - last.gap_total * last.gap_total
    cols: dict[str, ir.Value] = {
        "customer_id": last.customer_id,
        "cutoff": last.cutoff,
        "orders_total": last.order_no,
        "purchase_days_total": last.purchase_days,
        "days_since_last_order": _days(last.cutoff, last.ordered_at),
        "first_order_age_days": _days(last.cutoff, last.first_at),
        "order_gap_mean_days": _mean(last.gap_total, n_gaps, DAY_US),
        "order_gap_std_days": ibis.ifelse(
            n_gaps > 0,
            spread.cast("float64").sqrt() / n_gaps.cast("float64") / DAY_US,
            ibis.null("float64"),
        ),
        "spend_total": last.money_total / MONEY_UNITS,
    }
    if "points_balance" in fs.names:
        cols["points_balance"] = last.points_total / MONEY_UNITS
    return last.select(**cols)


# Window aggregates that count (0, not NULL, when the window holds no order).
_ORDER_COUNTS = (
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "orders_same_window_last_year",
    "active_months_365d",
    "discounted_orders_365d",
    "promotion_day_orders_365d",
    "channels_used_365d",
    "late_deliveries_90d",
    "late_deliveries_365d",
    "due_deliveries_365d",
    "late_deliveries_without_complaint_365d",
    "low_ratings_365d",
)


def _order_windows(
    orders: ir.Table, cutoffs: ir.Table, fs: FeatureSet, *, horizon_days: int
) -> ir.Table:
    """Features over the last 30, 90 and 365 days (and the same window a year earlier)."""
    j = _within(orders, cutoffs, "ordered_at", days=365)
    c, at = j.cutoff, j.ordered_at

    def since(days: int) -> ir.BooleanValue:  # age < days
        return at > c - ibis.interval(days=days)

    y = since(365)
    # age <= 365 and age > 365 - horizon: the same stretch of the calendar a year earlier
    same_window = at < c - ibis.interval(days=365 - horizon_days)
    prev_90 = (at <= c - ibis.interval(days=90)) & since(180)
    m: dict[str, ir.Value] = {
        "orders_30d": j.count(where=since(30)),
        "orders_90d": j.count(where=since(90)),
        "orders_365d": j.count(where=y),
        # Seasonal buyers (Christmas shoppers, yearly restockers) look lapsed at a
        # cutoff but are on schedule.
        "orders_same_window_last_year": j.count(where=same_window),
        "money_same_window_last_year": j.money.sum(where=same_window),
        "money_30d": j.money.sum(where=since(30)),
        "money_90d": j.money.sum(where=since(90)),
        "money_365d": j.money.sum(where=y),
        "money_prev_90d": j.money.sum(where=prev_90),
    }
    # Distinct months (of 30.4375 days back from c) with an order: the orders whose
    # previous order lies in another month or outside the window. A count, exact, and
    # far cheaper than a COUNT(DISTINCT) per customer and cutoff.
    month = (j.age_days / 30.4375).floor()
    prev_month = (_days(c, j.prev_at) / 30.4375).floor()
    new_month = j.prev_at.isnull() | (j.prev_at <= c - ibis.interval(days=365))
    m["active_months_365d"] = j.count(where=y & (new_month | (prev_month != month)))
    if "discounted_order_share_365d" in fs.names:
        m["discounted_orders_365d"] = j.count(where=y & (j.discount_amount > 0))
        gross = j.amount + j.discount_amount
        depth = y & (gross > 0)
        m["discount_depth_total_365d"] = _exact(j.discount_amount / gross).sum(where=depth)
        m["discount_depth_n_365d"] = j.count(where=depth)
    if "promotion_day_order_share_365d" in fs.names:
        m["promotion_day_orders_365d"] = j.count(where=y & j.promotion_day)
    if "quantity_per_order_mean_365d" in fs.names:
        m["quantity_total_365d"] = _exact(j.quantity).sum(where=y)
        m["quantity_n_365d"] = j.count(where=y & j.quantity.notnull())
    if "channels_used_365d" in fs.names:
        first_in_window = j.prev_channel_at.isnull() | (
            j.prev_channel_at <= c - ibis.interval(days=365)
        )
        m["channels_used_365d"] = j.count(where=y & j.channel.notnull() & first_in_window)
    if "late_delivery_share_365d" in fs.names:
        # Lateness is known at c only if the promised date has passed: either the
        # parcel arrived late before c, or it had not arrived by c (on its way, or never
        # delivered at all: a null delivered_at is a parcel that never came).
        due = (j.promised_delivery_at < c).fill_null(False)
        arrived = ibis.coalesce(j.delivered_at, c)
        late = due & (arrived > j.promised_delivery_at)
        delay_us = _us(ibis.least(arrived, c), j.promised_delivery_at)
        silent = late & ~(j.first_complaint_at < c).fill_null(False)
        m["late_deliveries_90d"] = j.count(where=late & since(90))
        m["late_deliveries_365d"] = j.count(where=late & y)
        m["due_deliveries_365d"] = j.count(where=due & y)
        m["delay_us_365d"] = ibis.greatest(delay_us, 0).sum(where=due & y)
        m["late_deliveries_without_complaint_365d"] = j.count(where=silent & y)
    if "rating_mean_365d" in fs.names:
        rated = (j.rated_known_at < c) & j.rating.notnull() & y
        m["low_ratings_365d"] = j.count(where=rated & (j.rating <= 2))
        m["rating_total_365d"] = _exact(j.rating).sum(where=rated)
        m["ratings_365d"] = j.count(where=rated)
    if "choice_time_mean_minutes_365d" in fs.names:
        m["choice_us_365d"] = j.choice_us.sum(where=y)
        m["choices_365d"] = j.count(where=y & j.choice_us.notnull())
    return j.group_by(list(KEY)).aggregate(**m)


def _order_features(base: ir.Table, windows: ir.Table, fs: FeatureSet) -> ir.Table:
    """Population rows with every order feature: running values and window aggregates."""
    t = _left(base, windows)
    t = t.mutate(**{n: t[n].fill_null(0) for n in _ORDER_COUNTS if n in t.columns})
    money = {n: t[n].fill_null(0) for n in t.columns if n.startswith("money_")}
    out: dict[str, ir.Value] = {
        "spend_30d": money["money_30d"] / MONEY_UNITS,
        "spend_90d": money["money_90d"] / MONEY_UNITS,
        "spend_365d": money["money_365d"] / MONEY_UNITS,
        "spend_same_window_last_year": money["money_same_window_last_year"] / MONEY_UNITS,
        "order_value_mean_365d": _mean(money["money_365d"], t.orders_365d, MONEY_UNITS),
        # A gap between purchase days can still be under a day (late one evening, early
        # the next morning): a ratio over less than a day would explode.
        # One purchase day has no gap, so no ratio: GREATEST(NULL, 1.0) is 1.0 in DuckDB, which
        # would turn a one-time buyer's recency into a ratio.
        "overdue_ratio": ibis.ifelse(
            t.order_gap_mean_days.isnull(),
            ibis.null("float64"),
            t.days_since_last_order / ibis.greatest(t.order_gap_mean_days, 1.0),
        ),
        "spend_trend_90d": _ratio(
            money["money_90d"] - money["money_prev_90d"],
            money["money_90d"] + money["money_prev_90d"],
        ),
    }
    if "discounted_order_share_365d" in fs.names:
        out["discounted_order_share_365d"] = _ratio(t.discounted_orders_365d, t.orders_365d)
        out["discount_depth_mean_365d"] = _mean(
            t.discount_depth_total_365d, t.discount_depth_n_365d.fill_null(0)
        )
    if "promotion_day_order_share_365d" in fs.names:
        out["promotion_day_order_share_365d"] = _ratio(t.promotion_day_orders_365d, t.orders_365d)
    if "quantity_per_order_mean_365d" in fs.names:
        out["quantity_per_order_mean_365d"] = _mean(
            t.quantity_total_365d, t.quantity_n_365d.fill_null(0)
        )
    if "late_delivery_share_365d" in fs.names:
        out["late_delivery_share_365d"] = _ratio(t.late_deliveries_365d, t.due_deliveries_365d)
        out["delivery_delay_mean_days_365d"] = _mean(
            t.delay_us_365d, t.due_deliveries_365d, DAY_US
        )
    if "rating_mean_365d" in fs.names:
        out["rating_mean_365d"] = _mean(t.rating_total_365d, t.ratings_365d.fill_null(0))
    if "choice_time_mean_minutes_365d" in fs.names:
        out["choice_time_mean_minutes_365d"] = _mean(
            t.choice_us_365d, t.choices_365d.fill_null(0), MINUTE_US
        )
    return t.mutate(**out)


# ---------------------------------------------------------------- the other event tables


def _session_history(sessions: ir.Table, orders: ir.Table) -> ir.Table:
    """Each session with the time it converted into an order (if ever) and the next one."""
    converted = orders.filter(orders.session_id.notnull())
    converted = converted.group_by(cs_id=converted.session_id).aggregate(
        converted_at=converted.ordered_at.min()
    )
    keep = [
        c
        for c in ("customer_id", "session_id", "started_at", "added_to_cart")
        if c in sessions.columns
    ]
    s = sessions.select(*keep)
    s = s.left_join(converted, s.session_id == converted.cs_id).drop("cs_id")
    return _history(s, "started_at", "session_id")


def _session_features(sessions: ir.Table, cutoffs: ir.Table) -> list[ir.Table]:
    j = _within(sessions, cutoffs, "started_at", days=90)
    c, at = j.cutoff, j.started_at
    # A session turns into "browse only" only from the cutoff's point of view: one
    # that converted after c was still browsing at c.
    bought = (j.converted_at < c).fill_null(False)
    m = {
        "sessions_30d": j.count(where=at > c - ibis.interval(days=30)),
        "sessions_90d": j.count(),
        "browse_only_sessions_90d": j.count(where=~bought),
    }
    if "added_to_cart" in sessions.columns:
        cart = j.added_to_cart.fill_null(False)
        m["carts_90d"] = j.count(where=cart)
        m["carts_abandoned_90d"] = j.count(where=cart & ~bought)
    a = j.group_by(list(KEY)).aggregate(**m)
    out = {"browse_only_session_share_90d": _ratio(a.browse_only_sessions_90d, a.sessions_90d)}
    if "added_to_cart" in sessions.columns:
        out["cart_abandonment_share_90d"] = _ratio(a.carts_abandoned_90d, a.carts_90d)
    last = _latest(sessions, cutoffs, "started_at", within_days=365)
    last = last.select(*KEY, days_since_last_session=_days(last.cutoff, last.started_at))
    return [a.mutate(**out), last]


def _orders_before(events: ir.Table, time_col: str, orders: ir.Table) -> ir.Table:
    """Add ``orders_upto``: how many of the customer's orders came at or before the event.

    ``orders`` from :func:`order_history`: the order with ``ordered_at <= at < next_at``
    is the customer's last one by the event, and its ``order_no`` is the count.
    """
    o = orders.select(
        u_cid=orders.customer_id,
        u_at=orders.ordered_at,
        u_next=orders.next_at,
        u_no=orders.order_no,
    )
    at = events[time_col]
    j = events.left_join(
        o, [events.customer_id == o.u_cid, o.u_at <= at, o.u_next.isnull() | (o.u_next > at)]
    )
    return j.mutate(orders_upto=j.u_no.fill_null(0)).drop("u_cid", "u_at", "u_next", "u_no")


def _complaint_features(complaints: ir.Table, cutoffs: ir.Table) -> list[ir.Table]:
    j = _within(complaints, cutoffs, "opened_at", days=365)
    c = j.cutoff
    y = j.opened_at > c - ibis.interval(days=365)
    # Resolution, escalation and satisfaction are outcomes: known only once the
    # complaint was resolved before c (escalations carry no timestamp of their own).
    resolved = (j.resolved_at < c).fill_null(False) & y
    m = {
        "complaints_90d": j.count(where=j.opened_at > c - ibis.interval(days=90)),
        "complaints_365d": j.count(where=y),
        "resolve_us_365d": _us(j.resolved_at, j.opened_at).sum(where=resolved),
        "resolved_365d": j.count(where=resolved),
        "complaints_escalated_365d": j.count(where=resolved & j.escalated.fill_null(False)),
        "satisfaction_total_365d": _exact(j.satisfaction_after).sum(where=resolved),
        "satisfaction_n_365d": j.count(where=resolved & j.satisfaction_after.notnull()),
    }
    for cat in ("delivery", "quality", "service", "billing"):
        m[f"complaints_{cat}_365d"] = j.count(where=y & (j.category == cat))
    recent = j.group_by(list(KEY)).aggregate(**m)
    recent = recent.mutate(
        complaint_resolve_days_mean_365d=_mean(
            recent.resolve_us_365d, recent.resolved_365d, DAY_US
        ),
        complaint_satisfaction_mean_365d=_mean(
            recent.satisfaction_total_365d, recent.satisfaction_n_365d
        ),
    )

    # Open at c: opened before it and not resolved before it. The join is bounded by how
    # long a complaint stays open (one never resolved is open at every later cutoff).
    still = _join(
        complaints,
        cutoffs,
        complaints.opened_at < cutoffs.cutoff,
        ibis.coalesce(complaints.resolved_at, _FAR_FUTURE) >= cutoffs.cutoff,
    )
    still = still.group_by(list(KEY)).aggregate(
        complaints_unresolved_now=still.count(), oldest_open_at=still.opened_at.min()
    )
    still = still.mutate(complaint_open_days_max_now=_days(still.cutoff, still.oldest_open_at))

    # The latest complaint ever, and how many orders the customer had placed by then.
    last = _latest(complaints, cutoffs, "opened_at")
    last = last.select(
        *KEY,
        last_complaint_age_days=_days(last.cutoff, last.opened_at),
        orders_upto_complaint=last.orders_upto,
    )
    return [recent, still, last]


def _return_features(returns: ir.Table, cutoffs: ir.Table) -> list[ir.Table]:
    j = _within(returns, cutoffs, "returned_at", days=365)
    a = j.group_by(list(KEY)).aggregate(
        returns_90d=j.count(where=j.returned_at > j.cutoff - ibis.interval(days=90)),
        returns_365d=j.count(),
        returned_money_365d=j.money.sum(),
        last_return_at=j.returned_at.max(),
        # Orders only accumulate: the latest return has the most orders before it.
        orders_upto_return=j.orders_upto.max(),
    )
    return [a.mutate(last_return_age_days=_days(a.cutoff, a.last_return_at))]


def _line_features(lines: ir.Table, cutoffs: ir.Table) -> list[ir.Table]:
    j = _within(lines, cutoffs, "ordered_at", days=365)
    a = j.group_by(list(KEY)).aggregate(
        distinct_products_365d=j.product_id.nunique(),
        unit_price_total_365d=_exact(j.unit_price).sum(),
        unit_prices_365d=j.count(where=j.unit_price.notnull()),
    )
    return [a.mutate(unit_price_mean_365d=_mean(a.unit_price_total_365d, a.unit_prices_365d))]


def _customer_features(customers: ir.Table, base: ir.Table, fs: FeatureSet) -> ir.Table:
    cu = customers.rename(c_customer_id="customer_id")
    j = base.select(*KEY).join(cu, base.customer_id == cu.c_customer_id)
    cols: dict[str, ir.Value] = {
        "customer_id": j.customer_id,
        "cutoff": j.cutoff,
        # Signing up after c (data entry quirks) must not leak: tenure is only known
        # from a signup before c.
        "signup_age_days": ibis.ifelse(
            j.signup_at < j.cutoff, _days(j.cutoff, j.signup_at), ibis.null()
        ),
    }
    # A tier or region exported today is a fact as of its observation, not of every
    # earlier cutoff: before it was observed the value is unknown.
    observed = (j.attributes_observed_at < j.cutoff).fill_null(False)
    for name in CATEGORICAL:
        if name in fs.names:
            static = name not in MUTABLE_CUSTOMER_ATTRIBUTES
            cols[name] = j[name] if static else ibis.ifelse(observed, j[name], ibis.null())
    return j.select(**cols)


def _referral_features(customers: ir.Table, cutoffs: ir.Table) -> ir.Table:
    # A customer is referred once: few enough rows to pair each with every later cutoff.
    r = customers.filter(customers.referred_by.notnull())
    rj = _join(r, cutoffs, r.signup_at < cutoffs.cutoff, who=r.referred_by)
    return rj.group_by(customer_id=rj.referred_by, cutoff=rj.cutoff).aggregate(
        referrals_made=rj.count()
    )


def _left(base: ir.Table, other: ir.Table) -> ir.Table:
    o = other.rename(o_customer_id="customer_id", o_cutoff="cutoff")
    j = base.left_join(o, [base.customer_id == o.o_customer_id, base.cutoff == o.o_cutoff])
    return j.drop("o_customer_id", "o_cutoff")


# ------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Events:
    """The event tables with everything that does not depend on a cutoff, once per event.

    ``orders`` comes from :func:`order_history`; ``sessions`` carries ``converted_at``
    and ``next_at``; ``complaints`` carries ``next_at`` and ``orders_upto``; ``returns``
    carries ``money`` and ``orders_upto``. A table the shop does not have (or whose
    features are all dropped) is None.
    """

    orders: ir.Table
    customers: ir.Table | None = None
    sessions: ir.Table | None = None
    complaints: ir.Table | None = None
    returns: ir.Table | None = None
    order_lines: ir.Table | None = None


def _as_is(name: str, table: ir.Table) -> ir.Table:
    return table


def prepare_events(
    tables: Mapping[str, ir.Table],
    fs: FeatureSet,
    *,
    keep: Callable[[str, ir.Table], ir.Table] = _as_is,
) -> Events:
    """The per-event half of the features: everything a cutoff does not change.

    Parameters
    ----------
    tables
        Canonical tables as Ibis tables (``orders`` required; others optional).
    fs
        The features to compute, from :func:`available_features`.
    keep
        Called as ``keep(name, table)`` on each table as soon as it is defined; what it
        returns is used from then on. The stage passes a function that computes the
        table once and stores it, so that later tables (and every batch of cutoffs)
        read the stored result instead of recomputing it.

    Returns
    -------
    Events
    """
    orders = keep("orders", order_history(_prepare_orders(tables, fs), fs))
    events: dict[str, ir.Table] = {"orders": orders}
    if "customers" in tables:
        events["customers"] = tables["customers"]
    if "sessions" in tables and "sessions_90d" in fs.names:
        events["sessions"] = keep(
            "sessions", _session_history(tables["sessions"], tables["orders"])
        )
    if "complaints" in tables and "complaints_365d" in fs.names:
        complaints = _history(tables["complaints"], "opened_at", "complaint_id")
        events["complaints"] = keep("complaints", _orders_before(complaints, "opened_at", orders))
    if "returns" in tables and "returns_365d" in fs.names:
        returns = tables["returns"].mutate(money=to_units(tables["returns"].amount))
        events["returns"] = keep("returns", _orders_before(returns, "returned_at", orders))
    if "order_lines" in tables and "distinct_products_365d" in fs.names:
        events["order_lines"] = tables["order_lines"]
    return Events(**events)


def build_features(
    tables: Mapping[str, ir.Table],
    cutoffs: ir.Table,
    fs: FeatureSet,
    *,
    lookback_days: int,
    horizon_days: int,
) -> ir.Table:
    """Loyalty features for every customer of the population at every cutoff.

    Parameters
    ----------
    tables
        Canonical tables as Ibis tables (``orders`` required; others optional).
    cutoffs
        One-column table ``cutoff`` (timestamps).
    fs
        The features to compute, from :func:`available_features`.
    lookback_days
        The population at ``c``: customers with an order in ``[c - lookback_days, c)``.
    horizon_days
        The churn horizon; sets the "same window last year" feature.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``cutoff``, then ``fs.names`` in order, except the
        :data:`PER_CUTOFF` features, which ``pipeline.clv`` adds per cutoff; one row per
        customer of the population at each cutoff, in no particular order.
    """
    return features_at(
        prepare_events(tables, fs),
        cutoffs,
        fs,
        lookback_days=lookback_days,
        horizon_days=horizon_days,
    )


def features_at(
    events: Events,
    cutoffs: ir.Table,
    fs: FeatureSet,
    *,
    lookback_days: int,
    horizon_days: int,
) -> ir.Table:
    """The per-cutoff half of :func:`build_features`, from :func:`prepare_events`.

    The features stage prepares the events once and calls this for one batch of
    cutoffs at a time.
    """
    last = population(events.orders, cutoffs, lookback_days=lookback_days)
    base = _running_features(last, fs)
    # The horizon's place in the calendar: churn in a window that covers the peak
    # season is rarer than in one that does not, whatever the customer did.
    base = base.mutate(cutoff_month=base.cutoff.month())
    windows = _order_windows(events.orders, cutoffs, fs, horizon_days=horizon_days)
    t = _order_features(base, windows, fs)
    if events.customers is not None:
        t = _left(t, _customer_features(events.customers, base, fs))
        if "referrals_made" in fs.names:
            t = _left(t, _referral_features(events.customers, cutoffs))
            t = t.mutate(referrals_made=t.referrals_made.fill_null(0))
    else:
        t = t.mutate(signup_age_days=ibis.null("float64"))
    # Tenure: from signup if the shop knows it, else from the first order we see.
    t = t.mutate(tenure_days=ibis.greatest(t.first_order_age_days, t.signup_age_days.fill_null(0)))
    # Purchase rate over the whole observed relationship, and how much of it has
    # passed in silence: the two quantities a BG/NBD model is built from.
    observed = ibis.greatest(t.first_order_age_days, 30.0)
    t = t.mutate(
        order_rate_per_30d=t.orders_total * 30.0 / observed,
        recency_share_of_tenure=t.days_since_last_order / observed,
    )

    issue_ages, issue_orders = [], []
    if events.sessions is not None:
        for part in _session_features(events.sessions, cutoffs):
            t = _left(t, part)
    if events.complaints is not None:
        for part in _complaint_features(events.complaints, cutoffs):
            t = _left(t, part)
        issue_ages.append(t.last_complaint_age_days)
        issue_orders.append(t.orders_upto_complaint)
    if events.returns is not None:
        for part in _return_features(events.returns, cutoffs):
            t = _left(t, part)
        spent = t.money_365d.fill_null(0)
        t = t.mutate(
            returned_amount_share_365d=_ratio(t.returned_money_365d, spent),
            # What the customer really spent: cancellations and returns taken off.
            net_spend_365d=(spent - t.returned_money_365d.fill_null(0)) / MONEY_UNITS,
        )
        issue_ages.append(t.last_return_age_days)
        issue_orders.append(t.orders_upto_return)
    if events.order_lines is not None:
        for part in _line_features(events.order_lines, cutoffs):
            t = _left(t, part)

    if issue_ages:
        if len(issue_ages) == 1:
            last_issue, upto = issue_ages[0], issue_orders[0]
        else:
            # GREATEST/LEAST skip NULLs (DuckDB and Spark alike): the latest issue of either kind.
            last_issue, upto = ibis.least(*issue_ages), ibis.greatest(*issue_orders)
        # Quality tolerance: how many orders followed the latest return or complaint.
        # A float, NULL when there was no issue yet (not 0: no issue is not "no orders since").
        t = t.mutate(
            days_since_last_issue=last_issue,
            orders_since_last_issue=ibis.ifelse(
                last_issue.isnull(), ibis.null("float64"), (t.orders_total - upto).cast("float64")
            ),
        )
    counts = [n for n in fs.names if _is_count(n)]
    t = t.mutate(**{n: t[n].fill_null(0) for n in counts if n in t.columns})
    names = [n for n in fs.names if n not in PER_CUTOFF]
    missing = [n for n in names if n not in t.columns]
    if missing:
        raise RuntimeError(f"features declared but not computed: {missing}")
    return t.select(*KEY, *names)


def _is_count(name: str) -> bool:
    return name.startswith(
        (
            "orders_",
            "complaints_",
            "returns_",
            "sessions_",
            "browse_only_sessions",
            "late_deliveries",
            "low_ratings",
            "spend_",
            "referrals_",
        )
    ) and name not in ("orders_since_last_issue", "spend_trend_90d")
