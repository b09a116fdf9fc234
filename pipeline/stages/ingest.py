"""Stage ``ingest``: validate the raw tables; accepted rows -> ``data/canonical``.

Rows that break a rule go to ``data/quarantine/<table>.parquet`` with the reason, or
stop the run (``ingest.on_bad_rows: fail``). ``reports/ingest.json`` accounts for
every row: read = accepted + quarantined, per table and reason.
"""

from __future__ import annotations

import logging

from pipeline import io
from pipeline.config import Params
from pipeline.ingest import ingest_tables
from pipeline.stages._common import CANONICAL, QUARANTINE, RAW, REPORTS, stage_main

log = logging.getLogger(__name__)


def run(params: Params) -> None:
    raw = io.read_tables(RAW)
    p = params.ingest
    result = ingest_tables(
        raw, on_bad_rows=p.on_bad_rows, min_date=p.min_date, max_date=p.max_date
    )
    for name, rep in result.report.items():
        log.info("%s: %s", name, rep)
    with io.staged_dir(CANONICAL) as canon, io.staged_dir(QUARANTINE) as quar:
        io.write_tables(result.tables, canon)
        io.write_tables({k: v for k, v in result.quarantine.items() if len(v)}, quar)
        io.write_json(result.report, REPORTS / "ingest.json")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
