"""The whole pipeline, for real: DVC, DuckDB, LightGBM, SHAP and MLflow on a small shop.

One session-scoped run (tests/conftest.py: `make baseline` in a fresh `git clone` of
this checkout, from a fresh shell with no venv on PATH) serves the checks a user would
make: outputs where the README says, a second `dvc repro` that does nothing, `dvc exp
run -S train.<param>` re-running only what depends on it, identical metrics and
dvc.lock on a forced re-run, `dvc metrics diff` and `dvc exp show` against the
committed baseline, the registry's gate, `make compare`, what MLflow holds (and does
not hold), a moved clone, and, on this medium-sized shop, that the model finds the
planted causes and types customers.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import run_in_shell

from pipeline.release import survey_labels


@pytest.fixture(scope="module")
def shop(dvc_shop) -> Path:
    """The session's shop (tests/conftest.py): `make baseline` in a fresh clone and shell."""
    return dvc_shop


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """A command from a fresh shell (no venv on PATH): ``dvc`` is ``.venv/bin/dvc``."""
    line = " ".join(shlex.quote(c) for c in cmd)
    if cmd[0] == "dvc":
        line = ".venv/bin/" + line
    return run_in_shell(cwd, line, check=check)


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
    # the reasons' numbers are the columns' (reviewed: "last order 86 days ago" beside
    # 85; "usually every 101 days" beside a usual gap of 26.1, the shop's)
    said = scored[["reason_1", "reason_2", "reason_3", "keeps_them"]].astype("string")
    for column in said:
        ago = said[column].str.extract(r"last order ([\d,]+) days? ago")[0]
        has = ago.notna()
        days = ago[has].str.replace(",", "").astype(int)
        assert (days == scored.loc[has, "days_since_last_order"]).all(), column
        gap = said[column].str.extract(r"usually every ([\d,]+) days?")[0]
        has = gap.notna()
        gap = gap[has].str.replace(",", "").astype(float)
        assert ((gap - scored.loc[has, "usual_gap_days"]).abs() <= 1).all(), column
    # a team can tell lapsing from early warning by the columns: past overdue_after_days
    # or not (reviewed: 109 of 175 early warnings were past their usual gap, not lapsing)
    # in whole days both: lapsing exactly when days_since_last_order exceeds it (reviewed:
    # 46 lapsing rows read "21" beside 21.3)
    days, due = scored["days_since_last_order"], scored["overdue_after_days"]
    assert (due + 1 > scored["usual_gap_days"]).all() and (due == due.round()).all()
    lapsing = scored["segment"] == "lapsing"
    assert (days[lapsing] > due[lapsing]).all()
    within = scored["segment"].isin(["early_warning", "steady"])
    assert (days[within] <= due[within]).all()
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
    # the campaigns were learnt from, judged on the held-out one, and acted on
    uplift = read_json(shop / "reports/uplift.json")
    assert uplift["available"], uplift.get("reason")
    assert set(uplift["policies"]) == {"model", "risk", "value_at_risk", "random"}
    assert uplift["training_contacts"] > uplift["held_out_contacts"] > 0
    truth = uplift["truth"]
    assert truth["oracle_saved_value"] > 0 and truth["top_k"] > 0
    # counts, not strings (numpy's ints were written as "760")
    plays = uplift["shipped"]["plays"]
    reach = uplift["shipped"]["reach"]  # customers no campaign reached are left to the rules
    assert all(type(n) is int for n in plays.values())
    assert sum(plays.values()) + reach["outside"] == len(scored)
    silence = scored["days_since_last_order"]
    beyond = (silence < reach["low"]) | (silence > reach["high"])
    assert beyond.sum() == reach["outside"] > 0
    assert (scored.loc[beyond, "play_source"] == "rules").all()
    # a steady customer gets no play, and no figure of what one would save
    steady = scored["segment"] == "steady"
    assert steady.any() and scored.loc[steady, "expected_saved_value"].isna().all()
    qini = pd.read_csv(shop / "reports/qini.csv")
    assert list(qini.columns) == ["share", "model", "risk", "value_at_risk", "random"]
    assert set(scored["play_source"]) <= {"uplift model", "rules"}
    # the model decides only where it beat churn-risk targeting on the held-out campaign
    # (uplift.require_lead): this small shop's interval may hold 0, and the report says so
    report = (shop / "reports/retention_report.html").read_text()
    if uplift["decides"]:
        assert (scored["play_source"] == "uplift model").any()
        assert "The lists use it: on the held-out campaign" in report
        # the report and the summary count the same customers left to the rules
        left = int(((scored["play_source"] == "rules") & ~steady).sum())
        if left:
            assert f"the {left:,} others whose segment calls for a contact" in report
            said = read_json(shop / "reports/score.json")["plays_from"]
            assert f"{left:,} more beyond the campaigns' reach" in said
    else:
        assert (scored["play_source"] == "rules").all()
        assert uplift["difference_vs_risk"]["low"] <= 0
        assert "The lists do not use this model" in report
    # both sources counted in every run, under keys MLflow shows as they are (a
    # rules-only run logs 0 for the model rather than leaving its column blank)
    sources = read_json(shop / "reports/score.json")["play_source"]
    assert sources == {
        "rules": int((scored["play_source"] == "rules").sum()),
        "uplift_model": int((scored["play_source"] == "uplift model").sum()),
    }
    for other in ("risk", "value_at_risk", "random"):  # the model's lead over each
        lead = uplift[f"difference_vs_{other}"]
        assert lead["low"] <= lead["difference"] <= lead["high"], (other, lead)
    assert "do_not_contact" not in set(call["play"]) | set(winback["play"])
    assert {"uplift", "expected_saved_value"} <= set(call.columns)
    assert "uplift" in read_json(shop / "metrics.json")


