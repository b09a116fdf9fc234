"""How good is a churn score: ranking, calibration, lift and expected retention profit.

Every function is pure: arrays in, numbers or small DataFrames out. Nothing here reads
or writes a file or draws a plot; the evaluate stage writes the frames as CSV for
``dvc plots`` and the numbers as JSON for ``dvc metrics``.

Convention throughout: ``y_true`` is 1 for a churner (the positive class) and ``p`` is
the score, higher meaning more likely to churn.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special
from sklearn.metrics import average_precision_score, roc_auc_score

if TYPE_CHECKING:
    from pipeline.config import Params

logger = logging.getLogger(__name__)

BinStrategy = Literal["quantile", "uniform"]

# Probabilities are clipped this far from 0 and 1 before taking logs: one confident
# mistake would otherwise make the log loss infinite and hide every other difference.
LOG_LOSS_EPS = 1e-15

DEFAULT_MAX_POINTS = 200


def _as_labels_and_scores(
    y_true: ArrayLike, p: ArrayLike, *, probabilities: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``y_true`` (0/1) and ``p`` (finite scores) to 1-D arrays."""
    y = np.asarray(y_true)
    s = np.asarray(p, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y.shape}")
    if s.ndim != 1:
        raise ValueError(f"p must be 1-D, got shape {s.shape}")
    if y.shape[0] != s.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} rows but p has {s.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError("y_true and p are empty")
    if y.dtype == bool:
        y = y.astype(np.int64)
    bad_labels = ~np.isin(y, (0, 1))
    if bad_labels.any():
        raise ValueError(
            f"y_true must hold only 0 and 1; {int(bad_labels.sum())} rows do not, "
            f"e.g. {np.unique(y[bad_labels])[:5].tolist()}"
        )
    y = y.astype(np.int64)
    bad_scores = ~np.isfinite(s)
    if bad_scores.any():
        raise ValueError(
            f"p must be finite; {int(bad_scores.sum())} rows are not, "
            f"e.g. {s[bad_scores][:5].tolist()}"
        )
    if probabilities:
        outside = (s < 0.0) | (s > 1.0)
        if outside.any():
            raise ValueError(
                f"p must be probabilities in [0, 1]; {int(outside.sum())} rows are not, "
                f"e.g. {s[outside][:5].tolist()}"
            )
    return y, s


def _require_both_classes(y: np.ndarray) -> None:
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.shape[0]:
        raise ValueError(
            f"y_true must contain both churners (1) and non-churners (0); "
            f"got {n_pos} churners out of {y.shape[0]} rows"
        )


def _order_by_score(p: np.ndarray) -> np.ndarray:
    """Indices from highest to lowest score; ties keep their input order (stable sort)."""
    return np.argsort(-p, kind="stable")


def _top_share_lift(y: np.ndarray, p: np.ndarray, share: float) -> float:
    n_top = max(1, math.ceil(share * y.shape[0]))
    top = _order_by_score(p)[:n_top]
    return float(y[top].mean() / y.mean())


def binary_metrics(y_true: ArrayLike, p: ArrayLike) -> dict[str, float]:
    """Ranking and probability-quality metrics of a churn score.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        1 for a churner, 0 otherwise.
    p : array-like of shape (n,)
        Predicted churn probability, in [0, 1].

    Returns
    -------
    dict of str to float
        ``roc_auc``; ``pr_auc`` (average precision); ``brier`` (mean squared error of
        ``p``); ``log_loss`` (with ``p`` clipped to ``[1e-15, 1 - 1e-15]``);
        ``top_decile_lift`` (churn rate among the ``ceil(n / 10)`` highest scores divided
        by the overall churn rate, ties in ``p`` broken by input order); ``base_rate``
        (share of churners); ``mean_predicted`` (the mean of ``p``: the expected share
        of churners, to set against ``base_rate``); ``n`` (number of customers, as a
        float so the dict is uniform).

    Raises
    ------
    ValueError
        If the arrays differ in length, are empty or not 1-D, ``y_true`` holds values
        other than 0/1 or only one class, or ``p`` is not a finite probability.
    """
    y, s = _as_labels_and_scores(y_true, p, probabilities=True)
    _require_both_classes(y)
    clipped = np.clip(s, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    log_loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "brier": float(np.mean((s - y) ** 2)),
        "log_loss": float(log_loss),
        "top_decile_lift": _top_share_lift(y, s, 0.1),
        "base_rate": float(y.mean()),
        "mean_predicted": float(s.mean()),
        "n": float(y.shape[0]),
    }


def _calibration_bins(p: np.ndarray, *, n_bins: int, strategy: str) -> np.ndarray:
    """Bin index (0-based, not necessarily contiguous) of every score."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        # Repeated scores can make quantile edges coincide; merging them keeps every
        # customer with the same score in the same bin.
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    # Bins are [edge_i, edge_{i+1}); the top edge belongs to the last bin.
    return np.searchsorted(edges[1:-1], p, side="right")


def reliability_table(
    y_true: ArrayLike,
    p: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: BinStrategy = "quantile",
) -> pd.DataFrame:
    """Mean prediction against observed churn rate per score bin, for a reliability plot.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        1 for a churner, 0 otherwise.
    p : array-like of shape (n,)
        Predicted churn probability, in [0, 1].
    n_bins : int, default 10
        Number of bins asked for. With ``strategy="quantile"`` repeated scores can merge
        bins; empty bins are left out.
    strategy : {"quantile", "uniform"}, default "quantile"
        ``"quantile"``: bins hold about equally many customers. ``"uniform"``: bins are
        equally wide on [0, 1].

    Returns
    -------
    pandas.DataFrame
        Columns ``bin`` (int, ascending), ``mean_predicted``, ``fraction_positive`` and
        ``count``; one row per non-empty bin.

    Raises
    ------
    ValueError
        On invalid inputs (see :func:`binary_metrics`), a non-positive ``n_bins`` or an
        unknown ``strategy``.
    """
    y, s = _as_labels_and_scores(y_true, p, probabilities=True)
    bins = _calibration_bins(s, n_bins=n_bins, strategy=strategy)
    frame = pd.DataFrame({"bin": bins, "p": s, "y": y.astype(float)})
    table = (
        frame.groupby("bin", sort=True)
        .agg(mean_predicted=("p", "mean"), fraction_positive=("y", "mean"), count=("y", "size"))
        .reset_index()
    )
    table["bin"] = table["bin"].astype(np.int64)
    table["count"] = table["count"].astype(np.int64)
    return table


def expected_calibration_error(
    y_true: ArrayLike,
    p: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: BinStrategy = "quantile",
) -> float:
    """Expected calibration error: mean ``|mean_predicted - fraction_positive|`` over bins.

    Bins are weighted by their number of customers.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        1 for a churner, 0 otherwise.
    p : array-like of shape (n,)
        Predicted churn probability, in [0, 1].
    n_bins : int, default 10
        Number of bins (see :func:`reliability_table`).
    strategy : {"quantile", "uniform"}, default "quantile"
        How bins are formed (see :func:`reliability_table`).

    Returns
    -------
    float
        The ECE, in [0, 1]; 0 for a perfectly calibrated score on this sample.

    Raises
    ------
    ValueError
        On invalid inputs, a non-positive ``n_bins`` or an unknown ``strategy``.
    """
    table = reliability_table(y_true, p, n_bins=n_bins, strategy=strategy)
    gaps = (table["mean_predicted"] - table["fraction_positive"]).abs()
    return float((gaps * table["count"]).sum() / table["count"].sum())


def _roc_steps(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (false positives, true positives) counts at every distinct score.

    Starts at (0, 0) (contact nobody) and ends at (n_neg, n_pos) (contact everyone).
    Customers with the same score are contacted together: a threshold cannot split them.
    """
    order = _order_by_score(s)
    y_sorted = y[order]
    s_sorted = s[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    return np.r_[0, fp[last_of_tie]], np.r_[0, tp[last_of_tie]]


def _upper_hull(fp: np.ndarray, tp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the ROC convex hull, from (0, 0) to (n_neg, n_pos), on integer counts.

    The points come sorted by ``fp`` (then ``tp``), so one monotone-chain pass keeps the
    upper hull. Counts are integers, so the turn tests are exact.
    """
    hull: list[tuple[int, int]] = []
    for point in zip(fp.tolist(), tp.tolist(), strict=True):
        while len(hull) >= 2:
            (x0, y0), (x1, y1) = hull[-2], hull[-1]
            cross = (x1 - x0) * (point[1] - y0) - (y1 - y0) * (point[0] - x0)
            if cross < 0:
                break
            hull.pop()
        hull.append(point)
    fp_hull, tp_hull = zip(*hull, strict=True)
    return np.asarray(fp_hull, dtype=float), np.asarray(tp_hull, dtype=float)


def emp_churn(
    y_true: ArrayLike,
    p: ArrayLike,
    *,
    clv: float = 200.0,
    incentive_cost: float = 10.0,
    contact_cost: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> tuple[float, float]:
    """Expected maximum profit of a retention campaign driven by this score (EMPC).

    Verbraken, Verbeke & Baesens (2013), "A novel profit maximizing metric for measuring
    classification performance of customer churn prediction models", IEEE TKDE 25(5).
    The campaign contacts the customers above a score threshold and offers each an
    incentive. A contacted churner accepts with probability ``gamma`` and is retained
    (worth ``clv - incentive_cost - contact_cost``) or declines (costs ``contact_cost``);
    a contacted non-churner accepts the incentive and costs
    ``incentive_cost + contact_cost``. ``gamma`` is unknown, Beta(``alpha``, ``beta``)
    distributed, and for every ``gamma`` the campaign uses its most profitable threshold.
    With TP and FP the contacted churners and non-churners out of n customers, the profit
    per customer is::

        P(threshold; gamma) = [TP * (gamma * (clv - d) - f) - FP * (d + f)] / n

    (``d = incentive_cost``, ``f = contact_cost``) and ``EMP = E_gamma[max_threshold P]``.

    The maximum over thresholds is attained at a vertex of the ROC convex hull. Moving
    from hull vertex i-1 to i pays once ``gamma`` exceeds
    ``gamma_i = (f * dTP + (d + f) * dFP) / ((clv - d) * dTP)``; the ``gamma_i`` rise along
    the hull, so vertex i is optimal on ``[gamma_i, gamma_{i+1})`` and the expectation is a
    sum of regularised incomplete beta integrals ``I_x``, using::

        E[gamma; a <= gamma < b] = alpha / (alpha + beta) * (I_b(alpha+1,beta) - I_a(alpha+1,beta))

    It reproduces the published example of empulse's ``empc``, a port of the R package
    EMP's ``empChurn``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        1 for a churner, 0 otherwise.
    p : array-like of shape (n,)
        Churn score (any finite values; higher = more likely to churn).
    clv : float, default 200.0
        Value of a retained churner, in money; must exceed ``incentive_cost``.
    incentive_cost : float, default 10.0
        Cost of the retention offer to a customer who accepts it (>= 0).
    contact_cost : float, default 1.0
        Cost of contacting one customer (>= 0).
    alpha, beta : float, default 6.0 and 14.0
        Shape parameters (> 0) of the Beta distribution of the acceptance rate ``gamma``
        (the defaults give a mean acceptance rate of 30 %).

    Returns
    -------
    emp : float
        Expected maximum profit per customer of the scored population, in money.
    share_contacted : float
        Expected share of customers contacted at the profit-maximising threshold
        (averaged over ``gamma`` like the profit itself; the paper's eta_emp).

    Raises
    ------
    ValueError
        On invalid inputs, a single class in ``y_true``, or invalid cost or shape
        parameters (each named in the message).
    """
    y, s = _as_labels_and_scores(y_true, p, probabilities=False)
    _require_both_classes(y)
    for name, value in (("alpha", alpha), ("beta", beta), ("clv", clv)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    for name, value in (("incentive_cost", incentive_cost), ("contact_cost", contact_cost)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    if clv <= incentive_cost:
        raise ValueError(
            f"clv must exceed incentive_cost (a retained churner must be worth more than "
            f"the offer); got clv={clv!r}, incentive_cost={incentive_cost!r}"
        )
    n = y.shape[0]
    fp, tp = _upper_hull(*_roc_steps(y, s))
    d_tp, d_fp = np.diff(tp), np.diff(fp)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A hull segment that adds no churner (d_tp == 0) never pays: gamma_i = inf.
        gamma_steps = np.where(
            d_tp > 0,
            (contact_cost * d_tp + (incentive_cost + contact_cost) * d_fp)
            / ((clv - incentive_cost) * np.where(d_tp > 0, d_tp, 1.0)),
            np.inf,
        )
    # Vertex i is optimal on [bounds[i], bounds[i+1]); vertex 0 (contact nobody) from 0.
    bounds = np.clip(np.r_[0.0, gamma_steps, np.inf], 0.0, 1.0)
    bounds = np.maximum.accumulate(bounds)
    prob = np.diff(special.betainc(alpha, beta, bounds))
    mean_gamma = alpha / (alpha + beta)
    partial_mean = mean_gamma * np.diff(special.betainc(alpha + 1.0, beta, bounds))
    gain = tp * (clv - incentive_cost) * partial_mean
    cost = (tp * contact_cost + fp * (incentive_cost + contact_cost)) * prob
    emp = float((gain - cost).sum() / n)
    share = float(((tp + fp) * prob).sum() / n)
    return emp, share


def grade(model: Mapping[str, float], baseline: Mapping[str, float]) -> str:
    """Letter grade of a churn model against a simple baseline.

    Modelled on the A/B/C grades of Dynamics 365 Customer Insights churn models, which
    compare the model with a naive baseline on the same validation data:

    - ``"A"``: the model beats the baseline clearly: ROC AUC at least 0.02 higher
      **and** PR AUC at least 5 % higher (relative: ``model >= 1.05 * baseline``);
    - ``"B"``: the model beats the baseline: ROC AUC strictly higher;
    - ``"C"``: otherwise: the baseline is as good, and the model is not worth its
      complexity.

    Parameters
    ----------
    model, baseline : mapping of str to float
        Metrics as returned by :func:`binary_metrics`; ``roc_auc`` and ``pr_auc`` are
        read.

    Returns
    -------
    str
        ``"A"``, ``"B"`` or ``"C"``.

    Raises
    ------
    KeyError
        If ``model`` or ``baseline`` lacks ``roc_auc`` or ``pr_auc``.
    ValueError
        If one of those values is not a finite number.
    """
    values: dict[str, dict[str, float]] = {}
    for arg_name, metrics in (("model", model), ("baseline", baseline)):
        missing = [k for k in ("roc_auc", "pr_auc") if k not in metrics]
        if missing:
            raise KeyError(f"{arg_name} lacks {missing}; it has {sorted(metrics)[:10]}")
        values[arg_name] = {}
        for key in ("roc_auc", "pr_auc"):
            value = float(metrics[key])
            if not np.isfinite(value):
                raise ValueError(f"{arg_name}[{key!r}] must be finite, got {metrics[key]!r}")
            values[arg_name][key] = value
    m, b = values["model"], values["baseline"]
    if m["roc_auc"] - b["roc_auc"] >= 0.02 and m["pr_auc"] >= 1.05 * b["pr_auc"]:
        return "A"
    if m["roc_auc"] > b["roc_auc"]:
        return "B"
    return "C"


def summarise_backtest(per_cutoff: pd.DataFrame) -> pd.DataFrame:
    """Summarise a rolling-origin backtest: per model, across cutoffs.

    Parameters
    ----------
    per_cutoff : pandas.DataFrame
        One row per (``model``, ``cutoff``) with numeric metric columns (every column
        other than ``model`` and ``cutoff`` is a metric).

    Returns
    -------
    pandas.DataFrame
        One row per model, sorted by ``model``: ``model``, ``n_cutoffs``,
        ``last_cutoff``, then for every metric ``<metric>_mean``, ``<metric>_std``
        (sample standard deviation across cutoffs, ddof=1: NaN with a single cutoff)
        and ``<metric>_last`` (value at the model's latest cutoff, the one closest to
        how the model will be used).

    Raises
    ------
    ValueError
        If ``model`` or ``cutoff`` is missing, a (model, cutoff) pair repeats, there is
        no metric column, or a metric column is not numeric.
    """
    missing = [c for c in ("model", "cutoff") if c not in per_cutoff.columns]
    if missing:
        raise ValueError(
            f"per_cutoff lacks columns {missing}; it has {list(per_cutoff.columns)[:10]}"
        )
    duplicated = per_cutoff.duplicated(["model", "cutoff"], keep=False)
    if duplicated.any():
        examples = per_cutoff.loc[duplicated, ["model", "cutoff"]].drop_duplicates().head(3)
        raise ValueError(
            f"per_cutoff repeats (model, cutoff) in {int(duplicated.sum())} rows, "
            f"e.g. {examples.to_dict('records')}"
        )
    metrics = [c for c in per_cutoff.columns if c not in ("model", "cutoff")]
    if not metrics:
        raise ValueError("per_cutoff has no metric columns besides model and cutoff")
    not_numeric = [
        c
        for c in metrics
        if not pd.api.types.is_numeric_dtype(per_cutoff[c])
        or pd.api.types.is_bool_dtype(per_cutoff[c])
    ]
    if not_numeric:
        raise ValueError(
            f"per_cutoff metric columns must be numeric; these are not: {not_numeric}"
        )

    ordered = per_cutoff.sort_values(["model", "cutoff"], kind="stable")
    grouped = ordered.groupby("model", sort=True)
    values = ordered[metrics].astype(float)
    mean = values.groupby(ordered["model"], sort=True).mean().add_suffix("_mean")
    std = values.groupby(ordered["model"], sort=True).std(ddof=1).add_suffix("_std")
    last_rows = grouped.tail(1).set_index("model")
    last = last_rows[metrics].astype(float).add_suffix("_last")
    head = pd.DataFrame(
        {"n_cutoffs": grouped.size().astype(np.int64), "last_cutoff": last_rows["cutoff"]}
    )
    columns = [f"{m}_{stat}" for m in metrics for stat in ("mean", "std", "last")]
    summary = pd.concat([head, mean, std, last], axis=1)
    summary = summary[["n_cutoffs", "last_cutoff", *columns]]
    summary.index.name = "model"
    return summary.reset_index()


def churn_metrics(
    y: np.ndarray, scores: dict[str, np.ndarray], params: Params
) -> dict[str, dict[str, float]]:
    """Every metric of every model's probabilities against the same outcomes."""
    e = params.evaluate
    out = {}
    for name, p in scores.items():
        m = binary_metrics(y, p)
        m["ece"] = expected_calibration_error(y, p)
        m["emp"], m["emp_share_contacted"] = emp_churn(
            y,
            p,
            clv=e.clv,
            incentive_cost=e.incentive_cost,
            contact_cost=e.contact_cost,
            alpha=e.acceptance_alpha,
            beta=e.acceptance_beta,
        )
        out[name] = {k: float(v) for k, v in m.items()}
    return out


# --- paired bootstrap ----------------------------------------------------------------


def _weighted_auc(y: np.ndarray, s: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC under each row of ``weights`` (shape (B, n)); ties count one half.

    Each positive scores the weighted negatives ranked below it, plus half those tied
    with it: with the negatives sorted by score and their weights cumulated (``c``), that
    is ``(c[lo] + c[hi]) / 2`` between its score's first and last place among them. The
    weights are counts (a Poisson bootstrap), so every sum is of integers or halves and
    exact in float64: any order of summing gives the same bits.
    """
    pos = y == 1
    s_neg = s[~pos]
    order = np.argsort(s_neg, kind="stable")
    sorted_neg = s_neg[order]
    lo = np.searchsorted(sorted_neg, s[pos], side="left")
    hi = np.searchsorted(sorted_neg, s[pos], side="right")
    c = np.zeros((weights.shape[0], s_neg.size + 1))
    np.cumsum(weights[:, ~pos][:, order], axis=1, out=c[:, 1:])
    w_pos = weights[:, pos]
    num = 0.5 * (w_pos * (c[:, lo] + c[:, hi])).sum(axis=1)
    return num / (w_pos.sum(axis=1) * c[:, -1])


def paired_bootstrap(
    y_true: ArrayLike,
    p_model: ArrayLike,
    p_other: ArrayLike,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 100,
) -> dict[str, dict[str, float]]:
    """Difference in ROC-AUC and Brier between two scores of the same customers.

    Both scores are judged on the same resamples (a Poisson bootstrap: each customer
    counted Poisson(1) times), so the interval is of the *difference*, not of two
    separate intervals that overlap. A margin whose interval contains 0 is not a win.

    Parameters
    ----------
    y_true
        1 for a churner.
    p_model, p_other
        The two probabilities, aligned with ``y_true``.
    n_boot
        Resamples.
    seed
        Seeds the resampling.
    level
        Coverage of the percentile interval.
    chunk
        Resamples held in memory at once.

    Returns
    -------
    dict
        ``{"roc_auc": {...}, "brier": {...}}``, each with ``model``, ``other``,
        ``difference`` (model - other, on the full data) and ``low``/``high`` (the
        percentile interval of the difference) and ``n_boot``. For Brier, lower is better,
        so a negative difference favours the model.
    """
    return paired_bootstraps(
        y_true, p_model, {"other": p_other}, n_boot=n_boot, seed=seed, level=level, chunk=chunk
    )["other"]


def paired_bootstraps(
    y_true: ArrayLike,
    p_model: ArrayLike,
    others: dict[str, ArrayLike],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 100,
) -> dict[str, dict[str, dict[str, float]]]:
    """:func:`paired_bootstrap` of the model against each of ``others``, on the same
    resamples: the model's resampled AUCs are computed once, and each comparison gives
    exactly what :func:`paired_bootstrap` gives for it alone (same seed, same draws)."""
    y, a = _as_labels_and_scores(y_true, p_model, probabilities=True)
    bs = {
        name: _as_labels_and_scores(y_true, p, probabilities=True)[1] for name, p in others.items()
    }
    _require_both_classes(y)
    rng = np.random.default_rng(seed)
    diffs = {name: {"roc_auc": [], "brier": []} for name in bs}
    sq_a = (a - y) ** 2
    sq_bs = {name: (b - y) ** 2 for name, b in bs.items()}
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        w = rng.poisson(1.0, size=(size, len(y))).astype(float)
        auc_a = _weighted_auc(y, a, w)
        brier_a = w @ sq_a
        total = w.sum(axis=1)
        for name, b in bs.items():
            diffs[name]["roc_auc"].append(auc_a - _weighted_auc(y, b, w))
            diffs[name]["brier"].append((brier_a - w @ sq_bs[name]) / total)
        done += size
    tail = (1.0 - level) / 2.0
    model_full = {"roc_auc": float(roc_auc_score(y, a)), "brier": float(sq_a.mean())}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, b in bs.items():
        other_full = {"roc_auc": float(roc_auc_score(y, b)), "brier": float(sq_bs[name].mean())}
        out[name] = {}
        for metric, parts in diffs[name].items():
            d = np.concatenate(parts)
            d = d[np.isfinite(d)]
            out[name][metric] = {
                "model": model_full[metric],
                "other": other_full[metric],
                "difference": model_full[metric] - other_full[metric],
                "low": float(np.quantile(d, tail)),
                "high": float(np.quantile(d, 1.0 - tail)),
                "n_boot": int(n_boot),
            }
    return out


def value_metrics(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """How well predicted spend matched what customers spent (same rows, money).

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``spearman`` (rank correlation: does the value model order
        customers right?), ``total_ratio`` (predicted total / actual total: is the money
        at stake the right size?) and ``n``.
    """
    from scipy.stats import spearmanr

    y = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(
            f"actual and predicted must be equal-length 1-D, got {y.shape} and {p.shape}"
        )
    bad = ~np.isfinite(y) | ~np.isfinite(p)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} rows of actual or predicted spend are not finite")
    err = p - y
    varies = y.size > 1 and np.ptp(y) > 0 and np.ptp(p) > 0
    rho = spearmanr(p, y).statistic if varies else float("nan")
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "spearman": float(rho),
        "total_ratio": float(p.sum() / y.sum()) if y.sum() else float("nan"),
        "n": float(y.size),
    }
