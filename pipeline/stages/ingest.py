"""Stage ``ingest``: validate the raw tables in chunks; accepted rows -> ``data/canonical``.

Writes the run's ledger: ``reports/ledger.json`` (every input row accepted, merged,
set aside or quarantined, with reasons; values nulled or read as missing; how each
file was read; the export date), ``data/ledger/`` (the rows not accepted, with their
line and reason) and ``reports/ingest.json`` (its numbers, as metrics). Stops the run
when more than ``ingest.max_bad_share`` of an input is not accepted, or on any such
row with ``ingest.on_bad_rows: fail``. A run that stops leaves ``data/canonical`` and
``data/ledger/`` as the last successful run left them and puts its own rows not
accepted in ``data/ledger.failed/``, which its message names (the next successful run
removes it).
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

import pandas as pd

from pipeline import io, ledger
from pipeline.config import Params
from pipeline.ingest import check_orders_left, check_run, table_account
from pipeline.ingest_parquet import ingest_directory, plan_rules, set_aside_examples
from pipeline.ledger import set_aside_file
from pipeline.sources.files import parse_ids
from pipeline.stages._common import CANONICAL, LEDGER, RAW, REPORTS, SOURCE_LEDGER, stage_main

FAILED = LEDGER.with_name(LEDGER.name + ".failed")

log = logging.getLogger(__name__)


def set_aside_ids(source: dict[str, Any], name: str, column: str) -> list[tuple[str, bool]]:
    """The ``column`` ids of the rows of input ``name`` the source set aside, read as
    the source reads ids (the file's column the source mapped to it), each with whether
    its line was short (the id may then hold the next value too: ``c002NA``)."""
    path = SOURCE_LEDGER / "set_aside" / set_aside_file(name)
    mapped = source.get("inputs", {}).get(name, {}).get("columns", {}).get(column)
    if mapped is None or not path.exists():
        return []
    rows = io.read_parquet(path)
    if mapped not in rows.columns:
        return []
    ids = parse_ids(rows[mapped])
    short = rows.get("reason", pd.Series(None, index=rows.index)).eq("too_few_fields")
    keep = ids.notna()
    return list(zip(ids[keep].astype(str), short[keep], strict=True))


def run(params: Params) -> None:
    p = params.ingest
    source: dict[str, Any] = {}
    if (SOURCE_LEDGER / "source.json").exists():
        source = io.read_json(SOURCE_LEDGER / "source.json")
    raw = {path.stem: path for path in sorted(RAW.glob("*.parquet"))}
    rules, facts = plan_rules(
        raw,
        min_date=p.min_date,
        max_date=p.max_date,
        export_moment=params.source.export_moment,
        outlier_factor=p.outlier_factor,
    )
    with io.staged_dir(CANONICAL) as canon, io.staged_dir(LEDGER) as kept:
        outcomes = ingest_directory(
            RAW,
            canon,
            kept / "quarantined",
            rules=rules,
            derived=source.get("derived", {}),
            set_aside_customers=set_aside_ids(source, "customers", "customer_id"),
        )
        if (SOURCE_LEDGER / "set_aside").is_dir():
            shutil.copytree(SOURCE_LEDGER / "set_aside", kept / "set_aside")
        rows_in = {name: outcomes[name].tally.rows_read for name in outcomes}
        accounts = {name: table_account(o, rows_in[name]) for name, o in outcomes.items()}
        book = ledger.build_ledger(source, accounts, facts)
        try:
            check_run(
                book,
                outcomes,
                on_bad_rows=p.on_bad_rows,
                max_bad_share=p.max_bad_share,
                set_aside_examples=set_aside_examples(kept),
                rows_dir=f"{FAILED}/",
            )
            check_orders_left(book, outcomes, rows_dir=f"{FAILED}/")
        except Exception as err:
            # the rows this run did not accept, where its message says (not the last
            # successful run's data/ledger/, which stays as it was)
            shutil.rmtree(FAILED, ignore_errors=True)
            shutil.copytree(kept, FAILED)
            io.write_json(
                {**book, "folders": ledger.folders(str(FAILED)), "status": f"failed: {err}"},
                REPORTS / "ledger.json",
            )
            raise
        shutil.rmtree(FAILED, ignore_errors=True)
        io.write_json({**book, "status": "ok"}, REPORTS / "ledger.json")
        reports = {
            name: o.report() if o.derived is None else {"derived": o.accepted}
            for name, o in outcomes.items()
        }
        io.write_json(ledger.metrics(book, reports), REPORTS / "ingest.json")
    log.info("\n%s", ledger.render_headline(book))


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
