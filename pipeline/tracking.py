"""Everything MLflow: the only module that imports it.

One run per ``dvc repro`` of the pipeline: params, every metric, both models in
LightGBM's own format (with explicit pip requirements, which also saves MLflow several
seconds of dependency inference), the SHAP tables and plots, the curves, and tags for
the git commit and a fingerprint of the data. Raw complaint text and customer ids
never leave the machine: only aggregates are logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_URI = "sqlite:///mlflow.db"
PIP_REQUIREMENTS = [f"lightgbm=={version('lightgbm')}", f"pandas=={version('pandas')}"]


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``a.b.c`` keys (MLflow keys allow dots)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def numeric_metrics(d: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in flatten(d).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v == v
    }


def fingerprint(paths: list[Path]) -> str:
    """SHA-256 over the bytes of the given files, in name order."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def log_run(
    *,
    experiment: str,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    models: Mapping[str, Path],
    artifacts: Mapping[str, list[Path]],
) -> dict[str, str]:
    """Log one run; return its ids and the tracking URI."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import lightgbm as lgb
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags(dict(tags))
        items = list(params.items())
        for i in range(0, len(items), 100):
            mlflow.log_params(dict(items[i : i + 100]))
        mlflow.log_metrics(dict(metrics))
        for name, path in models.items():
            mlflow.lightgbm.log_model(
                lgb.Booster(model_file=str(path)), name=name, pip_requirements=PIP_REQUIREMENTS
            )
        for folder, files in artifacts.items():
            for f in files:
                mlflow.log_artifact(str(f), artifact_path=folder)
        info = {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "tracking_uri": uri,
        }
    log.info("logged MLflow run %s to %s", info["run_id"], uri)
    return info
