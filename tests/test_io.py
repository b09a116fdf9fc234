"""Atomic writes: a stage that fails half-way leaves the previous outputs, never a mix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from pipeline import io


def tree(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def previous(tmp_path) -> Path:
    target = tmp_path / "out"
    (target / "sub").mkdir(parents=True)
    (target / "old.txt").write_text("old")
    (target / "sub" / "kept.txt").write_text("old too")
    return target


def test_staged_dir_replaces_the_target_whole(previous) -> None:
    with io.staged_dir(previous) as staging:
        assert staging != previous and staging.parent == previous.parent
        assert list(staging.iterdir()) == []  # starts empty
        (staging / "new.txt").write_text("new")
        # the previous outputs stay readable until the very end
        assert tree(previous) == {"old.txt": "old", "sub/kept.txt": "old too"}

    assert tree(previous) == {"new.txt": "new"}
    assert sorted(os.listdir(previous.parent)) == ["out"]  # no staging dir left


def test_staged_dir_keeps_the_previous_content_when_the_body_raises(previous) -> None:
    with pytest.raises(RuntimeError, match="half-way"), io.staged_dir(previous) as staging:
        (staging / "new.txt").write_text("partial")
        raise RuntimeError("stage failed half-way")

    assert tree(previous) == {"old.txt": "old", "sub/kept.txt": "old too"}
    assert sorted(os.listdir(previous.parent)) == ["out"]


def test_staged_dir_creates_a_missing_target_and_its_parents(tmp_path) -> None:
    target = tmp_path / "a" / "b" / "reports"

    with io.staged_dir(target) as staging:
        (staging / "r.json").write_text("{}")

    assert tree(target) == {"r.json": "{}"}
    assert os.listdir(target.parent) == ["reports"]


def test_staged_dir_failing_on_first_run_leaves_nothing(tmp_path) -> None:
    with pytest.raises(KeyError), io.staged_dir(tmp_path / "out"):
        raise KeyError("x")

    assert os.listdir(tmp_path) == []


def test_staged_dir_clears_a_stale_backup_from_a_crashed_run(previous) -> None:
    stale = previous.with_name(".out.old")
    stale.mkdir()
    (stale / "junk").write_text("junk")

    with io.staged_dir(previous) as staging:
        (staging / "new.txt").write_text("new")

    assert tree(previous) == {"new.txt": "new"}
    assert sorted(os.listdir(previous.parent)) == ["out"]


# ------------------------------------------------------------------------ file writes


def test_write_parquet_round_trips_and_leaves_no_temp_file(tmp_path) -> None:
    frame = pd.DataFrame({"customer_id": ["a", "b"], "value": [1.5, None]})
    path = tmp_path / "deep" / "t.parquet"

    io.write_parquet(frame, path)

    pd.testing.assert_frame_equal(io.read_parquet(path), frame)
    assert os.listdir(path.parent) == ["t.parquet"]


def test_failed_write_parquet_keeps_the_previous_file(tmp_path) -> None:
    path = tmp_path / "t.parquet"
    io.write_parquet(pd.DataFrame({"a": [1, 2]}), path)

    with pytest.raises(Exception, match="Conversion failed for column a"):
        io.write_parquet(pd.DataFrame({"a": [1, "not a number"]}, dtype=object), path)

    pd.testing.assert_frame_equal(io.read_parquet(path), pd.DataFrame({"a": [1, 2]}))
    assert os.listdir(tmp_path) == ["t.parquet"]


def test_write_json_is_sorted_and_readable(tmp_path) -> None:
    path = tmp_path / "r.json"

    io.write_json({"b": 1, "a": pd.Timestamp("2024-01-01")}, path)

    assert path.read_text() == '{\n  "a": "2024-01-01 00:00:00",\n  "b": 1\n}\n'
    assert io.read_json(path) == {"a": "2024-01-01 00:00:00", "b": 1}
    assert os.listdir(tmp_path) == ["r.json"]


def test_failed_write_json_keeps_the_previous_file(tmp_path) -> None:
    path = tmp_path / "r.json"
    io.write_json({"ok": True}, path)
    loop: list = []
    loop.append(loop)

    with pytest.raises(ValueError, match="Circular reference"):
        io.write_json(loop, path)

    assert json.loads(path.read_text()) == {"ok": True}
    assert os.listdir(tmp_path) == ["r.json"]


def test_write_and_read_tables(tmp_path) -> None:
    tables = {"orders": pd.DataFrame({"x": [1]}), "customers": pd.DataFrame({"y": ["a"]})}

    io.write_tables(tables, tmp_path / "canonical")

    back = io.read_tables(tmp_path / "canonical")
    assert list(back) == ["customers", "orders"]
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(back[name], frame)


# ------------------------------------------------------------------------ permissions


@pytest.fixture
def umask_022():
    """The common umask, so that "the usual permissions" are 0o755 and 0o644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_staged_dir_output_has_the_usual_permissions(tmp_path, umask_022) -> None:
    with io.staged_dir(tmp_path / "out") as staging:
        (staging / "a.txt").write_text("a")

    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755  # as os.mkdir gives


