"""Stage ``track``: one MLflow run with everything a reviewer compares, and the gate.

Logs the run (see :mod:`pipeline.tracking`), registers the model that made the list,
and lets :mod:`pipeline.registry` decide whether it becomes ``champion`` or
``challenger``; the decision and its reasons are tagged on the run and logged here.

``reports/mlflow_run.json`` (git-ignored) says where the run went; it is no DVC output,
because the run id changes every run and ``dvc.lock`` must not. The stage's one output
is ``mlruns/tracked.json``: the experiment, the model name and the state the run logged
(:func:`state_fingerprint`), the same bytes whenever the state is. A fresh clone or an
emptied store lacks it, so ``dvc repro`` logs the run there even when every input
matches ``dvc.lock`` (without it DVC would skip the stage and the store would stay
empty). When the workspace returns to a state logged before (the committed baseline
after an experiment), the marker differs from ``dvc.lock``'s, DVC runs the stage, and
it points ``reports/mlflow_run.json`` at that state's run rather than logging it
twice: the run behind the workspace's files is then the one ``make compare`` shows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pandas as pd
import yaml

from pipeline import io, registry, serving, tracking
from pipeline.config import Params
from pipeline.headline import headline
from pipeline.shipping import MODEL
from pipeline.stages._common import (
    CANONICAL,
    FEATURES,
    MODELS,
    PREDICTIONS,
    REPORTS,
    SCORED,
    stage_main,
)

log = logging.getLogger(__name__)
PREDICTIONS_TABLE = "review/predictions.parquet"
CALL_LIST_TABLE = "review/call_list.parquet"
DRIVERS = REPORTS / "explain" / "drivers_by_feature.csv"
FAMILY_DRIVERS = REPORTS / "explain" / "drivers_by_family.csv"


def committed_params(root: Path) -> dict | None:
    """The last commit's ``params.yaml``, validated (None outside git or if invalid)."""
    text = tracking.git(root, "show", "HEAD:params.yaml")
    if text is None:
        return None
    try:
        return Params.model_validate(yaml.safe_load(text) or {}).model_dump(mode="json")
    except ValueError:
        return None


def driver_shares(drivers: pd.DataFrame, key: str, prefix: str) -> dict[str, float]:
    """Each driver's share of the total mean |SHAP| (they sum to 1)."""
    total = float(drivers["mean_abs_shap"].sum())
    if total <= 0:
        return {}
    return {
        f"{prefix}.{name}": float(v) / total
        for name, v in zip(drivers[key], drivers["mean_abs_shap"], strict=True)
    }


def run_metrics(params: Params) -> dict[str, float]:
    train = io.read_json(REPORTS / "train.json")
    score = io.read_json(REPORTS / "score.json")
    ingest = io.read_json(REPORTS / "ingest.json")
    forward = REPORTS / "forward.json"
    report = io.read_json(forward) if forward.exists() else None
    uplift_path = REPORTS / "uplift.json"
    uplift = io.read_json(uplift_path) if uplift_path.exists() else None
    metrics = {
        # the same function and inputs as metrics.json (the headline stage), unrounded
        **tracking.numeric_metrics(headline(train, score, report, uplift, digits=None)),
        **tracking.numeric_metrics({"churn": train["churn"], "loyalty": train["loyalty"]}),
        **tracking.numeric_metrics({"value": train.get("value", {})}),
        **tracking.numeric_metrics({"score": score}),
        **tracking.numeric_metrics({"ingest": ingest}),
        **driver_shares(pd.read_csv(DRIVERS), "feature", "driver"),
        **driver_shares(pd.read_csv(FAMILY_DRIVERS), "family", "driver_family"),
    }
    if report and report.get("evaluable"):
        metrics |= tracking.numeric_metrics({"forward": report["metrics"]})
    if uplift and uplift.get("available"):
        metrics |= tracking.numeric_metrics({"uplift": uplift})
    del params
    return metrics


