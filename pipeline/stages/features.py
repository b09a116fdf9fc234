"""Stage ``features``: loyalty features and churn labels at every cutoff.

Writes ``data/features/snapshots.parquet`` (one row per customer and cutoff, with
``churned`` for the labelled cutoffs) and ``meta.json`` (the
cutoffs, the feature families, and the features the data could not support).
"""

from __future__ import annotations

import logging

import ibis
import pandas as pd

from pipeline import io
from pipeline.clv import MAX_FIT_ROWS, bgnbd_features, fit_at_cutoffs, sample_customers
from pipeline.config import Params
from pipeline.features import (
    FAMILIES,
    PER_CUTOFF,
    FeatureSet,
    available_features,
    build_features,
)
from pipeline.labels import churn_labels, cutoff_table, plan_cutoffs
from pipeline.schema import TABLES
from pipeline.stages._common import CANONICAL, FEATURES, stage_main

log = logging.getLogger(__name__)

# Each table's own event time: with score.as_of set, rows from that moment on are
# invisible to every stage downstream, training snapshots included.
EVENT_TIME = {
    "orders": "ordered_at",
    "order_lines": "ordered_at",
    "returns": "returned_at",
    "sessions": "started_at",
    "complaints": "opened_at",
    "surveys": "surveyed_at",
}


def connect_tables(con: ibis.BaseBackend, as_of: pd.Timestamp | None) -> dict[str, ibis.Table]:
    tables = {}
    for path in sorted(CANONICAL.glob("*.parquet")):
        if path.stem not in TABLES:
            continue
        t = con.read_parquet(path, table_name=path.stem)
        if as_of is not None and path.stem in EVENT_TIME:
            t = t.filter(t[EVENT_TIME[path.stem]] < as_of)
        tables[path.stem] = t
    return tables


def present_columns(tables: dict[str, ibis.Table]) -> dict[str, set[str]]:
    out = {}
    for name, t in tables.items():
        counts = t.aggregate(**{c: t[c].count() for c in t.columns}).to_pandas().iloc[0]
        out[name] = {c for c, n in counts.items() if n > 0}
    return out


def add_per_cutoff_features(
    frame: pd.DataFrame,
    fs: FeatureSet,
    orders: ibis.Table,
    *,
    horizon_days: int,
    seed: int,
) -> pd.DataFrame:
    """BG/NBD's posterior as features, fitted at each cutoff on the history before it."""
    wanted = [n for n in PER_CUTOFF if n in fs.names]
    if not wanted:
        return frame
    ids = orders.select("customer_id").distinct().to_pandas()["customer_id"]
    sample = sample_customers(ids, max_customers=MAX_FIT_ROWS, seed=seed)
    chosen = ibis.memtable(pd.DataFrame({"s_id": sample.astype("string")}))
    history = orders.join(chosen, orders.customer_id == chosen.s_id)
    history = history.select("customer_id", "ordered_at").to_pandas()
    cutoffs = sorted(pd.Timestamp(c) for c in frame["cutoff"].unique())
    models = fit_at_cutoffs(history, cutoffs, seed=seed)
    parts = [
        bgnbd_features(rows, models[pd.Timestamp(cutoff)], horizon_days=horizon_days)[wanted]
        for cutoff, rows in frame.groupby("cutoff", sort=False)
    ]
    return pd.concat([frame, pd.concat(parts).loc[frame.index]], axis=1)


def run(params: Params) -> None:
    as_of = pd.Timestamp(params.score.as_of) if params.score.as_of else None
    # One thread: DuckDB's parallel sums of doubles combine in whatever order the
    # threads finish, which moved spend and gap features in the 13th digit between
    # runs (and the logistic and BG/NBD baselines with them). One thread costs
    # 10.3 -> 12.3 s on the 20k-customer shop and makes the stage bit-for-bit.
    con = ibis.duckdb.connect(threads=1)
    tables = connect_tables(con, as_of)
    fs = available_features(present_columns(tables))
    for name, why in fs.dropped.items():
        log.info("feature %s dropped: needs %s", name, why)
    log.info("%d features from %d families", len(fs.names), len({FAMILIES[n] for n in fs.names}))

    o = tables["orders"]
    span = o.aggregate(first=o.ordered_at.min(), last=o.ordered_at.max()).to_pandas().iloc[0]
    cuts = plan_cutoffs(
        pd.Timestamp(span["first"]),
        pd.Timestamp(span["last"]),
        horizon_days=params.churn.horizon_days,
        every_days=params.snapshots.every_days,
        min_history_days=params.snapshots.min_history_days,
        as_of=as_of,
    )
    log.info(
        "cutoffs: %d labelled (%s .. %s, the last is the test cutoff), score %s",
        len(cuts.labelled),
        cuts.labelled[0].date(),
        cuts.test.date(),
        cuts.score.date(),
    )
    ct = con.create_table("cutoffs", cutoff_table([*cuts.labelled, cuts.score]), overwrite=True)
    feats = build_features(
        tables,
        ct,
        fs,
        lookback_days=params.churn.lookback_days,
        horizon_days=params.churn.horizon_days,
    )
    lab_ct = con.create_table("labelled", cutoff_table(cuts.labelled), overwrite=True)
    pop = feats.select("customer_id", "cutoff").semi_join(lab_ct, "cutoff")
    labels = churn_labels(
        tables["orders"],
        pop,
        horizon_days=params.churn.horizon_days,
        returns=tables.get("returns"),
    )
    frame = feats.left_join(labels, ["customer_id", "cutoff"]).drop(
        "customer_id_right", "cutoff_right"
    )
    frame = frame.order_by(["cutoff", "customer_id"]).to_pandas()
    frame = add_per_cutoff_features(
        frame, fs, tables["orders"], horizon_days=params.churn.horizon_days, seed=0
    )

    frame.insert(2, "labelled", frame["cutoff"] < cuts.score)
    frame["churned"] = frame["churned"].astype("Int8")
    summary = frame.groupby("cutoff").agg(
        customers=("customer_id", "size"), churn=("churned", "mean")
    )
    log.info("snapshots:\n%s", summary.to_string())

    meta = {
        "features": list(fs.names),
        "categorical": list(fs.categorical),
        "families": {n: FAMILIES[n] for n in fs.names},
        "dropped": fs.dropped,
        "cutoffs": {
            "labelled": [str(c) for c in cuts.labelled],
            "test": str(cuts.test),
            "score": str(cuts.score),
        },
        "every_days": params.snapshots.every_days,
        "horizon_days": params.churn.horizon_days,
        "lookback_days": params.churn.lookback_days,
    }
    with io.staged_dir(FEATURES) as out:
        io.write_parquet(frame, out / "snapshots.parquet")
        io.write_json(meta, out / "meta.json")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
