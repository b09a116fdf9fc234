"""The whole pipeline, for real: DVC, DuckDB, LightGBM, SHAP and MLflow on a small shop.

One module-scoped run in a temporary git repository (a copy of this checkout) serves
the checks a user would make: outputs where the README says, a second `dvc repro`
that does nothing, `dvc exp run -S train.<param>` re-running only what depends on it,
identical metrics on a forced re-run, what MLflow holds (and does not hold), and, on
this medium-sized shop, that the model finds the planted causes and types customers.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
N_CUSTOMERS = 5000


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DVC_NO_ANALYTICS"] = "1"
    env.pop("PIPELINE_PARAMS", None)
    return env


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(
        cmd,
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=1500,
        stdin=subprocess.DEVNULL,
    )
    if check and res.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        )
    return res


def _copy_checkout(dst: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for f in files:
        src = REPO / f
        if src.is_file() and not f.startswith("tests/"):
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    _copy_checkout(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["synthetic"]["n_customers"] = N_CUSTOMERS
    params["evaluate"]["backtest_origins"] = 2
    params["retention"]["budget"]["contacts"] = 100
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "git", "init", "-q")
    sh(root, "git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    sh(root, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    sh(root, "dvc", "repro")
    return root


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_outputs_are_where_the_readme_says(shop):
    scored = pd.read_csv(shop / "data/scored/customers.csv")
    call = pd.read_csv(shop / "data/scored/at_risk.csv")
    winback = pd.read_csv(shop / "data/scored/winback.csv")
    features = pd.read_parquet(shop / "data/features/snapshots.parquet")
    population = features[~features["labelled"]]["customer_id"]
    assert sorted(scored["customer_id"]) == sorted(population)
    assert 0 < len(call) <= 100
    on_call = scored[scored["list"] == "call"].reset_index(drop=True)
    # rank is whole in the call list, and empty off the lists in customers.csv
    pd.testing.assert_frame_equal(call, on_call, check_dtype=False)
    assert call["rank"].tolist() == list(range(1, len(call) + 1))
    assert call["saveable_value"].is_monotonic_decreasing
    assert set(call["segment"]) <= {"early_warning", "lapsing"}
    assert set(winback["segment"]) <= {"lapsed"}
    assert scored["as_of"].nunique() == 1
    # the files' columns are rounded (cents, four decimals): they multiply to within that
    expected = scored["churn_probability"] * scored["expected_value"]
    tolerance = 0.0101 + 0.00005 * scored["expected_value"]
    assert ((scored["value_at_risk"] - expected).abs() <= tolerance).all()
    assert call["reason_1"].notna().all() and call["recommended_action"].notna().all()
    assert (shop / "data/scored/at_risk.xlsx").stat().st_size > 10_000
    assert "<svg" in (shop / "reports/retention_report.html").read_text()
    assert set(scored["loyalty_type_source"]) == {"classifier"}
    for path in ("models/churn/model.txt", "models/value/model.txt", "models/loyalty/model.txt"):
        assert (shop / path).read_text().startswith("tree"), path  # LightGBM text format
    assert not list(shop.glob("models/**/*.pkl"))
    ingest = read_json(shop / "reports/ingest.json")
    for counts in ingest.values():
        if "rows_read" in counts:
            assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_quarantined"]
    for png in ("shap_beeswarm.png", "shap_bar.png"):
        assert (shop / "reports/explain" / png).stat().st_size > 10_000


def test_second_repro_does_nothing_and_dvc_commands_work(shop):
    out = sh(shop, "dvc", "repro").stdout
    assert "Running stage" not in out
    metrics = sh(shop, "dvc", "metrics", "show", "--json").stdout
    assert "roc_auc" in metrics
    sh(shop, "dvc", "plots", "show", "-o", "dvc_plots")
    assert (shop / "dvc_plots/index.html").exists()


def test_model_beats_recency_and_finds_planted_causes_not_the_control(shop):
    m = read_json(shop / "reports/train.json")["churn"]
    test = m["test"]
    selected = test[m["selected_model"]]
    assert selected["roc_auc"] > test["recency"]["roc_auc"] + 0.02
    assert selected["brier"] < test["recency"]["brier"]
    assert m["grade"] == "A"
    drivers = pd.read_csv(shop / "reports/explain/drivers_by_feature.csv").set_index("feature")
    shap = drivers["mean_abs_shap"]
    control = shap["region"]
    planted = {
        "unresolved complaint": ["complaints_unresolved_now", "complaint_open_days_max_now"],
        "late deliveries": [
            "late_deliveries_90d",
            "late_delivery_share_365d",
            "late_deliveries_without_complaint_365d",
            "delivery_delay_mean_days_365d",
        ],
        "promotion dependence": ["promotion_day_order_share_365d"],
    }
    for cause, feats in planted.items():
        assert shap[feats].max() > control, (cause, shap[feats].to_dict(), control)
    # the control barely moves the risk, and a retention team almost never reads it
    assert control < 0.05 * shap.max(), (control, shap.max())
    scored = pd.read_csv(shop / "data/scored/customers.csv")
    assert scored["reason_1"].astype(str).str.contains("region").mean() < 0.01
    at_risk = pd.read_csv(shop / "data/scored/at_risk.csv").filter(like="reason_")
    assert at_risk.apply(lambda c: c.astype(str).str.contains("region")).to_numpy().mean() < 0.02


def test_type_classifier_beats_chance_on_customers_never_surveyed(shop):
    truth = pd.read_parquet(shop / "data/truth/truth.parquet")
    surveyed = set(pd.read_parquet(shop / "data/canonical/surveys.parquet")["customer_id"])
    scored = pd.read_csv(shop / "data/scored/customers.csv")
    j = scored.merge(truth, on="customer_id")
    j = j[~j["customer_id"].isin(surveyed)]
    assert len(j) > 1000
    accuracy = (j["loyalty_type"] == j["true_type"]).mean()
    chance = j["true_type"].value_counts(normalize=True).max()
    assert accuracy > chance + 0.15, (accuracy, chance)


def test_mlflow_run_has_params_metrics_models_and_no_ids_or_complaint_text(shop):
    info = read_json(shop / "reports/mlflow_run.json")
    assert info["tracking_uri"] == "sqlite:///mlflow.db"
    db = sqlite3.connect(shop / "mlflow.db")
    run = info["run_id"]
    metrics = dict(db.execute("select key, value from latest_metrics where run_uuid=?", (run,)))
    params = dict(db.execute("select key, value from params where run_uuid=?", (run,)))
    tags = dict(db.execute("select key, value from tags where run_uuid=?", (run,)))
    assert metrics["churn.test.lightgbm.roc_auc"] > 0.7
    assert params["churn.horizon_days"] == "90"
    assert len(tags["git_commit"]) == 40 and len(tags["data_fingerprint"]) == 16
    artifacts = [p for p in (shop / "mlruns").rglob("*") if p.is_file()]
    assert any(p.name == "MLmodel" for p in artifacts)
    assert any(p.name == "shap_beeswarm.png" for p in artifacts)
    ids = pd.read_parquet(shop / "data/canonical/customers.parquet")["customer_id"].head(300)
    texts = pd.read_parquet(shop / "data/canonical/complaints.parquet")["text"].dropna()
    blob = b"".join(p.read_bytes() for p in artifacts if p.suffix in (".csv", ".json", ".txt"))
    blob += b"".join(str(row).encode() for row in db.execute("select * from params"))
    blob += b"".join(str(row).encode() for row in db.execute("select * from tags"))
    assert not [i for i in ids if i.encode() in blob]
    assert not [t for t in texts.unique()[:50] if t.encode() in blob]


def test_forced_rerun_gives_identical_metrics(shop):
    before = (shop / "reports/train.json").read_bytes()
    scored_before = (shop / "data/scored/customers.csv").read_bytes()
    sh(shop, "dvc", "repro", "-f")
    assert (shop / "reports/train.json").read_bytes() == before
    assert (shop / "data/scored/customers.csv").read_bytes() == scored_before


def test_exp_run_reruns_only_stages_that_read_the_param(shop):
    out = sh(shop, "dvc", "exp", "run", "-S", "train.learning_rate=0.1").stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"train", "explain", "score", "forward", "track"}, out
    show = sh(shop, "dvc", "exp", "show", "--json").stdout
    assert "learning_rate" in show


def test_failed_stage_leaves_previous_outputs_and_names_the_bad_rows(shop):
    canonical = shop / "data/canonical/orders.parquet"
    before = canonical.read_bytes()
    raw = pd.read_parquet(shop / "data/raw/orders.parquet")
    raw.loc[raw.index[:3], "amount"] = -5.0
    raw.to_parquet(shop / "data/raw/orders.parquet", index=False)
    params = yaml.safe_load((shop / "params.yaml").read_text())
    params["ingest"]["on_bad_rows"] = "fail"
    (shop / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    res = sh(shop, sys.executable, "-m", "pipeline.stages.ingest", check=False)
    assert res.returncode != 0
    assert "table 'orders', column 'amount': 3 of" in res.stderr
    assert "-5.0" in res.stderr
    assert canonical.read_bytes() == before
    assert not [p for p in canonical.parent.parent.glob(".canonical*")]
