"""The headline numbers of a run: what a reviewer compares first, under stable names.

``metrics.json`` (written by the ``headline`` stage, committed to git) is what
``dvc metrics diff`` and ``dvc exp show`` compare between the workspace, experiments and
the last commit; MLflow logs the same keys, so ``shipped.roc_auc`` means one thing in
both. The per-model and per-origin numbers stay in ``reports/train.json``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# The shipped model's test-cutoff metrics that make the headline, and their backtest means.
TEST_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "top_decile_lift", "emp")
BACKTEST_METRICS = ("roc_auc", "brier")
FORWARD_METRICS = ("roc_auc", "pr_auc", "brier")
# The names :func:`uplift_headline` writes (one per targeting policy or baseline), so a
# reader of MLflow's ``uplift.*`` keys can tell them from the flattened uplift.json.
UPLIFT_HEADLINE = re.compile(
    r"(auuc_|saved_value_top_|true_saved_vs_)\w+|oracle_share|sleeping_dogs_marked_share"
)


def _round(value: float, digits: int | None = 6) -> float:
    return float(value) if digits is None else round(float(value), digits)


def list_headline(score: Mapping[str, Any], digits: int | None = 6) -> dict[str, float]:
    """Size and value of the call list from ``reports/score.json``.

    Reads both shapes the score stage has written: a ``call_list`` section with
    ``customers`` and ``value_at_risk``, or the flat ``at_risk_list_size``,
    ``expected_value_at_risk_total`` and ``at_risk_list_value_at_risk_share``.
    """
    out: dict[str, float] = {"customers": int(score["customers_scored"])}
    if "expected_churners" in score:
        out["expected_churners"] = _round(score["expected_churners"], digits)
    call = score.get("call_list")
    if isinstance(call, Mapping):
        out["size"] = int(call["customers"])
        out["value_at_risk"] = _round(call["value_at_risk"], digits)
        if "expected_profit" in call:  # what the lists are worth, whoever chose the plays
            out["expected_profit"] = _round(call["expected_profit"], digits)
        winback = score.get("winback_list")
        if isinstance(winback, Mapping) and "expected_profit" in winback:
            out["winback_expected_profit"] = _round(winback["expected_profit"], digits)
        total = score.get("value_at_risk_total")
    else:
        total = score["expected_value_at_risk_total"]
        out["size"] = int(score["at_risk_list_size"])
        out["value_at_risk"] = round(total * score["at_risk_list_value_at_risk_share"], 2)
    if total is not None:
        out["value_at_risk_total"] = _round(total, digits)
    return out


def uplift_headline(uplift: Mapping[str, Any], digits: int | None = 6) -> dict[str, float]:
    """The held-out campaign's comparison from ``reports/uplift.json`` (when there is one)."""
    out: dict[str, float] = {}
    for name, m in uplift["policies"].items():
        out[f"auuc_{name}"] = _round(m["auuc"], digits)
        out[f"saved_value_top_{name}"] = _round(m["saved_value_top_share"], digits)
    truth = uplift.get("truth")
    if truth:
        out["oracle_share"] = _round(truth["oracle_share"], digits)
        out["sleeping_dogs_marked_share"] = _round(truth["harmed_share_marked"], digits)
        for other, d in truth["difference_per_1000"].items():
            out[f"true_saved_vs_{other}_per_1000"] = _round(d["difference_per_1000"], digits)
    return out


def headline(
    train: Mapping[str, Any],
    score: Mapping[str, Any],
    forward: Mapping[str, Any] | None,
    uplift: Mapping[str, Any] | None = None,
    *,
    digits: int | None = 6,
) -> dict[str, dict[str, float]]:
    """The run's headline metrics, rounded to ``digits`` decimals (``metrics.json``) or
    not (``None``: MLflow, whose displays round again; rounding twice showed the same
    AUC as 0.9210 in the run's summary and 0.9211 in the registry).

    Parameters
    ----------
    train
        ``reports/train.json``.
    score
        ``reports/score.json``.
    forward
        ``reports/forward.json``, or None; its numbers are included only when the list
        could be judged (``score.as_of`` in the past).
    uplift
        ``reports/uplift.json``, or None; included when the shop had campaign history.

    Returns
    -------
    dict
        ``shipped`` (the selected model at the test cutoff, a forward test of the ship
        procedure, plus its backtest means), ``list`` (size and value at risk of the call
        list) and, when evaluable, ``forward`` (the list as shipped against what happened).
    """
    churn = train["churn"]
    model = churn["selected_model"]
    test = churn["test"][model]
    backtest = churn["backtest"][model]
    shipped = {m: _round(test[m], digits) for m in TEST_METRICS if m in test}
    for m in BACKTEST_METRICS:
        shipped[f"backtest_{m}"] = _round(backtest[f"{m}_mean"], digits)
    out: dict[str, dict[str, float]] = {
        "shipped": shipped,
        "list": list_headline(score, digits),
    }
    if forward and forward.get("evaluable"):
        judged = forward["metrics"]["shipped"]
        out["forward"] = {m: _round(judged[m], digits) for m in FORWARD_METRICS if m in judged}
    if uplift and uplift.get("available"):
        out["uplift"] = uplift_headline(uplift, digits)
    return out
