"""Shared fixtures: tiny hand-typed canonical tables and an in-memory DuckDB."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from pipeline.schema import TABLES

_DTYPES = {
    "string": "string",
    "datetime": "datetime64[us]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}


def canonical(table: str, rows: list[dict]) -> pd.DataFrame:
    """A canonical table from a few hand-typed rows; unspecified columns are null."""
    spec = TABLES[table]
    frame = pd.DataFrame(rows, columns=list(spec.names))
    for col in spec.columns:
        frame[col.name] = frame[col.name].astype(_DTYPES[col.dtype])
    return frame


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


@pytest.fixture
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()
