"""The forward test on a shop no choice was made on, fed as an orders-only export.

Runs the README's command ``benchmarks/unseen_shop.py`` as written: the Online Retail II
2009-2010 sheet, exported like the README's own-data example (one orders file, mapped
through ``source.files`` and ``source.columns``), shipped for 2010-09-10 with only the
data before it, and judged on the next 90 days.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "data/online_retail/online_retail_II_2009_2010_sheet.parquet"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[str, dict]:
    if not SHEET.exists():
        pytest.skip("Online Retail II sheet not present")
    workdir = tmp_path_factory.mktemp("unseen")
    done = subprocess.run(
        [sys.executable, "benchmarks/unseen_shop.py", "--workdir", str(workdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads((workdir / "reports/forward.json").read_text())


def test_the_list_is_every_buyer_of_the_year_before_d(run):
    out, report = run
    assert report["evaluable"] and report["as_of"] == "2010-09-10"
    # every customer with a purchase in the 283 days of the sheet before D: the lookback
    # (365 d) reaches past the sheet's start, so this is all of them
    assert report["customers"] == 3375
    assert "shipped for 2010-09-10" in out and "vs bgnbd" in out


def test_the_list_beats_bgnbd_shipped_the_same_way_on_both_measures(run):
    _, report = run
    difference = report["difference"]["bgnbd"]
    assert difference["roc_auc"]["low"] > 0, difference["roc_auc"]
    assert difference["brier"]["high"] < 0, difference["brier"]
    assert report["metrics"]["shipped"]["roc_auc"] > report["metrics"]["recency"]["roc_auc"]