def test_the_uplift_diagnostics_reproduce_the_stages_held_out_figures(shop):
    """The README's ``benchmarks/uplift_learners.py --held-out`` as written: the shipped
    learner's line is the stage's own figure in reports/uplift.json (the same fits on
    the same past), and the truth-fed ceiling is printed beside it; ``--decompose``
    splits each one's gap to the oracle into whom and which play."""
    out = run_in_shell(
        shop,
        ".venv/bin/python benchmarks/uplift_learners.py --held-out "
        "--only loglog_pooled_30 truth_fed --decompose",
    ).stdout
    lines = dict(re.findall(r"^\s*(\S+): saved .* = +(-?[\d.]+%.*)$", out, re.M))
    assert set(lines) == {"loglog_pooled_30", "truth_fed"}, out
    truth = read_json(shop / "reports/uplift.json")["truth"]
    share, dogs = re.match(
        r"(-?[\d.]+)%.*sleeping dogs marked (\d+ of \d+)", lines["loglog_pooled_30"]
    ).groups()
    assert float(share) == pytest.approx(100 * truth["oracle_share"], abs=0.051), out
    assert dogs == f"{truth['harmed_marked_do_not_contact']} of {truth['harmed_by_every_play']}"
    # the contacts no play can reach (they left in the campaign's week), as the README
    # counts them: every planted effect zero
    gone = int(re.search(r"already gone \(no play has any effect\): (\d+)", out).group(1))
    day = read_json(shop / "reports/uplift.json")["held_out_campaign_day"]
    effects = pd.read_parquet(shop / "data/truth/campaign_effects.parquet")
    held = effects[effects["campaign"] == str(day)[:10]].filter(like="effect_")
    assert len(held) > 0 and gone == int((held == 0).all(axis=1).sum())
    # the gap split into whom and which play: the truly best play for the same contacts
    # cannot save less, and nothing beats the oracle
    for name, line in lines.items():
        part = re.search(
            rf"^\s*{name}: as_shipped +(-?[\d.]+)%; best_play +(-?[\d.]+)%; oracle_whom "
            rf"+(-?[\d.]+)%; true_rank +(-?[\d.]+)% of the oracle",
            out,
            re.M,
        )
        shipped, best_play, oracle_whom, true_rank = map(float, part.groups())
        assert shipped == float(line.split("%")[0]), out
        assert shipped <= best_play <= 100.0 and oracle_whom <= 100.0 and true_rank <= 100.0
        counts = re.search(
            rf"^\s*{name}: the oracle's contacts by truly best play / given it: (.*)$", out, re.M
        ).group(1)
        pairs = re.findall(r"(\w+) (\d+) / (\d+)", counts)
        assert {p for p, _, _ in pairs} == {"discount", "fulfilment_fix", "points",
                                             "service_recovery", "winback"}, counts  # fmt: skip
        assert all(int(given) <= int(best) for _, best, given in pairs), counts


def test_the_harm_threshold_grid_relabels_only_and_marks_more_as_it_falls(shop):
    """The README's grid of the "do not contact" threshold and margin, as written (on
    the tests' 5,000-customer shop, not the README's 20,000): a lower threshold or a
    smaller margin marks a superset (more customers, more sleeping dogs), the grid's
    corners differ (the threshold and margin are used), no cell changes what the policy
    saves (marking relabels customers no play pays for), and the shipped learner marks as
    the cell of the run's own ``uplift.harm_margin`` and ``uplift.harm_probability``
    does."""
    out = run_in_shell(
        shop,
        ".venv/bin/python benchmarks/uplift_learners.py --campaigns 4 "
        "--only 'loglog_pooled_30_m*' loglog_pooled_30",
    ).stdout
    rows = re.findall(
        r"^loglog_pooled_30_m([\d.]+)_t([\d.]+): mean oracle share +(-?[\d.]+)%; sleeping "
        r"dogs marked (\d+) of (\d+) \(\d+%\); (\d+) marked in all \(F1 ([\d.]+)\)$",
        out,
        re.M,
    )
    grid = {
        (float(m), float(t)): (float(share), int(dogs), int(harmed), int(marked), float(f1))
        for m, t, share, dogs, harmed, marked, f1 in rows
    }
    margins, thresholds = (0.0, 0.05, 0.1, 0.2), (0.5, 0.4, 0.3)
    assert set(grid) == {(m, t) for m in margins for t in thresholds}, out
    assert len({share for share, *_ in grid.values()}) == 1, out
    for _, dogs, harmed, marked, f1 in grid.values():
        assert dogs <= min(harmed, marked)
        assert f1 == pytest.approx(2 * dogs / (harmed + marked), abs=0.0006)
    for m in margins:
        for high, low in zip(thresholds, thresholds[1:], strict=False):
            assert grid[m, low][1] >= grid[m, high][1] and grid[m, low][3] >= grid[m, high][3]
    for t in thresholds:
        for small, large in zip(margins, margins[1:], strict=False):
            assert grid[small, t][1] >= grid[large, t][1]
            assert grid[small, t][3] >= grid[large, t][3]
    assert grid[0.0, 0.3][3] > grid[0.2, 0.5][3], out
    shipped = re.search(
        r"^loglog_pooled_30: mean oracle share +(-?[\d.]+)%; sleeping dogs marked (\d+) of "
        r"(\d+) \(\d+%\); (\d+) marked in all",
        out,
        re.M,
    )
    u = yaml.safe_load((shop / "params.yaml").read_text())["uplift"]
    own = grid[float(u["harm_margin"]), float(u["harm_probability"])]
    assert shipped and (float(shipped[1]), *map(int, shipped.groups()[1:])) == own[:4], out


