"""Cutoffs, churn labels and the time-ordered split.

The churn definition is the non-contractual one: at cutoff ``c`` the population is the
customers with an order in ``[c - lookback, c)``, and a customer has churned when they
place no order in ``[c, c + horizon)``. Labels read only orders at or after ``c``;
features (``pipeline.features``) read only events before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd


@dataclass(frozen=True)
class Cutoffs:
    """The snapshot grid of one run, oldest first, and the scoring date."""

    labelled: tuple[pd.Timestamp, ...]
    score: pd.Timestamp
    every_days: int
    horizon_days: int

    @property
    def test(self) -> pd.Timestamp:
        return self.labelled[-1]

    def split(
        self, test: pd.Timestamp, *, validation_cutoffs: int = 1
    ) -> tuple[tuple[pd.Timestamp, ...], tuple[pd.Timestamp, ...]]:
        """(train, valid) cutoffs for a test cutoff: strictly time-ordered, no overlap.

        Validation labels (``[v, v + horizon)``) must end by the test cutoff, and
        training labels by the first validation cutoff, or the model would learn from
        the very window it is judged on.

        Raises
        ------
        ValueError
            If no training cutoff is left before ``test``.
        """
        step = pd.Timedelta(days=self.every_days)
        gap = step * -(-self.horizon_days // self.every_days)
        valid = tuple(test - gap - step * k for k in range(validation_cutoffs))[::-1]
        train = tuple(c for c in self.labelled if c <= valid[0] - gap)
        if not train:
            raise ValueError(
                f"test cutoff {test:%Y-%m-%d}: no training cutoff on or before "
                f"{valid[0] - gap:%Y-%m-%d}; the data is too short for horizon "
                f"{self.horizon_days} d (lower snapshots.min_history_days or "
                "churn.horizon_days)"
            )
        missing = [c for c in valid if c not in self.labelled]
        if missing:
            raise ValueError(f"validation cutoff(s) {missing} are not on the snapshot grid")
        return train, valid


def plan_cutoffs(
    first_order_at: pd.Timestamp,
    last_order_at: pd.Timestamp,
    *,
    horizon_days: int,
    every_days: int,
    min_history_days: int,
    as_of: pd.Timestamp | None = None,
) -> Cutoffs:
    """Lay the snapshot grid back from the last cutoff whose horizon is fully observed.

    Parameters
    ----------
    first_order_at, last_order_at
        The span of the orders (before ``as_of`` when it is given).
    horizon_days
        Churn horizon.
    every_days
        Spacing of the snapshot grid.
    min_history_days
        No cutoff earlier than this many days after the first order.
    as_of
        Scoring date. Default: midnight after the last order. Only data before it is
        used, so the last labelled cutoff is ``as_of - horizon`` at most.

    Returns
    -------
    Cutoffs

    Raises
    ------
    ValueError
        If there is no order (before ``as_of``), or not even one cutoff fits.
    """
    if pd.isna(first_order_at) or pd.isna(last_order_at):
        if as_of is not None:
            raise ValueError(
                f"no order before score.as_of {as_of:%Y-%m-%d}: every accepted order is on "
                "or after it. Set score.as_of (a quoted date) after the first order, or "
                "null to score as of the day after the last order"
            )
        raise ValueError(
            "no accepted order: the canonical orders table is empty (every order set "
            "aside or quarantined?). See reports/ledger.json and data/ledger/"
        )
    last_day = last_order_at.normalize()
    score = as_of.normalize() if as_of is not None else last_day + pd.Timedelta(days=1)
    # The last day of the data may be partial (an export at noon): a horizon is only
    # fully observed if it ends by the start of that day, or by as_of when given.
    label_end = score if as_of is not None else last_day
    last = label_end - pd.Timedelta(days=horizon_days)
    earliest = first_order_at.normalize() + pd.Timedelta(days=min_history_days)
    n = int((last - earliest) // pd.Timedelta(days=every_days)) + 1 if last >= earliest else 0
    if n <= 0:
        raise ValueError(
            f"orders span {first_order_at:%Y-%m-%d} .. {last_order_at:%Y-%m-%d}: no cutoff "
            f"has {min_history_days} d of history behind it and a full {horizon_days} d "
            "horizon after it"
        )
    grid = tuple(last - pd.Timedelta(days=every_days * k) for k in range(n))[::-1]
    return Cutoffs(labelled=grid, score=score, every_days=every_days, horizon_days=horizon_days)


def cutoff_table(cutoffs: tuple[pd.Timestamp, ...] | list[pd.Timestamp]) -> pd.DataFrame:
    """A one-column frame of cutoffs, ready to hand to a backend."""
    return pd.DataFrame({"cutoff": pd.to_datetime(list(cutoffs)).astype("datetime64[us]")})


def churn_labels(
    orders: ir.Table,
    population: ir.Table,
    *,
    horizon_days: int,
    returns: ir.Table | None = None,
) -> ir.Table:
    """What each customer of the population did in ``[c, c + horizon)``.

    Parameters
    ----------
    orders
        Canonical orders.
    population
        ``customer_id``, ``cutoff`` pairs to label.
    horizon_days
        Length of the churn window.
    returns
        Canonical returns, when the shop has them: their amounts come off the spend.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``cutoff``, ``churned`` (int8: 1 when the customer placed no
        order in the window) and ``future_spend`` (float64: what they spent in it, net of
        returns made in it; the value model's target).
    """
    p = population.select("customer_id", "cutoff")
    o = orders.select(o_cid=orders.customer_id, o_at=orders.ordered_at, o_amount=orders.amount)
    j = p.left_join(o, [p.customer_id == o.o_cid, *_within(o.o_at, p.cutoff, horizon_days)])
    a = j.group_by(["customer_id", "cutoff"]).aggregate(
        future_orders=j.o_at.count(), future_spend=j.o_amount.sum()
    )
    a = a.mutate(future_spend=a.future_spend.fill_null(0.0).cast("float64"))
    if returns is not None:
        r = returns.select(
            r_cid=returns.customer_id, r_at=returns.returned_at, r_amount=returns.amount
        )
        rj = p.left_join(r, [p.customer_id == r.r_cid, *_within(r.r_at, p.cutoff, horizon_days)])
        back = rj.group_by(b_cid=rj.customer_id, b_cutoff=rj.cutoff).aggregate(
            returned=rj.r_amount.sum()
        )
        a = a.left_join(back, [a.customer_id == back.b_cid, a.cutoff == back.b_cutoff])
        a = a.mutate(future_spend=a.future_spend - a.returned.fill_null(0.0))
    return a.select(
        "customer_id",
        "cutoff",
        churned=(a.future_orders == 0).cast("int8"),
        future_spend=a.future_spend,
    )


def _within(at: ir.TimestampValue, cutoff: ir.TimestampValue, days: int) -> list[ir.BooleanValue]:
    return [at >= cutoff, at < cutoff + ibis.interval(days=days)]
