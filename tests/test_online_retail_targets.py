"""The forward test on real data: the Online Retail list shipped for 2011-09-10.

Only data before 2011-09-10 is read to ship it (training, tuning and calibration
included); it is then judged on what its 3,368 customers did in the next 90 days. The
figures are the README's headline for Online Retail.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import Params
from pipeline.stages import explain, features, forward, ingest, score, source, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data/online_retail"
SETTINGS = ("num_leaves", "min_child_samples", "feature_fraction", "lambda_l2")
CONSTRAINTS = ("risk_rises_with", "risk_falls_with")


def shipped_settings() -> dict[str, object]:
    """The shop's settings as `make forward-online-retail` ships them (the Makefile's
    ONLINE_RETAIL_SET), chosen on origins before 2011-09-10: four numbers, then the
    monotone constraints chosen at them."""
    text = (ROOT / "Makefile").read_text().split("ONLINE_RETAIL_SET :=")[1].split("\n#")[0]
    out: dict[str, object] = {k: float(text.split(f"train.{k}=")[1].split()[0]) for k in SETTINGS}
    for k in CONSTRAINTS:
        out[k] = yaml.safe_load(text.split(f"train.{k}=")[1].split("'")[0])
    return out


def as_grid(settings: dict[str, object]) -> tuple[str, ...]:
    """``tune_churn.py --grid`` arguments for one setting."""
    return tuple(
        f"{k}=[{','.join(v)}]" if isinstance(v, list) else f"{k}={v:g}"
        for k, v in settings.items()
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    if not (DATA / "online_retail_2010_2011.parquet").exists():
        pytest.skip("Online Retail data not present")
    root = tmp_path_factory.mktemp("online_retail")
    shutil.copytree(DATA, root / "data/online_retail")
    params = Params.model_validate(
        {
            "source": {"kind": "online_retail"},
            "churn": {"lookback_days": 283},
            # the shop's settings, chosen on origins before 2011-09-10 (Makefile)
            "train": shipped_settings(),
            "score": {"as_of": "2011-09-10"},
        }
    )
    (root / "params.yaml").write_text(yaml.safe_dump(params.model_dump(mode="json")))
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    try:
        for stage in (source, ingest, features, train, explain, score, forward):
            stage.run(params)
    finally:
        mp.undo()
    return root


@pytest.fixture(scope="module")
def report(shop) -> dict:
    return json.loads((shop / "reports/forward.json").read_text())


def test_the_list_is_the_published_population(report):
    assert report["evaluable"] and report["as_of"] == "2011-09-10"
    # the data README's reference: 3,370 buyers before the cutoff, 1,449 silent from it to
    # the end of the file (2011-12-09 12:50). Two of them bought nothing: 12346's and
    # 15802's only orders were cancelled 16 and 2 minutes later (cancelled_the_same_day),
    # so 3,368 here. The 90-day window [D, D + 90 d) ends at 2011-12-09 00:00, so the
    # customer whose only later purchase was on the file's last day counts as churned
    # here: 1,449.
    assert report["customers"] == 3368
    assert round(report["churn_rate"] * 3368) == 1449


def test_the_shipped_list_beats_bgnbd_shipped_the_same_way(report):
    shipped = report["metrics"]["shipped"]
    assert shipped["roc_auc"] >= 0.775
    assert shipped["brier"] <= 0.195
    for baseline in ("bgnbd", "bgnbd_raw", "logistic", "recency"):
        difference = report["difference"][baseline]
        # better on both, and the paired bootstrap interval says it is not luck
        assert difference["roc_auc"]["low"] > 0, (baseline, difference["roc_auc"])
        assert difference["brier"]["high"] < 0, (baseline, difference["brier"])
    # the probabilities a retention manager spends on are the ones that came true
    assert shipped["ece"] < 0.04


SHIPPED_GRID = as_grid(shipped_settings())


def _tune(shop: Path, *args: str, grid: tuple[str, ...] = SHIPPED_GRID) -> str:
    """The README's ``benchmarks/tune_churn.py --before 2011-09-10 --grid num_leaves=7
    min_child_samples=100 feature_fraction=0.5 lambda_l2=1.0 risk_rises_with=[...]
    risk_falls_with=[...] ARGS`` in the shop's folder; its output."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/tune_churn.py"),
            "--before",
            "2011-09-10",
            "--grid",
            *grid,
            *args,
        ],
        cwd=shop,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_feature_candidates_judged_on_the_past_only_are_not_adopted(shop):
    """The README's candidate features for Online Retail, judged as the script writes:
    on the four origins whose labels end by 2011-09-10, none beats the shipped set by
    the 0.002 the rule asks for, so none is in the pipeline."""
    out = _tune(
        shop,
        *("--candidates", "rhythm", "mix", "habits"),
        *("--drop", "seasonality", "quality_tolerance", "monetary"),
    )
    assert "tuning origins: ['2011-03-14', '2011-04-13', '2011-05-13', '2011-06-12']" in out
    lines = {line[:22].strip(): line for line in out.splitlines() if line[:1] in ("s", "+", "-")}
    shipped = float(lines["shipped"].split()[1])
    assert abs(shipped - 0.7908) < 0.002  # the README's figure
    for group in ("+ rhythm", "+ mix", "+ habits"):
        assert lines[group].endswith("not adopted"), lines[group]
        assert float(lines[group].split()[2]) < shipped + 0.002
    # the seasonal features carry weight: without them the past origins rank worse
    assert float(lines["- seasonality"].split()[2]) < shipped


