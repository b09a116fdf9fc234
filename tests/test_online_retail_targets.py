"""The Online Retail figures of the README, recomputed: the issue's targets on real data.

Test cutoff 2011-09-10, horizon 90 days, population = customers who bought in the
2010-2011 file before the cutoff; both files give the history. The pipeline must
reach ROC-AUC >= 0.775 and Brier <= 0.200 and beat the recency rule and BG/NBD.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.config import Params
from pipeline.stages import features, ingest, source, train

DATA = Path(__file__).resolve().parents[1] / "data/online_retail"


@pytest.fixture(scope="module")
def metrics(tmp_path_factory) -> dict:
    if not (DATA / "online_retail_2010_2011.parquet").exists():
        pytest.skip("Online Retail data not present")
    root = tmp_path_factory.mktemp("online_retail")
    shutil.copytree(DATA, root / "data/online_retail")
    params = Params.model_validate(
        {"source": {"kind": "online_retail"}, "churn": {"lookback_days": 283}}
    )
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    try:
        for stage in (source, ingest, features, train):
            stage.run(params)
    finally:
        mp.undo()
    return json.loads((root / "reports/train.json").read_text())["churn"]


def test_split_matches_the_published_population(metrics):
    assert metrics["test_cutoff"] == "2011-09-10"
    # 3,370 in the raw file; 2 of them bought only postage or bank charges before the
    # cutoff and are not product buyers here (see data/online_retail/README.md)
    assert metrics["test_customers"] == 3368
    assert round(metrics["test_churn_rate"], 3) == 0.431


def test_targets_on_the_test_cutoff(metrics):
    model = metrics["test"][metrics["selected_model"]]
    assert model["roc_auc"] >= 0.775
    assert model["brier"] <= 0.200
    for baseline in ("recency", "bgnbd", "logistic"):
        assert model["roc_auc"] > metrics["test"][baseline]["roc_auc"], baseline
        assert model["brier"] < metrics["test"][baseline]["brier"], baseline
    assert metrics["grade"] == "A"
