"""Stage ``features``: loyalty features and churn labels at every cutoff.

Writes ``data/features/snapshots.parquet`` (one row per customer and cutoff, with
``churned`` for the labelled cutoffs; one row group per cutoff, in cutoff order, so a
reader can fetch a single cutoff with a Parquet filter) and ``meta.json`` (the cutoffs,
the feature families, and the features the data could not support).

The per-event half of the features is computed once; the per-cutoff half runs a batch
of cutoffs at a time and streams each cutoff's rows to the file: nothing holds every
snapshot in memory. ``features.engine`` picks DuckDB (default) or Spark.

Only the rows something reads are computed. When the shipped model's training cutoffs
hold more than ``train.max_rows`` customers, the models learn from a sample: every
(cutoff, label) cell keeps the same seeded share (drawn here, from the population and
its labels, which cost a fraction of the features). ``sampled`` marks those rows. The
labelled cutoffs before the last then hold only the sample and the customers who
answered a survey (the type models learn from their rows); the last labelled cutoff
(the list's "rising risk" compares with it) and the scoring cutoff hold everyone. With
fewer rows than ``train.max_rows``, every row is computed and ``sampled``.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import io
from pipeline.clv import MAX_FIT_ROWS, bgnbd_features, fit_at_cutoffs, sample_customers
from pipeline.config import Params
from pipeline.engine import connect, materialise, stream
from pipeline.features import (
    FAMILIES,
    KEY,
    PAIR_ID,
    PER_CUTOFF,
    SAMPLED,
    Events,
    FeatureSet,
    available_features,
    features_at,
    population,
    prepare_events,
)
from pipeline.labels import (
    Cutoffs,
    churn_labels,
    cutoff_table,
    plan_cutoffs,
    split_for,
    stratified_keep,
)
from pipeline.schema import EVENT_TIME, TABLES
from pipeline.stages._common import CANONICAL, FEATURES, stage_main

log = logging.getLogger(__name__)

BATCH_TABLE = "batch_cutoffs"
PAIRS_TABLE = "batch_pairs"
# Customer-cutoff rows one batch may hold in the engine's hash tables (an upper bound:
# every customer with an order counts once per cutoff of the batch).
BATCH_ROWS = 1_000_000


def connect_tables(con: ibis.BaseBackend, as_of: pd.Timestamp | None) -> dict[str, ibis.Table]:
    tables = {}
    for path in sorted(CANONICAL.glob("*.parquet")):
        if path.stem not in TABLES:
            continue
        t = con.read_parquet(path, table_name=path.stem)
        # with score.as_of set, rows from that moment on are invisible downstream
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


def batches(cutoffs: list[pd.Timestamp], customers: int) -> list[list[pd.Timestamp]]:
    """Consecutive cutoffs, few enough per batch to keep the engine's memory bounded."""
    size = max(1, BATCH_ROWS // max(customers, 1))
    return [cutoffs[i : i + size] for i in range(0, len(cutoffs), size)]


def finish_cutoff(frame: pd.DataFrame, cuts: Cutoffs, sample: Sample | None) -> pd.DataFrame:
    """One cutoff's rows, just before they are written: the last place to add columns."""
    frame.insert(2, "labelled", frame["cutoff"] < cuts.score)
    cutoff = pd.Timestamp(frame["cutoff"].iloc[0])
    chosen = None if sample is None else sample.chosen.get(cutoff)
    frame.insert(
        3,
        SAMPLED,
        True if chosen is None else frame["customer_id"].isin(chosen.to_pylist()).to_numpy(),
    )
    frame["churned"] = frame["churned"].astype("Int8")
    return frame


@dataclass
class Sample:
    """The rows the models learn from, when there are more than ``train.max_rows``.

    ``chosen``: labelled cutoff -> the customers drawn (each (cutoff, label) cell keeps
    ``share`` of its rows, seeded per cutoff); ``extra``: labelled cutoff -> customers
    computed beside them (who answered a survey); ``whole``: cutoffs computed for
    everyone.
    """

    share: float
    rows_in_training_cutoffs: int
    population: dict[pd.Timestamp, int]
    chosen: dict[pd.Timestamp, pa.Array]
    extra: dict[pd.Timestamp, pa.Array]
    whole: tuple[pd.Timestamp, ...]

    def pairs(self, cutoffs: list[pd.Timestamp]) -> pa.Table:
        """(cutoff, customer) pairs to compute at ``cutoffs``, sorted."""
        parts = []
        for c in cutoffs:
            ids = pa.concat_arrays([self.chosen[c], self.extra[c]]).cast(pa.string())
            parts.append(
                pa.table(
                    {
                        "cutoff": pa.array(np.full(len(ids), c.to_datetime64(), "datetime64[us]")),
                        PAIR_ID: ids,
                    }
                )
            )
        return pa.concat_tables(parts).sort_by([("cutoff", "ascending"), (PAIR_ID, "ascending")])

    def summary(self) -> dict:
        return {
            "share": self.share,
            "rows_in_training_cutoffs": self.rows_in_training_cutoffs,
            "sampled_rows": int(sum(len(a) for a in self.chosen.values())),
            "survey_rows_beside_them": int(sum(len(a) for a in self.extra.values())),
            "computed_for_everyone": [str(c) for c in self.whole],
        }


def population_counts(
    con: ibis.BaseBackend, events: Events, cuts: Cutoffs, params: Params
) -> dict[pd.Timestamp, int]:
    """Customers in the population at each labelled cutoff (an order in the lookback)."""
    ct = con.create_table("plan_cutoffs", cutoff_table(cuts.labelled), overwrite=True)
    pop = population(events.orders, ct, lookback_days=params.churn.lookback_days)
    counts = pop.group_by("cutoff").aggregate(n=pop.count()).to_pandas()
    return {pd.Timestamp(c): int(n) for c, n in zip(counts["cutoff"], counts["n"], strict=True)}


def draw_sample(
    con: ibis.BaseBackend,
    tables: dict[str, ibis.Table],
    events: Events,
    cuts: Cutoffs,
    params: Params,
    counts: dict[pd.Timestamp, int],
) -> Sample | None:
    """The training sample when the shipped model's training cutoffs hold more than
    ``train.max_rows`` rows, else None (every row is computed and learnt from).

    The share is ``max_rows`` / those rows, the same at every labelled cutoff, so each
    backtest origin trains on that share of its own cutoffs and is judged on that share
    of its test cutoff. Cell by cell (label within cutoff), seeded by ``train.seed`` and
    the cutoff's place: the same rows whatever the engine or the batch sizes.
    """
    split = split_for(cuts, cuts.score, validation_cutoffs=params.snapshots.validation_cutoffs)
    n_train = sum(counts.get(c, 0) for c in split.train)
    if n_train <= params.train.max_rows:
        return None
    share = params.train.max_rows / n_train
    ct = con.create_table("plan_cutoffs", cutoff_table(cuts.labelled), overwrite=True)
    pop = population(events.orders, ct, lookback_days=params.churn.lookback_days).select(*KEY)
    labels = churn_labels(
        tables["orders"],
        pop,
        horizon_days=params.churn.horizon_days,
        returns=tables.get("returns"),
    )
    labels = labels.select(*KEY, "churned").order_by(["cutoff", "customer_id"])
    surveyed = None
    if "surveys" in tables:
        s = tables["surveys"]
        surveyed = s.select("customer_id").distinct().to_pyarrow().column(0).combine_chunks()
    index = {c: i for i, c in enumerate(cuts.labelled)}
    chosen, extra = {}, {}
    for part in per_cutoff(stream(con, con.compile(labels))):
        cutoff = pd.Timestamp(part.column("cutoff")[0].as_py())
        cells = pd.DataFrame(
            {"cutoff": np.zeros(len(part)), "churned": part.column("churned").to_numpy()}
        )
        rng = np.random.default_rng([params.train.seed, index[cutoff]])
        keep = stratified_keep(cells, share, rng, floor=True)
        ids = part.column("customer_id").combine_chunks()
        chosen[cutoff] = ids.filter(pa.array(keep))
        if surveyed is None:
            extra[cutoff] = ids.slice(0, 0)
        else:
            beside = pc.is_in(ids, value_set=surveyed).to_numpy(zero_copy_only=False) & ~keep
            extra[cutoff] = ids.filter(pa.array(beside))
    return Sample(
        share=share,
        rows_in_training_cutoffs=n_train,
        population=counts,
        chosen=chosen,
        extra=extra,
        whole=(cuts.labelled[-1], cuts.score),
    )


def per_cutoff(reader: pa.RecordBatchReader) -> Iterator[pa.Table]:
    """Regroup a stream of record batches ordered by cutoff into one table per cutoff."""
    pending: list[pa.RecordBatch] = []
    for batch in reader:
        stamps = batch.column("cutoff").cast(pa.int64()).to_numpy()
        # row numbers where the cutoff changes within this batch
        starts = [0, *(np.flatnonzero(np.diff(stamps)) + 1).tolist(), len(batch)]
        for start, end in itertools.pairwise(starts):
            piece = batch.slice(start, end - start)
            if pending and pending[-1].column("cutoff")[0] != piece.column("cutoff")[0]:
                yield pa.Table.from_batches(pending)
                pending = []
            if len(piece):
                pending.append(piece)
    if pending:
        yield pa.Table.from_batches(pending)


def fit_per_cutoff(
    fs: FeatureSet, orders: ibis.Table, cutoffs: list[pd.Timestamp], *, seed: int
) -> dict[pd.Timestamp, object]:
    """BG/NBD fitted at each cutoff on the history before it (for the PER_CUTOFF features).

    The fit reads a seeded sample of at most ``clv.MAX_FIT_ROWS`` customers' order
    times, so its memory does not grow with the shop; the features are then computed for
    every customer of each cutoff as its rows are written.
    """
    if not any(n in fs.names for n in PER_CUTOFF):
        return {}
    ids = orders.select("customer_id").distinct().to_pandas()["customer_id"]
    sample = sample_customers(ids, max_customers=MAX_FIT_ROWS, seed=seed)
    chosen = ibis.memtable(pd.DataFrame({"s_id": sample.astype("string")}))
    history = orders.join(chosen, orders.customer_id == chosen.s_id)
    history = history.select("customer_id", "ordered_at").to_pandas()
    return fit_at_cutoffs(history, sorted(cutoffs), seed=seed)


def add_per_cutoff_features(
    rows: pd.DataFrame, fs: FeatureSet, models: dict, *, horizon_days: int
) -> pd.DataFrame:
    """One cutoff's rows with BG/NBD's posterior as features (fitted before that cutoff)."""
    wanted = [n for n in PER_CUTOFF if n in fs.names]
    if not wanted:
        return rows
    model = models[pd.Timestamp(rows["cutoff"].iloc[0])]
    extra = bgnbd_features(rows, model, horizon_days=horizon_days)[wanted]
    return pd.concat([rows, extra.set_axis(rows.index)], axis=1)


def snapshot_query(
    tables: dict[str, ibis.Table],
    events: Events,
    ct: ibis.Table,
    fs: FeatureSet,
    cuts: Cutoffs,
    params: Params,
) -> ibis.Table:
    """Features and labels of the population at the cutoffs (or pairs) of ``ct``."""
    feats = features_at(
        events,
        ct,
        fs,
        lookback_days=params.churn.lookback_days,
        horizon_days=params.churn.horizon_days,
    )
    pop = population(events.orders, ct, lookback_days=params.churn.lookback_days)
    labels = churn_labels(
        tables["orders"],
        pop.filter(pop.cutoff < cuts.score).select(*KEY),
        horizon_days=params.churn.horizon_days,
        returns=tables.get("returns"),
    )
    frame = feats.left_join(labels, list(KEY)).drop("customer_id_right", "cutoff_right")
    return frame.order_by(["cutoff", "customer_id"])


def run(params: Params) -> None:
    as_of = pd.Timestamp(params.score.as_of) if params.score.as_of else None
    scratch = Path(tempfile.mkdtemp(prefix=".features-", dir=FEATURES.parent))
    try:
        con = connect(
            params.features.engine,
            scratch=scratch,
            memory_gb=params.features.memory_gb,
            spark_master=params.spark.master,
        )
        _run(con, params, as_of)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(con: ibis.BaseBackend, params: Params, as_of: pd.Timestamp | None) -> None:
    tables = connect_tables(con, as_of)
    fs = available_features(present_columns(tables))
    for name, why in fs.dropped.items():
        log.info("feature %s dropped: needs %s", name, why)
    log.info("%d features from %d families", len(fs.names), len({FAMILIES[n] for n in fs.names}))

    o = tables["orders"]
    span = o.aggregate(
        first=o.ordered_at.min(), last=o.ordered_at.max(), customers=o.customer_id.nunique()
    ).to_pandas()
    span = span.iloc[0]
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

    # Once per event: everything the cutoff does not change.
    events = prepare_events(
        tables, fs, keep=lambda name, table: materialise(con, table, f"events_{name}")
    )
    log.info("per-event tables ready")

    counts = population_counts(con, events, cuts, params)
    sample = draw_sample(con, tables, events, cuts, params, counts)
    if sample is not None:
        log.info(
            "training sample: %.4f of the %d rows of the shipped model's training cutoffs "
            "(train.max_rows %d); %d sampled and %d surveyed customers' rows computed at "
            "the %d labelled cutoffs before the last, everyone at %s",
            sample.share,
            sample.rows_in_training_cutoffs,
            params.train.max_rows,
            sum(len(a) for a in sample.chosen.values()),
            sum(len(a) for a in sample.extra.values()),
            len(cuts.labelled) - 1,
            ", ".join(str(c.date()) for c in sample.whole),
        )

    # Once per batch of cutoffs: the same query, compiled once, on other cutoffs.
    def compiled(ct: ibis.Table) -> tuple[str, pa.Schema]:
        frame = snapshot_query(tables, events, ct, fs, cuts, params)
        return con.compile(frame), frame.schema().to_pyarrow()

    ct = con.create_table(BATCH_TABLE, cutoff_table(cuts.labelled[:1]), overwrite=True)
    sql, schema = compiled(ct)
    units: list[tuple[str, object, str]] = []  # (batch table, its rows, query), in cutoff order
    every = [*cuts.labelled, cuts.score]
    if sample is None:
        units += [(BATCH_TABLE, batch, sql) for batch in batches(every, int(span["customers"]))]
    else:
        paired = [c for c in cuts.labelled if c not in sample.whole]
        per_cutoff_rows = pd.Series(
            {c: len(sample.chosen[c]) + len(sample.extra[c]) for c in paired}, dtype=int
        )
        groups = contact_batches(per_cutoff_rows, BATCH_ROWS)
        if groups:
            pt = con.create_table(PAIRS_TABLE, sample.pairs(groups[0]), overwrite=True)
            pair_sql, pair_schema = compiled(pt)
            if pair_schema != schema:
                raise AssertionError(f"pair query schema differs:\n{pair_schema}\n{schema}")
            units += [(PAIRS_TABLE, group, pair_sql) for group in groups]
        whole = list(sample.whole)
        units += [(BATCH_TABLE, batch, sql) for batch in batches(whole, int(span["customers"]))]
    models = fit_per_cutoff(fs, tables["orders"], every, seed=0)

    summary = []
    out_path = None
    with io.staged_dir(FEATURES) as out:
        out_path = out / "snapshots.parquet"
        writer = None
        try:
            for name, batch, query in units:
                rows_of = sample.pairs(batch) if name == PAIRS_TABLE else cutoff_table(batch)
                con.create_table(name, rows_of, overwrite=True)
                for part in per_cutoff(stream(con, query)):
                    # the types Ibis promises (the raw query may widen some, int32 -> int64)
                    rows = finish_cutoff(part.cast(schema).to_pandas(), cuts, sample)
                    rows = add_per_cutoff_features(
                        rows, fs, models, horizon_days=params.churn.horizon_days
                    )
                    table = pa.Table.from_pandas(
                        rows, schema=writer.schema if writer else None, preserve_index=False
                    )
                    if writer is None:
                        writer = pq.ParquetWriter(out_path, table.schema)
                    writer.write_table(table, row_group_size=max(len(table), 1))
                    cutoff = pd.Timestamp(rows["cutoff"].iloc[0])
                    summary.append(
                        (
                            cutoff,
                            counts.get(cutoff, len(rows)),
                            len(rows),
                            int(rows[SAMPLED].sum()),
                            rows.loc[rows[SAMPLED], "churned"].astype(float).mean(),
                        )
                    )
                log.info("cutoffs %s .. %s written", batch[0].date(), batch[-1].date())
        finally:
            if writer is not None:
                writer.close()
        log.info(
            "snapshots:\n%s",
            pd.DataFrame(
                summary, columns=["cutoff", "customers", "computed", "sampled", "churn"]
            ).to_string(index=False),
        )
        meta = _meta(fs, cuts, params)
        meta["sample"] = None if sample is None else sample.summary()
        if "contacts" in tables:
            meta["campaigns"] = write_campaigns(
                con, tables, events, fs, cuts=cuts, params=params, path=out / CAMPAIGNS
            )
        io.write_json(meta, out / "meta.json")


CAMPAIGNS = "campaigns.parquet"


def contact_batches(per_day: pd.Series, max_rows: int) -> list[list[pd.Timestamp]]:
    """Consecutive contact days, grouped while the group's contacts stay within
    ``max_rows`` (a day with more is a group of its own): each group is one query over
    (customer, day) pairs, so its cost is the contacted customers' own events."""
    out: list[list[pd.Timestamp]] = []
    group: list[pd.Timestamp] = []
    n = 0
    for day, count in per_day.items():
        if group and n + count > max_rows:
            out.append(group)
            group, n = [], 0
        group.append(pd.Timestamp(day))
        n += int(count)
    return [*out, group] if group else out


def write_campaigns(
    con: ibis.BaseBackend,
    tables: dict[str, ibis.Table],
    events: Events,
    fs: FeatureSet,
    *,
    cuts: Cutoffs,
    params: Params,
    path: Path,
) -> dict:
    """Every contact of the retention campaigns with the customer's features as of the
    day of contact (the cutoff: midnight before it) and what they did in the horizon.

    The same feature query as the snapshots, on (customer, day of contact) pairs
    instead of every customer at every cutoff: its joins match each pair to that
    customer's own events, so the work is the contacted customers' events, however many
    days the campaigns spread over. What the uplift stage learns from. A contact is
    labelled when its horizon ended before the scoring cutoff. Contacts of customers
    outside the population that day (no order in the lookback) have no features: they
    are counted, not kept.
    """
    c = tables["contacts"]
    contacts = c.select(
        customer_id=c.customer_id,
        cutoff=c.contacted_at.truncate("D"),
        campaign=c.campaign,
        arm=c.arm,
        play=c.play,
        contact_cost=c.cost,
    )
    per_day = contacts.group_by("cutoff").aggregate(n=contacts.count()).to_pandas()
    per_day = per_day.sort_values("cutoff").set_index("cutoff")["n"]
    days = contact_batches(per_day, BATCH_ROWS)
    if not days:  # a contacts table without rows: no campaign history, no file
        log.info("campaigns: the contacts table has no rows")
        return {
            "contacts": 0,
            "with_features": 0,
            "outside_population": 0,
            "labelled": 0,
            "days": 0,
        }
    pairs = contacts.select(contacts.cutoff, **{PAIR_ID: contacts.customer_id}).distinct()

    def pairs_on(batch: list[pd.Timestamp]) -> pa.Table:
        chosen = pairs.filter(pairs.cutoff.isin([d.to_pydatetime() for d in batch]))
        return chosen.order_by(["cutoff", PAIR_ID]).to_pyarrow()

    # The query is compiled once against the first batch's pairs, then rerun on the others.
    con.create_table(BATCH_TABLE, pairs_on(days[0]), overwrite=True)
    ct = con.table(BATCH_TABLE)
    chosen = contacts.semi_join(ct, contacts.cutoff == ct.cutoff)
    feats = features_at(
        events,
        ct,
        fs,
        lookback_days=params.churn.lookback_days,
        horizon_days=params.churn.horizon_days,
    )
    labels = churn_labels(
        tables["orders"],
        chosen.select(*KEY).distinct(),
        horizon_days=params.churn.horizon_days,
        returns=tables.get("returns"),
    )
    frame = feats.inner_join(chosen, list(KEY))
    frame = frame.left_join(labels, list(KEY))
    frame = frame.drop(*[n for n in frame.columns if n.endswith("_right")])
    frame = frame.order_by(["cutoff", "campaign", "customer_id"])
    sql, schema = con.compile(frame), frame.schema().to_pyarrow()
    horizon = pd.Timedelta(days=params.churn.horizon_days)
    n_contacts = int(c.count().to_pandas())
    written = labelled = 0
    writer = None
    try:
        for batch in days:
            con.create_table(BATCH_TABLE, pairs_on(batch), overwrite=True)
            for part in per_cutoff(stream(con, sql)):
                rows = part.cast(schema).to_pandas()
                rows.insert(2, "labelled", rows["cutoff"] + horizon <= cuts.score)
                rows["churned"] = rows["churned"].astype("Int8")
                table = pa.Table.from_pandas(
                    rows, schema=writer.schema if writer else None, preserve_index=False
                )
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table, row_group_size=max(len(table), 1))
                written += len(rows)
                labelled += int(rows["labelled"].sum())
    finally:
        if writer is not None:
            writer.close()
    out = {
        "contacts": n_contacts,
        "with_features": written,
        "outside_population": n_contacts - written,
        "labelled": labelled,
        "days": int(len(per_day)),
    }
    log.info(
        "campaigns: %d contacts on %d days; %d with features (%d labelled), %d outside the "
        "population that day (no order in the lookback)",
        n_contacts,
        len(per_day),
        written,
        labelled,
        n_contacts - written,
    )
    return out


def _meta(fs, cuts: Cutoffs, params: Params) -> dict:
    return {
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


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
