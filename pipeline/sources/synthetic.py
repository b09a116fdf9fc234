"""A seeded, vectorised simulator of an online shop whose customers follow the loyalty theory.

The generative story (see ``LOYALTY.md`` for the theory it makes concrete)
--------------------------------------------------------------------------
1. **Who arrives.** About 45% of customers already exist when the data window opens
   (``signup_at`` up to three years earlier); the rest sign up uniformly across the
   window, so every relationship stage is present. A customer arrives through an
   acquisition channel, and the channel shapes who they are: referrals bring mostly
   premium (truly attached) customers, discount ads bring incentive and price hunters.
2. **Who they are.** Each customer has a latent loyalty type (the seven types of
   ``schema.LOYALTY_TYPES``), an attachment on the 1-7 scale (high only for premium), a
   purchase rate, a promotion dependence, a price sensitivity, a time spent choosing, a
   browsing rate, a propensity to use several channels and a static membership tier
   (a switching cost). Some new sign-ups only ever browse (suspicion / expectation).
   Referral customers point (``referred_by``) at an earlier, still active customer,
   mostly a premium one: the advocate stage.
3. **What they do, week by week.** Orders are Poisson per customer-week and are placed on
   days weighted by a promotion calendar (spring sale, 618, Double 11, Double 12) and a
   November-December peak: incentive customers buy mostly on promotion days, price
   customers wait for discounts and use coupons. Every order comes from a session that
   starts before it by the customer's choice time (short for premium, inertia and
   convenience; long for price customers, who compare). Browse-only sessions come on
   top, more of them for price customers and for customers who are drifting away.
4. **What goes wrong.** Deliveries are late with a small probability that rises with
   logistics backlogs and with a weekly carrier shock; 3% of customers are unlucky and
   suffer late deliveries again and again. Some orders have quality problems (returns
   follow) or a service/billing incident. Only a minority of these bad experiences are
   voiced as complaints (the iceberg); the rest show only as returns, low ratings and
   buying less. Complaints are resolved fast, slowly, or never, depending on the
   contact channel and on whether the service desk is in a backlog.
5. **Who leaves, and why.** Every active customer has a weekly hazard of leaving, the
   sum of competing risks whose inputs all lie strictly in the past:

   - ``unresolved_complaint``: a complaint still open at the start of the week (strong),
     then a decaying residue after a slow resolution;
   - ``late_deliveries``: two or more late deliveries in the previous thirteen weeks;
   - ``promotion_end``: the four weeks after a promotion window ends, for customers who
     depend on promotions (the incentive type);
   - ``competitor``: a cheaper competitor opens 40% into the window and poaches price
     customers (and the monopoly ones, who now have an alternative);
   - ``low_attachment``: a baseline that falls with attachment and with a slowly
     wandering engagement;
   - plus causes beyond the shop's control (moving away), recorded as no cause.

   Membership tier and accumulated points (switching costs) scale the controllable
   risks down; premium customers tolerate bad experiences better. A customer whose
   event risks are raised orders less and browses more before leaving. After leaving,
   a customer never orders again, though a couple of sessions may follow.
   ``truth.churn_cause`` is the largest risk in the week the customer left.
6. **What is asked.** About ``survey_share`` of ordering customers answer one survey
   during their relationship: a noisy attachment, a willingness to recommend and a
   main reason that matches their type ~88% of the time.

The control
-----------
``customers.region`` is drawn from its own random stream and is read by nothing: not by
the type, the behaviour, the deliveries or the churn. Any effect of region a model
finds is noise or leakage.

Determinism
-----------
All randomness flows from ``np.random.SeedSequence(seed)``: one child stream each for
the calendar, the customer attributes, the regions and the referrals, and one per
block of ``_CHUNK_SIZE`` customers for the weekly simulation. The block size is a
module constant, so the same arguments always give identical frames.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import io, schema

logger = logging.getLogger(__name__)

__all__ = ["CAMPAIGN_PLAYS", "CAMPAIGN_TRUTH_FILE", "SyntheticShop", "generate_shop", "write_shop"]

# Next to the truth file: every contact's planted effect of each play.
CAMPAIGN_TRUTH_FILE = "campaign_effects.parquet"

_DAY = 86_400
_WEEK = 7 * _DAY
_CHUNK_SIZE = 50_000
# Processes simulating blocks at once (a shop of one block runs in this process).
_WORKERS = max(1, min(2, os.cpu_count() or 1))
# Times are held as int32 seconds from the window start while simulating.
_MAX_DAYS = 20_000
_EXISTING_SHARE = 0.45
_MAX_PRIOR_TENURE_DAYS = 3 * 365
_COMPETITOR_AT = 0.40
_LATE_WINDOW_WEEKS = 13
_POST_PROMO_DAYS = 28

# Weekly hazards of the competing risks (before switching costs and tolerance).
_H_OTHER = 0.0010
_H_LOW_ATTACHMENT = 0.0030
_H_UNRESOLVED = 0.070
_H_SLOW_RESIDUE = 0.020
_H_LATE = 0.035
_H_PROMO_END = 0.030

_ACQUISITION_CHANNELS = ("organic", "referral", "discount_ad", "social", "marketplace")
_ACQUISITION_PROBS = (0.34, 0.12, 0.20, 0.18, 0.16)
_REFERRAL = _ACQUISITION_CHANNELS.index("referral")
# P(type | acquisition channel); columns in _TYPE_COLUMNS order.
_TYPE_COLUMNS = ("premium", "inertia", "convenience", "monopoly", "incentive", "price", "latent")
_TYPE_GIVEN_CHANNEL = {
    "organic": (0.18, 0.20, 0.18, 0.10, 0.12, 0.12, 0.10),
    "referral": (0.45, 0.15, 0.12, 0.08, 0.06, 0.06, 0.08),
    "discount_ad": (0.05, 0.08, 0.07, 0.05, 0.35, 0.32, 0.08),
    "social": (0.12, 0.15, 0.18, 0.07, 0.20, 0.16, 0.12),
    "marketplace": (0.08, 0.15, 0.22, 0.12, 0.12, 0.22, 0.09),
}
_REGIONS = ("north", "south", "east", "west", "central")
_REGION_PROBS = (0.24, 0.22, 0.20, 0.19, 0.15)
_TIERS = ("none", "silver", "gold")
_TIER_HAZARD = np.array([1.0, 0.8, 0.6])
_TIER_POINTS_PER_UNIT = np.array([0.0, 1.0, 2.0])
_SHOP_CHANNELS = ("web", "app", "phone")
_SECONDARY_CHANNEL_PROBS = (0.45, 0.45, 0.10)
_COMPLAINT_CHANNELS = ("email", "phone", "chat")
_COMPLAINT_CHANNEL_PROBS = (0.45, 0.30, 0.25)
# Median days to resolve, by complaint channel: chat is fastest, email slowest.
_RESOLVE_MEDIAN_DAYS = np.array([3.0, 1.0, 0.5])
_UNRESOLVED_BY_CHANNEL = np.array([0.14, 0.10, 0.10])
_CATEGORIES = schema.COMPLAINT_CATEGORIES
_DELIVERY, _QUALITY, _SERVICE, _BILLING, _OTHER = (
    _CATEGORIES.index(c) for c in ("delivery", "quality", "service", "billing", "other")
)
_CAUSES = (
    None,
    "low_attachment",
    "unresolved_complaint",
    "late_deliveries",
    "promotion_end",
    "competitor",
)
_REASON_OF_TYPE = {
    "premium": "brand_value",
    "inertia": "habit",
    "convenience": "convenience",
    "monopoly": "no_alternative",
    "incentive": "promotions",
    "price": "lowest_price",
    "latent": "held_back",
}
_SURVEY_NOISE = 0.12
# (month, first day, last day) of the yearly promotion windows.
_PROMOTIONS = ((3, 1, 8), (6, 1, 18), (11, 1, 11), (12, 10, 12))
_ORDER_HOURS = np.array([1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 6, 6, 7, 8, 9, 9, 7, 4], float)
_BROWSE_HOURS = np.array(
    [2, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 6, 6, 7, 8, 9, 9, 7, 4], float
)
_TEXTS = {
    _DELIVERY: (
        "My order arrived {d} days late.",
        "The parcel came {d} days after the promised date.",
        "Delivery was {d} days late and nobody told me why.",
    ),
    _QUALITY: (
        "The item arrived damaged.",
        "The product does not match the description.",
        "The product stopped working after a few days.",
    ),
    _SERVICE: (
        "Customer service did not answer my question.",
        "The support agent was unhelpful.",
        "I was promised a call back that never came.",
    ),
    _BILLING: (
        "I was charged twice for my order.",
        "The discount was not applied at checkout.",
        "My refund has not arrived yet.",
    ),
    _OTHER: (
        "I could not change my delivery address.",
        "The app keeps logging me out.",
        "I have a problem with my account.",
    ),
}


@dataclass(frozen=True)
class _Profile:
    """What a loyalty type means for behaviour; customers vary around these values."""

    attachment: float  # mean latent attachment on the 1-7 scale
    orders_per_day: float  # base purchase rate
    promo_dependence: float  # Beta mean: how much buying waits for promotions
    price_sensitivity: float  # Beta mean: coupon use outside promotions
    choice_minutes: float  # median time choosing before an order (loyalty measure 2)
    browse_per_week: float  # browse-only sessions (comparison shopping)
    multichannel: float  # Beta mean: share of orders outside the primary channel
    tolerance: float  # multiplier of event risks: loyal customers forgive (measure 5)
    competitor_hazard: float  # weekly risk added once the cheaper competitor opens
    spend: float  # multiplier of the unit price
    tier_probs: tuple[float, float, float]  # none, silver, gold
    channel_probs: tuple[float, float, float]  # primary channel: web, app, phone
    browse_only: float  # share of new sign-ups who never buy


_PROFILES = {
    "premium": _Profile(
        5.8, 0.045, 0.05, 0.15, 6, 0.30, 0.45, 0.5, 0.000, 1.30,
        (0.35, 0.35, 0.30), (0.45, 0.45, 0.10), 0.05,
    ),
    "inertia": _Profile(
        3.0, 0.045, 0.10, 0.30, 5, 0.20, 0.30, 1.0, 0.003, 1.00,
        (0.55, 0.30, 0.15), (0.55, 0.35, 0.10), 0.05,
    ),
    "convenience": _Profile(
        3.2, 0.045, 0.10, 0.30, 4, 0.25, 0.35, 1.0, 0.002, 1.05,
        (0.50, 0.30, 0.20), (0.25, 0.70, 0.05), 0.05,
    ),
    "monopoly": _Profile(
        2.6, 0.040, 0.08, 0.30, 10, 0.25, 0.15, 1.0, 0.007, 1.00,
        (0.70, 0.20, 0.10), (0.55, 0.35, 0.10), 0.05,
    ),
    "incentive": _Profile(
        2.9, 0.035, 0.80, 0.60, 15, 0.50, 0.20, 1.0, 0.002, 0.90,
        (0.35, 0.45, 0.20), (0.45, 0.50, 0.05), 0.07,
    ),
    "price": _Profile(
        2.3, 0.030, 0.40, 0.85, 35, 0.80, 0.10, 1.0, 0.009, 0.80,
        (0.85, 0.12, 0.03), (0.60, 0.35, 0.05), 0.08,
    ),
    "latent": _Profile(
        3.8, 0.008, 0.15, 0.35, 18, 0.50, 0.15, 1.0, 0.001, 1.00,
        (0.70, 0.20, 0.10), (0.50, 0.40, 0.10), 0.20,
    ),
}  # fmt: skip

_PREMIUM = schema.LOYALTY_TYPES.index("premium")
_PRICE = schema.LOYALTY_TYPES.index("price")


def _by_type(attr: str) -> np.ndarray:
    """One profile attribute as an array indexed by type code."""
    return np.array([getattr(_PROFILES[t], attr) for t in schema.LOYALTY_TYPES], float)


# --- retention campaigns ------------------------------------------------------------
# Every four weeks from week 26 the shop runs a retention campaign. The naive rule it
# selects by: customers overdue against the shop's usual rhythm (last order 3 to 30
# weeks ago), half of them (capacity), none contacted in the last 8 weeks. A random
# quarter is held out as control; the rest get one of five plays at random (the shop
# tests its offers). A play multiplies the customer's weekly churn hazard for a while;
# how much depends on the loyalty type and the open drivers, as LOYALTY.md says:
#   discount coupon: price customers respond, but only while it lasts (4 weeks);
#     premium customers are put off by a blanket discount, inertia ones are reminded to
#     look around;
#   points bonus: incentive customers respond, inertia ones somewhat (a switching cost);
#   free express delivery (fulfilment fix): convenience customers, and anyone whose
#     recent deliveries were late;
#   personal service call (service recovery): a customer with an open or slowly
#     resolved complaint; it wakes an inertia customer up;
#   win-back offer: works on the long lapsed, a little annoying to the others.
# Latent customers (they want more but something holds them back) are sleeping dogs:
# any contact reminds them to cancel. The true effects (the drop in the chance of
# leaving within 13 weeks each play would cause, at the campaign week's hazard) go to
# the ground truth (campaign_effects.parquet), never to the pipeline.
CAMPAIGN_PLAYS = ("discount", "points", "fulfilment_fix", "service_recovery", "winback")
_CAMPAIGN_FIRST_WEEK = 26
_CAMPAIGN_EVERY_WEEKS = 2
_CAMPAIGN_OVERDUE_WEEKS = (3, 30)
_CAMPAIGN_CAPACITY = 0.8
_CAMPAIGN_CONTROL = 0.25
_CAMPAIGN_REST_WEEKS = 13
_EFFECT_WEEKS = 13
# A play multiplies the customer's weekly churn hazard and order rate from the week
# after the contact, for _PLAY_WEEKS. By play (rows) and type (columns: premium,
# inertia, convenience, monopoly, incentive, price, latent); < 1 hazard and > 1 rate keep
# the customer.
_PLAY_HAZARD = np.array(
    [
        [3.0, 2.5, 0.7, 0.6, 0.4, 0.15, 3.0],  # discount
        [1.0, 0.4, 0.7, 0.8, 0.15, 0.8, 3.0],  # points
        [0.8, 1.0, 0.25, 0.8, 1.0, 1.0, 3.0],  # fulfilment_fix
        [0.6, 2.5, 1.0, 1.0, 1.0, 1.0, 3.0],  # service_recovery
        [0.6, 0.8, 0.8, 0.8, 0.6, 0.5, 3.0],  # winback (lapsed 13+ weeks)
    ]
)  # fmt: skip
_PLAY_RATE = np.array(
    [
        [0.6, 1.0, 1.3, 1.3, 2.5, 3.0, 0.4],  # discount
        [1.0, 1.5, 1.2, 1.2, 2.5, 1.1, 0.4],  # points
        [1.1, 1.0, 2.0, 1.1, 1.0, 1.0, 0.4],  # fulfilment_fix
        [1.5, 0.6, 1.0, 1.0, 1.0, 1.0, 0.4],  # service_recovery
        [2.0, 2.0, 2.0, 2.0, 2.0, 2.5, 0.4],  # winback (lapsed 13+ weeks)
    ]
)  # fmt: skip
_PLAY_WEEKS = np.array([4, 12, 12, 12, 12])
_EFFECT_WEEKS = 13  # the churn horizon, in weeks: effects are on "no order in it"
_LATE_FIX = (0.3, 1.8)  # fulfilment fix after a recent late delivery: hazard, rate
_COMPLAINT_FIX = (0.15, 2.0)  # service call with an open or slow complaint
_WINBACK_TOO_EARLY = (1.5, 0.8)  # a win-back offer to a customer not lapsed 13 weeks
# What a contact with each play costs, offer included (money).
_PLAY_COST = np.array([3.0, 2.0, 2.0, 4.0, 2.5])


def _play_multipliers(
    typ: np.ndarray, weeks_since_order: np.ndarray, recent_late: np.ndarray, complaint: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hazard and order-rate multipliers of each play (columns) for each customer (rows)."""
    hazard = _PLAY_HAZARD[:, typ].T.copy()
    rate = _PLAY_RATE[:, typ].T.copy()
    fix = typ != schema.LOYALTY_TYPES.index("latent")  # sleeping dogs stay sleeping dogs
    for column, when, (h, r) in (
        (2, fix & (recent_late > 0), _LATE_FIX),
        (3, fix & complaint, _COMPLAINT_FIX),
        (4, fix & (weeks_since_order < 13), _WINBACK_TOO_EARLY),
    ):
        if column == 4:  # replaces: an early win-back is mildly annoying to anyone
            hazard[:, column] = np.where(when, h, hazard[:, column])
            rate[:, column] = np.where(when, r, rate[:, column])
        else:
            hazard[:, column] = np.where(when, hazard[:, column] * h, hazard[:, column])
            rate[:, column] = np.where(when, rate[:, column] * r, rate[:, column])
    return hazard, rate