def test_the_uplift_stage_marks_by_the_params_harm_threshold(shop, monkeypatch):
    """``uplift.harm_probability`` is what the stage marks by: on the shop's held-out
    campaign, a threshold of 0 marks every customer no play pays for whose likely types
    include one every play pushes away, a threshold of 1 only those every play's
    expected effect pushes away (the fits are the same, only the marks move)."""
    import numpy as np

    from pipeline import uplift
    from pipeline.config import load_params
    from pipeline.stages.uplift import Fitted

    monkeypatch.chdir(shop)  # the stage's paths are relative to the run
    params = load_params(shop / "params.yaml")
    rows = pd.read_parquet("data/features/campaigns.parquet")
    meta = read_json(shop / "data/features/meta.json")
    train, valid, day = uplift.split_campaigns(rows, horizon_days=int(meta["horizon_days"]))
    plays = {}
    for threshold in (0.0, 1.0):
        u = params.uplift.model_copy(update={"harm_probability": threshold})
        fitted = Fitted(
            train, meta, params.model_copy(update={"uplift": u}), as_of=day, comparison=False
        )
        out = fitted.score(valid, value=np.full(len(valid), 100.0))
        plays[threshold] = out["uplift_play"].to_numpy()
        harm = out["harm_probability"].to_numpy()
    everyone, surest = plays[0.0] == "do not contact", plays[1.0] == "do not contact"
    idle = np.isin(plays[1.0], ["no contact", "do not contact"])
    assert (surest <= everyone).all() and everyone.sum() > surest.sum()
    np.testing.assert_array_equal(everyone, surest | (idle & (harm > 0)))
    # the plays of customers some play pays for do not move
    np.testing.assert_array_equal(plays[0.0][~idle], plays[1.0][~idle])
    # uplift.harm_margin: no multiplier is 1,000 times the baseline's, so no type counts
    # as pushed away and the harm rule marks no one
    u = params.uplift.model_copy(update={"harm_probability": 0.0, "harm_margin": 1000.0})
    fitted = Fitted(
        train, meta, params.model_copy(update={"uplift": u}), as_of=day, comparison=False
    )
    out = fitted.score(valid, value=np.full(len(valid), 100.0))
    assert (out["harm_probability"] == 0).all()
    np.testing.assert_array_equal(out["uplift_play"].to_numpy(), plays[1.0])


def test_the_uplift_stage_corrects_its_baseline_by_the_params_ridges(shop, monkeypatch):
    """``uplift.baseline_ridge`` and ``uplift.situation_ridge`` are the penalties the stage
    corrects its baseline with, on the type probabilities' coefficients and on the
    situations': a baseline ridge of null is the plays' ``ridge``, a huge one leaves the
    booster as it is along the types, a small one lets the controls move it further; a
    huge situation ridge leaves the situations alone."""
    import numpy as np

    from pipeline import uplift
    from pipeline.config import load_params
    from pipeline.stages.uplift import Fitted

    monkeypatch.chdir(shop)
    params = load_params(shop / "params.yaml")
    assert params.uplift.baseline_ridge is None  # the default: the plays' own
    rows = pd.read_parquet("data/features/campaigns.parquet")
    meta = read_json(shop / "data/features/meta.json")
    train, _, day = uplift.split_campaigns(rows, horizon_days=int(meta["horizon_days"]))
    correction = {}
    for ridges in ((None, 1.0), (params.uplift.ridge, 1.0), (1e9, 1.0), (0.1, 1.0), (None, 1e9)):
        update = dict(zip(("baseline_ridge", "situation_ridge"), ridges, strict=True))
        u = params.uplift.model_copy(update=update)
        fitted = Fitted(
            train, meta, params.model_copy(update={"uplift": u}), as_of=day, comparison=False
        )
        learner = next(iter(fitted.learners.values()))
        correction[ridges] = learner.correction
    names = learner.covariates.names
    types = np.array([n.startswith("type_") for n in names])
    situations = np.array([n in learner.covariates.situations for n in names])
    assert types.any() and situations.any(), names
    np.testing.assert_array_equal(correction[None, 1.0], correction[params.uplift.ridge, 1.0])
    assert np.abs(correction[1e9, 1.0][types]).max() < 1e-4
    assert np.abs(correction[None, 1e9][situations]).max() < 1e-4
    assert np.abs(correction[None, 1.0][situations]).max() > 1e-2
    t = types
    assert np.abs(correction[0.1, 1.0][t]).sum() > np.abs(correction[None, 1.0][t]).sum() > 0


def test_the_workbook_says_what_every_play_type_and_band_on_its_lists_means(shop):
    """A retention team reads the plays' keys, the loyalty types and the risk bands off
    the lists: the workbook's first sheet says what each one found there means, the
    margin behind expected_profit and the bands' cut-offs."""
    from openpyxl import load_workbook

    from pipeline.workbook import HOW_TO_READ

    wb = load_workbook(shop / "data/scored/at_risk.xlsx", read_only=True)
    notes = {
        str(k): str(v)
        for k, v, *_ in wb[HOW_TO_READ].iter_rows(values_only=True)
        if k is not None and v is not None
    }
    everyone = pd.read_csv(shop / "data/scored/customers.csv")
    for play in everyone["play"].unique():
        assert f"Play: {play}" in notes, (play, sorted(notes))
    # every way the lists word a play is on its line ("no contact" for a steady customer
    # and for one no tested play pays for), the answer to an open complaint aside
    from pipeline.score import action_without_complaint

    said = action_without_complaint(everyone["recommended_action"])
    for play, action in set(zip(everyone["play"], said, strict=True)):
        assert action in notes[f"Play: {play}"], (play, action, notes[f"Play: {play}"])
    for kind in everyone["loyalty_type"].dropna().unique():
        assert f"Loyalty type: {kind}" in notes, kind
    assert notes["Risk bands"].startswith("low below 30%, medium from 30%, high from 60%")
    assert notes["Margin"].startswith("30% of spend")


