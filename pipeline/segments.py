"""Segments a retention team can act on: early warning, lapsing, lapsed, steady.

Each customer is judged against their *own* rhythm, not the shop's average: a customer
who orders every week is overdue after two silent weeks, one who orders twice a year
is not overdue after two months.

* **lapsed**: no order for ``horizon_days`` or more. They already meet the churn
  definition: a win-back case (客户再生), not retention.
* **lapsing**: overdue against their own rhythm (the whole days since their last order
  exceed their usual gap plus its usual spread), but still inside the horizon.
* **early warning**: still within their rhythm, yet the model's risk is high, or has
  risen since the previous snapshot: the churn warning system (客户流失显示系统) of the
  loyalty theory, the group a contact can still save most cheaply. Not a customer
  whose own rhythm is longer than the horizon: no order within it is their normal.
* **steady**: within their rhythm, risk neither high nor rising (or high, for a
  customer whose own rhythm is a horizon or longer).

A customer who bought on fewer than three days has no rhythm of their own yet (one gap
is none); the shop's typical rhythm (median gap and spread of its customers with one)
stands in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = ("early_warning", "lapsing", "lapsed", "steady")
SEGMENT_LABELS = {
    "early_warning": "early warning",
    "lapsing": "lapsing",
    "lapsed": "lapsed",
    "steady": "steady",
}

# The spread allowed around a rhythm is at least this share of the usual gap: a
# customer who bought on three days has two gaps and hardly a measured spread.
MIN_SPREAD_SHARE = 0.25
# Days of purchases a customer's own rhythm needs: one gap is no rhythm (two purchases
# two days apart, then 79 days of silence, read "usually every 2 days", lapsing since
# day 3: reviewed on Online Retail). Below it the shop's rhythm stands in.
MIN_RHYTHM_DAYS = 3


def usual_spread(gap: pd.Series, std: pd.Series) -> pd.Series:
    """The spread allowed around a usual gap: its spread, at least
    :data:`MIN_SPREAD_SHARE` of the gap (``gap`` already at least a day)."""
    return np.maximum(std, MIN_SPREAD_SHARE * gap)


def overdue(days: np.ndarray | pd.Series, due: np.ndarray | pd.Series):
    """Whether the days since the last order exceed the due, in whole days as the lists
    write them: a customer is overdue once the days counted as a calendar counts them
    exceed their due (reviewed: 46 lapsing rows read "21" days beside a due of 21.3)."""
    return np.floor(days) > due


def slow_rhythm(own: np.ndarray, gap: np.ndarray, horizon_days: int) -> np.ndarray:
    """A rhythm of the customer's own a horizon or longer, the gap read as the lists
    write it, to a tenth (reviewed: 89.96 read "usually every 90 days" on an early
    warning): no order within the horizon is their normal, not a warning."""
    written = np.round(np.asarray(gap, dtype=float), 1)
    return np.asarray(own, dtype=bool) & (written >= horizon_days)


def rhythm(frame: pd.DataFrame) -> pd.DataFrame:
    """Each customer's usual gap between orders and the day they become overdue.

    Parameters
    ----------
    frame
        ``days_since_last_order``, ``order_gap_mean_days`` and ``order_gap_std_days``
        per customer (gap columns missing for customers who bought on one day only),
        and ``purchase_days_total`` when known (below :data:`MIN_RHYTHM_DAYS` the
        shop's rhythm stands in).

    Returns
    -------
    DataFrame
        Same index: ``usual_gap_days`` (own mean gap between purchase days, at least
        one day, or the shop's median for customers who bought on fewer than
        :data:`MIN_RHYTHM_DAYS` days),
        ``due_days`` (usual gap plus spread; overdue after that), ``own_rhythm`` (False
        where the shop's rhythm stood in) and ``overdue_days`` (days past ``due_days``,
        0 if not overdue).

    Raises
    ------
    ValueError
        If a column is missing or ``days_since_last_order`` has missing values.
    """
    needed = ("days_since_last_order", "order_gap_mean_days", "order_gap_std_days")
    missing = [c for c in needed if c not in frame]
    if missing:
        raise ValueError(
            f"customer features: columns {missing} are needed to judge each customer's "
            f"rhythm ({len(frame)} rows; columns present: {list(frame.columns)[:12]}...)"
        )
    days = pd.to_numeric(frame["days_since_last_order"], errors="coerce")
    if days.isna().any():
        bad = frame.index[days.isna()][:5].tolist()
        raise ValueError(
            f"customer features: days_since_last_order is missing for {int(days.isna().sum())} "
            f"of {len(frame)} rows (index {bad}); every scored customer has an order"
        )
    gap = pd.to_numeric(frame["order_gap_mean_days"], errors="coerce").clip(lower=1.0)
    spread = usual_spread(gap, pd.to_numeric(frame["order_gap_std_days"], errors="coerce"))
    own = gap.notna()
    if "purchase_days_total" in frame:  # unknown counts keep the gap they have
        days_bought = pd.to_numeric(frame["purchase_days_total"], errors="coerce")
        own &= days_bought.isna() | (days_bought >= MIN_RHYTHM_DAYS)
    shop_gap = float(gap[own].median()) if own.any() else np.nan
    shop_spread = float(spread[own].median()) if own.any() else np.nan
    gap = gap.where(own, shop_gap)
    spread = spread.where(own, shop_spread)
    due = gap + spread
    return pd.DataFrame(
        {
            "usual_gap_days": gap,
            "due_days": due,
            "own_rhythm": own,
            "overdue_days": (np.floor(days) - due).clip(lower=0.0),  # as overdue()
        },
        index=frame.index,
    )


def assign_segments(
    frame: pd.DataFrame,
    *,
    horizon_days: int,
    high_risk: float,
    rising_by: float,
    rising_floor: float,
) -> pd.Series:
    """One segment per customer (see the module docstring).

    Parameters
    ----------
    frame
        ``days_since_last_order``, ``due_days`` (from :func:`rhythm`),
        ``churn_probability`` and ``churn_probability_prev`` (the same model's
        probability at the previous snapshot; missing for customers not in it).
    horizon_days
        The churn horizon: no order for this long means lapsed.
    high_risk
        Probability from which the risk counts as high.
    rising_by
        Rise in probability since the previous snapshot that counts as rising.
    rising_floor
        A rise only counts from this probability on (0.05 -> 0.21 is no warning).

    Returns
    -------
    Series
        ``segment``: one of :data:`SEGMENTS`.
    """
    days = frame["days_since_last_order"].to_numpy(dtype=float)
    due = frame["due_days"].to_numpy(dtype=float)
    p = frame["churn_probability"].to_numpy(dtype=float)
    prev = frame["churn_probability_prev"].to_numpy(dtype=float)
    lapsed = days >= horizon_days
    late = overdue(days, due)
    with np.errstate(invalid="ignore"):
        rising = (p - prev >= rising_by) & (p >= rising_floor)
    warning = (p >= high_risk) | rising
    if "usual_gap_days" in frame and "own_rhythm" in frame:
        # a customer whose own rhythm is longer than the horizon is not expected to
        # order within it: a high "no order in 90 days" is their normal, not a warning
        # (reviewed on Online Retail: 146 of 393 on the call list, 16 of its top 30,
        # bought every 90+ days, "on schedule" beside an early warning)
        warning &= ~slow_rhythm(frame["own_rhythm"], frame["usual_gap_days"], horizon_days)
    segment = np.select(
        [lapsed, late, warning],
        ["lapsed", "lapsing", "early_warning"],
        default="steady",
    )
    return pd.Series(segment, index=frame.index, name="segment")
