"""The model that made the list: loaded from files, and through MLflow's pyfunc loader."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pipeline.calibration import fit_calibrator
from pipeline.loyalty import BEHAVIOUR_RULES, assign_types
from pipeline.serving import ListModel, model_files
from pipeline.train import Design, predict

FEATURES = ("orders_365d", "days_since_last_order", "promotion_day_order_share_365d", "region")
CLASSES = ("premium", "inertia", "price")


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(
        {
            "orders_365d": rng.poisson(3, n).astype("int64"),
            "days_since_last_order": rng.exponential(60, n),
            "promotion_day_order_share_365d": rng.uniform(0, 1, n),
            "region": rng.choice(["north", "south", "east"], n).astype(object),
        }
    )
    out.loc[::17, "days_since_last_order"] = np.nan
    out.loc[::13, "region"] = None
    return out


def write_models(root: Path, *, calibration: str, classifier: bool) -> Path:
    """A tiny version of what the train stage writes under models/."""
    train = frame(600, 0)
    design = Design.fit(train, FEATURES, ["region"])
    logit = 0.02 * train["days_since_last_order"].fillna(90) - 0.4 * train["orders_365d"]
    y = (np.random.default_rng(1).uniform(size=len(train)) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1}
    churn = lgb.train(params, lgb.Dataset(design.matrix(train), label=y), num_boost_round=20)
    value = lgb.train(
        {"objective": "tweedie", "verbosity": -1, "seed": 1, "num_threads": 1},
        lgb.Dataset(design.matrix(train), label=train["orders_365d"] * 10),
        num_boost_round=10,
    )
    models = root / "models"
    for d in ("churn", "value", "loyalty"):
        (models / d).mkdir(parents=True)
    churn.save_model(models / "churn/model.txt")
    value.save_model(models / "value/model.txt")
    cal = fit_calibrator(y, churn.predict(design.matrix(train)), method=calibration)
    (models / "churn/calibrator.json").write_text(json.dumps(cal.to_dict()))
    (models / "churn/design.json").write_text(
        json.dumps({"features": list(FEATURES), "categories": design.categories})
    )
    (models / "churn/score.json").write_text(
        json.dumps({"bgnbd_weight": 0.0, "bgnbd_reference": 0.0})
    )
    if classifier:
        labels = np.random.default_rng(2).integers(0, len(CLASSES), len(train))
        loyalty = lgb.train(
            {
                "objective": "multiclass",
                "num_class": 3,
                "verbosity": -1,
                "seed": 1,
                "num_threads": 1,
            },
            lgb.Dataset(design.matrix(train), label=labels),
            num_boost_round=5,
        )
        loyalty.save_model(models / "loyalty/model.txt")
        meta = {"source": "classifier", "classes": list(CLASSES)}
    else:
        meta = {"source": "rules"}
    (models / "loyalty/meta.json").write_text(json.dumps(meta))
    return models


@pytest.mark.parametrize("calibration", ["none", "platt", "isotonic"])
def test_list_model_gives_the_calibrated_probability_of_its_booster(tmp_path, calibration):
    models = write_models(tmp_path, calibration=calibration, classifier=True)
    model = ListModel.from_files(model_files(models))
    rows = frame(200, 5)
    out = model.predict(rows)
    booster = lgb.Booster(model_file=str(models / "churn/model.txt"))
    expected = model.calibrator.predict(predict(booster, model.design, rows))
    # LightGBM's own sigmoid and ours of its raw log-odds may differ in the last bit
    # (vectorised exp differs between CPUs); another booster would differ in the 2nd digit
    np.testing.assert_allclose(out["churn_probability"].to_numpy(), expected, rtol=1e-12)
    assert model.calibrator.method == calibration
    assert set(out["loyalty_type"]) <= set(CLASSES)
    assert out["loyalty_type_probability"].between(0, 1).all()
    assert (out["loyalty_type_source"] == "classifier").all()
    assert out.index.equals(rows.index)


def test_without_a_classifier_types_come_from_the_rule_table(tmp_path):
    models = write_models(tmp_path, calibration="none", classifier=False)
    model = ListModel.from_files(model_files(models))
    rows = frame(100, 6)
    out = model.predict(rows)
    expected = assign_types(rows, BEHAVIOUR_RULES)["loyalty_type"]
    assert out["loyalty_type"].tolist() == expected.tolist()
    assert out["loyalty_type_probability"].isna().all()
    assert (out["loyalty_type_source"] == "rules").all()


def test_missing_features_and_files_are_named(tmp_path):
    models = write_models(tmp_path, calibration="none", classifier=False)
    model = ListModel.from_files(model_files(models))
    with pytest.raises(ValueError, match=r"lacks 1 of the model's 4 features: \['region'\]"):
        model.predict(frame(5, 1).drop(columns="region"))
    (models / "value/model.txt").unlink()
    with pytest.raises(FileNotFoundError, match="value/model.txt"):
        model_files(models)


def test_example_is_no_real_customer_and_scores(tmp_path):
    models = write_models(tmp_path, calibration="platt", classifier=True)
    model = ListModel.from_files(model_files(models))
    rows = frame(300, 7)
    example = model.example(rows)
    assert len(example) == 3 and list(example.columns) == list(FEATURES)
    quantiles = rows["orders_365d"].quantile([0.1, 0.5, 0.9]).round()
    assert example["orders_365d"].tolist() == quantiles.astype(int).tolist()
    assert example["orders_365d"].dtype == "int64"  # counts stay integers in the signature
    assert example["region"].nunique() == 1
    assert model.predict(example)["churn_probability"].between(0, 1).all()


def test_pyfunc_model_loads_without_pickle_and_reproduces_the_list(tmp_path, monkeypatch):
    """Logged through MLflow as code, loaded back with mlflow.pyfunc.load_model."""
    import mlflow

    from pipeline import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    models = write_models(tmp_path, calibration="isotonic", classifier=True)
    files = model_files(models)
    model = ListModel.from_files(files)
    rows = frame(250, 8)
    example = model.example(rows)
    logged = tracking.log_run(
        tmp_path,
        experiment="t",
        run_name="baseline",
        params={"a": 1},
        metrics={"shipped.roc_auc": 0.8},
        tags={"model": "lightgbm"},
        model_files=files,
        input_example=example,
        output_example=model.predict(example),
        artifacts={},
        tables={},
        registered_model="churn-loyalty",
    )
    assert logged.version == "1"
    # a reviewer sees the metrics on the run and on the logged model's own page
    c = tracking.client(tmp_path)
    run = c.get_run(logged.run_id)
    assert run.data.metrics == {"shipped.roc_auc": 0.8}
    model_id = run.outputs.model_outputs[0].model_id
    assert {m.key: m.value for m in c.get_logged_model(model_id).metrics} == {
        "shipped.roc_auc": 0.8
    }
    loaded = mlflow.pyfunc.load_model(f"models:/churn-loyalty/{logged.version}")
    out = loaded.predict(rows)
    expected = model.predict(rows)
    np.testing.assert_array_equal(
        out["churn_probability"].to_numpy(), expected["churn_probability"].to_numpy()
    )
    assert out["loyalty_type"].tolist() == expected["loyalty_type"].tolist()
    np.testing.assert_array_equal(
        out["expected_value"].to_numpy(), expected["expected_value"].to_numpy()
    )
    meta = loaded.metadata
    inputs = meta.get_input_schema().input_names()
    assert inputs == list(FEATURES)
    assert "churn_probability" in meta.get_output_schema().input_names()
    stored = [p for p in (tmp_path / "mlruns").rglob("*") if p.is_file()]
    assert not [p for p in stored if p.suffix in (".pkl", ".pickle")]
    names = {p.name for p in stored}
    assert {"MLmodel", "input_example.json", "mlflow_model.py", "calibrator.json"} <= names
    requirements = next(p for p in stored if p.name == "requirements.txt").read_text()
    assert "lightgbm==" in requirements and "mlflow==" in requirements


def test_track_refuses_a_model_that_is_not_the_one_behind_the_list(tmp_path, monkeypatch):
    from pipeline.stages import track

    models = write_models(tmp_path, calibration="platt", classifier=True)
    model = ListModel.from_files(model_files(models))
    rows = frame(300, 8).assign(customer_id=[f"C{i}" for i in range(300)])
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    monkeypatch.setattr(track, "PREDICTIONS", predictions)
    listed = model.predict(rows)["churn_probability"].to_numpy()
    shipped = pd.DataFrame({"customer_id": rows["customer_id"][::-1], "p_lightgbm": listed[::-1]})
    shipped.to_parquet(predictions / "score.parquet")

    track.check_reproduces_list(model, rows)  # the list's own model, rows in another order

    shipped.loc[shipped["customer_id"] == "C7", "p_lightgbm"] += 1e-12
    shipped.to_parquet(predictions / "score.parquet")
    with pytest.raises(ValueError, match=r"for 1 of 300 customers, e.g. customers \['C7'\]"):
        track.check_reproduces_list(model, rows)