def test_the_open_complaints_diagnostic_runs_on_the_shop(shop):
    """The README's ``benchmarks/open_complaints.py`` as written, on the session's shop."""
    out = run_in_shell(shop, ".venv/bin/python benchmarks/open_complaints.py").stdout
    assert re.search(r"^contacts with an open complaint: [\d,]+ of [\d,]+$", out, re.M), out
    assert re.search(r"baseline on those controls: booster 0\.\d{3}, as the learner", out), out
    assert re.search(r"^  on a list: [\d,]+$", out, re.M), out


def test_the_planted_types_diagnostic_runs_on_the_shop(shop):
    """The README's ``benchmarks/planted_types.py`` as written, on the session's shop."""
    out = run_in_shell(shop, ".venv/bin/python benchmarks/planted_types.py").stdout
    agreements = re.findall(
        r"^(.+): [\d,]+ customers, ([\d.]+)% right, macro-F1 0\.\d{3}$", out, re.M
    )
    assert [name for name, _ in agreements] == [
        "survey labels (rule table on the answers)",
        "the list's types, customers never surveyed",
    ], out
    assert float(agreements[0][1]) > 80, out
    assert re.search(r'^marked "do not contact": [\d,]+, by planted type:$', out, re.M), out


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


def test_survey_labels_recover_the_planted_types(shop):
    # the classifier can only learn what its labels say: the rule table applied to the
    # answers must give most surveyed customers the type the simulator planted, and
    # "latent" (every play's sleeping dog) must mostly be latent customers
    snapshots = pd.read_parquet(shop / "data/features/snapshots.parquet")
    surveys = pd.read_parquet(shop / "data/canonical/surveys.parquet")
    truth = pd.read_parquet(shop / "data/truth/truth.parquet").set_index("customer_id")
    labels = survey_labels(snapshots, surveys)
    planted = labels["customer_id"].map(truth["true_type"])
    assert len(labels) > 300
    accuracy = (labels["loyalty_type"] == planted).mean()
    latent = labels["loyalty_type"] == "latent"
    precision = (planted[latent] == "latent").mean()
    assert accuracy > 0.8, accuracy
    assert precision > 0.55, (precision, planted[latent].value_counts().to_dict())


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


def mlflow_db(shop: Path) -> sqlite3.Connection:
    return sqlite3.connect(shop / "mlflow.db")


def run_record(db: sqlite3.Connection, run: str) -> tuple[dict, dict, dict]:
    metrics = dict(db.execute("select key, value from latest_metrics where run_uuid=?", (run,)))
    params = dict(db.execute("select key, value from params where run_uuid=?", (run,)))
    tags = dict(db.execute("select key, value from tags where run_uuid=?", (run,)))
    return metrics, params, tags


def aliases(db: sqlite3.Connection) -> dict[str, str]:
    rows = db.execute("select alias, version from registered_model_aliases")
    return {alias: str(version) for alias, version in rows}


def test_mlflow_run_has_params_metrics_models_and_no_ids_or_complaint_text(shop):
    info = read_json(shop / "reports/mlflow_run.json")
    assert info["tracking_uri"] == f"sqlite:///{shop.resolve()}/mlflow.db"
    db = mlflow_db(shop)
    metrics, params, tags = run_record(db, info["run_id"])
    assert metrics["churn.test.lightgbm.roc_auc"] > 0.7
    # MLflow holds the headline unrounded (its displays round once), metrics.json to 6
    assert metrics["shipped.roc_auc"] == metrics["churn.test.lightgbm.roc_auc"]
    headline = read_json(shop / "metrics.json")
    assert round(metrics["shipped.roc_auc"], 6) == headline["shipped"]["roc_auc"]
    assert metrics["list.size"] == headline["list"]["size"] <= 100  # the budget: 100 contacts
    assert round(metrics["list.value_at_risk"], 6) == headline["list"]["value_at_risk"] > 0
    assert not [k for k in metrics if " " in k]  # MLflow's search syntax needs quotes for them
    assert {"score.play_source.rules", "score.play_source.uplift_model"} <= set(metrics)
    drivers = {k: v for k, v in metrics.items() if k.startswith("driver.")}
    assert len(drivers) > 20 and abs(sum(drivers.values()) - 1) < 1e-9
    assert params["churn.horizon_days"] == "90"
    assert len(tags["git_commit"]) == 40 and len(tags["data_fingerprint"]) == 16
    shipped = read_json(shop / "reports/train.json")["shipped"]
    assert tags["model"] == "lightgbm" and tags["calibration"] == shipped["calibration"]
    # nothing changed since the last commit; the commit tells apart runs on other code
    assert tags["mlflow.runName"] == f"baseline @ {tags['git_commit'][:7]}"
    assert tags["registry.decision"] == "champion" and info["version"] == "1"
    # the registry's versions table shows the verdict and headline without the run
    version_tags = dict(db.execute("select key, value from model_version_tags where version = 1"))
    assert version_tags["decision"] == "champion"
    assert version_tags["roc_auc"] == f"{metrics['shipped.roc_auc']:.4f}"
    assert version_tags["run_name"] == tags["mlflow.runName"]
    (description,) = db.execute(
        "select description from model_versions where version = 1"
    ).fetchone()
    assert description.startswith(f"champion: ROC-AUC {metrics['shipped.roc_auc']:.4f}, Brier ")
    assert "first registered version" in description
    assert aliases(db) == {"champion": "1"}
    artifacts = [p for p in (shop / "mlruns").rglob("*") if p.is_file()]
    assert all(p.is_relative_to(shop / "mlruns") for p in artifacts)
    assert any(p.name == "MLmodel" for p in artifacts)
    # the SHAP plots at the top of the run's artifacts, where MLflow's compare page looks
    assert {p.name for p in artifacts if p.parent.name == "artifacts"} >= {
        "shap_beeswarm.png",
        "shap_bar.png",
    }
    assert not [p for p in artifacts if p.suffix in (".pkl", ".pickle")]
    ids = pd.read_parquet(shop / "data/canonical/customers.parquet")["customer_id"].head(300)
    texts = pd.read_parquet(shop / "data/canonical/complaints.parquet")["text"].dropna()
    blob = b"".join(
        p.read_bytes() for p in artifacts if p.suffix in (".csv", ".json", ".txt", ".parquet")
    )
    blob += b"".join(str(row).encode() for row in db.execute("select * from params"))
    blob += b"".join(str(row).encode() for row in db.execute("select * from tags"))
    assert not [i for i in ids if i.encode() in blob]
    assert not [t for t in texts.unique()[:50] if t.encode() in blob]