def p_no_order(hazard: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """P(no order within the weeks) for customers who, in week ``w``, leave at
    ``hazard[:, w]`` and order at ``rate[:, w]`` while they stay (per week): leaving
    before the first order, or staying without one."""
    out = np.zeros(hazard.shape[0])
    alive_no_order = np.ones(hazard.shape[0])
    for w in range(hazard.shape[1]):
        h, lam = hazard[:, w], rate[:, w]
        total = h + lam
        gone = np.divide(h, total, out=np.zeros_like(h), where=total > 0)
        stay = np.exp(-total)
        out += alive_no_order * gone * (1.0 - stay)
        alive_no_order = alive_no_order * stay
    return out + alive_no_order


def true_effects(
    hazard: np.ndarray, rate: np.ndarray, hazard_mult: np.ndarray, rate_mult: np.ndarray
) -> np.ndarray:
    """The drop in P(no order within the horizon) each play (column) causes.

    ``hazard`` and ``rate`` are each customer's weekly churn hazard and order rate over
    the horizon's weeks as the calendar will make them (promotions, their end, the
    competitor), everything else held at the campaign week's values. The first week is
    untouched (the contact lands), then the play acts for its weeks. Positive: the play
    keeps the customer; negative: it pushes them away.
    """
    control = p_no_order(hazard, rate)
    out = np.empty_like(hazard_mult)
    weeks = np.arange(hazard.shape[1])
    for j, length in enumerate(_PLAY_WEEKS):
        on = (weeks >= 1) & (weeks < 1 + length)
        h = np.where(on[None, :], hazard * hazard_mult[:, j : j + 1], hazard)
        r = np.where(on[None, :], rate * rate_mult[:, j : j + 1], rate)
        out[:, j] = control - p_no_order(h, r)
    return out


def _horizon_rates(
    cal: _Calendar,
    t: int,
    risk: np.ndarray,
    tol: np.ndarray,
    competitor_h: np.ndarray,
    dep: np.ndarray,
    rate_per_weight: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Weekly hazard and order rate over the ``_EFFECT_WEEKS`` from week ``t``.

    The calendar's parts follow the calendar (the end-of-promotion risk, the
    competitor, the season and promotion days); the customer's own (attachment,
    complaints, deliveries, engagement) stay as they are in week ``t``.
    """
    weeks = np.minimum(t + np.arange(_EFFECT_WEEKS), cal.n_weeks - 1)
    own = risk.sum(axis=1) - risk[:, 4] - risk[:, 5]
    promo_end = _H_PROMO_END * dep**2 * tol
    hazard = (
        own[:, None]
        + promo_end[:, None] * cal.post_promo[weeks][None, :]
        + (competitor_h * tol)[:, None] * cal.competitor[weeks][None, :]
    )
    days = np.minimum(7 * weeks[:, None] + np.arange(7)[None, :], cal.days - 1)  # (W, 7)
    season, promo = cal.season[days], cal.promo[days]
    boost = np.where(
        promo[None, :, :], 1.0 + 5.0 * dep[:, None, None], 1.0 - 0.75 * dep[:, None, None]
    )
    weight = (season[None, :, :] * boost).sum(axis=2)  # (n, W)
    return hazard, rate_per_weight[:, None] * weight


@dataclass(frozen=True)
class SyntheticShop:
    """A simulated shop: the canonical tables, and the ground truth behind them.

    ``tables`` holds ``customers``, ``orders``, ``returns``, ``sessions``, ``complaints``
    and ``surveys`` with exactly the columns of ``pipeline.schema``. ``truth`` has one
    row per customer (latent type, attachment, when and why they left, how many bad
    experiences and complaints they had); the pipeline must never read it.
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    # One row per contact of the retention campaigns: arm, play and the planted effect
    # of every play (``effect_<play>``: the drop in P(leave within 13 weeks)).
    campaign_effects: pd.DataFrame | None = None


