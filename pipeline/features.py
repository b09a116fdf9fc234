"""Point-in-time loyalty features, as Ibis expressions.

Every feature of a customer at a cutoff ``c`` is computed from events strictly before
``c``; what happened at or after ``c`` is invisible, including the *outcome* of events
that started before it (a delivery still on its way, a complaint not yet resolved, a
rating not yet given). All cutoffs are computed in one query: events are range-joined
to the cutoff table, so one expression serves every snapshot and the scoring date.

The expressions use only portable Ibis operations (joins, conditional aggregates,
window lag, epoch arithmetic) so that the same code runs on DuckDB here and on Spark
for a shop that outgrows one machine. Nothing here touches pandas.

Feature names state their window and unit (``orders_90d``, ``delivery_delay_mean_days_365d``).
Each feature belongs to a *family*, the loyalty theory's unit of explanation: the five
behavioural measures of loyalty (repeat purchase, choice time, price sensitivity,
competitor attitude, quality tolerance), voiced and silent complaints, fulfilment,
monetary value, engagement and the relationship itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from pipeline.schema import MUTABLE_CUSTOMER_ATTRIBUTES

log = logging.getLogger(__name__)

DAY_SECONDS = 86_400.0
KEY = ("customer_id", "cutoff")

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


def _days(later: ir.Value, earlier: ir.Value) -> ir.FloatingValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()) / DAY_SECONDS


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    # NULL, not 0 or inf, when there is nothing to divide by: "no orders" is not
    # "no discounted orders", and LightGBM handles missing values natively.
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null())


def _join_cutoffs(
    events: ir.Table, cutoffs: ir.Table, time_col: str, *, within_days: int | None = None
) -> ir.Table:
    """Pair each event with every cutoff it precedes (optionally only the recent ones)."""
    preds = [events[time_col] < cutoffs.cutoff]
    if within_days is not None:
        preds.append(events[time_col] >= cutoffs.cutoff - ibis.interval(days=within_days))
    j = events.join(cutoffs, preds)
    return j.mutate(age_days=_days(j.cutoff, j[time_col]))


def population(orders: ir.Table, cutoffs: ir.Table, *, lookback_days: int) -> ir.Table:
    """Customers with at least one order in ``[c - lookback_days, c)``, per cutoff."""
    j = _join_cutoffs(orders, cutoffs, "ordered_at", within_days=lookback_days)
    return j.select("customer_id", "cutoff").distinct()


def _order_features(
    orders: ir.Table, cutoffs: ir.Table, fs: FeatureSet, *, horizon_days: int
) -> ir.Table:
    j = _join_cutoffs(orders, cutoffs, "ordered_at")
    w = ibis.window(group_by=[j.customer_id, j.cutoff], order_by=[j.ordered_at, j.order_id])
    j = j.mutate(gap_days=_days(j.ordered_at, j.ordered_at.lag().over(w)))
    y = j.age_days < 365
    same_window = (j.age_days <= 365) & (j.age_days > 365 - horizon_days)
    m: dict[str, ir.Value] = {
        "orders_30d": j.count(where=j.age_days < 30),
        "orders_90d": j.count(where=j.age_days < 90),
        "orders_365d": j.count(where=y),
        "orders_total": j.count(),
        # Distinct purchase days: BG/NBD's frequency + 1 (several orders on a day are
        # one purchase occasion).
        "purchase_days_total": j.ordered_at.date().nunique(),
        # The same stretch of the calendar a year earlier: seasonal buyers (Christmas
        # shoppers, yearly restockers) look lapsed at a cutoff but are on schedule.
        "orders_same_window_last_year": j.count(where=same_window),
        "spend_same_window_last_year": j.amount.sum(where=same_window),
        "active_months_365d": (j.age_days / 30.4375).floor().nunique(where=y),
        "days_since_last_order": j.age_days.min(),
        "order_gap_mean_days": j.gap_days.mean(),
        "order_gap_std_days": j.gap_days.std(how="pop"),
        "spend_30d": j.amount.sum(where=j.age_days < 30),
        "spend_90d": j.amount.sum(where=j.age_days < 90),
        "spend_365d": j.amount.sum(where=y),
        "spend_total": j.amount.sum(),
        "spend_prev_90d": j.amount.sum(where=(j.age_days >= 90) & (j.age_days < 180)),
        "order_value_mean_365d": j.amount.mean(where=y),
        "first_order_age_days": j.age_days.max(),
    }
    if "discounted_order_share_365d" in fs.names:
        m["discounted_orders_365d"] = j.count(where=y & (j.discount_amount > 0))
        depth = j.discount_amount / (j.amount + j.discount_amount)
        m["discount_depth_mean_365d"] = depth.mean(where=y & (j.amount + j.discount_amount > 0))
    if "promotion_day_order_share_365d" in fs.names:
        m["promotion_day_orders_365d"] = j.count(where=y & j.promotion_day)
    if "quantity_per_order_mean_365d" in fs.names:
        m["quantity_per_order_mean_365d"] = j.quantity.mean(where=y)
    if "channels_used_365d" in fs.names:
        m["channels_used_365d"] = j.channel.nunique(where=y)
    if "points_balance" in fs.names:
        m["points_balance"] = (
            j.points_earned.fill_null(0.0) - j.points_redeemed.fill_null(0.0)
        ).sum()
    if "late_delivery_share_365d" in fs.names:
        # Lateness is known at c only if the promised date has passed: either the
        # parcel arrived late before c, or it had not arrived by c (on its way, or never
        # delivered at all: a null delivered_at is a parcel that never came).
        due = (j.promised_delivery_at < j.cutoff).fill_null(False)
        arrived = ibis.coalesce(j.delivered_at, j.cutoff)
        late = due & (arrived > j.promised_delivery_at)
        delay = _days(ibis.least(arrived, j.cutoff), j.promised_delivery_at)
        silent = late & ~(j.first_complaint_at < j.cutoff).fill_null(False)
        m["late_deliveries_90d"] = j.count(where=late & (j.age_days < 90))
        m["late_deliveries_365d"] = j.count(where=late & y)
        m["due_deliveries_365d"] = j.count(where=due & y)
        m["delivery_delay_mean_days_365d"] = ibis.greatest(delay, 0.0).mean(where=due & y)
        m["late_deliveries_without_complaint_365d"] = j.count(where=silent & y)
    if "rating_mean_365d" in fs.names:
        rated = (j.rated_known_at < j.cutoff) & j.rating.notnull() & y
        m["low_ratings_365d"] = j.count(where=rated & (j.rating <= 2))
        m["rating_mean_365d"] = j.rating.mean(where=rated)
    if "choice_time_mean_minutes_365d" in fs.names:
        m["choice_time_mean_minutes_365d"] = j.choice_minutes.mean(where=y)
    a = j.group_by(list(KEY)).aggregate(**m)

    out = {
        "order_gap_std_days": a.order_gap_std_days,
        # Gaps under a day (two invoices in one visit) would make the ratio explode.
        # One order has no gap, so no ratio: GREATEST(NULL, 1.0) is 1.0 in DuckDB, which
        # would turn a one-time buyer's recency into a ratio.
        "overdue_ratio": ibis.ifelse(
            a.order_gap_mean_days.isnull(),
            ibis.null("float64"),
            a.days_since_last_order / ibis.greatest(a.order_gap_mean_days, 1.0),
        ),
        "spend_trend_90d": ibis.ifelse(
            a.spend_90d.fill_null(0) + a.spend_prev_90d.fill_null(0) > 0,
            (a.spend_90d.fill_null(0) - a.spend_prev_90d.fill_null(0))
            / (a.spend_90d.fill_null(0) + a.spend_prev_90d.fill_null(0)),
            ibis.null(),
        ),
    }
    if "discounted_order_share_365d" in fs.names:
        out["discounted_order_share_365d"] = _ratio(a.discounted_orders_365d, a.orders_365d)
    if "promotion_day_order_share_365d" in fs.names:
        out["promotion_day_order_share_365d"] = _ratio(a.promotion_day_orders_365d, a.orders_365d)
    if "late_delivery_share_365d" in fs.names:
        out["late_delivery_share_365d"] = _ratio(a.late_deliveries_365d, a.due_deliveries_365d)
    return a.mutate(**out)


def _prepare_orders(tables: Mapping[str, ir.Table], fs: FeatureSet) -> ir.Table:
    """Attach to each order the facts about it that other tables hold."""
    orders = tables["orders"]
    if "choice_time_mean_minutes_365d" in fs.names:
        s = tables["sessions"].select(
            s_id=tables["sessions"].session_id, s_started=tables["sessions"].started_at
        )
        orders = orders.left_join(s, orders.session_id == s.s_id)
        minutes = (orders.ordered_at.epoch_seconds() - orders.s_started.epoch_seconds()) / 60.0
        orders = orders.mutate(
            choice_minutes=ibis.ifelse(orders.s_started <= orders.ordered_at, minutes, None)
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


def _session_features(sessions: ir.Table, orders: ir.Table, cutoffs: ir.Table) -> ir.Table:
    converted = orders.filter(orders.session_id.notnull())
    converted = converted.group_by(cs_id=converted.session_id).aggregate(
        converted_at=converted.ordered_at.min()
    )
    s = sessions.left_join(converted, sessions.session_id == converted.cs_id).drop("cs_id")
    j = _join_cutoffs(s, cutoffs, "started_at", within_days=365)
    # A session turns into "browse only" only from the cutoff's point of view: one
    # that converted after c was still browsing at c.
    bought = (j.converted_at < j.cutoff).fill_null(False)
    recent = j.age_days < 90
    m = {
        "sessions_30d": j.count(where=j.age_days < 30),
        "sessions_90d": j.count(where=recent),
        "days_since_last_session": j.age_days.min(),
        "browse_only_sessions_90d": j.count(where=recent & ~bought),
    }
    if "added_to_cart" in sessions.columns:
        m["carts_90d"] = j.count(where=recent & j.added_to_cart.fill_null(False))
        m["carts_abandoned_90d"] = j.count(
            where=recent & j.added_to_cart.fill_null(False) & ~bought
        )
    a = j.group_by(list(KEY)).aggregate(**m)
    out = {"browse_only_session_share_90d": _ratio(a.browse_only_sessions_90d, a.sessions_90d)}
    if "added_to_cart" in sessions.columns:
        out["cart_abandonment_share_90d"] = _ratio(a.carts_abandoned_90d, a.carts_90d)
    return a.mutate(**out)


def _complaint_features(complaints: ir.Table, cutoffs: ir.Table) -> ir.Table:
    j = _join_cutoffs(complaints, cutoffs, "opened_at")
    y = j.age_days < 365
    # Resolution, escalation and satisfaction are outcomes: known only once the
    # complaint was resolved before c (escalations carry no timestamp of their own).
    resolved = (j.resolved_at < j.cutoff).fill_null(False)
    m = {
        "complaints_90d": j.count(where=j.age_days < 90),
        "complaints_365d": j.count(where=y),
        "complaints_unresolved_now": j.count(where=~resolved),
        "complaint_open_days_max_now": j.age_days.max(where=~resolved),
        "complaint_resolve_days_mean_365d": _days(j.resolved_at, j.opened_at).mean(
            where=resolved & y
        ),
        "complaints_escalated_365d": j.count(where=resolved & y & j.escalated.fill_null(False)),
        "complaint_satisfaction_mean_365d": j.satisfaction_after.mean(where=resolved & y),
        "last_complaint_age_days": j.age_days.min(),
    }
    for cat in ("delivery", "quality", "service", "billing"):
        m[f"complaints_{cat}_365d"] = j.count(where=y & (j.category == cat))
    return j.group_by(list(KEY)).aggregate(**m)


def _return_features(returns: ir.Table, cutoffs: ir.Table) -> ir.Table:
    j = _join_cutoffs(returns, cutoffs, "returned_at", within_days=365)
    return j.group_by(list(KEY)).aggregate(
        returns_90d=j.count(where=j.age_days < 90),
        returns_365d=j.count(),
        returned_amount_365d=j.amount.sum(),
        last_return_age_days=j.age_days.min(),
    )


def _line_features(lines: ir.Table, cutoffs: ir.Table) -> ir.Table:
    j = _join_cutoffs(lines, cutoffs, "ordered_at", within_days=365)
    return j.group_by(list(KEY)).aggregate(
        distinct_products_365d=j.product_id.nunique(),
        unit_price_mean_365d=j.unit_price.mean(),
    )


def _customer_features(customers: ir.Table, cutoffs: ir.Table, fs: FeatureSet) -> ir.Table:
    j = customers.cross_join(cutoffs)
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
    out = j.select(**cols)
    if "referrals_made" in fs.names:
        r = customers.filter(customers.referred_by.notnull())
        rj = r.join(cutoffs, r.signup_at < cutoffs.cutoff)
        refs = rj.group_by(ref_id=rj.referred_by, ref_cutoff=rj.cutoff).aggregate(
            referrals_made=rj.count()
        )
        out = out.left_join(
            refs, [out.customer_id == refs.ref_id, out.cutoff == refs.ref_cutoff]
        ).drop("ref_id", "ref_cutoff")
        out = out.mutate(referrals_made=out.referrals_made.fill_null(0))
    return out


def _left(base: ir.Table, other: ir.Table) -> ir.Table:
    o = other.rename(o_customer_id="customer_id", o_cutoff="cutoff")
    j = base.left_join(o, [base.customer_id == o.o_customer_id, base.cutoff == o.o_cutoff])
    return j.drop("o_customer_id", "o_cutoff")


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
        :data:`PER_CUTOFF` features, which ``pipeline.clv`` adds per cutoff.
    """
    orders = _prepare_orders(tables, fs)
    base = population(orders, cutoffs, lookback_days=lookback_days)
    # The horizon's place in the calendar: churn in a window that covers the peak
    # season is rarer than in one that does not, whatever the customer did.
    base = base.mutate(cutoff_month=base.cutoff.month())
    t = _left(base, _order_features(orders, cutoffs, fs, horizon_days=horizon_days))
    if "customers" in tables:
        t = _left(t, _customer_features(tables["customers"], cutoffs, fs))
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

    issue_ages = []
    if "sessions" in tables and "sessions_90d" in fs.names:
        t = _left(t, _session_features(tables["sessions"], orders, cutoffs))
    if "complaints" in tables and "complaints_365d" in fs.names:
        t = _left(t, _complaint_features(tables["complaints"], cutoffs))
        issue_ages.append(t.last_complaint_age_days)
    if "returns" in tables and "returns_365d" in fs.names:
        t = _left(t, _return_features(tables["returns"], cutoffs))
        t = t.mutate(
            returned_amount_share_365d=_ratio(t.returned_amount_365d, t.spend_365d.fill_null(0)),
            # What the customer really spent: cancellations and returns taken off.
            net_spend_365d=t.spend_365d.fill_null(0) - t.returned_amount_365d.fill_null(0),
        )
        issue_ages.append(t.last_return_age_days)
    if "order_lines" in tables and "distinct_products_365d" in fs.names:
        t = _left(t, _line_features(tables["order_lines"], cutoffs))

    if issue_ages:
        last_issue = issue_ages[0] if len(issue_ages) == 1 else ibis.least(*issue_ages)
        t = t.mutate(days_since_last_issue=last_issue)
        t = _left(t, _orders_since_issue(orders, t.select(*KEY, "days_since_last_issue")))
    counts = [n for n in fs.names if _is_count(n)]
    t = t.mutate(**{n: t[n].fill_null(0) for n in counts if n in t.columns})
    names = [n for n in fs.names if n not in PER_CUTOFF]
    missing = [n for n in names if n not in t.columns]
    if missing:
        raise RuntimeError(f"features declared but not computed: {missing}")
    return t.select(*KEY, *names)


def _orders_since_issue(orders: ir.Table, issues: ir.Table) -> ir.Table:
    """How many orders followed the latest return or complaint (quality tolerance)."""
    i = issues.filter(issues.days_since_last_issue.notnull())
    seconds = (i.days_since_last_issue * DAY_SECONDS).cast("int64")
    i = i.mutate(issue_at=i.cutoff - seconds.as_interval("s"))
    o = orders.select(o_cid=orders.customer_id, o_at=orders.ordered_at)
    j = i.left_join(o, i.customer_id == o.o_cid)
    after = (j.o_at > j.issue_at) & (j.o_at < j.cutoff)
    return j.group_by(list(KEY)).aggregate(orders_since_last_issue=j.count(where=after))


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