CHECK_MODEL = """
import json, os, platform, sys
# NumPy on the pipeline's code path (pipeline/__init__.py): chosen when NumPy loads
if platform.machine() == "x86_64":
    os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")
import mlflow, numpy as np, pandas as pd
root = sys.argv[1]
mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
model = mlflow.pyfunc.load_model("models:/churn-loyalty@champion")
import pipeline
meta = json.load(open(f"{root}/data/features/meta.json"))
snap = pd.read_parquet(f"{root}/data/features/snapshots.parquet")
rows = snap[snap["cutoff"] == pd.Timestamp(meta["cutoffs"]["score"])]
out = model.predict(rows)
p = pd.Series(out["churn_probability"].to_numpy(), index=rows["customer_id"].to_numpy())
shipped = pd.read_parquet(f"{root}/data/predictions/score.parquet").set_index("customer_id")
listed = pd.read_csv(f"{root}/data/scored/customers.csv")
print(json.dumps({
    "exact": bool(np.array_equal(p.loc[shipped.index].to_numpy(), shipped["p_lightgbm"])),
    "list": bool(np.array_equal(
        p.loc[listed["customer_id"]].round(4).to_numpy(), listed["churn_probability"])),
    "types": bool((pd.Series(out["loyalty_type"].to_numpy(), index=p.index)
                   .loc[listed["customer_id"]].to_numpy() == listed["loyalty_type"]).all()),
    "code": pipeline.__file__,
}))
"""


def test_registered_champion_reproduces_the_list_on_its_own(shop, tmp_path):
    """Loaded from the registry in another folder: exactly the list's probabilities."""
    script = tmp_path / "check.py"
    script.write_text(CHECK_MODEL)
    res = run_in_shell(tmp_path, f"{shop}/.venv/bin/python {script} {shop.resolve()}")
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["exact"] and got["list"] and got["types"], got
    assert "/mlruns/" in got["code"]  # the model's own copy of the serving code


def test_forced_rerun_gives_identical_metrics_and_lock(shop):
    before = (shop / "reports/train.json").read_bytes()
    scored_before = (shop / "data/scored/customers.csv").read_bytes()
    sh(shop, "dvc", "repro", "-f")
    assert (shop / "reports/train.json").read_bytes() == before
    assert (shop / "data/scored/customers.csv").read_bytes() == scored_before
    # dvc.lock and the headline metrics stay as committed: no run id in them
    status = run_in_shell(shop, "git status --porcelain dvc.lock metrics.json").stdout
    assert status == "", status
    db = mlflow_db(shop)
    assert aliases(db)["champion"] == "1"  # the same model again does not take over


def test_exp_run_reruns_only_stages_that_read_the_param(shop):
    out = sh(shop, "dvc", "exp", "run", "-S", "train.learning_rate=0.1").stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    stages = {"check", "train", "explain", "uplift", "score", "forward", "headline", "track"}
    assert ran == stages, out
    show = sh(shop, "dvc", "exp", "show", "--json").stdout
    assert "learning_rate" in show


def test_bad_params_stop_the_run_before_any_output_is_removed(shop):
    """Reviewed: `dvc exp run -S train.feature_fraction=1.5` failed in the train stage,
    after DVC had deleted its outputs and the lists had been taken away; a misspelled
    section (`retension:`) was never read by any stage, and `dvc repro` said "up to
    date". The check stage reads the whole params.yaml first."""
    params_path = shop / "params.yaml"
    params_text = params_path.read_text()
    kept = [shop / "models/churn/model.txt", shop / "data/scored/at_risk.csv"]
    before = [p.read_bytes() for p in kept]
    try:
        res = sh(shop, "dvc", "exp", "run", "-S", "train.feature_fraction=1.5", check=False)
        assert res.returncode != 0
        said = res.stdout + res.stderr
        assert "params check failed, nothing was run" in said, said
        assert "train.feature_fraction" in said and "less than or equal to 1" in said, said
        assert "Running stage 'train'" not in said
        assert [p.read_bytes() for p in kept] == before
        assert not (shop / "data/scored/STALE.txt").exists()
        params_path.write_text(params_text + "retension:\n  margin: 0.5\n")
        res = sh(shop, "dvc", "repro", check=False)
        said = res.stdout + res.stderr
        assert res.returncode != 0 and "retension" in said and "Extra inputs" in said, said
        assert [p.read_bytes() for p in kept] == before
    finally:  # the session's shop goes on to the next test as it was
        params_path.write_text(params_text)


def test_make_baseline_stages_an_experiments_params_with_its_lock(shop):
    """Reviewed: after an experiment, `make baseline` staged dvc.lock and metrics.json
    but not params.yaml, so the commit it asks for held the experiment's lock beside the
    old params, and `dvc status` said train's params had changed."""
    assert "learning_rate: 0.1" in (shop / "params.yaml").read_text()  # the experiment's
    try:
        out = run_in_shell(shop, "make baseline").stdout
        assert "params.yaml, dvc.lock and metrics.json staged" in out
        staged = run_in_shell(shop, "git diff --cached --name-only").stdout.split()
        assert {"params.yaml", "dvc.lock", "metrics.json"} <= set(staged), staged
        assert run_in_shell(shop, "git status --porcelain params.yaml").stdout.startswith("M ")
    finally:  # the next tests compare with the committed baseline, not this one
        run_in_shell(shop, "git reset -q")


