"""Parquet in chunks: read a table batch by batch, append frames to a file.

What lets ingest validate a million-customer shop in bounded memory: no table is
ever whole in pandas. Files are written inside a stage's staging directory
(:func:`pipeline.io.staged_dir`), which makes the stage's output atomic as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def row_count(path: str | Path) -> int:
    """Rows of a Parquet file, from its footer."""
    return int(pq.ParquetFile(path).metadata.num_rows)


def column_names(path: str | Path) -> list[str]:
    """Columns of a Parquet file, from its footer."""
    return list(pq.ParquetFile(path).schema_arrow.names)


def iter_frames(path: str | Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet file as pandas frames of at most ``batch_rows`` rows, in order.

    pandas dtypes are restored from the file's metadata when it has them (nullable
    integers, booleans and strings come back as written).
    """
    file = pq.ParquetFile(path)
    for batch in file.iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([batch], schema=file.schema_arrow)
        yield table.to_pandas()


class ParquetSink:
    """Append pandas frames to one Parquet file with a fixed schema.

    The schema is that of ``template`` (an empty frame of the right dtypes) when given,
    else of the first frame written. Closing without a frame written leaves an empty
    table with the template's schema (or no file when there is no template).
    """

    def __init__(
        self,
        path: str | Path,
        template: pd.DataFrame | None = None,
        *,
        compression: str = "snappy",
    ) -> None:
        self.path = Path(path)
        self.compression = compression
        self.schema = (
            pa.Schema.from_pandas(template, preserve_index=False) if template is not None else None
        )
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.schema is None:
            self.schema = pa.Schema.from_pandas(frame, preserve_index=False)
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.schema, compression=self.compression)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        if self._writer is None and self.schema is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(self.schema.empty_table(), self.path, compression=self.compression)
        elif self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