def run_tags(params: Params, root: Path) -> dict[str, str]:
    train = io.read_json(REPORTS / "train.json")
    churn = train["churn"]
    tags = {
        "git_commit": tracking.git_commit(root),
        "data_fingerprint": tracking.fingerprint(list(CANONICAL.glob("*.parquet"))),
        "source_kind": params.source.kind,
        "test_cutoff": churn["test_cutoff"],
        "shipped_for": train["shipped"]["shipped_for"],
        "model": churn["selected_model"],
        "calibration": train["shipped"]["calibration"],
        "grade": churn["grade"],
        "loyalty_type_source": train["loyalty"]["source"],
    }
    uplift = REPORTS / "uplift.json"
    held_out = io.read_json(uplift) if uplift.exists() else {}
    # whether the lists' plays came from the campaigns' model (uplift.require_lead)
    tags["plays_from"] = (
        "uplift model" if held_out.get("available") and held_out.get("decides", True) else "rules"
    )
    # who chose the plays for how many customers, and why (the held-out verdict)
    said = (
        io.read_json(REPORTS / "score.json").get("plays_from")
        if (REPORTS / "score.json").exists()
        else None
    )
    if said:
        tags["plays_from_why"] = said
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        if os.environ.get(var):
            tags[var.lower()] = os.environ[var]
    return tags


def scoring_rows() -> pd.DataFrame:
    meta = io.read_json(FEATURES / "meta.json")
    rows = io.read_at(FEATURES / "snapshots.parquet", pd.Timestamp(meta["cutoffs"]["score"]))
    return rows.sort_values("customer_id", ignore_index=True)


def check_reproduces_list(model: serving.ListModel, rows: pd.DataFrame) -> None:
    """The model to be logged must give exactly the list's probabilities.

    Every scored customer is checked through the logged model's own churn path
    (:meth:`ListModel.churn_probability`, which its ``predict`` calls), without the
    loyalty types and values the check does not compare: at a million customers those
    were 30 of the 45 seconds.
    """
    shipped = io.read_parquet(PREDICTIONS / "score.parquet").set_index("customer_id")
    expected = shipped.loc[rows["customer_id"], f"p_{MODEL}"].to_numpy()
    got = model.churn_probability(rows)
    bad = got != expected
    if bad.any():
        raise ValueError(
            f"the model to log gives other churn probabilities than the list for "
            f"{int(bad.sum())} of {len(rows)} customers, e.g. customers "
            f"{rows.loc[bad, 'customer_id'].head(3).tolist()}: models/ and "
            "data/predictions/score.parquet are out of step (re-run `dvc repro train`)"
        )


def call_list(key: bytes) -> pd.DataFrame:
    """The call list in its order, customers as keyed hashes."""
    ids = pd.read_csv(SCORED / "at_risk.csv", usecols=["customer_id"], dtype="string")
    return pd.DataFrame(
        {
            "position": range(1, len(ids) + 1),
            "customer_key": registry.customer_keys(ids["customer_id"], key),
        }
    )


def gate(
    c, logged: tracking.Logged, challenger: pd.DataFrame, test_cutoff: str, params: Params
) -> registry.Decision:
    """Decide the new version's alias against the current champion, and set it."""
    name = params.registry.model_name
    champion = tracking.alias_version(c, name, registry.CHAMPION)
    if params.score.as_of is not None:
        decision = registry.forward_test(params.score.as_of)
    elif champion is None:
        decision = registry.first_version()
    elif logged.fingerprint and (
        (champion.tags or {}).get(tracking.MODEL_FINGERPRINT_TAG) == logged.fingerprint
    ):
        decision = registry.same_as_champion(champion.version)
    else:
        previous = tracking.read_table(c, champion.run_id, PREDICTIONS_TABLE)
        if previous is None:
            decision = registry.Decision(
                registry.CHALLENGER,
                (
                    f"not comparable: the champion (version {champion.version}, run "
                    f"{champion.run_id}) has no {PREDICTIONS_TABLE} to pair with",
                ),
            )
        else:
            decision = registry.decide(
                challenger,
                previous,
                test_cutoff=test_cutoff,
                config=params.registry,
                seed=params.train.seed,
            )
    if decision.alias not in registry.NO_ALIAS:
        tracking.set_alias(c, name, decision.alias, logged.version)
    tracking.set_tags(
        c,
        logged.run_id,
        {
            "registry.decision": decision.alias,
            "registry.version": logged.version,
            "registry.champion_before": "none" if champion is None else str(champion.version),
            "registry.reasons": "\n".join(decision.reasons)[:5000],
        },
    )
    tracking.log_metrics(c, logged.run_id, decision.metrics())
    log.info("%s", decision.render(logged.version, None if champion is None else champion.version))
    return decision