def test_metrics_diff_and_exp_show_compare_with_the_committed_baseline(shop):
    diff = json.loads(sh(shop, "dvc", "metrics", "diff", "--json").stdout)
    auc = diff["metrics.json"]["shipped.roc_auc"]
    assert auc["old"] is not None and auc["new"] is not None
    assert auc["diff"] == pytest.approx(auc["new"] - auc["old"])
    table = sh(shop, "dvc", "exp", "show", "--no-pager", "--csv").stdout.splitlines()
    header = table[0].split(",")
    assert "shipped.roc_auc" in header and "train.learning_rate" in header
    metric_columns = [c for c in header if c.startswith(("shipped.", "list.", "forward."))]
    assert len(metric_columns) < 25, metric_columns  # no wall of ingest counts
    baseline = next(r.split(",") for r in table[1:] if r.split(",")[1] in ("main", "master"))
    assert float(baseline[header.index("shipped.roc_auc")]) > 0.7  # the committed baseline
    narrow = sh(
        shop, "dvc", "exp", "show", "--no-pager", "--csv", "--only-changed", "--drop", ".*/.*",
        "--precision", "6",
    )  # fmt: skip
    columns = narrow.stdout.splitlines()[0].split(",")
    assert "train.learning_rate" in columns and "shipped.roc_auc" in columns
    assert not [c for c in columns if "/" in c], columns  # no dependency hashes
    # the reviewer's narrow view: of the hundred-odd params only the one the experiment
    # changed, beside the metrics and the outputs it changed (a learning rate moves most)
    metrics = ("shipped.", "list.", "forward.", "uplift.")
    params = [c for c in columns if "." in c and not c.startswith(metrics)]
    assert params == ["train.learning_rate"], columns
    assert len(columns) < len(header) // 2, (len(columns), len(header))
    # reviewed: the README's `dvc exp show ... --precision 6` showed five decimals (DVC
    # applies --precision to --csv only); `make exps` prints the CSV's six as a table
    table = run_in_shell(shop, "make exps").stdout
    assert "train.learning_rate" in table.splitlines()[0]
    assert re.search(r"\b0\.\d{6}\b", table), table
    # money keeps its cents (reviewed: six significant digits wrote 965922.74 as 965923)
    total = read_json(shop / "metrics.json")["list"]["value_at_risk_total"]
    assert f"{total:.2f}".rstrip("0").rstrip(".") in table, (total, table)


def test_plots_and_reports_follow_the_revision(shop):
    """Reviewed: the reports and curve tables were in neither git (``/reports/`` is
    ignored) nor the DVC cache (``cache: false``), so ``dvc plots diff`` against the
    commit or between experiments had no data, and ``dvc exp apply`` left another
    run's reports beside its metrics. Cached, every revision's are there."""
    name = sh(shop, "dvc", "exp", "list", "--name-only").stdout.split()[0]
    diff = sh(shop, "dvc", "plots", "diff", "HEAD", name, "--json")
    assert "failed to load" not in (diff.stdout + diff.stderr).lower()
    roc = json.loads(diff.stdout)["data"]["ROC"][0]
    assert {point["rev"] for point in roc["content"]["data"]["values"]} == {"HEAD", name}
    # a report deleted (or another run's) comes back from the cache, as `dvc exp apply`
    # brings back an experiment's
    before = (shop / "reports/train.json").read_bytes()
    (shop / "reports/train.json").unlink()
    sh(shop, "dvc", "checkout", "train")
    assert (shop / "reports/train.json").read_bytes() == before


def test_registry_gates_an_experiment_and_names_its_run(shop):
    db = mlflow_db(shop)
    info = read_json(shop / "reports/mlflow_run.json")
    metrics, params, tags = run_record(db, info["run_id"])
    assert tags["mlflow.runName"].startswith("train.learning_rate=0.1 (")
    assert tags["mlflow.runName"].endswith(f"({tags['dvc_exp_name']}) @ {tags['git_commit'][:7]}")
    assert params["train.learning_rate"] == "0.1"
    assert aliases(db)[tags["registry.decision"]] == info["version"]
    assert "forward roc_auc" in tags["registry.reasons"]
    assert {"gate.forward.roc_auc.improvement", "gate.backtest.brier.low"} <= set(metrics)
    champion = aliases(db)["champion"]
    # a margin no retrain clears: the new version loses the gate; only track re-runs
    out = sh(shop, "dvc", "exp", "run", "-S", "registry.auc_margin=0.05")
    lines = out.stdout.splitlines()
    ran = {line.split("'")[1] for line in lines if line.startswith("Running stage")}
    assert ran == {"check", "track"}, out.stdout
    assert "is a challenger; the champion stays version" in out.stderr
    assert "does not beat the margin +0.0500" in out.stderr
    latest = read_json(shop / "reports/mlflow_run.json")
    assert int(latest["version"]) == int(info["version"]) + 1
    assert latest["alias"] == "challenger"
    assert aliases(db) == {"champion": champion, "challenger": latest["version"]}
    state = run_in_shell(shop, "make registry").stdout
    assert "challenger" in state and "champion" in state and "registry.auc_margin" in state
    assert "alias now" in state and "test cutoff" in state and "registered as" in state
    test_cutoff = read_json(shop / "reports/train.json")["churn"]["test_cutoff"][:10]
    assert f"  {test_cutoff}  " in state
    # the list pinned to a registered model: the latest version's is exactly today's list
    run_in_shell(shop, f"make pinned-list MODEL=v{latest['version']}")
    pinned = pd.read_csv(shop / "data/pinned/customers.csv")
    listed = pd.read_csv(shop / "data/scored/customers.csv")
    both = pinned.merge(listed, on="customer_id", validate="1:1")
    assert len(both) == len(listed)
    assert (both["churn_probability_x"] == both["churn_probability_y"]).all()
    assert (both["value_at_risk_x"] == both["value_at_risk_y"]).all()
    run_in_shell(shop, "make pinned-list")  # the champion's list of today's customers
    pinned = pd.read_csv(shop / "data/pinned/customers.csv")
    assert set(pinned["model_version"].astype(str)) == {champion}
    assert sorted(pinned["customer_id"]) == sorted(listed["customer_id"])


