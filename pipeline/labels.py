"""Cutoffs, churn labels and the time-ordered split.

The churn definition is the non-contractual one: at cutoff ``c`` the population is the
customers with an order in ``[c - lookback, c)``, and a customer has churned when they
place no order in ``[c, c + horizon)``. Labels read only orders at or after ``c``;
features (``pipeline.features``) read only events before it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from pipeline.features import MONEY_UNITS, to_units

log = logging.getLogger(__name__)


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

    Orders are paired with the few cutoffs whose horizon holds them (a bounded range
    join: each order meets at most ``horizon / every_days + 1`` cutoffs), summed per
    customer and cutoff in exact money units, then matched to the population.

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
    cutoffs = p.select("cutoff").distinct()
    bought = _in_horizon(orders, cutoffs, "ordered_at", horizon_days)
    a = _left(p, _per_customer(bought, future_orders=bought.count(), money=bought.money.sum()))
    money = a.money.fill_null(0)
    if returns is not None:
        back = _in_horizon(returns, cutoffs, "returned_at", horizon_days)
        a = _left(a, _per_customer(back, returned=back.money.sum()))
        money = money - a.returned.fill_null(0)
    return a.select(
        "customer_id",
        "cutoff",
        churned=(a.future_orders.fill_null(0) == 0).cast("int8"),
        future_spend=(money / MONEY_UNITS).cast("float64"),
    )


def _in_horizon(events: ir.Table, cutoffs: ir.Table, time_col: str, days: int) -> ir.Table:
    """Each event paired with the cutoffs whose horizon ``[c, c + days)`` holds it."""
    e = events.select(
        e_cid=events.customer_id, e_at=events[time_col], money=to_units(events.amount)
    )
    return e.join(
        cutoffs, [e.e_at >= cutoffs.cutoff, e.e_at < cutoffs.cutoff + ibis.interval(days=days)]
    )


def _per_customer(joined: ir.Table, **metrics: ir.Scalar) -> ir.Table:
    return joined.group_by(l_cid=joined.e_cid, l_cutoff=joined.cutoff).aggregate(**metrics)


def _left(population: ir.Table, per_customer: ir.Table) -> ir.Table:
    j = population.left_join(
        per_customer,
        [
            population.customer_id == per_customer.l_cid,
            population.cutoff == per_customer.l_cutoff,
        ],
    )
    return j.drop("l_cid", "l_cutoff")


# --- the training split and sample (the features stage draws the sample, train uses it)


@dataclass(frozen=True)
class Split:
    """The cutoffs a model shipped for ``at`` learns from."""

    at: pd.Timestamp
    train: tuple[pd.Timestamp, ...]
    valid: tuple[pd.Timestamp, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "shipped_for": str(self.at.date()),
            "train_cutoffs": [str(c.date()) for c in self.train],
            "validation_cutoffs": [str(c.date()) for c in self.valid],
            "labels_end_by": str(self.at.date()),
        }


def split_for(cuts: Cutoffs, at: pd.Timestamp, *, validation_cutoffs: int = 1) -> Split:
    """Training and validation cutoffs for a model shipped for ``at``.

    Raises
    ------
    ValueError
        If fewer than ``validation_cutoffs`` labelled cutoffs end by ``at``, or no
        training cutoff ends by the first validation cutoff; the message says which
        parameter to change.
    """
    horizon = pd.Timedelta(days=cuts.horizon_days)
    ended = [c for c in cuts.labelled if c + horizon <= at]
    if len(ended) < validation_cutoffs:
        raise ValueError(
            f"a model for {at:%Y-%m-%d} needs {validation_cutoffs} validation cutoff(s) whose "
            f"{cuts.horizon_days}-day horizon ends by then; only {len(ended)} do. Lower "
            "snapshots.min_history_days or churn.horizon_days, or score a later date"
        )
    valid = tuple(ended[-validation_cutoffs:])
    train = tuple(c for c in cuts.labelled if c + horizon <= valid[0])
    if not train:
        raise ValueError(
            f"a model for {at:%Y-%m-%d}: no training cutoff on or before "
            f"{valid[0] - horizon:%Y-%m-%d} (the validation cutoff {valid[0]:%Y-%m-%d} minus "
            f"the horizon); the data is too short for horizon {cuts.horizon_days} d (lower "
            "snapshots.min_history_days or churn.horizon_days)"
        )
    return Split(at=at, train=train, valid=valid)


def sample_rows(frame: pd.DataFrame, *, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows, stratified by cutoff and churn label (seeded).

    Every (cutoff, label) cell keeps the same share of its rows, so the churn rate and
    the mix of cutoffs the model learns from are those of the full table.
    """
    if len(frame) <= max_rows:
        return frame
    keep = stratified_keep(frame, max_rows / len(frame), np.random.default_rng(seed))
    log.info("training on a stratified sample of %d of %d rows", keep.sum(), len(frame))
    return frame[keep]


def stratified_keep(
    frame: pd.DataFrame,
    share: float,
    rng: np.random.Generator,
    *,
    floor: bool = False,
    by: tuple[str, ...] = ("cutoff", "churned"),
) -> np.ndarray:
    """A mask keeping ``share`` of every cell of ``by`` (cutoff and label), drawn with ``rng``."""
    keep = np.zeros(len(frame), dtype=bool)
    cells = frame.groupby(list(by), sort=True, observed=True, dropna=False).indices
    for rows in cells.values():
        n = int(len(rows) * share) if floor else int(round(len(rows) * share))
        keep[rng.choice(rows, size=n, replace=False)] = True
    return keep
