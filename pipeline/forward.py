"""The forward test: the list that shipped on date D against what its customers did next.

Run the whole pipeline with ``score.as_of: D`` (nothing on or after D is read, training
included), then judge the list as shipped, and every baseline shipped the same way,
against what happened in ``[D, D + horizon)``: who ordered nothing (churn) and what the
others spent (value). Differences to BG/NBD come with a paired bootstrap interval, so a
margin of 0.001 is never called a win.

``python -m pipeline.forward`` prints ``reports/forward.json`` as a table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import evaluate
from pipeline.config import Params
from pipeline.evaluate import churn_metrics
from pipeline.names import MODEL, RAW_BGNBD

# The list's own probability is "shipped"; the baselines keep their names.
SHIPPED = "shipped"
COMPARED_WITH = ("bgnbd", RAW_BGNBD, "logistic", "recency")


def observed_until(orders: pd.DataFrame) -> pd.Timestamp:
    """The end of the fully observed period: the start of the last day with an order.

    The last day of an export may be partial (an export at noon), as in
    ``pipeline.labels.plan_cutoffs``.
    """
    return pd.Timestamp(orders["ordered_at"].max()).normalize()


def outcomes(
    orders: pd.DataFrame,
    returns: pd.DataFrame | None,
    customer_ids: pd.Series,
    *,
    start: pd.Timestamp,
    horizon_days: int,
) -> pd.DataFrame:
    """What each customer did in ``[start, start + horizon)``.

    Returns
    -------
    DataFrame
        ``customer_id`` (in the given order), ``churned`` (1: no order in the window)
        and ``future_spend`` (order amounts in the window, net of returns in it).
    """
    end = start + pd.Timedelta(days=horizon_days)
    inside = orders[(orders["ordered_at"] >= start) & (orders["ordered_at"] < end)]
    spent = inside.groupby("customer_id")["amount"].agg(["size", "sum"])
    out = pd.DataFrame({"customer_id": customer_ids.to_numpy()})
    counts = spent["size"].reindex(out["customer_id"]).fillna(0).to_numpy()
    spend = spent["sum"].reindex(out["customer_id"]).fillna(0.0).to_numpy()
    if returns is not None and not returns.empty:
        back = returns[(returns["returned_at"] >= start) & (returns["returned_at"] < end)]
        back = back.groupby("customer_id")["amount"].sum()
        spend = spend - back.reindex(out["customer_id"]).fillna(0.0).to_numpy()
    out["churned"] = (counts == 0).astype(int)
    out["future_spend"] = spend
    return out


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Mean predicted against observed churn per uniform bin; empty bins are left out."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        inside = idx == b
        if inside.any():
            out.append(
                {
                    "bin": [float(edges[b]), float(edges[b + 1])],
                    "predicted": float(p[inside].mean()),
                    "observed": float(y[inside].mean()),
                    "n": int(inside.sum()),
                }
            )
    return out


def forward_report(
    shipped_list: pd.DataFrame,
    predictions: pd.DataFrame,
    happened: pd.DataFrame,
    params: Params,
    *,
    as_of: pd.Timestamp,
) -> dict:
    """Judge the shipped list and the baselines on what happened.

    Parameters
    ----------
    shipped_list
        The list as the retention team received it: ``customer_id``,
        ``churn_probability``, ``expected_value``.
    predictions
        The train stage's predictions for the same customers: ``customer_id`` and
        ``p_<baseline>`` for every baseline.
    happened
        :func:`outcomes` for the same customers.
    params
        Pipeline parameters (the EMP economics, the seed).
    as_of
        The date the list was shipped for.
    """
    frame = shipped_list[["customer_id", "churn_probability", "expected_value"]].merge(
        predictions, on="customer_id", how="left", validate="one_to_one"
    )
    frame = frame.merge(happened, on="customer_id", how="left", validate="one_to_one")
    # by customer, not as the file lists them: the bootstrap's resamples (and so its
    # intervals) then depend on who was scored, not on who made the lists (the lists
    # come first in customers.csv, and a change of segments moved the intervals)
    frame = frame.sort_values("customer_id", ignore_index=True, kind="stable")
    y = frame["churned"].to_numpy(dtype=int)
    scores = {SHIPPED: frame["churn_probability"].to_numpy(dtype=float)} | {
        name: frame[f"p_{name}"].to_numpy(dtype=float)
        for name in COMPARED_WITH
        if f"p_{name}" in frame and frame[f"p_{name}"].notna().all()
    }
    differences = evaluate.paired_bootstraps(
        y,
        scores[SHIPPED],
        {other: scores[other] for other in COMPARED_WITH if other in scores},
        seed=params.train.seed,
    )
    kept = frame[frame["churned"] == 0]
    value = {}
    if len(kept):
        actual = kept["future_spend"].to_numpy(dtype=float)
        value = {
            "value_model": evaluate.value_metrics(actual, kept["expected_value"].to_numpy()),
            "what_it_predicts": "spend over the horizon if the customer stays (LightGBM, "
            "Tweedie), judged on the customers who stayed",
        }
    return {
        "evaluable": True,
        "as_of": str(as_of.date()),
        "horizon_days": params.churn.horizon_days,
        "customers": len(frame),
        "churn_rate": float(y.mean()),
        "shipped_model": MODEL,
        "metrics": churn_metrics(y, scores, params),
        "difference": differences,
        "value": value,
        "calibration": {name: calibration_bins(y, p) for name, p in scores.items()},
    }


def not_evaluable(as_of: pd.Timestamp, horizon_days: int, until: pd.Timestamp) -> dict:
    return {
        "evaluable": False,
        "as_of": str(as_of.date()),
        "horizon_days": horizon_days,
        "reason": (
            f"the list was shipped for {as_of:%Y-%m-%d}; its horizon ends "
            f"{as_of + pd.Timedelta(days=horizon_days):%Y-%m-%d} but the data is observed "
            f"until {until:%Y-%m-%d}. Set score.as_of to a date at least "
            f"{horizon_days} days before the end of the data for a forward test."
        ),
    }


def _cell(value: float, fmt: str = ".4f") -> str:
    return format(value, fmt) if value == value else "-"


def render(report: dict) -> str:
    """The forward test as a plain-text table."""
    if not report.get("evaluable"):
        return f"forward test: not evaluable: {report.get('reason', '')}"
    lines = [
        f"Forward test: the list shipped for {report['as_of']} ({report['customers']} "
        f"customers) against the next {report['horizon_days']} days: "
        f"{report['churn_rate']:.1%} churned",
        "",
        f"{'model':<12}{'ROC-AUC':>9}{'Brier':>9}{'PR-AUC':>9}{'log loss':>10}{'ECE':>8}",
    ]
    for name, m in report["metrics"].items():
        lines.append(
            f"{name:<12}{_cell(m['roc_auc']):>9}{_cell(m['brier']):>9}{_cell(m['pr_auc']):>9}"
            f"{_cell(m['log_loss']):>10}{_cell(m['ece']):>8}"
        )
    lines += ["", "shipped minus baseline, 95% paired bootstrap interval:"]
    for other, d in report["difference"].items():
        auc, brier = d["roc_auc"], d["brier"]
        lines.append(
            f"  vs {other:<10} AUC {auc['difference']:+.4f} "
            f"[{auc['low']:+.4f}, {auc['high']:+.4f}]   Brier {brier['difference']:+.4f} "
            f"[{brier['low']:+.4f}, {brier['high']:+.4f}]"
        )
    v = report.get("value", {}).get("value_model")
    if v:
        lines += [
            "",
            f"value model (spend if retained) on the {int(v['n'])} who stayed: MAE "
            f"{v['mae']:,.2f}, Spearman {v['spearman']:.3f}, predicted/actual total "
            f"{v['total_ratio']:.3f}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m pipeline.forward [reports/forward.json]``: the table, after ``make
    forward``; and what the workspace now holds (reviewed: after ``make forward`` the
    lists in ``data/scored/`` were the past date's, and nothing said so)."""
    path = Path((argv or sys.argv[1:] or ["reports/forward.json"])[0])
    report = json.loads(path.read_text())
    print(render(report))  # noqa: T201 (a CLI's output)
    if report.get("evaluable"):
        print(  # noqa: T201
            f"\nThe workspace now holds this run: the lists in data/scored/ are the ones "
            f"shipped for {report['as_of']}, not today's. `make run` puts today's back."
        )


if __name__ == "__main__":
    main()
