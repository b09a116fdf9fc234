"""Reading and writing, atomically. Nothing else in the package touches the disk.

A stage builds its outputs in a hidden staging directory next to the target and
swaps it into place only when everything is written: a stage that fails half-way
leaves the previous outputs (or nothing) behind, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_mode(path: Path, *, directory: bool) -> None:
    # mkstemp/mkdtemp create owner-only files; outputs should read like any other file.
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def staged_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty staging directory; on success it replaces ``target`` whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    _usual_mode(tmp, directory=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _atomic_path(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    _usual_mode(Path(tmp), directory=False)
    return path, Path(tmp)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    path, tmp = _atomic_path(path)
    try:
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class ParquetAppender:
    """A Parquet file written one table at a time, each its own row group(s).

    Rows go to a hidden temporary file next to ``path``; it replaces ``path`` only when
    the appender is closed without an error (use it as a context manager), so a failed
    writer leaves nothing half-written. Every table must have the first one's schema
    (or ``schema``, when given; tables are cast to it).
    """

    def __init__(self, path: str | Path, schema: pa.Schema | None = None) -> None:
        self.path, self._tmp = _atomic_path(path)
        self.schema = schema
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self.schema)
        if len(table):
            self._writer.write_table(table, row_group_size=len(table))
        self.rows += len(table)

    def close(self) -> None:
        if self._writer is None:
            if self.schema is None:
                raise ValueError(f"{self.path}: nothing written and no schema to write")
            self._writer = pq.ParquetWriter(self._tmp, self.schema)
        self._writer.close()
        self._tmp.replace(self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ParquetAppender:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV atomically, every float as Python writes it (shortest round trip).

    Never a fixed number of significant digits: "%.6g" turns 280000.55 into 280001 and
    1234567 into 1.23457e+06. Round values (money to cents) before writing instead.
    """
    path, tmp = _atomic_path(path)
    try:
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(obj: Any, path: str | Path) -> None:
    path, tmp = _atomic_path(path)
    try:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(text: str, path: str | Path) -> None:
    path, tmp = _atomic_path(path)
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def read_parquet(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def read_at(path: str | Path, *cutoffs: pd.Timestamp) -> pd.DataFrame:
    """The rows of a snapshot file at the given cutoffs only, in file order.

    A Parquet filter: the other cutoffs' row groups are never decoded, so a stage that
    needs the scoring date reads one cutoff's rows, not the whole history.
    """
    return pd.read_parquet(path, filters=[("cutoff", "in", [pd.Timestamp(c) for c in cutoffs])])


def read_latest(
    path: str | Path,
    ids: Sequence[str],
    *,
    until: pd.Timestamp,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each of ``ids``' row at its latest cutoff on or before ``until``, by cutoff then id.

    Two passes in bounded memory: the ``customer_id`` and ``cutoff`` columns find each
    id's latest cutoff, then only the row groups holding those cutoffs are decoded, one at
    a time, and only the wanted rows kept. A million customers' history is never loaded
    to find a hundred thousand rows in it.
    """
    until = pd.Timestamp(until)
    keys = pd.read_parquet(
        path, columns=["customer_id", "cutoff"], filters=[("cutoff", "<=", until)]
    )
    keys = keys[keys["customer_id"].astype(str).isin(set(map(str, ids)))]
    latest = keys.groupby("customer_id", observed=True)["cutoff"].max()
    wanted = {c: set(g.index.astype(str)) for c, g in latest.groupby(latest)}
    file = pq.ParquetFile(path)
    parts = []
    for i in range(file.num_row_groups):
        cut = file.read_row_group(i, columns=["cutoff"]).column(0).to_pandas().unique()
        hits = [c for c in cut if pd.Timestamp(c) in wanted]
        if not hits:
            continue
        group = file.read_row_group(i, columns=list(columns) if columns else None).to_pandas()
        keep = np.zeros(len(group), dtype=bool)
        for c in hits:
            keep |= (group["cutoff"] == c).to_numpy() & group["customer_id"].astype(str).isin(
                wanted[pd.Timestamp(c)]
            ).to_numpy()
        if keep.any():
            parts.append(group[keep])
    if not parts:
        return pd.read_parquet(path, columns=list(columns) if columns else None).iloc[:0]
    return pd.concat(parts, ignore_index=True).sort_values(
        ["cutoff", "customer_id"], ignore_index=True
    )


def read_tables(directory: str | Path) -> dict[str, pd.DataFrame]:
    """Every ``<table>.parquet`` of a directory, by table name."""
    return {p.stem: pd.read_parquet(p) for p in sorted(Path(directory).glob("*.parquet"))}


def write_tables(tables: Mapping[str, pd.DataFrame], directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_parquet(frame, directory / f"{name}.parquet")


def write_bytes(data: bytes, path: str | Path) -> None:
    path, tmp = _atomic_path(path)
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
