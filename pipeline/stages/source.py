"""Stage ``source``: the shop's raw data -> canonical-named tables in ``data/raw``.

``source.kind`` picks the adapter: the embedded synthetic shop (default), a shop's own
CSV/Parquet files, or the UCI Online Retail data. Rows an adapter cannot map (an
Online Retail line without a customer, say) are set aside with a reason and counted
in ``reports/source.json``.
"""

from __future__ import annotations

import logging

import pandas as pd

from pipeline import io
from pipeline.config import Params
from pipeline.stages._common import RAW, REPORTS, SET_ASIDE, TRUTH, stage_main

log = logging.getLogger(__name__)


def load_source(params: Params) -> tuple[dict[str, pd.DataFrame], dict, dict, pd.DataFrame | None]:
    """(tables, report, set-aside rows, ground truth or None) for ``source.kind``."""
    kind = params.source.kind
    if kind == "synthetic":
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
        return dict(shop.tables), report, {}, shop.truth
    if kind == "files":
        from pipeline.sources.files import load_files

        res = load_files(params.source.files, params.source.columns)
    else:
        from pipeline.sources.online_retail import load_online_retail

        res = load_online_retail(params.source.online_retail.dir)
    return dict(res.tables), res.report, dict(res.set_aside), None


def write_synthetic(params: Params) -> None:
    """The embedded shop, simulated block by block and written as it goes."""
    from pipeline.sources.synthetic import write_shop

    s = params.synthetic
    with io.staged_dir(RAW) as raw, io.staged_dir(SET_ASIDE), io.staged_dir(TRUTH) as tr:
        counts = write_shop(
            n_customers=s.n_customers,
            start=s.start,
            days=s.days,
            seed=s.seed,
            survey_share=s.survey_share,
            directory=raw,
            truth_path=tr / "truth.parquet",
        )
        report = {name: {"rows_read": n, "rows_used": n} for name, n in counts.items()}
        io.write_json({"kind": "synthetic", "tables": report}, REPORTS / "source.json")


def run(params: Params) -> None:
    if params.source.kind == "synthetic":
        # A million customers do not fit in memory as frames: stream them to disk.
        write_synthetic(params)
        return
    tables, report, set_aside, truth = load_source(params)
    for name, df in tables.items():
        log.info("%s: %d rows", name, len(df))
    with io.staged_dir(RAW) as raw, io.staged_dir(SET_ASIDE) as aside, io.staged_dir(TRUTH) as tr:
        io.write_tables(tables, raw)
        io.write_tables(set_aside, aside)
        if truth is not None:
            io.write_parquet(truth, tr / "truth.parquet")
        else:
            io.write_text(f"source.kind={params.source.kind}: no ground truth\n", tr / "NONE")
        io.write_json({"kind": params.source.kind, "tables": report}, REPORTS / "source.json")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
