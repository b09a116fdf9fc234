"""Stages run in-process on small shops: a shop's own orders-only CSV, and a backtest.

Faster than the DVC run of test_pipeline.py, these call each stage's ``run(params)``
in a temporary working directory, exactly as ``dvc repro`` would.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import tracking
from pipeline.backtest import backtest_origins, backtest_table, run_origin
from pipeline.calibration import METHODS
from pipeline.config import Params
from pipeline.features import KEY
from pipeline.labels import split_for
from pipeline.sources.synthetic import generate_shop
from pipeline.stages import explain, features, forward, ingest, score, source, train
from pipeline.stages.train import load_cutoffs
from pipeline.train import Design

STAGES = (source, ingest, features, train, explain, score)


def small_params(**sections) -> Params:
    base = {
        "synthetic": {"n_customers": 1500, "seed": 3},
        "evaluate": {"backtest_origins": 2, "bgnbd": False},
        "retention": {"budget": {"contacts": 50}},
        "train": {"loyalty_max_rounds": 50},
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return Params.model_validate(base)


# The orders export of ``orders_only_shop`` under its own column names.
EXPORT_ORDERS = {"customer_id": "Client", "ordered_at": "Placed", "amount": "Total"}


def export_params(files=None, columns=None, **sections) -> Params:
    """``small_params`` reading ``orders_only_shop``'s exports through ``source.files``:
    its orders, plus ``files`` (table -> path) mapped by ``columns``."""
    return small_params(
        source={
            "kind": "files",
            "files": {"orders": "exports/orders.csv", **(files or {})},
            "columns": {"orders": EXPORT_ORDERS, **(columns or {})},
        },
        **sections,
    )


@pytest.fixture(scope="module")
def orders_only_shop(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """Another shop's export: orders only, its own column names, an order per line."""
    root = tmp_path_factory.mktemp("csv_shop")
    shop = generate_shop(n_customers=1500, start=dt.date(2022, 3, 1), days=700, seed=11)
    o = shop.tables["orders"]
    export = pd.DataFrame(
        {
            "Client": o["customer_id"].str.replace("C", "client-", regex=False),
            "Invoice": o["order_id"],
            "Placed": o["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Total": o["amount"].round(2),
        }
    )
    (root / "exports").mkdir()
    export.to_csv(root / "exports/orders.csv", index=False)
    return root, export


def test_orders_only_csv_runs_untouched_and_scores_every_active_customer(
    orders_only_shop, monkeypatch, caplog
):
    root, export = orders_only_shop
    monkeypatch.chdir(root)
    params = small_params(
        source={
            "kind": "files",
            "files": {"orders": "exports/orders.csv"},
            "columns": {
                "orders": {
                    "customer_id": "Client",
                    "order_id": "Invoice",
                    "ordered_at": "Placed",
                    "amount": "Total",
                }
            },
        },
    )
    with caplog.at_level(logging.INFO):
        for stage in STAGES:
            stage.run(params)
    assert "feature complaints_365d dropped: needs complaints.opened_at" in caplog.text
    scored = pd.read_csv(root / "data/scored/customers.csv")
    placed = pd.to_datetime(export["Placed"])
    as_of = placed.max().normalize() + pd.Timedelta(days=1)
    active = export.loc[placed >= as_of - pd.Timedelta(days=365), "Client"].unique()
    assert sorted(scored["customer_id"]) == sorted(active)
    assert set(scored["loyalty_type_source"]) == {"rules"}
    assert scored["loyalty_type"].isin(["premium", "inertia", "latent", "convenience"]).all()
    # every customer at risk is told why; a steady customer whose risk only their
    # strengths move (many orders, long tenure, above the shop's) gets no reason
    at_risk = scored["segment"] != "steady"
    assert scored.loc[at_risk, "reason_1"].notna().all()
    assert scored.loc[scored["list"].notna(), "reason_1"].notna().all()
    overdue = scored.loc[at_risk & scored["reason_1"].str.contains(", overdue", na=False)]
    assert set(overdue["segment"]) <= {"lapsing"}
    metrics = pd.read_json(root / "reports/train.json", typ="series")
    assert metrics["loyalty"]["source"] == "rules"
    call = pd.read_csv(root / "data/scored/at_risk.csv")
    assert 0 < len(call) <= 50
    # every total is the sum of the column as the team receives it, to the penny
    summary = json.loads((root / "reports/score.json").read_text())
    totals = {
        "expected_profit": "expected_profit",
        "saveable_value": "saveable_value",
        "value_at_risk": "value_at_risk",
        "contact_cost": "cost",
    }
    for column, total in totals.items():
        assert round(call[column].sum(), 2) == summary["call_list"][total], column
    assert round(scored["value_at_risk"].sum(), 2) == summary["value_at_risk_total"]
    assert round(scored["expected_value"].sum(), 2) == summary["expected_value_total"]
    assert set(call["segment"]) <= {"early_warning", "lapsing"}
    assert (root / "data/scored/at_risk.xlsx").stat().st_size > 5_000
    assert "<svg" in (root / "reports/retention_report.html").read_text()


def test_pass_through_columns_reach_the_lists_and_nothing_else(
    orders_only_shop, monkeypatch, caplog
):
    root, export = orders_only_shop
    monkeypatch.chdir(root)
    clients = export["Client"].drop_duplicates().sort_values()
    pd.DataFrame(
        {
            "Client": clients,
            "Name": "Name of " + clients,
            "Mail": clients + "@example.invalid",
        }
    ).to_csv(root / "exports/customers.csv", index=False)
    params = small_params(
        source={
            "kind": "files",
            "files": {"orders": "exports/orders.csv", "customers": "exports/customers.csv"},
            "columns": {
                "orders": {
                    "customer_id": "Client",
                    "order_id": "Invoice",
                    "ordered_at": "Placed",
                    "amount": "Total",
                },
                "customers": {"customer_id": "Client"},
            },
        },
        score={"pass_through": ["Name", "Mail"]},
    )
    with caplog.at_level(logging.DEBUG):
        for stage in STAGES:
            stage.run(params)
    everyone = pd.read_csv(root / "data/scored/customers.csv")
    assert everyone.columns[3:6].tolist() == ["customer_id", "Name", "Mail"]
    assert (everyone["Name"] == "Name of " + everyone["customer_id"]).all()
    from openpyxl import load_workbook

    sheet = load_workbook(root / "data/scored/at_risk.xlsx")["Everyone"]
    header = [c.value for c in sheet[1]]
    assert header[3:6] == ["customer_id", "Name", "Mail"]
    # the sheet holds the numbers the CSV writes: a probability copied from a cell finds
    # the customer in the CSV (0.4321, not 0.43207815...)
    cells = pd.DataFrame(list(sheet.iter_rows(min_row=2, values_only=True)), columns=header)
    for column in ("churn_probability", "contact_success", "usual_gap_days", "value_at_risk"):
        got = pd.to_numeric(cells[column]).to_numpy(dtype=float)
        assert np.array_equal(got, everyone[column].to_numpy(dtype=float), equal_nan=True), column
    # never in the metrics (which go to MLflow) or the logs
    mails = everyone["Mail"].head(50).tolist()
    score_json = (root / "reports/score.json").read_text()
    assert not [m for m in mails if m in score_json or m in caplog.text]


def test_pass_through_columns_are_read_as_source_read_says(tmp_path, monkeypatch):
    """Names in a Big5 customers file reach the lists as written: the encoding the shop
    set in ``source.read`` (a guess reads them as cp1252 mojibake)."""
    monkeypatch.chdir(tmp_path)
    names = ["王志明", "陳美玲", "林小華"]
    pd.DataFrame({"Client": ["C1", "C2", "C3"], "Name": names}).to_csv(
        tmp_path / "customers.csv", index=False, encoding="big5"
    )
    params = Params.model_validate(
        {
            "source": {
                "kind": "files",
                "files": {"orders": "orders.csv", "customers": "customers.csv"},
                "columns": {"customers": {"customer_id": "Client"}},
                "read": {"encoding": "big5"},
            },
            "score": {"pass_through": ["Name"]},
        }
    )
    got = score.pass_through_columns(params, pd.Series(["C3", "C1"], index=[7, 8]))
    assert got["Name"].tolist() == ["林小華", "王志明"]
    assert got.index.tolist() == [7, 8]


def test_as_of_scores_the_past_with_only_data_before_it(orders_only_shop, monkeypatch):
    root, export = orders_only_shop
    monkeypatch.chdir(root)
    as_of = dt.date(2023, 9, 1)
    params = export_params(
        score={"as_of": as_of},
        snapshots={"min_history_days": 90},
    )
    for stage in STAGES:
        stage.run(params)
    snaps = pd.read_parquet(root / "data/features/snapshots.parquet")
    assert snaps["cutoff"].max() == pd.Timestamp(as_of)
    labelled = snaps[snaps["labelled"]]
    assert (labelled["cutoff"] + pd.Timedelta(days=90) <= pd.Timestamp(as_of)).all()
    placed = pd.to_datetime(export["Placed"])
    window = (placed < pd.Timestamp(as_of)) & (
        placed >= pd.Timestamp(as_of) - pd.Timedelta(365, "D")
    )
    scored = pd.read_csv(root / "data/scored/customers.csv")
    assert sorted(scored["customer_id"]) == sorted(export.loc[window, "Client"].unique())


@pytest.fixture(scope="module")
def synthetic_snapshots(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    try:
        params = small_params()
        for stage in (source, ingest, features):
            stage.run(params)
    finally:
        mp.undo()
    return root


def test_above_max_rows_only_the_training_sample_and_the_surveyed_are_computed(
    synthetic_snapshots, tmp_path, monkeypatch
):
    """More rows than ``train.max_rows``: the labelled cutoffs before the last hold the
    stratified training sample and the surveyed customers only, each row exactly what
    the full computation gives; the last labelled cutoff and the scoring one everyone."""
    full = pd.read_parquet(synthetic_snapshots / "data/features/snapshots.parquet")
    assert full["sampled"].all()  # below max_rows every row is learnt from
    shutil.copytree(synthetic_snapshots / "data/canonical", tmp_path / "data/canonical")
    monkeypatch.chdir(tmp_path)
    params = small_params(train={"max_rows": 1500})
    features.run(params)
    snaps = pd.read_parquet("data/features/snapshots.parquet")
    meta = json.loads(Path("data/features/meta.json").read_text())
    cuts = load_cutoffs(meta)
    share = meta["sample"]["share"]
    assert 0.05 < share < 0.5

    merged = snaps.merge(
        full.drop(columns="sampled"), on=list(KEY), suffixes=("", "_full"), validate="1:1"
    )
    assert len(merged) == len(snaps)
    for column in full.columns.drop([*KEY, "sampled"]):
        pd.testing.assert_series_equal(merged[column], merged[f"{column}_full"], check_names=False)
    surveyed = set(pd.read_parquet("data/canonical/surveys.parquet")["customer_id"])
    for cutoff in cuts.labelled:
        at, whole = snaps[snaps["cutoff"] == cutoff], full[full["cutoff"] == cutoff]
        chosen = at[at["sampled"]]
        for label, cell in whole.groupby("churned"):
            assert (chosen["churned"] == label).sum() == int(len(cell) * share)
        if cutoff == cuts.labelled[-1]:
            assert len(at) == len(whole)
        else:
            beside = surveyed & set(whole["customer_id"]) - set(chosen["customer_id"])
            assert set(at.loc[~at["sampled"], "customer_id"]) == beside
    scoring = snaps[snaps["cutoff"] == cuts.score]
    assert scoring["sampled"].all() and len(scoring) == (full["cutoff"] == cuts.score).sum()
    split = split_for(cuts, cuts.score, validation_cutoffs=1)
    assert (snaps["sampled"] & snaps["cutoff"].isin(split.train)).sum() <= 1500

    # the same rows however the cutoffs are batched
    monkeypatch.setattr(features, "BATCH_ROWS", 500)
    features.run(params)
    pd.testing.assert_frame_equal(pd.read_parquet("data/features/snapshots.parquet"), snaps)


def test_backtest_on_a_small_shop_is_time_ordered_and_beats_recency(synthetic_snapshots):
    root = synthetic_snapshots
    params = small_params()
    snaps = pd.read_parquet(root / "data/features/snapshots.parquet")
    meta = json.loads((root / "data/features/meta.json").read_text())
    cuts = load_cutoffs(meta)
    labelled = snaps[snaps["labelled"]].reset_index(drop=True)
    orders = pd.read_parquet(root / "data/canonical/orders.parquet")
    design = Design.fit(labelled, meta["features"], meta["categorical"])
    origins = backtest_origins(cuts, n=2, validation_cutoffs=1)
    assert origins == list(cuts.labelled[-2:])
    for o in origins:
        split = split_for(cuts, o, validation_cutoffs=1)
        # every training label window ends before validation, validation before test
        assert max(split.train) + pd.Timedelta(days=90) <= split.valid[0]
        assert split.valid[-1] + pd.Timedelta(days=90) <= o
    results = [run_origin(labelled, orders, cuts, o, design, params) for o in origins]
    table = backtest_table(results, params)
    assert set(table["model"]) == {"lightgbm", "recency", "logistic"}
    assert len(table) == 2 * 3
    mean = table.groupby("model")[["roc_auc", "brier", "emp"]].mean()
    assert mean.loc["lightgbm", "roc_auc"] > mean.loc["recency", "roc_auc"]
    assert mean.loc["lightgbm", "brier"] < mean.loc["recency", "brier"]
    assert np.isfinite(table[["emp", "ece", "log_loss"]].to_numpy()).all()
    for r in results:
        assert r.shipped.calibration in METHODS
        # the shipped model saw no label of the origin's own window
        assert max(r.shipped.split.valid) + pd.Timedelta(days=90) <= r.test


def test_a_release_is_the_same_fitted_in_one_process_or_two(synthetic_snapshots):
    """``train.num_threads`` sets how many fits run at once, never what they fit: every
    model, probability and metric is the same, bit for bit, in one process or two."""
    from pipeline.release import build_release
    from pipeline.stages.train import read_inputs

    mp = pytest.MonkeyPatch()
    mp.chdir(synthetic_snapshots)
    try:
        snaps, orders, surveys, cuts, design = read_inputs()
        releases = [
            build_release(
                snaps,
                orders,
                surveys,
                cuts,
                design,
                small_params(evaluate={"bgnbd": True}, train={"num_threads": n}),
            )
            for n in (1, 2)
        ]
    finally:
        mp.undo()
    one, two = releases
    assert one.metrics == two.metrics
    pd.testing.assert_frame_equal(one.score_predictions, two.score_predictions)
    pd.testing.assert_frame_equal(one.test_predictions(), two.test_predictions())
    assert one.metrics["loyalty"]["source"] == "classifier"

    def trees(booster):
        return booster.model_to_string().split("parameters:")[0]

    for a, b in zip([*one.origins, one], [*two.origins, two], strict=True):
        assert trees(a.shipped.booster) == trees(b.shipped.booster)
        assert trees(a.shipped.value_booster) == trees(b.shipped.value_booster)
    assert trees(one.loyalty.booster) == trees(two.loyalty.booster)


def test_the_list_at_the_test_cutoff_is_the_reported_model(synthetic_snapshots, tmp_path):
    """What ships is what was measured: score the test cutoff as of itself, compare.

    The full run reports the test cutoff's figures from the backtest's last origin; a
    run with score.as_of at that date ships a list. Its probabilities, its value and
    every baseline's must be the reported ones, bit for bit (the list rounds to 4
    decimals), or the README reports a model nobody receives.
    """
    import shutil

    root = tmp_path / "shop"
    shutil.copytree(synthetic_snapshots, root)
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    try:
        full = small_params(evaluate={"bgnbd": True})
        for stage in (train, explain, score):
            stage.run(full)
        report = json.loads(Path("reports/train.json").read_text())
        test_cutoff = pd.Timestamp(report["churn"]["test_cutoff"])
        backtest = pd.read_parquet("data/predictions/backtest.parquet")
        measured = backtest[backtest["cutoff"] == test_cutoff].set_index("customer_id")

        past = small_params(evaluate={"bgnbd": True}, score={"as_of": test_cutoff.date()})
        for stage in (features, train, explain, score, forward):
            stage.run(past)
        shipped = pd.read_parquet("data/predictions/score.parquet").set_index("customer_id")
        listed = pd.read_csv("data/scored/customers.csv", dtype={"customer_id": "string"})
        forward_report = json.loads(Path("reports/forward.json").read_text())
    finally:
        mp.undo()
    assert sorted(shipped.index) == sorted(measured.index)
    for column in ("p_lightgbm", "p_recency", "p_logistic", "p_bgnbd", "expected_value"):
        np.testing.assert_array_equal(shipped[column], measured.loc[shipped.index, column])
    listed = listed.set_index("customer_id")
    np.testing.assert_allclose(
        listed["churn_probability"], measured.loc[listed.index, "p_lightgbm"], atol=5e-5
    )
    reported = report["churn"]["test"]["lightgbm"]
    judged = forward_report["metrics"]["shipped"]
    assert forward_report["evaluable"] and forward_report["customers"] == len(measured)
    assert judged["roc_auc"] == pytest.approx(reported["roc_auc"], abs=5e-4)
    assert judged["brier"] == pytest.approx(reported["brier"], abs=5e-4)
    assert forward_report["metrics"]["bgnbd"]["brier"] == pytest.approx(
        report["churn"]["test"]["bgnbd"]["brier"], abs=1e-12
    )


def test_reasons_reusing_the_drivers_sample_are_the_reasons_computed_afresh(
    synthetic_snapshots, tmp_path
):
    """score reuses the explain stage's SHAP values of its sample; the lists must be
    exactly those of a score stage that explains every customer itself."""
    root = tmp_path / "shop"
    shutil.copytree(synthetic_snapshots, root)
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    try:
        params = small_params(explain={"max_rows": 200})
        for stage in (train, explain, score):
            stage.run(params)
        reused = Path("data/scored/customers.csv").read_bytes()
        sample = pd.read_parquet("data/explain/shap_sample.parquet")
        sample.head(0).to_parquet("data/explain/shap_sample.parquet", index=False)
        score.run(params)
        afresh = Path("data/scored/customers.csv").read_bytes()
    finally:
        mp.undo()
    assert len(sample) == 200 and sample["customer_id"].is_unique
    assert reused == afresh


def test_too_short_history_says_how_to_fix_it(orders_only_shop, monkeypatch):
    root, _ = orders_only_shop
    monkeypatch.chdir(root)
    params = export_params(
        snapshots={"min_history_days": 500},
    )
    for stage in (source, ingest, features):
        stage.run(params)
    with pytest.raises(ValueError, match=r"Lower snapshots.min_history_days by at least \d+ days"):
        train.run(params)


def test_contact_days_are_batched_by_contacts():
    days = pd.date_range("2024-01-01", periods=5, freq="14D")
    per_day = pd.Series([10, 10, 30, 60, 120], index=days)
    # 10+10+30 = 50 fits in 60, +60 does not; 60 alone; 120 is over the limit alone: a
    # batch of its own all the same
    assert features.contact_batches(per_day, 60) == [
        [days[0], days[1], days[2]],
        [days[3]],
        [days[4]],
    ]
    assert features.contact_batches(per_day, 1000) == [list(days)]
    assert features.contact_batches(per_day.iloc[:0], 60) == []


def test_an_empty_contacts_export_means_no_campaign_history(orders_only_shop, monkeypatch):
    # A shop that exports its contact history before its first campaign: the header
    # only. The features stage writes no campaign file (the uplift stage then falls back
    # to the rules) instead of failing on a batch of no contact days.
    root, _ = orders_only_shop
    monkeypatch.chdir(root)
    pd.DataFrame(
        columns=["customer_id", "campaign", "contacted_at", "arm", "play", "cost"]
    ).to_csv(root / "exports/contacts.csv", index=False)
    params = export_params({"contacts": "exports/contacts.csv"})
    for stage in (source, ingest, features):
        stage.run(params)
    meta = json.loads(Path("data/features/meta.json").read_text())
    assert meta["campaigns"]["contacts"] == 0
    assert not Path("data/features/campaigns.parquet").exists()
    assert Path("data/features/snapshots.parquet").exists()


def test_a_contacts_export_feeds_the_campaigns_through_source_files(orders_only_shop, monkeypatch):
    # The README's example: a real shop's contact history under its own column names.
    root, export = orders_only_shop
    monkeypatch.chdir(root)
    shop = generate_shop(n_customers=1500, start=dt.date(2022, 3, 1), days=700, seed=11)
    c = shop.tables["contacts"]
    pd.DataFrame(
        {
            "client": c["customer_id"].str.replace("C", "client-", regex=False),
            "wave": c["campaign"],
            "sent": c["contacted_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "group": c["arm"],
            "offer": c["play"],
            "cost": c["cost"],
        }
    ).to_csv(root / "exports/contacts.csv", index=False)
    mapping = {
        "customer_id": "client",
        "campaign": "wave",
        "contacted_at": "sent",
        "arm": "group",
        "play": "offer",
        "cost": "cost",
    }
    params = export_params({"contacts": "exports/contacts.csv"}, {"contacts": mapping})
    for stage in (source, ingest, features):
        stage.run(params)
    meta = json.loads(Path("data/features/meta.json").read_text())["campaigns"]
    rows = pd.read_parquet("data/features/campaigns.parquet")
    assert meta["contacts"] == len(c)
    assert meta["with_features"] == len(rows) > 0.5 * len(c)
    assert set(rows["arm"]) == {"treatment", "control"}
    assert rows["customer_id"].str.startswith("client-").all()


def test_a_failure_before_any_list_writes_no_stale_note_and_says_none(tmp_path, monkeypatch):
    from pipeline.stages import _common

    monkeypatch.chdir(tmp_path)
    # a first run that fails in its first stage: nothing delivered, so no note to cite
    assert _common.mark_stale("source", ValueError("mixed time zones")) is False
    assert not (tmp_path / "data/scored/STALE.txt").exists()
    (tmp_path / "data/scored").mkdir(parents=True)
    (tmp_path / "data/scored/at_risk.csv").write_text("customer_id\nC1\n")
    assert _common.mark_stale("source", ValueError("mixed time zones")) is True
    assert [p.name for p in (tmp_path / "data/scored").iterdir()] == ["STALE.txt"]
    assert "stage 'source'" in (tmp_path / "data/scored/STALE.txt").read_text()


def test_a_failure_takes_away_the_figures_of_the_stages_after_it(tmp_path, monkeypatch):
    """Reviewed: after a failed source stage reports/ledger.json still said "ok" with the
    run before's counts, and `dvc metrics show` read the run before's metrics.json."""
    from pipeline.stages import _common

    monkeypatch.chdir(tmp_path)
    names = [
        "reports/ledger.json",
        "reports/train.json",
        "reports/forward.json",
        "reports/mlflow_run.json",
        "metrics.json",
        "data/scored/at_risk.csv",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert _common.mark_stale("score", ValueError("boom")) is True
    kept = [n for n in names if (tmp_path / n).exists()]
    # before the score stage; and the run MLflow holds, which `make compare` refuses
    # while STALE.txt is there (a recovered run restores no file the track stage wrote)
    assert kept == ["reports/ledger.json", "reports/train.json", "reports/mlflow_run.json"]
    stale = (tmp_path / "data/scored/STALE.txt").read_text()
    assert "(reports/forward.json, metrics.json)" in stale
    with pytest.raises(LookupError, match="the workspace's last run failed"):
        tracking._workspace_run(None, tmp_path)
    for name in names:
        (tmp_path / name).write_text("{}")
    _common.mark_stale("source", ValueError("mixed time zones"))
    assert [n for n in names if (tmp_path / n).exists()] == ["reports/mlflow_run.json"]
    # the curves and drivers of the run before too (reviewed: they stayed, unlisted)
    for folder in ("reports/plots", "reports/explain"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "roc.csv").write_text("x\n")
    _common.mark_stale("ingest", ValueError("bad rows"))
    assert not (tmp_path / "reports/plots").exists()
    assert not (tmp_path / "reports/explain").exists()
    assert "reports/plots, reports/explain" in (tmp_path / "data/scored/STALE.txt").read_text()


def test_reason_coverage_counts_the_reasons_the_lists_show() -> None:
    """Reviewed: score.json said 0.931 of the call list had reasons from two or more
    concepts, and 459 of its 500 rows showed two: a concept the catalogue could not say
    of a customer left its column empty and was still counted."""
    scored = pd.DataFrame(
        {
            "list": ["call", "call", "call", "", ""],
            "reason_1": ["a", "a", "a", "a", None],
            "reason_concept_1": ["x", "x", "x", "x", None],
            "reason_2": ["b", None, "b", None, None],
            "reason_concept_2": ["y", "y", "y", None, None],
            "reason_3": [None, None, None, None, None],
            "reason_concept_3": [None, None, None, None, None],
            "reason_4": ["c", None, None, None, None],  # a spare, not on the lists
            "reason_concept_4": ["z", None, None, None, None],
        }
    )
    assert score.reason_coverage(scored, 3) == {"all": 0.5, "call_list": round(2 / 3, 4)}
