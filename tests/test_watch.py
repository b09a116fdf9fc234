"""A shop's export kept outside data/shop/: DVC cannot see it change; `make run` does.

Reviewed: with ``source.files.orders`` pointing at ``/tmp/shop4/orders_export.csv``, a
new row appended to the export and `make run` gave "Data and pipelines are up to date"
and yesterday's lists, with no warning.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.sources.synthetic import generate_shop
from tests.conftest import fresh_clone, run_in_shell


@pytest.fixture(scope="module")
def clone_with_an_outside_export(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("watch")
    shop = generate_shop(n_customers=400, start=dt.date(2022, 3, 1), days=500, seed=5)
    o = shop.tables["orders"]
    export = tmp / "exports" / "orders.csv"
    export.parent.mkdir()
    pd.DataFrame(
        {
            "Client": o["customer_id"],
            "Invoice": o["order_id"],
            "Placed": o["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Total": o["amount"].round(2),
        }
    ).to_csv(export, index=False)
    clone = fresh_clone(
        tmp,
        {
            "source": {
                "kind": "files",
                "files": {"orders": str(export)},
                "columns": {
                    "orders": {
                        "customer_id": "Client",
                        "order_id": "Invoice",
                        "ordered_at": "Placed",
                        "amount": "Total",
                    }
                },
            }
        },
    )
    return clone, export


def orders_read(clone: Path) -> int:
    return len(pd.read_parquet(clone / "data/raw/orders.parquet"))


def test_a_new_export_outside_data_shop_is_read_again(clone_with_an_outside_export):
    clone, export = clone_with_an_outside_export
    first = run_in_shell(clone, ".venv/bin/dvc repro ingest")
    assert "outside data/shop and data/online_retail" in first.stderr, first.stderr
    before = orders_read(clone)
    # nothing changed: the watch does nothing
    quiet = run_in_shell(clone, ".venv/bin/python -m pipeline.watch params.yaml")
    assert quiet.stdout + quiet.stderr == ""
    # the shop's next export: one order more. DVC alone cannot tell
    with export.open("a") as f:
        f.write("C000001,O-NEXT-1,2023-07-10 10:00:00,55.00\n")
    status = run_in_shell(clone, ".venv/bin/dvc status source").stdout
    assert "changed" not in status, status
    said = run_in_shell(clone, ".venv/bin/python -m pipeline.watch params.yaml")
    assert re.search(r"changed since the last run.*orders \(.*orders\.csv\)", said.stderr)
    assert orders_read(clone) == before + 1
    # and the stages after it see new rows: `dvc repro` (as `make run` goes on) re-runs them
    assert "ingest" in run_in_shell(clone, ".venv/bin/dvc status ingest").stdout
    ran = run_in_shell(clone, ".venv/bin/dvc repro ingest").stdout
    assert "Running stage 'ingest'" in ran, ran
    again = run_in_shell(clone, ".venv/bin/python -m pipeline.watch params.yaml")
    assert again.stdout + again.stderr == ""


def test_make_run_and_make_forward_look_before_dvc():
    """The Makefile's run and forward call the watch before DVC reads its lock."""
    text = (Path(__file__).parents[1] / "Makefile").read_text()
    for target in ("run", "forward"):
        body = re.search(rf"^{target}: install\n((?:\t.*\n)+)", text, re.M).group(1)
        lines = body.splitlines()
        watch = next(i for i, line in enumerate(lines) if "pipeline.watch" in line)
        dvc = next(i for i, line in enumerate(lines) if "dvc " in line)
        assert watch < dvc, body
