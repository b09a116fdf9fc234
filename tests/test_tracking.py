"""MLflow plumbing: where the store is, what runs are called, and a project that moves."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from pipeline import tracking


def test_project_root_is_the_folder_with_dvc_yaml(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "notebooks").mkdir()
    assert tracking.project_root(tmp_path / "notebooks") == tmp_path
    assert tracking.project_root(tmp_path) == tmp_path


def test_tracking_uri_is_the_projects_own_store_unless_told(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking.tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path}/mlflow.db" and tracking.is_project_store(uri, tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri(tmp_path) == "http://127.0.0.1:5000"


def test_run_names_say_what_changed():
    before = {"train": {"learning_rate": 0.05, "seed": 7}, "score": {"as_of": None}}
    now = {"train": {"learning_rate": 0.1, "seed": 7}, "score": {"as_of": "2024-10-01"}}
    changed = tracking.changed_params(now, before)
    assert changed == {"train.learning_rate": 0.1, "score.as_of": "2024-10-01"}
    assert tracking.run_name(changed, None) == "train.learning_rate=0.1, score.as_of=2024-10-01"
    assert tracking.run_name(changed, "tall-oaks").endswith("(tall-oaks)")
    assert tracking.run_name({}, "tall-oaks") == "tall-oaks"
    assert tracking.run_name({}, None) == "baseline"
    # the same params on other code: the commit tells the runs apart
    commit = "6d2bf30a1b2c3d4e5f60718293a4b5c6d7e8f901"
    assert tracking.run_name({}, None, commit=commit) == "baseline @ 6d2bf30"
    assert tracking.run_name(changed, "tall-oaks", commit=commit).endswith("(tall-oaks) @ 6d2bf30")
    assert tracking.run_name({}, None, commit="unknown") == "baseline"
    many = {f"p{i}": i for i in range(5)}
    assert tracking.run_name(many, None) == "p0=0, p1=1, p2=2, +2 more"
    # reviewed on a shop's own data: every run read "source.kind=files,
    # source.files.orders=/tmp/shop4/orders_export.csv, ..., +50 more", and two runs
    # that differed in source.export_date alone looked the same
    own = {
        "source.kind": "files",
        "source.files.orders": "/tmp/shop4/orders_export.csv",
        "source.files.customers": "/tmp/shop4/customers.csv",
        "source.columns.orders.customer_id": "cust",
        "source.export_date": "2025-12-14",
    }
    assert tracking.run_name(own, None) == (
        "source.kind=files, source.export_date=2025-12-14, "
        "source.files.orders=orders_export.csv, +2 more"
    )


def test_customer_key_is_made_once_and_private(tmp_path):
    key = tracking.customer_key(tmp_path)
    assert len(key) == 32 and tracking.customer_key(tmp_path) == key
    path = tmp_path / "mlruns" / ".customer-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _log(root, text: str) -> str:
    c = tracking.client(root)
    exp = tracking.experiment_id(c, "churn-loyalty", root)
    run = c.create_run(exp, run_name=text)
    (root / "f.txt").write_text(text)
    c.log_artifact(run.info.run_id, str(root / "f.txt"), "stuff")
    c.set_terminated(run.info.run_id)
    return run.info.run_id


def test_the_ui_address_opens_the_runs_in_the_model_training_view(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.ui_address(tmp_path, "churn-loyalty").endswith(
        "/#/experiments?workflowType=machine_learning"
    )
    _log(tmp_path, "first")
    exp = tracking.client(tmp_path).get_experiment_by_name("churn-loyalty").experiment_id
    assert tracking.ui_address(tmp_path, "churn-loyalty") == (
        f"http://127.0.0.1:5000/#/experiments/{exp}/runs?workflowType=machine_learning"
    )


def test_a_moved_project_logs_into_its_own_folder_and_reads_its_old_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    old, new = tmp_path / "old", tmp_path / "moved"
    old.mkdir()
    first = _log(old, "first")
    assert (old / "mlruns/churn-loyalty" / first / "artifacts/stuff/f.txt").exists()
    shutil.move(old, new)
    monkeypatch.chdir(tmp_path)  # the working directory does not matter either
    second = _log(new, "second")
    assert (new / "mlruns/churn-loyalty" / second / "artifacts/stuff/f.txt").exists()
    assert not old.exists()  # nothing went back to the old folder
    c = tracking.client(new)
    assert c.get_run(first).info.artifact_uri.startswith(str(new / "mlruns"))
    got = c.download_artifacts(first, "stuff/f.txt", str(tmp_path))
    assert Path(got).read_text() == "first"
    assert tracking.relocate(new) == 0  # nothing left to move


def test_relocate_without_a_store_does_nothing(tmp_path):
    assert tracking.relocate(tmp_path) == 0


@pytest.mark.parametrize("ref", ["latest", "champion"])
def test_resolve_run_says_what_exists_when_nothing_matches(tmp_path, monkeypatch, ref):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(LookupError, match="no run|no version with alias"):
        tracking.resolve_run(tmp_path, "churn-loyalty", "churn-loyalty", ref)


def test_quarantine_reasons_in_the_ingest_report_are_logged_as_metrics(tmp_path, monkeypatch):
    """Reviewed: a shop with one row after the export failed the track stage: MLflow
    refused the metric "ingest.orders.ordered_at: after the export (2024-10-07 00:00;
    detected; ...)" and the lists were taken away."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    report = {
        "orders": {
            "ordered_at: after the export (2024-10-07 00:00; detected; set it)": 3,
            "customer_id: unknown customer (not in customers)": 2,
        }
    }
    metrics = tracking.numeric_metrics({"ingest": report})
    assert set(metrics) == {
        "ingest.orders.ordered_at: after the export _2024-10-07 00:00_ detected_ set it_",
        "ingest.orders.customer_id: unknown customer _not in customers_",
    }
    c = tracking.client(tmp_path)
    run = c.create_run(tracking.experiment_id(c, "churn-loyalty", tmp_path)).info.run_id
    tracking.log_metrics(c, run, metrics)  # real MLflow accepts every name
    assert c.get_run(run).data.metrics == metrics