def test_the_shipped_settings_are_the_grids_choice_on_the_past(shop):
    """The README's 64-setting grid and the script's rule choose the settings `make
    forward-online-retail` ships (Makefile's ONLINE_RETAIL_SET), up to what the CPU's
    last bits move: the shipped setting is within the rule's 0.002 of the best mean AUC,
    and its Brier within 0.001 of the chosen one's. One setting's mean AUC and Brier
    moved by 0.0012 and 0.0004 between two machines (README), so where the rule's
    tie-break separates the top settings by less, it is deciding on noise."""
    grid = (
        "early_stopping_metric=binary_logloss,auc",
        "num_leaves=7,15",
        "min_child_samples=50,100",
        "feature_fraction=0.5,0.8",
        "learning_rate=0.02,0.05",
        "lambda_l2=1.0,10.0",
        # the grid was searched before the monotone constraints were chosen
        "risk_rises_with=[]",
        "risk_falls_with=[]",
    )
    out = _tune(shop, grid=grid)
    rows = [ast.literal_eval(line) for line in out.splitlines() if line.startswith("{")]
    assert len(rows) == 64
    chosen = ast.literal_eval(out.split("chosen:")[1].strip())
    best = max(r["roc_auc"] for r in rows)
    settings = {k: v for k, v in shipped_settings().items() if k in SETTINGS}
    (shipped,) = [
        r
        for r in rows
        if all(float(r[k]) == v for k, v in settings.items())
        # params.yaml's, not set for the shop
        and r["learning_rate"] == 0.05
        and r["early_stopping_metric"] == "binary_logloss"
    ]
    assert shipped["roc_auc"] >= best - 0.002, (shipped, best)
    assert shipped["brier"] <= chosen["brier"] + 0.001, (shipped, chosen)


MONOTONE_SETS = {
    "none": ([], []),
    "silence": (["days_since_last_order"], []),
    "recency": (["days_since_last_order", "bgnbd_p_no_purchase"], ["bgnbd_p_alive"]),
    "recency and overdue": (
        [
            "days_since_last_order",
            "bgnbd_p_no_purchase",
            "overdue_ratio",
            "recency_share_of_tenure",
        ],
        ["bgnbd_p_alive"],
    ),
    "recency and frequency": (
        ["days_since_last_order", "bgnbd_p_no_purchase"],
        [
            "bgnbd_p_alive",
            "orders_30d",
            "orders_90d",
            "orders_365d",
            "orders_total",
            "purchase_days_total",
            "active_months_365d",
            "order_rate_per_30d",
            "orders_same_window_last_year",
        ],
    ),
}


def test_the_shipped_monotone_constraints_are_the_rules_choice_on_the_past(shop):
    """The README's five constraint sets, each at the grid's settings: the rule (the
    highest mean AUC over the four past origins, within 0.002 of it the lowest Brier)
    picks the set `make forward-online-retail` ships."""
    settings = shipped_settings()
    numbers = {k: v for k, v in settings.items() if k in SETTINGS}
    rows = {}
    for name, (rises, falls) in MONOTONE_SETS.items():
        grid = as_grid(numbers | {"risk_rises_with": rises, "risk_falls_with": falls})
        out = _tune(shop, grid=grid)
        rows[name] = ast.literal_eval(out.split("chosen:")[1].strip())
    best = max(r["roc_auc"] for r in rows.values())
    chosen = min(
        (r for r in rows.values() if r["roc_auc"] >= best - 0.002), key=lambda r: r["brier"]
    )
    assert (chosen["risk_rises_with"], chosen["risk_falls_with"]) == (
        settings["risk_rises_with"],
        settings["risk_falls_with"],
    )
    assert abs(rows["none"]["roc_auc"] - 0.7886) < 0.002  # the README's figures
    assert abs(chosen["roc_auc"] - 0.7908) < 0.002


def test_a_denser_snapshot_grid_judged_on_the_past_is_not_adopted(shop, tmp_path):
    """The README's denser-grid trial: snapshots every 15 days instead of 30 double the
    training rows, and judged at the same four past origins (on both grids) they do not
    raise the mean AUC by the 0.002 the rule asks for, so 30 stays."""
    shutil.copytree(shop / "data/online_retail", tmp_path / "data/online_retail")
    params = Params.model_validate(yaml.safe_load((shop / "params.yaml").read_text()))
    params = params.model_copy(
        update={"snapshots": params.snapshots.model_copy(update={"every_days": 15})}
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params.model_dump(mode="json")))
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp_path)
    try:
        for stage in (source, ingest, features):
            stage.run(params)
    finally:
        mp.undo()
    at = ("--at", "2011-03-14", "2011-04-13", "2011-05-13", "2011-06-12")
    shipped, denser = (
        float(_tune(root, *at).split("chosen:")[1].split("'roc_auc': ")[1].split(",")[0])
        for root in (shop, tmp_path)
    )
    assert abs(shipped - 0.7908) < 0.002  # the README's figure, on the 30-day grid
    assert abs(denser - 0.7899) < 0.002  # and on the 15-day one
    assert denser < shipped + 0.002
