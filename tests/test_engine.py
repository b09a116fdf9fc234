"""The feature stage gives the same snapshots on DuckDB and on Spark.

Both engines run the real stage (``pipeline.stages.features.run``) on the same small
shop: the embedded simulator's tables plus order lines, so every feature family is
computed. Spark runs locally (``local[2]``), as it would on a cluster.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import io
from pipeline.config import Params
from pipeline.engine import connect
from pipeline.sources.synthetic import generate_shop
from pipeline.stages import features

# Money is summed in exact integer units on both engines: equal to the last bit.
MONEY = ("spend_", "net_spend_365d", "future_spend", "points_balance")


def order_lines(orders: pd.DataFrame) -> pd.DataFrame:
    """Two lines per order, from a catalogue of twelve products."""
    rng = np.random.default_rng(0)
    n = len(orders)
    quantity = orders["quantity"].fillna(1.0).to_numpy()
    return pd.DataFrame(
        {
            "order_id": np.repeat(orders["order_id"].to_numpy(), 2),
            "line_no": np.tile([0, 1], n),
            "customer_id": np.repeat(orders["customer_id"].to_numpy(), 2),
            "ordered_at": np.repeat(orders["ordered_at"].to_numpy(), 2),
            "product_id": [f"P{k}" for k in rng.integers(0, 12, 2 * n)],
            "quantity": np.repeat(quantity, 2),
            "unit_price": np.round(rng.uniform(0.5, 80.0, 2 * n), 3),
        }
    ).astype({"order_id": "string", "customer_id": "string", "product_id": "string"})


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    tables = generate_shop(n_customers=300, start=dt.date(2023, 1, 1), days=730, seed=5).tables
    tables = {**tables, "order_lines": order_lines(tables["orders"])}
    io.write_tables(tables, root / "data" / "canonical")
    return root


def snapshots(shop: Path, engine: str, tmp_path: Path, monkeypatch) -> pd.DataFrame:
    work = tmp_path / engine
    shutil.copytree(shop, work)
    monkeypatch.chdir(work)
    features.run(Params.model_validate({"features": {"engine": engine}}))
    return pd.read_parquet(work / "data" / "features" / "snapshots.parquet")


def test_spark_computes_the_same_snapshots_as_duckdb(shop, tmp_path, monkeypatch):
    duck = snapshots(shop, "duckdb", tmp_path, monkeypatch)
    spark = snapshots(shop, "spark", tmp_path, monkeypatch)

    assert len(duck) > 3000  # 17 cutoffs of a 300-customer shop
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.to_dict() == duck.dtypes.to_dict()
    # same rows in the same order: one row group per cutoff, customers in order
    pd.testing.assert_frame_equal(
        spark[["customer_id", "cutoff"]], duck[["customer_id", "cutoff"]]
    )
    for name in duck.columns:
        pd.testing.assert_series_equal(spark[name].isna(), duck[name].isna(), obj=name)
        if name.startswith(MONEY) or not pd.api.types.is_float_dtype(duck[name]):
            pd.testing.assert_series_equal(spark[name], duck[name], check_exact=True, obj=name)
        else:
            np.testing.assert_allclose(spark[name], duck[name], rtol=1e-9, atol=0, err_msg=name)
    # the features a richer shop adds (order lines) are there and not all empty
    assert duck["distinct_products_365d"].gt(0).any()
    assert duck["unit_price_mean_365d"].notna().any()


def test_an_unknown_engine_is_refused(tmp_path):
    with pytest.raises(ValueError, match="features.engine must be 'duckdb' or 'spark'"):
        connect("polars", scratch=tmp_path)
