"""Stage ``source``: the shop's raw data -> canonical-named tables in ``data/raw``.

``source.kind`` picks the adapter: the embedded synthetic shop (default), a shop's own
CSV/Parquet files, or the UCI Online Retail data. The source's own account of every
input row goes to ``data/raw/_ledger/``: ``source.json`` (rows read, used and set
aside per reason, how each file was read, values read as missing) and
``set_aside/<input>.parquet`` (the rows it could not map, with their line and
reason). Each table carries the provenance of its rows (input, line, rows behind
it); the ingest stage turns all of it into the run's ledger.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import io, watch
from pipeline.config import Params
from pipeline.ledger import set_aside_file
from pipeline.sources.files import SourceResult
from pipeline.stages._common import RAW, SOURCE_LEDGER, TRUTH, stage_main

log = logging.getLogger(__name__)


def _synthetic(params: Params) -> tuple[SourceResult, pd.DataFrame]:
    from pipeline.sources.synthetic import generate_shop

    s = params.synthetic
    shop = generate_shop(
        n_customers=s.n_customers,
        start=s.start,
        days=s.days,
        seed=s.seed,
        survey_share=s.survey_share,
    )
    report = {
        name: {"rows_read": len(df), "rows_used": len(df)} for name, df in shop.tables.items()
    }
    details = {
        name: {"file": None, "tables": [name], "read": {"format": "generated (synthetic shop)"}}
        for name in shop.tables
    }
    return SourceResult(dict(shop.tables), report, {}, details=details), shop.truth


def load_source(params: Params) -> tuple[SourceResult, pd.DataFrame | None]:
    """The source's result for ``source.kind``, and the ground truth (synthetic only)."""
    kind = params.source.kind
    if kind == "synthetic":
        return _synthetic(params)
    if kind == "files":
        from pipeline.sources.files import load_files

        export = params.source.export_moment
        result = load_files(
            params.source.files,
            params.source.columns,
            read=params.source.read,
            timezone=params.source.timezone,
            export_date=pd.Timestamp(export) if export is not None else None,
        )
        return result, None
    from pipeline.sources.online_retail import load_online_retail

    return load_online_retail(params.source.online_retail.dir), None


def source_ledger(kind: str, result: SourceResult) -> dict[str, Any]:
    """What the source hands to the ledger: per input, its file, counts and details."""
    inputs = {}
    for name, info in result.details.items():
        inputs[name] = {**info, "report": result.report.get(name, {})}
    notes = {k: v for k, v in result.report.items() if ":" in k}
    return {"kind": kind, "inputs": inputs, "derived": dict(result.derived), "notes": notes}


def with_provenance(result: SourceResult) -> dict[str, pd.DataFrame]:
    """Each table with its provenance columns appended (when the source gave them)."""
    out = {}
    for name, table in result.tables.items():
        prov = result.provenance.get(name)
        out[name] = (
            table if prov is None else pd.concat([table, prov.set_axis(table.index)], axis=1)
        )
    return out


def write_synthetic(params: Params) -> None:
    """The embedded shop, simulated block by block and written as it goes.

    A million customers do not fit in memory as frames: each block of customers is
    appended to the table files as it is simulated. The ledger gets the same account
    as any other source: every generated row is used.
    """
    from pipeline.sources.synthetic import write_shop

    s = params.synthetic
    with io.staged_dir(RAW) as raw, io.staged_dir(TRUTH) as tr:
        counts = write_shop(
            n_customers=s.n_customers,
            start=s.start,
            days=s.days,
            seed=s.seed,
            survey_share=s.survey_share,
            directory=raw,
            truth_path=tr / "truth.parquet",
        )
        result = SourceResult(
            {},
            {name: {"rows_read": n, "rows_used": n} for name, n in counts.items()},
            {},
            details={
                name: {
                    "file": None,
                    "tables": [name],
                    "read": {"format": "generated (synthetic shop)"},
                }
                for name in counts
            },
        )
        ledger_dir = raw / SOURCE_LEDGER.relative_to(RAW)
        io.write_json(source_ledger("synthetic", result), ledger_dir / "source.json")
        for name, n in counts.items():
            log.info("%s: %d rows", name, n)


def run(params: Params) -> None:
    if params.source.kind == "synthetic":
        write_synthetic(params)
        return
    root = Path.cwd()
    watch.warn_unwatched(params, root)
    read = watch.stamps(params, root)  # before reading: a file replaced meanwhile is re-read
    result, truth = load_source(params)
    for name, df in result.tables.items():
        log.info("%s: %d rows", name, len(df))
    with io.staged_dir(RAW) as raw, io.staged_dir(TRUTH) as tr:
        io.write_tables(with_provenance(result), raw)
        ledger_dir = raw / SOURCE_LEDGER.relative_to(RAW)
        io.write_json(source_ledger(params.source.kind, result), ledger_dir / "source.json")
        if read:
            io.write_json(read, raw / watch.RECORD.relative_to(RAW))
        for name, rows in result.set_aside.items():
            if len(rows):
                if "line" not in rows.columns:  # a Parquet input: its row number, from 1
                    rows = rows.assign(line=rows.index.to_numpy(dtype="int64") + 1)
                io.write_parquet(rows, ledger_dir / "set_aside" / set_aside_file(name))
        if truth is not None:
            io.write_parquet(truth, tr / "truth.parquet")
        else:
            io.write_text(f"source.kind={params.source.kind}: no ground truth\n", tr / "NONE")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