def version_description(
    decision: registry.Decision, shipped: dict[str, float], test_cutoff: str
) -> str:
    """One line for the registry's versions table: the headline and the gate's verdict,
    check by check ("forward roc_auc +0.0012, not over the margin +0.0050")."""
    if decision.checks:
        why = "; ".join(
            f"{c.name} {c.metric} {c.improvement:+.4f}, "
            f"{'over' if c.passed else 'not over'} the margin {c.margin:+.4f}"
            for c in decision.checks
        )
    else:
        why = decision.reasons[0] if decision.reasons else ""
    return (
        f"{decision.alias}: ROC-AUC {shipped['roc_auc']:.4f}, Brier {shipped['brier']:.4f} "
        f"at the test cutoff {test_cutoff}. {why}"
    )[:1000]


# The stage's DVC output, under the store's artifacts (see the module's docstring).
TRACKED = "tracked.json"
# The run's tag that names the pipeline state it logged (:func:`state_fingerprint`).
STATE_TAG = "state_fingerprint"


def state_fingerprint(root: Path, current: dict) -> str:
    """What the workspace's files were made from: ``dvc.lock``'s record of every stage
    before this one (their code, params, inputs and outputs, as DVC hashed them), this
    stage's own code, and the params.

    Two runs with one fingerprint logged the same files. ``mlruns/tracked.json`` holds
    it, so when the workspace goes back to another state (``git checkout params.yaml
    dvc.lock && make run`` after an experiment: DVC restores the outputs from its
    cache), DVC sees the marker differ and runs this stage, which then finds that
    state's run instead of leaving the experiment's as the workspace's.
    """
    lock_path, spec_path = root / "dvc.lock", root / "dvc.yaml"
    lock = yaml.safe_load(lock_path.read_text()) if lock_path.exists() else {}
    stages = {k: v for k, v in (lock or {}).get("stages", {}).items() if k != "track"}
    spec = yaml.safe_load(spec_path.read_text()) if spec_path.exists() else {}
    deps = (spec or {}).get("stages", {}).get("track", {}).get("deps", [])
    code = sorted(p for p in (root / d for d in deps) if p.is_file())
    state = json.dumps({"stages": stages, "params": current}, sort_keys=True, default=str)
    return hashlib.sha256(
        (state + tracking.fingerprint(code) if code else state).encode()
    ).hexdigest()[:16]


def tracked_run(c, experiment: str, state: str):
    """The latest run that logged this state, or None."""
    exp = c.get_experiment_by_name(experiment)
    if exp is None:
        return None
    runs = c.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.{STATE_TAG} = '{state}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def write_run_info(**info: str | None) -> dict[str, str | None]:
    """``reports/mlflow_run.json``: where the workspace's run is (``make compare``'s
    ``workspace``), written by a new run and by a state logged before alike."""
    io.write_json(info, tracking.RUN_INFO)
    return info


def point_at(c, found, params: Params, root: Path) -> None:
    """``reports/mlflow_run.json`` for a run logged before (the workspace is its state
    again): its run, version and alias now. Nothing is logged or registered twice."""
    versions = c.search_model_versions(f"run_id = '{found.info.run_id}'")
    version = str(versions[0].version) if versions else None
    # the search leaves a version's aliases empty; the version itself holds them
    # (reviewed: "alias": null for the champion)
    aliases = (
        list(c.get_model_version(params.registry.model_name, version).aliases) if version else []
    )
    info = write_run_info(
        run_id=found.info.run_id,
        run_name=found.info.run_name,
        experiment_id=found.info.experiment_id,
        tracking_uri=tracking.tracking_uri(root),
        model_uri=versions[0].source if versions else None,  # as logged: models:/m-...
        registered_model=params.registry.model_name,
        version=version,
        alias=aliases[0] if aliases else None,
    )
    log.info(
        "this state was logged already: run %r (%s), version %s%s; no new run, "
        "reports/mlflow_run.json points at it (make compare's B by default)",
        info["run_name"],
        info["run_id"][:8],
        version,
        f", {info['alias']} now" if info["alias"] else "",
    )


