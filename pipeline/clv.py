"""BG/NBD by maximum likelihood, fast enough to fit at every snapshot cutoff.

The buy-till-you-die model (Fader, Hardie & Lee 2005) needs only three numbers per
customer: repeat purchase occasions ``x``, the time of the last one ``t_x`` and the age
``T``, all measured from the first purchase. Its posterior P(alive) and probability
of no purchase in the horizon are strong churn signals on orders-only data, so the
churn model gets them as features: at each cutoff the model is fitted on every customer
with an order before that cutoff (a seeded sample of them in a large shop) and
evaluated for the cutoff's population. No label and nothing after the cutoff enters.

pymc-marketing's ``BetaGeoModel`` (used for the BG/NBD baseline, see
``pipeline.baselines``) gives the same estimates (tested), but takes seconds per fit
and more to compile; a feature computed at two dozen cutoffs of a million customers
needs a closed-form likelihood and a quasi-Newton optimiser, which is what this is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln

log = logging.getLogger(__name__)

# Columns of the feature table the BG/NBD inputs come from.
INPUTS = ("purchase_days_total", "first_order_age_days", "days_since_last_order")
FEATURES = ("bgnbd_p_alive", "bgnbd_p_no_purchase", "bgnbd_orders_per_30d_if_alive")
# A fit on more customers than this uses a seeded sample: four parameters are
# estimated to three digits long before that, and the fit stays under a second.
MAX_FIT_ROWS = 50_000
_START = np.log([1.0, 30.0, 1.0, 10.0])


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters (Fader, Hardie & Lee 2005); time in days.

    Purchase rate ``lambda ~ Gamma(shape=r, rate=alpha)``; after every repeat purchase a
    customer drops out with probability ``p ~ Beta(a, b)``.
    """

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")

    def to_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> BgNbd:
        missing = [k for k in ("r", "alpha", "a", "b") if k not in data]
        if missing:
            raise ValueError(f"BG/NBD parameters lack {missing}")
        return cls(*(float(data[k]) for k in ("r", "alpha", "a", "b")))

    def log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        repeat = x > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = (
                np.log(self.a)
                - np.log(np.where(repeat, self.b + x - 1.0, 1.0))
                + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
            )
        # Dropout happens only after a repeat purchase: a one-time buyer is alive.
        return np.where(repeat, odds, -np.inf)

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return 1.0 - expit(self.log_odds_dead(x, t_x, T))

    def p_no_purchase(
        self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, horizon_days: float
    ) -> np.ndarray:
        """P(no purchase in ``(T, T + horizon]``): dead, or alive and quiet.

        With ``x`` = repeat purchases, ``t_x`` = time of the last, ``T`` = age and ``t`` =
        the horizon (Fader, Hardie & Lee 2008, "Computing P(alive) using the BG/NBD
        model"; Fader & Hardie 2019, eq. 34 with y = 0)::

            odds(dead) = [x > 0] * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
            P(no purchase) = P(dead) + P(alive) * ((alpha + T) / (alpha + T + t)) ** (r + x)

        The last factor is ``E[exp(-lambda t)]`` under an active customer's posterior
        rate. A customer with no repeat purchase cannot have dropped out (dropout comes
        only after a repeat purchase); pymc-marketing 0.19's
        ``expected_probability_no_purchase`` leaves out that ``[x > 0]`` and overstates it
        for one-time buyers, which is why it is computed here.

        Returns
        -------
        numpy.ndarray
            Probabilities in [0, 1]; NaN where an input is NaN (no order before the
            cutoff).

        Raises
        ------
        ValueError
            If ``horizon_days`` is not positive or the known inputs are inconsistent.
        """
        if not (np.isfinite(horizon_days) and horizon_days > 0):
            raise ValueError(f"horizon_days must be a positive number, got {horizon_days!r}")
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        known = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T)
        check_inputs(x[known], t_x[known], T[known])
        alive = self.p_alive(x, t_x, T)
        quiet = np.exp(
            (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + T + horizon_days))
        )
        out = np.clip((1.0 - alive) + alive * quiet, 0.0, 1.0)
        out[~known] = np.nan
        return out

    def rate_if_alive(self, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Posterior mean purchase rate per day of a customer who is still alive."""
        return (self.r + x) / (self.alpha + T)


def _negative_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[float, np.ndarray]:
    """Minus the BG/NBD log-likelihood and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    x1 = np.maximum(x - 1.0, 0.0)
    log_a_t, log_a_tx = np.log(alpha + T), np.log(alpha + t_x)
    quiet = betaln(a, b + x) - betaln(a, b) - (r + x) * log_a_t
    dropped = np.where(
        repeat, betaln(a + 1.0, b + x1) - betaln(a, b) - (r + x) * log_a_tx, -np.inf
    )
    mix = np.logaddexp(quiet, dropped)
    value = np.sum(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + mix)
    w_quiet, w_dropped = np.exp(quiet - mix), np.exp(dropped - mix)

    psi_abx, psi_ab = digamma(a + b + x), digamma(a + b)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w_quiet * log_a_t - w_dropped * log_a_tx
    d_alpha = r / alpha - (r + x) * (w_quiet / (alpha + T) + w_dropped / (alpha + t_x))
    d_a = w_quiet * (psi_ab - psi_abx) + w_dropped * (
        digamma(a + 1.0) - psi_abx - digamma(a) + psi_ab
    )
    d_b = w_quiet * (digamma(b + x) - psi_abx - digamma(b) + psi_ab) + w_dropped * (
        digamma(b + x1) - psi_abx - digamma(b) + psi_ab
    )
    grad = np.array([d_r.sum() * r, d_alpha.sum() * alpha, d_a.sum() * a, d_b.sum() * b])
    return -float(value), -grad


def check_inputs(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``0 <= t_x <= T``, ``x`` a count, ``t_x = 0`` when x = 0."""
    bad = (
        ~np.isfinite(x)
        | ~np.isfinite(t_x)
        | ~np.isfinite(T)
        | (x < 0)
        | (x != np.floor(x))
        | (t_x < 0)
        | (t_x > T + 1e-9)
        | ((x == 0) & (t_x > 1e-9))
    )
    if bad.any():
        idx = np.flatnonzero(bad)[:5]
        raise ValueError(
            f"BG/NBD inputs break 0 <= t_x <= T, x a count >= 0, t_x = 0 when x = 0 in "
            f"{int(bad.sum())} rows, e.g. x={x[idx].tolist()}, t_x={t_x[idx].tolist()}, "
            f"T={T[idx].tolist()}"
        )


def fit_bgnbd(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, seed: int = 0, max_rows: int = MAX_FIT_ROWS
) -> BgNbd:
    """Maximum-likelihood BG/NBD.

    Parameters
    ----------
    x, t_x, T
        Repeat purchase occasions, time of the last purchase and age, in days from the
        first purchase; one entry per customer.
    seed
        Seeds the sample drawn when there are more than ``max_rows`` customers.
    max_rows
        Largest number of customers used for the fit.

    Returns
    -------
    BgNbd

    Raises
    ------
    ValueError
        If the inputs are inconsistent (see :func:`check_inputs`), or no customer made
        a repeat purchase (dropout is then not identified).
    RuntimeError
        If the optimiser does not converge to finite parameters.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    check_inputs(x, t_x, T)
    if not (x > 0).any():
        raise ValueError(
            f"no repeat purchase among {len(x)} customers: BG/NBD cannot estimate dropout"
        )
    if len(x) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_rows, replace=False))
        x, t_x, T = x[keep], t_x[keep], T[keep]
    result = minimize(
        _negative_log_likelihood,
        _START,
        args=(x, t_x, T),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-12.0, 12.0)] * 4,
        options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-6},
    )
    params = np.exp(result.x)
    if not np.isfinite(result.fun) or not np.isfinite(params).all():
        raise RuntimeError(f"BG/NBD fit did not converge: {result.message}")
    return BgNbd(*(float(v) for v in params))


