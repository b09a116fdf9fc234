"""Tests for pipeline.streaming: Parquet read and written in chunks, dtypes kept."""

from __future__ import annotations

import pandas as pd

from pipeline.streaming import ParquetSink, column_names, iter_frames, row_count


def frame(values: list[int | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([f"x{v}" if v is not None else None for v in values], dtype="string"),
            "n": pd.array(values, dtype="Int64"),
            "flag": pd.array([None if v is None else v % 2 == 0 for v in values], dtype="boolean"),
        }
    )


def test_frames_appended_read_back_in_chunks_with_their_dtypes(tmp_path) -> None:
    path = tmp_path / "t.parquet"
    with ParquetSink(path, frame([]).iloc[:0]) as sink:
        sink.write(frame([1, 2, None]))
        sink.write(frame([4]))
    assert sink.rows == 4 and row_count(path) == 4
    assert column_names(path) == ["id", "n", "flag"]

    chunks = list(iter_frames(path, batch_rows=2))
    assert [len(c) for c in chunks] == [2, 2]
    whole = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(whole, frame([1, 2, None, 4]))


def test_a_sink_without_rows_leaves_an_empty_table_of_the_template(tmp_path) -> None:
    path = tmp_path / "empty.parquet"
    with ParquetSink(path, frame([]).iloc[:0]):
        pass
    read = pd.read_parquet(path)
    assert len(read) == 0 and list(read.dtypes.astype(str)) == ["string", "Int64", "boolean"]