def write_marker(params: Params, root: Path, state: str) -> None:
    io.write_json(
        {
            "experiment": params.tracking.experiment,
            "registered_model": params.registry.model_name,
            "state": state,
        },
        root / tracking.ARTIFACT_DIR / TRACKED,
    )


def run(params: Params) -> None:
    root = tracking.project_root()
    current = params.model_dump(mode="json")
    state = state_fingerprint(root, current)
    c = tracking.client(root)
    found = tracked_run(c, params.tracking.experiment, state)
    if found is not None:
        point_at(c, found, params, root)
        write_marker(params, root, state)
        return
    train = io.read_json(REPORTS / "train.json")
    before = committed_params(root)
    changed = tracking.changed_params(current, before) if before else {}
    commit = tracking.git_commit(root)
    name = tracking.run_name(changed, os.environ.get("DVC_EXP_NAME"), commit=commit)

    files = serving.model_files(MODELS)
    model = serving.ListModel.from_files(files)
    rows = scoring_rows()
    check_reproduces_list(model, rows)
    example = model.example(rows)

    key = tracking.customer_key(root)
    predictions = registry.keyed_predictions(
        io.read_parquet(PREDICTIONS / "backtest.parquet"), key, model=MODEL
    )
    explain_dir = REPORTS / "explain"
    metrics = run_metrics(params)
    reports = [
        REPORTS / n
        for n in ("ingest.json", "score.json", "forward.json", "uplift.json", "qini.csv")
    ]
    logged = tracking.log_run(
        root,
        experiment=params.tracking.experiment,
        run_name=name,
        params=tracking.flatten(current),
        metrics=metrics,
        tags=run_tags(params, root)
        | {"changed_params": ", ".join(changed) or "none", STATE_TAG: state},
        model_files=files,
        input_example=example,
        output_example=model.predict(example),
        artifacts={
            # the SHAP plots at the top: MLflow's compare page previews only top-level
            # files, so two runs' drivers then sit side by side
            "": sorted(explain_dir.glob("*.png")),
            "explain": sorted(explain_dir.glob("*.csv")),
            "plots": sorted((REPORTS / "plots").glob("*.csv")),
            "evaluation": [REPORTS / "train.json", REPORTS / "backtest.csv"],
            "reports": [p for p in reports if p.exists()],
        },
        tables={PREDICTIONS_TABLE: predictions, CALL_LIST_TABLE: call_list(key)},
        registered_model=params.registry.model_name,
    )
    decision = gate(c, logged, predictions, train["churn"]["test_cutoff"], params)
    shipped = {k: metrics.get(f"shipped.{k}", float("nan")) for k in ("roc_auc", "brier")}
    tracking.describe_version(
        c,
        params.registry.model_name,
        logged.version,
        {
            "decision": decision.alias,
            "roc_auc": f"{shipped['roc_auc']:.4f}",
            "brier": f"{shipped['brier']:.4f}",
            "test_cutoff": train["churn"]["test_cutoff"],
            "git_commit": commit[:7],
            "run_name": name,
        },
        version_description(decision, shipped, train["churn"]["test_cutoff"]),
    )
    write_run_info(
        run_id=logged.run_id,
        run_name=name,
        experiment_id=logged.experiment_id,
        tracking_uri=logged.tracking_uri,
        model_uri=logged.model_uri,
        registered_model=params.registry.model_name,
        version=logged.version,
        alias=decision.alias,
    )
    write_marker(params, root, state)


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
