"""Stage ``track``: one MLflow run with everything a reviewer compares.

Tracks to ``sqlite:///mlflow.db`` unless ``MLFLOW_TRACKING_URI`` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline import io, tracking
from pipeline.config import Params
from pipeline.stages._common import CANONICAL, MODELS, REPORTS, stage_main


def run(params: Params) -> None:
    metrics = io.read_json(REPORTS / "train.json")
    score = io.read_json(REPORTS / "score.json")
    ingest = io.read_json(REPORTS / "ingest.json")
    tags = {
        "git_commit": tracking.git_commit(),
        "data_fingerprint": tracking.fingerprint(list(CANONICAL.glob("*.parquet"))),
        "source_kind": params.source.kind,
        "test_cutoff": metrics["churn"]["test_cutoff"],
        "grade": metrics["churn"]["grade"],
        "loyalty_type_source": metrics["loyalty"]["source"],
    }
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        if os.environ.get(var):
            tags[var.lower()] = os.environ[var]
    models = {"churn_model": MODELS / "churn" / "model.txt"}
    if (MODELS / "loyalty" / "model.txt").exists():
        models["loyalty_model"] = MODELS / "loyalty" / "model.txt"
    explain_dir = REPORTS / "explain"
    artifacts = {
        "explain": sorted(explain_dir.glob("*.csv")) + sorted(explain_dir.glob("*.png")),
        "plots": sorted((REPORTS / "plots").glob("*.csv")),
        "evaluation": [REPORTS / "train.json", REPORTS / "backtest.csv"],
        "reports": [REPORTS / "ingest.json", REPORTS / "score.json"],
        "models": [MODELS / "churn" / "calibrator.json", MODELS / "churn" / "design.json"],
    }
    info = tracking.log_run(
        experiment=params.tracking.experiment,
        run_name=f"{params.source.kind}-{metrics['churn']['test_cutoff']}",
        params=tracking.flatten(params.model_dump(mode="json")),
        metrics={
            **tracking.numeric_metrics({"churn": metrics["churn"], "loyalty": metrics["loyalty"]}),
            **tracking.numeric_metrics({"score": score}),
            **tracking.numeric_metrics({"ingest": ingest}),
        },
        tags=tags,
        models=models,
        artifacts={k: [Path(p) for p in v] for k, v in artifacts.items()},
    )
    io.write_json(info, REPORTS / "mlflow_run.json")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
