"""Where the feature expressions run: DuckDB on this machine, or Spark beyond it.

The features are portable Ibis expressions (``pipeline.features``); this module is the
only place that knows which backend executes them. DuckDB runs multi-threaded with a
memory cap, spilling joins, aggregates and sorts to a scratch directory beyond it.
Spark runs through PySpark: ``local[N]`` by default, any cluster master otherwise.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

log = logging.getLogger(__name__)

Engine = Literal["duckdb", "spark"]


def connect(
    engine: Engine,
    *,
    scratch: Path,
    memory_gb: float = 4.0,
    threads: int | None = None,
    spark_master: str = "local[2]",
) -> ibis.BaseBackend:
    """An Ibis backend for the feature computation.

    Parameters
    ----------
    engine
        ``duckdb`` or ``spark``.
    scratch
        An empty directory the backend may fill (DuckDB's database file and spill
        files, Spark's warehouse and local dirs); the caller removes it afterwards.
    memory_gb
        DuckDB's memory cap in GB.
    threads
        DuckDB threads; None: one per core.
    spark_master
        Spark master URL: ``local[N]`` or a cluster (``spark://host:7077``, ``yarn``).

    Returns
    -------
    ibis.BaseBackend

    Raises
    ------
    ValueError
        If ``engine`` is not ``duckdb`` or ``spark``.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    if engine == "duckdb":
        config = {
            "memory_limit": f"{memory_gb}GB",
            "temp_directory": str(scratch / "spill"),
            # Results are ordered by an explicit ORDER BY where order matters.
            "preserve_insertion_order": False,
            # Cutoff tables are small: pairing each event with every cutoff and
            # filtering beats sorting both sides for a range join.
            "nested_loop_join_threshold": 64,
        }
        if threads is not None:
            config["threads"] = threads
        return ibis.duckdb.connect(scratch / "features.duckdb", **config)
    if engine == "spark":
        from pyspark.sql import SparkSession

        # Local Python workers (they read pandas frames) run this interpreter, with this
        # environment's packages, unless the user chose another one.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        session = (
            SparkSession.builder.master(spark_master)
            .appName("churn-loyalty-features")
            # Canonical timestamps are naive UTC: no time zone may shift a date.
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
            .config("spark.local.dir", str(scratch / "local"))
            .config("spark.ui.enabled", "false")
            # A handful of partitions on one machine (the default 200 is for clusters).
            .config(
                "spark.sql.shuffle.partitions", "4" if spark_master.startswith("local") else "200"
            )
            .getOrCreate()
        )
        log.info("spark %s on %s", session.version, spark_master)
        con = ibis.pyspark.connect(session)
        # A float NaN from a pandas frame is a missing value, as it is in DuckDB.
        ibis.options.pyspark.treat_nan_as_null = True
        return con
    raise ValueError(f"features.engine must be 'duckdb' or 'spark', got {engine!r}")


def materialise(con: ibis.BaseBackend, table: ir.Table, name: str) -> ir.Table:
    """Compute ``table`` once and keep it for the queries that follow.

    DuckDB writes it to the on-disk scratch database (compressed, read back as needed);
    Spark caches it across the cluster.
    """
    if con.name == "duckdb":
        stored = con.create_table(name, table, overwrite=True)
    else:
        stored = table.cache()
    # The stored types are the backend's (Spark's ROW_NUMBER is a 32-bit int): cast back
    # to the types the expression promised, so both engines give the same schema.
    return stored.cast(table.schema())


def stream(con: ibis.BaseBackend, sql: str, *, rows: int = 100_000) -> pa.RecordBatchReader:
    """Run a query compiled by ``con.compile`` and stream its rows as Arrow batches.

    The stage compiles its query once and re-runs it on other cutoffs: compiling the
    feature expression costs seconds, running it on DuckDB streams without holding the
    result (Ibis' own streaming calls a DuckDB method that DuckDB 2.0 no longer has).
    """
    if con.name == "duckdb":
        return con.con.sql(sql).to_arrow_reader(rows)
    from pyspark.sql import SparkSession

    # Spark collects one batch of cutoffs on the driver.
    table = SparkSession.getActiveSession().sql(sql).toArrow()
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=rows))
