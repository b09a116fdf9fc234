"""Stage ``score``: ``data/scored/customers.csv`` and the ``at_risk.csv`` slice."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline import io
from pipeline.config import Params
from pipeline.score import build_list, summarise_list
from pipeline.stages._common import FEATURES, REPORTS, SCORED, stage_main

log = logging.getLogger(__name__)


def run(params: Params) -> None:
    scoring = io.read_parquet(FEATURES.parent / "explain" / "scoring.parquet")
    meta = io.read_json(FEATURES / "meta.json")
    snapshots = io.read_parquet(FEATURES / "snapshots.parquet")
    features = snapshots[snapshots["cutoff"] == pd.Timestamp(meta["cutoffs"]["score"])]
    scored = build_list(scoring, features, band_thresholds=params.score.band_thresholds)
    summary = summarise_list(scored, at_risk_size=params.score.at_risk_size)
    summary["as_of"] = meta["cutoffs"]["score"]
    log.info("scored %d customers; at-risk list of %d", len(scored), summary["at_risk_list_size"])
    with io.staged_dir(SCORED) as out:
        io.write_csv(scored, out / "customers.csv")
        io.write_csv(scored.head(params.score.at_risk_size), out / "at_risk.csv")
    io.write_json(summary, REPORTS / "score.json")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