def inputs_from_features(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD's ``x``, ``t_x``, ``T`` (days) from point-in-time feature columns."""
    x = frame["purchase_days_total"].to_numpy(dtype=float) - 1.0
    T = frame["first_order_age_days"].to_numpy(dtype=float)
    t_x = T - frame["days_since_last_order"].to_numpy(dtype=float)
    # one purchase day: the last purchase is the first (orders minutes apart included)
    t_x = np.where(x > 0, np.clip(t_x, 0.0, T), 0.0)
    return x, t_x, T


def sample_customers(customer_ids: pd.Series, *, max_customers: int, seed: int) -> pd.Series:
    """At most ``max_customers`` distinct ids, a seeded sample of the sorted ids."""
    ids = pd.Series(np.sort(customer_ids.dropna().unique()))
    if len(ids) <= max_customers:
        return ids
    return ids.sample(n=max_customers, random_state=seed).sort_values(ignore_index=True)


def fit_at_cutoffs(
    orders: pd.DataFrame,
    cutoffs: list[pd.Timestamp],
    *,
    seed: int = 0,
) -> dict[pd.Timestamp, BgNbd | None]:
    """BG/NBD fitted at each cutoff on every customer with an order before it.

    The whole customer base with any history, not only the customers active in the
    lookback: the dead are what dropout is estimated from (fitting on the recently
    active alone gave Online Retail's cutoffs 0.005 less AUC). Pass the orders of a
    sample of customers (:func:`sample_customers`) when there are many.

    Parameters
    ----------
    orders
        ``customer_id``, ``ordered_at``.
    cutoffs
        The cutoffs to fit at; each fit reads only the orders before its cutoff.
    seed
        Seeds the fit's own sample above :data:`MAX_FIT_ROWS` customers.

    Returns
    -------
    dict
        Cutoff -> the fitted model, or None when no customer had a repeat purchase
        before it.
    """
    models: dict[pd.Timestamp, BgNbd | None] = {}
    for cutoff in cutoffs:
        summary = bgnbd_summary(orders[orders["ordered_at"] < cutoff], cutoff=cutoff)
        x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        try:
            models[cutoff] = fit_bgnbd(x, t_x, T, seed=seed)
        except ValueError as err:
            log.warning("no BG/NBD features at %s: %s", cutoff.date(), err)
            models[cutoff] = None
    return models


def bgnbd_features(frame: pd.DataFrame, model: BgNbd | None, *, horizon_days: int) -> pd.DataFrame:
    """BG/NBD's view of each customer at one cutoff, as three features.

    Parameters
    ----------
    frame
        The rows of ONE cutoff, with :data:`INPUTS`.
    model
        BG/NBD fitted at that cutoff (:func:`fit_at_cutoffs`); None leaves the features
        empty (LightGBM's missing).
    horizon_days
        The churn horizon.

    Returns
    -------
    DataFrame
        Same index: :data:`FEATURES`.
    """
    out = pd.DataFrame(index=frame.index, columns=list(FEATURES), dtype="float64")
    if frame.empty or model is None:
        return out
    x, t_x, T = inputs_from_features(frame)
    out["bgnbd_p_alive"] = model.p_alive(x, t_x, T)
    out["bgnbd_p_no_purchase"] = model.p_no_purchase(x, t_x, T, horizon_days=horizon_days)
    out["bgnbd_orders_per_30d_if_alive"] = 30.0 * model.rate_if_alive(x, T)
    return out


# --- BG/NBD's inputs: frequency, recency and age per customer at a cutoff ---------------

SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T")


def _purchase_days(
    ids: pd.Series, at: pd.Series, cutoff: pd.Timestamp, wanted: ArrayLike | None
) -> pd.DataFrame:
    """Per customer with an order before ``cutoff``: first and last purchase day and the
    number of distinct purchase days, indexed by customer id in sorted order.

    One sort of (customer, day) integer keys instead of a string group-by: at a million
    customers and 14 million orders it takes seconds, and the summary is computed a
    dozen times per training run. A categorical ``ids`` (the train stage reads its
    orders that way) skips hashing the strings; ``wanted`` then narrows the orders to
    those customers first.
    """
    keep = (at < cutoff).to_numpy(copy=True)
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes, labels = ids.cat.codes.to_numpy(), ids.cat.categories
        if wanted is not None:
            allowed = np.zeros(len(labels) + 1, dtype=bool)
            found = labels.get_indexer(pd.Index(wanted))
            allowed[found[found >= 0]] = True
            keep &= allowed[codes]
        codes = codes[keep]
    else:
        codes, labels = pd.factorize(ids[keep])
    tz = getattr(at.dtype, "tz", None)
    # calendar days of the local wall time (what Series.dt.normalize keeps)
    local = at[keep].dt.tz_localize(None) if tz is not None else at[keep]
    day = local.to_numpy().astype("datetime64[D]").astype(np.int64)
    if day.size == 0:
        return pd.DataFrame(
            {"first": at[:0].to_numpy(), "last": at[:0].to_numpy(), "n_days": day[:0]},
            index=pd.Index(labels[:0], name="customer_id"),
        )
    low = int(day.min())
    # sorted (customer, day) keys, each once (an explicit sort: NumPy's hash-based
    # unique is several times slower on 14 million keys)
    keys = np.sort((codes.astype(np.int64) << 32) | (day - low))
    unique = keys[np.r_[True, keys[1:] != keys[:-1]]]
    code = unique >> 32
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    ends = np.r_[starts[1:] - 1, len(unique) - 1]
    days = (unique & 0xFFFFFFFF) + low
    order = np.argsort(np.asarray(labels[code[starts]], dtype=object), kind="stable")

    def stamps(d: np.ndarray) -> pd.DatetimeIndex:
        values = pd.DatetimeIndex(d[order].astype("datetime64[D]").astype(local.dtype))
        return values.tz_localize(tz) if tz is not None else values

    index = pd.Index(labels[code[starts][order]], name="customer_id")
    if not isinstance(ids.dtype, pd.CategoricalDtype):
        index = index.astype(ids.dtype)
    return pd.DataFrame(
        {
            "first": stamps(days[starts]),
            "last": stamps(days[ends]),
            "n_days": np.diff(np.r_[starts, len(unique)])[order],
        },
        index=index,
    )


def bgnbd_summary(
    orders: pd.DataFrame,
    *,
    cutoff: pd.Timestamp,
    customer_ids: ArrayLike | None = None,
    time_unit_days: float = 1.0,
) -> pd.DataFrame:
    """Frequency, recency and age per customer as of ``cutoff``, the BG/NBD model's input.

    Only orders with ``ordered_at < cutoff`` are used. Purchases are counted by calendar
    day (several orders on one day are one purchase), as in ``lifetimes``'
    ``summary_data_from_transaction_data`` with ``freq="D"``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Columns ``customer_id`` and ``ordered_at`` (datetime); other columns are ignored.
    cutoff : pandas.Timestamp
        The as-of date; orders at or after it are the future and are ignored.
    customer_ids : array-like, optional
        Return exactly these customers, in this order. Those without an order before
        ``cutoff`` get NaN in every column (BG/NBD is undefined before a first purchase).
        By default: every customer with an order before ``cutoff``, sorted by id.
    time_unit_days : float, default 1.0
        Length of the model's time unit in days (7.0 for weeks).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``; ``frequency``: distinct purchase days before ``cutoff`` minus 1
        (repeat purchases); ``recency`` (t_x): time from the first to the last purchase
        day; ``T``: time from the first purchase day to ``cutoff``. The last three are
        float64, in ``time_unit_days`` units.

    Raises
    ------
    ValueError
        If ``orders`` lacks a column, ``ordered_at`` is not datetime or has missing
        values, ``customer_id`` has missing values, ``cutoff`` is missing or its time
        zone does not match ``ordered_at``'s, ``customer_ids`` repeats an id, or
        ``time_unit_days`` is not positive.
    """
    missing = [c for c in ("customer_id", "ordered_at") if c not in orders.columns]
    if missing:
        raise ValueError(f"orders lacks columns {missing}; it has {list(orders.columns)[:10]}")
    if not (np.isfinite(time_unit_days) and time_unit_days > 0):
        raise ValueError(f"time_unit_days must be a positive number, got {time_unit_days!r}")
    ordered_at = orders["ordered_at"]
    if not pd.api.types.is_datetime64_any_dtype(ordered_at.dtype):
        raise ValueError(f"orders.ordered_at must be datetime, got dtype {ordered_at.dtype}")
    for column in ("customer_id", "ordered_at"):
        nulls = orders[column].isna()
        if nulls.any():
            raise ValueError(
                f"orders.{column} has {int(nulls.sum())} missing values, "
                f"e.g. at rows {orders.index[nulls][:5].tolist()}"
            )
    cutoff = pd.Timestamp(cutoff)
    if pd.isna(cutoff):
        raise ValueError("cutoff is missing (NaT)")
    column_tz = getattr(ordered_at.dtype, "tz", None)
    if (cutoff.tz is None) != (column_tz is None):
        raise ValueError(
            f"cutoff time zone {cutoff.tz} does not match orders.ordered_at time zone {column_tz}"
        )

    per_customer = _purchase_days(orders["customer_id"], ordered_at, cutoff, customer_ids)
    one_unit = pd.Timedelta(days=1) * time_unit_days
    summary = pd.DataFrame(
        {
            "frequency": (per_customer["n_days"] - 1).astype("float64"),
            "recency": (per_customer["last"] - per_customer["first"]) / one_unit,
            "T": (cutoff - per_customer["first"]) / one_unit,
        },
        index=per_customer.index,
    )
    if customer_ids is not None:
        wanted = pd.Index(customer_ids, name="customer_id")
        if wanted.has_duplicates:
            dupes = wanted[wanted.duplicated()].unique()[:5].tolist()
            raise ValueError(f"customer_ids repeats ids, e.g. {dupes}")
        summary = summary.reindex(wanted)
        n_without = int(summary["T"].isna().sum())
        if n_without:
            log.info(
                "%d of %d customers have no order before %s: BG/NBD inputs are NaN",
                n_without,
                len(wanted),
                cutoff,
            )
    summary.index.name = "customer_id"
    return summary.astype("float64").reset_index()[list(SUMMARY_COLUMNS)]