def test_written_files_have_the_usual_permissions(tmp_path, umask_022) -> None:
    io.write_json({"a": 1}, tmp_path / "r.json")

    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644  # as open() gives


def test_csv_keeps_money_to_the_cent(tmp_path):
    money = pd.DataFrame({"value": [280000.55, 1234567.0, 0.1 + 0.2, 12.3]}).round(2)
    io.write_csv(money, tmp_path / "m.csv")
    text = (tmp_path / "m.csv").read_text().split()
    assert text == ["value", "280000.55", "1234567.0", "0.3", "12.3"]
    back = pd.read_csv(tmp_path / "m.csv")
    pd.testing.assert_frame_equal(back, money)


def test_parquet_appender_writes_one_row_group_per_table_atomically(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "snapshots.parquet"
    with io.ParquetAppender(path) as out:
        out.write(pa.table({"cutoff": [1, 1], "x": [0.5, 1.5]}))
        assert not path.exists()  # nothing visible until closed
        out.write(pa.table({"cutoff": [2], "x": [2.5]}))
    assert out.rows == 3
    f = pq.ParquetFile(path)
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [2, 1]
    one = pq.read_table(path, filters=[("cutoff", "==", 2)]).to_pydict()
    assert one == {"cutoff": [2], "x": [2.5]}
    assert [p.name for p in tmp_path.iterdir()] == ["snapshots.parquet"]


def test_parquet_appender_casts_to_its_schema(tmp_path) -> None:
    import pyarrow as pa

    schema = pa.schema([("n", pa.int64())])
    with io.ParquetAppender(tmp_path / "t.parquet", schema) as out:
        out.write(pa.table({"n": pa.array([1, 2], pa.int32())}))
    assert pd.read_parquet(tmp_path / "t.parquet")["n"].dtype == "int64"


def test_failed_parquet_appender_keeps_the_previous_file(tmp_path) -> None:
    import pyarrow as pa

    path = tmp_path / "t.parquet"
    io.write_parquet(pd.DataFrame({"n": [7]}), path)
    with pytest.raises(RuntimeError), io.ParquetAppender(path) as out:
        out.write(pa.table({"n": [1]}))
        raise RuntimeError("stage failed half-way")
    assert pd.read_parquet(path)["n"].tolist() == [7]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_read_latest_finds_each_ids_last_row_up_to_a_date(tmp_path):
    """One row per wanted id at its latest cutoff on or before the date; later ones unread."""
    path = tmp_path / "snapshots.parquet"
    cutoffs = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    with io.ParquetAppender(path) as out:  # one row group per cutoff, as the stage writes
        for k, c in enumerate(cutoffs):
            ids = ["a", "b", "c"] if k < 2 else ["a", "c"]  # b left the population in March
            frame = pd.DataFrame(
                {"customer_id": ids, "cutoff": c, "x": [10 * k + i for i in range(len(ids))]}
            )
            out.write(pa.Table.from_pandas(frame, preserve_index=False))
    got = io.read_latest(path, ["b", "c", "zz"], until=pd.Timestamp("2024-03-01"))
    assert got[["customer_id", "cutoff", "x"]].values.tolist() == [
        ["b", cutoffs[1], 11],
        ["c", cutoffs[2], 21],
    ]
    before = io.read_latest(
        path, ["a", "c"], until=pd.Timestamp("2024-02-15"), columns=["customer_id", "cutoff"]
    )
    assert list(before.columns) == ["customer_id", "cutoff"]
    assert before["cutoff"].tolist() == [cutoffs[1], cutoffs[1]]
    assert io.read_latest(path, ["a"], until=pd.Timestamp("2023-12-31")).empty