@dataclass(frozen=True)
class _Calendar:
    days: int
    n_weeks: int
    promo: np.ndarray  # bool per day
    season: np.ndarray  # order-rate multiplier per day
    late_risk: np.ndarray  # late-delivery multiplier per day (backlog x carrier shock)
    backlog: np.ndarray  # bool per day: the service desk is overloaded
    post_promo: np.ndarray  # bool per week: a promotion ended in the last four weeks
    competitor: np.ndarray  # bool per week: the cheaper competitor is open
    competitor_day: int


def generate_shop(
    *,
    n_customers: int,
    start: dt.date,
    days: int,
    seed: int,
    survey_share: float = 0.10,
) -> SyntheticShop:
    """Simulate an online shop whose customers follow the loyalty theory, in memory.

    The frames are exactly what :func:`write_shop` writes (it runs underneath, into a
    temporary directory): use :func:`write_shop` for shops too large to hold in memory.

    Parameters
    ----------
    n_customers
        Number of customers, including those who never order.
    start
        First day of the data window (a ``datetime.date``, not a ``datetime``).
    days
        Length of the window in days; nothing is observed on or after
        ``start + days``.
    seed
        Non-negative seed; the same arguments always give identical frames.
    survey_share
        Share of ordering customers who answer the one survey, in [0, 1].

    Returns
    -------
    SyntheticShop
        ``tables``: the canonical tables ``customers``, ``orders``, ``returns``,
        ``sessions``, ``complaints`` and ``surveys`` (no ``order_lines``), each sorted by
        time with ids increasing in time; ``truth``: one row per customer with
        ``true_type``, ``attachment``, ``signup_at``, ``churned_at`` (NaT if still a
        customer at the end), ``churn_cause``, ``n_bad_experiences`` and
        ``n_complaints``.

    Raises
    ------
    TypeError
        If ``start`` is not a ``datetime.date`` (or is a ``datetime``), or an integer
        argument is not an integer.
    ValueError
        If ``n_customers`` < 1, ``days`` is outside [14, 20000], ``seed`` < 0, or
        ``survey_share`` is outside [0, 1].
    """
    with tempfile.TemporaryDirectory(prefix="synthetic-shop-") as tmp:
        root = Path(tmp)
        write_shop(
            n_customers=n_customers,
            start=start,
            days=days,
            seed=seed,
            survey_share=survey_share,
            directory=root / "tables",
            truth_path=root / "truth.parquet",
        )
        tables = io.read_tables(root / "tables")
        return SyntheticShop(
            tables=tables,
            truth=io.read_parquet(root / "truth.parquet"),
            campaign_effects=io.read_parquet(root / CAMPAIGN_TRUTH_FILE),
        )