def test_a_champion_of_other_data_says_so_rather_than_a_key_error(shop):
    """Reviewed: after a switch to a shop's own data the champion (the embedded shop's
    model) stays champion, and `make pinned-list` ended in a raw KeyError naming the
    features it missed."""
    path = shop / "data/features/snapshots.parquet"
    kept = path.read_bytes()
    try:
        pd.read_parquet(path).drop(columns=["referrals_made"]).to_parquet(path, index=False)
        res = run_in_shell(shop, "make pinned-list", check=False)
    finally:
        path.write_bytes(kept)
    assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
    assert "cannot score today's customers: it was trained on other data" in res.stderr
    assert "'referrals_made'" in res.stderr and "registry promote v<N>" in res.stderr


def test_make_compare_shows_params_metrics_drivers_and_list_overlap(shop):
    versions = dict(
        mlflow_db(shop).execute(
            "select r.name, v.version from model_versions v join runs r on r.run_uuid = v.run_id"
        )
    )
    lr = next(v for name, v in versions.items() if name.startswith("train.learning_rate=0.1 ("))
    out = run_in_shell(shop, f"make compare A=v1 B=v{lr}").stdout
    assert "| train.learning_rate | 0.05 | 0.1 |" in out
    assert "| shipped.roc_auc |" in out and "n=" in out  # paired interval
    assert "## Drivers: share of mean |SHAP|" in out
    assert "| on both lists |" in out
    page = (shop / "reports/compare.html").read_text()
    assert "<table>" in page and "http" not in page
    default = run_in_shell(shop, "make compare").stdout
    assert "(champion" in default and "(challenger" in default
    # a reviewer overrules the gate, with a reason on the record
    why = "reviewed: the margin was a test"
    state = sh(
        shop, ".venv/bin/python", "-m", "pipeline.registry", "promote", "v3", "--reason", why
    )
    assert aliases(mlflow_db(shop))["champion"] == "3"
    run3 = dict(
        mlflow_db(shop).execute("select cast(version as text), run_id from model_versions")
    )["3"]
    assert run_record(mlflow_db(shop), run3)[2]["registry.promoted_by_hand"] == why
    # and the registry's versions table says so, beside the gate's verdict at registration
    tags3 = dict(
        mlflow_db(shop).execute("select key, value from model_version_tags where version = 3")
    )
    assert tags3["decision"] == "champion" and tags3["promoted_by_hand"] == why
    (text,) = (
        mlflow_db(shop)
        .execute("select description from model_versions where version = 3")
        .fetchone()
    )
    assert text.startswith(
        f"champion, promoted by hand: {why}. The gate at registration: challenger"
    )
    assert "champion" in state.stdout
    # reviewed: an unknown version was a 20-line MLflow traceback, and the short run ids
    # the tables print were refused; promoting the champion tagged it "by hand"
    bad = run_in_shell(shop, "make compare A=v1 B=v99", check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr, bad.stderr
    assert "has no version '99' (its versions: v1, v2, v3" in bad.stderr, bad.stderr
    short = re.search(r"run ([0-9a-f]{8})\]", default).group(1)
    by_prefix = run_in_shell(shop, f"make compare A={short} B=latest").stdout
    assert f"run {short}]" in by_prefix
    for version, said in (("v99", "has no version '99'"), ("v3", "is the champion already")):
        res = sh(
            shop, ".venv/bin/python", "-m", "pipeline.registry", "promote", version,
            "--reason", "x", check=False,
        )  # fmt: skip
        assert res.returncode != 0 and said in res.stderr, res.stderr
        assert "Traceback" not in res.stderr


def test_back_at_the_baseline_the_workspace_run_is_the_baselines_again(shop):
    """Reviewed: after `git checkout params.yaml dvc.lock && make run` (the README's way
    back from an experiment) DVC restored the baseline's files and skipped the track
    stage, so `reports/mlflow_run.json` and `make compare` still named the experiment's
    run beside the baseline's lists. The stage now runs, finds the baseline's run by
    the state it logged, and logs nothing twice."""
    db = mlflow_db(shop)
    experiment = read_json(shop / "reports/mlflow_run.json")
    runs = db.execute("select count(*) from runs").fetchone()[0]
    versions = db.execute("select count(*) from model_versions").fetchone()[0]
    assert not run_record(db, experiment["run_id"])[2]["mlflow.runName"].startswith("baseline")
    out = run_in_shell(shop, "git checkout params.yaml dvc.lock && make run")
    assert "this state was logged already" in out.stdout + out.stderr
    back = read_json(shop / "reports/mlflow_run.json")
    tags = run_record(db, back["run_id"])[2]
    assert tags["mlflow.runName"].startswith("baseline @"), tags["mlflow.runName"]
    assert back["version"] == "1" and back["run_id"] != experiment["run_id"]
    # its alias as the registry has it now (the search for it left them empty)
    assert back["alias"] == {v: a for a, v in aliases(db).items()}.get("1"), aliases(db)
    assert db.execute("select count(*) from runs").fetchone()[0] == runs
    assert db.execute("select count(*) from model_versions").fetchone()[0] == versions
    # the files are the baseline run's: its call list, as MLflow holds it
    logged = pd.read_parquet(
        next((shop / "mlruns").rglob(f"{back['run_id']}/artifacts/review/call_list.parquet"))
    )
    assert len(logged) == len(pd.read_csv(shop / "data/scored/at_risk.csv"))
    # `make compare` shows it as B by default; `latest` is still the newest run logged
    compared = run_in_shell(shop, "make compare").stdout
    assert f"run {back['run_id'][:8]}]" in compared.split("\n## ")[0], compared[:600]
    assert "Running stage" not in sh(shop, "dvc", "repro").stdout


def test_failed_stage_leaves_previous_outputs_and_names_the_bad_rows(shop):
    from pipeline.stages._common import FIGURES_BY_STAGE

    canonical = shop / "data/canonical/orders.parquet"
    before = canonical.read_bytes()
    raw_path, params_path = shop / "data/raw/orders.parquet", shop / "params.yaml"
    raw_bytes, params_text = raw_path.read_bytes(), params_path.read_text()
    scored = {p.name: p.read_bytes() for p in (shop / "data/scored").iterdir()}
    report_path = shop / "reports/retention_report.html"
    report_bytes = report_path.read_bytes()
    later = ["reports/train.json", "reports/score.json", "reports/forward.json", "metrics.json"]
    figures = {  # every file of the figures a failure takes away, to put back after
        f: f.read_bytes()
        for _, paths in FIGURES_BY_STAGE
        for path in paths
        for f in ([shop / path] if (shop / path).is_file() else (shop / path).rglob("*"))
        if f.is_file()
    }
    raw = pd.read_parquet(raw_path)
    raw.loc[raw.index[:3], "amount"] = -5.0
    raw.to_parquet(raw_path, index=False)
    params = yaml.safe_load(params_text)
    params["ingest"]["on_bad_rows"] = "fail"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        res = sh(shop, sys.executable, "-m", "pipeline.stages.ingest", check=False)
        assert res.returncode != 0
        assert "table 'orders', column 'amount': 3 of" in res.stderr
        assert "-5.0" in res.stderr
        assert canonical.read_bytes() == before
        assert not [p for p in canonical.parent.parent.glob(".canonical*")]
        # yesterday's lists are taken away, and the folder says why
        # (the workbook and the report's call-list cards too: reviewed, they outlived it)
        assert [p.name for p in (shop / "data/scored").iterdir()] == ["STALE.txt"]
        assert not report_path.exists()
        stale = (shop / "data/scored/STALE.txt").read_text()
        assert "stage 'ingest'" in stale and "at_risk.xlsx" in stale
        # and the figures of the stages after it: `dvc metrics show` read the run
        # before's (reviewed); the ingest stage's own ledger says what failed
        assert not [name for name in later if (shop / name).exists()]
        assert "metrics.json" in stale and "reports/forward.json" in stale
        assert (shop / "reports/ledger.json").exists()
    finally:  # the session's shop goes on to the next test as it was
        for path, data in figures.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        raw_path.write_bytes(raw_bytes)
        params_path.write_text(params_text)
        (shop / "data/scored/STALE.txt").unlink(missing_ok=True)
        for name, data in scored.items():
            (shop / "data/scored" / name).write_bytes(data)
        report_path.write_bytes(report_bytes)


def test_a_store_without_the_run_gets_it_on_the_next_repro(shop, tmp_path):
    """A fresh clone's case, reviewed: every input matches dvc.lock but the store lacks
    the run. Its marker missing, `dvc repro` runs the track stage alone, logs the run,
    and leaves dvc.lock as it was (the marker's bytes change only with the state)."""
    sh(shop, "dvc", "repro")  # settle what the failed-stage test left (its ledger)
    before = read_json(shop / "reports/mlflow_run.json")["run_id"]
    lock = (shop / "dvc.lock").read_bytes()
    runs = mlflow_db(shop).execute("select count(*) from runs").fetchone()[0]
    # the marker alone lost: the store holds this state's run, and it is not logged twice
    (shop / "mlruns/tracked.json").unlink()
    out = sh(shop, "dvc", "repro").stdout
    assert re.findall(r"Running stage '([^']+)'", out) == ["track"], out
    assert read_json(shop / "reports/mlflow_run.json")["run_id"] == before
    assert mlflow_db(shop).execute("select count(*) from runs").fetchone()[0] == runs
    # the store emptied (a fresh clone has none): the run is logged there
    aside = tmp_path / "store"
    aside.mkdir()
    for name in ("mlflow.db", "mlruns"):
        shutil.move(shop / name, aside / name)
    try:
        out = sh(shop, "dvc", "repro").stdout
        assert re.findall(r"Running stage '([^']+)'", out) == ["track"], out
        after = read_json(shop / "reports/mlflow_run.json")["run_id"]
        assert after != before and (shop / "mlruns/tracked.json").exists()
        assert mlflow_db(shop).execute("select count(*) from runs").fetchone()[0] == 1
        assert (shop / "dvc.lock").read_bytes() == lock
        assert "Running stage" not in sh(shop, "dvc", "repro").stdout
    finally:  # the session's store back, for the tests after this one
        for name in ("mlflow.db", "mlruns"):
            target = shop / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
            shutil.move(aside / name, target)


def test_a_moved_clone_logs_into_its_own_folder(shop, tmp_path):
    """Last: it moves the session's shop. Its store follows it, old runs included."""
    moved = tmp_path / "moved"
    shutil.move(shop, moved)
    # a new state (only the gate's resamples: check and track run), so a run is logged
    sh(moved, "dvc", "exp", "run", "-S", "registry.n_boot=400")
    info = read_json(moved / "reports/mlflow_run.json")
    assert info["tracking_uri"] == f"sqlite:///{moved.resolve()}/mlflow.db"
    assert not shop.exists()  # nothing was written to the old folder
    run_dir = [p for p in (moved / "mlruns").rglob(info["run_id"]) if p.is_dir()]
    assert run_dir and (run_dir[0] / "artifacts/review/predictions.parquet").exists()
    tags = run_record(mlflow_db(moved), info["run_id"])[2]
    # the champion's predictions were read from the moved store: a real comparison (the
    # workspace holds the baseline's model again, the champion is the experiment's)
    assert tags["registry.reasons"].startswith("forward test:"), tags["registry.reasons"]