def test_a_forward_test_is_registered_without_an_alias(tmp_path, monkeypatch):
    """Reviewed: `make forward FORWARD_AS_OF=2025-09-01` registered a model shipped for
    that past date and gave it `challenger`: `make pinned-list MODEL=challenger` would
    then have scored today's customers with it. Shipped as of a past date, a version is a
    measurement: registered and tagged, with no alias."""
    import pandas as pd

    from pipeline import registry
    from pipeline.config import Params
    from pipeline.stages.track import gate

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    c = tracking.client(tmp_path)
    exp = tracking.experiment_id(c, "churn-loyalty", tmp_path)
    run = c.create_run(exp, run_name="forward")
    c.create_registered_model("churn-loyalty")
    version = c.create_model_version("churn-loyalty", run.info.artifact_uri, run.info.run_id)
    logged = tracking.Logged(
        run.info.run_id, exp, run.info.artifact_uri, str(version.version), "sqlite://"
    )
    params = Params.model_validate({"score": {"as_of": "2024-10-01"}})
    decision = gate(c, logged, pd.DataFrame(), "2024-07-03", params)
    assert decision.alias == registry.FORWARD_TEST
    assert c.get_registered_model("churn-loyalty").aliases == {}
    tags = c.get_run(run.info.run_id).data.tags
    assert tags["registry.decision"] == "forward test"
    assert "not a candidate for today's list" in tags["registry.reasons"]
    assert f"version {version.version} is a forward test: no alias" in decision.render(
        version.version, None
    )


def test_a_copy_of_the_champions_model_takes_no_alias(tmp_path, monkeypatch):
    """Reviewed: a run that changed only the list's params (a budget, the gate's
    resamples) registered its model, byte for byte the champion's, as `challenger`;
    `make compare` then set the champion beside itself."""
    import pandas as pd

    from pipeline import registry
    from pipeline.config import Params
    from pipeline.stages.track import gate

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    c = tracking.client(tmp_path)
    exp = tracking.experiment_id(c, "churn-loyalty", tmp_path)
    c.create_registered_model("churn-loyalty")
    runs = [c.create_run(exp, run_name=n) for n in ("first", "budget only")]
    tag = {tracking.MODEL_FINGERPRINT_TAG: "abc123"}
    first, second = (
        c.create_model_version("churn-loyalty", r.info.artifact_uri, r.info.run_id, tags=tag)
        for r in runs
    )
    c.set_registered_model_alias("churn-loyalty", "champion", first.version)
    logged = tracking.Logged(
        runs[1].info.run_id,
        exp,
        runs[1].info.artifact_uri,
        str(second.version),
        "sqlite://",
        fingerprint="abc123",
    )
    decision = gate(c, logged, pd.DataFrame(), "2024-07-03", Params())
    assert decision.alias == registry.SAME_AS_CHAMPION
    assert c.get_registered_model("churn-loyalty").aliases == {"champion": first.version}
    tags = c.get_run(runs[1].info.run_id).data.tags
    assert tags["registry.decision"] == "copy of the champion"
    assert f"the same model as the champion (version {first.version})" in tags["registry.reasons"]
    assert decision.render(second.version, first.version).startswith(
        f"registry: version {second.version} is a copy of the champion: no alias"
    )