def write_shop(
    *,
    n_customers: int,
    start: dt.date,
    days: int,
    seed: int,
    survey_share: float = 0.10,
    directory: Path,
    truth_path: Path,
) -> dict[str, int]:
    """Simulate the shop block by block and write it as it goes, in bounded memory.

    Each block of ``_CHUNK_SIZE`` customers is simulated and appended to scratch
    Parquet files; DuckDB then sorts every table by time (spilling to disk beyond
    ``_SORT_MEMORY``), hands out the ids in time order and streams the tables to
    ``directory``. Memory is bounded by one block and the sort, not by the shop.

    Parameters
    ----------
    n_customers, start, days, seed, survey_share
        As in :func:`generate_shop`.
    directory
        Where ``<table>.parquet`` go (created if needed), one per canonical table.
    truth_path
        Where the ground truth goes.

    Returns
    -------
    dict
        Rows written per table.

    Raises
    ------
    TypeError, ValueError
        As :func:`generate_shop`.
    """
    _check_args(n_customers=n_customers, start=start, days=days, seed=seed, share=survey_share)
    calendar_ss, customers_ss, region_ss, referral_ss, chunks_ss = np.random.SeedSequence(
        seed
    ).spawn(5)
    calendar = _build_calendar(start, days, np.random.default_rng(calendar_ss))
    customers = _draw_customers(n_customers, days, np.random.default_rng(customers_ss))
    # The control attribute has a stream of its own, so it cannot correlate with anything.
    region = np.random.default_rng(region_ss).choice(
        len(_REGIONS), size=n_customers, p=_REGION_PROBS
    )
    origin = np.datetime64(start, "us").astype(np.int64)
    customer_width = _width(6, n_customers)
    truth = {
        "churn_sec": np.full(n_customers, -1, np.int64),
        "cause": np.zeros(n_customers, np.int8),
        "n_bad": np.zeros(n_customers, np.int64),
        "n_complaints": np.zeros(n_customers, np.int64),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=directory))
    try:
        n_chunks = -(-n_customers // _CHUNK_SIZE)
        chunk_seeds = chunks_ss.spawn(n_chunks)
        blocks = {name: io.ParquetAppender(scratch / f"{name}.parquet") for name in _EVENTS}
        blocks["campaign_truth"] = io.ParquetAppender(
            Path(truth_path).parent / CAMPAIGN_TRUTH_FILE
        )
        seen = dict.fromkeys(_EVENTS, 0)
        tasks = []
        for c in range(n_chunks):
            lo, hi = c * _CHUNK_SIZE, min(n_customers, (c + 1) * _CHUNK_SIZE)
            block = {name: values[lo:hi] for name, values in customers.items()}
            tasks.append((block, lo, calendar, survey_share, *chunk_seeds[c].spawn(2)))
        try:
            for c, part in enumerate(_simulate_blocks(tasks)):
                lo, hi = c * _CHUNK_SIZE, min(n_customers, (c + 1) * _CHUNK_SIZE)
                blocks["campaign_truth"].write(
                    _campaign_truth(part["contacts"], origin, customer_width)
                )
                for name, values in part.pop("truth").items():
                    truth[name][lo:hi] = values
                rows = _block_rows(part, seen, origin, customer_width)
                for name, table in rows.items():
                    blocks[name].write(table)
                    seen[name] += len(table)
                logger.debug("simulated customers %d-%d of %d", lo, hi, n_customers)
        except BaseException:
            for appender in blocks.values():
                appender.abort()
            raise
        for appender in blocks.values():
            appender.close()

        referrer = _draw_referrers(
            customers, truth["churn_sec"], np.random.default_rng(referral_ss)
        )
        people = _people(customers, region, referrer, truth, origin, customer_width)
        io.write_parquet(people["customers"], directory / "customers.parquet")
        io.write_parquet(people["truth"], truth_path)
        counts = {"customers": n_customers}
        counts.update(_sort_events(scratch, directory, seen))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info(
        "synthetic shop: %d customers, %d orders, %d sessions, %d complaints over %d days",
        n_customers,
        counts["orders"],
        counts["sessions"],
        counts["complaints"],
        days,
    )
    return counts


def _simulate_task(task: tuple) -> dict[str, dict[str, np.ndarray]]:
    block, lo, calendar, survey_share, simulation, campaigns = task
    return _simulate_block(
        block,
        lo,
        calendar,
        survey_share,
        np.random.default_rng(simulation),
        np.random.default_rng(campaigns),
    )


def _simulate_blocks(tasks: list[tuple]) -> Iterator[dict[str, dict[str, np.ndarray]]]:
    """Each block's simulation, in block order.

    A block's randomness comes from its own seed, so blocks can be simulated anywhere
    in any order: with more than one block, worker processes (one per core) simulate
    them while this one writes, at most one block per worker ahead of the writer, so
    memory stays bounded. The output is the same as simulating them one by one.
    """
    workers = min(_WORKERS, len(tasks))
    if workers <= 1:
        for task in tasks:
            yield _simulate_task(task)
        return
    # fork: a worker needs nothing but NumPy and the task (spawn would re-import the
    # caller's script, which breaks scripts without a __main__ guard); the simulation
    # touches no lock an inherited Arrow or DuckDB thread could hold
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[Future] = deque()
        for task in tasks:
            pending.append(pool.submit(_simulate_task, task))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _check_args(*, n_customers: int, start: dt.date, days: int, seed: int, share: float) -> None:
    for name, value in (("n_customers", n_customers), ("days", days), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if isinstance(start, dt.datetime) or not isinstance(start, dt.date):
        raise TypeError(f"start must be a datetime.date (not a datetime), got {start!r}")
    if n_customers < 1:
        raise ValueError(f"n_customers must be >= 1, got {n_customers}")
    if not 14 <= days <= _MAX_DAYS:
        raise ValueError(f"days must be in [14, {_MAX_DAYS}], got {days}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"survey_share must be in [0, 1], got {share}")


def _build_calendar(start: dt.date, days: int, rng: np.random.Generator) -> _Calendar:
    dates = np.datetime64(start, "D") + np.arange(days)
    month_start = dates.astype("datetime64[M]")
    month = month_start.astype(int) % 12 + 1
    day_of_month = (dates - month_start.astype("datetime64[D]")).astype(int) + 1

    promo = np.zeros(days, bool)
    for m, first, last in _PROMOTIONS:
        promo |= (month == m) & (day_of_month >= first) & (day_of_month <= last)
    season = np.where(month >= 11, 1.2, 1.0)
    # Parcels pile up after the big festivals; the service desk drowns with them.
    backlog = ((month == 11) & (day_of_month >= 11) & (day_of_month <= 25)) | (
        (month == 6) & (day_of_month >= 18) & (day_of_month <= 25)
    )
    n_weeks = -(-days // 7)
    carrier_shock = rng.lognormal(0.0, 0.3, n_weeks)
    late_risk = np.where(backlog, 2.5, 1.0) * carrier_shock[np.arange(days) // 7]

    last_promo = np.maximum.accumulate(np.where(promo, np.arange(days), -(10**9)))
    week_start = 7 * np.arange(n_weeks)
    since_promo = week_start - np.concatenate([[-(10**9)], last_promo])[week_start]
    post_promo = (since_promo >= 1) & (since_promo <= _POST_PROMO_DAYS) & ~promo[week_start]
    competitor_day = int(round(_COMPETITOR_AT * days))
    return _Calendar(
        days=days,
        n_weeks=n_weeks,
        promo=promo,
        season=season,
        late_risk=late_risk,
        backlog=backlog,
        post_promo=post_promo,
        competitor=week_start >= competitor_day,
        competitor_day=competitor_day,
    )


def _beta(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    return rng.beta(mean * concentration, (1.0 - mean) * concentration)


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1).astype(np.int8)


def _draw_customers(n: int, days: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Static and latent attributes, one row per customer, in order of sign-up."""
    existing = rng.random(n) < _EXISTING_SHARE
    signup = np.where(
        existing,
        -rng.integers(1, _MAX_PRIOR_TENURE_DAYS * _DAY, n),
        rng.integers(0, days * _DAY, n),
    )
    signup.sort()  # customer ids are handed out in order of sign-up
    existing = signup < 0

    channel = rng.choice(len(_ACQUISITION_CHANNELS), size=n, p=_ACQUISITION_PROBS)
    type_probs = np.array([_TYPE_GIVEN_CHANNEL[c] for c in _ACQUISITION_CHANNELS])
    type_probs = type_probs[:, [_TYPE_COLUMNS.index(t) for t in schema.LOYALTY_TYPES]]
    typ = _categorical(rng, type_probs[channel])

    attachment = np.clip(rng.normal(_by_type("attachment")[typ], 0.7), 1.0, 7.0)
    rate_sigma = 0.5
    rate = _by_type("orders_per_day")[typ] * rng.lognormal(-(rate_sigma**2) / 2, rate_sigma, n)
    tier_probs = np.array([_PROFILES[t].tier_probs for t in schema.LOYALTY_TYPES])
    channel_probs = np.array([_PROFILES[t].channel_probs for t in schema.LOYALTY_TYPES])
    browse_sigma = 0.5
    return {
        "signup_sec": signup,
        "acquisition": channel.astype(np.int8),
        "type": typ,
        "attachment": attachment,
        "rate": rate,
        "dependence": _beta(rng, _by_type("promo_dependence")[typ], 12.0),
        "price_sensitivity": _beta(rng, _by_type("price_sensitivity")[typ], 10.0),
        "tier": _categorical(rng, tier_probs[typ]),
        "multichannel": _beta(rng, _by_type("multichannel")[typ], 8.0),
        "primary_channel": _categorical(rng, channel_probs[typ]),
        "unlucky": rng.random(n) < 0.03,
        "choice_minutes": _by_type("choice_minutes")[typ] * rng.lognormal(0.0, 0.3, n),
        "unit_price": 25.0 * _by_type("spend")[typ] * rng.lognormal(0.0, 0.35, n),
        "browse_rate": _by_type("browse_per_week")[typ]
        * rng.lognormal(-(browse_sigma**2) / 2, browse_sigma, n),
        "browse_only": ~existing & (rng.random(n) < _by_type("browse_only")[typ]),
        "engagement": rng.normal(0.0, 0.45, n),
        "voice": rng.lognormal(-0.125, 0.5, n),
    }


def _hours(
    rng: np.random.Generator, weights: np.ndarray, first_hour: int, size: int
) -> np.ndarray:
    """Seconds into the day, by an hour-of-day profile."""
    hour = first_hour + rng.choice(len(weights), size=size, p=weights / weights.sum())
    return hour * 3600 + rng.integers(0, 3600, size)


class _Parts:
    """Column arrays accumulated week by week."""

    def __init__(self) -> None:
        self.columns: dict[str, list[np.ndarray]] = {}

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self.columns.setdefault(name, []).append(values)

    def concat(self, dtypes: dict[str, type]) -> dict[str, np.ndarray]:
        return {
            name: np.concatenate(self.columns[name]).astype(dtype, copy=False)
            if name in self.columns
            else np.zeros(0, dtype)
            for name, dtype in dtypes.items()
        }


_ORDER_DTYPES = {
    "cust": np.int32,
    "ordered": np.int32,
    "gross": np.int32,
    "discount": np.int32,
    "redeemed": np.int32,
    "earned": np.int32,
    "promo": bool,
    "channel": np.int8,
    "quantity": np.int16,
    "distinct": np.int16,
    "promised": np.int32,
    "delivered": np.int32,
    "late": bool,
    "quality": bool,
    "incident": bool,
    "choice": np.int32,
}
_SESSION_DTYPES = {
    "cust": np.int32,
    "started": np.int32,
    "kind": np.int8,  # 0 order, 1 browse, 2 after leaving, 3 sign-up
    "order_ref": np.int32,
}
_COMPLAINT_DTYPES = {
    "cust": np.int32,
    "order_ref": np.int32,
    "opened": np.int32,
    "category": np.int8,
    "channel": np.int8,
    "resolved": np.int32,  # -1: never
    "escalated": bool,
    "late_days": np.int16,
}
_SESSION_ORDER, _SESSION_BROWSE, _SESSION_AFTER, _SESSION_SIGNUP = range(4)


class _BlockState:
    """What a block of customers carries from one week to the next."""

    def __init__(self, n: int, n_weeks: int) -> None:
        self.points = np.zeros(n)
        self.unresolved_from = np.full(n, np.inf)  # day an open-complaint episode began
        self.unresolved_to = np.full(n, -np.inf)  # day it closes; +inf if never
        self.slow_resolved_at = np.full(n, -np.inf)  # day of the last slow resolution
        self.late_by_week = np.zeros((n, n_weeks + 1), np.int16)  # by week of delivery
        self.quality_until = np.full(n, -1, np.int64)  # week a quality problem is forgotten
        self.n_bad = np.zeros(n, np.int64)
        self.last_order_week = np.full(n, -1, np.int64)
        self.hazard_mult = np.ones(n)  # a campaign play's multiplier of the hazard
        self.rate_mult = np.ones(n)  # ... and of the order rate
        self.mult_from = np.full(n, -1, np.int64)  # the week it starts acting
        self.mult_until = np.full(n, -1, np.int64)  # the week it stops acting
        self.contacted_week = np.full(n, -10_000, np.int64)
        self.contacts = _Parts()
        self.n_orders = 0
        self.orders = _Parts()
        self.sessions = _Parts()
        self.complaints = _Parts()


def _simulate_block(
    cust: dict[str, np.ndarray],
    offset: int,
    cal: _Calendar,
    survey_share: float,
    rng: np.random.Generator,
    campaign_rng: np.random.Generator | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Week-by-week simulation of one block of customers, vectorised over the block.

    ``campaign_rng`` (its own stream) selects, randomises and plays the retention
    campaigns; None runs no campaigns.
    """
    n = len(cust["type"])
    typ = cust["type"]
    signup = cust["signup_sec"]
    first_week = np.where(signup < 0, 0, signup // _WEEK + 1)
    tier = cust["tier"]
    dependence = cust["dependence"]
    tolerance = _by_type("tolerance")[typ]
    competitor_h = _by_type("competitor_hazard")[typ]
    is_price = typ == _PRICE

    churned = np.zeros(n, bool)
    churn_sec = np.full(n, -1, np.int64)
    cause = np.zeros(n, np.int8)
    engagement = cust["engagement"].copy()
    state = _BlockState(n, cal.n_weeks)
    sessions = state.sessions
    for t in range(cal.n_weeks):
        ws = 7 * t
        valid = min(7, cal.days - ws)
        idx = np.flatnonzero((first_week <= t) & ~churned)
        if idx.size == 0:
            continue
        k = idx.size
        att = cust["attachment"][idx]
        e = 0.97 * engagement[idx] + rng.normal(0.0, 0.12, k)
        engagement[idx] = e

        # Competing weekly risks; every input was fixed before this week started.
        switching = _TIER_HAZARD[tier[idx]] * (0.6 + 0.4 * np.exp(-state.points[idx] / 1500.0))
        tol = tolerance[idx] * switching
        risk = np.zeros((k, len(_CAUSES)))
        risk[:, 0] = _H_OTHER
        risk[:, 1] = _H_LOW_ATTACHMENT * (7.0 - att) / 4.0 * np.exp(-0.8 * e) * switching
        still_open = (state.unresolved_from[idx] < ws) & (state.unresolved_to[idx] > ws)
        since_slow = ws - state.slow_resolved_at[idx]
        residue = np.where(since_slow > 0, np.exp(-np.maximum(since_slow, 0) / 28.0), 0.0)
        risk[:, 2] = (_H_UNRESOLVED * still_open + _H_SLOW_RESIDUE * residue) * tol
        recent_late = state.late_by_week[idx, max(0, t - _LATE_WINDOW_WEEKS) : t].sum(axis=1)
        risk[:, 3] = _H_LATE * np.maximum(recent_late - 1, 0) * tol
        if cal.post_promo[t]:
            risk[:, 4] = _H_PROMO_END * dependence[idx] ** 2 * tol
        if cal.competitor[t]:
            risk[:, 5] = competitor_h[idx] * tol
        total = risk.sum(axis=1)
        campaign = (
            campaign_rng is not None
            and t >= _CAMPAIGN_FIRST_WEEK
            and (t - _CAMPAIGN_FIRST_WEEK) % _CAMPAIGN_EVERY_WEEKS == 0
            and valid == 7
        )
        if campaign:
            # chosen on what was known when the week began
            last_order_before = state.last_order_week[idx].copy()
        acting = (state.mult_from[idx] <= t) & (t < state.mult_until[idx])
        total = np.where(acting, total * state.hazard_mult[idx], total)
        leaves = rng.random(k) < -np.expm1(-total * valid / 7.0)
        stop_day = np.full(k, ws + valid)
        if leaves.any():
            who = idx[leaves]
            day = ws + rng.integers(0, valid, who.size)
            stop_day[leaves] = day
            churned[who] = True
            churn_sec[who] = day * _DAY + rng.integers(0, _DAY, who.size)
            cause[who] = risk[leaves].argmax(axis=1)

        # Drifting customers buy less and look around more before they go.
        drift = risk[:, 2:].sum(axis=1)
        rate_mult = np.exp(-12.0 * drift + 0.35 * e)
        rate_mult *= np.where(state.quality_until[idx] >= t, 0.75, 1.0)
        if cal.competitor[t]:
            rate_mult *= np.where(is_price[idx], 0.75, 1.0)
        days_of_week = ws + np.arange(7)
        in_window = days_of_week < cal.days
        d = np.minimum(days_of_week, cal.days - 1)
        dep = dependence[idx]
        weights = (cal.season[d] * in_window)[None, :] * np.where(
            cal.promo[d][None, :], 1.0 + 5.0 * dep[:, None], 1.0 - 0.75 * dep[:, None]
        )
        weights *= days_of_week[None, :] < stop_day[:, None]
        lam = cust["rate"][idx] * rate_mult * weights.sum(axis=1)
        lam[cust["browse_only"][idx]] = 0.0
        lam = np.where(acting, lam * state.rate_mult[idx], lam)
        n_new = rng.poisson(lam)
        if n_new.any():
            _place_orders(rng, cust, cal, t, idx, n_new, weights, state)
            state.last_order_week[idx[n_new > 0]] = t
        if campaign:
            weekly_hazard, weekly_rate = _horizon_rates(
                cal, t, risk, tol, competitor_h[idx], dep, cust["rate"][idx] * rate_mult
            )
            weekly_rate[cust["browse_only"][idx]] = 0.0
            _run_campaign(
                campaign_rng,
                t,
                idx,
                typ,
                last_order_before,
                weekly_hazard,
                weekly_rate,
                leaves,
                recent_late,
                still_open | (residue > 0.1),
                state,
            )

        # Browse-only sessions: comparison shopping, drifting, or a sign-up still deciding.
        lam_b = cust["browse_rate"][idx] * (1.0 + 30.0 * drift) * valid / 7.0
        if cal.competitor[t]:
            lam_b *= np.where(is_price[idx], 1.4, 1.0)
        bo = cust["browse_only"][idx]
        lam_b[bo] = 0.8 * np.exp(-(t - first_week[idx][bo]) / 8.0) * valid / 7.0
        n_b = rng.poisson(lam_b)
        if n_b.any():
            pos = np.repeat(np.arange(k), n_b)
            day = ws + rng.integers(0, valid, pos.size)
            keep = day < stop_day[pos]
            pos, day = pos[keep], day[keep]
            started = day * _DAY + _hours(rng, _BROWSE_HOURS, 0, pos.size)
            sessions.add(
                cust=idx[pos],
                started=started,
                kind=np.full(pos.size, _SESSION_BROWSE),
                order_ref=np.full(pos.size, -1),
            )
        if leaves.any():
            # A leaver may still look in once or twice.
            who = idx[leaves]
            n_after = rng.binomial(2, 0.3, who.size)
            who = np.repeat(who, n_after)
            started = churn_sec[who] + rng.integers(_DAY // 2, 21 * _DAY, who.size)
            keep = started < cal.days * _DAY
            sessions.add(
                cust=who[keep],
                started=started[keep],
                kind=np.full(keep.sum(), _SESSION_AFTER),
                order_ref=np.full(keep.sum(), -1),
            )

    # Every in-window sign-up is itself a visit: the suspicion stage.
    new = np.flatnonzero(signup >= 0)
    sessions.add(
        cust=new,
        started=signup[new],
        kind=np.full(new.size, _SESSION_SIGNUP),
        order_ref=np.full(new.size, -1),
    )

    order_cols = state.orders.concat(_ORDER_DTYPES)
    session_cols = sessions.concat(_SESSION_DTYPES)
    complaint_cols = state.complaints.concat(_COMPLAINT_DTYPES)
    end = cal.days * _DAY
    complaint_cols = {
        name: values[complaint_cols["opened"] < end] for name, values in complaint_cols.items()
    }
    n_complaints = np.bincount(complaint_cols["cust"], minlength=n)
    order_cols.update(_rate_orders(rng, cust, order_cols, end))
    returns = _draw_returns(rng, cust, order_cols, end)
    session_cols = _describe_sessions(rng, cust, order_cols, session_cols)
    surveys = _draw_surveys(rng, cust, order_cols, churn_sec, survey_share, end)
    complaint_cols.update(_resolve_complaints(rng, complaint_cols, end))

    contact_cols = state.contacts.concat(_CONTACT_DTYPES)
    for table in (order_cols, session_cols, returns, complaint_cols, surveys, contact_cols):
        table["cust"] = table["cust"].astype(np.int32) + offset
    return {
        "orders": order_cols,
        "sessions": session_cols,
        "returns": returns,
        "complaints": complaint_cols,
        "surveys": surveys,
        "contacts": contact_cols,
        "truth": {
            "churn_sec": churn_sec,
            "cause": cause,
            "n_bad": state.n_bad,
            "n_complaints": n_complaints.astype(np.int64),
        },
    }


_CONTACT_DTYPES = {
    "cust": np.int32,
    "week": np.int32,
    "second": np.int32,  # second of the campaign day the contact was made
    "play": np.int8,  # -1: control
    "cost": np.float64,
    "hazard": np.float64,
    **{f"effect_{p}": np.float64 for p in CAMPAIGN_PLAYS},
}


def _run_campaign(
    rng: np.random.Generator,
    t: int,
    idx: np.ndarray,
    typ: np.ndarray,
    last_order_week: np.ndarray,
    hazard: np.ndarray,
    rate: np.ndarray,
    left: np.ndarray,
    recent_late: np.ndarray,
    complaint: np.ndarray,
    state: _BlockState,
) -> None:
    """One campaign on the first day of week ``t``: select by the naive rule on what was
    known then, randomise the arm and the play, act from the next week, remember.

    A customer who left this week is still contacted (the shop cannot know): no play
    has any effect on them.
    """
    since = t - last_order_week
    lo, hi = _CAMPAIGN_OVERDUE_WEEKS
    eligible = (
        (last_order_week >= 0)
        & (since >= lo)
        & (since <= hi)
        & (t - state.contacted_week[idx] >= _CAMPAIGN_REST_WEEKS)
    )
    chosen = eligible & (rng.random(idx.size) < _CAMPAIGN_CAPACITY)
    if not chosen.any():
        return
    pos = np.flatnonzero(chosen)
    who = idx[pos]
    hm, rm = _play_multipliers(typ[who], since[pos], recent_late[pos], complaint[pos])
    effects = true_effects(hazard[pos], rate[pos], hm, rm)
    effects[left[pos]] = 0.0
    control = rng.random(pos.size) < _CAMPAIGN_CONTROL
    play = np.where(control, -1, rng.integers(0, len(CAMPAIGN_PLAYS), pos.size))
    rows = np.flatnonzero(play >= 0)
    state.hazard_mult[who[rows]] = hm[rows, play[rows]]
    state.rate_mult[who[rows]] = rm[rows, play[rows]]
    state.mult_from[who[rows]] = t + 1
    state.mult_until[who[rows]] = t + 1 + _PLAY_WEEKS[play[rows]]
    state.contacted_week[who] = t
    state.contacts.add(
        cust=who,
        week=np.full(who.size, t),
        second=rng.integers(9 * 3600, 17 * 3600, who.size),
        play=play,
        cost=np.where(play >= 0, _PLAY_COST[np.maximum(play, 0)], 0.0),
        hazard=hazard[pos, 0],
        **{f"effect_{p}": effects[:, j] for j, p in enumerate(CAMPAIGN_PLAYS)},
    )


def _place_orders(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    cal: _Calendar,
    t: int,
    idx: np.ndarray,
    n_new: np.ndarray,
    weights: np.ndarray,
    state: _BlockState,
) -> None:
    """Orders of one week, their fulfilment and the complaints they cause.

    ``n_new`` orders for each active customer ``idx``, on days drawn by ``weights``.
    Updates ``state``: points, late deliveries, quality memory, open complaints and
    bad-experience counts, all dated when the customer experiences them.
    """
    pos = np.repeat(np.arange(idx.size), n_new)
    who = idx[pos]
    m = who.size
    cdf = np.cumsum(weights[pos], axis=1)
    cdf /= cdf[:, -1:]
    # u in (0, 1], so a day of zero weight is never chosen.
    u = 1.0 - rng.random(m)
    day = 7 * t + (u[:, None] > cdf).sum(axis=1)
    # The earliest order hour leaves room for the session that precedes it.
    ordered = day * _DAY + _hours(rng, _ORDER_HOURS, 6, m)
    promo = cal.promo[day]

    secondary = rng.random(m) < cust["multichannel"][who]
    channel = np.where(
        secondary,
        rng.choice(len(_SHOP_CHANNELS), size=m, p=_SECONDARY_CHANNEL_PROBS),
        cust["primary_channel"][who],
    )
    quantity = 1 + rng.poisson(np.where(promo, 1.6, 1.1), m)
    distinct = 1 + rng.binomial(quantity - 1, 0.7)
    gross = np.round(quantity * cust["unit_price"][who] * rng.lognormal(0.0, 0.4, m) * 100).astype(
        np.int64
    )
    coupon = rng.random(m) < 0.05 + 0.35 * cust["price_sensitivity"][who]
    discount_rate = np.where(
        promo, rng.uniform(0.10, 0.30, m), np.where(coupon, rng.uniform(0.05, 0.20, m), 0.0)
    )
    discount = np.round(gross * discount_rate).astype(np.int64)
    # Points are worth a cent each; members spend some of the week-start balance.
    redeem = (cust["tier"][who] > 0) & (rng.random(m) < 0.1 + 0.4 * cust["dependence"][who])
    share_of_balance = state.points[who] / n_new[pos] * rng.uniform(0.5, 1.0, m)
    redeemed = np.where(
        redeem, np.floor(np.minimum(share_of_balance, 0.3 * (gross - discount))), 0
    ).astype(np.int64)
    net = gross - discount - redeemed
    earned = np.floor(net / 100 * _TIER_POINTS_PER_UNIT[cust["tier"][who]]).astype(np.int64)
    np.add.at(state.points, who, earned - redeemed)

    promised_days = rng.integers(2, 5, m)
    promised = (day + promised_days) * _DAY + 20 * 3600
    p_late = np.where(cust["unlucky"][who], 0.45, 0.05) * cal.late_risk[day]
    late = rng.random(m) < np.minimum(p_late, 0.9)
    late_by = np.round((0.5 + rng.gamma(1.5, 1.2, m)) * _DAY).astype(np.int64)
    early_by = np.round(rng.uniform(0.0, 1.5, m) * _DAY).astype(np.int64)
    delivered = np.where(
        late, promised + late_by, np.maximum(promised - early_by, ordered + 6 * 3600)
    )
    quality = rng.random(m) < np.where(promo, 0.05, 0.035)
    incident = rng.random(m) < 0.012
    bad = late | quality | incident
    np.add.at(state.n_bad, who, bad.astype(np.int64))
    delivered_week = np.minimum(delivered // _WEEK, cal.n_weeks)
    np.add.at(state.late_by_week, (who[late], delivered_week[late]), 1)
    np.maximum.at(state.quality_until, who[quality], delivered_week[quality] + 4)

    choice = np.clip(
        np.round(cust["choice_minutes"][who] * 60 * rng.lognormal(0.0, 0.7, m)), 60, 6 * 3600
    ).astype(np.int64)
    refs = state.n_orders + np.arange(m)
    state.n_orders += m
    state.orders.add(
        cust=who,
        ordered=ordered,
        gross=gross,
        discount=discount,
        redeemed=redeemed,
        earned=earned,
        promo=promo,
        channel=channel,
        quantity=quantity,
        distinct=distinct,
        promised=promised,
        delivered=delivered,
        late=late,
        quality=quality,
        incident=incident,
        choice=choice,
    )
    state.sessions.add(
        cust=who,
        started=ordered - choice,
        kind=np.full(m, _SESSION_ORDER),
        order_ref=refs,
    )

    # The iceberg: a minority of bad experiences are voiced.
    category = np.where(
        quality,
        _QUALITY,
        np.where(
            late, _DELIVERY, rng.choice([_SERVICE, _BILLING, _OTHER], m, p=[0.45, 0.4, 0.15])
        ),
    )
    p_voice = np.select([quality, late], [0.20, 0.12], 0.25) * cust["voice"][who]
    voiced = bad & (rng.random(m) < np.minimum(p_voice, 0.9))
    if voiced.any():
        c_who = who[voiced]
        c_cat = category[voiced]
        c = c_who.size
        opened = np.select(
            [c_cat == _DELIVERY, c_cat == _QUALITY],
            [
                delivered[voiced] + rng.integers(3600, 2 * _DAY, c),
                delivered[voiced] + rng.integers(4 * 3600, 4 * _DAY, c),
            ],
            ordered[voiced] + rng.integers(3600, 6 * _DAY, c),
        )
        c_channel = rng.choice(len(_COMPLAINT_CHANNELS), size=c, p=_COMPLAINT_CHANNEL_PROBS)
        in_backlog = cal.backlog[np.minimum(opened // _DAY, cal.days - 1)]
        never = rng.random(c) < _UNRESOLVED_BY_CHANNEL[c_channel] + 0.12 * in_backlog
        delay_days = (
            _RESOLVE_MEDIAN_DAYS[c_channel]
            * np.where(in_backlog, 2.0, 1.0)
            * rng.lognormal(0, 1.0, c)
        )
        resolved = np.where(never, -1, opened + np.round(delay_days * _DAY).astype(np.int64))
        slow = ~never & (delay_days > 7)
        not_premium = cust["type"][c_who] != _PREMIUM
        escalated = rng.random(c) < 0.06 + 0.08 * not_premium + 0.25 * (never | slow)
        state.complaints.add(
            cust=c_who,
            # Account problems ("other") concern no particular order.
            order_ref=np.where(c_cat == _OTHER, -1, refs[voiced]),
            opened=opened,
            category=c_cat,
            channel=c_channel,
            resolved=resolved,
            escalated=escalated,
            late_days=np.ceil((delivered - promised)[voiced] / _DAY).astype(np.int64),
        )
        # An episode of open complaints: a new one merges with one still open.
        open_day = opened / _DAY
        close_day = np.where(never, np.inf, resolved / _DAY)
        finished = state.unresolved_to[c_who] <= open_day
        state.unresolved_from[c_who[finished]] = np.inf
        state.unresolved_to[c_who[finished]] = -np.inf
        np.minimum.at(state.unresolved_from, c_who, open_day)
        np.maximum.at(state.unresolved_to, c_who, close_day)
        np.maximum.at(state.slow_resolved_at, c_who[slow], close_day[slow])


def _rate_orders(
    rng: np.random.Generator, cust: dict[str, np.ndarray], o: dict[str, np.ndarray], end: int
) -> dict[str, np.ndarray]:
    """Ratings: about 40% of orders, lower after a bad experience."""
    m = o["cust"].size
    attachment = cust["attachment"][o["cust"]]
    bad = o["late"] | o["quality"] | o["incident"]
    # The unhappy are keener to rate.
    rated = rng.random(m) < np.where(bad, 0.6, 0.38)
    score = (
        4.3
        + 0.15 * (attachment - 3.5)
        - 1.4 * o["late"]
        - 2.3 * o["quality"]
        - 0.8 * o["incident"]
        + rng.normal(0.0, 0.7, m)
    )
    rated_at = o["delivered"] + np.round(rng.lognormal(np.log(1.5), 0.8, m) * _DAY).astype(
        np.int64
    )
    rated &= rated_at < end
    delivered = np.where(o["delivered"] < end, o["delivered"], -1)
    return {
        "rating": np.where(rated, np.clip(np.round(score), 1, 5), np.nan).astype(np.float32),
        "rated_at": np.where(rated, rated_at, -1).astype(np.int32),
        "delivered": delivered.astype(np.int32),
    }


def _draw_returns(
    rng: np.random.Generator, cust: dict[str, np.ndarray], o: dict[str, np.ndarray], end: int
) -> dict[str, np.ndarray]:
    """Returns of delivered orders, far more often after a quality problem."""
    m = o["cust"].size
    p = 0.04 + 0.04 * cust["price_sensitivity"][o["cust"]] + 0.45 * o["quality"]
    returned = (rng.random(m) < p) & (o["delivered"] >= 0)
    at = o["delivered"] + rng.integers(_DAY, 14 * _DAY, m)
    returned &= at < end
    ref = np.flatnonzero(returned)
    q = o["quantity"][ref].astype(np.int64)
    whole = rng.random(ref.size) < 0.6
    q_back = np.where(whole, q, 1 + rng.binomial(q - 1, 0.4))
    net = o["gross"][ref] - o["discount"][ref] - o["redeemed"][ref]
    return {
        "cust": o["cust"][ref],
        "returned": at[ref].astype(np.int32),
        "amount": np.round(net * q_back / q).astype(np.int32),
        "order_ref": ref.astype(np.int32),
        "quantity": q_back.astype(np.int16),
    }


def _describe_sessions(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    o: dict[str, np.ndarray],
    s: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """End, page views, cart and channel of every session; order sessions follow the order."""
    n = s["cust"].size
    is_order = s["kind"] == _SESSION_ORDER
    ref = np.where(is_order, s["order_ref"], 0)
    psens = cust["price_sensitivity"][s["cust"]]
    minutes = rng.lognormal(np.log(4.0 + 6.0 * psens), 0.8, n)
    choice_min = o["choice"][ref] / 60 if o["choice"].size else np.zeros(n)
    ended = np.where(
        is_order,
        o["ordered"][ref] + rng.integers(30, 300, n) if o["ordered"].size else 0,
        s["started"] + np.round(minutes * 60).astype(np.int64) + 10,
    )
    page_views = 1 + rng.poisson(np.where(is_order, 1.0 + 0.6 * choice_min, 0.8 * minutes))
    # Carts abandoned by comparers and by sign-ups who show intent but do not buy.
    p_cart = np.where(
        s["kind"] == _SESSION_SIGNUP,
        np.where(cust["browse_only"][s["cust"]], 0.35, 0.15),
        0.10 + 0.25 * psens,
    )
    secondary = rng.random(n) < cust["multichannel"][s["cust"]]
    channel = np.where(
        secondary,
        rng.choice(len(_SHOP_CHANNELS), size=n, p=_SECONDARY_CHANNEL_PROBS),
        cust["primary_channel"][s["cust"]],
    )
    if o["channel"].size:
        channel = np.where(is_order, o["channel"][ref], channel)
    return {
        **s,
        "ended": ended.astype(np.int32),
        "page_views": page_views.astype(np.int16),
        "cart": is_order | (rng.random(n) < p_cart),
        "channel": channel.astype(np.int8),
    }


def _draw_surveys(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    o: dict[str, np.ndarray],
    churn_sec: np.ndarray,
    share: float,
    end: int,
) -> dict[str, np.ndarray]:
    """One survey for about ``share`` of ordering customers, during their relationship."""
    n = cust["type"].size
    first_order = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_order, o["cust"], o["ordered"])
    until = np.where(churn_sec >= 0, churn_sec, end)
    asked = (first_order < until) & (rng.random(n) < share)
    who = np.flatnonzero(asked)
    at = first_order[who] + np.floor(rng.random(who.size) * (until[who] - first_order[who]))
    latent = cust["attachment"][who]
    reasons = np.array(
        [schema.SURVEY_REASONS.index(_REASON_OF_TYPE[t]) for t in schema.LOYALTY_TYPES]
    )
    reason = reasons[cust["type"][who]]
    noisy = rng.random(who.size) < _SURVEY_NOISE
    other = rng.integers(1, len(schema.SURVEY_REASONS), who.size)
    reason = np.where(noisy, (reason + other) % len(schema.SURVEY_REASONS), reason)
    return {
        "cust": who.astype(np.int32),
        "surveyed": at.astype(np.int32),
        "attachment": np.clip(np.round(latent + rng.normal(0.0, 0.6, who.size)), 1, 7),
        "recommend": np.clip(np.round(1.6 * (latent - 1) + rng.normal(0, 1.3, who.size)), 0, 10),
        "reason": reason.astype(np.int8),
    }


def _resolve_complaints(
    rng: np.random.Generator, c: dict[str, np.ndarray], end: int
) -> dict[str, np.ndarray]:
    """What the customer sees by the end of the window: resolution, satisfaction, text."""
    k = c["cust"].size
    resolved = (c["resolved"] >= 0) & (c["resolved"] < end)
    delay_days = np.where(resolved, (c["resolved"] - c["opened"]) / _DAY, 0.0)
    satisfaction = (
        4.5 - 0.25 * np.minimum(delay_days, 12) - 0.6 * c["escalated"] + rng.normal(0, 0.6, k)
    )
    template = rng.integers(0, 3, k)
    late_days = np.maximum(c["late_days"], 1)
    text = np.array(
        [
            _TEXTS[cat][j].format(d=ld)
            for cat, j, ld in zip(
                c["category"].tolist(), template.tolist(), late_days.tolist(), strict=True
            )
        ],
        dtype=object,
    )
    return {
        "resolved": np.where(resolved, c["resolved"], -1),
        "satisfaction": np.where(resolved, np.clip(np.round(satisfaction), 1, 5), np.nan),
        "text": text,
    }


def _draw_referrers(
    cust: dict[str, np.ndarray], churn_sec: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Referrer of each referral customer (-1: none): an earlier customer still active.

    Mostly premium customers refer (the advocate stage); customers are in order of
    sign-up, so "signed up earlier" is a prefix of each pool.
    """
    signup = cust["signup_sec"]
    referrer = np.full(signup.size, -1, np.int64)
    buyers = ~cust["browse_only"]
    pools = (np.flatnonzero(buyers & (cust["type"] == _PREMIUM)), np.flatnonzero(buyers))
    need = np.flatnonzero(cust["acquisition"] == _REFERRAL)
    use = (rng.random(need.size) >= 0.8).astype(np.int8)  # 0: premium pool, 1: anyone
    for _ in range(10):
        if need.size == 0:
            break
        found = np.zeros(need.size, bool)
        for p, pool in enumerate(pools):
            mine = np.flatnonzero(use == p)
            earlier = np.searchsorted(signup[pool], signup[need[mine]], side="left")
            pick = np.floor(rng.random(mine.size) * earlier).astype(np.int64)
            ok = earlier > 0
            candidate = pool[np.minimum(pick, max(pool.size - 1, 0))] if pool.size else pick
            alive = (churn_sec[candidate] < 0) | (churn_sec[candidate] > signup[need[mine]])
            ok &= alive
            referrer[need[mine[ok]]] = candidate[ok]
            found[mine[ok]] = True
        need, use = need[~found], np.ones((~found).sum(), np.int8)
    return referrer


def _ids(
    prefix: str, numbers: np.ndarray, width: int, missing: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """``prefix`` + zero-padded ``numbers`` as Arrow-backed pandas strings, built in C++."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(numbers, mask=missing), pa.string()), width=width, padding="0"
    )
    return pd.array(pc.binary_join_element_wise(prefix, digits, ""), dtype=pd.StringDtype())


def _labels(
    codes: np.ndarray, labels: tuple[str, ...], missing: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """Category codes as pandas strings; ``missing`` rows become <NA>."""
    values = pc.take(pa.array(labels, pa.string()), pa.array(codes.astype(np.int32), mask=missing))
    return pd.array(values, dtype=pd.StringDtype())


def _width(minimum: int, count: int) -> int:
    return max(minimum, len(str(count)))


# Event tables, simulated per block and then sorted by time.
_EVENTS = ("orders", "sessions", "returns", "complaints", "surveys", "contacts")
# Memory DuckDB may use to sort the event tables (it spills to disk beyond it).
_SORT_MEMORY = "2GB"


def _timestamps(origin: int, sec: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Seconds from the window start as datetime64[us]; ``missing`` rows become NaT."""
    us = origin + sec.astype(np.int64) * 1_000_000
    if missing is not None:
        us = np.where(missing, np.iinfo(np.int64).min, us)
    return us.view("datetime64[us]")


def _block_rows(
    part: dict[str, dict[str, np.ndarray]],
    seen: dict[str, int],
    origin: int,
    customer_width: int,
) -> dict[str, pa.Table]:
    """One block's events in canonical form, less the ids handed out in time order.

    Every table gets ``seq`` (its row number across blocks: the tie-break of the time
    sort) and its sort key in seconds; order references become ``seq`` of the order.
    """

    def ts(sec: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
        return _timestamps(origin, sec, missing)

    def cid(rows: np.ndarray):
        return _ids("C", rows + 1, customer_width)

    def seq(name: str, n: int) -> np.ndarray:
        return np.arange(seen[name], seen[name] + n, dtype=np.int64)

    def ref(values: np.ndarray) -> np.ndarray:
        return np.where(values >= 0, values.astype(np.int64) + seen["orders"], -1)

    o, s, r, c, v, k = (part[name] for name in _EVENTS)
    contact = _contact_columns(k, origin)
    net = o["gross"] - o["discount"] - o["redeemed"]
    frames = {
        "orders": pd.DataFrame(
            {
                "seq": seq("orders", o["cust"].size),
                "key": o["ordered"],
                "customer_id": cid(o["cust"]),
                "ordered_at": ts(o["ordered"]),
                "amount": net / 100.0,
                "discount_amount": o["discount"] / 100.0,
                "promotion_day": o["promo"],
                "channel": _labels(o["channel"], _SHOP_CHANNELS),
                "quantity": o["quantity"].astype(float),
                "distinct_products": o["distinct"].astype(float),
                "promised_delivery_at": ts(o["promised"]),
                "delivered_at": ts(o["delivered"], o["delivered"] < 0),
                "rating": o["rating"].astype(float),
                "rated_at": ts(o["rated_at"], o["rated_at"] < 0),
                "points_earned": o["earned"].astype(float),
                "points_redeemed": o["redeemed"].astype(float),
            }
        ),
        "sessions": pd.DataFrame(
            {
                "seq": seq("sessions", s["cust"].size),
                "key": s["started"],
                "order_ref": ref(s["order_ref"]),
                "customer_id": cid(s["cust"]),
                "started_at": ts(s["started"]),
                "ended_at": ts(s["ended"]),
                "page_views": s["page_views"].astype(float),
                "added_to_cart": s["cart"].astype(bool),
                "channel": _labels(s["channel"], _SHOP_CHANNELS),
            }
        ),
        "returns": pd.DataFrame(
            {
                "seq": seq("returns", r["cust"].size),
                "key": r["returned"],
                "order_ref": ref(r["order_ref"]),
                "customer_id": cid(r["cust"]),
                "returned_at": ts(r["returned"]),
                "amount": r["amount"] / 100.0,
                "quantity": r["quantity"].astype(float),
            }
        ),
        "complaints": pd.DataFrame(
            {
                "seq": seq("complaints", c["cust"].size),
                "key": c["opened"],
                "order_ref": ref(c["order_ref"]),
                "customer_id": cid(c["cust"]),
                "opened_at": ts(c["opened"]),
                "category": _labels(c["category"], _CATEGORIES),
                "channel": _labels(c["channel"], _COMPLAINT_CHANNELS),
                "resolved_at": ts(c["resolved"], c["resolved"] < 0),
                "escalated": c["escalated"].astype(bool),
                "satisfaction_after": c["satisfaction"].astype(float),
                "text": pd.array(c["text"], dtype=pd.StringDtype()),
            }
        ),
        "surveys": pd.DataFrame(
            {
                "seq": seq("surveys", v["cust"].size),
                "key": v["surveyed"],
                "customer_id": cid(v["cust"]),
                "surveyed_at": ts(v["surveyed"]),
                "attachment": v["attachment"].astype(float),
                "recommend": v["recommend"].astype(float),
                "main_reason": _labels(v["reason"], schema.SURVEY_REASONS),
            }
        ),
        "contacts": pd.DataFrame(
            {
                "seq": seq("contacts", k["cust"].size),
                "key": contact["key"],
                "customer_id": cid(k["cust"]),
                "campaign": contact["campaign"],
                "contacted_at": ts(contact["key"]),
                "arm": contact["arm"],
                "play": contact["play"],
                "cost": k["cost"].astype(float),
            }
        ),
    }
    return {
        name: pa.Table.from_pandas(frame, preserve_index=False) for name, frame in frames.items()
    }


def _contact_columns(k: dict[str, np.ndarray], origin: int) -> dict[str, object]:
    """A block's contacts: time of contact, campaign (its date), arm and play labels."""
    key = k["week"].astype(np.int64) * _WEEK + k["second"]
    day = _timestamps(origin, k["week"].astype(np.int64) * _WEEK).astype("datetime64[D]")
    control = k["play"] < 0
    return {
        "key": key,
        "campaign": pd.array(day.astype(str), dtype=pd.StringDtype()),
        "arm": pd.array(np.where(control, "control", "treatment"), dtype=pd.StringDtype()),
        "play": _labels(k["play"], CAMPAIGN_PLAYS, missing=control),
    }


def _campaign_truth(k: dict[str, np.ndarray], origin: int, customer_width: int) -> pa.Table:
    """The planted effects of one block's contacts: the ground truth, never the pipeline's."""
    contact = _contact_columns(k, origin)
    frame = pd.DataFrame(
        {
            "customer_id": _ids("C", k["cust"] + 1, customer_width),
            "campaign": contact["campaign"],
            "arm": contact["arm"],
            "play": contact["play"],
            "weekly_hazard": k["hazard"],
            **{f"effect_{p}": k[f"effect_{p}"] for p in CAMPAIGN_PLAYS},
        }
    )
    return pa.Table.from_pandas(frame, preserve_index=False)


def _people(
    cust: dict[str, np.ndarray],
    region: np.ndarray,
    referrer: np.ndarray,
    truth: dict[str, np.ndarray],
    origin: int,
    customer_width: int,
) -> dict[str, pd.DataFrame]:
    """The customers table and the ground truth: one row per customer."""
    customer_id = _ids("C", np.arange(1, cust["type"].size + 1), customer_width)
    signup_at = _timestamps(origin, cust["signup_sec"])
    customers = _frame(
        schema.CUSTOMERS,
        customer_id=customer_id,
        signup_at=signup_at,
        region=_labels(region, _REGIONS),
        acquisition_channel=_labels(cust["acquisition"], _ACQUISITION_CHANNELS),
        membership_tier=_labels(cust["tier"], _TIERS),
        referred_by=_ids("C", referrer + 1, customer_width, missing=referrer < 0),
        # The simulated tier and region are fixed at signup, so they are known from then.
        attributes_observed_at=signup_at,
    )
    cause_labels = tuple(label or "" for label in _CAUSES)
    churn = truth["churn_sec"]
    frame = pd.DataFrame(
        {
            "customer_id": customer_id,
            "true_type": _labels(cust["type"], schema.LOYALTY_TYPES),
            "attachment": cust["attachment"].astype(float),
            "signup_at": signup_at,
            "churned_at": _timestamps(origin, churn, churn < 0),
            "churn_cause": _labels(truth["cause"], cause_labels, missing=truth["cause"] == 0),
            "n_bad_experiences": truth["n_bad"].astype(np.int64),
            "n_complaints": truth["n_complaints"].astype(np.int64),
        },
        copy=False,
    )
    return {"customers": customers, "truth": frame}


def _template(table: schema.Table) -> pa.Schema:
    """The Arrow schema (with pandas metadata) of a canonical table written by pandas."""
    dtypes = {
        "string": pd.StringDtype(),
        "datetime": "datetime64[us]",
        "float": "float64",
        "bool": "bool",
        "int": "int64",
    }
    empty = pd.DataFrame({c.name: pd.Series([], dtype=dtypes[c.dtype]) for c in table.columns})
    return pa.Schema.from_pandas(empty, preserve_index=False)


def _sort_events(scratch: Path, directory: Path, counts: dict[str, int]) -> dict[str, int]:
    """Sort each event table by time, hand out ids in that order, stream it to ``directory``.

    Ties in time keep the simulation's order (``seq``), as a stable sort would. Order
    references (a session's, a return's, a complaint's) become the order's id.
    """
    import duckdb

    con = duckdb.connect(
        config={"memory_limit": _SORT_MEMORY, "temp_directory": str(scratch / "spill")}
    )
    try:

        def src(name: str) -> str:
            return f"read_parquet('{scratch / name}.parquet')"

        def ident(prefix: str, rank: str, width: int) -> str:
            return f"'{prefix}' || lpad(CAST({rank} AS VARCHAR), {width}, '0')"

        ow, sw = _width(7, counts["orders"]), _width(8, counts["sessions"])
        con.execute(
            f"CREATE TEMP TABLE order_rank AS SELECT seq, "
            f"row_number() OVER (ORDER BY key, seq) AS r FROM {src('orders')}"
        )
        con.execute(
            f"CREATE TEMP TABLE session_rank AS SELECT seq, order_ref, "
            f"row_number() OVER (ORDER BY key, seq) AS r FROM {src('sessions')}"
        )

        def columns(table: schema.Table, given: dict[str, str]) -> str:
            """The table's columns in schema order: computed ones, else the block's."""
            return ", ".join(f"{given.get(c, 'e.' + c)} AS {c}" for c in table.names)

        def rank(name: str) -> str:  # ids in time order, ties in simulation order
            return "row_number() OVER (ORDER BY e.key, e.seq)"

        order_id = ident("O", "o.r", ow)
        session_id = ident("S", "s.r", sw)
        return_id = ident("R", rank("returns"), _width(6, counts["returns"]))
        complaint_id = ident("CP", rank("complaints"), _width(6, counts["complaints"]))
        complaint_order = f"CASE WHEN e.order_ref >= 0 THEN {order_id} END"
        select = {
            "orders": columns(schema.ORDERS, {"order_id": order_id, "session_id": session_id}),
            "sessions": columns(schema.SESSIONS, {"session_id": session_id}),
            "returns": columns(schema.RETURNS, {"return_id": return_id, "order_id": order_id}),
            "complaints": columns(
                schema.COMPLAINTS, {"complaint_id": complaint_id, "order_id": complaint_order}
            ),
            "surveys": columns(schema.SURVEYS, {}),
            "contacts": columns(schema.CONTACTS, {}),
        }
        by_order = "LEFT JOIN order_rank o ON o.seq = e.order_ref"
        sources = {
            "orders": f"""{src("orders")} e JOIN order_rank o USING (seq)
                LEFT JOIN session_rank s ON s.order_ref = e.seq ORDER BY o.r""",
            "sessions": f"{src('sessions')} e JOIN session_rank s USING (seq) ORDER BY s.r",
            "returns": f"{src('returns')} e {by_order} ORDER BY e.key, e.seq",
            "complaints": f"{src('complaints')} e {by_order} ORDER BY e.key, e.seq",
            "surveys": f"{src('surveys')} e ORDER BY e.key, e.seq",
            "contacts": f"{src('contacts')} e ORDER BY e.key, e.seq",
        }
        queries = {name: f"SELECT {select[name]} FROM {sources[name]}" for name in _EVENTS}
        written = {}
        for name, sql in queries.items():
            table = schema.TABLES[name]
            template = _template(table)
            with io.ParquetAppender(directory / f"{name}.parquet", template) as out:
                for batch in con.sql(sql).to_arrow_reader(_SORT_BATCH_ROWS):
                    if tuple(batch.schema.names) != table.names:
                        raise AssertionError(
                            f"table {name!r}: sorted columns {batch.schema.names} != schema "
                            f"{table.names}"
                        )
                    out.write(batch)
            written[name] = out.rows
        return written
    finally:
        con.close()


_SORT_BATCH_ROWS = 500_000


def _frame(table: schema.Table, **columns) -> pd.DataFrame:
    if tuple(columns) != table.names:
        raise AssertionError(
            f"table {table.name!r}: built columns {tuple(columns)} != schema {table.names}"
        )
    # copy=False: each column keeps its own block instead of being stacked into a copy.
    return pd.DataFrame(columns, copy=False)
