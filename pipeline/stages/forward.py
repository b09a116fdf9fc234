"""Stage ``forward``: judge the list that shipped against what happened next.

With ``score.as_of`` at a past date D whose horizon the data covers, the list in
``data/scored/customers.csv`` (exactly as the retention team received it) and every
baseline shipped the same way are compared with what the customers did in
``[D, D + horizon)``: ``reports/forward.json``. Otherwise (scoring the present) the
report says why there is nothing to judge yet. This is the only stage that reads data
after the scoring date, and nothing it writes feeds the list.
"""

from __future__ import annotations

import logging

import pandas as pd

from pipeline import forward, io
from pipeline.config import Params
from pipeline.stages._common import CANONICAL, PREDICTIONS, REPORTS, SCORED, stage_main

log = logging.getLogger(__name__)


def run(params: Params) -> None:
    shipped_list = pd.read_csv(SCORED / "customers.csv", dtype={"customer_id": "string"})
    predictions = io.read_parquet(PREDICTIONS / "score.parquet")
    as_of = pd.Timestamp(predictions["cutoff"].iloc[0])
    horizon = params.churn.horizon_days
    orders = pd.read_parquet(
        CANONICAL / "orders.parquet", columns=["customer_id", "ordered_at", "amount"]
    )
    until = forward.observed_until(orders)
    if as_of + pd.Timedelta(days=horizon) > until:
        report = forward.not_evaluable(as_of, horizon, until)
    else:
        returns_path = CANONICAL / "returns.parquet"
        returns = (
            pd.read_parquet(returns_path, columns=["customer_id", "returned_at", "amount"])
            if returns_path.exists()
            else None
        )
        happened = forward.outcomes(
            orders, returns, shipped_list["customer_id"], start=as_of, horizon_days=horizon
        )
        baselines = predictions.drop(columns=["cutoff"]).filter(regex=r"^(customer_id|p_)")
        baselines = baselines.drop(columns=["p_lightgbm"])
        report = forward.forward_report(shipped_list, baselines, happened, params, as_of=as_of)
    # one line here: `python -m pipeline.forward` (make forward's last step) prints the
    # table, which the stage's log and the command printed twice (reviewed)
    if report.get("evaluable"):
        m = report["metrics"]["shipped"]
        log.info(
            "forward test as of %s: the list's ROC-AUC %.4f, Brier %.4f on %d customers "
            "(reports/forward.json; `python -m pipeline.forward` prints the table)",
            report["as_of"],
            m["roc_auc"],
            m["brier"],
            report["customers"],
        )
    else:
        log.info("forward test: %s", report.get("reason"))
    io.write_json(report, REPORTS / "forward.json")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
